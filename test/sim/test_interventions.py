"""do() on the simulator checks each scenario's documented ground-truth graph.

Two runs from one seed differ only where the intervention's effects reach, so for ``do(X)`` starting at step k:
every variable equals the baseline before k; a variable with no directed path from X in the ground truth equals
the baseline for the whole run; a variable with a path first differs no earlier than k + the path's smallest lag
sum -- and (with the interaction windows chosen here) every descendant does change.
"""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from causal_nodes.sim import (
    PIPELINE_VARIABLES,
    Intervention,
    compare_intervention,
    load_scenario,
    scenario_from_dict,
    shortest_lags,
)

STEPS = 250
# (scenario, start, end): windows in which the robot and the person interact.
WINDOWS = {"corridor_passing": (3.0, 9.0), "crossing": (3.0, 9.0), "overtaking": (2.0, 8.0),
           "approach_standing": (3.0, 9.0)}
DO_VALUES = {"robot_linear_speed": 0.3, "robot_angular_speed": 0.3, "human_speed": 0.6}


def _first_difference(a: np.ndarray, b: np.ndarray) -> int | None:
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    index = np.flatnonzero(~same)
    return None if index.size == 0 else int(index[0])


def _check_against_graph(scenario, variable: str, value: float, start: float, end: float,
                         every_descendant: bool = True) -> None:
    comparison = compare_intervention(scenario, Intervention(variable, value, start, end), steps=STEPS)
    k = int(round(start / scenario.dt))
    lags = shortest_lags(scenario.ground_truth(), variable)
    changed = set()
    for name in scenario.variables:
        first = _first_difference(comparison.baseline.column(name), comparison.intervened.column(name))
        if first is None:
            continue
        changed.add(name)
        assert name in lags, f"do({variable}) changed {name}, which is not a descendant in the ground truth"
        assert first >= k + lags[name], (f"do({variable}) at step {k} changed {name} at step {first}, earlier than "
                                         f"the graph's smallest lag {lags[name]} allows")
    descendants = {name for name in lags if name in scenario.variables}
    if every_descendant:
        assert changed == descendants, f"descendants of {variable} that did not change: {descendants - changed}"


@pytest.mark.parametrize("name", sorted(WINDOWS))
@pytest.mark.parametrize("variable", sorted(DO_VALUES))
def test_do_changes_exactly_the_descendants_no_earlier_than_their_lags(name: str, variable: str) -> None:
    start, end = WINDOWS[name]
    _check_against_graph(load_scenario(name), variable, DO_VALUES[variable], start, end)


@pytest.mark.parametrize("variable", sorted(DO_VALUES))
@pytest.mark.parametrize("window", [(3.0, 9.0), (10.0, 16.0)])
def test_crowd_effects_never_come_earlier_than_the_graph_allows(variable: str, window) -> None:
    # Other people are latent here, and the robot drives straight along its line for the whole run, so some
    # descendants (its yaw rate) need not change within the run; what must hold is the lag bound.
    _check_against_graph(load_scenario("crowd"), variable, DO_VALUES[variable], *window, every_descendant=False)


def test_robot_that_ignores_people_is_not_a_descendant_of_the_person() -> None:
    data = yaml.safe_load(load_scenario("corridor_passing").source.read_text())
    data["robot"]["controller"].update(speed_policy="constant", heading_policy="goal")
    scenario = scenario_from_dict(data)
    truth = scenario.ground_truth()
    assert ("human_robot_distance", "robot_linear_speed", 1) not in truth
    assert "robot_linear_speed" not in shortest_lags(truth, "human_speed")
    _check_against_graph(scenario, "human_speed", 0.6, 3.0, 9.0)


