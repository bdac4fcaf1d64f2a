"""Compiled (numba) kernels for the fast engine: per-test Cholesky from the correlation matrix, and PC1.

Why: a ParCorr test from the moment matrix is a ``(|Z|+2)``-sized Cholesky factorisation -- a few hundred
floating-point operations. Batched numpy/LAPACK calls spend far more than that on gathering submatrices and
per-call overhead, and PC1's bookkeeping (which test comes next depends on the previous result) costs numpy
calls per condition dimension. These kernels do the factorisations straight from ``corr`` with no temporary
submatrices, and run tigramite's PC1 loop (``_run_pc_stable_single``) for all searches in compiled code.

Exactness rules are the engine's (see :mod:`causal_nodes.discovery.fast.parcorr`): a test whose smallest
Cholesky pivot is below the pivot tolerance is *not* answered here but flagged, and the caller replays it
row-wise (tigramite's arithmetic); p-values come from the same ``stdtr`` that scipy's ``t.sf`` calls (its
Cython export, bitwise equal to ``scipy.special.stdtr``).

numba is optional: :data:`AVAILABLE` is False when it (or scipy's Cython export) cannot be loaded, or when the
environment variable ``CAUSAL_NODES_FAST_NUMBA=0`` switches the kernels off; callers then use the numpy path,
which gives the same results (tested).
"""
from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

AVAILABLE = False
_REASON = "numba kernels switched off (CAUSAL_NODES_FAST_NUMBA=0)"

#: Search status codes returned by :func:`pc1_searches`.
PC1_OK, PC1_ILL_CONDITIONED = 0, 1


