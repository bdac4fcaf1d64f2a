"""Batched partial-correlation tests on lagged columns, numerically matching tigramite's ParCorr.

tigramite answers each test ``X _|_ Y | Z`` by standardising the rows of a
``(2+|Z|, n)`` array, regressing X and Y on Z by least squares and taking the
Pearson correlation of the residuals. With all columns standardised that is the
partial correlation from the correlation matrix ``R`` of ``[Z, X, Y]``: if
``L`` is the Cholesky factor of ``R[[Z, X, Y]]`` then with ``a = L[-1, -2]``,
``b = L[-1, -1]`` the partial correlation is ``a / hypot(a, b)``. Tests of equal
``|Z|`` are stacked and factorised in one batched call, so a whole PC round
costs a few numpy calls instead of one regression over ``n`` samples per test.

Exactness safeguards (why results equal least squares, not just approximate it):

* Columns whose tigramite ``std`` is exactly 0 are dropped from Z (and a test
  with such an X or Y returns val=0, p=1) -- tigramite's ``remove_constant_data``.
* A Gram/Cholesky pivot ``diag(L)^2`` is the share of a column's variance not
  explained by the columns before it. The Gram route loses about
  ``eps / pivot`` relative accuracy, so any test whose smallest pivot is below
  ``PIVOT_TOLERANCE`` (near-collinear or rank-deficient conditioning sets) is
  recomputed by an exact row-wise replay of tigramite's arithmetic
  (standardise twice in place, ``lstsq``, ``pearsonr``) -- the same answer as
  least squares by construction. The replay is also used for "degenerate"
  constant columns (all values equal, but numpy's std is a rounding residue).
* p-values use tigramite's analytic Student-t formula with
  ``dof = n - 2 - |Z_nonconstant|`` (NaN if dof < 1, 0 if ``|r| == 1``).

No ROS; numpy/scipy only.
"""
from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence

import numpy as np
from scipy import linalg, special, stats

from causal_nodes.discovery.fast import kernels
from causal_nodes.discovery.fast.lagged_moments import KIND_DEGENERATE, KIND_NORMAL, KIND_ZERO

#: Smallest accepted Cholesky pivot (relative residual variance). Below it the
#: test is replayed row-wise; at 1e-4 the Gram route's error stays ~1e-12.
PIVOT_TOLERANCE = 1e-4


def analytic_pvalues(vals: np.ndarray, dims: np.ndarray, n_samples: int) -> np.ndarray:
    """Two-sided Student-t p-values of correlations, as ParCorr's analytic significance."""
    vals = np.asarray(vals, dtype=np.float64)
    dof = n_samples - np.asarray(dims)
    pvals = np.full(vals.shape, np.nan)
    ok = dof >= 1
    exact_one = ok & (np.abs(np.abs(vals) - 1.0) <= sys.float_info.min)
    pvals[exact_one] = 0.0
    rest = ok & ~exact_one
    if np.any(rest):
        v = vals[rest]
        d = dof[rest].astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            t_val = v * np.sqrt(d / (1.0 - v * v))
        # == stats.t.sf(|t|, d) * 2 (scipy's t._sf is stdtr(d, -t)), minus the wrapper overhead
        pvals[rest] = special.stdtr(d, -np.abs(t_val)) * 2
    return pvals


def _standardize_in_place(array: np.ndarray) -> None:
    """tigramite's per-row standardisation (population std, constant rows left centred)."""
    array -= array.mean(axis=1).reshape(array.shape[0], 1)
    std = array.std(axis=1)
    for i in range(array.shape[0]):
        if std[i] != 0.0:
            array[i] /= std[i]


def _residual_of_row(array: np.ndarray, target: int) -> np.ndarray:
    """Standardise ``array`` in place, then least-squares residual of row ``target`` on rows 2.."""
    _standardize_in_place(array)
    y = array[target, :]
    if array.shape[0] > 2:
        z = array[2:, :].T.copy()
        beta = np.linalg.lstsq(z, y, rcond=None)[0]
        return y - np.dot(z, beta)
    return y


