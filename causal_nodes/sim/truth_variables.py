"""The pipeline variables computed straight from the simulator state (no tracking, no resampling).

These follow the definitions of the shared interface spec (``human_speed`` = |velocity|, ``collision_risk`` =
closing speed / max(distance, 0.1 m), ...). Because the simulator steps on the variable grid with semi-implicit
Euler, the finite difference of positions equals the velocity used here, so values match what the pipeline
computes from the published topics up to sensor noise and tracking. They are what interventional ground truth
is measured on.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional

import cv2
import numpy as np

from .physical import PhysicalSimulator

PIPELINE_VARIABLES: List[str] = [
    "human_speed", "human_heading_rate", "human_robot_distance", "human_goal_distance",
    "robot_linear_speed", "robot_angular_speed", "min_scan_range", "collision_risk", "image_motion",
    "imu_yaw_rate",
]
"""Canonical pipeline variable names, in the spec's order."""

_MOTION_SIZE = (40, 30)


def image_motion(previous: Optional[np.ndarray], current: Optional[np.ndarray]) -> float:
    """Mean absolute difference of two downscaled grayscale frames, in [0, 1] (NaN without two frames)."""
    if previous is None or current is None:
        return math.nan
    a = cv2.resize(cv2.cvtColor(previous, cv2.COLOR_RGB2GRAY), _MOTION_SIZE, interpolation=cv2.INTER_AREA)
    b = cv2.resize(cv2.cvtColor(current, cv2.COLOR_RGB2GRAY), _MOTION_SIZE, interpolation=cv2.INTER_AREA)
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64)))) / 255.0


def state_variables(sim: PhysicalSimulator) -> Dict[str, float]:
    """All pipeline variables for the simulator's subject person at the current step."""
    i = sim.subject
    pos, vel, prev_vel = sim.positions[i], sim.velocities[i], sim.prev_velocities[i]
    robot_xy = sim.robot_pose[:2]
    yaw = sim.robot_pose[2]
    robot_vel = sim.robot_speed * np.array([math.cos(yaw), math.sin(yaw)])
    rel = pos - robot_xy
    distance = math.hypot(rel[0], rel[1])
    rel_vel = vel - robot_vel
    closing = -float(rel @ rel_vel) / max(distance, 1e-9)
    heading_change = math.atan2(vel[1], vel[0]) - math.atan2(prev_vel[1], prev_vel[0])
    heading_change = (heading_change + math.pi) % (2.0 * math.pi) - math.pi
    goal = sim.person_goals()[i]
    scan = sim.scan_ranges
    finite = scan[np.isfinite(scan)] if scan is not None else np.zeros(0)
    return {
        "human_speed": math.hypot(vel[0], vel[1]),
        "human_heading_rate": heading_change / sim.dt,
        "human_robot_distance": distance,
        "human_goal_distance": math.hypot(goal[0] - pos[0], goal[1] - pos[1]),
        "robot_linear_speed": sim.robot_speed,
        "robot_angular_speed": sim.robot_yaw_rate,
        "min_scan_range": float(finite.min()) if finite.size else math.nan,
        "collision_risk": max(0.0, closing) / max(distance, 0.1),
        "image_motion": image_motion(sim.prev_image, sim.image),
        "imu_yaw_rate": sim.imu.yaw_rate,
    }
