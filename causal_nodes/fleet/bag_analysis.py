"""One bag, one task: extraction, sliding-window discovery, a pooled graph and (optionally) prioritization.

Why one self-contained function: it is what every scheduler runs (in-process, on a LocalCluster, on a remote
cluster), so results cannot depend on where a bag was analysed. It reuses the pipeline's own stages, nothing
re-implemented: the extraction is ``bag2csv``'s (:mod:`causal_nodes.bags.to_csv`, the variables node's extractor
and message readers), the windows are the discovery node's (:class:`~causal_nodes.discovery.online.OnlineDiscovery`
with its bad-sample rules and streaming statistics) and each graph comes from the same
:func:`~causal_nodes.discovery.discover.discover`.

Numerical libraries run on one thread inside the task: parallelism comes from running bags side by side, and a
fixed thread count makes the floating-point results of every scheduler identical bit for bit.

A bag that cannot be analysed (missing, corrupt, truncated, no usable topics) gives a result with ``ok=False`` and
the reason; it never raises, so the rest of a fleet completes.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from causal_nodes.bags.errors import BagError
from causal_nodes.bags.reader import BagReader
from causal_nodes.bags.to_csv import (
    FRAMES_TOPIC,
    Extraction,
    choose_variables,
    drop_valueless_variables,
    extract_variables,
    frames_to_table,
    read_variable_frames,
)
from causal_nodes.discovery.discover import DiscoveryResult, InsufficientDataError, Link, discover
from causal_nodes.discovery.online import OnlineDiscovery, WindowJob
from causal_nodes.discovery.window import WindowConfig
from causal_nodes.prioritization import prioritize
from causal_nodes.variables.extractor import VariableConfig

from .config import ExtractionOptions, FleetConfig, PrioritizationOptions


@dataclass
class Recommendation:
    """What the prioritizer ranked first on one window graph (``error`` when it could not run)."""

    target: str
    variable: str = ""
    value: float = float("nan")
    predicted_effect: float = float("nan")
    predicted_effect_std: float = float("nan")
    top_priority: str = ""
    top_weight: float = float("nan")
    error: str = ""


@dataclass
class WindowGraph:
    """The graph of one window of one bag; ``start``/``end`` are the stamps of its oldest and newest sample."""

    index: int
    start: float
    end: float
    samples: int
    variables: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    engine: str = ""
    dropped: list[str] = field(default_factory=list)
    error: str = ""
    recommendation: Recommendation | None = None

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class BagResult:
    """Everything the fleet keeps of one bag. ``timing`` holds the only values that differ between runs."""

    bag: str
    ok: bool
    error: str = ""
    source: str = ""
    variables: list[str] = field(default_factory=list)
    frames: int = 0
    complete_frames: int = 0
    start: float = float("nan")
    end: float = float("nan")
    metadata: dict[str, str] = field(default_factory=dict)
    graph: list[Link] | None = None
    graph_variables: list[str] = field(default_factory=list)
    graph_error: str = ""
    windows: list[WindowGraph] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.end - self.start if self.ok and self.frames else 0.0


def analyze_bag(path: str | Path, config: FleetConfig) -> BagResult:
    """Analyse one bag; never raises for a bad bag (the result carries ``ok=False`` and the reason)."""
    from threadpoolctl import threadpool_limits

    started, cpu_started = time.perf_counter(), time.process_time()
    timing: dict[str, Any] = {"pid": os.getpid()}
    try:
        with threadpool_limits(limits=1):
            result = _analyze(str(path), config, timing)
    except (BagError, ValueError, OSError) as error:
        result = BagResult(bag=str(path), ok=False, error=str(error) or type(error).__name__)
    except Exception as error:  # an unforeseen failure of one bag must not stop the fleet: report it
        result = BagResult(bag=str(path), ok=False, error=f"{type(error).__name__}: {error}")
    timing["seconds"] = time.perf_counter() - started
    timing["cpu_s"] = time.process_time() - cpu_started  # the worker process's CPU time (one task at a time)
    result.timing = timing
    return result


def _analyze(path: str, config: FleetConfig, timing: dict[str, Any]) -> BagResult:
    clock = time.perf_counter()
    with BagReader(path) as bag:
        metadata = bag.custom_data
        extraction, source = _extract(bag, config.extraction)
    timing["extract_s"] = time.perf_counter() - clock
    if not extraction.frames:
        raise BagError(f"bag {path}: no variable frames could be produced (dropped inputs: "
                       f"{extraction.dropped or 'none'}, unreadable: {extraction.bad_messages or 'none'})")
    drop_valueless_variables(extraction)
    times, values = frames_to_table(extraction, drop_incomplete=True)
    result = BagResult(bag=path, ok=True, source=source, variables=list(extraction.names),
                       frames=len(extraction.frames), complete_frames=len(times),
                       start=float(extraction.frames[0].stamp), end=float(extraction.frames[-1].stamp),
                       metadata=metadata)
    result.notes = {"skipped_variables": dict(extraction.skipped_variables),
                    "bad_messages": dict(extraction.bad_messages), "dropped_inputs": dict(extraction.dropped)}

    clock = time.perf_counter()
    result.windows, result.notes["window"] = _windows(extraction, config)
    timing["windows_s"] = time.perf_counter() - clock

    if config.pooled:
        clock = time.perf_counter()
        try:
            pooled = discover(values, extraction.names, config.discovery)
            result.graph, result.graph_variables = pooled.links(), list(pooled.variables)
        except (InsufficientDataError, ValueError) as error:
            result.graph_error = str(error)
        timing["pooled_s"] = time.perf_counter() - clock
    return result


def _extract(bag: BagReader, options: ExtractionOptions) -> tuple[Extraction, str]:
    """The ``bag2csv`` extraction: sensors through the variable extractor, or the bag's VariableFrames."""
    topics = options.topic_map()
    if options.source == "frames":
        return read_variable_frames(bag), "frames"
    try:
        chosen, skipped = choose_variables(bag, topics, options.variables)
    except BagError:
        if options.source == "auto" and FRAMES_TOPIC in bag.topics:
            return read_variable_frames(bag), "frames"
        raise
    variable_config = VariableConfig(rate_hz=options.rate_hz, variables=chosen, person=options.person)
    extraction = extract_variables(bag, variable_config, topics)
    extraction.skipped_variables = skipped
    return extraction, "sensors"


