"""Turn a discovered lagged causal graph into directed parent sets for a structural model.

Why a separate module: the discovery may return lag-0 links it could not orient ("o-o"), conflicting
ones ("x-x") or confounded ones ("<->").  A structural model needs a direction for every edge it uses,
so this module applies an explicit, documented policy and *records* every decision (``oriented`` and
``ignored`` lists) so that nothing is dropped or flipped silently.

Conventions (same as the shared interface spec): a link ``(source, target, lag, link_type)`` is the
tigramite graph entry ``graph[source, target, lag]``; ``lag > 0`` means ``source(t - lag) -> target(t)``
whatever the mark (time order orients it).  At ``lag == 0``:

* ``"-->"`` / ``"o->"``: source -> target (``o->`` is kept: a possible ancestor favours recall).
* ``"<--"`` / ``"<-o"``: target -> source.
* ``"o-o"`` / ``"x-x"`` (undirected / conflicting): with ``undirected="orient"`` oriented by the rule
  below, with ``undirected="ignore"`` left out of the model; either way listed in the result.
* ``"<->"`` (latent confounder, no causal path): left out of the model and listed as ignored.

Orientation rule for undirected lag-0 links (first that applies):
  1. an actionable variable (set by the robot) is a cause, not an effect: actionable -> other;
  2. the prioritisation target is an effect: other -> target;
  3. otherwise the variable listed first in ``names`` is the cause (deterministic, documented);
  and an orientation that would close a contemporaneous cycle is reversed (if both close one the link
  is ignored), so the lag-0 model stays acyclic and solvable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from causal_nodes.choices import Choice

DIRECTED_FORWARD = {"-->", "o->", ""}
DIRECTED_BACKWARD = {"<--", "<-o"}
UNDIRECTED = {"o-o", "x-x"}
CONFOUNDED = {"<->"}


class UndirectedPolicy(Choice):
    """What the model does with an undirected lag-0 link: orient it by the rule above, or leave it out."""

    ORIENT = "orient"
    IGNORE = "ignore"


@dataclass(frozen=True)
class Edge:
    """A directed model edge: ``source(t - lag) -> target(t)``."""

    source: str
    target: str
    lag: int


@dataclass
class DirectedGraph:
    """Directed edges used by the structural model plus the record of every policy decision."""

    edges: list[Edge] = field(default_factory=list)
    oriented: list[tuple[str, str, int, str]] = field(default_factory=list)
    ignored: list[tuple[str, str, int, str]] = field(default_factory=list)
    undirected_pairs: list[tuple[str, str]] = field(default_factory=list)

    def parents(self, names: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
        """Parents ``(variable, lag)`` of each variable, in a stable order."""
        out: dict[str, list[tuple[str, int]]] = {n: [] for n in names}
        for e in sorted(set(self.edges), key=lambda e: (e.target, e.lag, e.source)):
            out[e.target].append((e.source, e.lag))
        return out

    @property
    def max_lag(self) -> int:
        return max((e.lag for e in self.edges), default=0)


def normalize_link(link: Any) -> tuple[str, str, int, str]:
    """Accept ``(s, t, lag)``, ``(s, t, lag, type)`` or an object with ``source/target/lag[/link_type]``.

    Objects cover both ``causal_nodes.discovery.discover.Link`` and ``causal_msgs/CausalLink`` messages.
    """
    if hasattr(link, "source") and hasattr(link, "target") and hasattr(link, "lag"):
        s, t, lag = link.source, link.target, link.lag
        kind = getattr(link, "link_type", "-->") or "-->"
    else:
        try:
            items = tuple(link)
        except TypeError as exc:
            raise ValueError(f"cannot read link {link!r}: expected (source, target, lag[, link_type])") from exc
        if len(items) == 3:
            s, t, lag = items
            kind = "-->"
        elif len(items) >= 4:
            s, t, lag, kind = items[:4]
        else:
            raise ValueError(f"cannot read link {link!r}: expected (source, target, lag[, link_type])")
    lag_int = int(lag)
    if lag_int < 0:
        raise ValueError(f"link {s!r}->{t!r} has negative lag {lag_int}")
    return str(s), str(t), lag_int, str(kind)


def _reaches(adj: dict[str, set[str]], start: str, goal: str) -> bool:
    stack, seen = [start], {start}
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for nxt in adj.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def build_directed_graph(
    links: Iterable[Any],
    names: Sequence[str],
    *,
    target: str,
    actionable: Iterable[str] = (),
    undirected: UndirectedPolicy | str = UndirectedPolicy.ORIENT,
) -> DirectedGraph:
    """Apply the orientation policy of this module to ``links`` (see the module docstring)."""
    undirected = UndirectedPolicy.parse(undirected, "undirected policy")
    known = set(names)
    order = {n: i for i, n in enumerate(names)}
    act = set(actionable)
    graph = DirectedGraph()
    pending: list[tuple[str, str, int, str]] = []
    seen: set[tuple[str, str, int]] = set()
    for raw in links:
        s, t, lag, kind = normalize_link(raw)
        for v in (s, t):
            if v not in known:
                raise ValueError(f"link {s!r}->{t!r} (lag {lag}) names unknown variable {v!r}; known: {sorted(known)}")
        if lag == 0 and s == t:
            raise ValueError(f"contemporaneous self-link on {s!r} is not a valid causal link")
        if kind in CONFOUNDED:
            graph.ignored.append((s, t, lag, kind))
            continue
        if lag > 0:
            edge = (s, t, lag)
        elif kind in DIRECTED_FORWARD:
            edge = (s, t, 0)
        elif kind in DIRECTED_BACKWARD:
            edge = (t, s, 0)
        elif kind in UNDIRECTED:
            pending.append((s, t, lag, kind))
            continue
        else:
            raise ValueError(f"unknown link_type {kind!r} on link {s!r}->{t!r} lag {lag}")
        if edge not in seen:
            seen.add(edge)
            graph.edges.append(Edge(*edge))

    # Orient the undirected lag-0 links after all directed ones are known (to avoid creating cycles).
    adj0: dict[str, set[str]] = {}
    for e in graph.edges:
        if e.lag == 0:
            adj0.setdefault(e.source, set()).add(e.target)
    for s, t, lag, kind in pending:
        graph.undirected_pairs.append((s, t))
        if undirected is UndirectedPolicy.IGNORE:
            graph.ignored.append((s, t, lag, kind))
            continue
        if (s in act) != (t in act):
            cause, effect = (s, t) if s in act else (t, s)
        elif target in (s, t) and s != t:
            cause, effect = (t, s) if s == target else (s, t)
        else:
            cause, effect = (s, t) if order[s] <= order[t] else (t, s)
        if _reaches(adj0, effect, cause):  # cause -> effect would close a cycle: try the reverse
            cause, effect = effect, cause
            if _reaches(adj0, effect, cause):
                graph.ignored.append((s, t, lag, kind))
                continue
        if (cause, effect, 0) not in seen:
            seen.add((cause, effect, 0))
            graph.edges.append(Edge(cause, effect, 0))
            adj0.setdefault(cause, set()).add(effect)
        graph.oriented.append((cause, effect, 0, kind))
    return graph


def ancestors(graph: DirectedGraph, target: str, *, include_undirected: bool = False) -> set[str]:
    """Variables with a directed path (any lags) into ``target`` (``target`` itself excluded).

    With ``include_undirected`` the undirected lag-0 pairs count in both directions ("possible
    ancestors"): the causal-bandit lesson is that a missed edge can hide the best intervention while an
    extra edge only costs samples, so candidate sets are built from this recall-favouring set.
    """
    rev: dict[str, set[str]] = {}
    for e in graph.edges:
        rev.setdefault(e.target, set()).add(e.source)
    if include_undirected:
        for a, b in graph.undirected_pairs:
            rev.setdefault(a, set()).add(b)
            rev.setdefault(b, set()).add(a)
    out: set[str] = set()
    stack = [target]
    while stack:
        node = stack.pop()
        for p in rev.get(node, ()):
            if p not in out:
                out.add(p)
                stack.append(p)
    out.discard(target)
    return out
