"""Exact, fast PCMCI with ParCorr / RobustParCorr, batch and sliding-window streaming.

Why: tigramite re-runs PCMCI from scratch for every window and performs one
least-squares regression over all samples per conditional-independence test.
ParCorr only needs second moments, so this engine computes the covariance of the
lagged design once (or maintains it incrementally, :class:`StreamingPCMCI`) and
answers every test with a small batched Cholesky factorisation
(:mod:`causal_nodes.core.fast_parcorr`).

It reproduces ``PCMCI(dataframe=DataFrame(data), cond_ind_test=ParCorr(
significance='analytic') | RobustParCorr(significance='analytic'),
verbosity=0).run_pcmci(...)``: the PC1 phase (condition order, stable removal
per iteration, ``max_combinations``, ``pc_alpha`` lists / ``None`` with AIC
selection), the MCI phase (``max_conds_py``/``max_conds_px``, lag-0 links,
symmetrisation), link assumptions, ``fdr_method='fdr_bh'`` and the graph
strings from ``p_matrix <= alpha_level``. Exactness guards (constant columns,
near-singular conditioning sets -> row-wise least-squares replay) are documented
in :mod:`causal_nodes.core.fast_parcorr`.

Use :func:`unsupported_reason` first; when it returns a string, hand over to
tigramite and log the reason. No ROS; numpy/scipy at runtime.
"""
from __future__ import annotations

import functools
import itertools
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from causal_nodes.core.fast_link_assumptions import LinkAssumptions, normalize_link_assumptions
from causal_nodes.core.fast_parcorr import LaggedParCorr
from causal_nodes.core.lagged_moments import (
    SlidingLaggedMoments,
    check_data,
    column_kinds,
    correlation_from_covariance,
    covariance_of_rows,
    lagged_rows,
    rank_gaussianize_rows,
)

__all__ = ["unsupported_reason", "run_fast", "run_fast_with_diagnostics", "StreamingPCMCI", "SUPPORTED_METHODS", "SUPPORTED_TESTS"]

SUPPORTED_METHODS = ("pcmci",)
SUPPORTED_TESTS = ("parcorr", "robust_parcorr")
_RUN_OPTIONS = ("tau_min", "tau_max", "pc_alpha", "alpha_level", "max_conds_dim",
                "max_combinations", "fdr_method", "link_assumptions", "max_conds_py",
                "max_conds_px")
#: tigramite's default pc_alpha grid when pc_alpha is None (AIC selection).
DEFAULT_PC_ALPHA_GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)

Node = Tuple[int, int]


def unsupported_reason(*, method: str, test: str, **options: Any) -> Optional[str]:
    """None if :func:`run_fast` reproduces tigramite exactly for these options, else why not.

    Besides the run options of :func:`run_fast`, ``significance`` (only
    ``'analytic'``), ``mask``/``missing_flag`` (must be None) and
    ``save_iterations``/``verbosity`` (ignored) are understood; anything else is
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
        if key in _RUN_OPTIONS or key in ("save_iterations", "verbosity"):
            continue
        if key == "significance":
            if value != "analytic":
                return f"significance={value!r}: only 'analytic' p-values are computed exactly"
            continue
        if key in ("mask", "missing_flag", "selected_links"):
            if value is not None:
                return f"{key} is not supported by the fast engine (complete, unmasked data only)"
            continue
        return f"option {key!r} is not supported by the fast engine"
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
                      cov: Optional[np.ndarray] = None) -> LaggedParCorr:
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


def _col(node: Node, n_vars: int) -> int:
    """Lagged column of tigramite node ``(var, -lag)``."""
    return -node[1] * n_vars + node[0]


# ----------------------------------------------------------------------------
# PC1 (lagged condition selection)
# ----------------------------------------------------------------------------
@functools.lru_cache(maxsize=4096)
def _first_combinations(n_items: int, size: int, limit: int) -> np.ndarray:
    """The first ``limit`` lexicographic ``size``-combinations of ``range(n_items)``."""
    combos = list(itertools.islice(itertools.combinations(range(n_items), size), limit))
    return np.array(combos, dtype=np.intp).reshape(len(combos), size)


class _Candidates:
    """PC1 candidate parents of one variable: nodes in tigramite's order, columns, forced flags."""

    def __init__(self, n_vars: int, j: int, links_j: Dict[Node, str]) -> None:
        self.nodes = [node for node, t in links_j.items()
                      if node != (j, 0) and t not in ("<--", "<?-")]
        self.cols = np.array([_col(node, n_vars) for node in self.nodes], dtype=np.intp)
        self.forced = np.array([links_j[node] == "-->" for node in self.nodes], dtype=bool)


