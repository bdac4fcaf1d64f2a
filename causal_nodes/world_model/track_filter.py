"""Person velocities that are not fooled by a jittery tracker (numpy only).

The world model extrapolates each person from their velocity (it predicts a residual on constant
velocity), so the velocity estimate sets the baseline of every forecast. A backward difference of two
positions is exact for a smooth track but doubles the tracker's position noise into the velocity: on
ETH/UCY's hand-clicked ``hotel`` scene a velocity averaged over 4 steps is 0.76 x constant velocity in ADE,
while on the spline-smoothed UCY scenes any averaging is worse (``benchmarks/results/cv_variants.md``). No
fixed filter serves both, so the filter here adapts to the tracker:

* :class:`TrackNoiseEstimator` measures the tracker's position noise and the people's acceleration from the
  second differences ``d2_t = p_t - 2 p_(t-1) + p_(t-2)`` of the tracks it sees. With white position noise of
  variance ``s2`` and white acceleration ``a`` applied over steps of ``dt``, ``var(d2) = var(a) dt^4 + 6 s2``
  and the covariance of neighbouring second differences is ``-4 s2`` (acceleration adds none), so both are
  identified from running sums: constant memory, no tuning, and it only looks at the past. Smooth (spline)
  tracks give ``s2 = 0``. A stream's steps are not always ``dt`` apart (a detector with a varying rate, stamp
  jitter, decimation of a rate that does not divide ``dt``), and a plain second difference of a clean track at
  alternating 0.4 / 0.5 s steps sees the velocity (``v (h_t - h_(t-1))``) and measured 5 cm of phantom noise; so
  each second difference is taken over its own spacings, ``p_t - (1 + r) p_(t-1) + r p_(t-2)`` with
  ``r = h_t / h_(t-1)`` (zero for any constant velocity), and its noise and acceleration coefficients enter the
  sums with it (they are 6, -4 and ``dt^4`` at even steps, so even steps give the same numbers as before).
* :class:`VelocityFilter` is the matching constant-velocity Kalman filter per person (velocity first, then
  position: ``v' = v + a dt``, ``p' = p + v' dt``). With zero position noise it returns the backward
  difference exactly, so a clean tracker keeps today's behaviour; with noise it smooths as much as the noise
  calls for and no more. With or without noise, a position further from the prediction than a walker gets
  (:data:`JUMP_M` plus 3 sd of the prediction) is another person (an id swap): the track starts over at zero
  velocity instead of taking one step of a 10 m/s "walker" that flings every forecast of that person metres away.

A tracker's noise can change (another detector, a change of light or range), so the estimate can forget
(``half_life``: second differences after which one weighs half; 0, the default, never forgets: one tracker).

The same filter serves the world-model node's stream (``WorldModelStream``) and the
ETH/UCY evaluation (:func:`filtered_velocities`, whole arrays), so the model sees the same inputs everywhere.
(Training still feeds backward differences; the shipped models were trained that way.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SECOND_DIFFERENCES = 200
"""Second differences (per axis) before an estimate replaces the default of no position noise."""
INITIAL_SPEED_SD = 2.0
"""m/s: prior spread of a new person's velocity (people walk at 0-2 m/s); the first step then decides it."""
MIN_ACCEL_SD = 1e-3
"""m/s^2: floor on the acceleration spread so a perfectly straight history never freezes the filter."""
JUMP_M = 1.0
"""m: a second difference or a filter innovation this large is no walker (6 m/s^2 at 0.4 s steps) but a track
switching people (an id swap, a detector without tracking): the track starts over instead of the estimate and
the filter absorbing it (one such jump would otherwise inflate the noise estimate for good)."""

MAX_SPACING_RATIO = 2.0
"""A step more than this many times longer or shorter than the one before it (a gap in the stream) gives no second
difference: the track's sums go on from its last two positions."""


@dataclass(frozen=True)
class TrackNoise:
    """Position noise of the tracker (m, standard deviation) and the people's acceleration spread (m/s^2)."""

    position_sd: float = 0.0
    accel_sd: float = 1.0

    @property
    def smooths(self) -> bool:
        """False when the filter is the plain backward difference (no position noise)."""
        return self.position_sd > 0.0


