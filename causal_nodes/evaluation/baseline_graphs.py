"""Data-free graphs: what a score is worth before any data is looked at.

Why: an F1 figure means little without the F1 of a guess. When a reference graph is dense (the HRI references
link 41-59 % of the variable pairs, mostly at lags 0 and 1), linking everything already scores a lag-collapsed F1
around 0.65, and a method must beat that to have learnt anything from the data. The benchmarks score these graphs
beside every discovery pipeline, over the same variables, with the same scorer.

Two guesses, both independent of the data:

* :func:`complete_graph`: every pair at every lag in ``lags`` (autolinks at lags >= 1), lag-0 pairs undirected
  (``o-o``), as a method that rejects nothing would report.
* the same with ``lags=(0, 1)``: "everything at the shortest lags", the prior of a physicist who expects direct
  effects within one step of a 10 Hz grid.

Two more for the reference whose band is in units of Y's spread (``interventional-spread``), whose links sit at
lag 1 (83 of 118 on the default variables, 2 at lag 0) and are 39 % autolinks: ``lag1`` (every pair at lag 1) and
``autolinks`` (every variable's own lag-1 link, nothing else: "each variable persists"). They were added after that
profile was seen, so they are the bar a method must clear there, not a prior.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

BaselineLink = tuple[str, str, int, str]


def complete_graph(names: Sequence[str], lags: Iterable[int], autolinks_only: bool = False) -> list[BaselineLink]:
    """Every ``source(t - lag) -> target(t)`` for ``lag`` in ``lags``; a lag-0 pair once, undirected (with
    ``autolinks_only``: only ``X(t - lag) -> X(t)``, lags >= 1)."""
    links: list[BaselineLink] = []
    for lag in sorted({int(lag) for lag in lags}):
        if lag < 0:
            raise ValueError(f"lags must be >= 0, got {lag}")
        for i, source in enumerate(names):
            for j, target in enumerate(names):
                if (lag == 0 and j <= i) or (autolinks_only and i != j):
                    continue
                links.append((source, target, lag, "o-o" if lag == 0 else "-->"))
    return links


BASELINES = {
    "complete": lambda names, tau_max: complete_graph(names, range(tau_max + 1)),
    "lags01": lambda names, tau_max: complete_graph(names, range(min(tau_max, 1) + 1)),
    "lag1": lambda names, tau_max: complete_graph(names, range(1, min(tau_max, 1) + 1)),
    "autolinks": lambda names, tau_max: complete_graph(names, range(1, min(tau_max, 1) + 1), autolinks_only=True),
}
"""Baseline graphs by name: ``complete`` (all lags 0..tau_max), ``lags01`` (all pairs at lags 0 and 1), ``lag1``
(all pairs at lag 1), ``autolinks`` (each variable's lag-1 autolink)."""


def baseline_graph(kind: str, names: Sequence[str], tau_max: int) -> list[BaselineLink]:
    """The data-free graph ``kind`` (a key of :data:`BASELINES`) over ``names`` up to ``tau_max``."""
    if kind not in BASELINES:
        raise ValueError(f"unknown baseline {kind!r}; known: {sorted(BASELINES)}")
    return BASELINES[kind](list(names), int(tau_max))