@functools.lru_cache(maxsize=64)
def _default_pc_candidates(n_vars: int, tau_min: int, tau_max: int) -> Tuple[_Candidates, ...]:
    links = _default_links(n_vars, tau_min, tau_max)
    return tuple(_Candidates(n_vars, j, links[j]) for j in range(n_vars))


class _PCSearches:
    """tigramite's ``_run_pc_stable_single`` for many (variable, pc_alpha) pairs at once.

    Row ``s`` is one search. ``cand[s, c]`` is the lagged column of its c-th
    candidate parent (tigramite's candidate order), ``order[s, :n_par[s]]`` its
    current parent list as candidate indices and ``val_min`` the minimum |val|
    seen per candidate. After each condition dimension the surviving parents
    are re-sorted by ``val_min`` (descending), ties kept in candidate (= first
    test) order, exactly like ``sorted(val_min_dict, reverse=True)``.
    """

    def __init__(self, specs: List[Tuple[int, "_Candidates", float]]) -> None:
        for _, _, pc_alpha in specs:
            if pc_alpha < 0.0 or pc_alpha > 1.0:
                raise ValueError("Choose 0 <= pc_alpha <= 1")
        self.candidates = [cands.nodes for _, cands, _ in specs]
        n_search = len(specs)
        width = max([1] + [len(c) for c in self.candidates])
        self.cand = np.zeros((n_search, width), dtype=np.intp)
        self.forced = np.zeros((n_search, width), dtype=bool)
        self.n_par = np.array([len(c) for c in self.candidates], dtype=np.intp)
        for s, (_, cands, _) in enumerate(specs):
            self.cand[s, :len(cands.nodes)] = cands.cols
            self.forced[s, :len(cands.nodes)] = cands.forced
        self.target = np.array([j for j, _, _ in specs], dtype=np.intp)
        self.alpha = np.array([a for _, _, a in specs], dtype=np.float64)
        self.order = np.tile(np.arange(width), (n_search, 1))
        self.val_min = np.full((n_search, width), np.inf)
        self.alive = np.arange(width)[None, :] < self.n_par[:, None]

    def run(self, oracle: LaggedParCorr, max_conds_dim: int, max_combinations: int) -> None:
        """All condition dimensions; one batched oracle call per (dimension, combination)."""
        for conds_dim in range(max_conds_dim + 1):
            running = self.n_par - 1 >= conds_dim
            if not running.any():
                break
            # active[s, a]: parent at list position a of search s still to be tested.
            positions = np.arange(self.order.shape[1])[None, :]
            active = running[:, None] & (positions < self.n_par[:, None])
            nonsig = np.zeros_like(active)
            # The c-th lexicographic combination depends on the list length, so
            # look it up per search: combos[s, c] (rows beyond n_combos[s] unused).
            n_combos = np.array([min(math.comb(max(n - 1, 0), conds_dim), max_combinations)
                                 for n in self.n_par])
            combos = np.zeros((len(self.n_par), max(1, int(n_combos.max())), conds_dim),
                              dtype=np.intp)
            for n in np.unique(self.n_par[running]):
                table = _first_combinations(int(n) - 1, conds_dim, max_combinations)
                combos[self.n_par == n, :table.shape[0]] = table
            for comb_index in range(int(n_combos.max())):
                active &= (comb_index < n_combos)[:, None]
                s_idx, a_idx = np.nonzero(active)
                if s_idx.size == 0:
                    break
                comb = combos[s_idx, comb_index]
                z_pos = comb + (comb >= a_idx[:, None])
                x_cand = self.order[s_idx, a_idx]
                idx = np.empty((s_idx.size, conds_dim + 2), dtype=np.intp)
                idx[:, :conds_dim] = self.cand[s_idx[:, None], self.order[s_idx[:, None], z_pos]]
                idx[:, conds_dim] = self.cand[s_idx, x_cand]
                idx[:, conds_dim + 1] = self.target[s_idx]
                vals = np.ones(s_idx.size)
                pvals = np.zeros(s_idx.size)
                constant = np.zeros(s_idx.size, dtype=bool)
                free = ~self.forced[s_idx, x_cand]
                if free.any():
                    vals[free], pvals[free], constant[free] = oracle.test(idx[free])
                self.val_min[s_idx, x_cand] = np.minimum(np.abs(vals),
                                                         self.val_min[s_idx, x_cand])
                dependent = (pvals <= self.alpha[s_idx]) & ~constant
                nonsig[s_idx[~dependent], a_idx[~dependent]] = True
                active[s_idx[~dependent], a_idx[~dependent]] = False
            dropped = self.order[np.nonzero(nonsig)]
            self.alive[np.nonzero(nonsig)[0], dropped] = False
            # Re-sort: alive first, then by -val_min, ties by candidate index.
            cand_index = np.broadcast_to(np.arange(self.order.shape[1]), self.order.shape)
            new_order = np.lexsort((cand_index, -np.where(self.alive, self.val_min, 0.0),
                                    ~self.alive), axis=1)
            self.order[running] = new_order[running]
            self.n_par = self.alive.sum(axis=1)

    def parents(self, s: int) -> List[Node]:
        return [self.candidates[s][c] for c in self.order[s, :self.n_par[s]]]


