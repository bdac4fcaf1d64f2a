"""One bag's task: the same extraction as bag2csv, the discovery node's windows, the pooled graph, failures."""
from __future__ import annotations

import numpy as np
import pytest
from scene_bags import read_csv

from causal_nodes.bags.to_csv import bag_to_csv
from causal_nodes.discovery.discover import DiscoveryConfig, discover
from causal_nodes.fleet import FleetConfig, WindowOptions, analyze_bag
from causal_nodes.sim import load_scenario, run_scenario


def _assert_same_links(found, expected) -> None:
    assert [(k.source, k.target, k.lag, k.link_type) for k in found] == \
        [(k.source, k.target, k.lag, k.link_type) for k in expected]
    assert np.allclose([k.strength for k in found], [k.strength for k in expected], rtol=0, atol=1e-9)
    assert np.allclose([k.p_value for k in found], [k.p_value for k in expected], rtol=1e-6, atol=1e-12)


def test_window_graphs_follow_the_stride_and_equal_discover_on_the_same_samples(fleet_bags, fleet_config, tmp_path):
    physical = fleet_bags[0]
    result = analyze_bag(physical, fleet_config)
    assert result.ok and result.source == "sensors", result.error
    csv = tmp_path / "vars.csv"
    bag_to_csv(physical, csv)
    header, table = read_csv(csv)
    assert header[1:] == result.variables and len(table) == result.frames
    complete = table[np.all(np.isfinite(table[:, 1:]), axis=1)]
    assert result.complete_frames == len(complete)
    # windows: full (100 samples), one graph every 50 accepted samples, as the node's window holds them
    assert len(result.windows) == (len(complete) - 100) // 50 + 1 >= 4
    for window in result.windows:
        assert window.samples == 100 and window.ok, window.error
        rows = complete[(complete[:, 0] >= window.start - 1e-9) & (complete[:, 0] <= window.end + 1e-9)]
        assert len(rows) == 100
        expected = discover(rows[:, 1:], header[1:], fleet_config.discovery)
        _assert_same_links(window.links, expected.links())  # streaming statistics vs batch: equal to ~1e-12
        assert window.variables == expected.variables
        assert window.recommendation is not None and window.recommendation.target == "human_robot_distance"
    assert np.all(np.diff([w.end for w in result.windows]) > 0)
    # pooled graph = `bag2csv --drop-incomplete` + `discover`
    _assert_same_links(result.graph, discover(complete[:, 1:], header[1:], fleet_config.discovery).links())
    assert result.metadata["scenario"] == "corridor_passing" and result.metadata["seed"] == "1"
    assert result.timing["seconds"] > 0


def test_scm_bag_is_read_from_its_variable_frames(fleet_bags, fleet_config):
    result = analyze_bag(fleet_bags[2], fleet_config)
    assert result.ok and result.source == "frames"
    series = run_scenario("scm_demo", seed=1, steps=300)
    assert result.variables == series.names and result.frames == 301
    assert all(w.ok for w in result.windows) and len(result.windows) == 5
    truth = load_scenario("scm_demo").ground_truth()
    found = {(k.source, k.target, k.lag) for k in result.graph}
    assert len(truth & found) >= len(truth) - 2  # 300 samples: nearly every true link


def test_prioritization_ranks_an_actionable_intervention(fleet_bags, fleet_config):
    result = analyze_bag(fleet_bags[2], fleet_config)
    recs = [w.recommendation for w in result.windows]
    assert all(r is not None for r in recs)
    assert any(r.variable in ("robot_linear_speed", "robot_angular_speed") and np.isfinite(r.predicted_effect)
               for r in recs)


def test_corrupt_missing_and_unsuitable_bags_give_a_reason_not_an_exception(fleet_bags, fleet_config, tmp_path):
    corrupt = analyze_bag(fleet_bags[-1], fleet_config)
    assert not corrupt.ok and "zz_truncated" in corrupt.error and corrupt.windows == []
    missing = analyze_bag(tmp_path / "nope", fleet_config)
    assert not missing.ok and "bag not found" in missing.error
    sensors_only = FleetConfig(extraction=fleet_config.extraction.__class__(source="sensors"),
                               window=fleet_config.window)
    scm = analyze_bag(fleet_bags[2], sensors_only)
    assert not scm.ok and "none of the topics" in scm.error


def test_a_window_too_short_for_the_lags_is_refused_up_front():
    with pytest.raises(ValueError, match="too short"):
        FleetConfig(window=WindowOptions(length=12), discovery=DiscoveryConfig(tau_max=3))
    with pytest.raises(ValueError, match="stride"):
        WindowOptions(stride=0)
