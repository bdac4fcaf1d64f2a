"""ETH/UCY trajectory evaluation of the world model against constant velocity (numpy + runtime).

Protocol (shared datasets README): windows of 8 observed + 12 predicted frames at 2.5 Hz, stride 1
frame, targets = people present in all 20 frames, ADE/FDE in metres on the scene's test split.
ETH/UCY has no robot, so the model sees a *static virtual robot* (zero action) standing at the
centroid of the people at the last observed frame, axes aligned with the world frame; nobody can see it, so
its ``robot_present`` input is 0 by definition (``robot_present=True`` gives the same evaluation as a robot
user's model, which is told people see the robot, would predict it). Everyone
present in the window's observed frames is fed to the model (interactions), predictions are
scored on the targets only. Crowds beyond ``p_max`` are split: each pass keeps the ``p_max`` people
nearest to an uncovered target. The constant-velocity baseline (last observed displacement
repeated) runs on exactly the same targets. Best-of-N samples each step from the predicted
Gaussian (seeded) and takes, per target, the minimum ADE and the minimum FDE over the samples.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from causal_nodes.eth_ucy import read_eth_ucy
from causal_nodes.world_model.calibration import HorizonDamping
from causal_nodes.world_model.eth_ucy import DT, Window, load_windows, scene_files
from causal_nodes.world_model.place_memory import PlaceMemory, PlaceMemoryConfig
from causal_nodes.world_model.track_filter import TrackNoise, TrackNoiseEstimator, filtered_velocities

OBS, PRED = 8, 12


@dataclass
class Scores:
    """Per-target displacement errors accumulated over windows."""

    ade: list[float] = field(default_factory=list)
    fde: list[float] = field(default_factory=list)

    def add(self, pred: np.ndarray, truth: np.ndarray) -> None:
        err = np.linalg.norm(pred - truth, axis=-1)  # (n, H)
        self.ade.extend(err.mean(axis=1).tolist())
        self.fde.extend(err[:, -1].tolist())

    def summary(self) -> dict[str, float]:
        return {"ade": float(np.mean(self.ade)) if self.ade else float("nan"),
                "fde": float(np.mean(self.fde)) if self.fde else float("nan")}


def constant_velocity(obs: np.ndarray, horizon: int = PRED) -> np.ndarray:
    """CV baseline: ``obs`` (n, T_obs, 2) → (n, horizon, 2) repeating the last displacement."""
    step = obs[:, -1] - obs[:, -2]
    return obs[:, -1:, :] + step[:, None, :] * np.arange(1, horizon + 1)[None, :, None]


def _observations(pos: np.ndarray, present: np.ndarray, noise: TrackNoise) -> np.ndarray:
    """[x, y, vx, vy] per step and person (T_obs, n, 4); velocity 0 at a track's first step."""
    vel = filtered_velocities(np.nan_to_num(pos), present, DT, noise)
    return np.concatenate([np.nan_to_num(pos), vel], axis=-1)


def online_track_noise(files: list[Path], windows: list[Window]) -> list[TrackNoise]:
    """Per window, the tracker noise a node would have estimated from the frames up to its last observed one.

    Each file is streamed frame by frame through :class:`TrackNoiseEstimator` (a person missing from a frame
    starts a new track), so a window's estimate uses only what was seen before its prediction starts: no
    future of that window or of later ones.
    """
    noise_of: dict[str, list[TrackNoise]] = {}
    for f in files:
        rows = read_eth_ucy(f)
        estimator, estimates = TrackNoiseEstimator(DT), []
        for frame in np.unique(rows[:, 0]):
            now = rows[rows[:, 0] == frame]
            for row in now:
                estimator.add_point(float(row[1]), row[2:4])
            estimator.forget_except({float(i) for i in now[:, 1]})
            estimates.append(estimator.estimate())
        noise_of[Path(f).name] = estimates
    return [noise_of[w.source][i + OBS - 1] for w, i in zip(windows, start_indices(files, windows), strict=True)]


def start_indices(files: list[Path], windows: list[Window]) -> list[int]:
    """Each window's first frame as an index into its file's annotated frames (the windows' time axis)."""
    frames_of = {Path(f).name: np.unique(read_eth_ucy(f)[:, 0]) for f in files}
    return [int(np.searchsorted(frames_of[w.source], w.start_frame)) for w in windows]


