"""Planar frame helpers shared by training, runtime and evaluation (numpy only).

Conventions (REP 103): robot frame x forward, y left, metres; yaw counter-clockwise, radians.
A robot pose is ``(x, y, yaw)`` in the world frame. The unicycle step is Euler with the heading
updated *after* moving, which reproduces a pedestrian track exactly when its "action" is derived
with :func:`actions_from_track`; that is why training and rollouts share this single definition.
"""
from __future__ import annotations

import numpy as np


def rotation(yaw: np.ndarray) -> np.ndarray:
    """Rotation matrices for yaw angles, shape ``yaw.shape + (2, 2)`` (robot → world)."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def world_to_robot(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Express world points ``(..., 2)`` in the frame of robot ``pose = (x, y, yaw)``."""
    d = points - pose[..., None, :2] if points.ndim > pose.ndim else points - pose[..., :2]
    c, s = np.cos(pose[..., 2]), np.sin(pose[..., 2])
    if points.ndim > pose.ndim:
        c, s = c[..., None], s[..., None]
    return np.stack([c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1]], -1)


def vectors_to_robot(vectors: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Rotate world-frame vectors ``(..., 2)`` into a robot frame with heading ``yaw``."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.stack([c * vectors[..., 0] + s * vectors[..., 1], -s * vectors[..., 0] + c * vectors[..., 1]], -1)


def integrate_unicycle(actions: np.ndarray, dt: float) -> np.ndarray:
    """Robot poses relative to the start pose for a sequence of actions.

    ``actions``: ``(..., H, 2)`` = (linear m/s, angular rad/s). Returns ``(..., H, 3)`` poses
    ``(x, y, yaw)`` where entry ``h`` is the pose *before* applying action ``h`` (entry 0 is the
    identity), i.e. the robot frame in which step ``h`` is observed.
    """
    actions = np.asarray(actions, dtype=np.float64)
    poses = np.zeros(actions.shape[:-1] + (3,))
    for h in range(1, actions.shape[-2]):
        prev = poses[..., h - 1, :]
        v, w = actions[..., h - 1, 0], actions[..., h - 1, 1]
        poses[..., h, 0] = prev[..., 0] + v * np.cos(prev[..., 2]) * dt
        poses[..., h, 1] = prev[..., 1] + v * np.sin(prev[..., 2]) * dt
        poses[..., h, 2] = prev[..., 2] + w * dt
    return poses


def actions_from_track(track: np.ndarray, dt: float, min_speed: float = 0.1) -> tuple:
    """Treat a pedestrian track ``(T, 2)`` as a unicycle robot.

    Returns ``(poses (T, 3), actions (T, 2))``: the heading at step t is the direction of the
    displacement t → t+1 (kept from the previous step when slower than ``min_speed``), and action t
    is what moves the pose from t to t+1, so ``integrate_unicycle(actions)`` replays the track.
    The last action repeats the previous one (the future beyond the track is unknown).
    """
    track = np.asarray(track, dtype=np.float64)
    steps = np.diff(track, axis=0)
    speed = np.linalg.norm(steps, axis=-1) / dt
    heading = np.zeros(len(track))
    last = 0.0
    first_moving = np.flatnonzero(speed >= min_speed)
    if len(first_moving):
        last = float(np.arctan2(steps[first_moving[0], 1], steps[first_moving[0], 0]))
    for t in range(len(steps)):
        if speed[t] >= min_speed:
            last = float(np.arctan2(steps[t, 1], steps[t, 0]))
        heading[t] = last
    heading[-1] = last
    heading = np.unwrap(heading)
    actions = np.zeros((len(track), 2))
    # Project the step on the heading so that a slow, sideways jitter does not become speed.
    c, s = np.cos(heading[:-1]), np.sin(heading[:-1])
    actions[:-1, 0] = (steps[:, 0] * c + steps[:, 1] * s) / dt
    actions[:-1, 1] = np.diff(heading) / dt
    if len(track) > 1:
        actions[-1] = actions[-2]
    poses = np.concatenate([track, heading[:, None]], axis=1)
    return poses, actions