def _run_pc_stable(oracle: LaggedParCorr, candidates: Sequence[_Candidates],
                   n_vars: int, tau_min: int, tau_max: int, pc_alpha: Any,
                   max_conds_dim: Optional[int], max_combinations: int) -> Dict[int, List[Node]]:
    """PC1 for every variable, with tigramite's pc_alpha list / AIC selection."""
    if pc_alpha is None:
        alphas = list(DEFAULT_PC_ALPHA_GRID)
        select = True
    elif isinstance(pc_alpha, (list, tuple, np.ndarray)):
        alphas = list(pc_alpha)
        select = True
    else:
        alphas = [pc_alpha]
        select = False
    if max_combinations <= 0:
        raise ValueError("max_combinations must be > 0")
    if max_conds_dim is None:
        max_conds_dim = n_vars * (tau_max - tau_min + 1)
    if max_conds_dim < 0:
        raise ValueError("maximum condition dimension must be >= 0")
    # A repeated pc_alpha keeps tigramite's dict semantics (same search, same result).
    specs = [(j, candidates[j], alpha) for j in range(n_vars) for alpha in alphas]
    if oracle.has_degenerate:
        # Replayed tests must be submitted in tigramite's order (see LaggedParCorr).
        parent_lists = []
        for spec in specs:
            single = _PCSearches([spec])
            single.run(oracle, max_conds_dim, max_combinations)
            parent_lists.append(single.parents(0))
    else:
        searches = _PCSearches(specs)
        searches.run(oracle, max_conds_dim, max_combinations)
        parent_lists = [searches.parents(s) for s in range(len(specs))]
    found = {(j, alpha): parent_lists[s] for s, (j, _, alpha) in enumerate(specs)}
    all_parents: Dict[int, List[Node]] = {}
    for j in range(n_vars):
        scores = np.zeros_like(alphas)
        if select:
            for k, alpha in enumerate(alphas):
                z_cols = [_col(node, n_vars) for node in found[(j, alpha)]]
                scores[k] = oracle.model_selection_score(j, z_cols)
        all_parents[j] = found[(j, alphas[int(scores.argmin())])]
    return all_parents


