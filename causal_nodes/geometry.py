"""Planar geometry every stage shares: angle wrapping and yaw <-> quaternion (REP 103: z up, yaw counter-clockwise).

One home, so the simulator, the variables, the bag converters, the world model and the nodes cannot disagree on
an angle convention. Quaternion readers are duck-typed (any object with ``x, y, z, w``), so rclpy messages and
rosbags-deserialized ones both work; nothing here imports ROS.
"""
from __future__ import annotations

import math
from typing import Any, TypeVar

import numpy as np

A = TypeVar("A", float, np.ndarray)


def wrap_angle(angle: A) -> A:
    """Angle(s) wrapped to ``[-pi, pi)``, so heading differences and rates never jump by 2 pi."""
    if isinstance(angle, np.ndarray):
        return (angle + np.pi) % (2.0 * np.pi) - np.pi
    return (float(angle) + math.pi) % (2.0 * math.pi) - math.pi


def quaternion_to_yaw(q: Any) -> float:
    """Yaw (rotation about z) of a quaternion with fields ``x, y, z, w``."""
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def yaw_to_quaternion(yaw: float) -> tuple[float, float, float, float]:
    """``(x, y, z, w)`` of a rotation by ``yaw`` about z."""
    return 0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0)
