"""Data-free guesses scored like discovery, and a shorter-lag run scored on the whole reference."""
from __future__ import annotations

import pytest

from causal_nodes.discovery.discover import DiscoveryConfig
from causal_nodes.evaluation.baseline_graphs import baseline_graph, complete_graph
from causal_nodes.evaluation.discovery_scores import baseline_and_score, discover_and_score
from causal_nodes.sim import load_scenario, run_scenario


def test_complete_graph_lists_each_lag0_pair_once_undirected_and_every_lagged_pair() -> None:
    links = complete_graph(["a", "b", "c"], range(4))
    lag0 = [link for link in links if link[2] == 0]
    assert len(lag0) == 3 and {link[3] for link in lag0} == {"o-o"}
    assert len(links) == 3 + 3 * 9, "3 undirected lag-0 pairs, 9 directed pairs (autolinks included) per lag"
    assert ("a", "a", 1, "-->") in links and ("a", "a", 0, "o-o") not in links
    assert {link[2] for link in baseline_graph("lags01", ["a", "b"], 3)} == {0, 1}
    assert baseline_graph("lag1", ["a", "b"], 3) == [("a", "a", 1, "-->"), ("a", "b", 1, "-->"), ("b", "a", 1, "-->"),
                                                     ("b", "b", 1, "-->")]
    assert baseline_graph("autolinks", ["a", "b"], 3) == [("a", "a", 1, "-->"), ("b", "b", 1, "-->")]
    assert baseline_graph("autolinks", ["a", "b"], 0) == [], "no lag 1 to link at tau_max 0"


def test_unknown_baseline_and_negative_lags_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown baseline 'everything'"):
        baseline_graph("everything", ["a"], 3)
    with pytest.raises(ValueError, match="lags must be >= 0"):
        complete_graph(["a"], [-1])


def test_the_complete_guess_finds_every_reference_link_at_the_precision_of_its_density() -> None:
    scenario = load_scenario("scm_demo")
    series = run_scenario(scenario, seed=5, steps=200)
    score = baseline_and_score(scenario, series.names, series.values, "complete", 3)
    n = len(series.names)
    candidates = n * (n - 1) // 2 + 3 * n * n
    assert score["recall"] == 1.0 and score["fn"] == 0
    assert score["tp"] + score["fp"] == candidates
    assert score["precision"] == pytest.approx(score["reference_links"] / candidates)
    assert score["cpu_seconds"] == 0.0 and score["config"] == {"baseline": "complete", "tau_max": 3}


def test_a_run_with_fewer_lags_is_scored_on_the_reference_links_it_cannot_see() -> None:
    scenario = load_scenario("corridor_passing")  # its reference has one link at lag 2 and one at lag 3
    series = run_scenario(scenario, seed=5, steps=300)
    config = DiscoveryConfig(tau_max=1)
    own = discover_and_score(scenario, series.names, series.values, config, mechanism=False)
    whole = discover_and_score(scenario, series.names, series.values, config, mechanism=False, reference_tau_max=3)
    assert whole["reference_links"] == own["reference_links"] + 2
    assert whole["fn"] == own["fn"] + 2 and whole["tp"] == own["tp"]
    assert whole["tau_max"] == 3 and own["tau_max"] == 1


def test_one_graph_is_scored_against_both_reference_units_side_by_side() -> None:
    scenario = load_scenario("crossing")
    series = run_scenario(scenario, seed=5, steps=120)
    score = baseline_and_score(scenario, series.names, series.values, "lags01", 3, units=("noise", "spread"))
    noise, spread = score["by_unit"]["noise"], score["by_unit"]["spread"]
    assert (noise["reference"], spread["reference"]) == ("interventional", "interventional-spread")
    assert score["f1"] == noise["f1"] and score["reference"] == "interventional", "the first unit at the top level"
    assert noise["tp"] + noise["fp"] == spread["tp"] + spread["fp"], "the same graph"
    assert spread["reference_links"] < noise["reference_links"]
    with pytest.raises(ValueError, match="unknown effect unit"):
        baseline_and_score(scenario, series.names, series.values, "lags01", 3, units=("sd",))