# ----------------------------------------------------------------------------
# MCI
# ----------------------------------------------------------------------------
def _mci_tests(parents: Dict[int, List[Node]], links: LinkAssumptions, n_vars: int,
               max_conds_py: int, max_conds_px: int):
    """Yield ``(j, i, lag, x_col, z_cols)`` in tigramite's ``_iter_indep_conds`` order.

    Z = parents of j (without X) followed by the parents of i shifted by X's lag
    (not already in Z); shifting a column by ``lag`` adds ``lag * N``.
    """
    parent_cols = {v: [_col(node, n_vars) for node in parents.get(v, [])] for v in range(n_vars)}
    for j in range(n_vars):
        conds_y = parent_cols[j][:max_conds_py]
        for (i, tau), link_type in links[j].items():
            if (i == j and tau == 0) or link_type in ("<--", "<?-"):
                continue
            lag = -tau
            x_col = lag * n_vars + i
            z = [c for c in conds_y if c != x_col]
            seen = set(z)
            shift = lag * n_vars
            z += [c + shift for c in parent_cols[i][:max_conds_px] if c + shift not in seen]
            yield j, i, lag, x_col, z


def _mci_vectorized(oracle: LaggedParCorr, parents: Dict[int, List[Node]],
                    candidates: Tuple[np.ndarray, ...], n_vars: int, max_conds_py: int, max_conds_px: int,
                    val_matrix: np.ndarray, p_matrix: np.ndarray) -> None:
    """All MCI tests at once (same sets as :func:`_mci_tests`), filling the matrices in place.

    Z for X=(i, -lag) -> Y=j is ``base_j \\ {X}`` (parents of j) followed by the
    parents of i shifted by ``lag`` that are not in ``base_j``; shifting adds
    ``lag * N`` to a column. Tests with X outside ``base_j`` share the
    conditioning on ``base_j`` (one block factorisation per j); the few with X
    inside it run one by one.
    """
    jj, ii, lags, forced = candidates
    if jj.size == 0:
        return
    val_matrix[ii[forced], jj[forced], lags[forced]] = 1.0
    p_matrix[ii[forced], jj[forced], lags[forced]] = 0.0
    jj, ii, lags = jj[~forced], ii[~forced], lags[~forced]
    if jj.size == 0:
        return
    n_cols = oracle.corr.shape[0]
    bases = [[_col(node, n_vars) for node in parents.get(j, [])[:max_conds_py]]
             for j in range(n_vars)]
    px = [[_col(node, n_vars) for node in parents.get(i, [])[:max_conds_px]]
          for i in range(n_vars)]
    width = max(1, max(len(p) for p in px))
    px_pad = np.zeros((n_vars, width), dtype=np.intp)
    px_valid = np.zeros((n_vars, width), dtype=bool)
    for i, cols in enumerate(px):
        px_pad[i, :len(cols)] = cols
        px_valid[i, :len(cols)] = True
    in_base = np.zeros((n_vars, n_cols), dtype=bool)
    for j, cols in enumerate(bases):
        in_base[j, cols] = True
    x_cols = lags * n_vars + ii
    shifted = px_pad[ii] + (lags * n_vars)[:, None]
    keep = px_valid[ii] & ~in_base[jj[:, None], shifted]
    order = np.argsort(~keep, axis=1, kind="stable")  # kept extras first, in order
    extras = np.take_along_axis(shifted, order, axis=1)
    counts = keep.sum(axis=1)
    # X inside base_j: no shared factorisation; whole Z (base_j without X, then the
    # shifted extras) goes against the empty base (index n_vars). One call keeps
    # every test in tigramite's order (matters for exact replays, see LaggedParCorr).
    x_in_base = np.flatnonzero(in_base[jj, x_cols])
    owners = jj.copy()
    if x_in_base.size:
        owners[x_in_base] = n_vars
        full = [[c for c in bases[jj[k]] if c != x_cols[k]] + extras[k, :counts[k]].tolist()
                for k in x_in_base]
        wide = max(extras.shape[1], max(len(z) for z in full))
        padded = np.zeros((jj.size, wide), dtype=np.intp)
        padded[:, :extras.shape[1]] = extras
        for k, z in zip(x_in_base, full):
            padded[k, :len(z)] = z
            counts[k] = len(z)
        extras = padded
    vals, pvals, _ = oracle.test_partialled(bases + [[]], owners, x_cols, jj, extras, counts)
    val_matrix[ii, jj, lags] = vals
    p_matrix[ii, jj, lags] = pvals


