"""PCMCI+ (tigramite's ``run_pcmciplus``) on the moment-based ParCorr oracle.

Why: PCMCI+ is the variant that also resolves contemporaneous links, and with tigramite it costs seconds per
window. Its four steps are PC1 (shared with PCMCI, :mod:`.pc1`), a PC skeleton search whose tests condition on
contemporaneous subsets *and* the lagged parents of both ends (MCI conditions), then collider and rule
orientation (:mod:`.orientation`). Only the skeleton and the majority/conservative collider rules test anything,
and every such test is a partial correlation of lagged columns -- so the whole method runs on the same
correlation matrix as PCMCI.

Exactness: the skeleton decides, per condition dimension, which pairs are tested with which condition sets
exactly as tigramite does (adjacencies frozen per dimension and re-sorted by minimum |val| afterwards, condition
subsets in ``itertools.combinations`` order, a pair dropped at its first independent test, both directions of
a lag-0 pair removed together). It computes the tests of a dimension in batches -- for each pair the next few
condition subsets at a time, until the pair is decided -- and then replays tigramite's bookkeeping in its order
(p-values kept as the maximum over tests, ``val`` of that test, separating sets). A test tigramite would not run
(after a pair was decided) may be computed but never changes a result. Data with degenerate constant columns,
whose replayed tests depend on tigramite's test order through its cache, are tested one at a time in that
order.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from causal_nodes.discovery.fast import kernels
from causal_nodes.discovery.fast.lagged_moments import node_column
from causal_nodes.discovery.fast.link_assumptions import (
    LinkAssumptions,
    default_link_assumptions,
    normalize_link_assumptions,
)
from causal_nodes.discovery.fast.mci import fdr_bh, symmetrize
from causal_nodes.discovery.fast.orientation import (
    COLLIDER_RULES,
    Node,
    Sepsets,
    Triple,
    apply_rules,
    dag_from_cpdag,
    orient_colliders,
)
from causal_nodes.discovery.fast.parcorr import LaggedParCorr
from causal_nodes.discovery.fast.pc1 import PCCandidates, default_pc_candidates, run_pc_stable

#: tigramite's ``run_pcmciplus`` default significance (its PCMCI default is 0.2 in this project).
DEFAULT_PC_ALPHA = 0.01
#: tigramite's pc_alpha grid for PCMCI+ when ``pc_alpha`` is None (score-based selection).
DEFAULT_PC_ALPHA_GRID = (0.001, 0.005, 0.01, 0.025, 0.05)
#: Condition subsets computed per undecided pair in the first batch of a dimension; doubles each batch.
_FIRST_BATCH = 2


@dataclass(frozen=True)
class PlusOptions:
    """``run_pcmciplus`` options (``pc_alpha`` one value here; lists are handled by :func:`run_pcmciplus`)."""

    tau_min: int = 0
    tau_max: int = 1
    pc_alpha: float = DEFAULT_PC_ALPHA
    contemp_collider_rule: str = "majority"
    conflict_resolution: bool = True
    reset_lagged_links: bool = False
    max_conds_dim: int | None = None
    max_combinations: int = 1
    max_conds_py: int | None = None
    max_conds_px: int | None = None
    max_conds_px_lagged: int | None = None
    fdr_method: str | None = "none"

    def check(self, n_vars: int) -> None:
        if not 0 <= self.tau_min <= self.tau_max:
            raise ValueError(f"tau_max = {self.tau_max}, tau_min = {self.tau_min}, but 0 <= tau_min <= tau_max")
        if not 0.0 <= self.pc_alpha <= 1.0:
            raise ValueError("Choose 0 <= pc_alpha <= 1")
        if self.contemp_collider_rule not in COLLIDER_RULES and self.contemp_collider_rule is not None:
            raise ValueError(f"contemp_collider_rule must be one of {COLLIDER_RULES}")
        if self.fdr_method not in (None, "none", "fdr_bh"):
            raise ValueError("Only FDR method fdr_bh implemented")
        for name in ("max_conds_dim", "max_conds_py", "max_conds_px", "max_conds_px_lagged"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0")


class LaggedConditions:
    """Columns of the MCI conditions of a link: Y's lagged parents (without X), then X's shifted by X's lag.

    A pair's condition set in the skeleton is ``S + conditions(i, j, lag)``; the two parts never overlap
    (S is contemporaneous, parents are lagged), so tigramite's de-duplication reduces to this. Each link's
    list is built once and kept as a row of a padded table (:meth:`row`) for the compiled assembly.
    """

    def __init__(self, parents: dict[int, list[Node]], n_vars: int, tau_min: int, tau_max: int,
                 opts: PlusOptions) -> None:
        default = n_vars * (tau_max - tau_min + 1)
        self.max_py = default if opts.max_conds_py is None else opts.max_conds_py
        self.max_px = default if opts.max_conds_px is None else opts.max_conds_px
        self.max_px_lagged = self.max_px if opts.max_conds_px_lagged is None else opts.max_conds_px_lagged
        self.n_vars = n_vars
        self.cols = {v: [node_column(node, n_vars) for node in parents.get(v, [])] for v in range(n_vars)}
        width = max([1] + [len(c) for c in self.cols.values()]) * 2
        self.table = np.zeros((n_vars * n_vars * (tau_max + 1), width), dtype=np.intp)
        self.lengths = np.full(len(self.table), -1, dtype=np.intp)
        self.tau_max = tau_max

    def __call__(self, i: int, j: int, lag: int) -> list[int]:
        row = self.row(i, j, lag)
        return self.table[row, :self.lengths[row]].tolist()

    def row(self, i: int, j: int, lag: int) -> int:
        """Row of the link's conditions in :attr:`table` (length in :attr:`lengths`), built on first use."""
        row = (i * self.n_vars + j) * (self.tau_max + 1) + lag
        if self.lengths[row] < 0:
            x_col = lag * self.n_vars + i
            found = [c for c in self.cols[j][:self.max_py] if c != x_col]
            seen = set(found)
            shift = lag * self.n_vars
            limit = self.max_px if lag == 0 else self.max_px_lagged
            found += [c + shift for c in self.cols[i][:limit] if c + shift not in seen]
            self.table[row, :len(found)] = found
            self.lengths[row] = len(found)
        return row


