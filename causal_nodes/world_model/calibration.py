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

from collections.abc import Hashable

import numpy as np

DAMPING_CANDIDATES = (1.0, 0.99, 0.98, 0.97, 0.96, 0.95, 0.93, 0.9)
MIN_POINTS = 1000
"""Scored forecast steps (one person, one step ahead) before the calibration changes anything."""
STEP_TOLERANCE = 0.25
"""An observation counts for forecast step k when it comes within this fraction of dt of the step's time."""


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
                 min_points: int = MIN_POINTS) -> None:
        if horizon < 1 or dt <= 0:
            raise ValueError(f"horizon must be >= 1 and dt > 0, got {horizon}, {dt}")
        self.dt = dt
        self.candidates = np.asarray(candidates, dtype=np.float64)
        self.min_points = min_points
        self._gains = np.stack([damping_gains(d, horizon) for d in self.candidates])  # (C, H)
        self._error = np.zeros(len(self.candidates))
        self.points = 0
        self._pending: dict[Hashable, list[tuple[float, np.ndarray, np.ndarray]]] = {}

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
        """Errors of every candidate at forecast ``steps`` (0-based) of forecasts (n, H, 2) from ``origin`` (n, 2)."""
        disp = path - origin[:, None]
        gains = self._gains[:, steps]  # (C, S)
        pred = origin[None, :, None] + gains[:, None, :, None] * disp[None, :, steps]
        self._error += np.linalg.norm(pred - truth[None, :, steps], axis=-1).sum(axis=(1, 2))
        self.points += disp.shape[0] * len(steps)

    def add_outcome(self, origin: np.ndarray, path: np.ndarray, truth: np.ndarray) -> None:
        """Forecasts ``path`` (n, H, 2) made from ``origin`` (n, 2) whose realized positions ``truth`` are known."""
        self._score(np.arange(min(path.shape[1], self.horizon)), origin, path[:, :self.horizon], truth)

    def record(self, key: Hashable, stamp: float, origin: np.ndarray, path: np.ndarray) -> None:
        """A forecast for person ``key`` at ``stamp``; at most one per step is pending per person (bounded)."""
        pending = self._pending.setdefault(key, [])
        pending.append((stamp, np.asarray(origin, dtype=np.float64), np.asarray(path, dtype=np.float64)))
        del pending[:-self.horizon]

    def observe(self, key: Hashable, stamp: float, position: np.ndarray) -> None:
        """Person ``key`` seen at ``position``: scores the pending forecasts' step that this time falls on."""
        kept = []
        for t0, origin, path in self._pending.get(key, []):
            k = (stamp - t0) / self.dt
            step = int(round(k))
            if 1 <= step <= min(len(path), self.horizon) and abs(k - step) <= STEP_TOLERANCE:
                truth = np.zeros_like(path)
                truth[step - 1] = position
                self._score(np.array([step - 1]), origin[None], path[None], truth[None])
            if step < min(len(path), self.horizon):
                kept.append((t0, origin, path))
        if key in self._pending:
            self._pending[key] = kept

    def forget_except(self, keys: set) -> None:
        """Drop pending forecasts of people no longer tracked."""
        for key in [k for k in self._pending if k not in keys]:
            del self._pending[key]