def _fdr_bh(p_matrix: np.ndarray, links: LinkAssumptions) -> np.ndarray:
    """Benjamini-Hochberg q-values over lagged, allowed links (tigramite's fdr_bh)."""
    n_vars, _, n_lags = p_matrix.shape
    mask = np.zeros(p_matrix.shape, dtype=bool)
    for j, entries in links.items():
        for (i, lag), link_type in entries.items():
            if link_type not in ("<--", "<?-"):
                mask[i, j, abs(lag)] = True
    mask[range(n_vars), range(n_vars), 0] = False
    mask[:, :, 0] = False
    q_matrix = np.array(p_matrix)
    pvs = p_matrix[mask]
    order = np.argsort(pvs)
    ranked = np.take(pvs, order)
    ecdf = np.arange(1, len(ranked) + 1) / float(len(ranked))
    corrected = np.minimum.accumulate((ranked / ecdf)[::-1])[::-1]
    corrected[corrected > 1] = 1
    unsorted = np.empty_like(corrected)
    unsorted[order] = corrected
    q_matrix[mask] = unsorted
    return q_matrix


def _string_graph(significant: np.ndarray) -> np.ndarray:
    """Link strings from the boolean significance array (tigramite's convert_to_string_graph)."""
    graph = np.zeros(significant.shape, dtype="<U3")
    graph[:] = ""
    graph[:, :, 1:][significant[:, :, 1:]] = "-->"
    contemp = significant[:, :, 0]
    graph[:, :, 0][contemp & contemp.T] = "o-o"
    for i, j in zip(*np.where(contemp & ~contemp.T)):
        graph[i, j, 0] = "-->"
        graph[j, i, 0] = "<--"
    return graph


def _symmetrize(p_matrix: np.ndarray, val_matrix: np.ndarray, links: LinkAssumptions) -> None:
    """Copy lag-0 results onto the reverse entry, in tigramite's order (in place)."""
    n_vars = p_matrix.shape[0]
    for i in range(n_vars):
        for j in range(n_vars):
            link_type = links[j].get((i, 0))
            if link_type is None:
                continue
            if link_type in ("o-o", "o?o"):
                if p_matrix[i, j, 0] >= p_matrix[j, i, 0]:
                    p_matrix[j, i, 0] = p_matrix[i, j, 0]
                    val_matrix[j, i, 0] = val_matrix[i, j, 0]
            elif link_type in ("-->", "-?>"):
                p_matrix[j, i, 0] = p_matrix[i, j, 0]
                val_matrix[j, i, 0] = val_matrix[i, j, 0]


def _run_mci(oracle: LaggedParCorr, parents: Dict[int, List[Node]],
             links: LinkAssumptions, candidates: Tuple[np.ndarray, ...], n_vars: int, tau_min: int, tau_max: int,
             max_conds_py: Optional[int], max_conds_px: Optional[int], alpha_level: float,
             fdr_method: Optional[str]) -> Dict[str, Any]:
    default_conds = n_vars * (tau_max - tau_min + 1)
    max_conds_py = default_conds if max_conds_py is None else max_conds_py
    max_conds_px = default_conds if max_conds_px is None else max_conds_px
    if max_conds_py < 0 or max_conds_px < 0:
        raise ValueError("maximum condition dimension must be >= 0")
    val_matrix = np.zeros((n_vars, n_vars, tau_max + 1))
    p_matrix = np.ones((n_vars, n_vars, tau_max + 1))
    if oracle.has_special:
        # Exact replays must be submitted in tigramite's order: one list, in order.
        cells, xs, ys, zs = [], [], [], []
        for j, i, lag, x_col, z in _mci_tests(parents, links, n_vars, max_conds_py, max_conds_px):
            if links[j].get((i, -lag)) in ("-->", "o-o"):
                val_matrix[i, j, lag] = 1.0
                p_matrix[i, j, lag] = 0.0
                continue
            cells.append((i, j, lag))
            xs.append(x_col)
            ys.append(j)
            zs.append(z)
        if cells:
            vals, pvals, _ = oracle.test_lists(xs, ys, zs)
            ii, jj, tt = (np.array(a) for a in zip(*cells))
            val_matrix[ii, jj, tt] = vals
            p_matrix[ii, jj, tt] = pvals
    else:
        _mci_vectorized(oracle, parents, candidates, n_vars, max_conds_py, max_conds_px,
                        val_matrix, p_matrix)
    if fdr_method not in (None, "none"):
        if fdr_method != "fdr_bh":
            raise ValueError("Only FDR method fdr_bh implemented")
        p_matrix = _fdr_bh(p_matrix, links)
    graph = _string_graph(p_matrix <= alpha_level)
    _symmetrize(p_matrix, val_matrix, links)
    return {"graph": graph, "p_matrix": p_matrix, "val_matrix": val_matrix, "conf_matrix": None}


