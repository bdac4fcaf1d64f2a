"""From world-frame people detections + robot odometry to model steps and world-frame predictions.

ROS-free glue used by the world-model node: it estimates each person's velocity with a Kalman filter
matched to the tracker's noise (:mod:`.track_filter`: measured online from the tracks unless given; a
clean tracker gets plain backward differences), expresses everything in the robot frame (REP 103) for
the model, keeps people in stable slots (:class:`.slots.SlotAssigner`, nearest ``p_max`` kept),
decimates faster streams to the model's time step (the dynamics were learned per ``dt`` = 0.4 s), and maps the predicted
trajectories back to the world frame.

Hostile stamps follow the same rules as the other stages (:mod:`causal_nodes.variables.time_sanity`): a duplicate
stamp is no step, a small step back or a far-future outlier is refused (:class:`StampRejected`), and a clock that
really jumped (a looping bag, a restarted simulator) starts the stream over instead of refusing every later frame.
People farther than ``max_range_m`` from the robot are left out (counted): the model computes in float32, and one
absurd detection (1e20 m) would otherwise turn its cache, and every later forecast, into NaN.
"""
from __future__ import annotations

import copy
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from causal_nodes.variables.time_sanity import (
    ACCEPT,
    DROP,
    JUMPED_BACK,
    JUMPED_FORWARD,
    ForwardJumpGuard,
    TimeRules,
    judge_step_back,
)
from causal_nodes.variables.tracking import NearestNeighbourTracker

from .calibration import HorizonDamping
from .frames import vectors_to_robot, world_to_robot
from .place_memory import PlaceMemory, PlaceMemoryConfig
from .runtime import WorldModel
from .slots import SlotAssigner
from .track_filter import TrackNoise, TrackNoiseEstimator, VelocityFilter


@dataclass
class Prediction:
    stamp: float
    paths_world: dict[Hashable, np.ndarray]  # id -> (H, 2) predicted positions, world frame
    step_mean_robot: dict[Hashable, np.ndarray]  # id -> (2,) next displacement, robot frame
    dropped: int  # people without a slot this step (beyond the nearest p_max, or max_people)
    out_of_range: int = 0  # people farther than max_range_m from the robot this step (not fed to the model)
    rows: dict[Hashable, int] = field(default_factory=dict)  # id -> the person's row in the frame given to update


MAX_RANGE_M = 1000.0
"""m: people farther than this from the robot are not fed to the model (see the module docstring)."""
MAX_PEOPLE = 100
"""People per frame taken in (the nearest to the robot; the model has ``p_max`` slots): bounds the per-person work
and the track association of one hostile many-pose frame."""
TRACKER_GATE_M = 1.0
"""m: the largest move between two frames still taken as the same person when the stream keeps identities."""


