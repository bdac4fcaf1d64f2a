"""The simulator's coordinate frames as transforms (ROS-free): what the simulator node publishes on ``/tf`` and
``/tf_static``, and what a program that writes simulated bags directly adds to them.

Frames (REP 105 names): ``odom`` (the world frame of the simulation), ``base_link`` (the robot, x forward),
``base_laser`` (the scan's frame; the simulated laser casts from the robot's centre, so the mount is the identity),
``camera`` (the robot-centred top-down camera, also at the centre), and ``person_<i>`` for person ``i`` (its
position, yaw = direction of motion), children of ``odom``, in the order of ``/people``.
"""
from __future__ import annotations

import numpy as np

from causal_nodes.variables.frames import Transform

WORLD_FRAME = "odom"
ROBOT_FRAME = "base_link"
LASER_FRAME = "base_laser"
CAMERA_FRAME = "camera"


def person_frame(index: int) -> str:
    return f"person_{int(index)}"


def robot_transform(robot_pose: np.ndarray, stamp: float, world_frame: str = WORLD_FRAME) -> Transform:
    """``world -> base_link`` from the simulator's robot pose (x, y, yaw)."""
    x, y, yaw = (float(v) for v in robot_pose[:3])
    return Transform.planar(world_frame, ROBOT_FRAME, x, y, yaw, stamp)


def people_transforms(positions: np.ndarray, velocities: np.ndarray, stamp: float,
                      world_frame: str = WORLD_FRAME) -> list[Transform]:
    """``world -> person_<i>`` for every person: position, yaw along the velocity (0 when standing)."""
    headings = np.arctan2(velocities[:, 1], velocities[:, 0])
    return [Transform.planar(world_frame, person_frame(i), x, y, h, stamp)
            for i, ((x, y), h) in enumerate(zip(np.asarray(positions, dtype=float), headings))]


def dynamic_transforms(sim, stamp: float, world_frame: str = WORLD_FRAME, people: bool = True) -> list[Transform]:
    """The moving frames of a :class:`~causal_nodes.sim.physical.PhysicalSimulator` at ``stamp`` [s]."""
    transforms = [robot_transform(sim.robot_pose, stamp, world_frame)]
    if people:
        transforms += people_transforms(sim.positions, sim.velocities, stamp, world_frame)
    return transforms


def static_transforms(stamp: float = 0.0) -> list[Transform]:
    """The sensor mounts on the robot (fixed)."""
    return [Transform(ROBOT_FRAME, LASER_FRAME, stamp=stamp), Transform(ROBOT_FRAME, CAMERA_FRAME, stamp=stamp)]
