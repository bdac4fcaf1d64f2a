"""From per-bag results to the fleet's answers (consensus, group differences, change points) and the JSON summary.

The aggregation runs in the client process after all tasks are back: it needs every bag's graphs at once, and its
cost (a bootstrap and a permutation test over bags × links) is small beside the per-bag work. Everything in it is
seeded and taken in input order, so the summary is the same for every scheduler; only the values under
``"timing"`` (and the scheduler's name and size) differ between runs — :func:`without_run_details` removes them.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from causal_nodes.discovery.discover import Link

from .bag_analysis import BagResult, WindowGraph
from .change_points import ChangePoint, change_points
from .config import FleetConfig
from .consensus import Consensus, consensus
from .groups import GroupComparison, group_differences
from .metadata import metadata_of
from .runner import FleetRun

FORMAT = "causal_nodes.fleet/1"
RUN_DETAILS = ("timing", "scheduler", "workers", "dashboard")


@dataclass(frozen=True)
class AggregationOptions:
    threshold: float = 0.5
    """A link holds in the fleet when it is in at least this fraction of (eligible) bags."""
    bootstrap: int = 1000
    level: float = 0.95
    group_by: str | None = None
    permutations: int = 1000
    alpha: float = 0.05
    change_threshold: float = 0.5
    seed: int = 0


@dataclass
class FleetAnalysis:
    run: FleetRun
    config: FleetConfig
    options: AggregationOptions
    metadata: list[dict[str, str]]
    consensus: Consensus
    groups: GroupComparison | None
    change_points: list[ChangePoint] = field(default_factory=list)

    @property
    def results(self) -> list[BagResult]:
        return self.run.results

    @property
    def robot_hours(self) -> float:
        return sum(r.duration_s for r in self.results if r.ok) / 3600.0


def aggregate(run: FleetRun, config: FleetConfig, options: AggregationOptions = AggregationOptions(),
              metadata_table: Mapping[str, Mapping[str, str]] | None = None, path_pattern: Any = None
              ) -> FleetAnalysis:
    results = run.results
    metadata = metadata_of(results, metadata_table, path_pattern)
    groups = None
    if options.group_by:
        labels = [meta.get(options.group_by) for meta in metadata]
        groups = group_differences(results, labels, options.group_by, options.permutations, options.alpha,
                                   options.seed)
    return FleetAnalysis(
        run=run, config=config, options=options, metadata=metadata,
        consensus=consensus(results, options.threshold, options.bootstrap, options.level, options.seed),
        groups=groups, change_points=change_points(results, options.change_threshold))


# ---------------------------------------------------------------------------------------------------- JSON
def _number(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def link_json(link: Link) -> dict[str, Any]:
    return {"source": link.source, "target": link.target, "lag": link.lag, "link_type": link.link_type,
            "strength": _number(link.strength), "p_value": _number(link.p_value)}


def _plain(value: Any) -> Any:
    """Dataclasses, floats (NaN -> None) and containers as JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def window_json(window: WindowGraph) -> dict[str, Any]:
    return {"index": window.index, "start": _number(window.start), "end": _number(window.end),
            "samples": window.samples, "variables": window.variables, "engine": window.engine,
            "dropped": window.dropped, "error": window.error, "links": [link_json(k) for k in window.links],
            "recommendation": _plain(window.recommendation)}


def bag_json(result: BagResult, metadata: Mapping[str, str], windows: bool = True) -> dict[str, Any]:
    """One bag's entry; ``windows=False`` leaves the window graphs out (they stay in the Parquet tables)."""
    return {
        "bag": result.bag, "ok": result.ok, "error": result.error, "source": result.source,
        "metadata": dict(metadata), "variables": result.variables, "frames": result.frames,
        "complete_frames": result.complete_frames, "start": _number(result.start), "end": _number(result.end),
        "duration_s": result.duration_s,
        "graph": None if result.graph is None and not result.graph_error else {
            "variables": result.graph_variables, "error": result.graph_error,
            "links": [link_json(k) for k in result.graph or []]},
        "windows": [window_json(w) for w in result.windows] if windows else len(result.windows),
        "notes": _plain(result.notes), "timing": _plain(result.timing),
    }


def summary_json(analysis: FleetAnalysis, windows: bool = True) -> dict[str, Any]:
    """The summary; ``windows=False`` writes each bag's window count instead of its window graphs (a fleet of
    thousands of bags: the window links, ~KiB per window, belong in the Parquet tables)."""
    results = analysis.results
    run = analysis.run
    failed = [r for r in results if not r.ok]
    consensus_json = _plain(analysis.consensus)
    return {
        "format": FORMAT,
        "scheduler": run.scheduler, "workers": run.workers, "dashboard": run.dashboard,
        "config": _plain(analysis.config),
        "aggregation": _plain(analysis.options),
        "bags_total": len(results), "bags_ok": len(results) - len(failed), "bags_failed": len(failed),
        "windows": analysis.consensus.windows, "robot_hours": analysis.robot_hours,
        "failures": [{"bag": r.bag, "error": r.error} for r in failed],
        "bags": [bag_json(r, m, windows) for r, m in zip(results, analysis.metadata)],
        "consensus": consensus_json,
        "groups": _plain(analysis.groups),
        "change_points": _plain(analysis.change_points),
        "timing": {"wall_s": run.wall_s, "startup_s": run.startup_s,
                   "task_s": sum(r.timing.get("seconds", 0.0) for r in results),
                   "task_cpu_s": sum(r.timing.get("cpu_s", 0.0) for r in results)},
    }


def without_run_details(value: Any) -> Any:
    """The summary without what differs between runs of the same analysis (timings, scheduler, workers)."""
    if isinstance(value, Mapping):
        return {k: without_run_details(v) for k, v in value.items() if k not in RUN_DETAILS}
    if isinstance(value, list):
        return [without_run_details(v) for v in value]
    return value


def write_text_atomically(path: str | Path, text: str) -> Path:
    """Write ``text`` beside ``path`` and rename it into place: a failed run never leaves a partial file."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"output folder {parent} does not exist")
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.partial-", dir=parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_summary(analysis: FleetAnalysis, path: str | Path, windows: bool = True) -> dict[str, Any]:
    """Write the JSON summary (standard JSON: NaN as null) and return it."""
    summary = summary_json(analysis, windows)
    write_text_atomically(path, json.dumps(summary, indent=1, allow_nan=False))
    return summary