class TrackNoiseEstimator:
    """Running second-difference moments of tracks sampled every ``dt`` seconds; bounded memory.

    ``add_track`` takes a whole track (training, evaluation); ``add_point`` takes one new position of a person
    (the node's stream) and keeps the last three positions and second difference per person, dropping people not
    seen in a call to :meth:`forget_except`.
    """

    def __init__(self, dt: float, min_samples: int = MIN_SECOND_DIFFERENCES, half_life: float = 0.0) -> None:
        if dt <= 0:
            raise ValueError(f"dt must be > 0, got {dt}")
        if half_life and not half_life >= min_samples:
            raise ValueError(f"half_life must be 0 (never forget) or >= min_samples ({min_samples}), got {half_life}: "
                             "fewer would never hold enough second differences for an estimate")
        self.dt = dt
        self.min_samples = min_samples
        self.half_life = float(half_life)
        self._sum_sq = 0.0
        self._n_sq: float = 0
        self._sum_noise_coef = 0.0  # sum of var(d2) / s2 per sample: 6 at even steps
        self._sum_accel_coef = 0.0  # sum of (h / dt)^4 per sample: 1 at even steps
        self._sum_lag = 0.0
        self._n_lag: float = 0
        self._sum_lag_coef = 0.0  # sum of -cov(d2_t, d2_(t-1)) / s2 per sample: 4 at even steps
        # per person: the last <= 3 positions, the last second difference and its ratio of spacings, the last spacing
        self._recent: dict[object, tuple[list[np.ndarray], np.ndarray | None, float, float]] = {}

    @property
    def samples(self) -> int:
        """Second differences (per axis) the estimate rests on; with a half-life, their weight (older ones less)."""
        return int(round(self._n_sq))

    def _decay(self, count: int) -> None:
        """Older sums weigh ``0.5 ** (count / half_life)`` less before ``count`` new second differences join."""
        if not self.half_life:
            return
        keep = 0.5 ** (count / self.half_life)
        self._sum_sq *= keep
        self._n_sq *= keep
        self._sum_noise_coef *= keep
        self._sum_accel_coef *= keep
        self._sum_lag *= keep
        self._n_lag *= keep
        self._sum_lag_coef *= keep

    def _add(self, d2: np.ndarray, ratio: float, spacing: float, previous: np.ndarray | None,
             previous_ratio: float) -> None:
        """One second difference ``p_t - (1 + r) p_(t-1) + r p_(t-2)``, ``r`` = ``ratio`` of the spacings, the newer
        one ``spacing`` (in units of ``dt``); ``previous`` is the track's second difference one step before."""
        self._decay(d2.size)
        self._sum_sq += float(d2 @ d2)
        self._n_sq += d2.size
        self._sum_noise_coef += d2.size * (1.0 + (1.0 + ratio) ** 2 + ratio**2)
        self._sum_accel_coef += d2.size * spacing**4
        if previous is not None:
            self._sum_lag += float(d2 @ previous)
            self._n_lag += d2.size
            self._sum_lag_coef += d2.size * ((1.0 + ratio) + ratio * (1.0 + previous_ratio))

    def add_track(self, positions: np.ndarray) -> None:
        """A track of consecutive positions ``(T, 2)`` one ``dt`` apart (NaN rows split it)."""
        self.forget_except(set())
        for point in np.asarray(positions, dtype=np.float64):
            if np.isfinite(point).all():
                self.add_point(None, point)
            else:
                self.forget_except(set())

    def add_point(self, key: object, position: np.ndarray, dt: float | None = None) -> None:
        """One new position of person ``key``, ``dt`` (default: the estimator's ``dt``) after their previous one."""
        if dt is not None and not dt > 0:
            raise ValueError(f"dt must be > 0, got {dt}")
        spacing = 1.0 if dt is None else dt / self.dt
        points, last_d2, last_ratio, last_spacing = self._recent.get(key, ([], None, 1.0, 1.0))
        points = [*points[-2:], np.asarray(position, dtype=np.float64)]
        d2, ratio = None, 1.0
        if len(points) == 3 and not 1.0 / MAX_SPACING_RATIO <= spacing / last_spacing <= MAX_SPACING_RATIO:
            points = points[-2:]  # a gap: the noise of p_(t-1), p_(t-2) would weigh (h_t / h_(t-1))^2 times
        if len(points) == 3:
            ratio = spacing / last_spacing
            d2 = points[2] - (1.0 + ratio) * points[1] + ratio * points[0]
            if float(np.hypot(*d2)) > JUMP_M:  # not a walker: the track starts over at this point
                points, d2 = points[-1:], None
            else:
                self._add(d2, ratio, spacing, last_d2, last_ratio)
        self._recent[key] = (points, d2, ratio, spacing)

    def forget_except(self, keys: set) -> None:
        """Drop the recent positions of people no longer tracked (a gap breaks a track)."""
        for key in [k for k in self._recent if k not in keys]:
            del self._recent[key]

    def estimate(self) -> TrackNoise:
        """The current estimate; no position noise until ``min_samples`` second differences were seen."""
        if self._n_sq < self.min_samples or self._n_lag < self.min_samples:
            return TrackNoise()
        variance = self._sum_sq / self._n_sq
        position_var = max(-(self._sum_lag / self._n_lag) / (self._sum_lag_coef / self._n_lag), 0.0)
        noise_coef, accel_coef = self._sum_noise_coef / self._n_sq, self._sum_accel_coef / self._n_sq
        accel_var = max(variance - noise_coef * position_var, 0.0) / accel_coef / self.dt**4
        return TrackNoise(float(np.sqrt(position_var)), max(float(np.sqrt(accel_var)), MIN_ACCEL_SD))