def test_person_who_ignores_the_robot_is_not_a_descendant_of_the_robot() -> None:
    scenario = load_scenario("crossing")
    truth = scenario.ground_truth()
    assert ("human_robot_distance", "human_speed", 1) not in truth
    comparison = compare_intervention(scenario, Intervention("robot_linear_speed", 0.0, 0.0), steps=150,
                                      variables=PIPELINE_VARIABLES)
    for name in ("human_speed", "human_heading_rate", "human_goal_distance"):
        np.testing.assert_array_equal(comparison.baseline.column(name), comparison.intervened.column(name))
    assert np.any(comparison.effect("human_robot_distance") != 0.0)


def test_slowing_the_robot_lowers_collision_risk_while_they_meet() -> None:
    comparison = compare_intervention("corridor_passing", Intervention("robot_linear_speed", 0.0, 3.0, 9.0),
                                      variables=PIPELINE_VARIABLES, steps=100)
    assert comparison.mean_effect("robot_linear_speed", 3.0, 9.0) < -0.3
    assert comparison.mean_effect("collision_risk", 3.0, 9.0) < 0.0


def test_goal_and_heading_interventions_take_hold() -> None:
    scenario = load_scenario("corridor_passing")
    sim = scenario.make_simulator()
    sim.apply_intervention(Intervention("human_goal", (8.0, 1.0), 1.0))
    sim.apply_intervention(Intervention("robot_heading", 1.0, 1.0, 2.0))
    for _ in range(15):
        sim.step()
    np.testing.assert_allclose(sim.person_goals()[0], (8.0, 1.0))
    assert sim.robot_pose[2] == pytest.approx(1.0) and sim.robot_yaw_rate == 0.0
    assert sim.velocities[0, 0] > 0.0, "the person turned round towards the new goal"


def test_interventions_on_scm_follow_its_links() -> None:
    scenario = load_scenario("scm_demo")
    comparison = compare_intervention(scenario, Intervention("robot_linear_speed", 1.0, 5.0, 10.0), steps=120)
    lags = shortest_lags(scenario.ground_truth(), "robot_linear_speed")
    k = 50
    for name in scenario.variables:
        first = _first_difference(comparison.baseline.column(name), comparison.intervened.column(name))
        if name in lags:
            assert first == k + lags[name], name
        else:
            assert first is None, name
    assert np.all(comparison.intervened.column("robot_linear_speed")[k:100] == 1.0)


@pytest.mark.parametrize("bad, message", [
    (dict(variable="robot_linear_speed", value=float("nan")), "finite"),
    (dict(variable="robot_linear_speed", value=0.1, start=2.0, end=1.0), "end"),
    (dict(variable="human_goal", value=1.0), "human_goal"),
    (dict(variable="", value=1.0), "variable"),
    (dict(variable="human_speed", value=1.0, person=-1), "person"),
])
def test_invalid_interventions_are_rejected(bad: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Intervention(**bad)


def test_unknown_intervention_targets_are_rejected() -> None:
    sim = load_scenario("corridor_passing").make_simulator()
    with pytest.raises(ValueError, match="collision_risk"):
        sim.apply_intervention(Intervention("collision_risk", 0.0))
    with pytest.raises(ValueError, match="person 3"):
        sim.apply_intervention(Intervention("human_speed", 0.5, person=3))
    with pytest.raises(ValueError, match="nope"):
        load_scenario("scm_demo").make_simulator().apply_intervention(Intervention("nope", 0.0))


@pytest.mark.parametrize("name", ["corridor_passing", "scm_demo"])
def test_fork_branches_the_future(name: str) -> None:
    sim = load_scenario(name).make_simulator()
    for _ in range(30):
        sim.step()
    same, other = sim.fork(), sim.fork(noise_seed=7)
    for _ in range(20):
        sim.step(), same.step(), other.step()
    state = (lambda s: s.values()) if name == "scm_demo" else (lambda s: s.positions)
    np.testing.assert_array_equal(state(sim), state(same))
    assert not np.array_equal(state(sim), state(other))
    assert same.step_index == sim.step_index == 50
