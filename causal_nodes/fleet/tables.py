"""The fleet's results as Parquet tables (pyarrow), one row per bag, window, link, group or change point.

Why Parquet besides the JSON summary: at fleet scale the window links run to millions of rows, which a columnar,
typed, compressed file serves to pandas, polars, DuckDB or Spark without parsing JSON. Every table has a fixed
schema (so an empty table still has its columns), and the folder is written beside its destination and renamed
into place, so a failed run leaves no half-written set.

Tables: ``bags``, ``pooled_links``, ``windows``, ``window_links``, ``recommendations``, ``consensus``,
``group_differences``, ``change_points`` (``<name>.parquet``).
"""
from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .summary import FleetAnalysis

_LINK_FIELDS = [("source", "string"), ("target", "string"), ("lag", "int32"), ("link_type", "string"),
                ("strength", "float64"), ("p_value", "float64")]


def _schema(fields: list[tuple[str, str]]) -> Any:
    import pyarrow as pa

    kinds = {"string": pa.string(), "int32": pa.int32(), "int64": pa.int64(), "float64": pa.float64(),
             "bool": pa.bool_(), "strings": pa.list_(pa.string())}
    return pa.schema([(name, kinds[kind]) for name, kind in fields])


def _nan_to_null(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _link_row(link: Any) -> dict[str, Any]:
    return {"source": link.source, "target": link.target, "lag": link.lag, "link_type": link.link_type,
            "strength": _nan_to_null(link.strength), "p_value": _nan_to_null(link.p_value)}


def fleet_tables(analysis: FleetAnalysis) -> dict[str, tuple[list[tuple[str, str]], list[dict[str, Any]]]]:
    """``name -> (schema fields, rows)`` of every table."""
    keys = sorted({k for meta in analysis.metadata for k in meta})
    bags: list[dict[str, Any]] = []
    pooled: list[dict[str, Any]] = []
    windows: list[dict[str, Any]] = []
    window_links: list[dict[str, Any]] = []
    recs: list[dict[str, Any]] = []
    for result, meta in zip(analysis.results, analysis.metadata):
        bags.append({
            "bag": result.bag, "ok": result.ok, "error": result.error, "source": result.source,
            "variables": result.variables, "frames": result.frames, "complete_frames": result.complete_frames,
            "start": _nan_to_null(result.start), "end": _nan_to_null(result.end), "duration_s": result.duration_s,
            "windows": len(result.windows), "failed_windows": sum(1 for w in result.windows if not w.ok),
            "pooled_links": None if result.graph is None else len(result.graph), "graph_error": result.graph_error,
            "seconds": result.timing.get("seconds"), "worker": str(result.timing.get("worker", "")),
            "metadata": json.dumps(meta, sort_keys=True), **{f"meta.{k}": meta.get(k) for k in keys}})
        for link in result.graph or []:
            pooled.append({"bag": result.bag, **_link_row(link)})
        for window in result.windows:
            base = {"bag": result.bag, "window": window.index, "start": window.start, "end": window.end}
            windows.append({**base, "samples": window.samples, "links": len(window.links), "engine": window.engine,
                            "dropped": window.dropped, "error": window.error})
            window_links.extend({**base, **_link_row(link)} for link in window.links)
            rec = window.recommendation
            if rec is not None:
                recs.append({**base, "target": rec.target, "variable": rec.variable, "value": _nan_to_null(rec.value),
                             "predicted_effect": _nan_to_null(rec.predicted_effect),
                             "predicted_effect_std": _nan_to_null(rec.predicted_effect_std),
                             "top_priority": rec.top_priority, "top_weight": _nan_to_null(rec.top_weight),
                             "error": rec.error})
    consensus_rows = [{k: _nan_to_null(v) for k, v in vars(link).items()} for link in analysis.consensus.links]
    group_rows = []
    if analysis.groups is not None:
        for diff in analysis.groups.links:
            for g in diff.groups:
                group_rows.append({"key": analysis.groups.key, "source": diff.source, "target": diff.target,
                                   "lag": diff.lag, "group": g.group, "bags": g.bags, "eligible_bags": g.eligible_bags,
                                   "frequency": _nan_to_null(g.frequency),
                                   "window_frequency": _nan_to_null(g.window_frequency),
                                   "spread": _nan_to_null(diff.spread), "p_value": diff.p_value,
                                   "q_value": diff.q_value, "differs": diff.differs})
    change_rows = [vars(cp) for cp in analysis.change_points]
    window_base = [("bag", "string"), ("window", "int32"), ("start", "float64"), ("end", "float64")]
    return {
        "bags": ([("bag", "string"), ("ok", "bool"), ("error", "string"), ("source", "string"),
                  ("variables", "strings"), ("frames", "int64"), ("complete_frames", "int64"), ("start", "float64"),
                  ("end", "float64"), ("duration_s", "float64"), ("windows", "int32"), ("failed_windows", "int32"),
                  ("pooled_links", "int32"), ("graph_error", "string"), ("seconds", "float64"),
                  ("worker", "string"), ("metadata", "string")] + [(f"meta.{k}", "string") for k in keys], bags),
        "pooled_links": ([("bag", "string"), *_LINK_FIELDS], pooled),
        "windows": ([*window_base, ("samples", "int32"), ("links", "int32"), ("engine", "string"),
                     ("dropped", "strings"), ("error", "string")], windows),
        "window_links": ([*window_base, *_LINK_FIELDS], window_links),
        "recommendations": ([*window_base, ("target", "string"), ("variable", "string"), ("value", "float64"),
                             ("predicted_effect", "float64"), ("predicted_effect_std", "float64"),
                             ("top_priority", "string"), ("top_weight", "float64"), ("error", "string")], recs),
        "consensus": ([("source", "string"), ("target", "string"), ("lag", "int32"), ("link_type", "string"),
                       ("bags", "int32"), ("eligible_bags", "int32"), ("frequency", "float64"),
                       ("frequency_low", "float64"), ("frequency_high", "float64"), ("windows", "int64"),
                       ("eligible_windows", "int64"), ("window_frequency", "float64"),
                       ("window_frequency_low", "float64"), ("window_frequency_high", "float64"),
                       ("mean_strength", "float64"), ("holds", "bool")], consensus_rows),
        "group_differences": ([("key", "string"), ("source", "string"), ("target", "string"), ("lag", "int32"),
                               ("group", "string"), ("bags", "int32"), ("eligible_bags", "int32"),
                               ("frequency", "float64"), ("window_frequency", "float64"), ("spread", "float64"),
                               ("p_value", "float64"), ("q_value", "float64"), ("differs", "bool")], group_rows),
        "change_points": ([("bag", "string"), ("window", "int32"), ("previous_window", "int32"), ("time", "float64"),
                           ("distance", "float64"), ("added", "strings"), ("removed", "strings")], change_rows),
    }


def write_tables(analysis: FleetAnalysis, folder: str | Path) -> list[Path]:
    """Write every table as ``folder/<name>.parquet`` (the folder is replaced as a whole); returns the files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(folder)
    parent = folder.parent if str(folder.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"output folder {parent} does not exist")
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"table folder {folder} exists and is not a folder")
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=parent))
    try:
        for name, (fields, rows) in fleet_tables(analysis).items():
            table = pa.Table.from_pylist(rows, schema=_schema(fields))
            pq.write_table(table, staging / f"{name}.parquet")
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(folder.glob("*.parquet"))
