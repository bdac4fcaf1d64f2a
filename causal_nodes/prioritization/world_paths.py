"""People's predicted paths under candidate interventions, from the streaming world model (ROS-free glue).

A candidate on a robot action variable (``robot_linear_speed`` / ``robot_angular_speed``) is a robot command
held over the horizon: the intervened component takes the candidate's value, the other keeps the current
command. All such candidates go to the world model's batched ``rollout`` in one call; candidates on other
variables get no paths (the world model only takes robot commands).

:func:`subject_forecast` is the kinematic effect model's person forecast (``person_motion="world_model"``): the
path of the frames' subject under each scenario's robot commands, on the variable grid. The model runs at its own
step (0.4 s) and sees every tracked person; the grid commands are averaged over each model step, and the model's
positions are interpolated back to the grid's times.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .kinematics import PersonForecast

ACTION_COMPONENT = {"robot_linear_speed": 0, "robot_angular_speed": 1}


def candidate_actions(candidates: Sequence[Any], current_action: Sequence[float]) -> tuple[np.ndarray, list[int]]:
    """``(K, 2)`` commands (linear m/s, angular rad/s) for the candidates on action variables, and their indices."""
    base = np.asarray(current_action, dtype=float).reshape(2)
    if not np.isfinite(base).all():
        raise ValueError(f"current action must be 2 finite numbers, got {current_action!r}")
    rows, index = [], []
    for i, c in enumerate(candidates):
        comp = ACTION_COMPONENT.get(c.variable)
        if comp is None:
            continue
        a = base.copy()
        a[comp] = float(c.value)
        rows.append(a)
        index.append(i)
    return (np.array(rows) if rows else np.zeros((0, 2))), index


def robot_to_world(points: np.ndarray, pose: Sequence[float]) -> np.ndarray:
    """Points ``(..., 2)`` in the robot frame of ``pose = (x, y, yaw)`` → world frame."""
    x, y, yaw = (float(v) for v in pose)
    c, s = np.cos(yaw), np.sin(yaw)
    return np.stack([x + c * points[..., 0] - s * points[..., 1], y + s * points[..., 0] + c * points[..., 1]], -1)


def predicted_world_paths(
    model: Any, horizon: int, actions: np.ndarray, robot_pose: Sequence[float]
) -> list[list[np.ndarray]]:
    """For each action row, the ``(H, 2)`` world-frame path of every person present at the model's last step.

    ``model`` is a :class:`causal_nodes.world_model.runtime.WorldModel` that has stepped at least once;
    ``robot_pose`` the robot pose (world frame) at that step.
    """
    if actions.shape[0] == 0:
        return []
    horizon = int(min(max(horizon, 1), model.horizon_max))
    positions = model.rollout(horizon, actions)  # (K, N, H, 2), robot frame of the latest step
    out: list[list[np.ndarray]] = []
    for k in range(positions.shape[0]):
        paths = [robot_to_world(p, robot_pose) for p in positions[k] if np.isfinite(p).all()]
        out.append(paths)
    return out


def _model_actions(commands: np.ndarray, grid_dt: float, offset: float, model_dt: float, steps: int) -> np.ndarray:
    """Grid commands ``(S, H, 2)`` starting ``offset`` s after the model's last step -> ``(S, steps, 2)`` model
    actions, each the mean command over its model step (before the first grid command: the first one; after the
    last: the last one)."""
    s, h, _ = commands.shape
    out = np.empty((s, steps, 2))
    for j in range(steps):
        lo, hi = j * model_dt - offset, (j + 1) * model_dt - offset  # the model step, in grid time
        k = np.clip(np.arange(math.floor(lo / grid_dt), math.ceil(hi / grid_dt)), 0, h - 1)
        out[:, j] = commands[:, np.unique(k)].mean(axis=1)
    return out


def _interp(t: np.ndarray, knots_t: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Piecewise-linear through the knots; beyond the last one the last segment's rate continues."""
    out = np.interp(t, knots_t, knots)
    beyond = t > knots_t[-1]
    if beyond.any():
        rate = (knots[-1] - knots[-2]) / (knots_t[-1] - knots_t[-2])
        out[beyond] = knots[-1] + rate * (t[beyond] - knots_t[-1])
    return out


