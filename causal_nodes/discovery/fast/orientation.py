"""PCMCI+ orientation: unshielded triples, collider rules, Meek-style rules and conflict marks, as tigramite does.

Why a separate module: these steps only read and write the string graph (``'o-o'``, ``'-->'``, ``'<--'``,
``'x-x'``, ``''``) and never touch data, except the collider rules ``majority``/``conservative``, which ask a
callback which condition sets separate a triple's ends. The result must equal tigramite's
``_pcalg_colliders`` / ``_pcalg_rules_timeseries`` mark for mark -- including the order-dependent parts: links
are oriented in triple order, a link oriented twice in opposite directions becomes ``'x-x'`` (conflict
resolution), and conflicting links are ignored when new triples are searched. Nodes are ``(var, -lag)`` tuples;
a triple is ``((i, -tau), k, j)`` for ``i(t-tau) -- k(t) -- j(t)``.

Also here: one DAG of a CPDAG (tigramite's ``_get_dag_from_cpdag``), used to score pc_alpha values.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

Node = tuple[int, int]
Triple = tuple[Node, int, int]
Sepsets = dict[tuple[Node, int], list[Node]]
#: ``separating(triples_and_subsets) -> list of bools``: for each ``(triple, S)`` whether S separates the
#: triple's ends (the MCI test given S is independent).
SeparationTest = Callable[[list[tuple[Triple, list[Node]]]], list[bool]]

COLLIDER_RULES = ("majority", "conservative", "none")
CONFLICT = "x-x"


def adjacencies(graph: np.ndarray, include_conflicts: bool = True, contemporaneous: bool = False) -> list[list[Node]]:
    """Adjacent nodes of every variable in np.where order (var, then lag), as tigramite's ``_get_adj_time_series``
    (``contemporaneous``: only lag-0 nodes, its ``_contemp`` variant)."""
    present = graph != ""
    if not include_conflicts:
        present &= (graph != CONFLICT) & (graph != "x?x")
    if contemporaneous:
        return [[(int(i), 0) for i in np.flatnonzero(present[:, j, 0])] for j in range(graph.shape[1])]
    return [[(int(i), -int(tau)) for i, tau in zip(*np.nonzero(present[:, j, :]))] for j in range(graph.shape[1])]


def unshielded_triples(graph: np.ndarray, into_k: tuple[str, ...] = ("o-o", "-->")) -> list[Triple]:
    """Triples ``i(t-tau) *-* k(t) o-o j(t)`` with i and j not adjacent and the i-k link one of ``into_k``
    (default: ``o-o`` or ``-->``, the collider candidates; rule 1 asks for ``-->``); conflicts excluded."""
    adj = adjacencies(graph, include_conflicts=False)
    triples: list[Triple] = []
    for j in range(graph.shape[0]):
        for k, lag_k in adj[j]:
            if lag_k != 0 or graph[k, j, 0] != "o-o":
                continue
            for i, lag_i in adj[k]:
                if (i, lag_i) != (j, 0) and graph[i, j, -lag_i] == "" and graph[i, k, -lag_i] in into_k:
                    triples.append(((i, lag_i), k, j))
    return triples


def _all_subsets(nodes: Sequence[Node]) -> list[list[Node]]:
    """Every subset of ``nodes`` (none if ``nodes`` is empty), deduplicated through a set as tigramite does,
    so the subsets come in the same order and its replayed tests (if any) run in the same order."""
    if not nodes:
        return []
    found: list[tuple[Node, ...]] = []
    for size in range(len(nodes) + 1):
        found += list(itertools.combinations(nodes, size))
    return [list(subset) for subset in list(set(found))]


def _neighbor_subsets(adj: list[list[Node]], triple: Triple) -> list[list[Node]]:
    """Condition sets the collider rules try for a triple: subsets of j's contemporaneous neighbours (without
    i), and for a lag-0 triple also of i's (without j); duplicates dropped, first occurrence kept."""
    (i, lag), _, j = triple
    candidates = _all_subsets([(node, lag_n) for node, lag_n in adj[j] if not (node == i and lag == lag_n)])
    if lag == 0:
        candidates += _all_subsets([(node, lag_n) for node, lag_n in adj[i] if not (node == j and lag_n == 0)])
    unique: list[list[Node]] = []
    for subset in candidates:
        if subset not in unique:
            unique.append(subset)
    return unique


def _add_sepset_member(sepsets: Sepsets, triple: Triple, add: bool) -> None:
    """Put the middle node into (or take it out of) the triple's separating set(s)."""
    (i, lag), k, j = triple
    keys = [((i, lag), j)] + ([((j, lag), i)] if lag == 0 else [])
    for key in keys:
        present = (k, 0) in sepsets[key]
        if add and not present:
            sepsets[key].append((k, 0))
        elif not add and present:
            sepsets[key].remove((k, 0))


