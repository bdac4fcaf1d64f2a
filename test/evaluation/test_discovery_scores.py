"""Scoring discovery against a reference: lag-level and lag-collapsed F1, and which variables take part."""
from __future__ import annotations

import math

import numpy as np
import pytest

from causal_nodes.discovery.discover import DiscoveryConfig
from causal_nodes.evaluation.discovery_scores import discover_and_score, score_against, usable_columns
from causal_nodes.evaluation.graph_metrics import score_links, score_summary
from causal_nodes.sim import load_scenario, run_scenario
from causal_nodes.sim.reference import ReferenceGraph

TRUTH = {("a", "b", 1), ("b", "c", 0), ("a", "a", 1)}


def test_lag_collapsed_scoring_ignores_the_lag_and_matches_undirected_links_either_way() -> None:
    found = [("a", "b", 2, "-->"), ("a", "b", 3, "-->"), ("c", "b", 0, "o-o"), ("a", "a", 2, "-->"),
             ("c", "a", 1, "-->")]
    summary = score_summary(found, TRUTH)
    # pairs found: a->b, b->c (the undirected lag-0 link), a->a, c->a (wrong)
    assert (summary["tp"], summary["fp"], summary["fn"]) == (3, 1, 0)
    assert summary["f1"] == pytest.approx(2 * 0.75 / 1.75)
    lag_level = score_links(found, TRUTH)
    assert lag_level["tp"] == 1 and lag_level["fn"] == 2, "only b-c at lag 0 is right at its lag"
    assert score_summary([], TRUTH)["f1"] == 0.0 and score_summary([], set())["precision"] == 1.0


def test_score_against_reports_both_scores_and_the_kind_of_reference() -> None:
    reference = ReferenceGraph("interventional", ["a", "b", "c"], 3, set(TRUTH))
    out = score_against([("a", "b", 1, "-->")], reference)
    assert out["reference"] == "interventional" and out["reference_links"] == 3
    assert out["precision"] == 1.0 and out["recall"] == pytest.approx(1 / 3)
    assert out["f1_summary"] == pytest.approx(0.5)


def test_missing_and_constant_variables_are_left_out_not_their_rows() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(100, 4))
    values[:, 1] = math.nan  # never defined (e.g. clearance without walls)
    values[:, 2] = 3.0  # constant
    values[:3, 3] = math.nan  # the first steps: those rows go
    usable = usable_columns(["a", "b", "c", "d"], values)
    assert usable.names == ["a", "d"] and usable.values.shape == (97, 2) and usable.rows_dropped == 3
    assert set(usable.left_out) == {"b", "c"} and "missing" in usable.left_out["b"]
    assert usable.left_out["c"] == "constant"


def test_discover_and_score_on_a_physical_stream_names_what_it_left_out() -> None:
    scenario = load_scenario("crossing")  # open space: no obstacle for the clearance
    names = ["robot_linear_speed", "human_robot_distance", "human_speed", "robot_obstacle_clearance"]
    series = run_scenario(scenario, seed=21, variables=names)
    out = discover_and_score(scenario, series.names, series.values, DiscoveryConfig(tau_max=2))
    assert "robot_obstacle_clearance" in out["left_out"] and "robot_obstacle_clearance" not in out["variables"]
    assert out["reference"] == "interventional" and 0.0 <= out["f1"] <= 1.0 and 0.0 <= out["f1_summary"] <= 1.0
    assert out["samples"] >= 590 and out["seconds"] > 0.0 and "f1_mechanism" in out
