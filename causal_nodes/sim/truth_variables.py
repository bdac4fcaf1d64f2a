"""The pipeline variables computed straight from the simulator state (no tracking, no resampling).

Definitions are those of :mod:`causal_nodes.variables.extractor` (the live pipeline): ``collision_risk`` is its
function, the heading rate is 0 while the person moves slower than 0.05 m/s (direction of motion undefined), and
``image_motion`` uses the same grey conversion (channel mean) and 64 x 48 downscale. Because the simulator steps
on the variable grid with semi-implicit Euler, the finite difference of positions equals the velocity used here,
so these values match what the pipeline computes from the published topics (``test_sim_pipeline_consistency``
checks it). They are what interventional ground truth is measured on: exact, and free of tracking choices.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from causal_nodes.geometry import wrap_angle
from causal_nodes.variables.extractor import ALL_VARIABLES, collision_risk, obstacle_clearance, relative_kinematics

from .config import PhysicalConfig
from .physical import PhysicalSimulator

PIPELINE_VARIABLES: list[str] = list(ALL_VARIABLES)
"""Canonical pipeline variable names, in the spec's order."""

SCAN_VARIABLES = frozenset({"min_scan_range", "robot_obstacle_clearance"})
CAMERA_VARIABLES = frozenset({"image_motion"})


def sensed_variables(config: PhysicalConfig) -> list[str]:
    """The pipeline variables the simulated sensors of ``config`` support (no scan: no scan variables; no camera: no
    ``image_motion``), in the spec's order. What a scenario may observe and what ``/sim/true_variables`` carries."""
    return [v for v in PIPELINE_VARIABLES
            if not (v in SCAN_VARIABLES and not config.scan.enabled)
            and not (v in CAMERA_VARIABLES and not config.camera.enabled)]

HEADING_MIN_SPEED = 0.05
"""m/s: below this the person's direction of motion is noise and the heading rate reads 0 (as in the pipeline)."""

MOTION_IMAGE_SIZE = (64, 48)


def grey_small(image: np.ndarray) -> np.ndarray:
    """The downscaled grey frame ``image_motion`` compares: channel mean, area-resampled, scaled to [0, 1]."""
    if image.ndim == 3:
        channels = image[..., :3].astype(np.float32)
        # = the float32 channel mean (integer sums are exact), without numpy's slow reduction over a 3-long axis
        grey = ((channels[..., 0] + channels[..., 1] + channels[..., 2]) / np.float32(3.0)).astype(np.uint8)
    else:
        grey = image
    return cv2.resize(grey.astype(np.float32), MOTION_IMAGE_SIZE, interpolation=cv2.INTER_AREA) / 255.0


class _GreyCache:
    """The last two downscaled frames by identity: each frame is converted once, not once per comparison."""

    def __init__(self) -> None:
        self._entries: list = []

    def get(self, image: np.ndarray) -> np.ndarray:
        for frame, small in self._entries:
            if frame is image:
                return small
        small = grey_small(image)
        self._entries = (self._entries + [(image, small)])[-2:]
        return small


_GREY = _GreyCache()


def image_motion(previous: np.ndarray | None, current: np.ndarray | None) -> float:
    """Mean absolute difference of two downscaled grey frames, in [0, 1] (NaN without two frames)."""
    if previous is None or current is None:
        return math.nan
    return float(np.mean(np.abs(_GREY.get(current) - _GREY.get(previous))))


def heading_rate(velocity: np.ndarray, previous_velocity: np.ndarray, dt: float) -> float:
    """Wrapped change of the direction of motion per second; 0 when either speed is below HEADING_MIN_SPEED."""
    if math.hypot(*velocity) < HEADING_MIN_SPEED or math.hypot(*previous_velocity) < HEADING_MIN_SPEED:
        return 0.0
    change = math.atan2(velocity[1], velocity[0]) - math.atan2(previous_velocity[1], previous_velocity[0])
    return wrap_angle(change) / dt


def state_variables(sim: PhysicalSimulator) -> dict[str, float]:
    """All pipeline variables for the simulator's subject person at the current step."""
    i = sim.subject
    pos, vel = sim.positions[i], sim.velocities[i]
    robot_xy = sim.robot_pose[:2]
    yaw = sim.robot_pose[2]
    robot_vel = sim.robot_speed * np.array([math.cos(yaw), math.sin(yaw)])
    goal = sim.person_goals()[i]
    scan = sim.scan_ranges
    finite = scan[np.isfinite(scan)] if scan is not None else np.zeros(0)
    moved = sim.step_index > 0  # at t = 0 no finite difference of positions exists yet
    relative = relative_kinematics(pos, vel, robot_xy, float(yaw), sim.robot_speed)
    if not moved:
        relative.update(closing_speed=math.nan, human_approach_speed=math.nan, time_to_collision=math.nan)
    clearance = (obstacle_clearance(scan, sim.scan_angles(), sim.robot_pose, sim.positions,
                                    range_max=sim.config.scan.range_max)
                 if scan is not None else math.nan)
    return {
        "human_speed": math.hypot(vel[0], vel[1]) if moved else math.nan,
        "human_heading_rate": heading_rate(vel, sim.prev_velocities[i], sim.dt) if sim.step_index > 1 else 0.0,
        "human_robot_distance": math.hypot(*(pos - robot_xy)),
        "human_goal_distance": math.hypot(goal[0] - pos[0], goal[1] - pos[1]),
        "robot_linear_speed": sim.robot_speed,
        "robot_angular_speed": sim.robot_yaw_rate,
        "min_scan_range": float(finite.min()) if finite.size else math.nan,
        "collision_risk": collision_risk(pos, vel, robot_xy, robot_vel) if moved else math.nan,
        "image_motion": image_motion(sim.prev_image, sim.image),
        "imu_yaw_rate": sim.imu.yaw_rate,
        **relative,
        "robot_obstacle_clearance": clearance,
    }