class StampRejected(ValueError):
    """A frame refused for its stamp; ``reason`` names the rule (a :mod:`~causal_nodes.variables.time_sanity`
    reason) so callers can count it."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class WorldModelStream:
    """``track_noise``: the tracker's position noise and people's acceleration, or None to estimate them online
    from the tracks seen (the estimate survives :meth:`reset`: it describes the tracker, not the scene).
    ``calibrate``: damp the published paths as the outcomes of earlier forecasts call for
    (:class:`.calibration.HorizonDamping`; reset with the stream, since it describes the place), the older outcomes
    weighing half after ``calibration_half_life`` scored steps (0: never forget); the online noise estimate likewise
    after ``noise_half_life`` second differences (0: never; else at least the estimator's ``min_samples``).
    ``place_memory``: correct the published (calibrated) paths by how people who were at the same place, heading the
    same way, moved compared with their forecasts (:class:`.place_memory.PlaceMemory`, world frame; None: off; reset
    with the stream like the calibration, back to ``place_memory_start`` when given: a memory of an earlier visit,
    e.g. :meth:`.place_memory.PlaceMemory.load`, never the outcomes of the stream that was reset). ``time_rules``:
    when a stamp far back or (confirmed) far ahead starts the stream over; ``time_resets`` counts those by reason.
    ``max_range_m``: see the module docstring."""

    def __init__(self, model: WorldModel, horizon: int, min_step_interval: float | None = None,
                 track_noise: TrackNoise | None = None, calibrate: bool = False, time_rules: TimeRules | None = None,
                 max_range_m: float = MAX_RANGE_M, max_people: int = MAX_PEOPLE,
                 tracker_gate_m: float = TRACKER_GATE_M, calibration_half_life: float = 0.0,
                 noise_half_life: float = 0.0, place_memory: PlaceMemoryConfig | None = None,
                 place_memory_start: PlaceMemory | None = None) -> None:
        if not 1 <= horizon <= model.horizon_max:
            raise ValueError(f"horizon must be in 1..{model.horizon_max}, got {horizon}")
        self.model = model
        self.horizon = int(horizon)
        self.min_step_interval = 0.9 * model.dt if min_step_interval is None else float(min_step_interval)
        self.slots = SlotAssigner(model.p_max)
        self.fixed_noise = track_noise
        self.noise_estimator = TrackNoiseEstimator(model.dt, half_life=noise_half_life)
        self.calibrate = calibrate
        self.calibration_half_life = calibration_half_life
        self.place_memory_config = place_memory
        self.place_memory_start = place_memory_start
        self.time_rules = time_rules if time_rules is not None else TimeRules()
        self._future = ForwardJumpGuard(self.time_rules)
        self.time_resets = {JUMPED_BACK: 0, JUMPED_FORWARD: 0}
        if not max_range_m > 0:
            raise ValueError(f"max_range_m must be > 0, got {max_range_m}")
        self.max_range_m = float(max_range_m)
        if max_people < 1:
            raise ValueError(f"max_people must be >= 1, got {max_people}")
        self.max_people = int(max_people)
        self.tracker = NearestNeighbourTracker(gate_m=tracker_gate_m, timeout_s=max(1.0, 3.0 * model.dt))
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
        self.calibration = HorizonDamping(self.horizon, self.model.dt, half_life_points=self.calibration_half_life)
        self.place_memory = self._start_place_memory()
        self._future.clear()
        self.tracker.reset()

    def _start_place_memory(self) -> PlaceMemory | None:
        """A fresh place memory: a copy of ``place_memory_start`` (e.g. loaded from a file), else empty."""
        if self.place_memory_config is None:
            return None
        if self.place_memory_start is not None:
            return copy.deepcopy(self.place_memory_start)
        return PlaceMemory(self.horizon, self.model.dt, self.place_memory_config)

    def drop_place_memory_start(self) -> None:
        """Forget the starting memory (found to be another place's) and start the place memory empty."""
        self.place_memory_start = None
        self.restart_place_memory()

    def restart_place_memory(self) -> None:
        """The place memory back to ``place_memory_start`` (else empty), the rest of the stream kept: when the world
        frame of its cells changed, what it learned describes other places in the new frame."""
        self.place_memory = self._start_place_memory()

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

    def update(self, stamp: float, ids: Sequence[Hashable] | None, people_world: np.ndarray,
               robot_pose: Sequence[float], action: Sequence[float], predict: bool = True) -> Prediction | None:
        """Consume one detection frame; returns a Prediction when the model stepped, else None.

        ``ids``: the people's track ids, or None when the detections carry none (a ``PoseArray``): the stream then
        keeps identities itself (:class:`~causal_nodes.variables.tracking.NearestNeighbourTracker`, every frame,
        decimated or not); list positions are no identities, since everyone after a person who leaves moves up
        one place. ``people_world``: (N, 2) positions in the world (odom) frame; ``robot_pose``: (x, y, yaw) in
        the same frame; ``action``: (linear m/s, angular rad/s). Raises ValueError on bad input
        (non-finite values, wrong shapes; :class:`StampRejected` for a small step back in time or a far-future
        outlier). ``predict=False`` only streams (no rollout, empty paths): for callers that run their own rollouts.
        """
        people_world = np.asarray(people_world, dtype=np.float64)
        people_world = people_world.reshape(-1, 2) if people_world.size or ids is None else np.zeros((0, 2))
        pose = np.asarray(robot_pose, dtype=np.float64)
        if ids is not None and people_world.shape != (len(ids), 2):
            raise ValueError(f"people_world must be ({len(ids)}, 2), got {people_world.shape}")
        if not (np.isfinite(people_world).all() and np.isfinite(pose).all() and pose.shape == (3,)):
            raise ValueError("non-finite person position or robot pose")
        if ids is not None and len(set(ids)) != len(ids):  # before any state moves (the slots refuse it too late)
            raise ValueError("person ids must be unique within a frame")
        if self._last_stamp is not None and stamp == self._last_stamp:
            return None  # no time passed: never a step (a duplicated frame), whatever min_step_interval is
        verdict = judge_step_back(self._last_stamp, stamp, self.time_rules)
        if verdict.action == ACCEPT:
            verdict = self._future.judge(self._last_stamp, stamp)
        if verdict.action == DROP:
            raise StampRejected(verdict.reason, f"{verdict.reason}: stamp {stamp:.3f} against the newest "
                                f"{self._last_stamp if self._last_stamp is not None else float('nan'):.3f}")
        if verdict.action != ACCEPT:  # the clock restarted or jumped ahead: the old state describes another time
            self.reset()
            self.time_resets[verdict.reason] += 1
        distance = np.hypot(*world_to_robot(people_world, pose).T) if len(people_world) else np.zeros(0)
        rows = np.flatnonzero(distance <= self.max_range_m)
        out_of_range = len(people_world) - len(rows)
        rows = np.sort(rows[np.argsort(distance[rows], kind="stable")[:self.max_people]])
        beyond = len(people_world) - out_of_range - len(rows)
        people_world = people_world[rows]
        ids = [ids[r] for r in rows] if ids is not None else self.tracker.assign(stamp, people_world)
        if self._last_stamp is not None and stamp - self._last_stamp < self.min_step_interval:
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
            self.calibration.observe_many(ids, stamp, people_world)
            self.calibration.forget_except(set(ids))
        if self.place_memory is not None:
            self.place_memory.observe_many(ids, stamp, people_world)
            self.place_memory.forget_except(set(ids))
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
        if self.place_memory is not None and out_paths:
            self._correct_by_place(stamp, ids, people_world, vel_world, out_paths)
        self._last_stamp = stamp
        self._last_pos = {pid: people_world[i].copy() for i, pid in enumerate(ids)}
        return Prediction(stamp, out_paths, out_mean, int((slot_of < 0).sum()) + beyond, out_of_range,
                          {pid: int(r) for pid, r in zip(ids, rows, strict=True)})

    def _correct_by_place(self, stamp: float, ids: Sequence[Hashable], people_world: np.ndarray,
                          vel_world: np.ndarray, paths: dict[Hashable, np.ndarray]) -> None:
        """Records each published path (before this correction) with the place memory and adds its correction, for
        people seen at the step before too: a person's first step has no velocity yet, so no heading."""
        assert self.place_memory is not None
        rows = [i for i, pid in enumerate(ids) if pid in paths and pid in self._last_pos]
        if not rows:
            return
        before = np.stack([paths[ids[i]] for i in rows])
        self.place_memory.record_many([ids[i] for i in rows], stamp, people_world[rows], vel_world[rows], before)
        corrected = self.place_memory.apply(people_world[rows], vel_world[rows], before)
        for i, path in zip(rows, corrected, strict=True):
            paths[ids[i]] = path

    def _person_velocities(self, ids: Sequence[Hashable], people_world: np.ndarray, dt: float | None) -> np.ndarray:
        """World-frame velocities (N, 2), filtered for the tracker's current noise estimate."""
        if self.fixed_noise is None:
            for i, pid in enumerate(ids):
                self.noise_estimator.add_point(pid, people_world[i], dt)
            self.noise_estimator.forget_except(set(ids))
        self._velocities.noise = self.track_noise
        return self._velocities.step(list(ids), people_world, dt)