def _transition(dt: float, accel_sd: float) -> tuple[np.ndarray, np.ndarray]:
    """State transition ``[p, v]`` and its noise for one step of ``dt`` (velocity first, then position)."""
    f = np.array([[1.0, dt], [0.0, 1.0]])
    g = np.array([dt * dt, dt])
    return f, (max(accel_sd, MIN_ACCEL_SD) ** 2) * np.outer(g, g)


class VelocityFilter:
    """Constant-velocity Kalman filters for a set of tracks, advanced together one step at a time.

    State per track: ``x`` ``(n, 2, 2)`` = [position, velocity] x [axis], ``cov`` ``(n, 2, 2)`` shared by both axes
    (they have the same noise). Tracks start and end between steps; a track's first position gives velocity 0.
    """

    def __init__(self, noise: TrackNoise) -> None:
        self.noise = noise
        self._x: dict[object, np.ndarray] = {}
        self._cov: dict[object, np.ndarray] = {}

    def step(self, keys: list, positions: np.ndarray, dt: float | None) -> np.ndarray:
        """Velocities ``(n, 2)`` (m/s) of ``keys`` at their new ``positions`` ``(n, 2)``, ``dt`` s after the last step.

        People not in ``keys`` are forgotten (a person who comes back starts afresh, as in the model's cache).
        """
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
        out = np.zeros_like(positions)
        r = self.noise.position_sd**2
        f, q = _transition(dt, self.noise.accel_sd) if dt else (None, None)
        x_new: dict[object, np.ndarray] = {}
        cov_new: dict[object, np.ndarray] = {}
        for i, key in enumerate(keys):
            z = positions[i]
            if key not in self._x or f is None:
                x_new[key] = np.stack([z, np.zeros(2)])
                cov_new[key] = np.diag([r, INITIAL_SPEED_SD**2])
                continue
            x = f @ self._x[key]
            cov = f @ self._cov[key] @ f.T + q
            if float(np.hypot(*(z - x[0]))) > JUMP_M + 3.0 * np.sqrt(cov[0, 0] + r):  # another person: start over
                x_new[key] = np.stack([z, np.zeros(2)])
                cov_new[key] = np.diag([r, INITIAL_SPEED_SD**2])
                continue
            if not self.noise.smooths:  # exact backward difference; the state stays ready for a noisy tracker
                x_new[key] = np.stack([z, (z - self._x[key][0]) / dt])
                cov_new[key] = np.zeros((2, 2))  # the past is exact: only the walk's acceleration is unknown
                out[i] = x_new[key][1]
                continue
            gain = cov[:, 0] / (cov[0, 0] + r)
            x = x + np.outer(gain, z - x[0])
            cov = cov - np.outer(gain, cov[0])
            x_new[key], cov_new[key] = x, cov
            out[i] = x[1]
        self._x, self._cov = x_new, cov_new
        return out


def filtered_velocities(positions: np.ndarray, present: np.ndarray, dt: float, noise: TrackNoise) -> np.ndarray:
    """Velocities ``(T, N, 2)`` of tracks ``(T, N, 2)`` (``present`` ``(T, N)``) filtered as the node's stream does.

    Zero on a track's first step; without position noise exactly the backward difference ``(p_t - p_(t-1)) / dt``.
    """
    vel = np.zeros_like(positions, dtype=np.float64)
    if not noise.smooths:  # VelocityFilter's exact path, vectorised over people (training's hot path)
        return _backward_differences(np.asarray(positions, dtype=np.float64), np.asarray(present, dtype=bool), dt,
                                     noise.accel_sd)
    tracks = VelocityFilter(noise)
    for t in range(positions.shape[0]):
        people = np.flatnonzero(present[t])
        vel[t, people] = tracks.step(list(people), positions[t, people], dt if t else None)
    return vel


def _backward_differences(positions: np.ndarray, present: np.ndarray, dt: float, accel_sd: float) -> np.ndarray:
    """``(p_t - p_(t-1)) / dt`` where a track goes on, zero where it starts or jumps: the numbers of
    :class:`VelocityFilter` without position noise, in one loop over time instead of one over people and time.

    The jump gate is the filter's: after a track's first step the prediction's sd is ``INITIAL_SPEED_SD dt``
    (plus the walk's), after an exact step only the walk's, ``accel_sd dt^2``."""
    vel = np.zeros_like(positions)
    if not len(positions):
        return vel
    walk_var = (max(accel_sd, MIN_ACCEL_SD) * dt * dt) ** 2
    fresh = present[0].copy()  # the track started at this step: its velocity is unknown
    for t in range(1, positions.shape[0]):
        both = present[t] & present[t - 1]
        gate = JUMP_M + 3.0 * np.sqrt(walk_var + np.where(fresh, (INITIAL_SPEED_SD * dt) ** 2, 0.0))
        step = np.where(both[:, None], positions[t] - positions[t - 1], 0.0)
        going = both & (np.hypot(*(step - vel[t - 1] * dt).T) <= gate)
        vel[t][going] = step[going] / dt
        fresh = present[t] & ~going
    return vel
