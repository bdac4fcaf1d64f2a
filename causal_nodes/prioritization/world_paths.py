"""People's predicted paths under candidate interventions, from the streaming world model (ROS-free glue).

A candidate on a robot action variable (``robot_linear_speed`` / ``robot_angular_speed``) is a robot command
held over the horizon: the intervened component takes the candidate's value, the other keeps the current
command. All such candidates go to the world model's batched ``rollout`` in one call; candidates on other
variables get no paths (the world model only takes robot commands).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

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


class WorldModelPaths:
    """The optional world model: streamed with the people and the robot, it predicts every person's path under each
    robot-action candidate. Loading fails with the library's exception; later problems are kept in :attr:`error`
    (a node reports them and carries on without paths)."""

    def __init__(self, model_path: str, horizon: int) -> None:
        from causal_nodes.world_model.runtime import WorldModel
        from causal_nodes.world_model.stream import WorldModelStream

        model = WorldModel(model_path)
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
            stepped = self.stream.update(stamp, list(range(len(people))), people, robot_pose, robot_command)
        except ValueError as exc:
            self.error = f"world model input rejected: {exc}"
            raise
        if stepped is not None:
            self.pose, self.frame_id = robot_pose, frame_id

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
