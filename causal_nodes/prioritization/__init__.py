"""Causal prioritisation (ROS-free): total causal effects on a target, CIP-style weights and ranked
do()-interventions predicted by a lagged linear SEM fitted on the discovered graph (see prioritizer.py)."""

from .graph import DirectedGraph, Edge, ancestors, build_directed_graph, normalize_link
from .interventions import simulate_clamped
from .lagged_sem import LaggedSEM, fit_lagged_sem
from .online import GraphWindow, OnlinePrioritizer, OnlinePrioritizerConfig, PrioritizerOutcome
from .prioritizer import Candidate, PrioritizationResult, PrioritizerConfig, Priority, prioritize

__all__ = [
    "Candidate",
    "DirectedGraph",
    "Edge",
    "GraphWindow",
    "LaggedSEM",
    "OnlinePrioritizer",
    "OnlinePrioritizerConfig",
    "PrioritizationResult",
    "PrioritizerConfig",
    "PrioritizerOutcome",
    "Priority",
    "ancestors",
    "build_directed_graph",
    "fit_lagged_sem",
    "normalize_link",
    "prioritize",
    "simulate_clamped",
]
