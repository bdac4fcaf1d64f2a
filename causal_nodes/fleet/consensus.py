"""Fleet consensus: how often each causal link holds across bags and windows, with bootstrap intervals.

Definitions (also in docs/fleet.md):

* A link is ``(source, target, lag)``: ``source(t - lag) -> target(t)``. Undirected contemporaneous links (``o-o``,
  ``x-x``) are keyed with the two names in alphabetical order, so the same adjacency found in two bags counts once.
* A bag is *eligible* for a link when both variables were in its graph (present in the bag and not constant);
  ``frequency`` = bags whose pooled graph has the link / eligible bags. ``window_frequency`` is the same over all
  window graphs of all bags.
* Intervals: a cluster bootstrap over bags (bags drawn with replacement, each with all its windows, seeded), so
  the interval reflects the variation between robots and runs, not the dependence between overlapping windows of
  one run; the percentile interval at ``level``.
* A link *holds* in the fleet when its ``frequency`` (``window_frequency`` when no pooled graphs were computed)
  reaches ``threshold``.
"""
from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from causal_nodes.discovery.discover import Link

from .bag_analysis import BagResult

LinkKey = tuple[str, str, int]


def link_key(link: Link) -> LinkKey:
    """``(source, target, lag)``; an undirected lag-0 link with its names in alphabetical order."""
    if link.lag == 0 and link.link_type != "-->" and link.target < link.source:
        return (link.target, link.source, 0)
    return (link.source, link.target, int(link.lag))


def link_label(key: LinkKey) -> str:
    source, target, lag = key
    return f"{source}(t-{lag}) -> {target}" if lag else f"{source} -- {target} (lag 0)"


def key_set(links: Iterable[Link]) -> set[LinkKey]:
    return {link_key(link) for link in links}


@dataclass
class ConsensusLink:
    source: str
    target: str
    lag: int
    link_type: str
    """The most frequent link type (``-->``, ``o-o``, …) among the graphs that have the link."""
    bags: int
    eligible_bags: int
    frequency: float
    frequency_low: float
    frequency_high: float
    windows: int
    eligible_windows: int
    window_frequency: float
    window_frequency_low: float
    window_frequency_high: float
    mean_strength: float
    """Mean strength (partial correlation for ParCorr) over the pooled graphs that have the link (windows if none)."""
    holds: bool

    @property
    def key(self) -> LinkKey:
        return (self.source, self.target, self.lag)


@dataclass
class Consensus:
    bags: int
    windows: int
    threshold: float
    level: float
    replicates: int
    links: list[ConsensusLink]

    def holding(self) -> list[ConsensusLink]:
        return [link for link in self.links if link.holds]


class _Indicators:
    """Per bag and link: has it / eligible for it, for pooled graphs and (as counts) for windows."""

    def __init__(self, results: Sequence[BagResult]) -> None:
        keys: set[LinkKey] = set()
        for result in results:
            keys |= key_set(result.graph or [])
            for window in result.windows:
                keys |= key_set(window.links)
        self.keys = sorted(keys, key=lambda k: (k[1], k[0], k[2]))
        column = {key: k for k, key in enumerate(self.keys)}
        n, m = len(results), len(self.keys)
        self.has = np.zeros((n, m))
        self.eligible = np.zeros((n, m))
        self.window_has = np.zeros((n, m))
        self.window_eligible = np.zeros((n, m))
        self.strength_sum = np.zeros(m)
        self.strength_count = np.zeros(m)
        self.window_strength_sum = np.zeros(m)
        self.window_strength_count = np.zeros(m)
        self.types: list[Counter] = [Counter() for _ in self.keys]
        for row, result in enumerate(results):
            if result.graph is not None:
                self.eligible[row] = self._eligibility(result.graph_variables)
                for link in result.graph:
                    col = column[link_key(link)]
                    self.has[row, col] = 1.0
                    self.types[col][link.link_type] += 1
                    self.strength_sum[col] += link.strength
                    self.strength_count[col] += 1
            for window in result.windows:
                if not window.ok:
                    continue
                self.window_eligible[row] += self._eligibility(window.variables)
                for link in window.links:
                    col = column[link_key(link)]
                    self.window_has[row, col] += 1.0
                    self.types[col][link.link_type] += 1
                    self.window_strength_sum[col] += link.strength
                    self.window_strength_count[col] += 1

    def _eligibility(self, variables: Sequence[str]) -> np.ndarray:
        present = set(variables)
        return np.array([float(s in present and t in present) for s, t, _ in self.keys])


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def _interval(weights: np.ndarray, has: np.ndarray, eligible: np.ndarray, level: float) -> tuple[np.ndarray, ...]:
    """Percentile interval of ``sum(w * has) / sum(w * eligible)`` over bootstrap weight rows."""
    replicas = _ratio(weights @ has, weights @ eligible)
    tail = 50.0 * (1.0 - level)
    if replicas.size == 0 or np.all(np.isnan(replicas)):
        nan = np.full(has.shape[1], np.nan)
        return nan, nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a link no replica is eligible for: NaN, as it should be
        low, high = np.nanpercentile(replicas, [tail, 100.0 - tail], axis=0)
    return low, high


