"""Exact, fast PCMCI with ParCorr / RobustParCorr, batch and sliding-window streaming.

Why: tigramite re-runs PCMCI from scratch for every window and performs one
least-squares regression over all samples per conditional-independence test.
ParCorr only needs second moments, so this engine computes the covariance of the
lagged design once (or maintains it incrementally, :class:`StreamingPCMCI`) and
answers every test with a small batched Cholesky factorisation
(:mod:`causal_nodes.discovery.fast.parcorr`).

It reproduces ``PCMCI(dataframe=DataFrame(data), cond_ind_test=ParCorr(
significance='analytic') | RobustParCorr(significance='analytic'),
verbosity=0).run_pcmci(...)``: the PC1 phase (condition order, stable removal
per iteration, ``max_combinations``, ``pc_alpha`` lists / ``None`` with AIC
selection), the MCI phase (``max_conds_py``/``max_conds_px``, lag-0 links,
symmetrisation), link assumptions, ``fdr_method='fdr_bh'`` and the graph
strings from ``p_matrix <= alpha_level``. Exactness guards (constant columns,
near-singular conditioning sets -> row-wise least-squares replay) are documented
in :mod:`causal_nodes.discovery.fast.parcorr`.

``method='pcmciplus'`` reproduces ``run_pcmciplus(...)`` the same way
(:mod:`causal_nodes.discovery.fast.pcmciplus`), with tigramite's defaults
(``pc_alpha=0.01``, majority collider rule, conflict resolution).

Use :func:`unsupported_reason` first; when it returns a string, hand over to
tigramite and log the reason. No ROS; numpy/scipy at runtime (numba, when
installed, compiles the test kernels: :mod:`causal_nodes.discovery.fast.kernels`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from causal_nodes.discovery.fast.lagged_moments import (
    SlidingLaggedMoments,
    check_data,
    column_kinds,
    correlation_from_covariance,
    covariance_of_rows,
    lagged_rows,
    rank_gaussianize_rows,
)
from causal_nodes.discovery.fast.link_assumptions import (
    LinkAssumptions,
    default_link_assumptions,
    normalize_link_assumptions,
)
from causal_nodes.discovery.fast.mci import default_mci_candidates, mci_candidates, run_mci
from causal_nodes.discovery.fast.parcorr import LaggedParCorr
from causal_nodes.discovery.fast.pc1 import PCCandidates, default_pc_candidates, run_pc_stable
from causal_nodes.discovery.fast.pcmciplus import PlusOptions, run_pcmciplus

__all__ = ["unsupported_reason", "run_fast", "run_fast_with_diagnostics", "StreamingPCMCI",
           "SUPPORTED_METHODS", "SUPPORTED_TESTS"]

SUPPORTED_METHODS = ("pcmci", "pcmciplus")
SUPPORTED_TESTS = ("parcorr", "robust_parcorr")
#: Run options and their defaults per method: tigramite's ``run_pcmci`` / ``run_pcmciplus`` defaults
#: (``tau_max`` aside, which has no sensible default).
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "pcmci": dict(tau_min=0, tau_max=1, pc_alpha=0.2, alpha_level=0.05, max_conds_dim=None, max_combinations=1,
                  fdr_method="none", link_assumptions=None, max_conds_py=None, max_conds_px=None),
    "pcmciplus": dict(tau_min=0, tau_max=1, pc_alpha=0.01, contemp_collider_rule="majority",
                      conflict_resolution=True, reset_lagged_links=False, max_conds_dim=None, max_combinations=1,
                      max_conds_py=None, max_conds_px=None, max_conds_px_lagged=None, fdr_method="none",
                      link_assumptions=None),
}
Node = tuple[int, int]


def unsupported_reason(*, method: str, test: str, **options: Any) -> str | None:
    """None if :func:`run_fast` reproduces tigramite exactly for these options, else why not.

    Besides the run options of the method (:data:`DEFAULT_OPTIONS`), ``significance`` (only
    ``'analytic'``), ``mask``/``missing_flag`` (must be None) and
    ``save_iterations``/``verbosity``/``var_names`` (no effect on results) are
    understood; anything else is
    reported as unsupported rather than silently ignored.
    """
    method_l = str(method).lower()
    test_l = str(test).lower()
    if method_l not in SUPPORTED_METHODS:
        return (f"method {method!r} is not implemented by the fast engine "
                f"(supported: {', '.join(SUPPORTED_METHODS)})")
    if test_l not in SUPPORTED_TESTS:
        return (f"independence test {test!r} is not moment-based "
                f"(fast engine supports {', '.join(SUPPORTED_TESTS)})")
    for key, value in options.items():
        if key in DEFAULT_OPTIONS[method_l] or key in ("save_iterations", "verbosity", "var_names"):
            continue
        if key == "significance":
            if value != "analytic":
                return f"significance={value!r}: only 'analytic' p-values are computed exactly"
            continue
        if key in ("mask", "missing_flag", "selected_links"):
            if value is not None:
                return f"{key} is not supported by the fast engine (complete, unmasked data only)"
            continue
        return f"option {key!r} is not an option of {method_l} (or not supported by the fast engine)"
    fdr = options.get("fdr_method", "none")
    if fdr not in (None, "none", "fdr_bh"):
        return f"fdr_method={fdr!r} is not implemented (tigramite only has 'fdr_bh')"
    if options.get("max_combinations", 1) is None:
        return "max_combinations=None is not valid for PCMCI"
    return None


# ----------------------------------------------------------------------------
# Conditional-independence oracle construction
# ----------------------------------------------------------------------------
def _oracle_from_rows(raw_rows: np.ndarray, test: str, n_vars: int,
                      cov: np.ndarray | None = None) -> LaggedParCorr:
    """Build the test oracle; ``cov`` (of the raw rows) may come from streaming sums."""
    kinds = column_kinds(raw_rows)
    if test == "robust_parcorr":
        rows = rank_gaussianize_rows(raw_rows)
        cov = covariance_of_rows(rows)
    else:
        rows = raw_rows
        if cov is None:
            cov = covariance_of_rows(rows)
    return LaggedParCorr(rows, correlation_from_covariance(cov, kinds), kinds, n_vars)


def _check_taus(tau_min: int, tau_max: int) -> None:
    if not 0 <= tau_min <= tau_max:
        raise ValueError(f"tau_max = {tau_max}, tau_min = {tau_min}, but 0 <= tau_min <= tau_max")


def _pcmci_on_oracle(oracle: LaggedParCorr, n_vars: int, *, tau_min: int, tau_max: int,
                     pc_alpha: Any, alpha_level: float, max_conds_dim: int | None,
                     max_combinations: int, fdr_method: str | None,
                     link_assumptions: LinkAssumptions | None,
                     max_conds_py: int | None, max_conds_px: int | None) -> dict[str, Any]:
    _check_taus(tau_min, tau_max)
    pc_tau_min = max(1, tau_min)
    if link_assumptions is None:  # cached, shared (read-only) defaults
        pc_candidates = default_pc_candidates(n_vars, pc_tau_min, tau_max)
        mci_links = default_link_assumptions(n_vars, tau_min, tau_max)
        candidates = default_mci_candidates(n_vars, tau_min, tau_max)
    else:
        pc_links = normalize_link_assumptions(link_assumptions, n_vars, pc_tau_min, tau_max,
                                              remove_contemp=True)
        pc_candidates = tuple(PCCandidates.from_links(n_vars, j, pc_links[j]) for j in range(n_vars))
        mci_links = normalize_link_assumptions(link_assumptions, n_vars, tau_min, tau_max)
        candidates = mci_candidates(mci_links, n_vars)
    parents = run_pc_stable(oracle, pc_candidates, n_vars, pc_tau_min, tau_max, pc_alpha,
                            max_conds_dim, max_combinations, need_pvalues=False).parents
    return run_mci(oracle, parents, mci_links, candidates, n_vars, tau_min, tau_max,
                   max_conds_py, max_conds_px, alpha_level, fdr_method)


def _resolve(method: str, test: str, options: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """Lower-case method and test, and the method's full option set; ValueError for anything unsupported."""
    reason = unsupported_reason(method=method, test=test, **options)
    if reason is not None:
        raise ValueError(reason)
    method_l = str(method).lower()
    full = dict(DEFAULT_OPTIONS[method_l])
    full.update({k: v for k, v in options.items() if k in full})
    return method_l, str(test).lower(), full


