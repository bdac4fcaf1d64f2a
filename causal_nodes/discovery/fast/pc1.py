"""PC1 phase of PCMCI (tigramite's ``run_pc_stable``), for all variables and pc_alpha values at once.

Why a separate module: the condition-selection logic has to mirror tigramite's
order of operations exactly (candidate order, lexicographic condition sets,
removal after each condition dimension, stable re-sorting by min |val|,
AIC selection over pc_alpha). Two implementations give the same result: the
compiled loop of :func:`causal_nodes.discovery.fast.kernels.pc1_searches` (used
when numba is available and the data has no constant columns), and
:class:`PCSearches`, which answers each dimension's tests in one batched call to
:class:`causal_nodes.discovery.fast.parcorr.LaggedParCorr` and handles every
exactness fallback (row-wise replays, constant columns).
"""
from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from causal_nodes.discovery.fast import kernels
from causal_nodes.discovery.fast.lagged_moments import node_column
from causal_nodes.discovery.fast.link_assumptions import default_link_assumptions
from causal_nodes.discovery.fast.parcorr import PIVOT_TOLERANCE, LaggedParCorr

Node = tuple[int, int]

#: tigramite's default pc_alpha grid when pc_alpha is None (AIC selection).
DEFAULT_PC_ALPHA_GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)


@functools.lru_cache(maxsize=4096)
def _first_combinations(n_items: int, size: int, limit: int) -> np.ndarray:
    """The first ``limit`` lexicographic ``size``-combinations of ``range(n_items)``."""
    combos = list(itertools.islice(itertools.combinations(range(n_items), size), limit))
    return np.array(combos, dtype=np.intp).reshape(len(combos), size)


class PCCandidates:
    """PC1 candidate parents of one variable: nodes in tigramite's order, columns, forced flags."""

    def __init__(self, nodes: list[Node], cols: np.ndarray, forced: np.ndarray) -> None:
        self.nodes = nodes
        self.cols = cols
        self.forced = forced

    @classmethod
    def from_links(cls, n_vars: int, j: int, links_j: dict[Node, str]) -> PCCandidates:
        nodes = [node for node, t in links_j.items() if node != (j, 0) and t not in ("<--", "<?-")]
        return cls(nodes, np.array([node_column(node, n_vars) for node in nodes], dtype=np.intp),
                   np.array([links_j[node] == "-->" for node in nodes], dtype=bool))


@functools.lru_cache(maxsize=64)
def default_pc_candidates(n_vars: int, tau_min: int, tau_max: int) -> tuple[PCCandidates, ...]:
    """Candidates from the default link assumptions (cached; treat as read-only)."""
    links = default_link_assumptions(n_vars, tau_min, tau_max)
    return tuple(PCCandidates.from_links(n_vars, j, links[j]) for j in range(n_vars))


class PCSearches:
    """tigramite's ``run_pc_stable_single`` for many (variable, pc_alpha) pairs at once.

    Row ``s`` is one search. ``cand[s, c]`` is the lagged column of its c-th
    candidate parent (tigramite's candidate order), ``order[s, :n_par[s]]`` its
    current parent list as candidate indices and ``val_min`` the minimum |val|
    seen per candidate. After each condition dimension the surviving parents
    are re-sorted by ``val_min`` (descending), ties kept in candidate (= first
    test) order, exactly like ``sorted(val_min_dict, reverse=True)``.
    ``pval_max``/``val_of_pmax`` are tigramite's ``pval_max``/``val_dict``: the
    largest p-value of each candidate's tests and the value of the first test
    that reached it (NaN until tested).
    """

    def __init__(self, specs: list[tuple[int, PCCandidates, float]]) -> None:
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
        self.pval_max = np.full((n_search, width), np.nan)
        self.val_of_pmax = np.full((n_search, width), np.nan)
        self.tested = np.zeros((n_search, width), dtype=bool)
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
                # tigramite: ``if pval_max is None or pval > pval_max`` (a NaN p-value never replaces one)
                raise_max = ~self.tested[s_idx, x_cand] | (pvals > self.pval_max[s_idx, x_cand])
                self.pval_max[s_idx[raise_max], x_cand[raise_max]] = pvals[raise_max]
                self.val_of_pmax[s_idx[raise_max], x_cand[raise_max]] = vals[raise_max]
                self.tested[s_idx, x_cand] = True
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

    def run_compiled(self, oracle: LaggedParCorr, max_conds_dim: int, max_combinations: int,
                     need_pvalues: bool = True) -> None:
        """Same as :meth:`run` with the compiled PC1 loop; a search that meets an ill-conditioned test is rerun
        by :meth:`run` on its own (row-wise replays). Needs :data:`kernels.AVAILABLE` and no constant columns.
        Without ``need_pvalues``, decisions that are clear from |val| skip the p-value and ``pval_max``/
        ``val_of_pmax`` stay unfilled (PCMCI does not report them)."""
        clear = kernels.clear_decision_thresholds(self.alpha, max_conds_dim, oracle.n_samples)
        (self.order, self.n_par, self.val_min, self.pval_max, self.val_of_pmax, status,
         n_tests) = kernels.pc1_searches(oracle.corr, self.cand, self.n_par, self.forced, self.target, self.alpha,
                                         max_conds_dim, max_combinations, oracle.n_samples, PIVOT_TOLERANCE,
                                         need_pvalues, clear)
        ok = status == kernels.PC1_OK
        oracle.n_tests += int(n_tests[ok].sum())
        for s in np.flatnonzero(~ok):
            count = len(self.candidates[s])
            alone = PCCandidates(self.candidates[s], self.cand[s, :count], self.forced[s, :count])
            single = PCSearches([(int(self.target[s]), alone, float(self.alpha[s]))])
            single.run(oracle, max_conds_dim, max_combinations)
            width = single.order.shape[1]
            self.order[s, :width], self.n_par[s] = single.order[0], single.n_par[0]
            for name in ("val_min", "pval_max", "val_of_pmax"):
                getattr(self, name)[s, :width] = getattr(single, name)[0]

    def parents(self, s: int) -> list[Node]:
        return [self.candidates[s][c] for c in self.order[s, :self.n_par[s]]]