def consensus(results: Sequence[BagResult], threshold: float = 0.5, replicates: int = 1000, level: float = 0.95,
              seed: int = 0) -> Consensus:
    """The consensus over the successful bags of ``results`` (in the given order; the result depends on it only
    through the seeded bootstrap, and every scheduler returns bags in input order)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"consensus threshold must be in (0, 1], got {threshold}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"interval level must be in (0, 1), got {level}")
    if replicates < 0:
        raise ValueError(f"bootstrap replicates must be >= 0, got {replicates}")
    ok = [result for result in results if result.ok]
    data = _Indicators(ok)
    n = len(ok)
    frequency = _ratio(data.has.sum(axis=0), data.eligible.sum(axis=0))
    window_frequency = _ratio(data.window_has.sum(axis=0), data.window_eligible.sum(axis=0))
    nan = np.full(len(data.keys), np.nan)
    low, high, window_low, window_high = nan, nan, nan, nan
    if n and replicates:
        rng = np.random.default_rng(seed)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(float)
        low, high = _interval(weights, data.has, data.eligible, level)
        window_low, window_high = _interval(weights, data.window_has, data.window_eligible, level)
    pooled = any(result.graph is not None for result in ok)
    links = []
    for col, (source, target, lag) in enumerate(data.keys):
        decisive = frequency[col] if pooled else window_frequency[col]
        strength = (_ratio(data.strength_sum[col:col + 1], data.strength_count[col:col + 1])[0]
                    if data.strength_count[col] else
                    _ratio(data.window_strength_sum[col:col + 1], data.window_strength_count[col:col + 1])[0])
        links.append(ConsensusLink(
            source=source, target=target, lag=lag, link_type=data.types[col].most_common(1)[0][0],
            bags=int(data.has[:, col].sum()), eligible_bags=int(data.eligible[:, col].sum()),
            frequency=float(frequency[col]), frequency_low=float(low[col]), frequency_high=float(high[col]),
            windows=int(data.window_has[:, col].sum()), eligible_windows=int(data.window_eligible[:, col].sum()),
            window_frequency=float(window_frequency[col]), window_frequency_low=float(window_low[col]),
            window_frequency_high=float(window_high[col]), mean_strength=float(strength),
            holds=bool(np.isfinite(decisive) and decisive >= threshold),
        ))
    def order(link: ConsensusLink) -> tuple:
        decisive = link.frequency if pooled else link.window_frequency
        return (-(decisive if math.isfinite(decisive) else -1.0), link.target, link.source, link.lag)

    links.sort(key=order)
    windows = sum(1 for result in ok for window in result.windows if window.ok)
    return Consensus(bags=n, windows=windows, threshold=threshold, level=level, replicates=replicates, links=links)
