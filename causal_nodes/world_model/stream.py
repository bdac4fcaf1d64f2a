"""From world-frame people detections + robot odometry to model steps and world-frame predictions.

ROS-free glue used by the world-model node: it estimates each person's velocity with a Kalman filter
matched to the tracker's noise (:mod:`.track_filter`: measured online from the tracks unless given; a
clean tracker gets plain backward differences), expresses everything in the robot frame (REP 103) for
the model, keeps people in stable slots (:class:`.slots.SlotAssigner`, nearest ``p_max`` kept),
decimates faster streams to the model's time step (the dynamics were learned per ``dt`` = 0.4 s), and maps the predicted
trajectories back to the world frame.
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from .calibration import HorizonDamping
from .frames import vectors_to_robot, world_to_robot
from .runtime import WorldModel
from .slots import SlotAssigner
from .track_filter import TrackNoise, TrackNoiseEstimator, VelocityFilter


@dataclass
class Prediction:
    stamp: float
    paths_world: dict[Hashable, np.ndarray]  # id -> (H, 2) predicted positions, world frame
    step_mean_robot: dict[Hashable, np.ndarray]  # id -> (2,) next displacement, robot frame
    dropped: int  # people beyond p_max this step


class WorldModelStream:
    """``track_noise``: the tracker's position noise and people's acceleration, or None to estimate them online
    from the tracks seen (the estimate survives :meth:`reset`: it describes the tracker, not the scene).
    ``calibrate``: damp the published paths as the outcomes of earlier forecasts call for
    (:class:`.calibration.HorizonDamping`; reset with the stream, since it describes the place)."""

    def __init__(self, model: WorldModel, horizon: int, min_step_interval: float | None = None,
                 track_noise: TrackNoise | None = None, calibrate: bool = False) -> None:
        if not 1 <= horizon <= model.horizon_max:
            raise ValueError(f"horizon must be in 1..{model.horizon_max}, got {horizon}")
        self.model = model
        self.horizon = int(horizon)
        self.min_step_interval = 0.9 * model.dt if min_step_interval is None else float(min_step_interval)
        self.slots = SlotAssigner(model.p_max)
        self.fixed_noise = track_noise
        self.noise_estimator = TrackNoiseEstimator(model.dt)
        self.calibrate = calibrate
        self.reset()

    @property
    def track_noise(self) -> TrackNoise:
        """The noise the velocity filter uses now (given, or the online estimate)."""
        return self.fixed_noise if self.fixed_noise is not None else self.noise_estimator.estimate()

    def reset(self) -> None:
        self.model.reset()
        self.slots.reset()
        self._last_stamp: float | None = None
        self._last_pos: dict[Hashable, np.ndarray] = {}
        self._velocities = VelocityFilter(self.track_noise)
        self.noise_estimator.forget_except(set())
        self.calibration = HorizonDamping(self.horizon, self.model.dt)

    @property
    def last_stamp(self) -> float | None:
        """Stamp of the model's latest step (None before the first)."""
        return self._last_stamp

    def last_positions(self) -> dict[Hashable, np.ndarray]:
        """World-frame position of every person seen at the latest step, by id."""
        return {pid: p.copy() for pid, p in self._last_pos.items()}

    def slot(self, pid: Hashable) -> int:
        """The model slot of a person seen at the latest step, -1 if they were dropped (beyond p_max)."""
        return int(self.slots.slot_of.get(pid, -1))

    def update(self, stamp: float, ids: Sequence[Hashable], people_world: np.ndarray, robot_pose: Sequence[float],
               action: Sequence[float], predict: bool = True) -> Prediction | None:
        """Consume one detection frame; returns a Prediction when the model stepped, else None.

        ``people_world``: (N, 2) positions in the world (odom) frame; ``robot_pose``: (x, y, yaw) in
        the same frame; ``action``: (linear m/s, angular rad/s). Raises ValueError on bad input
        (non-finite values, wrong shapes, time going backwards). ``predict=False`` only streams (no rollout,
        empty paths): for callers that run their own rollouts.
        """
        people_world = np.asarray(people_world, dtype=np.float64).reshape(-1, 2) if len(ids) else np.zeros((0, 2))
        pose = np.asarray(robot_pose, dtype=np.float64)
        if people_world.shape != (len(ids), 2):
            raise ValueError(f"people_world must be ({len(ids)}, 2), got {people_world.shape}")
        if not (np.isfinite(people_world).all() and np.isfinite(pose).all() and pose.shape == (3,)):
            raise ValueError("non-finite person position or robot pose")
        if self._last_stamp is not None:
            if stamp < self._last_stamp:
                raise ValueError(f"time went backwards ({stamp:.3f} < {self._last_stamp:.3f})")
            if stamp - self._last_stamp < self.min_step_interval:
                return None  # decimate to the model's step
        dt = None if self._last_stamp is None else stamp - self._last_stamp
        vel_world = self._person_velocities(ids, people_world, dt)
        rel = world_to_robot(people_world, pose) if len(ids) else np.zeros((0, 2))
        states = np.concatenate([rel, vectors_to_robot(vel_world, pose[2])], axis=1) if len(ids) else np.zeros((0, 4))
        people, mask, slot_of = self.slots.assign(list(ids), states)
        mean, _ = self.model.step(people, mask, action)
        if predict:
            paths = self.model.rollout(self.horizon, np.asarray(action, dtype=np.float64)[None])[0]  # (P, H, 2)
        else:
            paths = np.full((len(mask), self.horizon, 2), np.nan)
        c, s = np.cos(pose[2]), np.sin(pose[2])
        out_paths, out_mean = {}, {}
        if self.calibrate:
            for i, pid in enumerate(ids):
                self.calibration.observe(pid, stamp, people_world[i])
            self.calibration.forget_except(set(ids))
        for i, pid in enumerate(ids):
            k = slot_of[i]
            if k < 0:
                continue
            out_mean[pid] = mean[k]
            if not predict:
                continue
            p = paths[k]
            path = np.stack([pose[0] + c * p[:, 0] - s * p[:, 1], pose[1] + s * p[:, 0] + c * p[:, 1]], -1)
            if self.calibrate:
                self.calibration.record(pid, stamp, people_world[i], path)
                path = self.calibration.apply(people_world[i], path)
            out_paths[pid] = path
        self._last_stamp = stamp
        self._last_pos = {pid: people_world[i].copy() for i, pid in enumerate(ids)}
        return Prediction(stamp, out_paths, out_mean, int((slot_of < 0).sum()))

    def _person_velocities(self, ids: Sequence[Hashable], people_world: np.ndarray, dt: float | None) -> np.ndarray:
        """World-frame velocities (N, 2), filtered for the tracker's current noise estimate."""
        if self.fixed_noise is None:
            for i, pid in enumerate(ids):
                self.noise_estimator.add_point(pid, people_world[i])
            self.noise_estimator.forget_except(set(ids))
        self._velocities.noise = self.track_noise
        return self._velocities.step(list(ids), people_world, dt)
