"""Fleet-scale bag analysis (ROS-free): causal graphs over many robots' logs, on one machine or a Dask cluster.

Per bag, one task (:func:`analyze_bag`): the ``bag2csv`` extraction, sliding-window discovery as in the discovery
node, a pooled graph and optionally the prioritizer's recommendation per window. Across bags: a consensus with
bootstrap intervals, differences between groups of bags, change points. See ``docs/fleet.md``.
"""
from .bag_analysis import BagResult, Recommendation, WindowGraph, analyze_bag
from .config import ExtractionOptions, FleetConfig, PrioritizationOptions, WindowOptions
from .inputs import find_bags
from .runner import FleetRun, run_fleet

__all__ = [
    "BagResult",
    "ExtractionOptions",
    "FleetConfig",
    "FleetRun",
    "PrioritizationOptions",
    "Recommendation",
    "WindowGraph",
    "WindowOptions",
    "analyze_bag",
    "find_bags",
    "run_fleet",
]
