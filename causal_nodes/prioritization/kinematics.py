"""Known kinematics inside the structural model: how robot commands move the robot and change the geometry.

Why: the distance between a person and the robot is not a behaviour to learn, it is geometry. Its change under
``do(robot_linear_speed := v)`` depends on the bearing of the person (driving faster shortens the distance to a
person ahead and lengthens it to one behind) and flips sign as they pass, so no linear equation over the pipeline
variables captures it (measured: Kendall tau 0.05–0.42 on the physical scenarios with a linear SEM alone). The
mechanisms themselves are known exactly:

* robot (unicycle, REP 103: x forward, yaw counter-clockwise)::

      yaw_t = yaw_{t-1} + w_t dt,   p_t = p_{t-1} + v_t (cos yaw_t, sin yaw_t) dt

  (the pose is advanced with the new twist, semi-implicit Euler, as the simulator and odometry integrate it);
* person: constant velocity (default), or (``person_motion="sem"``) speed following the SEM's ``human_speed``
  and direction turning with its ``human_heading_rate`` -- measured worse over 1 s on the simulator's scenarios
  (the linear forecasts of speed and turning add more error than the person's reaction they capture) -- or
  (``person_motion="world_model"``) the path the streaming world model predicts for the person under each
  scenario's robot commands, seeing every tracked person (``PlanarScene.person_forecast``);
* the robot's commands themselves: the robot's own plan when a local planner published one
  (``PlanarScene.planned_commands``; an intervened command keeps its value), else the learned SEM (the robot's
  controller as it reacts to the scene), clipped to the range observed in the window (a linear forecast must not
  drive the robot faster than it ever went);
* geometric variables, recomputed from the two positions every step: ``human_robot_distance`` and
  ``collision_risk`` (definitions of :mod:`causal_nodes.variables.extractor`).

So the hybrid model keeps the learned, discovered SEM for behaviour (the robot's controller as it reacts to the
scene, the person's speed and turning) and replaces the equations of the geometric variables by their physics.
Lag-0 children of a geometric variable read its SEM value within a step (the overwrite follows the joint solve);
from the next step on they read the kinematic one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from causal_nodes.choices import Choice

COMMANDS = ("robot_linear_speed", "robot_angular_speed")
GEOMETRIC = ("human_robot_distance", "collision_risk")


class EffectModel(Choice):
    """How robot commands act on the target: through the learned SEM alone, or by the robot's kinematics."""

    LINEAR = "linear"
    KINEMATIC = "kinematic"


class PersonMotion(Choice):
    """The person in the kinematic model: constant velocity, speed and turning from the SEM, or the world model's
    forecast under the robot's commands."""

    CONSTANT_VELOCITY = "constant_velocity"
    SEM = "sem"
    WORLD_MODEL = "world_model"


PersonForecast = Callable[[np.ndarray], np.ndarray]
"""``commands (S, H, 2)`` (robot linear m/s, angular rad/s per grid step, from the scene's time on) -> the person's
positions ``(S, H, 2)`` after each step, in the scene's fixed frame."""

_RISK_MIN_DISTANCE = 0.1  # m, as in causal_nodes.variables.extractor.collision_risk


@dataclass(frozen=True)
class PlanarScene:
    """Robot and tracked person at the newest sample of the window, in one fixed frame (``odom``/``map``).

    robot_pose: ``(x, y, yaw)`` [m, m, rad]; person_xy [m]; person_velocity [m/s]; dt: period of the variable
    grid [s] (one model step).
    """

    robot_pose: tuple[float, float, float]
    person_xy: tuple[float, float]
    person_velocity: tuple[float, float]
    dt: float
    person_forecast: PersonForecast | None = field(default=None, compare=False)
    """The world model's forecast of the person (``person_motion="world_model"``); None: not available."""
    planned_commands: np.ndarray | None = field(default=None, compare=False)
    """``(H, 2)`` the robot's planned (linear, angular) commands per grid step from the scene's time on, from a
    local planner; None: forecast by the SEM. Beyond its end the last command is held."""

    def __post_init__(self) -> None:
        for name in ("robot_pose", "person_xy", "person_velocity"):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != (3 if name == "robot_pose" else 2) or not all(math.isfinite(v) for v in value):
                raise ValueError(f"PlanarScene.{name} must be finite numbers, got {getattr(self, name)!r}")
            object.__setattr__(self, name, value)
        if not (math.isfinite(self.dt) and self.dt > 0.0):
            raise ValueError(f"PlanarScene.dt must be a positive period in seconds, got {self.dt}")
        if self.planned_commands is not None:
            plan = np.asarray(self.planned_commands, dtype=float)
            if plan.ndim != 2 or plan.shape[1] != 2 or plan.shape[0] < 1 or not np.isfinite(plan).all():
                raise ValueError(f"PlanarScene.planned_commands must be finite (H, 2), got shape {plan.shape}")
            object.__setattr__(self, "planned_commands", plan)

    def plan(self, horizon: int) -> np.ndarray | None:
        """The planned commands over ``horizon`` steps (the last one held), or None without a plan."""
        if self.planned_commands is None:
            return None
        plan = self.planned_commands[:horizon]
        if len(plan) < horizon:
            plan = np.concatenate([plan, np.repeat(plan[-1:], horizon - len(plan), axis=0)])
        return plan