def _run_on_oracle(oracle: LaggedParCorr, n_vars: int, method: str, options: dict[str, Any]) -> dict[str, Any]:
    if method == "pcmciplus":
        pc_alpha = options.pop("pc_alpha")
        link_assumptions = options.pop("link_assumptions")
        return run_pcmciplus(oracle, n_vars, PlusOptions(**options), pc_alpha, link_assumptions)
    return _pcmci_on_oracle(oracle, n_vars, **options)


def run_fast(data: np.ndarray, *, method: str = "pcmci", test: str = "parcorr", **options: Any) -> dict[str, Any]:
    """Drop-in for tigramite's ``run_pcmci(...)`` / ``run_pcmciplus(...)`` with (Robust)ParCorr, analytic p-values.

    Same as ``PCMCI(DataFrame(data), ParCorr(significance='analytic'), verbosity=0)
    .run_pcmci(**options)`` (``test='robust_parcorr'``: RobustParCorr; ``method='pcmciplus'``:
    ``.run_pcmciplus(**options)``), with the same options and defaults (:data:`DEFAULT_OPTIONS`).

    ``data`` is ``(T, N)`` without NaN/inf (ValueError otherwise); it is used as
    float64 (other real dtypes are upcast -- note that tigramite computes
    float32 input in float32, so compare on float64 data). Returns
    ``{'graph', 'val_matrix', 'p_matrix', 'conf_matrix': None}`` with tigramite's
    shapes and dtypes (PCMCI+: also ``sepsets`` and ``ambiguous_triples``, and
    ``optimal_alpha`` when pc_alpha was selected). ``pc_alpha`` may be a float, a list
    (score-based selection) or None (tigramite's default grid of the method).
    """
    return run_fast_with_diagnostics(data, method=method, test=test, **options)[0]