def _identity(*args: Any, **kwargs: Any):
    """Stand-in for ``numba.njit`` when numba is missing: leaves the function as plain Python."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda func: func


njit: Any = _identity
_stdtr: Any = None
_STDTR_SIGNATURE = b"double (double, double, int __pyx_skip_dispatch)"


def _scipy_stdtr_address() -> int:
    """Address of scipy's float64 ``stdtr`` Cython export. Its name depends on the scipy release: fused over
    float32/float64 (``__pyx_fuse_0stdtr``) in 1.17 and 1.18, plain ``stdtr`` in 1.15, the newest release for
    Python 3.10 (Humble's); the capsule's signature tells that the function is the float64 one."""
    import ctypes

    from numba.extending import get_cython_function_address
    from scipy.special import cython_special

    capsule_name = ctypes.pythonapi.PyCapsule_GetName
    capsule_name.restype, capsule_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    exports = cython_special.__pyx_capi__
    for name in ("__pyx_fuse_0stdtr", "stdtr"):
        if name in exports and capsule_name(exports[name]) == _STDTR_SIGNATURE:
            return get_cython_function_address("scipy.special.cython_special", name)
    raise LookupError(f"scipy.special.cython_special exports no {_STDTR_SIGNATURE.decode()} stdtr")


if os.environ.get("CAUSAL_NODES_FAST_NUMBA", "1") != "0":
    try:
        import llvmlite.binding
        import numba

        # double stdtr(double df, double t, int skip_dispatch): scipy.special.stdtr for float64 arguments,
        # linked by symbol name so that compiled kernels can be cached on disk.
        llvmlite.binding.add_symbol("causal_nodes_scipy_stdtr", _scipy_stdtr_address())
        _stdtr = numba.types.ExternalFunction(
            "causal_nodes_scipy_stdtr", numba.types.float64(numba.types.float64, numba.types.float64,
                                                             numba.types.intc))
        njit = numba.njit
        AVAILABLE = True
        _REASON = ""
    except Exception as error:  # pragma: no cover - depends on the installation
        _REASON = f"numba kernels unavailable ({type(error).__name__}: {error})"


def unavailable_reason() -> str:
    """Empty when the kernels are in use, else why the numpy path runs."""
    return _REASON


@njit(cache=True, nogil=True)
def _two_sided_p(r: float, dof: int) -> float:
    """ParCorr's analytic p-value of a correlation ``r`` with ``dof`` degrees of freedom (NaN if dof < 1)."""
    if dof < 1:
        return np.nan
    if abs(abs(r) - 1.0) <= 2.2250738585072014e-308:
        return 0.0
    t = r * np.sqrt(dof / (1.0 - r * r))
    return _stdtr(float(dof), -abs(t), 0) * 2.0


@njit(cache=True, nogil=True)
def _cholesky_rows(corr: np.ndarray, cols: np.ndarray, size: int, work: np.ndarray) -> float:
    """Cholesky factor of ``corr[cols[:size], cols[:size]]`` into ``work``, row by row; returns the smallest
    pivot (the share of a column's variance the columns before it leave unexplained), 0 if not positive
    definite."""
    min_pivot = np.inf
    for a in range(size):
        ca = cols[a]
        for b in range(a + 1):
            s = corr[ca, cols[b]]
            for k in range(b):
                s -= work[a, k] * work[b, k]
            if a == b:
                if not s > 0.0:
                    return 0.0
                if s < min_pivot:
                    min_pivot = s
                work[a, a] = np.sqrt(s)
            else:
                work[a, b] = s / work[b, b]
    return min_pivot


@njit(cache=True, nogil=True)
def _partial_from_corr(corr: np.ndarray, cols: np.ndarray, width: int, work: np.ndarray) -> tuple[float, float]:
    """Partial correlation of ``cols[width-2]`` and ``cols[width-1]`` given ``cols[:width-2]``, and the smallest
    Cholesky pivot of ``corr[cols, cols]`` (0 when the matrix is not positive definite)."""
    min_pivot = _cholesky_rows(corr, cols, width, work)
    if not min_pivot > 0.0:
        return 0.0, 0.0
    x_part = work[width - 1, width - 2]
    y_part = work[width - 1, width - 1]
    r = x_part / np.hypot(x_part, y_part)
    return min(1.0, max(-1.0, r)), min_pivot


@njit(cache=True, nogil=True)
def _factor_prefix(corr: np.ndarray, cols: np.ndarray, size: int, y_col: int, zwork: np.ndarray,
                   yrow: np.ndarray) -> float:
    """Cholesky rows of ``corr[cols[:size], cols[:size]]`` (into ``zwork``) and the first ``size`` entries of
    ``y_col``'s row (into ``yrow``): the part of :func:`_partial_from_corr`'s factor that every test with
    conditions ``cols[:size]`` and target ``y_col`` shares. Returns the smallest pivot (0: not positive
    definite)."""
    min_pivot = _cholesky_rows(corr, cols, size, zwork)
    if not min_pivot > 0.0:
        return 0.0
    for b in range(size):
        s = corr[y_col, cols[b]]
        for k in range(b):
            s -= yrow[k] * zwork[b, k]
        yrow[b] = s / zwork[b, b]
    return min_pivot


@njit(cache=True, nogil=True)
def _partial_given_prefix(corr: np.ndarray, cols: np.ndarray, size: int, x_col: int, y_col: int,
                          zwork: np.ndarray, yrow: np.ndarray, xrow: np.ndarray) -> tuple[float, float]:
    """:func:`_partial_from_corr` of ``[cols[:size], x_col, y_col]`` finished from :func:`_factor_prefix`'s
    shared rows -- the same operations in the same order, so bitwise the same value; the returned pivot covers
    X and Y only (the prefix's is known)."""
    for b in range(size):
        s = corr[x_col, cols[b]]
        for k in range(b):
            s -= xrow[k] * zwork[b, k]
        xrow[b] = s / zwork[b, b]
    s = corr[x_col, x_col]
    for k in range(size):
        s -= xrow[k] * xrow[k]
    if not s > 0.0:
        return 0.0, 0.0
    x_pivot = s
    x_diag = np.sqrt(s)
    s = corr[y_col, x_col]
    for k in range(size):
        s -= yrow[k] * xrow[k]
    x_part = s / x_diag
    s = corr[y_col, y_col]
    for k in range(size):
        s -= yrow[k] * yrow[k]
    s -= x_part * x_part
    if not s > 0.0:
        return 0.0, 0.0
    y_part = np.sqrt(s)
    r = x_part / np.hypot(x_part, y_part)
    return min(1.0, max(-1.0, r)), min(x_pivot, s)


@njit(cache=True, nogil=True)
def partial_correlations(corr: np.ndarray, cols: np.ndarray, widths: np.ndarray, n_samples: int,
                         pivot_tolerance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tests ``cols[k, w-2] _|_ cols[k, w-1] | cols[k, :w-2]`` with ``w = widths[k]``.

    Returns values, p-values and a mask of well-conditioned tests; the others (smallest pivot below
    ``pivot_tolerance``) carry no answer and must be replayed.
    """
    n_tests = cols.shape[0]
    vals = np.zeros(n_tests)
    pvals = np.ones(n_tests)
    good = np.zeros(n_tests, dtype=np.bool_)
    work = np.empty((cols.shape[1], cols.shape[1]))
    for k in range(n_tests):
        width = widths[k]
        r, min_pivot = _partial_from_corr(corr, cols[k], width, work)
        if min_pivot >= pivot_tolerance:
            good[k] = True
            vals[k] = r
            pvals[k] = _two_sided_p(r, n_samples - width)
    return vals, pvals, good


@njit(cache=True, nogil=True)
def _next_combination(comb: np.ndarray, size: int, n_items: int) -> bool:
    """Advance ``comb[:size]`` to the next lexicographic combination of ``range(n_items)``; False when done."""
    pos = size - 1
    while pos >= 0 and comb[pos] == n_items - size + pos:
        pos -= 1
    if pos < 0:
        return False
    comb[pos] += 1
    for q in range(pos + 1, size):
        comb[q] = comb[q - 1] + 1
    return True


@njit(cache=True, nogil=True)
def pc1_searches(corr: np.ndarray, cand: np.ndarray, n_cand: np.ndarray, forced: np.ndarray, target: np.ndarray,
                 alpha: np.ndarray, max_conds_dim: int, max_combinations: int, n_samples: int,
                 pivot_tolerance: float, need_pvalues: bool, r_clear: np.ndarray) -> tuple[np.ndarray, ...]:
    """tigramite's ``_run_pc_stable_single`` for every search (row), in tigramite's order of tests.

    Row ``s``: candidate parents ``cand[s, :n_cand[s]]`` (lagged columns, link-assumption order), forced
    (``-->``) flags, target column and ``pc_alpha``. Per condition dimension every parent of the current list is
    tested given the first ``max_combinations`` lexicographic subsets of the other parents until one test is
    independent (``p > alpha``); non-significant parents leave after the dimension and the rest are re-sorted by
    their minimum |val| (descending, ties in candidate order).

    Without ``need_pvalues`` a test's decision comes from its |val| where that is clear: dependent if
    ``|val| >= r_clear[s, conds_dim, 1]``, independent if ``|val| <= r_clear[s, conds_dim, 0]`` (thresholds a
    relative 1e-6 either side of the critical value, see :func:`clear_decision_thresholds`), the exact p-value
    otherwise -- the same decisions, without a ``stdtr`` call per test; ``pval_max`` is then not filled.

    Returns ``order`` (current list as candidate indices, first ``n_par[s]`` valid), ``n_par``, ``val_min``,
    ``pval_max`` and ``val_of_pmax`` per candidate (tigramite's ``val_min``, ``pval_max`` and ``val_dict``; NaN
    where never tested), a status per search (:data:`PC1_ILL_CONDITIONED`: a test needed the row-wise replay,
    so that search must be rerun by the numpy path) and the number of tests computed per search.
    """
    n_search, width = cand.shape
    order = np.empty((n_search, width), dtype=np.intp)
    n_par = np.zeros(n_search, dtype=np.intp)
    val_min = np.full((n_search, width), np.inf)
    pval_max = np.full((n_search, width), np.nan)
    val_of_pmax = np.full((n_search, width), np.nan)
    status = np.zeros(n_search, dtype=np.intp)
    n_tests = np.zeros(n_search, dtype=np.intp)
    cols = np.empty(max(width, 1) + 2, dtype=np.intp)
    work = np.empty((cols.size, cols.size))
    zcols = np.empty(cols.size, dtype=np.intp)  # the shared conditions of a dimension: the first parents
    zwork = np.empty((cols.size, cols.size))
    yrow = np.empty(cols.size)
    xrow = np.empty(cols.size)
    comb = np.empty(max(width, 1), dtype=np.intp)
    parents = np.empty(max(width, 1), dtype=np.intp)
    nonsig = np.zeros(max(width, 1), dtype=np.bool_)
    tested = np.zeros(max(width, 1), dtype=np.bool_)
    for s in range(n_search):
        count = n_cand[s]
        for a in range(count):
            parents[a] = a
            tested[a] = False
        for conds_dim in range(max_conds_dim + 1):
            if count - 1 < conds_dim or status[s] != PC1_OK:
                break
            for a in range(count):
                nonsig[a] = False
            prefix_pivot = -1.0  # not factorised yet for this dimension
            for a in range(count):
                c = parents[a]
                for q in range(conds_dim):
                    comb[q] = q
                for comb_index in range(max_combinations):
                    if comb_index > 0 and not _next_combination(comb, conds_dim, count - 1):
                        break
                    val, pval, min_pivot = 1.0, 0.0, np.inf
                    if forced[s, c]:
                        pass  # assumed present: val 1, p 0, never tested
                    elif comb_index == 0 and a >= conds_dim:
                        # Conditions = the first conds_dim parents, as for every later parent: reuse their factor.
                        if prefix_pivot < 0.0:
                            for q in range(conds_dim):
                                zcols[q] = cand[s, parents[q]]
                            prefix_pivot = _factor_prefix(corr, zcols, conds_dim, target[s], zwork, yrow)
                        val, min_pivot = 0.0, 0.0
                        if prefix_pivot > 0.0:
                            val, min_pivot = _partial_given_prefix(corr, zcols, conds_dim, cand[s, c], target[s],
                                                                   zwork, yrow, xrow)
                            min_pivot = min(min_pivot, prefix_pivot)
                        n_tests[s] += 1
                    else:
                        for q in range(conds_dim):
                            pos = comb[q] if comb[q] < a else comb[q] + 1
                            cols[q] = cand[s, parents[pos]]
                        cols[conds_dim] = cand[s, c]
                        cols[conds_dim + 1] = target[s]
                        val, min_pivot = _partial_from_corr(corr, cols, conds_dim + 2, work)
                        n_tests[s] += 1
                    dependent = True
                    if not forced[s, c]:
                        if min_pivot < pivot_tolerance:
                            status[s] = PC1_ILL_CONDITIONED
                            break
                        size = abs(val)
                        if need_pvalues or r_clear[s, conds_dim, 0] < size < r_clear[s, conds_dim, 1]:
                            pval = _two_sided_p(val, n_samples - conds_dim - 2)
                            dependent = pval <= alpha[s]
                        else:
                            dependent = size >= r_clear[s, conds_dim, 1]
                    if abs(val) < val_min[s, c]:
                        val_min[s, c] = abs(val)
                    if need_pvalues and (not tested[c] or pval > pval_max[s, c]):
                        pval_max[s, c] = pval
                        val_of_pmax[s, c] = val
                        tested[c] = True
                    if not dependent:
                        nonsig[a] = True
                        break
                if status[s] != PC1_OK:
                    break
            if status[s] != PC1_OK:
                break
            # Drop the non-significant parents, then stable insertion sort by (-val_min, candidate index).
            kept = 0
            for a in range(count):
                if not nonsig[a]:
                    parents[kept] = parents[a]
                    kept += 1
            count = kept
            for a in range(1, count):
                c = parents[a]
                b = a - 1
                while b >= 0 and (val_min[s, parents[b]] < val_min[s, c]
                                  or (val_min[s, parents[b]] == val_min[s, c] and parents[b] > c)):
                    parents[b + 1] = parents[b]
                    b -= 1
                parents[b + 1] = c
        n_par[s] = count
        for a in range(count):
            order[s, a] = parents[a]
    return order, n_par, val_min, pval_max, val_of_pmax, status, n_tests


@njit(cache=True, nogil=True)
def assemble_tests(bases: np.ndarray, base_len: np.ndarray, owners: np.ndarray, extras: np.ndarray,
                   counts: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                   extras_first: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``[base[owner], extras[:count], x, y]`` (``extras_first``: extras before the base), left-aligned,
    and their widths, for :func:`partial_correlations`."""
    n_tests = xs.size
    width = bases.shape[1] + extras.shape[1] + 2
    cols = np.zeros((n_tests, width), dtype=np.intp)
    widths = np.empty(n_tests, dtype=np.intp)
    for k in range(n_tests):
        b = owners[k]
        pos = 0
        if extras_first:
            for q in range(counts[k]):
                cols[k, pos] = extras[k, q]
                pos += 1
        for q in range(base_len[b]):
            cols[k, pos] = bases[b, q]
            pos += 1
        if not extras_first:
            for q in range(counts[k]):
                cols[k, pos] = extras[k, q]
                pos += 1
        cols[k, pos] = xs[k]
        cols[k, pos + 1] = ys[k]
        widths[k] = pos + 2
    return cols, widths


def clear_decision_thresholds(alphas: np.ndarray, max_conds_dim: int, n_samples: int) -> np.ndarray:
    """``[s, k, :]`` = |val| at or below which a PC1 test with k conditions is surely independent at
    ``alphas[s]``, and at or above which it is surely dependent (ParCorr's analytic p-value ``p <= alpha``).

    The critical |val| is a relative 1e-6 inside the band, far beyond the rounding of ``stdtr`` and of the
    values themselves, so a value outside the band gets the decision its exact p-value would give. Where no
    such band exists (dof < 1, alpha outside (0, 1)) the band is everything: the exact p-value decides.
    """
    return np.stack([_thresholds(float(alpha), max_conds_dim, n_samples) for alpha in alphas])


@functools.lru_cache(maxsize=256)
def _thresholds(alpha: float, max_conds_dim: int, n_samples: int) -> np.ndarray:
    from scipy import special

    dof = (n_samples - 2 - np.arange(max_conds_dim + 1)).astype(np.float64)
    out = np.empty((len(dof), 2))
    out[:, 0], out[:, 1] = -1.0, 2.0
    if 0.0 < alpha < 1.0:
        ok = np.flatnonzero(dof >= 1)
        with np.errstate(all="ignore"):
            t_crit = -special.stdtrit(dof[ok], alpha / 2.0)
            r_crit = t_crit / np.sqrt(dof[ok] + t_crit * t_crit)
        good = np.isfinite(r_crit) & (r_crit > 0) & (r_crit < 1)
        out[ok[good], 0] = r_crit[good] * (1.0 - 1e-6)
        out[ok[good], 1] = r_crit[good] * (1.0 + 1e-6)
    out.setflags(write=False)
    return out


def warm_up() -> float:
    """Compile (first use on a machine: seconds) or load from the on-disk cache every kernel, on a tiny problem,
    so that the first real run is not delayed. Returns the seconds it took (0 without numba)."""
    if not AVAILABLE:
        return 0.0
    import time

    started = time.perf_counter()
    corr = np.eye(3)
    cols = np.array([[0, 1, 2]], dtype=np.intp)
    partial_correlations(corr, cols, np.array([3], dtype=np.intp), 50, 1e-4)
    assemble_tests(cols, np.array([1], dtype=np.intp), np.zeros(1, dtype=np.intp), cols, np.array([1], dtype=np.intp),
                   np.array([1], dtype=np.intp), np.array([2], dtype=np.intp), True)
    cand = np.array([[1, 2]], dtype=np.intp)
    pc1_searches(corr, cand, np.array([2], dtype=np.intp), np.zeros((1, 2), dtype=np.bool_),
                 np.zeros(1, dtype=np.intp), np.array([0.2]), 2, 1, 50, 1e-4, False,
                 clear_decision_thresholds(np.array([0.2]), 2, 50))
    return time.perf_counter() - started