class _Outcomes:
    """Forecasts waiting until their realized paths are "seen", then fed to a learner per file: a
    :class:`HorizonDamping` (the self-calibration, default) or another object with ``add_outcome`` (``make``, e.g. a
    :class:`PlaceMemory`).

    A window's forecast becomes an outcome once the window's last predicted frame is at or before the current
    window's last observed frame, so the calibration of a window never uses its own future or a later one.
    """

    def __init__(self, make: Callable[[], Any] | None = None) -> None:
        self.make = make if make is not None else (lambda: HorizonDamping(PRED, DT))
        self.learners: dict[str, Any] = {}
        self._waiting: dict[str, list[tuple]] = {}
        self._source: dict[str, str] = {}

    def calibration(self, source: str, start: int, key: str | None = None) -> Any:
        """The learner of ``key`` (default ``source``: one per file) with every outcome seen by the window of
        ``source`` starting at ``start`` added. A learner shared by several files (``key``: a place) takes them one
        after the other: when the file changes, the previous one has ended, so all its outcomes are in the past."""
        key = source if key is None else key
        learner = self.learners.get(key)
        if learner is None:
            learner = self.learners[key] = self.make()
        waiting = self._waiting.setdefault(key, [])
        if self._source.setdefault(key, source) != source:
            self._source[key] = source
            for item in waiting:
                learner.add_outcome(*item[1:])
            waiting.clear()
        for item in [w for w in waiting if w[0] + PRED <= start]:
            learner.add_outcome(*item[1:])
        self._waiting[key] = [w for w in waiting if w[0] + PRED > start]
        return learner

    def wait(self, key: str, start: int, *outcome: np.ndarray) -> None:
        """An outcome (the learner's ``add_outcome`` arguments) of the window starting at ``start``."""
        self._waiting.setdefault(key, []).append((start, *outcome))


def _groups(window: Window, p_max: int) -> list[np.ndarray]:
    """Index sets of people fed together (<= p_max each) covering every target."""
    seen = np.flatnonzero(window.present[OBS - 1])  # the model predicts people present at the last obs
    targets = window.targets
    if len(seen) <= p_max:
        return [seen]
    last = window.positions[OBS - 1]
    groups, covered = [], set()
    for t in targets:
        if t in covered:
            continue
        d = np.linalg.norm(last[seen] - last[t], axis=-1)
        g = seen[np.argsort(d, kind="stable")[:p_max]]
        groups.append(g)
        covered.update(int(i) for i in g if i in set(targets.tolist()))
    return groups


def _check_time_order(windows: list[Window], starts: list[int]) -> None:
    """Calibration feeds outcomes forward in the order given: a window listed after a later one of the same file
    would be calibrated with that later window's future, so any other order is refused."""
    newest: dict[str, int] = {}
    for win, start in zip(windows, starts, strict=True):
        if start < newest.get(win.source, start):
            raise ValueError(f"windows of {win.source} are not in time order (start {start} after "
                             f"{newest[win.source]}): calibration would see their future")
        newest[win.source] = start