def run_fast_with_diagnostics(data: np.ndarray, *, method: str = "pcmci", test: str = "parcorr",
                              **options: Any) -> tuple[dict[str, Any], dict[str, int]]:
    """:func:`run_fast` plus counters ``{'n_tests', 'n_rowwise'}`` (tests run, exact replays)."""
    method_l, test_l, full = _resolve(method, test, options)
    arr = check_data(data)
    _check_taus(full["tau_min"], full["tau_max"])
    oracle = _oracle_from_rows(lagged_rows(arr, full["tau_max"]), test_l, arr.shape[1])
    results = _run_on_oracle(oracle, arr.shape[1], method_l, full)
    return results, {"n_tests": oracle.n_tests, "n_rowwise": oracle.n_rowwise}


class StreamingPCMCI:
    """Sliding-window PCMCI whose lagged covariance is maintained incrementally.

    ``push(sample)`` appends the newest ``(N,)`` sample and drops the oldest once
    ``window`` samples are held; ``run(**options)`` returns exactly what
    :func:`run_fast` returns on the held window (:meth:`window_data`), without
    rebuilding the ParCorr statistics (``d = N * (2*tau_max + 1)``).

    Cost: ``push`` stores the sample (O(N)); the sums over reference points are
    updated in blocks of at most ``block`` samples (and whenever ``run`` needs
    them) by adding the entering and subtracting the leaving lagged vectors --
    O(d^2) per sample, done by BLAS.

    Drift control: the sums are rebuilt exactly (two-pass, re-centred) from the
    buffer once ``recompute_every`` samples have been pushed since the last
    rebuild (default: ``window``, i.e. once per full window turnover, so the
    statistics are never more than one window of incremental updates away from
    an exact recompute; 0 disables it). RobustParCorr needs fresh ranks for
    every window, so with ``test='robust_parcorr'`` ``run`` recomputes its
    statistics from the buffer (still exact, O(T d^2)).

    ``tau_max`` is fixed at construction (it defines the lagged vectors); a
    ``run`` with a different ``tau_max`` raises ValueError.
    """

    def __init__(self, n_vars: int, window: int, tau_max: int = 1,
                 recompute_every: int | None = None, block: int = 256) -> None:
        self._moments = SlidingLaggedMoments(n_vars, window, tau_max, recompute_every, block)
        self.n_vars = n_vars
        self.window = window
        self.tau_max = tau_max

    @property
    def n_samples(self) -> int:
        """Samples currently held (``<= window``)."""
        return self._moments.held

    def push(self, sample: np.ndarray) -> None:
        """Add the newest sample (shape ``(N,)``)."""
        self._moments.push(sample)

    def extend(self, samples: np.ndarray) -> None:
        """Push every row of a ``(k, N)`` block, oldest first."""
        for row in check_data(np.atleast_2d(samples)):
            self._moments.push(row)

    def window_data(self) -> np.ndarray:
        """Copy of the held samples, oldest first (what :meth:`run` analyses)."""
        return self._moments.samples()

    def recompute(self) -> None:
        """Rebuild the statistics exactly from the held samples now."""
        self._moments.recompute()

    def snapshot(self, test: str = "parcorr") -> WindowStatistics:
        """The current window's lagged rows and covariance, copied: cheap (O(T d + d^2)) and safe to run
        on another thread while this object keeps taking samples."""
        moments = self._moments
        if moments.n_ref < 1:
            raise ValueError(f"need more than 2*tau_max={2 * self.tau_max} samples, "
                             f"held {moments.held}")
        raw_rows = lagged_rows(moments.samples(), self.tau_max)
        cov = moments.covariance() if str(test).lower() == "parcorr" else None
        return WindowStatistics(raw_rows, cov, self.n_vars, self.tau_max, str(test).lower())

    def run(self, *, method: str = "pcmci", test: str = "parcorr", tau_max: int | None = None,
            **options: Any) -> dict[str, Any]:
        """PCMCI / PCMCI+ on the current window; same options and result as :func:`run_fast`."""
        return self.snapshot(test).run(method=method, test=test, tau_max=tau_max, **options)