def kinematic_columns(names: Sequence[str]) -> list[str]:
    """Why the kinematic model cannot run on these variables ([] when it can): it needs both robot commands."""
    return [c for c in COMMANDS if c not in names]


class KinematicCoupling:
    """Per-step hook for :func:`simulate_clamped`: integrates both bodies and overwrites the geometric columns.

    One instance serves one simulation of ``R`` replicas x ``S`` scenarios (it holds their poses).
    command_limits: ``[[v_min, v_max], [w_min, w_max]]`` the SEM's command forecasts are clipped to (None: no
    clipping); clamped (intervened) columns are never changed. ``person_paths`` ``(S, H, 2)``: the person's
    position after each step per scenario (the world model's forecast), instead of their own motion model.
    With ``scene.planned_commands`` the free command columns follow the plan instead of the SEM.
    """

    def __init__(
        self, scene: PlanarScene, names: Sequence[str], replicas: int, scenarios: int,
        command_limits: np.ndarray | None = None,
        person_motion: PersonMotion | str = PersonMotion.CONSTANT_VELOCITY,
        person_paths: np.ndarray | None = None,
        horizon: int = 1,
    ) -> None:
        missing = kinematic_columns(names)
        if missing:
            raise ValueError(f"the kinematic effect model needs the variables {missing}; known: {sorted(names)}")
        index = {n: i for i, n in enumerate(names)}
        self._v, self._w = index[COMMANDS[0]], index[COMMANDS[1]]
        learned = PersonMotion.parse(person_motion, "person_motion") is PersonMotion.SEM
        self._speed = index.get("human_speed") if learned else None
        self._turn = index.get("human_heading_rate") if learned else None
        self._distance = index.get("human_robot_distance")
        self._risk = index.get("collision_risk")
        self._dt = scene.dt
        shape = (replicas, scenarios)
        self._robot = np.broadcast_to(np.array(scene.robot_pose, float), shape + (3,)).copy()
        self._person = np.broadcast_to(np.array(scene.person_xy, float), shape + (2,)).copy()
        pv = np.array(scene.person_velocity, float)
        self._person_speed = np.full(shape, float(np.hypot(*pv)))
        self._person_heading = np.full(shape, math.atan2(pv[1], pv[0]))
        self._free = np.ones((scenarios, len(names)), dtype=bool)
        self._limits = None if command_limits is None else np.asarray(command_limits, float).reshape(2, 2)
        self._paths = None if person_paths is None else np.asarray(person_paths, float)
        if self._paths is not None and (self._paths.ndim != 3 or self._paths.shape[0] != scenarios
                                        or self._paths.shape[2] != 2):
            raise ValueError(f"person_paths must be ({scenarios}, H, 2), got {self._paths.shape}")
        self._plan = scene.plan(max(int(horizon), 1 if self._paths is None else self._paths.shape[1]))
        self._step = 0

    def protect(self, clamp_var: np.ndarray) -> None:
        """Keep the clamped variable of each scenario (``-1`` = none) as set: do() overrides its mechanism."""
        clamp_var = np.asarray(clamp_var, dtype=int)
        rows = np.flatnonzero(clamp_var >= 0)
        self._free[rows, clamp_var[rows]] = False

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Advance the poses with step ``x (R, S, N)`` of the SEM and return ``x`` with kinematic geometry."""
        dt = self._dt
        t = self._step
        self._step += 1
        if self._plan is not None:  # the robot's own plan replaces the SEM's forecast of its controller
            x = x.copy()
            command = self._plan[min(t, len(self._plan) - 1)]
            for col, value in zip((self._v, self._w), command):
                x[..., col] = np.where(self._free[:, col], value, x[..., col])
        elif self._limits is not None:
            x = x.copy()
            for col, (low, high) in zip((self._v, self._w), self._limits):
                x[..., col] = np.where(self._free[:, col], np.clip(x[..., col], low, high), x[..., col])
        v, w = x[..., self._v], x[..., self._w]
        yaw = self._robot[..., 2] + w * dt
        self._robot[..., 0] += v * np.cos(yaw) * dt
        self._robot[..., 1] += v * np.sin(yaw) * dt
        self._robot[..., 2] = yaw
        if self._speed is not None:
            self._person_speed = np.maximum(x[..., self._speed], 0.0)
        if self._turn is not None:
            self._person_heading = self._person_heading + x[..., self._turn] * dt
        if self._paths is not None:
            new = np.broadcast_to(self._paths[:, min(t, self._paths.shape[1] - 1)], self._person.shape)
            pv = (new - self._person) / dt
            self._person = new.copy()
        else:
            pv = self._person_speed[..., None] * np.stack(
                [np.cos(self._person_heading), np.sin(self._person_heading)], axis=-1
            )
            self._person += pv * dt
        rel = self._person - self._robot[..., :2]
        distance = np.hypot(rel[..., 0], rel[..., 1])
        out = x.copy()
        if self._distance is not None:
            out[..., self._distance] = distance
        if self._risk is not None:
            rv = v[..., None] * np.stack([np.cos(yaw), np.sin(yaw)], axis=-1)
            with np.errstate(invalid="ignore", divide="ignore"):
                closing = np.where(distance > 0, -np.sum(rel * (pv - rv), axis=-1) / distance, 0.0)
            out[..., self._risk] = np.maximum(closing, 0.0) / np.maximum(distance, _RISK_MIN_DISTANCE)
        return np.where(self._free[None], out, x)


def commands_from_poses(times: Sequence[float], poses: np.ndarray, start: float, dt: float, steps: int) -> np.ndarray:
    """The unicycle commands ``(steps, 2)`` that drive the robot through a planned path, on a grid from ``start``.

    ``times`` (M,) increasing stamps [s] and ``poses`` (M, 3) ``(x, y, yaw)`` of the plan (e.g. a local planner's
    ``nav_msgs/Path``). The plan is resampled at ``start + k dt`` (``k = 0..steps``; linear in time, yaw unwrapped;
    held at its ends), and each step's command inverts the model's semi-implicit Euler step
    (``w_k = dyaw / dt``, ``v_k = dp . (cos yaw_k, sin yaw_k) / dt``), so :class:`KinematicCoupling` replays the
    resampled plan up to the sideways part of a step, which a unicycle cannot drive (a chord of a planned arc
    against its heading: millimetres). ValueError on a plan that is empty, not finite or not increasing in time.
    """
    t = np.asarray(times, dtype=float).reshape(-1)
    p = np.asarray(poses, dtype=float)
    if p.ndim != 2 or p.shape != (t.size, 3) or t.size < 1:
        raise ValueError(f"a plan needs M >= 1 stamps and (M, 3) poses, got {t.shape} and {p.shape}")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise ValueError("plan stamps and poses must be finite")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise ValueError("plan stamps must increase")
    if not (dt > 0 and steps >= 1):
        raise ValueError(f"need dt > 0 and steps >= 1, got {dt}, {steps}")
    grid = start + dt * np.arange(steps + 1)
    yaw = np.unwrap(p[:, 2])
    if t.size == 1:
        res = np.repeat(np.array([[p[0, 0], p[0, 1], yaw[0]]]), steps + 1, axis=0)
    else:
        res = np.stack([np.interp(grid, t, p[:, 0]), np.interp(grid, t, p[:, 1]), np.interp(grid, t, yaw)], axis=1)
    step = np.diff(res, axis=0)
    heading = res[1:, 2]
    linear = (step[:, 0] * np.cos(heading) + step[:, 1] * np.sin(heading)) / dt
    return np.stack([linear, step[:, 2] / dt], axis=1)