def evaluate_windows(model, windows: list[Window], best_of: int = 20, seed: int = 0,
                     noises: list[TrackNoise] | None = None, starts: list[int] | None = None,
                     robot_present: bool = False,
                     place_memory: PlaceMemoryConfig | None = None, memory_keys: list[str] | None = None,
                     scored: list[bool] | None = None, blend: np.ndarray | None = None,
                     collect: dict[str, list[np.ndarray]] | None = None,
                     seed_weight: float = 1.0) -> dict[str, float]:
    """ADE/FDE of ``model`` (a runtime.WorldModel) and of CV on the targets of ``windows``.

    ``noises`` (one per window, e.g. :func:`online_track_noise`) filters the model's input velocities; None
    feeds backward differences. ``fcv_*`` is constant velocity from those filtered velocities, for reference.
    ``starts`` (each window's first frame index in its file, :func:`start_indices`; windows in time order per
    file) turns on self-calibration as the node does it (:class:`HorizonDamping`, from the outcomes of earlier
    windows only): ``ade``/``fde`` are then the calibrated forecasts, ``uncalibrated_*`` the model's own,
    ``fcv_calibrated_*`` filtered CV calibrated the same way (no model), and ``damping_final`` the mean damping
    chosen at each file's end. ``robot_present``: the model's flag during the evaluation (restored after).

    ``place_memory`` (needs ``starts``) adds an online :class:`PlaceMemory` per file to three forecasts, each
    learning the residual of the forecast it corrects from every person with a velocity at the window's last
    observed frame whose future was then observed (targets or not), prequentially as the calibration:
    ``memory_*`` (the calibrated model), ``fcv_memory_*`` (calibrated filtered CV), ``cv_memory_*`` (CV);
    ``memory_coverage`` is the share of scored targets whose place had evidence. ``model=None`` scores the
    forecasts without a model only (everyone in one group; for choosing settings quickly).

    ``memory_keys`` (one per window; default its file): windows with the same key share one place memory, files
    taken one after the other in the order given (a robot that stays at a place keeps its memory across
    recordings). ``scored`` (one per window; default all True): False windows only teach the memories (and the
    per-file calibrations), their targets are not scored: a memory seeded from other recordings of the place,
    whose outcomes weigh ``seed_weight`` once the first scored window of that memory comes
    (:meth:`PlaceMemory.discount`, as a node's ``place_memory_file_weight``).
    ``blend`` (H,): the weight of the model + memory forecast per step against calibrated filtered CV + memory
    (``blend_ade``/``blend_fde``). ``collect``: lists ``model``, ``fcv`` (both with memory) and ``truth`` get each
    scored group's (n, H, 2) arrays, for choosing ``blend`` on val rows.
    """
    if (blend is not None or collect is not None) and (place_memory is None or model is None):
        raise ValueError("blend and collect need a model and place_memory")
    for name, per_window in (("memory_keys", memory_keys), ("scored", scored)):
        if per_window is not None and len(per_window) != len(windows):
            raise ValueError(f"{name} needs one entry per window: {len(per_window)} for {len(windows)}")
    if starts is not None:
        _check_time_order(windows, starts)
    if place_memory is not None and starts is None:
        raise ValueError("place_memory needs starts (windows in time order): it learns from earlier windows")
    if model is None:
        return _evaluate_windows(model, windows, best_of, seed, noises, starts, place_memory, memory_keys, scored,
                                 blend, collect, seed_weight)
    before = model.robot_present
    model.robot_present = robot_present
    try:
        out = _evaluate_windows(model, windows, best_of, seed, noises, starts, place_memory, memory_keys, scored,
                                blend, collect, seed_weight)
    finally:
        model.robot_present = before
    out["robot_present"] = bool(robot_present)
    return out


