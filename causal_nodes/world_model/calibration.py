"""Self-calibration of forecasts from the paths people then walked (numpy only, bounded memory).

Whether people keep their pace over the 4.8 s horizon depends on the place: on ETH/UCY's eth and univ scenes a
forecast that shortens the extrapolation (people slow down, stop or turn) wins by 4-10 %, on zara the full
extrapolation does, and a correction learned on the other scenes hurts the one left out
(``benchmarks/results/cv_variants.md``). A robot sees the answer for free: 4.8 s after every forecast it has
observed where each person went. :class:`HorizonDamping` keeps, for a few candidate dampings ``d``, the error
the forecasts *would* have had if step ``k``'s displacement from the person's position at forecast time had been
scaled by ``g_k(d) = (1 + d + ... + d^k) / (k + 1)`` (for constant velocity exactly a velocity damped by ``d``
per step), and applies the candidate with the least error so far. Only outcomes already observed are used:
the calibration never sees the future of the forecast it corrects. ``d = 1`` (no change) is a candidate and
the default until ``min_points`` outcomes were scored, so a model that is already calibrated stays as it is.
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

DAMPING_CANDIDATES = (1.0, 0.99, 0.98, 0.97, 0.96, 0.95, 0.93, 0.9)
MIN_POINTS = 1000
"""Scored forecast steps (one person, one step ahead) before the calibration changes anything."""
STEP_TOLERANCE = 0.25
"""An observation counts for forecast step k when it comes within this fraction of dt of the step's time."""


class PendingForecasts(dict):
    """Forecasts waiting for the frames that score them, per tracked person (at most ``horizon`` each, the newest):
    shared by the self-calibration and the place memory, so both score exactly the same steps of the same forecasts.
    A dict of person -> [(stamp, steps, payload)]."""

    def __init__(self, horizon: int, dt: float) -> None:
        super().__init__()
        self.horizon = horizon
        self.dt = dt

    def add(self, key: Hashable, stamp: float, payload: tuple, length: int) -> None:
        """A forecast of ``length`` steps for ``key`` made at ``stamp``; ``payload`` is what scoring it needs."""
        pending = self.setdefault(key, [])
        pending.append((float(stamp), min(length, self.horizon), payload))
        del pending[:-self.horizon]

    def due(self, keys: Sequence[Hashable], stamp: float) -> list[tuple[int, int, tuple]]:
        """``(index into keys, step (0-based), payload)`` of every pending forecast of these people that a frame at
        ``stamp`` scores (within ``STEP_TOLERANCE`` of a step's time); forecasts with no step left are dropped."""
        out = []
        for index, key in enumerate(keys):
            pending = self.get(key)
            if not pending:
                continue
            kept = []
            for t0, last, payload in pending:
                k = (stamp - t0) / self.dt
                step = int(round(k))
                if 1 <= step <= last and abs(k - step) <= STEP_TOLERANCE:
                    out.append((index, step - 1, payload))
                if step < last:
                    kept.append((t0, last, payload))
            self[key] = kept
        return out

    def forget_except(self, keys: set) -> None:
        """Drop pending forecasts of people no longer tracked."""
        for key in [k for k in self if k not in keys]:
            del self[key]


def damping_gains(damping: float, horizon: int) -> np.ndarray:
    """``g_k`` for k = 1..horizon: the displacement scale that turns constant velocity into a damped one."""
    return np.cumsum(damping ** np.arange(horizon)) / np.arange(1, horizon + 1)


