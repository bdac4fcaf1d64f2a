"""Links whose frequency differs between groups of bags (sites, robots, scenarios, times of day).

The unit is the bag (windows of one run are not independent). For each link, every group's frequency is the share
of its eligible bags (both variables in the pooled graph) whose pooled graph has the link; the statistic is the
spread between the highest and the lowest group frequency. Its p-value comes from a permutation test (group labels
shuffled over the bags, seeded, ``permutations`` times; ``(1 + #{spread >= observed}) / (1 + permutations)``),
which needs no distributional assumption and works for two groups or many. Across links the p-values are
adjusted with Benjamini–Hochberg (``q_value``); a link *differs* when ``q_value <= alpha``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .bag_analysis import BagResult
from .consensus import LinkKey, key_set


@dataclass
class GroupFrequency:
    group: str
    bags: int
    eligible_bags: int
    frequency: float
    window_frequency: float


@dataclass
class GroupDifference:
    source: str
    target: str
    lag: int
    groups: list[GroupFrequency]
    spread: float
    p_value: float
    q_value: float
    differs: bool


@dataclass
class GroupComparison:
    key: str
    group_names: list[str]
    group_sizes: list[int]
    unlabelled: int
    permutations: int
    alpha: float
    links: list[GroupDifference]

    def differing(self) -> list[GroupDifference]:
        return [link for link in self.links if link.differs]


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values), in the input order."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def _spread(onehot: np.ndarray, has: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """max - min over groups (with eligible bags) of the group frequencies; per link."""
    counts = onehot.T @ has
    totals = onehot.T @ eligible
    with np.errstate(invalid="ignore", divide="ignore"):
        freq = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), np.nan)
    valid = (totals > 0).sum(axis=0) >= 2
    high = np.where(valid, np.nanmax(np.where(totals > 0, freq, -np.inf), axis=0), 0.0)
    low = np.where(valid, np.nanmin(np.where(totals > 0, freq, np.inf), axis=0), 0.0)
    return np.where(valid, high - low, np.nan)


def group_differences(results: Sequence[BagResult], labels: Sequence[str | None], key: str,
                      permutations: int = 1000, alpha: float = 0.05, seed: int = 0) -> GroupComparison:
    """Compare the pooled graphs of the successful bags between the groups named by ``labels`` (None = left out)."""
    if len(labels) != len(results):
        raise ValueError(f"{len(labels)} labels for {len(results)} bags")
    if permutations < 1:
        raise ValueError(f"permutations must be >= 1, got {permutations}")
    rows = [(r, label) for r, label in zip(results, labels) if r.ok and r.graph is not None and label is not None]
    unlabelled = sum(1 for r, label in zip(results, labels) if r.ok and label is None)
    names = sorted({label for _, label in rows if label is not None})
    sizes = [sum(1 for _, label in rows if label == name) for name in names]
    comparison = GroupComparison(key, names, sizes, unlabelled, permutations, alpha, [])
    if len(names) < 2:
        return comparison
    keys: list[LinkKey] = sorted({k for r, _ in rows for k in key_set(r.graph or [])},
                                 key=lambda k: (k[1], k[0], k[2]))
    column = {k: c for c, k in enumerate(keys)}
    n, m = len(rows), len(keys)
    has, eligible = np.zeros((n, m)), np.zeros((n, m))
    window_has, window_eligible = np.zeros((n, m)), np.zeros((n, m))
    for i, (result, _) in enumerate(rows):
        present = set(result.graph_variables)
        eligible[i] = [float(s in present and t in present) for s, t, _ in keys]
        for k in key_set(result.graph or []):
            has[i, column[k]] = 1.0
        for window in result.windows:
            if window.ok:
                in_window = set(window.variables)
                window_eligible[i] += [float(s in in_window and t in in_window) for s, t, _ in keys]
                for k in key_set(window.links):
                    if k in column:
                        window_has[i, column[k]] += 1.0
    group_index = np.array([names.index(label) for _, label in rows])
    onehot = np.eye(len(names))[group_index]
    observed = _spread(onehot, has, eligible)
    rng = np.random.default_rng(seed)
    exceed = np.zeros(m)
    for _ in range(permutations):
        shuffled = onehot[rng.permutation(n)]
        exceed += np.nan_to_num(_spread(shuffled, has, eligible), nan=-1.0) >= observed - 1e-12
    p_values = np.where(np.isfinite(observed), (1.0 + exceed) / (1.0 + permutations), 1.0)
    q_values = benjamini_hochberg(p_values)
    for col, (source, target, lag) in enumerate(keys):
        groups = []
        for g, name in enumerate(names):
            members = group_index == g
            total = eligible[members, col].sum()
            window_total = window_eligible[members, col].sum()
            groups.append(GroupFrequency(
                name, int(has[members, col].sum()), int(total),
                float(has[members, col].sum() / total) if total else float("nan"),
                float(window_has[members, col].sum() / window_total) if window_total else float("nan")))
        comparison.links.append(GroupDifference(source, target, lag, groups, float(observed[col]),
                                                float(p_values[col]), float(q_values[col]),
                                                bool(q_values[col] <= alpha)))
    comparison.links.sort(key=lambda d: (d.p_value, -np.nan_to_num(d.spread), d.target, d.source, d.lag))
    return comparison