def _evaluate_windows(model, windows: list[Window], best_of: int, seed: int, noises: list[TrackNoise] | None,
                      starts: list[int] | None, place_memory: PlaceMemoryConfig | None,
                      memory_keys: list[str] | None = None, scored: list[bool] | None = None,
                      blend: np.ndarray | None = None,
                      collect: dict[str, list[np.ndarray]] | None = None, seed_weight: float = 1.0
                      ) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    wm, raw_wm, cv, fcv, fcv_cal, best = Scores(), Scores(), Scores(), Scores(), Scores(), Scores()
    blended = Scores()
    weight = None if blend is None else np.asarray(blend, dtype=np.float64).reshape(1, PRED, 1)
    outcomes, fcv_outcomes = (_Outcomes(), _Outcomes()) if starts is not None else (None, None)
    names = (("model",) if model is not None else ()) + ("fcv", "cv")
    memories = {name: _Outcomes(lambda: PlaceMemory(PRED, DT, place_memory)) for name in names} if place_memory else {}
    memory_scores = {name: Scores() for name in memories}
    seeded: set[str] = set()  # memory keys taught by seed windows, not yet discounted
    covered = 0
    steps = np.arange(1, PRED + 1)[None, :, None]
    for w, win in enumerate(windows):
        noise = noises[w] if noises is not None else TrackNoise()
        damping = outcomes.calibration(win.source, starts[w]) if outcomes is not None and starts is not None else None
        fcv_damping = fcv_outcomes.calibration(win.source, starts[w]) if fcv_outcomes and starts is not None else None
        key = memory_keys[w] if memory_keys is not None else win.source
        learners = {name: m.calibration(win.source, starts[w], key) for name, m in memories.items()
                    if starts is not None}
        if scored is not None and not scored[w]:
            seeded.add(key)
        elif key in seeded:  # the seed recordings are over: from here on they weigh seed_weight
            seeded.discard(key)
            for learner in learners.values():
                learner.discount(seed_weight)
        targets = set(win.targets.tolist()) if scored is None or scored[w] else set()
        if not targets and not memories:
            continue
        done: set[int] = set()
        learned: set[int] = set()
        for group in _groups(win, model.p_max if model is not None else win.positions.shape[1]):
            pos = win.positions[:, group]
            present = win.present[:, group]
            origin = np.nanmean(pos[OBS - 1], axis=0)
            obs = _observations(pos[:OBS] - origin, present[:OBS], noise)
            rows = [i for i, g in enumerate(group) if int(g) in targets and int(g) not in done]
            learn = [i for i, g in enumerate(group) if memories and present[OBS - 2, i] and int(g) not in learned]
            if not rows and not learn:
                continue
            done.update(int(group[i]) for i in rows)
            learned.update(int(group[i]) for i in learn)
            observed = pos[:OBS].transpose(1, 0, 2) - origin  # everyone in the group, NaN where absent
            future = pos[OBS:].transpose(1, 0, 2) - origin
            truth = future[rows]
            velocity = obs[OBS - 1, :, 2:]
            forecasts: dict[str, np.ndarray] = {"cv": constant_velocity(observed)}  # (n, H, 2), before any memory
            if model is not None:
                model.reset()
                for t in range(OBS):
                    model.step(obs[t], present[t], (0.0, 0.0))
                pred = model.predict_sequential(PRED, (0.0, 0.0))
                raw_wm.add(pred[rows], truth)
                if damping is not None and outcomes is not None and starts is not None:
                    outcomes.wait(win.source, starts[w], observed[rows, -1], pred[rows], truth)
                    pred = damping.apply(observed[:, -1], pred)
                wm.add(pred[rows], truth)
                forecasts["model"] = pred
            cv.add(forecasts["cv"][rows], truth)
            baseline = observed[:, -1:] + velocity[:, None] * DT * steps
            fcv.add(baseline[rows], truth)
            forecasts["fcv"] = baseline
            if fcv_damping is not None and fcv_outcomes is not None and starts is not None:
                fcv_outcomes.wait(win.source, starts[w], observed[rows, -1], baseline[rows], truth)
                forecasts["fcv"] = fcv_damping.apply(observed[:, -1], baseline)
                fcv_cal.add(forecasts["fcv"][rows], truth)
            offset = np.zeros((len(group), PRED, 2))
            corrected: dict[str, np.ndarray] = {}  # each forecast of the targets with its memory
            for name, learner in learners.items():
                here = observed[:, -1] + origin  # the place is in the world (file) frame
                if learn and starts is not None:
                    memories[name].wait(key, starts[w], here[learn], velocity[learn],
                                        forecasts[name][learn] + origin, future[learn] + origin)
                if rows:
                    correction, evidence = learner.correction(here[rows], velocity[rows])
                    memory_scores[name].add(forecasts[name][rows] + correction, truth)
                    if name == names[0]:
                        covered += int((evidence > 0).sum())
                        offset[rows] = correction
                    corrected[name] = forecasts[name][rows] + correction
            if (collect is not None or weight is not None) and rows and learners:
                if collect is not None:
                    for name in ("model", "fcv"):
                        collect.setdefault(name, []).append(corrected[name])
                    collect.setdefault("truth", []).append(truth)
                if weight is not None:
                    blended.add(weight * corrected["model"] + (1 - weight) * corrected["fcv"], truth)
            if best_of > 0 and model is not None and rows:
                samples = model.rollout(PRED, np.zeros((best_of, 2)), sample=True, rng=rng)[:, rows]
                if damping is not None:
                    samples = damping.apply(observed[None, rows, -1], samples)
                samples = samples + offset[None, rows]
                err = np.linalg.norm(samples - truth[None], axis=-1)  # (S, n, H)
                best.ade.extend(err.mean(axis=2).min(axis=0).tolist())
                best.fde.extend(err[..., -1].min(axis=0).tolist())
    out = {**wm.summary(), "cv_ade": cv.summary()["ade"], "cv_fde": cv.summary()["fde"],
           "fcv_ade": fcv.summary()["ade"], "fcv_fde": fcv.summary()["fde"], "targets": len(cv.ade)}
    if outcomes is not None:
        out.update({"uncalibrated_ade": raw_wm.summary()["ade"], "uncalibrated_fde": raw_wm.summary()["fde"],
                    "fcv_calibrated_ade": fcv_cal.summary()["ade"], "fcv_calibrated_fde": fcv_cal.summary()["fde"]})
        if outcomes.learners:
            out["damping_final"] = float(np.mean([d.damping for d in outcomes.learners.values()]))
    for name, scores in memory_scores.items():
        prefix = "" if name == "model" else f"{name}_"
        out.update({f"{prefix}memory_ade": scores.summary()["ade"], f"{prefix}memory_fde": scores.summary()["fde"]})
    if weight is not None:
        out["blend_ade"], out["blend_fde"] = blended.summary()["ade"], blended.summary()["fde"]
    if memories:
        out["memory_coverage"] = covered / max(len(cv.ade), 1)
        out["memory_cells"] = float(np.mean([m.cells for m in memories[names[0]].learners.values()]))
    if best_of > 0:
        out[f"best_of_{best_of}_ade"] = best.summary()["ade"]
        out[f"best_of_{best_of}_fde"] = best.summary()["fde"]
    return out


