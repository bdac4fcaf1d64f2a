"""Parameters of the physical simulator (crowd, robot, sensors), as plain dataclasses.

The scenario loader (:mod:`causal_nodes.sim.scenario`) fills these from YAML and validates them; the simulator
only reads them. Defaults follow the social force literature (Helbing & Molnar 1995; Helbing, Farkas & Vicsek
2000; Moussaid et al. 2009 for the anisotropy) and a small indoor differential-drive robot.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SPEED_POLICIES = ("constant", "slow_near_people")
HEADING_POLICIES = ("goal", "avoid")


@dataclass
class SocialForceParams:
    """Helbing-Molnar social force: goal relaxation plus exponential repulsions ``A * exp((r - d) / B)``."""

    relaxation_time: float = 0.5
    person_strength: float = 5.0
    person_range: float = 0.3
    robot_strength: float = 3.0
    robot_range: float = 0.5
    wall_strength: float = 5.0
    wall_range: float = 0.2
    anisotropy: float = 0.35
    """Weight of interactions behind a person (lambda; 1 = isotropic)."""
    noise_std: float = 0.1
    """Standard deviation of the random force [m/s^2] (fluctuations of individual behaviour)."""
    max_speed_factor: float = 1.3
    max_speed: float = 2.0
    """Absolute speed cap [m/s]; a person's cap is min(max_speed, max(max_speed_factor * desired, 0.5))."""
    arrival_radius: float = 1.0
    """People slow down linearly within this distance of their goal."""
    goal_tolerance: float = 0.4


@dataclass
class PersonSpec:
    start: tuple[float, float]
    goals: list[tuple[float, float]]
    desired_speed: float = 1.2
    radius: float = 0.3
    robot_aware: bool = True
    """False makes the person ignore the robot (no person-robot force): a causal switch for tests."""


@dataclass
class CrowdSpec:
    """A seeded random crowd: ``count`` people starting and cycling between goals inside ``region``."""

    count: int
    region: tuple[float, float, float, float]
    goals_per_person: int = 3
    desired_speed: tuple[float, float] = (1.0, 1.4)
    radius: float = 0.3
    robot_aware: bool = True


@dataclass
class ControllerParams:
    preferred_speed: float = 0.8
    speed_policy: str = "slow_near_people"
    slow_distance: float = 3.0
    """Speed policy: full speed beyond this distance to the nearest person ..."""
    stop_distance: float = 0.8
    """... and standstill at or below this one (linear in between)."""
    heading_policy: str = "goal"
    heading_gain: float = 1.5
    avoid_distance: float = 2.5
    avoid_gain: float = 1.0
    goal_tolerance: float = 0.3
    arrival_radius: float = 0.8
    excitation_linear: float = 0.0
    """Safe command excitation (0 = off): a random linear command offset in [-a, a] m/s, scaled by the speed
    policy's factor (zero where the robot must stop for a person) and logged as ``command_dither``."""
    excitation_angular: float = 0.0
    """The same for the yaw rate command [rad/s]."""
    excitation_hold_s: float = 0.5
    """Each excitation value is held this long [s] before the next is drawn."""


@dataclass
class RobotSpec:
    start: tuple[float, float, float]
    goals: list[tuple[float, float]]
    radius: float = 0.3
    max_linear_speed: float = 1.0
    min_linear_speed: float = 0.0
    max_angular_speed: float = 1.5
    max_linear_accel: float = 1.0
    max_angular_accel: float = 3.0
    command_timeout: float = 0.5
    """An external /cmd_vel command drives the robot for this long after it arrives."""
    linear_noise_std: float = 0.02
    """Actuator noise [m/s]: the executed speed misses the rate-limited command by this much (std) every step,
    as wheel slip and motor control do; it also keeps the robot's speed from being a function of its inputs."""
    angular_noise_std: float = 0.05
    """Actuator noise of the yaw rate [rad/s]."""
    controller: ControllerParams = field(default_factory=ControllerParams)


@dataclass
class ScanParams:
    enabled: bool = True
    beams: int = 360
    angle_min: float = -np.pi
    angle_max: float = np.pi - 2.0 * np.pi / 360.0
    range_min: float = 0.05
    range_max: float = 10.0
    noise_std: float = 0.01


@dataclass
class CameraParams:
    enabled: bool = True
    width: int = 160
    height: int = 120
    pixels_per_meter: float = 20.0
    """Top-down view centred on the robot, heading up: 160 x 120 px at 20 px/m sees 8 m x 6 m."""


@dataclass
class ImuParams:
    gyro_noise_std: float = 0.01
    accel_noise_std: float = 0.05


@dataclass
class PhysicalConfig:
    """Everything the physical simulator needs; ``subject`` is the person the pipeline variables describe."""

    dt: float
    walls: np.ndarray
    robot: RobotSpec
    people: list[PersonSpec]
    crowd: CrowdSpec | None = None
    social_force: SocialForceParams = field(default_factory=SocialForceParams)
    scan: ScanParams = field(default_factory=ScanParams)
    camera: CameraParams = field(default_factory=CameraParams)
    imu: ImuParams = field(default_factory=ImuParams)
    subject: int = 0

    @property
    def person_count(self) -> int:
        return len(self.people) + (self.crowd.count if self.crowd is not None else 0)

    def person_parameter(self) -> str:
        """The variables node's ``person`` that describes the subject: ``nearest`` when alone, else the subject's
        track id (the tracker numbers the people of its first message 0.. in row order, the simulator's order)."""
        return "nearest" if self.person_count == 1 else str(self.subject)
