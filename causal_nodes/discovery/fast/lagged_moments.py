"""Lagged design rows and their second moments, the raw material of fast ParCorr.

Why this module exists: every ParCorr test that tigramite's PCMCI runs with
``tau_max`` is computed on the *same* reference time points
``t = 2*tau_max, ..., T-1`` (``cut_off='2xtau_max'``), and every variable in a
test is one *lagged column* ``x_var[t - lag]`` with ``0 <= lag <= 2*tau_max``
(MCI shifts the parents of the driver by the driver's lag, hence up to
``2*tau_max``). The partial correlation of such columns depends only on their
means and covariances over those reference points, so one ``d x d`` covariance
(``d = N * (2*tau_max + 1)``) answers every test.

Column layout used throughout: column ``lag * N + var`` holds ``x_var[t - lag]``.
Rows-as-columns arrays (``(d, n_ref)``) mirror tigramite's ``(dim, T)`` test
arrays so that exact fallbacks and constant checks see the same numbers.

Pure numpy/scipy, no ROS.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

#: Column kinds. ``KIND_ZERO``: tigramite's ``std == 0`` check removes the
#: column from a test (or answers val=0, p=1 if it is X or Y).
#: ``KIND_DEGENERATE``: all values are identical but numpy's population std is
#: a rounding residue (e.g. a sensor stuck at 1.7); tigramite then standardises
#: it to a ±1 column, so only an exact row-wise replay reproduces its numbers.
KIND_NORMAL, KIND_ZERO, KIND_DEGENERATE = 0, 1, 2

#: tigramite's RobustParCorr clamps uniform scores of exactly 0 or 1 to this.
_ROBUST_THRESHOLD = 1e-5


def n_lagged_columns(n_vars: int, tau_max: int) -> int:
    """Number of lagged columns needed for PCMCI with ``tau_max``."""
    return n_vars * (2 * tau_max + 1)


def column_index(var: int, lag: int, n_vars: int) -> int:
    """Column of ``x_var[t - lag]`` (``lag >= 0``) in the lagged layout."""
    return lag * n_vars + var


def node_column(node: tuple[int, int], n_vars: int) -> int:
    """Column of tigramite node ``(var, -lag)``."""
    return -node[1] * n_vars + node[0]


def check_data(data: np.ndarray) -> np.ndarray:
    """Return ``data`` as a C-contiguous float64 ``(T, N)`` array or raise ValueError."""
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise ValueError(f"data must be a 2-D (T, N) array, got shape {arr.shape}")
    if arr.shape[1] < 1:
        raise ValueError("data must have at least one variable (column)")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"data must be real numeric, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("data contains NaN or inf; the fast engine needs complete data")
    return arr


def lagged_rows(data: np.ndarray, tau_max: int) -> np.ndarray:
    """The ``(d, T - 2*tau_max)`` array of lagged columns, one per row.

    Row ``lag * N + var`` is ``data[2*tau_max - lag : T - lag, var]``, exactly the
    row tigramite's ``construct_array`` builds for node ``(var, -lag)``.
    """
    n_time, n_vars = data.shape
    max_lag = 2 * tau_max
    n_ref = n_time - max_lag
    if n_ref < 1:
        raise ValueError(f"need more than 2*tau_max={max_lag} samples, got T={n_time}")
    rows = np.empty((n_lagged_columns(n_vars, tau_max), n_ref))
    for lag in range(max_lag + 1):
        rows[lag * n_vars:(lag + 1) * n_vars] = data[max_lag - lag:n_time - lag].T
    return rows


def column_kinds(rows: np.ndarray) -> np.ndarray:
    """Classify each row as KIND_NORMAL / KIND_ZERO / KIND_DEGENERATE.

    Only rows whose values are all identical can have tigramite's
    ``array.std(axis=1) == 0``; for those the std is recomputed the same way
    (row reduction of a C-contiguous ``(k, n)`` array) to decide exactly.
    """
    kinds = np.zeros(rows.shape[0], dtype=np.int8)
    flat = np.flatnonzero((rows == rows[:, :1]).all(axis=1))
    if flat.size:
        std = np.ascontiguousarray(rows[flat]).std(axis=1)
        kinds[flat] = np.where(std == 0.0, KIND_ZERO, KIND_DEGENERATE)
    return kinds


def rank_gaussianize_rows(rows: np.ndarray) -> np.ndarray:
    """Empirical-CDF -> standard-normal transform of every row independently.

    Same transform RobustParCorr applies to each row of a test array; because
    it acts row by row, transforming each lagged column once is exact for all
    tests that share the reference points.
    """
    n = rows.shape[1]
    grid = np.linspace(1.0 / n, 1.0, n)
    uniform = np.empty_like(rows)
    for k in range(rows.shape[0]):
        uniform[k] = np.interp(rows[k], np.sort(rows[k]), grid)
    uniform[uniform == 0.0] = _ROBUST_THRESHOLD
    uniform[uniform == 1.0] = 1.0 - _ROBUST_THRESHOLD
    return stats.norm.ppf(uniform)


def covariance_of_rows(rows: np.ndarray) -> np.ndarray:
    """Population covariance (divide by n) of the rows, computed two-pass for accuracy."""
    centred = rows - rows.mean(axis=1, keepdims=True)
    return (centred @ centred.T) / rows.shape[1]


def correlation_from_covariance(cov: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """Correlation matrix; constant columns get a unit scale (they are never used)."""
    var = np.diag(cov).copy()
    bad = (kinds != KIND_NORMAL) | ~(var > 0.0)
    var[bad] = 1.0
    scale = 1.0 / np.sqrt(var)
    corr = cov * scale[:, None] * scale[None, :]
    np.fill_diagonal(corr, 1.0)
    return corr


class SlidingLaggedMoments:
    """Sliding-window sums of lagged vectors, updated in amortised O(d^2) per sample.

    Keeps the newest samples in a mirrored ring buffer (every run of
    ``capacity`` consecutive samples is one contiguous slice) and the sums
    ``S1 = sum v``, ``S2 = sum v v^T`` of the shifted lagged vectors
    ``v = lagged(x) - shift`` over the window's reference points. Shifting by a
    recent mean keeps ``S2/n - m m^T`` free of cancellation when signals sit far
    from zero.

    ``push`` only stores the sample; the sums are brought up to date in blocks
    (when ``block`` samples are pending, or when statistics are requested):
    the reference points that entered are added and those that left the
    window subtracted with one ``V^T V`` product each, i.e. O(d^2) work per
    sample with BLAS instead of Python overhead. The buffer holds
    ``window + block`` samples so the vectors of departed reference points
    are still available when the block is applied.

    Rounding from add/remove updates accumulates like a random walk, so once
    ``recompute_every`` samples have been pushed since the last exact rebuild
    (default: ``window``, i.e. once per full window turnover; 0 disables it)
    the next update rebuilds the sums exactly (two-pass) from the buffer and
    re-centres the shift.
    """

    def __init__(self, n_vars: int, window: int, tau_max: int,
                 recompute_every: int | None = None, block: int = 256) -> None:
        if n_vars < 1:
            raise ValueError(f"n_vars must be >= 1, got {n_vars}")
        if tau_max < 0:
            raise ValueError(f"tau_max must be >= 0, got {tau_max}")
        if window < 2 * tau_max + 2:
            raise ValueError(f"window={window} must be >= 2*tau_max + 2 = {2 * tau_max + 2}")
        if recompute_every is None:
            recompute_every = window
        if recompute_every < 0:
            raise ValueError("recompute_every must be >= 0 (0 disables the periodic recompute)")
        if block < 1:
            raise ValueError("block must be >= 1")
        self.n_vars = n_vars
        self.window = window
        self.tau_max = tau_max
        self.recompute_every = recompute_every
        self.block = block
        self.span = 2 * tau_max + 1
        self.dim = n_lagged_columns(n_vars, tau_max)
        self.capacity = window + block
        self._buf = np.zeros((2 * self.capacity, n_vars))
        self.pushed = 0          # samples ever pushed (global index of the next one)
        self._synced = 0         # samples already reflected in the sums
        self._last_rebuild = 0   # value of ``pushed`` at the last exact rebuild
        self._shift = np.zeros(n_vars)
        self._shift_vec = np.zeros(self.dim)
        # plain ndarray: numpy's stubs give np.zeros((d, d)) a 2-d shape type and ``rows @ rows.T`` a shape of
        # unknown rank in some releases (2.2, Python 3.10's newest), which mypy then rejects on the assignment below
        self._s1: np.ndarray = np.zeros(self.dim)
        self._s2: np.ndarray = np.zeros((self.dim, self.dim))

    @property
    def held(self) -> int:
        """Samples in the current window (``<= window``)."""
        return min(self.pushed, self.window)

    @property
    def n_ref(self) -> int:
        """Number of reference points (tests' sample size) in the current window."""
        return max(0, self.held - 2 * self.tau_max)

    # -- buffer ---------------------------------------------------------------
    def _slice(self, start: int, stop: int) -> np.ndarray:
        """Samples with global indices ``start..stop-1`` (a view; needs stop-start <= capacity)."""
        offset = start % self.capacity
        return self._buf[offset:offset + (stop - start)]

    def samples(self) -> np.ndarray:
        """Copy of the window's samples, oldest first, shape ``(held, N)``."""
        return self._slice(self.pushed - self.held, self.pushed).copy()

    def _lagged_block(self, first_ref: int, stop_ref: int) -> np.ndarray:
        """Shifted lagged vectors (rows) of reference samples ``first_ref..stop_ref-1``."""
        span = self.span
        samples = self._slice(first_ref - span + 1, stop_ref)
        windows = np.lib.stride_tricks.sliding_window_view(samples, span, axis=0)
        # windows[k, var, s] = x_var[first_ref + k - span + 1 + s]; lag = span - 1 - s.
        vectors = windows[:, :, ::-1].transpose(0, 2, 1).reshape(-1, self.dim)
        return vectors - self._shift_vec

    # -- updates --------------------------------------------------------------
    def push(self, sample: np.ndarray) -> None:
        """Append one sample; the oldest leaves the window once ``window`` are held."""
        x = np.asarray(sample, dtype=np.float64)
        if x.shape != (self.n_vars,):
            raise ValueError(f"sample must have shape ({self.n_vars},), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("sample contains NaN or inf")
        pos = self.pushed % self.capacity
        self._buf[pos] = x
        self._buf[pos + self.capacity] = x
        self.pushed += 1
        if self.pushed - self._synced >= self.block:
            self.sync()

    def _ref_range(self, n_pushed: int) -> range:
        """Global indices of the reference samples of the window after ``n_pushed`` pushes."""
        start = max(0, n_pushed - self.window)
        return range(start + 2 * self.tau_max, n_pushed)

    def sync(self) -> None:
        """Apply pending samples to the sums (or rebuild them exactly when due)."""
        if self._synced == self.pushed:
            return
        if self._last_rebuild == 0 and self.n_ref >= 1:
            self.recompute()  # first statistics: also sets the shift to the data's mean
            return
        if self.recompute_every and self.pushed - self._last_rebuild >= self.recompute_every:
            self.recompute()
            return
        old, new = self._ref_range(self._synced), self._ref_range(self.pushed)
        add_start = max(new.start, old.stop)
        if add_start < new.stop:
            added = self._lagged_block(add_start, new.stop)
            self._s1 += added.sum(axis=0)
            self._s2 += added.T @ added
        drop_stop = min(new.start, old.stop)
        if old.start < drop_stop:
            dropped = self._lagged_block(old.start, drop_stop)
            self._s1 -= dropped.sum(axis=0)
            self._s2 -= dropped.T @ dropped
        self._synced = self.pushed

    def recompute(self) -> None:
        """Rebuild the sums exactly from the window, re-centring the shift."""
        self._synced = self._last_rebuild = self.pushed
        data = self.samples()
        self._shift = data.mean(axis=0) if data.shape[0] else np.zeros(self.n_vars)
        self._shift_vec = np.tile(self._shift, self.span)
        if self.n_ref < 1:
            self._s1 = np.zeros(self.dim)
            self._s2 = np.zeros((self.dim, self.dim))
            return
        rows = lagged_rows(data, self.tau_max) - self._shift_vec[:, None]
        self._s1 = rows.sum(axis=1)
        self._s2 = rows @ rows.T

    # -- statistics -----------------------------------------------------------
    def covariance(self) -> np.ndarray:
        """Population covariance of the lagged columns over the window's reference points."""
        self.sync()
        n = self.n_ref
        if n < 1:
            raise ValueError(f"need more than 2*tau_max={2 * self.tau_max} samples, held {self.held}")
        mean = self._s1 / n
        return self._s2 / n - np.outer(mean, mean)
