"""A single-file HTML report of a fleet analysis: consensus graph, link frequencies over time, group differences.

Why one file with the images inside (base64 PNG): it can be mailed, attached to a ticket or opened from a CI
artifact without the folder it came from. The consensus graph is drawn by the same renderer as the discovery node's
``/causal/graph_image`` (:func:`causal_nodes.discovery.graph_layout.render_graph_image`); the charts use matplotlib
(Agg backend, no display needed).
"""
from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from causal_nodes.discovery.discover import Link
from causal_nodes.discovery.graph_layout import render_graph_image

from .consensus import ConsensusLink, key_set, link_label
from .summary import FleetAnalysis, write_text_atomically

TOP_LINKS = 25
TIME_LINKS = 8
TIME_BINS = 12


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _image(data: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _fmt(value: Any, digits: int = 2) -> str:
    if isinstance(value, float):
        return "–" if not math.isfinite(value) else f"{value:.{digits}f}"
    return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _variables(analysis: FleetAnalysis) -> list[str]:
    names: list[str] = []
    for result in analysis.results:
        names.extend(v for v in result.variables if v not in names)
    return names


def consensus_graph_png(analysis: FleetAnalysis) -> str:
    """The links that hold in the fleet, as the discovery node draws a graph (width = |mean strength|)."""
    import cv2

    links = [Link(c.source, c.target, c.lag, c.link_type, c.mean_strength if math.isfinite(c.mean_strength) else 0.0,
                  0.0) for c in analysis.consensus.holding()]
    title = (f"consensus: links in >= {analysis.consensus.threshold:.0%} of {analysis.consensus.bags} bags")
    rgb = render_graph_image(_variables(analysis), links, size=560, title=title)
    ok, encoded = cv2.imencode(".png", rgb[:, :, ::-1])
    if not ok:
        raise ValueError("could not encode the consensus graph image")
    return base64.b64encode(encoded.tobytes()).decode("ascii")


def _frequency_chart(links: Sequence[ConsensusLink], pooled: bool) -> str:
    import matplotlib.pyplot as plt

    shown = list(links[:TOP_LINKS])[::-1]
    freq = np.array([c.frequency if pooled else c.window_frequency for c in shown])
    low = np.array([c.frequency_low if pooled else c.window_frequency_low for c in shown])
    high = np.array([c.frequency_high if pooled else c.window_frequency_high for c in shown])
    figure, axis = plt.subplots(figsize=(8, 0.3 * len(shown) + 1.2))
    error = np.vstack([np.nan_to_num(freq - low), np.nan_to_num(high - freq)])
    axis.barh(range(len(shown)), np.nan_to_num(freq), xerr=error, color="#c0504d", ecolor="#333", capsize=2)
    axis.scatter(np.nan_to_num([c.window_frequency for c in shown]), range(len(shown)), color="#1f4e79", zorder=3,
                 s=12, label="fraction of windows")
    axis.set_yticks(range(len(shown)), [link_label(c.key) for c in shown], fontsize=8)
    axis.set_xlim(0, 1)
    axis.set_xlabel("fraction of bags (bars, bootstrap interval) / of windows (dots)")
    axis.legend(loc="lower right", fontsize=8)
    return _png(figure)


def _time_chart(analysis: FleetAnalysis, links: Sequence[ConsensusLink]) -> str | None:
    """Fraction of windows having each link against the time since the start of their bag."""
    import matplotlib.pyplot as plt

    ok = [r for r in analysis.results if r.ok]
    ends = [(w.end - r.start, key_set(w.links), set(w.variables)) for r in ok for w in r.windows if w.ok]
    if len(ends) < 2:
        return None
    times = np.array([t for t, _, _ in ends])
    edges = np.linspace(times.min(), times.max() + 1e-9, TIME_BINS + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    bins = np.clip(np.digitize(times, edges) - 1, 0, TIME_BINS - 1)
    figure, axis = plt.subplots(figsize=(8, 3.6))
    for link in links[:TIME_LINKS]:
        has = np.array([link.key in keys for _, keys, _ in ends], dtype=float)
        eligible = np.array([link.source in names and link.target in names for _, _, names in ends], dtype=float)
        counts = np.bincount(bins, weights=has, minlength=TIME_BINS)
        totals = np.bincount(bins, weights=eligible, minlength=TIME_BINS)
        with np.errstate(invalid="ignore", divide="ignore"):
            axis.plot(centres / 60.0, np.where(totals > 0, counts / np.maximum(totals, 1), np.nan), marker="o",
                      markersize=3, label=link_label(link.key))
    axis.set_ylim(-0.02, 1.02)
    axis.set_xlabel("time since the start of the bag [min] (window end)")
    axis.set_ylabel("fraction of windows with the link")
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _png(figure)


def _group_chart(analysis: FleetAnalysis) -> str | None:
    import matplotlib.pyplot as plt

    groups = analysis.groups
    if groups is None or not groups.links:
        return None
    shown = groups.links[:12][::-1]
    figure, axis = plt.subplots(figsize=(8, 0.45 * len(shown) + 1.4))
    height = 0.8 / len(groups.group_names)
    for g, name in enumerate(groups.group_names):
        values = [np.nan_to_num(d.groups[g].frequency) for d in shown]
        axis.barh(np.arange(len(shown)) + g * height - 0.4 + height / 2, values, height=height, label=name)
    labels = [f"{link_label((d.source, d.target, d.lag))}  (q={d.q_value:.2g})" for d in shown]
    axis.set_yticks(range(len(shown)), labels, fontsize=8)
    axis.set_xlim(0, 1)
    axis.set_xlabel(f"fraction of bags with the link, per {groups.key}")
    axis.legend(fontsize=8, loc="lower right")
    return _png(figure)


def render_report(analysis: FleetAnalysis) -> str:
    import matplotlib

    matplotlib.use("Agg")
    results = analysis.results
    failed = [r for r in results if not r.ok]
    cons = analysis.consensus
    pooled = any(r.graph is not None for r in results if r.ok)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>causal_nodes fleet report</title><style>"
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;font-size:13px;margin:0.5em 0}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}th{background:#eee}"
        "img{max-width:100%}.bad{color:#a00}</style></head><body>",
        "<h1>Fleet causal analysis</h1>",
        _table(["bags", "analysed", "failed", "windows", "robot hours", "scheduler", "wall time [s]"],
               [[len(results), len(results) - len(failed), len(failed), cons.windows,
                 f"{analysis.robot_hours:.2f}", analysis.run.scheduler, f"{analysis.run.wall_s:.1f}"]]),
    ]
    if failed:
        parts.append("<h2 class='bad'>Bags that could not be analysed</h2>")
        parts.append(_table(["bag", "reason"], [[r.bag, r.error] for r in failed]))
    parts.append("<h2>Consensus graph</h2>")
    parts.append(_image(consensus_graph_png(analysis), "consensus graph"))
    if cons.links:
        parts.append(f"<h2>Link frequencies</h2><p>{cons.level:.0%} bootstrap intervals over bags "
                     f"({cons.replicates} replicates).</p>")
        parts.append(_image(_frequency_chart(cons.links, pooled), "link frequencies"))
        over_time = _time_chart(analysis, cons.links)
        if over_time:
            parts.append("<h2>Link frequencies over time</h2>" + _image(over_time, "link frequencies over time"))
        parts.append(_table(["link", "type", "bags", "frequency", "interval", "window frequency", "mean strength",
                             "holds"],
                            [[link_label(c.key), c.link_type, f"{c.bags}/{c.eligible_bags}", c.frequency,
                              f"{_fmt(c.frequency_low)}–{_fmt(c.frequency_high)}", c.window_frequency,
                              c.mean_strength, "yes" if c.holds else ""] for c in cons.links[:60]]))
    groups = analysis.groups
    if groups is not None:
        parts.append(f"<h2>Differences between groups of <code>{html.escape(groups.key)}</code></h2>")
        if len(groups.group_names) < 2:
            parts.append(f"<p>Fewer than two groups (found {groups.group_names}); nothing to compare.</p>")
        else:
            chart = _group_chart(analysis)
            if chart:
                parts.append(_image(chart, "group differences"))
            sizes = ", ".join(f"{n} ({s} bags)" for n, s in zip(groups.group_names, groups.group_sizes))
            parts.append(f"<p>Groups: {html.escape(sizes)}; permutation test ({groups.permutations} permutations), "
                         f"Benjamini–Hochberg q ≤ {groups.alpha} marks a difference.</p>")
            parts.append(_table(["link", *groups.group_names, "spread", "p", "q", "differs"],
                                [[link_label((d.source, d.target, d.lag)), *[g.frequency for g in d.groups],
                                  d.spread, d.p_value, d.q_value, "yes" if d.differs else ""]
                                 for d in groups.links[:40]]))
    parts.append(f"<h2>Change points</h2><p>Windows whose graph is at Jaccard distance ≥ "
                 f"{analysis.options.change_threshold} from the previous window: {len(analysis.change_points)}.</p>")
    if analysis.change_points:
        parts.append(_table(["bag", "window", "time [s]", "distance", "added", "removed"],
                            [[Path(c.bag).name, c.window, c.time, c.distance, "; ".join(c.added),
                              "; ".join(c.removed)] for c in analysis.change_points[:50]]))
    recommendations = [w.recommendation for r in results for w in r.windows if w.recommendation is not None]
    if recommendations:
        counts: dict[str, int] = {}
        for rec in recommendations:
            name = rec.variable or "(none)"
            counts[name] = counts.get(name, 0) + 1
        parts.append(f"<h2>Prioritizer recommendations</h2><p>Best intervention per window for target "
                     f"<code>{html.escape(recommendations[0].target)}</code>:</p>")
        parts.append(_table(["intervene on", "windows"], sorted(counts.items(), key=lambda kv: -kv[1])))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(analysis: FleetAnalysis, path: str | Path) -> Path:
    return write_text_atomically(path, render_report(analysis))
