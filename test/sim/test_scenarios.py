"""Scenario files: every shipped one loads and runs deterministically; broken ones fail naming the field."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from causal_nodes.sim import (
    PIPELINE_VARIABLES,
    default_demo_scenario,
    list_scenarios,
    load_scenario,
    make_scm_scenario,
    run_scenario,
    scenario_from_dict,
)

PHYSICAL = ["approach_standing", "corridor_passing", "crossing", "crowd", "overtaking"]


def test_all_standard_scenarios_are_shipped() -> None:
    names = list_scenarios()
    for name in PHYSICAL + ["scm_demo", "scm_random_linear", "scm_random_nonlinear", "scm_contemporaneous"]:
        assert name in names


@pytest.mark.parametrize("name", list_scenarios())
def test_scenario_ground_truth_is_over_its_variables_and_runs_deterministically(name: str) -> None:
    scenario = load_scenario(name)
    truth = scenario.ground_truth()
    assert truth, "a scenario without links cannot score discovery"
    for source, target, lag in truth:
        assert source in scenario.variables and target in scenario.variables and lag >= 0
        assert not (lag == 0 and source == target)
    first = run_scenario(scenario, steps=60)
    again = run_scenario(scenario, steps=60)
    other = run_scenario(scenario, steps=60, seed=scenario.seed + 1)
    assert first.values.shape == (61, len(scenario.variables))
    np.testing.assert_array_equal(first.values, again.values)
    assert not np.array_equal(first.values, other.values, equal_nan=True)


def test_physical_variables_are_the_pipeline_defaults_and_any_pipeline_variable_can_be_run() -> None:
    from causal_nodes.variables.extractor import DEFAULT_VARIABLES

    scenario = load_scenario("corridor_passing")
    assert scenario.variables == list(DEFAULT_VARIABLES)
    series = run_scenario(scenario, steps=100, variables=PIPELINE_VARIABLES)
    assert series.names == PIPELINE_VARIABLES
    defined = [n for n in PIPELINE_VARIABLES if n != "image_motion"]
    assert np.all(np.isfinite(series.values[2:, [series.names.index(n) for n in defined]])), \
        "every variable is defined once two frames exist"
    truth = scenario.mechanism_truth(PIPELINE_VARIABLES)
    assert ("human_robot_distance", "robot_linear_speed", 1) in truth
    assert ("robot_angular_speed", "imu_yaw_rate", 0) in truth
    assert scenario.ground_truth() == scenario.mechanism_truth()
    with pytest.raises(ValueError, match="unknown variable"):
        run_scenario(scenario, steps=3, variables=["human_speed", "mood"])


def test_policies_switch_links_of_the_ground_truth() -> None:
    assert ("human_robot_distance", "robot_angular_speed", 1) in load_scenario("overtaking").ground_truth()
    assert ("human_robot_distance", "robot_angular_speed", 1) not in load_scenario("corridor_passing").ground_truth()
    assert ("human_robot_distance", "human_speed", 1) not in load_scenario("crossing").ground_truth()


def test_demo_scenario_has_pipeline_names_and_lagged_links() -> None:
    demo = default_demo_scenario()
    assert demo.kind == "scm" and 4 <= len(demo.variables) <= 6
    assert set(demo.variables) <= set(PIPELINE_VARIABLES)
    assert ("robot_linear_speed", "human_speed", 1) in demo.ground_truth()
    assert ("human_robot_distance", "human_speed", 2) in demo.ground_truth()


def test_scm_family_is_seeded() -> None:
    a = make_scm_scenario(6, 3, 6, structure_seed=4)
    b = make_scm_scenario(6, 3, 6, structure_seed=4)
    c = make_scm_scenario(6, 3, 6, structure_seed=5)
    assert a.ground_truth() == b.ground_truth() != c.ground_truth()
    assert len(a.ground_truth()) == 6 + 6


def _corridor() -> dict:
    return yaml.safe_load(load_scenario("corridor_passing").source.read_text())


def _scm() -> dict:
    return yaml.safe_load(load_scenario("scm_demo").source.read_text())


def _set(data: dict, path: str, value) -> dict:
    node = data
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    node[keys[-1]] = value
    return data


@pytest.mark.parametrize("make, path, value, field", [
    (_corridor, "robot.controller.speed_policy", "fast", "robot.controller.speed_policy"),
    (_corridor, "robot.start", [0.0, 1.0], "robot.start"),
    (_corridor, "robot.max_linear_speed", "quick", "robot.max_linear_speed"),
    (_corridor, "robot.linear_noise_std", -0.1, "robot.linear_noise_std"),
    (_corridor, "robot.controller.excitation_hold_s", 0.0, "robot.controller.excitation_hold_s"),
    (_corridor, "dt", -0.1, "dt"),
    (_corridor, "kind", "cartoon", "kind"),
    (_corridor, "colour", "red", "colour"),
    (_corridor, "subject", 3, "subject"),
    (_corridor, "sensors.scan.beams", 0, "sensors.scan.beams"),
    (_corridor, "social_force.relaxation_time", 0.0, "social_force.relaxation_time"),
    (_corridor, "variables", ["human_speed", "mood"], "variables"),
    (_corridor, "walls", [[0, 0, 1]], "walls[0]"),
    (_scm, "scm.links", [["robot_linear_speed", "nowhere", 1, 0.5]], "scm"),
    (_scm, "scm.links", [["robot_linear_speed", "human_speed", 1]], "scm.links[0]"),
    (_scm, "scm.offsets", [0.0, 1.0], "scm.offsets"),
    (_scm, "walls", [[0, 0, 1, 1]], "walls"),
])
def test_invalid_scenario_names_the_field(make, path: str, value, field: str) -> None:
    data = _set(make(), path, value)
    with pytest.raises(ValueError, match=re.escape(f"field '{field}'")):
        scenario_from_dict(data)


def test_any_subset_of_variables_can_be_observed() -> None:
    """The interventional reference is derived for the variables given, so a scenario may leave out any."""
    data = _corridor()
    data["variables"] = ["human_speed", "robot_linear_speed", "collision_risk"]
    scenario = scenario_from_dict(data)
    assert scenario.variables == data["variables"]
    assert all(s in scenario.variables and t in scenario.variables for s, t, _ in scenario.mechanism_truth())


def test_people_entries_are_checked() -> None:
    data = _corridor()
    data["people"][0]["start"] = [1.0]
    with pytest.raises(ValueError, match=r"field 'people\[0\]\.start'"):
        scenario_from_dict(data)


def test_contemporaneous_cycle_is_rejected() -> None:
    data = _scm()
    data["scm"]["links"] = [
        ["robot_linear_speed", "human_speed", 0, 0.5],
        ["human_speed", "robot_linear_speed", 0, 0.5],
    ]
    with pytest.raises(ValueError, match="cycle"):
        scenario_from_dict(data)


def test_bad_files_and_names(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [physical\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_scenario(broken)
    with pytest.raises(ValueError, match="does not exist"):
        load_scenario(tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match="unknown scenario"):
        load_scenario("no_such_scenario")
    good = tmp_path / "mine.yaml"
    good.write_text(load_scenario("crossing").source.read_text().replace("name: crossing", "name: mine"))
    assert load_scenario(good).name == "mine"


def test_the_variables_describe_the_scenarios_subject_in_a_crowd_and_the_only_person_otherwise():
    """demo and the benchmarks give the variables node this ``person``: in the crowd the nearest person would be
    someone else than the subject the reference describes."""
    from causal_nodes.sim.scenario import load_scenario

    crowd = load_scenario("crowd")
    assert crowd.physical.person_count == crowd.make_simulator().person_count == 10
    assert crowd.physical.person_parameter() == str(crowd.physical.subject)
    assert load_scenario("corridor_passing").physical.person_parameter() == "nearest"
