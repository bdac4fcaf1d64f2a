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