def orient_colliders(graph: np.ndarray, sepsets: Sepsets, rule: str, conflict_resolution: bool,
                     separating: SeparationTest) -> list[Triple]:
    """tigramite's collider phase on ``graph`` (in place, '?' middle marks already resolved); returns the
    ambiguous triples and updates ``sepsets`` as the majority/conservative rules do."""
    if any(mark[1] != "-" for mark in graph[graph != ""]):
        raise ValueError("Middle mark '?' exists!")
    triples = unshielded_triples(graph)
    v_structures: list[Triple] = []
    ambiguous: list[Triple] = []
    if rule in (None, "none"):
        v_structures = [t for t in triples if (t[1], 0) not in sepsets[(t[0], t[2])]]
    else:
        adj = adjacencies(graph, contemporaneous=True)
        subsets = [_neighbor_subsets(adj, triple) for triple in triples]
        verdicts = iter(separating([(triple, s) for triple, subs in zip(triples, subsets) for s in subs]))
        for triple, subs in zip(triples, subsets):
            separating_sets = [s for s in subs if next(verdicts)]
            if not separating_sets:
                ambiguous.append(triple)
                continue
            fraction = sum((triple[1], 0) in s for s in separating_sets) / float(len(separating_sets))
            collider = fraction == 0 if rule == "conservative" else fraction < 0.5
            non_collider = fraction == 1 if rule == "conservative" else fraction > 0.5
            if collider:
                v_structures.append(triple)
                _add_sepset_member(sepsets, triple, add=False)
            elif non_collider:
                _add_sepset_member(sepsets, triple, add=True)
            else:
                ambiguous.append(triple)
    oriented: list[tuple[int, int]] = []
    for (i, lag), k, j in v_structures:
        _orient(graph, j, k, oriented, conflict_resolution)
        if lag == 0:
            _orient(graph, i, k, oriented, conflict_resolution)
    return ambiguous


def _orient(graph: np.ndarray, cause: int, effect: int, oriented: list[tuple[int, int]],
            conflict_resolution: bool) -> None:
    """Orient ``cause --> effect`` (lag 0) unless that pair was oriented before; a pair oriented both ways is
    marked as a conflict when ``conflict_resolution``."""
    if (cause, effect) not in oriented and (effect, cause) not in oriented:
        graph[cause, effect, 0] = "-->"
        graph[effect, cause, 0] = "<--"
        oriented.append((cause, effect))
    if conflict_resolution and (effect, cause) in oriented:
        graph[cause, effect, 0] = graph[effect, cause, 0] = CONFLICT


def _rule2_triples(graph: np.ndarray) -> list[Triple]:
    """``i(t) --> k(t) --> j(t)`` with ``i o-o j``."""
    adj = adjacencies(graph, include_conflicts=False, contemporaneous=True)
    found: list[Triple] = []
    for j in range(graph.shape[0]):
        for k, _ in adj[j]:
            if graph[k, j, 0] != "-->":
                continue
            for i, lag_i in adj[k]:
                if (graph[i, k, 0] == "-->" and (i, lag_i) != (j, 0)
                        and graph[i, j, 0] == "o-o" and graph[j, i, 0] == "o-o"):
                    found.append(((i, 0), k, j))
    return found


def _rule3_chains(graph: np.ndarray) -> list[tuple[Triple, Triple]]:
    """``i o-o k --> j`` and ``i o-o l --> j`` with ``i o-o j`` and k, l not adjacent."""
    adj = adjacencies(graph, include_conflicts=False, contemporaneous=True)
    found: list[tuple[Triple, Triple]] = []
    for j in range(graph.shape[0]):
        neighbours = [node for node, _ in adj[j]]
        for i in neighbours:
            if graph[j, i, 0] != "o-o":
                continue
            for k in neighbours:
                for l in neighbours:  # noqa: E741 - the name of the rule's fourth node
                    if (k != l and k != i and l != i and graph[k, j, 0] == "-->" and graph[l, j, 0] == "-->"
                            and graph[k, i, 0] == "o-o" and graph[l, i, 0] == "o-o" and graph[k, l, 0] == ""):
                        found.append((((i, 0), k, j), ((i, 0), l, j)))
    return found


def apply_rules(graph: np.ndarray, ambiguous: list[Triple], conflict_resolution: bool) -> np.ndarray:
    """tigramite's rule phase: rules 1-3 in turn until none finds an unambiguous motif; returns a new graph."""
    graph = graph.copy()
    oriented: list[tuple[int, int]] = []
    again = True
    while again:
        again = False
        for (i, lag), k, j in unshielded_triples(graph, into_k=("-->",)):
            if ((i, lag), k, j) not in ambiguous:
                again = True
                _orient(graph, k, j, oriented, conflict_resolution)
        for triple in _rule2_triples(graph):
            if triple not in ambiguous:
                again = True
                _orient(graph, triple[0][0], triple[2], oriented, conflict_resolution)
        for first, second in _rule3_chains(graph):
            if first not in ambiguous and second not in ambiguous:
                again = True
                _orient(graph, first[0][0], first[2], oriented, conflict_resolution)
    return graph


def dag_from_cpdag(cpdag: np.ndarray, variable_order: Sequence[int]) -> np.ndarray:
    """One DAG of the equivalence class (tigramite's ``_get_dag_from_cpdag``): repeatedly take the first
    simplicial node of the circle component in ``variable_order`` and orient its circle links into it."""
    dag = cpdag.copy()
    circle = cpdag.copy()
    circle[:, :, 1:] = ""
    circle[circle == CONFLICT] = ""
    for i, j in zip(*np.nonzero(circle[:, :, 0] != "")):
        if circle[i, j, 0][1] == "?":
            raise ValueError("Invalid middle mark.")
        if circle[i, j, 0] == "-->":
            circle[i, j, 0] = ""
    while True:
        node = _simplicial_node(circle, variable_order)
        if node is None:
            return dag
        j, neighbours = node
        for var in neighbours:
            dag[var, j, 0] = "-->"
            dag[j, var, 0] = "<--"
            circle[var, j, 0] = circle[j, var, 0] = ""


def _simplicial_node(circle: np.ndarray, variable_order: Sequence[int]) -> tuple[int, list[int]] | None:
    """First node (in ``variable_order``) whose circle neighbours are pairwise adjacent in ``circle``."""
    for j in variable_order:
        neighbours = np.flatnonzero((circle[:, j, 0] == "o-o") | (circle[:, j, 0] == "o?o")).tolist()
        if len(neighbours) == 1:
            return j, neighbours
        if neighbours and all(circle[a, b, 0] != "" for a, b in itertools.combinations(neighbours, 2)):
            return j, neighbours
    return None