def subject_forecast(model: Any, stream: Any, robot_pose: Sequence[float], subject_xy: Sequence[float],
                     stamp: float, grid_dt: float, max_match_m: float = 1.0) -> PersonForecast | None:
    """The world model's forecast of the person at ``subject_xy`` (world frame, at ``stamp``) under robot commands.

    ``stream`` is the :class:`~causal_nodes.world_model.stream.WorldModelStream` feeding ``model`` and
    ``robot_pose`` the robot's pose at its latest step. The subject is the person the model saw nearest to
    ``subject_xy`` at its latest step (None if none is within ``max_match_m``, or the model has not stepped).
    The returned function maps ``commands (S, H, 2)`` -- per grid step of ``grid_dt`` from ``stamp`` on -- to the
    person's positions ``(S, H, 2)`` at ``stamp + k * grid_dt``, ``k = 1..H``: one batched rollout, the model's
    positions (from its latest step) interpolated in time; between ``stamp`` and the model's latest step (when
    the grid lags behind) the path runs from ``subject_xy`` to the position the model saw last.
    """
    last = stream.last_stamp
    if last is None:
        return None
    seen = stream.last_positions()
    xy = np.asarray(subject_xy, dtype=float)
    best, best_d = None, max_match_m
    for pid, pos in seen.items():
        d = float(np.hypot(*(pos - xy)))
        if d <= best_d and stream.slot(pid) >= 0:
            best, best_d = pid, d
    if best is None:
        return None
    row, start = stream.slot(best), seen[best]
    x0, y0, yaw0 = (float(v) for v in robot_pose)
    model_dt = float(model.dt)

    def forecast(commands: np.ndarray) -> np.ndarray:
        commands = np.asarray(commands, dtype=float)
        if commands.ndim != 3 or commands.shape[2] != 2 or commands.shape[1] < 1:
            raise ValueError(f"commands must be (S, H, 2), got {commands.shape}")
        s, h, _ = commands.shape
        times = stamp + grid_dt * np.arange(1, h + 1) - last  # grid times after the model's latest step
        steps = int(min(max(math.ceil(times[-1] / model_dt), 1), model.horizon_max))
        actions = _model_actions(commands, grid_dt, stamp - last, model_dt, steps)
        rel = model.rollout(steps, actions)[:, row]  # (S, steps, 2), robot frame of the latest step
        world = robot_to_world(rel, (x0, y0, yaw0))
        lag = stamp - last  # < 0: the grid is behind the model's latest step
        knots_t = np.concatenate([[lag] if lag < 0 else [], [0.0], model_dt * np.arange(1, steps + 1)])
        out = np.empty((s, h, 2))
        for i in range(s):
            knots = np.concatenate([xy[None]] * (lag < 0) + [start[None], world[i]])
            for axis in range(2):
                out[i, :, axis] = _interp(times, knots_t, knots[:, axis])
            if lag > 0:  # the grid is ahead: start the path where the frames saw the person
                out[i] += xy - np.array([_interp(np.array([lag]), knots_t, knots[:, a])[0] for a in range(2)])
        return out

    return forecast


class WorldModelPaths:
    """The optional world model: streamed with the people and the robot, it predicts every person's path under each
    robot-action candidate. Loading fails with the library's exception; later problems are kept in :attr:`error`
    (a node reports them and carries on without paths)."""

    def __init__(self, model_path: str, horizon: int) -> None:
        from causal_nodes.world_model.runtime import WorldModel
        from causal_nodes.world_model.stream import WorldModelStream

        model = WorldModel(model_path, robot_present=True)  # the candidates are this robot's: people see it
        # /people carries no ids: the stream tracks people itself (their place in the message is no identity), and
        # filters their velocities for the tracker noise it measures, as the world-model node does
        self.stream = WorldModelStream(model, min(int(horizon), model.horizon_max))
        self.pose: tuple[float, float, float] | None = None
        """Robot pose (world frame) at the model's last step: the frame its rollouts are turned back into."""
        self.frame_id = ""
        self.error = ""

    def update(self, stamp: float, people_xy: Sequence[Sequence[float]], robot_pose: tuple[float, float, float],
               robot_command: tuple[float, float], frame_id: str) -> None:
        """One detection of the people with the robot's pose and twist then; ValueError on input the model rejects."""
        people = [(float(x), float(y)) for x, y in people_xy]
        try:
            stepped = self.stream.update(stamp, None, people, robot_pose, robot_command,
                                         predict=False)  # rollouts happen per query (paths, person_forecast)
        except ValueError as exc:
            self.error = f"world model input rejected: {exc}"
            raise
        if stepped is not None:
            self.pose, self.frame_id = robot_pose, frame_id

    def person_forecast(self, subject_xy: Sequence[float], stamp: float, grid_dt: float) -> PersonForecast | None:
        """:func:`subject_forecast` for the subject at ``subject_xy`` at ``stamp`` (None before the model has stepped,
        or when the model does not track a person there)."""
        if self.pose is None:
            return None
        return subject_forecast(self.stream.model, self.stream, self.pose, subject_xy, stamp, grid_dt)

    def paths(self, candidates: Sequence[Any], robot_command: tuple[float, float] | None) -> list[list[np.ndarray]]:
        """Per candidate, the ``(H, 2)`` world-frame paths of the people (empty for candidates on other variables,
        before the model has stepped, or when the rollout fails)."""
        out: list[list[np.ndarray]] = [[] for _ in candidates]
        if self.pose is None or robot_command is None:
            return out
        try:
            actions, index = candidate_actions(candidates, robot_command)
            predicted = predicted_world_paths(self.stream.model, self.stream.horizon, actions, self.pose)
        except Exception as exc:  # a rollout problem costs the paths, never the priorities
            self.error = f"world-model rollout failed: {type(exc).__name__}: {exc}"
            return out
        for i, people in zip(index, predicted):
            out[i] = people
        return out
