"""Run a scenario to arrays of pipeline variables, with or without interventions, from one seed.

This is the interventional ground truth other modules score against::

    from causal_nodes.sim import Intervention, compare_intervention, load_scenario
    result = compare_intervention(load_scenario("corridor_passing"),
                                  Intervention("robot_linear_speed", 0.2, start=5.0, end=15.0))
    result.effect("collision_risk")        # intervened - baseline, per step
    result.mean_effect("collision_risk")   # mean over the steps from the intervention's start on
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from causal_nodes.variables.extractor import VariableConfig, VariableExtractor

from .interventions import Intervention
from .physical import PhysicalSimulator
from .scenario import Scenario, load_scenario
from .scm import SCMSimulator
from .truth_variables import PIPELINE_VARIABLES, state_variables

DEFINITIONS = ("state", "pipeline")


@dataclass
class VariableSeries:
    """Samples of a run: ``values[k]`` holds ``names`` at time ``times[k]`` (k = 0 is the initial state)."""

    names: list[str]
    times: np.ndarray
    values: np.ndarray

    def column(self, name: str) -> np.ndarray:
        if name not in self.names:
            raise ValueError(f"unknown variable {name!r}; the run has {self.names}")
        return self.values[:, self.names.index(name)]

    def as_dict(self) -> dict[str, np.ndarray]:
        return {name: self.values[:, i] for i, name in enumerate(self.names)}


@dataclass
class InterventionComparison:
    """Two runs from the same seed, one with ``interventions`` applied."""

    baseline: VariableSeries
    intervened: VariableSeries
    interventions: list[Intervention]

    def effect(self, name: str) -> np.ndarray:
        """Per-step difference intervened - baseline of one variable."""
        return self.intervened.column(name) - self.baseline.column(name)

    def effect_matrix(self) -> np.ndarray:
        """``(T, N)`` differences intervened - baseline, columns in ``baseline.names`` order."""
        return self.intervened.values - self.baseline.values

    def mean_effect(self, name: str, start: float | None = None, end: float | None = None) -> float:
        """Mean effect over ``start <= t < end`` (default: from the first intervention's start to the end)."""
        start = min(iv.start for iv in self.interventions) if start is None else start
        times = self.baseline.times
        mask = (times >= start - 1e-9) & ((times < end - 1e-9) if end is not None else True)
        return float(np.nanmean(self.effect(name)[mask]))


def current_values(sim: PhysicalSimulator | SCMSimulator, names: list[str]) -> np.ndarray:
    """The variables ``names`` of the simulator's current step (pipeline definitions for physical scenarios)."""
    if isinstance(sim, SCMSimulator):
        values = dict(zip(sim.variables, sim.values()))
    else:
        values = state_variables(sim)
    return np.array([values[name] for name in names], dtype=float)


class PipelineVariables:
    """Feeds a physical simulator's sensor outputs to the pipeline's own :class:`VariableExtractor`.

    The values are then exactly what ``variables_node`` computes from the sim node's topics (tracking, person
    selection, resampling included), without ROS in between.
    """

    def __init__(self, sim: PhysicalSimulator, names: list[str]) -> None:
        self.sim = sim
        self.extractor = VariableExtractor(VariableConfig(rate_hz=1.0 / sim.dt, variables=tuple(names),
                                                          person=sim.config.person_parameter()))
        self.names = names

    def feed(self) -> None:
        sim, ex = self.sim, self.extractor
        t = sim.time
        x, y, yaw = sim.robot_pose
        ex.add_odometry(t, x, y, yaw, sim.robot_speed, sim.robot_yaw_rate)
        ex.add_people(t, sim.positions)
        goal = sim.person_goals()[sim.subject]
        ex.add_goal(t, float(goal[0]), float(goal[1]))
        if sim.scan_ranges is not None:
            ex.add_scan(t, sim.scan_ranges, sim.config.scan.range_min, sim.config.scan.range_max)
        if sim.image is not None:
            ex.add_image(t, sim.image.astype(np.float32).mean(axis=2).astype(np.uint8))
        ex.add_imu(t, sim.imu.yaw_rate)

    def values(self) -> np.ndarray:
        """The frame of the current step (NaN where the pipeline has none yet)."""
        self.feed()
        row = np.full(len(self.names), np.nan)
        for sample in self.extractor.poll():
            found = dict(zip(sample.names, sample.values))  # a never-published input leaves its variables out
            row = np.array([found.get(name, np.nan) for name in self.names], dtype=float)
        return row


def run_scenario(scenario: Scenario | str, *, seed: int | None = None, steps: int | None = None,
                 interventions: Iterable[Intervention] = (), definitions: str = "state",
                 variables: Sequence[str] | None = None) -> VariableSeries:
    """Simulate ``steps`` grid steps (default: the scenario's duration) and return the variables per step.

    ``variables`` (default: the scenario's) names the columns; physical scenarios compute any pipeline variable.
    ``definitions="state"`` computes physical variables from the simulator state (exact; the interventional
    ground truth); ``"pipeline"`` runs the pipeline's variable extractor on the simulated sensor data instead.
    """
    if isinstance(scenario, str):
        scenario = load_scenario(scenario)
    if definitions not in DEFINITIONS:
        raise ValueError(f"definitions must be one of {DEFINITIONS}, got {definitions!r}")
    steps = scenario.steps if steps is None else int(steps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    sim = scenario.make_simulator(seed)
    for intervention in interventions:
        sim.apply_intervention(intervention)
    names = list(scenario.variables if variables is None else variables)
    if variables is not None and scenario.scm is not None and not set(names) <= set(scenario.variables):
        raise ValueError(f"unknown variable(s) {sorted(set(names) - set(scenario.variables))} for scenario "
                         f"{scenario.name!r}; it has {scenario.variables}")
    if variables is not None and scenario.physical is not None:
        unknown = sorted(set(names) - set(PIPELINE_VARIABLES))
        if unknown:
            raise ValueError(f"unknown variable(s) {unknown}; known: {PIPELINE_VARIABLES}")
    if definitions == "pipeline" and isinstance(sim, PhysicalSimulator):
        read = PipelineVariables(sim, names).values
    else:
        read = lambda: current_values(sim, names)  # noqa: E731
    values = np.empty((steps + 1, len(names)))
    values[0] = read()
    for k in range(1, steps + 1):
        sim.step()
        values[k] = read()
    return VariableSeries(names, np.arange(steps + 1) * scenario.dt, values)


def compare_intervention(scenario: Scenario | str, intervention: Intervention | Iterable[Intervention],
                         *, seed: int | None = None, steps: int | None = None,
                         variables: Sequence[str] | None = None) -> InterventionComparison:
    """Run the scenario twice from the same seed, without and with the intervention(s) (``variables``: as
    :func:`run_scenario`)."""
    if isinstance(scenario, str):
        scenario = load_scenario(scenario)
    items = [intervention] if isinstance(intervention, Intervention) else list(intervention)
    if not items:
        raise ValueError("compare_intervention needs at least one intervention")
    baseline = run_scenario(scenario, seed=seed, steps=steps, variables=variables)
    intervened = run_scenario(scenario, seed=seed, steps=steps, interventions=items, variables=variables)
    return InterventionComparison(baseline, intervened, items)
