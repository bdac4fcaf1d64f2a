"""Discovery on a simulated stream, scored against the scenario's reference graph (lag-level and lag-collapsed).

One function used by ``causal-nodes simulate --score``, the demo and ``benchmarks/bench_hri_discovery.py``, so a
figure in one of them means the same in the others. Variables a run never defines (NaN throughout, e.g. the
obstacle clearance where there are no walls) or holds constant are left out with a warning naming them, as the
live pipeline leaves them out of a window; rows where a kept variable is still undefined (the first steps) go.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from causal_nodes.discovery.discover import DiscoveryConfig, DiscoveryResult, discover
from causal_nodes.sim.reference import DEFAULT_UNIT

from .baseline_graphs import baseline_graph
from .graph_metrics import link_key_and_type, score_links, score_summary

MAX_MISSING_FRACTION = 0.2
"""A variable undefined in more than this fraction of a run's steps is left out (not its rows)."""


@dataclass
class UsableColumns:
    names: list[str]
    values: np.ndarray
    left_out: dict[str, str] = field(default_factory=dict)
    rows_dropped: int = 0


def usable_columns(names: Sequence[str], values: np.ndarray,
                   max_missing: float = MAX_MISSING_FRACTION) -> UsableColumns:
    """Leaves out missing/constant variables (naming why), then the rows still incomplete."""
    values = np.asarray(values, dtype=float)
    keep, left_out = [], {}
    for i, name in enumerate(names):
        finite = np.isfinite(values[:, i])
        if finite.mean() < 1.0 - max_missing:
            left_out[name] = f"missing in {int((~finite).sum())} of {len(finite)} samples"
        elif np.nanstd(values[finite, i]) == 0.0:
            left_out[name] = "constant"
        else:
            keep.append(i)
    kept = values[:, keep]
    complete = np.all(np.isfinite(kept), axis=1)
    return UsableColumns([names[i] for i in keep], kept[complete], left_out, int((~complete).sum()))


def score_against(result: DiscoveryResult | Sequence, reference) -> dict:
    """Lag-level and lag-collapsed scores of a discovery result (or link list) against a ReferenceGraph."""
    links = result.links() if isinstance(result, DiscoveryResult) else list(result)
    lag_level = score_links(links, reference.links)
    summary = score_summary(links, reference.links)
    return {
        "precision": lag_level["precision"], "recall": lag_level["recall"], "f1": lag_level["f1"],
        "tp": lag_level["tp"], "fp": lag_level["fp"], "fn": lag_level["fn"],
        "precision_summary": summary["precision"], "recall_summary": summary["recall"], "f1_summary": summary["f1"],
        "reference": reference.kind, "reference_links": len(reference.links),
        "reference_summary_links": len(reference.summary()),
    }


def guess_scores(reference, variables: Sequence[str] | None = None) -> dict:
    """Lag-level and lag-collapsed F1 of the data-free guess "every pair at lags 0 and 1" against ``reference``.

    Printed beside a discovery's scores so a user can tell whether the graph beat a guess (on the dense HRI
    references it often does not; see ``docs/discovery_methods.md``). ``variables`` default: the reference's own,
    less any it left out.
    """
    names = [v for v in reference.variables if v not in reference.left_out] if variables is None else list(variables)
    scores = score_against(baseline_graph("lags01", names, reference.tau_max), reference)
    return {"guess_f1": scores["f1"], "guess_f1_summary": scores["f1_summary"]}


def guess_line(scores: dict) -> str:
    """One line for a console report of :func:`guess_scores`' keys."""
    return (f"a data-free guess (every pair at lags 0 and 1) scores F1 {scores['guess_f1']:.3f}, lag-collapsed "
            f"{scores['guess_f1_summary']:.3f} on the same reference")


def discover_and_score(scenario, names: Sequence[str], values: np.ndarray, config: DiscoveryConfig,
                       *, mechanism: bool = True, reference_tau_max: int | None = None,
                       units: Sequence[str] = (DEFAULT_UNIT,)) -> dict:
    """Discovery with ``config`` on the usable columns, scored against the reference over the same variables.

    Returns the :func:`score_against` keys plus ``seconds`` (the discovery's wall time; ``cpu_seconds`` its
    process time, what one core spends whatever else the machine runs), ``variables``, ``samples``,
    ``left_out`` and, for physical scenarios with ``mechanism``, ``f1_mechanism`` / ``f1_summary_mechanism``
    against the mechanism truth. ``reference_tau_max`` (default: the configuration's ``tau_max``) is the lag range
    of the reference: a run looking at fewer lags is still scored on the links at the lags it does not look at,
    so pipelines with different ``tau_max`` compare on the same reference. ``units``: the effect units of the
    interventional references to score against (``noise``, ``spread``; :data:`causal_nodes.sim.reference.UNITS`),
    one discovery for all: the first one's scores are the top-level keys, every unit's under ``by_unit[unit]``.
    """
    usable = usable_columns(list(names), values)
    if len(usable.names) < 2:
        raise ValueError(f"fewer than two usable variables (left out: {usable.left_out})")
    started, cpu_started = time.perf_counter(), time.process_time()
    result = discover(usable.values, usable.names, config)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    graph_names = [n for n in usable.names if n != config.context]  # a context is a regime label, not a node
    out = _scored(scenario, graph_names, result.links(), max(config.tau_max, reference_tau_max or 0), mechanism,
                  units)
    out.update(seconds=seconds, cpu_seconds=cpu_seconds, samples=int(len(usable.values)),
               left_out=usable.left_out, config=config.as_dict(), engine=str(result.engine))
    return out


def baseline_and_score(scenario, names: Sequence[str], values: np.ndarray, kind: str, tau_max: int,
                       *, mechanism: bool = True, units: Sequence[str] = (DEFAULT_UNIT,)) -> dict:
    """A data-free graph (:mod:`.baseline_graphs`) over the usable columns, scored as :func:`discover_and_score`.

    The stream decides only which variables are usable (the same ones a discovery run would get); the links do not
    depend on its values, so ``seconds`` is 0.
    """
    usable = usable_columns(list(names), values)
    out = _scored(scenario, usable.names, baseline_graph(kind, usable.names, tau_max), tau_max, mechanism, units)
    out.update(seconds=0.0, cpu_seconds=0.0, samples=int(len(usable.values)), left_out=usable.left_out,
               config={"baseline": kind, "tau_max": tau_max}, engine="none")
    return out


def _scored(scenario, graph_names: list[str], links: Sequence, tau_max: int, mechanism: bool,
            units: Sequence[str] = (DEFAULT_UNIT,)) -> dict:
    """Scores of ``links`` against the scenario's reference in each of ``units`` (the first one's at the top level)
    and the mechanism truth, over ``graph_names``."""
    if not units:
        raise ValueError("no reference unit to score against")
    by_unit = {unit: score_against(links, scenario.reference(graph_names, tau_max=tau_max, unit=unit))
               for unit in units}
    out = dict(by_unit[units[0]])
    out["by_unit"] = by_unit
    out.update(variables=graph_names, tau_max=tau_max, scenario=scenario.name)
    if mechanism and scenario.physical is not None:
        truth = scenario.mechanism_truth(graph_names)
        out["f1_mechanism"] = score_links(links, truth)["f1"]
        out["f1_summary_mechanism"] = score_summary(links, truth)["f1"]
    out["links"] = [[*key, kind] for key, kind in map(link_key_and_type, links)]
    return out