class TestRunner:
    """Answers MCI tests ``X=(i, -lag) _|_ Y=(j, 0) | S + lagged conditions`` with the oracle, in batches."""

    def __init__(self, oracle: LaggedParCorr, conditions: LaggedConditions, pc_alpha: float) -> None:
        self.oracle = oracle
        self.conditions = conditions
        self.pc_alpha = pc_alpha
        self.n_vars = conditions.n_vars

    def run(self, links: np.ndarray, subsets: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, ...]:
        """Test k: link ``links[k] = (i, j, lag)`` given ``S = subsets[k, :sizes[k]]`` (variables at lag 0) and
        the link's lagged conditions. Returns values, p-values and decisions (p <= pc_alpha, X and Y not
        constant). Links assumed present (middle mark ``-``) must not be passed: they are never tested."""
        links = np.asarray(links, dtype=np.intp).reshape(-1, 3)
        if len(links) == 0:
            return np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool)
        rows = np.array([self.conditions.row(i, j, lag) for i, j, lag in links.tolist()], dtype=np.intp)
        xs = links[:, 2] * self.n_vars + links[:, 0]
        cols, widths = kernels.assemble_tests(self.conditions.table, self.conditions.lengths, rows,
                                              np.asarray(subsets, dtype=np.intp).reshape(len(links), -1),
                                              np.asarray(sizes, dtype=np.intp), xs, links[:, 1].copy(), True)
        vals, pvals, constant = self.oracle.test_columns(cols, widths)
        return vals, pvals, (pvals <= self.pc_alpha) & ~constant