def evaluate_scene(model, data: Path, scene: str, best_of: int = 20, seed: int = 0, stride: int = 1,
                   max_windows: int | None = None, velocity: str = "filtered",
                   calibrate: bool = True, robot_present: bool = False,
                   place_memory: PlaceMemoryConfig | None = None, split: str = "test") -> dict[str, float]:
    """Evaluate on ``{data}/{scene}/{split}`` (``test``; the model must not have been trained on that scene).

    ``velocity``: ``filtered`` (the node's default: tracker noise estimated online, :func:`online_track_noise`)
    or ``raw`` (backward differences). ``calibrate``: self-calibration from earlier windows' outcomes (the
    node's default, :class:`HorizonDamping`); the uncalibrated numbers are reported beside. ``robot_present``:
    0 by definition (the scenes have no robot), 1 to see what a model told that people see the robot predicts.
    ``place_memory``: an online :class:`PlaceMemory` with these settings on top (:func:`evaluate_windows`; needs
    ``calibrate``'s time order, so it is honoured with ``calibrate`` off too). ``split="val"`` scores the training
    scenes' val rows, where settings are chosen (``model=None``: without a model).
    """
    if velocity not in ("filtered", "raw"):
        raise ValueError(f"velocity must be 'filtered' or 'raw', got {velocity!r}")
    files = scene_files(data, scene, split)
    windows = load_windows(files, OBS + PRED, stride=stride)
    if max_windows is not None:
        windows = windows[:max_windows]
    noises = online_track_noise(files, windows) if velocity == "filtered" else None
    starts = start_indices(files, windows) if calibrate or place_memory is not None else None
    result = evaluate_windows(model, windows, best_of=best_of, seed=seed, noises=noises, starts=starts,
                              robot_present=robot_present, place_memory=place_memory)
    result.update({"scene": scene, "windows": len(windows), "best_of": best_of, "seed": seed, "velocity": velocity,
                   "calibrate": calibrate})
    return result


PROBE_START = (6.0, 0.3)  # the probe person's first observed position in the robot frame (m)
PROBE_WALK = 1.0  # their speed towards the robot (m/s)


def robot_response_probe(model, speed: float = 0.8) -> dict[str, float]:
    """How much predicted people react to the robot's action (a behaviour probe; the simulator's answer to the
    same scene is :func:`causal_nodes.evaluation.probe_truth.simulated_robot_response`).

    A person walks head-on towards the robot at 1 m/s, 6 m ahead and 0.3 m to the side, for 8
    steps while the robot stands. Then the model predicts 12 steps with the robot standing still
    vs driving towards the person at ``speed`` m/s. Returns the predicted lateral offset of the
    person when passing the robot's path and the closest person-robot distance in both cases; a
    model that ignores the robot gives identical paths (and a collision course when driving). The robot is
    one the person can see (``robot_present`` 1, restored after).
    """
    return probe_metrics(robot_response_paths(model, speed), speed)


def robot_response_paths(model, speed: float = 0.8) -> np.ndarray:
    """The probe person's predicted paths (2, H, 2) with the robot standing (0) and driving at ``speed`` (1), in
    the robot frame at the forecast's start (the scene of :func:`robot_response_probe`)."""
    before = model.robot_present
    model.robot_present = True
    try:
        model.reset()
        for t in range(OBS):
            model.step(np.array([[PROBE_START[0] - PROBE_WALK * DT * t, PROBE_START[1], -PROBE_WALK, 0.0]]), None,
                       (0.0, 0.0))
        actions = np.array([[0.0, 0.0], [speed, 0.0]])
        return model.rollout(PRED, actions)[:, 0]  # (2, H, 2) in the robot frame at the start
    finally:
        model.robot_present = before


def probe_metrics(paths: np.ndarray, speed: float) -> dict[str, float]:
    """The probe's figures from the person's paths (2, H, 2) with the robot standing (0) and driving (1) at
    ``speed`` from the probe's start, in the robot frame at that start."""
    robot_x = np.stack([np.zeros(PRED), speed * DT * np.arange(1, PRED + 1)])  # robot x after each step
    gaps = np.hypot(paths[..., 0] - robot_x, paths[..., 1])
    return {"lateral_offset_stand_m": float(np.abs(paths[0, :, 1]).max()),
            "lateral_offset_drive_m": float(np.abs(paths[1, :, 1]).max()),
            "min_distance_stand_m": float(gaps[0].min()), "min_distance_drive_m": float(gaps[1].min()),
            "path_difference_m": float(np.linalg.norm(paths[1] - paths[0], axis=-1).max())}
