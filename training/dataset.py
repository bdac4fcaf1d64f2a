"""Training samples from ETH/UCY windows, seen from a robot (numpy).

ETH/UCY has no robot, so each sample picks one (documented in docs/world_model.md):
* with probability ``p_pedestrian_robot`` a pedestrian present in the whole window *is* the robot:
  it is removed from the people, its track defines the robot frame (heading = walking direction)
  and its unicycle action (speed, turn rate). People's reactions to that pedestrian are what the
  model can learn as "response to the robot";
* otherwise a static *virtual robot* (zero action) stands near the crowd with a random heading, so
  the model also sees plain pedestrian dynamics in arbitrary orientations (as in evaluation).
Each step's action carries a ``robot_present`` flag: 1 for the pedestrian-as-robot and the simulator's robot
(people perceive them), 0 for the virtual robot (nobody can react to it), so the model is told which is which.
If more than ``p_max`` people remain, the ``p_max`` nearest to the robot at the last observed step
are kept (the same rule the runtime documents).

Augmentation (:class:`Augment`, each drawn per sample; measured one by one in docs/world_model.md):
* rotation is built in: the virtual robot's heading is uniform and a walking "robot" defines its own
  frame, so the world axes never reach the model;
* mirroring (y -> -y, also the simulator robot's pose and turn rate): people are not handed;
* time reversal (ETH/UCY only): a pedestrian track played backwards is another plausible track with
  the opposite goal; the simulator's robot is not reversible (it cannot drive backwards), so it is skipped;
* speed scaling (ETH/UCY only): all positions times ``s`` (log-uniform), i.e. the same paths walked
  ``s`` times faster; the scenes differ in walking speed (ETH's median is ~2.4 m/s against ~1 m/s
  elsewhere), so a model trained on four scenes otherwise extrapolates speeds it never saw;
* observation noise: the *inputs* get Gaussian position noise (std drawn per sample up to
  ``noise_max`` m) while the targets stay clean, so the model learns to filter a noisy track as a
  people tracker delivers it (BIWI's hand-clicked tracks jitter by a few cm, the UCY tracks are
  spline-smooth).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from causal_nodes.world_model.eth_ucy import Window
from causal_nodes.world_model.frames import actions_from_track, vectors_to_robot, world_to_robot
from causal_nodes.world_model.track_filter import TrackNoise, filtered_velocities


@dataclass
class Augment:
    """Per-sample augmentation probabilities and ranges (all off by default)."""

    mirror: float = 0.0  # probability of y -> -y
    reverse: float = 0.0  # probability of time reversal (windows without a real robot)
    scale: float = 0.0  # probability of speed scaling (windows without a real robot)
    scale_range: tuple[float, float] = (0.7, 2.0)
    noise: float = 0.0  # probability of input position noise
    noise_max: float = 0.05  # m, per-axis std drawn uniformly in [0, noise_max]


def augment_window(win: Window, rng: np.random.Generator, aug: Augment) -> Window:
    """A geometrically transformed copy of ``win`` (mirror / time reversal / speed scaling)."""
    pos, present, pose, action = win.positions, win.present, win.robot_pose, win.robot_action
    real_robot = pose is not None
    if not real_robot and rng.random() < aug.reverse:
        pos, present = pos[::-1], present[::-1]
    if not real_robot and rng.random() < aug.scale:
        lo, hi = np.log(aug.scale_range[0]), np.log(aug.scale_range[1])
        pos = pos * float(np.exp(rng.uniform(lo, hi)))
    if rng.random() < aug.mirror:
        pos = pos * np.array([1.0, -1.0])
        if real_robot:
            pose = pose * np.array([1.0, -1.0, -1.0])
            action = action * np.array([1.0, -1.0])
    if pos is win.positions and pose is win.robot_pose:
        return win
    return Window(np.ascontiguousarray(pos), np.ascontiguousarray(present), win.source, win.start_frame,
                  robot_pose=pose, robot_action=action, track_noise=win.track_noise)


@dataclass
class Batch:
    people: np.ndarray  # (B, T, P, 4) robot frame of each step
    mask: np.ndarray  # (B, T, P)
    action: np.ndarray  # (B, T, 3) [linear, angular, robot_present]
    target: np.ndarray  # (B, T, P, 2) displacement t -> t+1 in robot frame t
    target_valid: np.ndarray  # (B, T, P)
    future: np.ndarray  # (B, P, H, 2) true positions after the last observed step, start frame
    future_valid: np.ndarray  # (B, P, H)
    robot_pose: np.ndarray  # (B, H, 4) robot [x, y, cos, sin] at rollout steps, start frame


def make_sample(win: Window, rng: np.random.Generator, p_max: int, obs: int, horizon: int, dt: float,
                p_pedestrian_robot: float, aug: Augment | None = None, robot_flag: bool = True) -> tuple:
    """One sample; its actions are ``[linear, angular, robot_present]`` per step. ``robot_present`` is 1 where the
    people can see the robot (the simulator's robot, a pedestrian standing in for it) and 0 for the static virtual
    robot (nobody reacts to it: it does not exist); ``robot_flag=False`` feeds 0 everywhere (the models before
    the flag: that column's weight then gets no gradient and stays at its initial zero)."""
    aug = aug or Augment()
    win = augment_window(win, rng, aug)
    pos, present = win.positions, win.present
    T = pos.shape[0]
    targets = win.targets
    if win.robot_pose is not None:  # simulator data: the robot is real
        poses, actions = win.robot_pose.astype(np.float64), win.robot_action.astype(np.float64)
        seen_robot = True
    elif len(targets) > 1 and rng.random() < p_pedestrian_robot:
        r = int(rng.choice(targets))
        poses, actions = actions_from_track(pos[:, r], dt)
        keep = np.ones(pos.shape[1], dtype=bool)
        keep[r] = False
        pos, present = pos[:, keep], present[:, keep]
        seen_robot = True
    else:
        centre = np.nanmean(pos[obs - 1], axis=0) if present[obs - 1].any() else np.nanmean(pos.reshape(-1, 2), 0)
        xy = centre + rng.normal(0.0, 2.0, size=2)
        poses = np.tile(np.array([xy[0], xy[1], rng.uniform(-np.pi, np.pi)]), (T, 1))
        actions = np.zeros((T, 2))
        seen_robot = False
    flag = np.full((T, 1), float(seen_robot and robot_flag))
    actions = np.concatenate([actions, flag], axis=1)
    # keep the p_max nearest people (distance at the last observed step, else their closest approach)
    filled = np.where(present[..., None], pos, np.inf)
    dist = np.linalg.norm(filled - poses[:, None, :2], axis=-1).min(axis=0)
    d_obs = np.linalg.norm(np.nan_to_num(pos[obs - 1], nan=np.inf) - poses[obs - 1, :2], axis=-1)
    order = np.lexsort((dist, np.where(np.isfinite(d_obs), d_obs, np.inf)))[:p_max]
    order = order[rng.permutation(len(order))]  # slot order carries no meaning
    pos, present = pos[:, order], present[:, order]
    n = pos.shape[1]

    seen = pos  # what the model is fed; the targets stay the clean positions
    if rng.random() < aug.noise:
        seen = pos + rng.normal(0.0, rng.uniform(0.0, aug.noise_max), size=pos.shape)
    vel = filtered_velocities(seen, present, dt, win.track_noise or TrackNoise())  # NaN only where absent
    people = np.zeros((T, p_max, 4))
    people[:, :n, :2] = np.nan_to_num(world_to_robot(np.nan_to_num(seen), poses))
    people[:, :n, 2:] = vectors_to_robot(vel, poses[:, 2:3])
    mask = np.zeros((T, p_max), dtype=bool)
    mask[:, :n] = present
    people[~mask] = 0.0
    target = np.zeros((T, p_max, 2))
    target_valid = np.zeros((T, p_max), dtype=bool)
    step = np.nan_to_num(pos[1:] - seen[:-1])  # from the fed position to the true next one
    target[:-1, :n] = vectors_to_robot(step, poses[:-1, 2:3])
    target_valid[:-1, :n] = present[1:] & present[:-1]

    start = obs - 1
    future = np.zeros((p_max, horizon, 2))
    future_valid = np.zeros((p_max, horizon), dtype=bool)
    fut = pos[start + 1 : start + 1 + horizon]
    future[:n] = np.nan_to_num(world_to_robot(np.nan_to_num(fut), poses[start])).transpose(1, 0, 2)
    future_valid[:n] = (present[start + 1 : start + 1 + horizon] & present[start]).T
    rel = world_to_robot(poses[start : start + horizon, :2], poses[start])
    yaw = poses[start : start + horizon, 2] - poses[start, 2]
    robot_pose = np.concatenate([rel, np.cos(yaw)[:, None], np.sin(yaw)[:, None]], axis=1)
    return people, mask, actions, target, target_valid, future, future_valid, robot_pose


def make_batch(windows: list[Window], idx: np.ndarray, rng: np.random.Generator, p_max: int, obs: int,
               horizon: int, dt: float, p_pedestrian_robot: float, aug: Augment | None = None,
               robot_flag: bool = True) -> Batch:
    parts = [make_sample(windows[i], rng, p_max, obs, horizon, dt, p_pedestrian_robot, aug, robot_flag) for i in idx]
    arrays = [np.stack(a) for a in zip(*parts)]
    # trim the people axis to the largest crowd in the batch (padding is masked anyway)
    used = max(1, int(arrays[1].any(axis=1).sum(axis=1).max()))
    people_axis = {0: 2, 1: 2, 3: 2, 4: 2, 5: 1, 6: 1}
    for i, ax in people_axis.items():
        arrays[i] = np.take(arrays[i], np.arange(used), axis=ax)
    f32 = [a.astype(np.float32) if a.dtype != bool else a for a in arrays]
    return Batch(*f32)