class Skeleton:
    """tigramite's ``_pcalg_skeleton`` in ``contemp_conds`` mode (PCMCI+ step 2) on a string graph."""

    def __init__(self, graph: np.ndarray, runner: TestRunner, tau_min: int, tau_max: int,
                 max_conds_dim: int, one_at_a_time: bool) -> None:
        self.graph = graph
        self.runner = runner
        self.tau_min = tau_min
        self.tau_max = tau_max
        self.max_conds_dim = max_conds_dim
        self.one_at_a_time = one_at_a_time
        n_vars = graph.shape[0]
        graph[range(n_vars), range(n_vars), 0] = ""
        self.val_min = np.where(graph != "", np.inf, np.nan)
        self.p_matrix = np.where(graph == "", 1.0, 0.0)
        self.val_matrix = np.zeros(graph.shape)
        self.sepsets: Sepsets = {((i, -tau), j): [] for tau in range(tau_min, tau_max + 1)
                                 for i in range(n_vars) for j in range(n_vars)}

    def _adjacent(self, j: int, ordered: bool) -> list[int]:
        """Contemporaneous neighbours of j; ``ordered``: by minimum |val| (descending), ties by index."""
        found = np.flatnonzero(self.graph[:, j, 0] != "").tolist()
        if ordered:
            found = sorted(found, key=lambda i: self.val_min[i, j, 0], reverse=True)
        return found

    def _remaining_pairs(self, adj: list[list[int]], dim: int) -> list[tuple[int, int, int]]:
        """Links still present whose target has at least ``dim`` other contemporaneous neighbours, in tigramite's
        order (i, then j, then lag)."""
        n_vars = self.graph.shape[0]
        in_adj = np.zeros((n_vars, n_vars), dtype=bool)
        for j, members in enumerate(adj):
            in_adj[members, j] = True
        others = np.broadcast_to(in_adj.sum(axis=0)[None, :, None], self.graph.shape).copy()
        others[:, :, 0] -= in_adj
        lags = np.arange(self.graph.shape[2])
        remaining = (self.graph != "") & (others >= dim) & (lags >= self.tau_min)[None, None, :]
        return [(int(i), int(j), int(lag)) for i, j, lag in np.argwhere(remaining)]

    def run(self) -> None:
        n_vars = self.graph.shape[0]
        adj = [self._adjacent(j, ordered=False) for j in range(n_vars)]
        dim = 0
        while dim <= self.max_conds_dim:
            pairs = self._remaining_pairs(adj, dim)
            if not pairs:
                break
            self._dimension(pairs, adj, dim)
            dim += 1
            adj = [self._adjacent(j, ordered=True) for j in range(n_vars)]

    def _dimension(self, pairs: list[tuple[int, int, int]], adj: list[list[int]], dim: int) -> None:
        """All tests of one condition dimension, then tigramite's bookkeeping in its order.

        A link assumed present (middle mark ``-``) is dependent given every subset without a test (val 1,
        p 0); one such result stands for all of its subsets, since repeating it changes nothing.
        """
        subsets = [itertools.combinations([k for k in adj[j] if not (lag == 0 and k == i)], dim)
                   for i, j, lag in pairs]
        forced = [self.graph[pair][1] == "-" for pair in pairs]
        outcomes: list[list[tuple[tuple[int, ...], float, float, bool]]] = [[] for _ in pairs]
        for p, assumed in enumerate(forced):
            if assumed:
                outcomes[p] = [(s, 1.0, 0.0, True) for s in itertools.islice(subsets[p], 1)]
        if self.one_at_a_time:  # tigramite's test order, one by one (see the module docstring)
            for p, pair in enumerate(pairs):
                if self.graph[pair] != "":
                    self._apply(pair, iter(outcomes[p]) if forced[p] else self._one_by_one(pair, subsets[p], dim))
            return
        open_pairs = [p for p in range(len(pairs)) if not forced[p]]
        batch = _FIRST_BATCH
        while open_pairs:
            links: list[tuple[int, int, int]] = []
            chunks: list[tuple[int, ...]] = []
            spans: list[tuple[int, int, int]] = []
            still_open: list[int] = []
            for p in open_pairs:
                chunk = list(itertools.islice(subsets[p], batch))
                spans.append((p, len(chunks), len(chunks) + len(chunk)))
                links += [pairs[p]] * len(chunk)
                chunks += chunk
            vals, pvals, dependent = self.runner.run(np.array(links, dtype=np.intp),
                                                     np.array(chunks, dtype=np.intp).reshape(len(chunks), dim),
                                                     np.full(len(chunks), dim))
            vals_l, pvals_l, dependent_l = vals.tolist(), pvals.tolist(), dependent.tolist()
            for p, first, stop in spans:
                outcomes[p] += zip(chunks[first:stop], vals_l[first:stop], pvals_l[first:stop],
                                   dependent_l[first:stop])
                if stop - first == batch and all(dependent_l[first:stop]):
                    still_open.append(p)  # no independent test yet and more subsets may follow
            open_pairs = still_open
            batch *= 2
        for pair, pair_outcomes in zip(pairs, outcomes):
            if self.graph[pair] != "":  # a lag-0 pair goes when its reverse was found independent
                self._apply(pair, iter(pair_outcomes))

    def _one_by_one(self, pair: tuple[int, int, int], subsets, dim: int):
        """The pair's tests computed one at a time, as its bookkeeping asks for them."""
        for subset in subsets:
            vals, pvals, dependent = self.runner.run(np.array([pair]), np.array([subset]).reshape(1, dim),
                                                     np.array([dim]))
            yield subset, float(vals[0]), float(pvals[0]), bool(dependent[0])

    def _apply(self, pair: tuple[int, int, int], outcomes) -> None:
        """One pair's tests in subset order until the first independent one (tigramite's bookkeeping)."""
        i, j, lag = pair
        stored_min, p_max, val_at_max = self.val_min[pair], self.p_matrix[pair], self.val_matrix[pair]
        separating = None
        for subset, val, pval, dependent in outcomes:
            stored_min = stored_min if stored_min < abs(val) else abs(val)
            if pval >= p_max:
                p_max, val_at_max = pval, val
            if not dependent:
                separating = [(k, 0) for k in subset]
                break
        self.val_min[pair], self.p_matrix[pair], self.val_matrix[pair] = stored_min, p_max, val_at_max
        if separating is None:
            return
        if lag == 0:
            self.graph[i, j, 0] = self.graph[j, i, 0] = ""
            self.sepsets[((i, 0), j)] = self.sepsets[((j, 0), i)] = separating
            self.p_matrix[j, i, 0] = self.p_matrix[i, j, 0]
        else:
            self.graph[i, j, lag] = ""
            self.sepsets[((i, -lag), j)] = separating