def _check_taus(tau_min: int, tau_max: int) -> None:
    if not 0 <= tau_min <= tau_max:
        raise ValueError(f"tau_max = {tau_max}, tau_min = {tau_min}, but 0 <= tau_min <= tau_max")


def _pcmci_on_oracle(oracle: LaggedParCorr, n_vars: int, *, tau_min: int, tau_max: int,
                     pc_alpha: Any, alpha_level: float, max_conds_dim: Optional[int],
                     max_combinations: int, fdr_method: Optional[str],
                     link_assumptions: Optional[LinkAssumptions],
                     max_conds_py: Optional[int], max_conds_px: Optional[int]) -> Dict[str, Any]:
    _check_taus(tau_min, tau_max)
    pc_tau_min = max(1, tau_min)
    if link_assumptions is None:  # cached, shared (read-only) defaults
        pc_candidates = _default_pc_candidates(n_vars, pc_tau_min, tau_max)
        mci_links = _default_links(n_vars, tau_min, tau_max)
        candidates = _default_mci_candidates(n_vars, tau_min, tau_max)
    else:
        pc_links = normalize_link_assumptions(link_assumptions, n_vars, pc_tau_min, tau_max,
                                              remove_contemp=True)
        pc_candidates = tuple(_Candidates(n_vars, j, pc_links[j]) for j in range(n_vars))
        mci_links = normalize_link_assumptions(link_assumptions, n_vars, tau_min, tau_max)
        candidates = _mci_candidates(mci_links, n_vars)
    parents = _run_pc_stable(oracle, pc_candidates, n_vars, pc_tau_min, tau_max, pc_alpha,
                             max_conds_dim, max_combinations)
    return _run_mci(oracle, parents, mci_links, candidates, n_vars, tau_min, tau_max,
                    max_conds_py, max_conds_px, alpha_level, fdr_method)


@functools.lru_cache(maxsize=64)
def _default_links(n_vars: int, tau_min: int, tau_max: int) -> LinkAssumptions:
    """tigramite's default link assumptions (never mutated by this module)."""
    return normalize_link_assumptions(None, n_vars, tau_min, tau_max)