@dataclass
class PC1Result:
    """What tigramite's ``run_pc_stable`` leaves behind: the parents of every variable and, per link, its
    ``pval_max``/``val_dict`` for the selected pc_alpha (PCMCI+ reports them for lagged links PC1 removed)."""

    parents: dict[int, list[Node]]
    sources: dict[int, tuple[PCSearches, int]]
    """The search (and its row) each variable's parents come from."""

    def matrices(self, n_vars: int, tau_max: int) -> tuple[np.ndarray, np.ndarray]:
        """``(p_matrix, val_matrix)`` as tigramite's ``_dict_to_matrix`` builds them (defaults 1 and 0)."""
        p_matrix = np.ones((n_vars, n_vars, tau_max + 1))
        val_matrix = np.zeros((n_vars, n_vars, tau_max + 1))
        for j, (searches, s) in self.sources.items():
            count = len(searches.candidates[s])
            if count == 0:
                continue
            nodes = np.array(searches.candidates[s], dtype=np.intp).reshape(count, 2)
            p_matrix[nodes[:, 0], j, -nodes[:, 1]] = searches.pval_max[s, :count]
            val_matrix[nodes[:, 0], j, -nodes[:, 1]] = searches.val_of_pmax[s, :count]
        return p_matrix, val_matrix


def run_pc_stable(oracle: LaggedParCorr, candidates: Sequence[PCCandidates], n_vars: int,
                  tau_min: int, tau_max: int, pc_alpha: Any, max_conds_dim: Any,
                  max_combinations: int, need_pvalues: bool = True) -> PC1Result:
    """Parents of every variable from PC1, with tigramite's pc_alpha list / AIC selection.

    ``need_pvalues=False``: the caller does not use :meth:`PC1Result.matrices` (PCMCI), which lets the compiled
    path skip p-values whose decision is clear.

    ``tau_min`` is PC1's (at least 1). Data with degenerate columns run the
    searches one after another so that exact replays happen in tigramite's order.
    """
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
        outcomes = []
        for spec in specs:
            single = PCSearches([spec])
            single.run(oracle, max_conds_dim, max_combinations)
            outcomes.append((single, 0))
    else:
        searches = PCSearches(specs)
        if kernels.AVAILABLE and not oracle.has_special:
            searches.run_compiled(oracle, max_conds_dim, max_combinations, need_pvalues)
        else:
            searches.run(oracle, max_conds_dim, max_combinations)
        outcomes = [(searches, s) for s in range(len(specs))]
    found = {(j, alpha): outcomes[s] for s, (j, _, alpha) in enumerate(specs)}
    result = PC1Result({}, {})
    for j in range(n_vars):
        scores = np.zeros_like(alphas)
        if select:
            for k, alpha in enumerate(alphas):
                searched, s = found[(j, alpha)]
                z_cols = [node_column(node, n_vars) for node in searched.parents(s)]
                scores[k] = oracle.model_selection_score(j, z_cols)
        searched, s = found[(j, alphas[int(scores.argmin())])]
        result.parents[j] = searched.parents(s)
        result.sources[j] = (searched, s)
    return result