class WindowStatistics:
    """A frozen copy of one window's ParCorr statistics (from :meth:`StreamingPCMCI.snapshot`)."""

    def __init__(self, raw_rows: np.ndarray, cov: np.ndarray | None, n_vars: int, tau_max: int,
                 test: str) -> None:
        self.raw_rows = raw_rows
        self.cov = cov
        self.n_vars = n_vars
        self.tau_max = tau_max
        self.test = test

    def run(self, *, method: str = "pcmci", test: str = "parcorr", tau_max: int | None = None,
            **options: Any) -> dict[str, Any]:
        """PCMCI / PCMCI+ on the snapshot's window; same options and result as :func:`run_fast`."""
        if tau_max is not None and tau_max != self.tau_max:
            raise ValueError(f"this StreamingPCMCI was built for tau_max={self.tau_max}, "
                             f"got tau_max={tau_max}")
        method_l, test_l, full = _resolve(method, test, {**options, "tau_max": self.tau_max})
        if test_l != self.test:
            raise ValueError(f"the snapshot was taken for test {self.test!r}, not {test_l!r}")
        _check_taus(full["tau_min"], full["tau_max"])
        oracle = _oracle_from_rows(self.raw_rows, test_l, self.n_vars, self.cov)
        return _run_on_oracle(oracle, self.n_vars, method_l, full)