@functools.lru_cache(maxsize=64)
def _default_mci_candidates(n_vars: int, tau_min: int,
                            tau_max: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return _mci_candidates(_default_links(n_vars, tau_min, tau_max), n_vars)


def _mci_candidates(links: LinkAssumptions,
                    n_vars: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MCI links in tigramite's order as arrays ``(j, i, lag, forced)``.

    ``forced`` marks links assumed present (``-->``/``o-o``): val=1, p=0 without a test.
    """
    jj, ii, lags, forced = [], [], [], []
    for j in range(n_vars):
        for (i, tau), link_type in links[j].items():
            if (i == j and tau == 0) or link_type in ("<--", "<?-"):
                continue
            jj.append(j)
            ii.append(i)
            lags.append(-tau)
            forced.append(link_type in ("-->", "o-o"))
    arrays = tuple(np.array(a, dtype=np.intp) for a in (jj, ii, lags)) + \
        (np.array(forced, dtype=bool),)
    for a in arrays:
        a.setflags(write=False)
    return arrays


def _check_method(method: str, test: str, fdr_method: Optional[str]) -> str:
    reason = unsupported_reason(method=method, test=test, fdr_method=fdr_method)
    if reason is not None:
        raise ValueError(reason)
    return str(test).lower()


def run_fast(data: np.ndarray, *, method: str = "pcmci", test: str = "parcorr",
             tau_min: int = 0, tau_max: int = 1, pc_alpha: Any = 0.2,
             alpha_level: float = 0.05, max_conds_dim: Optional[int] = None,
             max_combinations: int = 1, fdr_method: Optional[str] = "none",
             link_assumptions: Optional[LinkAssumptions] = None,
             max_conds_py: Optional[int] = None,
             max_conds_px: Optional[int] = None) -> Dict[str, Any]:
    """Drop-in for ``PCMCI(DataFrame(data), ParCorr|RobustParCorr(significance='analytic')).run_pcmci(...)``.

    ``data`` is ``(T, N)`` without NaN/inf (ValueError otherwise). Returns
    ``{'graph', 'val_matrix', 'p_matrix', 'conf_matrix': None}`` with tigramite's
    shapes and dtypes. ``pc_alpha`` may be a float, a list (AIC selection) or
    None (tigramite's default grid).
    """
    return run_fast_with_diagnostics(
        data, method=method, test=test, tau_min=tau_min, tau_max=tau_max, pc_alpha=pc_alpha,
        alpha_level=alpha_level, max_conds_dim=max_conds_dim, max_combinations=max_combinations,
        fdr_method=fdr_method, link_assumptions=link_assumptions, max_conds_py=max_conds_py,
        max_conds_px=max_conds_px)[0]


def run_fast_with_diagnostics(data: np.ndarray, *, method: str = "pcmci", test: str = "parcorr",
                              tau_min: int = 0, tau_max: int = 1,
                              **options: Any) -> Tuple[Dict[str, Any], Dict[str, int]]:
    """:func:`run_fast` plus counters ``{'n_tests', 'n_rowwise'}`` (tests run, exact replays)."""
    test_l = _check_method(method, test, options.get("fdr_method", "none"))
    arr = check_data(data)
    _check_taus(tau_min, tau_max)
    raw_rows = lagged_rows(arr, tau_max)
    oracle = _oracle_from_rows(raw_rows, test_l, arr.shape[1])
    defaults = dict(pc_alpha=0.2, alpha_level=0.05, max_conds_dim=None, max_combinations=1,
                    fdr_method="none", link_assumptions=None, max_conds_py=None,
                    max_conds_px=None)
    unknown = set(options) - set(defaults)
    if unknown:
        raise ValueError(f"unknown option(s) for the fast engine: {sorted(unknown)}")
    defaults.update(options)
    results = _pcmci_on_oracle(oracle, arr.shape[1], tau_min=tau_min, tau_max=tau_max, **defaults)
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
                 recompute_every: Optional[int] = None, block: int = 256) -> None:
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

    def run(self, *, method: str = "pcmci", test: str = "parcorr", tau_min: int = 0,
            tau_max: Optional[int] = None, pc_alpha: Any = 0.2, alpha_level: float = 0.05,
            max_conds_dim: Optional[int] = None, max_combinations: int = 1,
            fdr_method: Optional[str] = "none",
            link_assumptions: Optional[LinkAssumptions] = None,
            max_conds_py: Optional[int] = None,
            max_conds_px: Optional[int] = None) -> Dict[str, Any]:
        """PCMCI on the current window; same options and result as :func:`run_fast`."""
        if tau_max is not None and tau_max != self.tau_max:
            raise ValueError(f"this StreamingPCMCI was built for tau_max={self.tau_max}, "
                             f"got tau_max={tau_max}")
        test_l = _check_method(method, test, fdr_method)
        moments = self._moments
        if moments.n_ref < 1:
            raise ValueError(f"need more than 2*tau_max={2 * self.tau_max} samples, "
                             f"held {moments.held}")
        raw_rows = lagged_rows(moments.samples(), self.tau_max)
        cov = moments.covariance() if test_l == "parcorr" else None
        oracle = _oracle_from_rows(raw_rows, test_l, self.n_vars, cov)
        return _pcmci_on_oracle(oracle, self.n_vars, tau_min=tau_min, tau_max=self.tau_max,
                                pc_alpha=pc_alpha, alpha_level=alpha_level,
                                max_conds_dim=max_conds_dim, max_combinations=max_combinations,
                                fdr_method=fdr_method, link_assumptions=link_assumptions,
                                max_conds_py=max_conds_py, max_conds_px=max_conds_px)
