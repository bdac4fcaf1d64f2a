"""The ROS-free core: sliding window rules, discovery engine choice, constant variables, link listing, scoring."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scm_data import NAMES, TRUTH, scm_samples

from causal_nodes.discovery.discover import DiscoveryConfig, InsufficientDataError, discover
from causal_nodes.discovery.online import OnlineDiscovery
from causal_nodes.discovery.samples import Samples
from causal_nodes.discovery.window import SampleWindow, WindowConfig
from causal_nodes.evaluation.graph_metrics import score_links


def test_window_keeps_newest_samples_in_order():
    window = SampleWindow(WindowConfig(length=5))
    for k in range(8):
        assert window.add(float(k), ["x", "y"], [k, -k]) is None
    assert window.fill == 5
    np.testing.assert_array_equal(window.stamps(), [3, 4, 5, 6, 7])
    np.testing.assert_array_equal(window.array()[:, 1], [-3, -4, -5, -6, -7])


def test_window_rejects_bad_samples_and_counts_them():
    window = SampleWindow(WindowConfig(length=10, time_jump_reset_s=1.0))
    window.add(1.0, ["x"], [1.0])
    assert window.add(1.1, ["x"], [math.nan]) == "non_finite_value"
    assert window.add(1.0, ["x"], [2.0]) == "duplicate_stamp"
    window.add(1.2, ["x"], [2.0])
    assert window.add(1.15, ["x"], [2.0]) == "out_of_order_stamp"
    assert window.add(math.inf, ["x"], [2.0]) == "non_finite_stamp"
    assert window.add(1.3, ["x", "y"], [2.0]) == "names_values_length_mismatch"
    assert window.fill == 2
    counters = window.counters()
    assert counters["rejected_non_finite_value"] == 1 and counters["rejected_out_of_order_stamp"] == 1


def test_window_resets_on_jump_back_and_on_new_variables():
    window = SampleWindow(WindowConfig(length=10, time_jump_reset_s=1.0))
    for k in range(5):
        window.add(10.0 + 0.1 * k, ["x"], [k])
    assert window.add(0.0, ["x"], [9.0]) is None  # a looping bag: starts a new window
    assert window.fill == 1 and window.resets["time_jumped_back"] == 1
    assert window.add(0.1, ["x", "y"], [1.0, 2.0]) is None
    assert window.fill == 1 and window.resets["variables_changed"] == 1


def test_discovery_recovers_truth_and_lists_links_once():
    result = discover(scm_samples(500, seed=7), NAMES, DiscoveryConfig(tau_max=3))
    keys = {link.key() for link in result.links()}
    assert TRUTH <= keys
    assert score_links(result.links(), TRUTH)["f1"] >= 0.9
    assert len(keys) == len(result.links())


def test_constant_variable_is_left_out():
    data = scm_samples(300, seed=8)
    data[:, 3] = 1.5
    result = discover(data, NAMES, DiscoveryConfig(tau_max=2))
    assert result.dropped == ["d"] and result.variables == ["a", "b", "c"]
    assert result.graph.shape == (3, 3, 3)


def test_discovery_input_errors():
    with pytest.raises(InsufficientDataError):
        discover(scm_samples(10), NAMES, DiscoveryConfig(tau_max=3))
    bad = scm_samples(100)
    bad[5, 1] = np.inf
    with pytest.raises(ValueError, match="inf"):
        discover(bad, NAMES, DiscoveryConfig())
    mostly_missing = scm_samples(100)
    mostly_missing[::3, 0] = np.nan
    mostly_missing[1::3, 2] = np.nan
    mostly_missing[2::3, 3] = np.nan
    with pytest.raises(InsufficientDataError, match="complete samples"):
        discover(mostly_missing, NAMES, DiscoveryConfig())
    with pytest.raises(ValueError, match="shape"):
        discover(scm_samples(100), NAMES[:3], DiscoveryConfig())
    with pytest.raises(ValueError, match="test must be one of"):
        DiscoveryConfig(test="pearson")
    with pytest.raises(ValueError, match="tau_min"):
        DiscoveryConfig(tau_min=4, tau_max=2)


def test_engine_choice_is_recorded():
    data = scm_samples(200, seed=9)
    fast = discover(data, NAMES, DiscoveryConfig(tau_max=2, engine="auto"))
    reference = discover(data, NAMES, DiscoveryConfig(tau_max=2, engine="tigramite"))
    assert fast.engine == "fast" and reference.engine == "tigramite"
    assert (fast.graph == reference.graph).all()
    np.testing.assert_allclose(fast.p_matrix, reference.p_matrix, atol=1e-8)


def test_online_discovery_selects_variables_and_reports_missing_ones():
    online = OnlineDiscovery(WindowConfig(length=100), DiscoveryConfig(tau_max=1), variables=["b", "a"], min_samples=20)
    data = scm_samples(30)
    for k, row in enumerate(data):
        online.add(0.1 * k, NAMES, row)
    assert online.add(10.0, ["a"], [1.0]) == "missing_b"
    assert online.ready()
    job = online.take_job()
    assert job.names == ["b", "a"] and job.data.shape == (30, 2)
    np.testing.assert_array_equal(job.data[:, 0], data[:, 1])
    assert not online.ready()  # no new samples since the job
    outcome = online.run(job)
    assert outcome.result is not None and ("a", "b", 1) in {link.key() for link in outcome.result.links()}


def test_score_links_counts_undirected_contemporaneous_once():
    truth = {("x", "y", 0), ("x", "x", 1)}
    scores = score_links([("y", "x", 0, "o-o"), ("x", "x", 1, "-->"), ("y", "y", 2, "-->")], truth)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 1, 0)
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == 1.0


def test_streaming_statistics_give_the_batch_result_on_every_window():
    config = DiscoveryConfig(tau_max=2)
    online = OnlineDiscovery(WindowConfig(length=120, time_jump_reset_s=1.0), config, min_samples=60)
    assert online.streaming
    data = scm_samples(400, seed=11)
    stamps = list(0.1 * np.arange(250)) + list(0.1 * np.arange(150))  # the stream jumps back: a looping bag
    checked = 0
    for k, (stamp, row) in enumerate(zip(stamps, data)):
        online.add(stamp, NAMES, row)
        if k % 29 == 0 and online.ready():
            job = online.take_job()
            assert job.statistics is not None
            streamed = online.run(job).result
            batch = discover(job.data, job.names, config)
            assert streamed.engine_note == "streaming statistics"
            assert (streamed.graph == batch.graph).all()
            np.testing.assert_allclose(streamed.val_matrix, batch.val_matrix, atol=1e-10)
            np.testing.assert_allclose(streamed.p_matrix, batch.p_matrix, atol=1e-10)
            checked += 1
    assert checked >= 8 and online.window.resets["time_jumped_back"] == 1


def test_encounters_split_at_subject_changes_and_gaps_and_pool_as_datasets():
    from causal_nodes.discovery.online import encounters

    # gaps of 5 s: longer than encounter_gap_s, within the window's max_forward_jump_s (10 s)
    stamps = np.r_[0.1 * np.arange(100), 15.0 + 0.1 * np.arange(100), 30.0 + 0.1 * np.arange(100)]
    subjects = ["3"] * 100 + ["3"] * 50 + ["7"] * 50 + ["7"] * 100
    np.testing.assert_array_equal(np.unique(encounters(stamps, subjects, 1.0), return_counts=True)[1],
                                  [100, 50, 50, 100])
    online = OnlineDiscovery(WindowConfig(length=300, time_jump_reset_s=1.0), DiscoveryConfig(tau_max=1),
                             min_samples=60, pool_encounters=True, encounter_gap_s=1.0)
    data = scm_samples(300, seed=12)
    for stamp, subject, row in zip(stamps, subjects, data):
        assert online.add(stamp, NAMES, row, subject) is None
    outcome = online.run(online.take_job())
    assert outcome.result.datasets == 4 and outcome.result.engine == "tigramite"
    reference = discover(Samples(data, NAMES, datasets=encounters(stamps, subjects, 1.0)), NAMES,
                         DiscoveryConfig(tau_max=1))
    np.testing.assert_array_equal(outcome.result.graph, reference.graph)


def test_frames_without_a_person_for_longer_than_the_forward_jump_limit_keep_the_pooled_encounters():
    online = OnlineDiscovery(WindowConfig(length=300, max_forward_jump_s=10.0), DiscoveryConfig(tau_max=1),
                             min_samples=60, pool_encounters=True, encounter_gap_s=1.0)
    data = scm_samples(200, seed=15)
    for k in range(100):
        assert online.add(0.1 * k, NAMES, data[k], "3") is None
    for k in range(100, 400):  # 30 s of frames with nobody in view: rejected, but the clock moves on
        assert online.add(0.1 * k, NAMES, [np.nan] * len(NAMES), "") == "non_finite_value"
    for k in range(100):
        assert online.add(40.0 + 0.1 * k, NAMES, data[100 + k], "7") is None
    assert online.window.fill == 200 and not online.window.resets
    assert online.take_job().datasets[-1] == 1  # two encounters, split at the gap
    online.add(1e9, NAMES, data[0], "7")  # a far-future outlier is still one
    assert online.window.rejected["future_stamp"] == 1


def test_a_run_that_cannot_work_says_why():
    online = OnlineDiscovery(WindowConfig(length=100), DiscoveryConfig(tau_max=1), min_samples=20)
    rng = np.random.default_rng(13)
    for k in range(60):
        online.add(0.1 * k, NAMES, [rng.normal(), 1.0, 2.0, 3.0])
    outcome = online.run(online.take_job())
    assert outcome.result is None and outcome.insufficient
    assert outcome.error == "fewer than two usable variables (left out: b (constant); c (constant); d (constant))"
    rcot = OnlineDiscovery(WindowConfig(length=100), DiscoveryConfig(test="rcot", tau_max=3, max_conds_dim=None),
                           min_samples=20)
    for k, row in enumerate(scm_samples(25, seed=14)):
        rcot.add(0.1 * k, NAMES, row)
    outcome = rcot.run(rcot.take_job())
    assert outcome.insufficient and "too few samples" in outcome.error


def test_duplicated_variables_are_left_out_with_the_reason():
    data = scm_samples(300, seed=15)
    twin = np.column_stack([data, 3.0 * data[:, 0] - 1.0, data[:, 1] + data[:, 2]])
    result = discover(twin, NAMES + ["a_scaled", "b_plus_c"], DiscoveryConfig(tau_max=2))
    assert result.variables == NAMES
    assert result.drop_reasons == {"a_scaled": "a linear function of a", "b_plus_c": "a linear function of b, c"}
    assert {link.key() for link in result.links()} == {link.key() for link in discover(
        data, NAMES, DiscoveryConfig(tau_max=2)).links()}