def _links_for_skeleton(links: LinkAssumptions, parents: dict[int, list[Node]], n_vars: int,
                        reset_lagged_links: bool) -> LinkAssumptions:
    """The skeleton's starting links: PC1's lagged parents (or all lagged links) plus every lag-0 link."""
    if reset_lagged_links:
        return {j: dict(links[j]) for j in range(n_vars)}
    chosen: LinkAssumptions = {}
    for j in range(n_vars):
        chosen[j] = {node: links[j][node] for node in parents[j] if links[j][node] in ("-?>", "-->")}
        chosen[j].update({node: t for node, t in links[j].items() if node[1] == 0})
    return chosen


def _graph_of(links: LinkAssumptions, n_vars: int, tau_max: int) -> np.ndarray:
    graph = np.zeros((n_vars, n_vars, tau_max + 1), dtype="<U3")
    for j, entries in links.items():
        for (i, lag), link_type in entries.items():
            graph[i, j, -lag] = link_type
    return graph


def pcmciplus_single(oracle: LaggedParCorr, n_vars: int, opts: PlusOptions,
                     link_assumptions: LinkAssumptions | None = None) -> dict[str, Any]:
    """``run_pcmciplus`` for one ``pc_alpha`` value."""
    opts.check(n_vars)
    tau_min, tau_max = opts.tau_min, opts.tau_max
    pc_tau_min = max(1, tau_min)
    if link_assumptions is None:  # cached, shared (read-only) defaults
        links = default_link_assumptions(n_vars, tau_min, tau_max)
        candidates: Sequence[PCCandidates] = default_pc_candidates(n_vars, pc_tau_min, tau_max)
    else:
        links = normalize_link_assumptions(link_assumptions, n_vars, tau_min, tau_max)
        pc_links = normalize_link_assumptions(link_assumptions, n_vars, pc_tau_min, tau_max, remove_contemp=True)
        candidates = [PCCandidates.from_links(n_vars, j, pc_links[j]) for j in range(n_vars)]
    pc1 = run_pc_stable(oracle, candidates, n_vars, pc_tau_min, tau_max, opts.pc_alpha, opts.max_conds_dim,
                        opts.max_combinations)
    p_matrix, val_matrix = pc1.matrices(n_vars, tau_max)

    skeleton_links = _links_for_skeleton(links, pc1.parents, n_vars, opts.reset_lagged_links)
    runner = TestRunner(oracle, LaggedConditions(pc1.parents, n_vars, tau_min, tau_max, opts), opts.pc_alpha)
    skeleton = Skeleton(_graph_of(skeleton_links, n_vars, tau_max), runner, tau_min, tau_max,
                        n_vars if opts.max_conds_dim is None else opts.max_conds_dim, oracle.has_degenerate)
    skeleton.run()
    symmetrize(skeleton.p_matrix, skeleton.val_matrix, skeleton_links)
    p_matrix[:, :, 0] = skeleton.p_matrix[:, :, 0]
    val_matrix[:, :, 0] = skeleton.val_matrix[:, :, 0]
    for j, entries in skeleton_links.items():
        for (i, lag), link_type in entries.items():
            if link_type not in ("<--", "<?-"):
                p_matrix[i, j, -lag] = skeleton.p_matrix[i, j, -lag]
                val_matrix[i, j, -lag] = skeleton.val_matrix[i, j, -lag]
    if opts.fdr_method not in (None, "none"):
        p_matrix = fdr_bh(p_matrix, links)

    graph = skeleton.graph
    for assumed, resolved in (("o?o", "o-o"), ("-?>", "-->"), ("<?-", "<--")):
        graph[graph == assumed] = resolved

    def separating(triples_and_subsets: list[tuple[Triple, list[Node]]]) -> list[bool]:
        # An unshielded triple's ends are not adjacent, so no assumed-present link: every test runs.
        links = np.array([(i, j, -lag) for ((i, lag), _, j), _ in triples_and_subsets], dtype=np.intp)
        sizes = np.array([len(subset) for _, subset in triples_and_subsets], dtype=np.intp)
        subsets = np.zeros((len(sizes), max(1, int(sizes.max(initial=0)))), dtype=np.intp)
        for k, (_, subset) in enumerate(triples_and_subsets):
            subsets[k, :len(subset)] = [node for node, _ in subset]
        if oracle.has_degenerate:  # tigramite's order, one test at a time
            return [not runner.run(links[k:k + 1], subsets[k:k + 1], sizes[k:k + 1])[2][0]
                    for k in range(len(sizes))]
        return (~runner.run(links, subsets, sizes)[2]).tolist()

    ambiguous = orient_colliders(graph, skeleton.sepsets, opts.contemp_collider_rule, opts.conflict_resolution,
                                 separating)
    final = apply_rules(graph, ambiguous, opts.conflict_resolution)
    return {"graph": final, "p_matrix": p_matrix, "val_matrix": val_matrix, "sepsets": skeleton.sepsets,
            "ambiguous_triples": ambiguous, "conf_matrix": None}