class HorizonDamping:
    """Chooses the damping of forecasts from their realized errors; see the module docstring.

    Two ways in: :meth:`add_outcome` for a forecast whose whole outcome is known (offline evaluation, in time
    order), or :meth:`record` + :meth:`observe` for a stream (the node), where each later observation of a person
    scores the pending forecasts' step it falls on.
    """

    def __init__(self, horizon: int, dt: float, candidates: tuple[float, ...] = DAMPING_CANDIDATES,
                 min_points: int = MIN_POINTS, half_life_points: float = 0.0) -> None:
        if horizon < 1 or dt <= 0:
            raise ValueError(f"horizon must be >= 1 and dt > 0, got {horizon}, {dt}")
        if half_life_points < 0:
            raise ValueError(f"half_life_points must be >= 0 (0: never forget), got {half_life_points}")
        self.dt = dt
        self.half_life_points = float(half_life_points)
        """Scored steps after which an outcome weighs half (0: never forget). A robot that moves between places with
        different habits needs the recent ones; the ETH/UCY figures are measured without forgetting."""
        self.candidates = np.asarray(candidates, dtype=np.float64)
        self.min_points = min_points
        self._gains = np.stack([damping_gains(d, horizon) for d in self.candidates])  # (C, H)
        self._error = np.zeros(len(self.candidates))
        self.points = 0
        self._pending = PendingForecasts(horizon, dt)

    @property
    def horizon(self) -> int:
        return self._gains.shape[1]

    @property
    def damping(self) -> float:
        """The damping in use: the candidate with the least error, 1.0 before ``min_points`` outcomes."""
        if self.points < self.min_points:
            return 1.0
        return float(self.candidates[int(np.argmin(self._error))])

    def apply(self, origin: np.ndarray, path: np.ndarray) -> np.ndarray:
        """``path`` ``(..., H, 2)`` with each step's displacement from ``origin`` ``(..., 2)`` scaled by the damping."""
        gains = damping_gains(self.damping, path.shape[-2])[:, None]
        return origin[..., None, :] + gains * (path - origin[..., None, :])

    def _score(self, steps: np.ndarray, origin: np.ndarray, path: np.ndarray, truth: np.ndarray) -> None:
        """Errors of every candidate at forecast ``steps`` (0-based) of forecasts (n, H, 2) from ``origin`` (n, 2).

        Forecasts or outcomes that are not finite there are skipped: one NaN would make every candidate's error NaN
        for the rest of the run (and argmin of NaNs picks the first candidate for good)."""
        finite = (np.isfinite(path[:, steps]).all(axis=(1, 2)) & np.isfinite(truth[:, steps]).all(axis=(1, 2))
                  & np.isfinite(origin).all(axis=1))
        if not finite.all():
            origin, path, truth = origin[finite], path[finite], truth[finite]
        disp = path - origin[:, None]
        gains = self._gains[:, steps]  # (C, S)
        pred = origin[None, :, None] + gains[:, None, :, None] * disp[None, :, steps]
        self._accumulate(np.linalg.norm(pred - truth[None, :, steps], axis=-1).sum(axis=(1, 2)),
                         disp.shape[0] * len(steps))

    def add_outcome(self, origin: np.ndarray, path: np.ndarray, truth: np.ndarray) -> None:
        """Forecasts ``path`` (n, H, 2) made from ``origin`` (n, 2) whose realized positions ``truth`` are known."""
        self._score(np.arange(min(path.shape[1], self.horizon)), origin, path[:, :self.horizon], truth)

    def record(self, key: Hashable, stamp: float, origin: np.ndarray, path: np.ndarray) -> None:
        """A forecast for person ``key`` at ``stamp``; at most one per step is pending per person (bounded)."""
        path = np.asarray(path, dtype=np.float64)
        self._pending.add(key, stamp, (np.asarray(origin, dtype=np.float64), path), len(path))

    def observe(self, key: Hashable, stamp: float, position: np.ndarray) -> None:
        """Person ``key`` seen at ``position``: scores the pending forecasts' step that this time falls on."""
        self.observe_many([key], stamp, np.asarray(position, dtype=np.float64)[None])

    def observe_many(self, keys: Sequence[Hashable], stamp: float, positions: np.ndarray) -> None:
        """:meth:`observe` for everyone seen in one frame (``positions`` ``(n, 2)``), scored in one batch: a frame
        holds up to ``horizon`` pending forecasts per person, and scoring each alone cost more than the model's step."""
        due = self._pending.due(keys, stamp)
        if due:
            positions = np.asarray(positions, dtype=np.float64)
            self._score_points(np.array([step for _, step, _ in due]), np.array([p[0] for _, _, p in due]),
                               np.array([p[1][step] for _, step, p in due]), positions[[i for i, _, _ in due]])

    def _score_points(self, steps: np.ndarray, origin: np.ndarray, forecast: np.ndarray, truth: np.ndarray) -> None:
        """Errors of every candidate for single forecast points: step ``steps`` (m,) (0-based) of forecasts made from
        ``origin`` (m, 2) that said ``forecast`` (m, 2) where ``truth`` (m, 2) came true (non-finite rows skipped)."""
        finite = np.isfinite(origin).all(axis=1) & np.isfinite(forecast).all(axis=1) & np.isfinite(truth).all(axis=1)
        steps, origin, forecast, truth = steps[finite], origin[finite], forecast[finite], truth[finite]
        pred = origin[None] + self._gains[:, steps, None] * (forecast - origin)[None]  # (C, m, 2)
        self._accumulate(np.linalg.norm(pred - truth[None], axis=-1).sum(axis=1), len(steps))

    def _accumulate(self, errors: np.ndarray, points: int) -> None:
        """Adds the candidates' errors of ``points`` new scored steps, the older ones decayed by the half-life."""
        if self.half_life_points > 0:
            self._error *= 0.5 ** (points / self.half_life_points)
        self._error += errors
        self.points += points

    def forget_except(self, keys: set) -> None:
        """Drop pending forecasts of people no longer tracked."""
        self._pending.forget_except(keys)
