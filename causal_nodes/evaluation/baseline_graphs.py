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
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

BaselineLink = tuple[str, str, int, str]


def complete_graph(names: Sequence[str], lags: Iterable[int]) -> list[BaselineLink]:
    """Every ``source(t - lag) -> target(t)`` for ``lag`` in ``lags``; a lag-0 pair once, undirected."""
    links: list[BaselineLink] = []
    for lag in sorted({int(lag) for lag in lags}):
        if lag < 0:
            raise ValueError(f"lags must be >= 0, got {lag}")
        for i, source in enumerate(names):
            for j, target in enumerate(names):
                if lag == 0 and j <= i:
                    continue
                links.append((source, target, lag, "o-o" if lag == 0 else "-->"))
    return links


BASELINES = {
    "complete": lambda names, tau_max: complete_graph(names, range(tau_max + 1)),
    "lags01": lambda names, tau_max: complete_graph(names, range(min(tau_max, 1) + 1)),
}
"""Baseline graphs by name: ``complete`` (all lags 0..tau_max) and ``lags01`` (all pairs at lags 0 and 1)."""


def baseline_graph(kind: str, names: Sequence[str], tau_max: int) -> list[BaselineLink]:
    """The data-free graph ``kind`` (a key of :data:`BASELINES`) over ``names`` up to ``tau_max``."""
    if kind not in BASELINES:
        raise ValueError(f"unknown baseline {kind!r}; known: {sorted(BASELINES)}")
    return BASELINES[kind](list(names), int(tau_max))