def run_pcmciplus(oracle: LaggedParCorr, n_vars: int, opts: PlusOptions, pc_alpha: Any,
                  link_assumptions: LinkAssumptions | None = None) -> dict[str, Any]:
    """``run_pcmciplus`` including tigramite's pc_alpha selection (``pc_alpha`` a list, or None for its grid):
    each value's graph is turned into one DAG and scored by the mean AIC of every variable given its parents."""
    if pc_alpha is not None and not isinstance(pc_alpha, (list, tuple, np.ndarray)):
        return pcmciplus_single(oracle, n_vars, _with_alpha(opts, pc_alpha), link_assumptions)
    alphas = list(DEFAULT_PC_ALPHA_GRID if pc_alpha is None else pc_alpha)
    results: dict[Any, dict[str, Any]] = {}
    scores = np.zeros_like(alphas)
    for k, alpha in enumerate(alphas):
        results[alpha] = pcmciplus_single(oracle, n_vars, _with_alpha(opts, alpha), link_assumptions)
        order = np.argsort(np.abs(results[alpha]["val_matrix"]).sum(axis=(0, 2)))[::-1].tolist()
        dag = dag_from_cpdag(results[alpha]["graph"], order)
        for j in range(n_vars):
            z_cols = [node_column((int(i), -int(lag)), n_vars) for i, lag in zip(*np.nonzero(dag[:, j, :] == "-->"))]
            scores[k] += oracle.model_selection_score(j, z_cols)
        scores[k] /= float(n_vars)
    best = alphas[int(scores.argmin())]
    chosen = results[best]
    chosen["optimal_alpha"] = best
    return chosen


def _with_alpha(opts: PlusOptions, alpha: float) -> PlusOptions:
    return PlusOptions(**{**opts.__dict__, "pc_alpha": alpha})
