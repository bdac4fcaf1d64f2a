"""Scores an ancestral graph (LPCMCI's marks ``-->``, ``o->``, ``<->``, ``o-o``) as such against a reference DAG.

Why not the usual link F1: an LPCMCI edge says something different from a PCMCI link. ``X o-> Y`` claims only that
Y is not a cause of X; ``X <-> Y`` claims that neither causes the other (a hidden common cause links them);
a circle claims nothing. Counting ``<->`` as a found link, or ``o->`` as a directed one, scores claims the method
did not make. Here an edge is scored twice:

* **adjacency**: the edge between X(t - lag) and Y(t) against the reference's links between them (either
  direction at lag 0), as precision / recall / F1;
* **marks**: each non-circle end mark against ancestry in the reference's time-series graph, unrolled over
  ``2 * tau_max + 1`` steps. A tail at X claims X is an ancestor of Y; an arrowhead at Y claims Y is not an
  ancestor of X (at lag > 0 always right: time order); an arrowhead at X claims X is not an ancestor of Y.
  ``mark_precision`` is the share of claims that hold.

An edge between a pair the reference does not link is an adjacency false positive, but its marks can still be right
(``<->`` between two variables driven by the same hidden state claims no causation, which holds).
"""
from __future__ import annotations

from collections.abc import Iterable

Link = tuple[str, str, int]


def _edges(links: Iterable) -> list[tuple[str, str, int, str]]:
    out = []
    for link in links:
        if isinstance(link, tuple):
            out.append((str(link[0]), str(link[1]), int(link[2]), str(link[3]) if len(link) > 3 else "-->"))
        else:
            out.append((link.source, link.target, int(link.lag), link.link_type))
    return out


def ancestors(reference: Iterable[Link], tau_max: int) -> set[tuple[str, int, str, int]]:
    """``(a, a_lag, b, b_lag)`` where a(t - a_lag) is an ancestor of b(t - b_lag), lags 0..2 tau_max."""
    horizon = 2 * tau_max
    parents: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for source, target, lag in reference:
        for t_lag in range(horizon + 1):
            if t_lag + lag <= horizon:
                parents.setdefault((target, t_lag), []).append((source, t_lag + lag))
    out: set[tuple[str, int, str, int]] = set()
    for node in {n for n in parents} | {p for ps in parents.values() for p in ps}:
        stack, seen = list(parents.get(node, [])), set()
        while stack:
            parent = stack.pop()
            if parent in seen:
                continue
            seen.add(parent)
            out.add((parent[0], parent[1], node[0], node[1]))
            stack.extend(parents.get(parent, []))
    return out


def score_ancestral(discovered: Iterable, reference: Iterable[Link], tau_max: int) -> dict[str, float]:
    """Adjacency precision/recall/F1 and end-mark precision (see the module docstring)."""
    reference = {(str(s), str(t), int(lag)) for s, t, lag in reference}
    adjacent = {frozenset(((s, lag), (t, 0))) for s, t, lag in reference}
    found = {}
    for source, target, lag, kind in _edges(discovered):
        found.setdefault(frozenset(((source, lag), (target, 0))), (source, target, lag, kind))
    tp = sum(1 for pair in found if pair in adjacent)
    precision = tp / len(found) if found else 1.0
    recall = tp / len(adjacent) if adjacent else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    ancestry = ancestors(reference, tau_max)
    claims = right = 0
    for source, target, lag, kind in found.values():
        tail, head = kind[0], kind[-1]  # "o" (circle) and "x" (conflict) claim nothing
        if tail in "-<":  # the mark at the source
            claims += 1
            is_ancestor = (source, lag, target, 0) in ancestry
            right += is_ancestor if tail == "-" else not is_ancestor
        if head in "->":  # the mark at the target
            claims += 1
            target_causes = (target, 0, source, lag) in ancestry
            right += target_causes if head == "-" else not target_causes
    return {"adjacency_precision": precision, "adjacency_recall": recall, "adjacency_f1": f1,
            "adjacency_tp": tp, "edges": len(found), "mark_claims": claims,
            "mark_precision": right / claims if claims else float("nan")}
