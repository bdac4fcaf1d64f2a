"""Scores a discovered lagged graph against a ground truth (precision, recall, F1 over links).

A link is ``(source, target, lag)``: source(t - lag) -> target(t). An undirected contemporaneous link found by
the discovery (``o-o``, ``x-x``, ``<->``) has no direction to be right or wrong about, so it counts as a true
positive when the truth holds the pair in either direction, and as one false positive otherwise.

Two scores: lag-level (:func:`score_links`: the right pair at the right lag) and lag-collapsed
(:func:`score_summary`: the right pair at any lag, the summary graph X -> Y; autolinks X -> X count too).
"""
from __future__ import annotations

from collections.abc import Iterable

LinkKey = tuple[str, str, int]
UNDIRECTED_TYPES = {"o-o", "x-x", "<->"}


def link_key_and_type(link: LinkKey | object) -> tuple[LinkKey, str]:
    if isinstance(link, tuple):
        return (str(link[0]), str(link[1]), int(link[2])), (str(link[3]) if len(link) > 3 else "-->")
    return (link.source, link.target, int(link.lag)), getattr(link, "link_type", "-->")


def score_links(
    discovered: Iterable[LinkKey | object], truth: Iterable[LinkKey], *, ignore_autolinks: bool = False
) -> dict[str, float]:
    """Precision, recall and F1 of ``discovered`` against ``truth``; counts are in ``tp``, ``fp``, ``fn``."""
    truth_set: set[LinkKey] = {(str(s), str(t), int(lag)) for s, t, lag in truth}
    if ignore_autolinks:
        truth_set = {k for k in truth_set if k[0] != k[1]}
    matched: set[LinkKey] = set()
    tp = fp = 0
    for link in discovered:
        key, kind = link_key_and_type(link)
        if ignore_autolinks and key[0] == key[1]:
            continue
        candidates = [key]
        if key[2] == 0 and kind in UNDIRECTED_TYPES:
            candidates.append((key[1], key[0], 0))
        hit = next((c for c in candidates if c in truth_set and c not in matched), None)
        if hit is None:
            fp += 1
        else:
            matched.add(hit)
            tp += 1
    fn = len(truth_set - matched)
    precision = tp / (tp + fp) if tp + fp else (1.0 if not truth_set else 0.0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def score_summary(discovered: Iterable[LinkKey | object], truth: Iterable[LinkKey]) -> dict[str, float]:
    """Precision, recall and F1 of the lag-collapsed graphs: X -> Y when any lag (including 0) links them."""
    truth_pairs = {(str(s), str(t)) for s, t, _ in truth}
    directed: set[tuple[str, str]] = set()
    undirected: list[tuple[str, str]] = []
    for link in discovered:
        (source, target, lag), kind = link_key_and_type(link)
        if lag == 0 and kind in UNDIRECTED_TYPES:
            undirected.append((source, target))
        else:
            directed.add((source, target))
    for a, b in undirected:
        if (a, b) in directed or (b, a) in directed:
            continue
        directed.add((b, a) if (b, a) in truth_pairs and (a, b) not in truth_pairs else (a, b))
    tp = len(directed & truth_pairs)
    fp = len(directed - truth_pairs)
    fn = len(truth_pairs - directed)
    precision = tp / (tp + fp) if tp + fp else (1.0 if not truth_pairs else 0.0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}
