"""Change points: windows of a bag whose graph differs from the previous window's by more than a threshold.

The distance between two window graphs is the Jaccard distance of their link sets,
``1 - |A ∩ B| / |A ∪ B|`` (0 = same links, 1 = none in common; two empty graphs are at 0), over the keys of
:func:`causal_nodes.fleet.consensus.link_key`. A window is a change point when its distance to the previous
successful window of the same bag is at least ``threshold``. With overlapping windows (stride < length) a change
in the world shows up spread over ``length / stride`` windows, so the distance per step is smaller: lower the
threshold, or use ``stride = length``, to see it at once.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .bag_analysis import BagResult
from .consensus import LinkKey, key_set, link_label


def jaccard_distance(a: set[LinkKey], b: set[LinkKey]) -> float:
    union = a | b
    return 0.0 if not union else 1.0 - len(a & b) / len(union)


@dataclass
class ChangePoint:
    bag: str
    window: int
    previous_window: int
    time: float
    """Stamp of the newest sample of the window [s]."""
    distance: float
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def change_points(results: Sequence[BagResult], threshold: float = 0.5) -> list[ChangePoint]:
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"change threshold must be in (0, 1], got {threshold}")
    found: list[ChangePoint] = []
    for result in results:
        previous = None
        for window in result.windows:
            if not window.ok:
                continue
            current = key_set(window.links)
            if previous is not None:
                distance = jaccard_distance(previous[1], current)
                if distance >= threshold:
                    found.append(ChangePoint(
                        result.bag, window.index, previous[0], window.end, distance,
                        added=[link_label(k) for k in sorted(current - previous[1])],
                        removed=[link_label(k) for k in sorted(previous[1] - current)]))
            previous = (window.index, current)
    return found