def rowwise_partial_correlation(array: np.ndarray) -> float:
    """Exact replay of ParCorr on a ``(2+|Z|, n)`` array (modified in place, like tigramite)."""
    x_res = _residual_of_row(array, 0)
    y_res = _residual_of_row(array, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        val = stats.pearsonr(x_res, y_res)[0]
    return float(val)


def _partial_from_gram(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Partial correlation of the last two of each stacked Gram matrix given the others.

    Returns the values and a mask of rows whose Cholesky pivots (residual
    variances, in correlation units) all reach ``PIVOT_TOLERANCE``; other rows
    must be replayed exactly.
    """
    m = gram.shape[1] - 2
    try:
        chol = np.linalg.cholesky(gram)
        good = np.ones(len(gram), dtype=bool)
    except np.linalg.LinAlgError:
        chol = np.zeros_like(gram)
        good = np.zeros(len(gram), dtype=bool)
        for row in range(len(gram)):
            try:
                chol[row] = np.linalg.cholesky(gram[row])
                good[row] = True
            except np.linalg.LinAlgError:
                pass
    pivots = np.einsum("bii->bi", chol) ** 2
    good &= pivots.min(axis=1) >= PIVOT_TOLERANCE
    a = chol[:, m + 1, m]
    b = chol[:, m + 1, m + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = a / np.hypot(a, b)
    return np.clip(r, -1.0, 1.0), good


class LaggedParCorr:
    """Answers batches of ParCorr tests on lagged columns.

    Parameters
    ----------
    rows:
        ``(d, n)`` lagged columns as rows (already rank-Gaussianised for the
        robust test); read for exact row-wise replays.
    corr:
        ``(d, d)`` correlation matrix of ``rows`` (entries of non-normal
        columns are ignored).
    kinds:
        Column kinds from :func:`causal_nodes.discovery.fast.lagged_moments.column_kinds`,
        computed on the *raw* (untransformed) columns as tigramite does.
    n_vars:
        Number of variables (column ``c`` is node ``(c % n_vars, -(c // n_vars))``).

    Replayed tests go through a cache with tigramite's key semantics (content
    of X and Y as an unordered pair, content of Z in node-label order), filled
    in the order the caller submits tests. For well-conditioned data that cache
    is invisible (results agree to rounding), but for degenerate constant
    columns the replayed values are rounding noise whose value depends on which
    orientation tigramite happened to compute first -- so the engine submits
    such tests in tigramite's order and reuses the first result the same way.
    """

    def __init__(self, rows: np.ndarray, corr: np.ndarray, kinds: np.ndarray,
                 n_vars: int) -> None:
        self.rows = rows
        self.corr = np.ascontiguousarray(corr)
        self.kinds = kinds
        self.n_vars = n_vars
        self.n_samples = rows.shape[1]
        self.has_special = bool(np.any(kinds != KIND_NORMAL))
        self.has_degenerate = bool(np.any(kinds == KIND_DEGENERATE))
        self.n_rowwise = 0  # how many tests needed the exact replay (diagnostics)
        self.n_tests = 0    # how many tests were answered (diagnostics)
        self._content_ids: np.ndarray | None = None
        self._cache: dict[tuple, tuple[float, float, bool]] = {}

    def _content_key(self, x: int, y: int, z: Sequence[int] | np.ndarray) -> tuple:
        """tigramite's CI-cache key: {content(X), content(Y)}, content(Z sorted by node label)."""
        if self._content_ids is None:
            seen: dict[bytes, int] = {}
            self._content_ids = np.array(
                [seen.setdefault(row.tobytes(), len(seen)) for row in self.rows], dtype=np.intp)
        ids = self._content_ids
        n_vars = self.n_vars
        z_by_label = sorted(z, key=lambda c: (c % n_vars, -(c // n_vars)))
        return (tuple(sorted((ids[x], ids[y]))), tuple(ids[c] for c in z_by_label))

    def _replay(self, x: int, y: int, z_all: Sequence[int] | np.ndarray) -> tuple[float, float, bool]:
        """Exact row-wise test (constant rows of Z dropped), through the content cache."""
        key = self._content_key(x, y, z_all)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        kinds = self.kinds
        if kinds[x] == KIND_ZERO or kinds[y] == KIND_ZERO:
            result = (0.0, 1.0, True)
        else:
            z = [c for c in z_all if kinds[c] != KIND_ZERO]
            self.n_rowwise += 1
            val = rowwise_partial_correlation(self.rows[[x, y, *z]].copy())
            pval = analytic_pvalues(np.array([val]), np.array([2 + len(z)]), self.n_samples)[0]
            result = (val, float(pval), False)
        self._cache[key] = result
        return result

    def test(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Values, p-values and "constant X/Y" flags of the tests ``idx[k] = [z.., x, y]``.

        All rows share ``m = |Z|``; Z must already exclude x, y and duplicates
        (in tigramite's order, which matters for the row-wise replay). Rows are
        taken to be in tigramite's test order: replays happen in row order. A
        flagged test (X or Y has std 0) has val=0, p=1 and counts as
        independent whatever the significance level, as in tigramite's ``run_test``.
        """
        vals, pvals, constant, bad = self._evaluate(idx)
        self._replay_rows(bad, vals, pvals, lambda row: (idx[row, -2], idx[row, -1], idx[row, :-2]))
        return vals, pvals, constant

    def _replay_rows(self, rows, vals: np.ndarray, pvals: np.ndarray, test_of) -> None:
        """Replay ill-conditioned tests in ascending (= tigramite's) order, in place."""
        for row in sorted(rows):
            x, y, z = test_of(row)
            vals[row], pvals[row], _ = self._replay(x, y, z)

    def _evaluate(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Like :meth:`test` but returns the ill-conditioned rows instead of replaying them."""
        idx = np.asarray(idx, dtype=np.intp)
        n_tests, width = idx.shape
        self.n_tests += n_tests
        m = width - 2
        vals = np.zeros(n_tests)
        pvals = np.zeros(n_tests)
        constant = np.zeros(n_tests, dtype=bool)
        special = np.zeros(n_tests, dtype=bool)
        if self.has_special:
            special = (self.kinds[idx] != KIND_NORMAL).any(axis=1)
            for row in np.flatnonzero(special):
                vals[row], pvals[row], constant[row] = self._replay(
                    idx[row, m], idx[row, m + 1], idx[row, :m])
        normal_rows = np.flatnonzero(~special)
        bad = normal_rows[:0]
        if normal_rows.size:
            sub = idx[normal_rows] if special.any() else idx
            r, good = self._batched(sub)
            vals[normal_rows] = r
            pvals[normal_rows] = analytic_pvalues(r, np.full(len(r), width), self.n_samples)
            bad = normal_rows[~good]
        return vals, pvals, constant, bad

    def test_lists(self, xs: Sequence[int], ys: Sequence[int],
                   zs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Like :meth:`test` for condition sets of mixed sizes (given in tigramite's order).

        Tests touching non-normal columns are answered first, in the given
        order; the rest are grouped by ``|Z|`` and batched; ill-conditioned
        ones are replayed last, again in the given order.
        """
        n_tests = len(xs)
        vals = np.zeros(n_tests)
        pvals = np.zeros(n_tests)
        constant = np.zeros(n_tests, dtype=bool)
        kinds = self.kinds
        groups: dict[int, list] = {}
        for k in range(n_tests):
            if self.has_special and (kinds[xs[k]] != KIND_NORMAL or kinds[ys[k]] != KIND_NORMAL
                                     or any(kinds[c] != KIND_NORMAL for c in zs[k])):
                self.n_tests += 1
                vals[k], pvals[k], constant[k] = self._replay(xs[k], ys[k], zs[k])
                continue
            groups.setdefault(len(zs[k]), []).append(k)
        bad: list = []
        for m, members in groups.items():
            idx = np.empty((len(members), m + 2), dtype=np.intp)
            if m:
                idx[:, :m] = [zs[k] for k in members]
            idx[:, m] = [xs[k] for k in members]
            idx[:, m + 1] = [ys[k] for k in members]
            sub_vals, sub_pvals, sub_constant, sub_bad = self._evaluate(idx)
            vals[members], pvals[members], constant[members] = sub_vals, sub_pvals, sub_constant
            bad.extend(members[row] for row in sub_bad)
        self._replay_rows(bad, vals, pvals, lambda k: (xs[k], ys[k], zs[k]))
        return vals, pvals, constant

    def _batched(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Partial correlations of the last two columns given the others, per row of ``idx``."""
        d = self.corr.shape[0]
        gram = np.take(self.corr.reshape(-1), (idx * d)[:, :, None] + idx[:, None, :])
        if idx.shape[1] == 2:
            r = gram[:, 0, 1]
            return np.clip(r, -1.0, 1.0), np.ones(len(r), dtype=bool)
        return _partial_from_gram(gram)

    def test_partialled(self, bases: Sequence[Sequence[int]], owners: np.ndarray,
                        xs: np.ndarray, ys: np.ndarray, extras: np.ndarray,
                        counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tests ``xs[k] _|_ ys[k] | bases[owners[k]] + extras[k, :counts[k]]``, sharing per-base work.

        Block Cholesky: conditioning on a shared base set B first turns the
        correlation matrix into the Schur complement ``S = R - W^T W`` with
        ``W = L_B^{-1} R[B, :]``; each test then only factorises
        ``S[[extras, x, y]]``. The pivots of that small factor are exactly the
        trailing pivots of the full ``[B, extras, x, y]`` factor, so the same
        tolerance / replay rule applies. X, Y and the extras must not be in
        their base set. Data with non-normal columns goes through
        :meth:`test_lists` (in the given order). Tests are
        taken to be in tigramite's order: ill-conditioned ones are replayed in
        that order, so a repeated test (e.g. both directions of a lag-0 pair
        share X/Y/Z) reuses the first replay exactly as tigramite's cache does.
        """
        owners = np.asarray(owners, dtype=np.intp)
        xs = np.asarray(xs, dtype=np.intp)
        ys = np.asarray(ys, dtype=np.intp)
        extras = np.asarray(extras, dtype=np.intp).reshape(len(xs), -1)
        counts = np.asarray(counts, dtype=np.intp)
        n_tests = len(xs)
        vals = np.zeros(n_tests)
        pvals = np.zeros(n_tests)
        constant = np.zeros(n_tests, dtype=bool)
        if n_tests == 0:
            return vals, pvals, constant

        def full_z(k: int) -> list:
            return list(bases[owners[k]]) + extras[k, :counts[k]].tolist()

        if self.has_special:
            return self.test_lists(xs.tolist(), ys.tolist(), [full_z(k) for k in range(n_tests)])
        if kernels.AVAILABLE:
            base_len = np.array([len(base_cols) for base_cols in bases], dtype=np.intp)
            base_pad = np.zeros((len(bases), max(1, int(base_len.max()))), dtype=np.intp)
            for b, base_cols in enumerate(bases):
                base_pad[b, :len(base_cols)] = base_cols
            cols, widths = kernels.assemble_tests(base_pad, base_len, owners, extras, counts, xs, ys)
            return self.test_columns(cols, widths, lambda k: (xs[k], ys[k], full_z(k)))
        real = np.arange(extras.shape[1])[None, :] < counts[:, None]
        used = np.unique(np.concatenate([extras[real], xs, ys]))
        position = np.full(self.corr.shape[0], -1, dtype=np.intp)
        position[used] = np.arange(len(used))
        corr_used = self.corr[np.ix_(used, used)]
        stack = np.empty((len(bases), len(used), len(used)))
        base_ok = np.ones(len(bases), dtype=bool)
        for b in np.unique(owners):
            base = np.asarray(bases[b], dtype=np.intp)
            if base.size == 0:
                stack[b] = corr_used
                continue
            try:
                chol = np.linalg.cholesky(self.corr[np.ix_(base, base)])
            except np.linalg.LinAlgError:
                base_ok[b] = False
                continue
            if np.min(np.diag(chol)) ** 2 < PIVOT_TOLERANCE:
                base_ok[b] = False
                continue
            w = linalg.solve_triangular(chol, self.corr[np.ix_(base, used)], lower=True,
                                        check_finite=False)
            stack[b] = corr_used - w.T @ w
        ok = base_ok[owners]
        self.n_tests += n_tests
        base_sizes = np.array([len(base) for base in bases], dtype=np.int64)
        # An ill-conditioned base makes every test on it ill-conditioned: replay them all.
        bad: list = np.flatnonzero(~ok).tolist()
        n_used = len(used)
        flat_stack = stack.reshape(-1)
        for m in np.unique(counts[ok]):
            members = np.flatnonzero(ok & (counts == m))
            local = np.empty((members.size, m + 2), dtype=np.intp)
            local[:, :m] = position[extras[members, :m]]
            local[:, m] = position[xs[members]]
            local[:, m + 1] = position[ys[members]]
            own = owners[members]
            # flat-index gather: stack[own, local_a, local_b] for all pairs a, b
            rows = (own * (n_used * n_used))[:, None] + local * n_used
            gram = np.take(flat_stack, rows[:, :, None] + local[:, None, :])
            r, good = _partial_from_gram(gram)
            vals[members] = r
            pvals[members] = analytic_pvalues(r, 2 + m + base_sizes[own], self.n_samples)
            bad.extend(members[~good].tolist())
        self._replay_rows(bad, vals, pvals, lambda k: (xs[k], ys[k], full_z(k)))
        return vals, pvals, constant

    def test_columns(self, cols: np.ndarray, widths: np.ndarray,
                     test_of=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tests ``cols[k, w-2] _|_ cols[k, w-1] | cols[k, :w-2]`` (``w = widths[k]``), in tigramite's order.

        Compiled per-test factorisations (:mod:`.kernels`) when available and the data has no constant
        columns; otherwise grouped by width through :meth:`test_lists`. ``test_of(k) -> (x, y, z)`` names the
        k-th test for replays (default: read from ``cols``).
        """
        cols = np.asarray(cols, dtype=np.intp)
        widths = np.asarray(widths, dtype=np.intp)
        if test_of is None:
            def test_of(k: int) -> tuple[int, int, list]:
                w = widths[k]
                return int(cols[k, w - 2]), int(cols[k, w - 1]), cols[k, :w - 2].tolist()
        n_tests = len(widths)
        if self.has_special or not kernels.AVAILABLE:
            specs = [test_of(k) for k in range(n_tests)]
            return self.test_lists([t[0] for t in specs], [t[1] for t in specs], [t[2] for t in specs])
        self.n_tests += n_tests
        vals, pvals, good = kernels.partial_correlations(self.corr, cols, widths, self.n_samples,
                                                         PIVOT_TOLERANCE)
        self._replay_rows(np.flatnonzero(~good), vals, pvals, test_of)
        return vals, pvals, np.zeros(n_tests, dtype=bool)

    def model_selection_score(self, y: int, z: Sequence[int]) -> float:
        """tigramite's AIC score ``n log(RSS) + 2 p`` of ``y`` regressed on ``z``.

        Replayed row-wise on the ``[y, y, Z]`` array (no constant removal), so
        the scores -- and hence the argmin over pc_alpha -- match bitwise.
        """
        array = self.rows[[y, y, *z]].copy()
        resid = _residual_of_row(array, 1)
        rss = (resid ** 2).sum()
        n_params = array.shape[0] - 1
        with np.errstate(divide="ignore"):
            return float(self.n_samples * np.log(rss) + 2.0 * n_params)