def _windows(extraction: Extraction, config: FleetConfig) -> tuple[list[WindowGraph], dict[str, int]]:
    """Feeds the frames through the discovery node's window; a graph every ``stride`` accepted samples."""
    options = config.window
    online = OnlineDiscovery(WindowConfig(length=options.length, time_jump_reset_s=options.time_jump_reset_s),
                             config.discovery, variables=extraction.names, min_samples=options.needed)
    graphs: list[WindowGraph] = []
    accepted_at_last: int | None = None
    for frame in extraction.frames:
        if online.add(frame.stamp, frame.names, frame.values) is not None:
            continue
        accepted = online.window.accepted
        if online.window.fill < online.min_samples or (
                accepted_at_last is not None and accepted - accepted_at_last < options.stride):
            continue
        accepted_at_last = accepted
        job = online.take_job()
        graphs.append(_window_graph(len(graphs), job, online, config.prioritization))
    return graphs, online.counters()


def _window_graph(index: int, job: WindowJob, online: OnlineDiscovery,
                  prioritization: PrioritizationOptions | None) -> WindowGraph:
    outcome = online.run(job)
    graph = WindowGraph(index=index, start=outcome.window_start, end=outcome.window_end, samples=len(job.stamps))
    if outcome.result is None:
        graph.error = outcome.error or "no graph"
        return graph
    result = outcome.result
    graph.variables, graph.links = list(result.variables), result.links()
    graph.engine, graph.dropped = result.engine, list(result.dropped)
    if prioritization is not None:
        graph.recommendation = _recommend(job, result, prioritization)
    return graph


def _recommend(job: WindowJob, result: DiscoveryResult, options: PrioritizationOptions) -> Recommendation:
    recommendation = Recommendation(target=options.target)
    actionable = [name for name in options.actionable if name in job.names]
    try:
        ranked = prioritize(job.data, job.names, result.links(), options.target, actionable, options.config)
    except ValueError as error:
        recommendation.error = str(error)
        return recommendation
    if ranked.candidates:
        best = ranked.candidates[0]
        recommendation.variable, recommendation.value = best.variable, best.value
        recommendation.predicted_effect, recommendation.predicted_effect_std = (best.predicted_effect,
                                                                                best.predicted_effect_std)
    if ranked.priorities:
        recommendation.top_priority, recommendation.top_weight = ranked.priorities[0].variable, \
            ranked.priorities[0].weight
    if not ranked.candidates and ranked.warnings:
        recommendation.error = "; ".join(ranked.warnings)
    return recommendation
