"""The discovery window under hostile frames, and settings changed at runtime (the next job reflects them)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scm_data import NAMES, scm_samples

from causal_nodes.discovery.discover import DiscoveryConfig, discover
from causal_nodes.discovery.online import OnlineDiscovery
from causal_nodes.discovery.window import SampleWindow, WindowConfig


def test_a_frame_of_10000_variables_is_rejected_not_allocated():
    online = OnlineDiscovery(WindowConfig(length=100, max_variables=50), DiscoveryConfig(tau_max=1))
    wide = [f"v{k}" for k in range(10_000)]
    assert online.add(1.0, wide, np.zeros(10_000)) == "too_many_variables"
    assert online.window.names == [] and online._stream is None  # nothing sized by the wide frame
    assert online.add(1.1, NAMES, [0.0, 1.0, 2.0, 3.0]) is None
    assert online.counters()["rejected_too_many_variables"] == 1


def test_a_future_frame_is_dropped_until_confirmed():
    window = SampleWindow(WindowConfig(length=50, max_forward_jump_s=10.0))
    for k in range(10):
        window.add(100.0 + 0.1 * k, ["x"], [float(k)])
    assert window.add(2.1e9, ["x"], [1.0]) == "future_stamp"
    assert window.add(101.0, ["x"], [1.0]) is None and window.fill == 11
    for k in range(3):
        window.add(5000.0 + 0.1 * k, ["x"], [1.0])
    assert window.resets["time_jumped_forward"] == 1 and window.fill == 1


def test_nan_variables_are_named_as_blocking_the_window():
    online = OnlineDiscovery(WindowConfig(length=100), DiscoveryConfig(tau_max=1), min_samples=20)
    for k in range(30):
        online.add(0.1 * k, ["a", "goal_distance"], [float(k), math.nan])
    assert online.window.fill == 0 and online.blocking() == {"goal_distance": 30}
    enough, sentence = online.fill_status()
    assert not enough and "goal_distance (30 frames in a row)" in sentence
    online.add(3.1, ["a", "goal_distance"], [1.0, 2.0])
    assert online.blocking() == {}


def test_a_variable_nan_for_leave_out_after_frames_is_left_out_and_its_frames_kept():
    """#10's bad-input rule: a dead variable is left out with its name said, never whole frames lost. The frames
    held back before it was left out enter the window without it; as many good frames take it back in."""
    online = OnlineDiscovery(WindowConfig(length=100, leave_out_after=5, leave_out_nan_after=5),
                             DiscoveryConfig(tau_max=1), min_samples=20)
    for k in range(10):
        assert online.add(0.1 * k, ["a", "b", "c"], [float(k), float(k % 3), 1.0 * k * k]) is None
    for k in range(10, 40):
        online.add(0.1 * k, ["a", "b", "c"], [float(k), math.nan, 1.0 * k * k])
    assert online.window.names == ["a", "c"] and online.window.fill == 40  # no frame lost, b's column gone
    # the frames held back were first counted as rejected; the counters say they were taken in after all
    assert online.counters()["rejected_non_finite_value"] == online.counters()["taken_in_after_hold"] == 4
    assert online.left_out == {"b": "NaN in 5 frames in a row"} and online.blocking() == {}
    enough, sentence = online.fill_status()
    assert enough and "left out: b (NaN in 5 frames in a row)" in sentence
    job = online.take_job()
    np.testing.assert_array_equal(job.data[:, 0], np.arange(40.0))
    outcome = online.run(job)
    assert outcome.result is not None and "b" in outcome.result.dropped
    assert "left out of the window" in outcome.result.dropped_text()
    for k in range(40, 44):  # b back, but not yet for leave_out_after frames: still out
        online.add(0.1 * k, ["a", "b", "c"], [float(k), 1.0, 1.0])
    assert "b" in online.left_out and online.window.fill == 44
    online.add(4.4, ["a", "b", "c"], [44.0, 1.0, 1.0])
    assert online.left_out == {} and online.window.names == ["a", "b", "c"] and online.window.fill == 1
    assert online.counters()["reset_variable_returned"] == 1


def test_a_listed_variable_missing_from_the_frames_is_left_out_and_the_streaming_statistics_follow():
    data = scm_samples(200, seed=4)
    online = OnlineDiscovery(WindowConfig(length=150, leave_out_after=10), DiscoveryConfig(tau_max=2),
                             variables=NAMES, min_samples=50)
    for k, row in enumerate(data[:100]):
        online.add(0.1 * k, NAMES, row)
    for k, row in enumerate(data[100:], start=100):  # the last variable stops coming
        online.add(0.1 * k, NAMES[:-1], row[:-1])
    assert online.left_out == {NAMES[-1]: "not in the frames (10 in a row)"}
    assert online.window.fill == 150 and online.counters().get("rejected_missing_" + NAMES[-1]) == 9
    assert online.counters()["taken_in_after_hold"] == 9
    job = online.take_job()
    assert job.names == NAMES[:-1] and job.statistics is not None  # the fast engine's statistics, rebuilt
    fast = online.run(job).result
    reference = discover(data[50:, :-1], NAMES[:-1], DiscoveryConfig(tau_max=2, engine="tigramite"))
    assert fast.engine == "fast" and (fast.graph == reference.graph).all()


def test_configured_variable_missing_from_frames_is_named():
    online = OnlineDiscovery(WindowConfig(length=100), DiscoveryConfig(tau_max=1), variables=["a", "b"])
    for k in range(5):
        online.add(0.1 * k, ["a"], [1.0])
    assert online.blocking() == {"b": 5}


def test_reconfigure_applies_to_the_next_job_and_keeps_the_window():
    data = scm_samples(400, seed=3)
    online = OnlineDiscovery(WindowConfig(length=300), DiscoveryConfig(tau_max=3), min_samples=50)
    for k, row in enumerate(data):
        online.add(0.1 * k, NAMES, row)
    online.take_job()
    assert not online.ready()
    online.reconfigure(DiscoveryConfig(tau_max=1, alpha_level=0.05), WindowConfig(length=200))
    assert online.ready()  # new settings: a run is due even without new samples
    job = online.take_job()
    assert job.data.shape == (200, 4) and job.config.tau_max == 1
    result = online.run(job).result
    assert result.config.tau_max == 1 and result.graph.shape[2] == 2 and result.config.alpha_level == 0.05
    batch = discover(data[-200:], NAMES, DiscoveryConfig(tau_max=1, alpha_level=0.05))
    assert (result.graph == batch.graph).all()  # the streaming statistics were rebuilt for the new tau_max


def test_a_bad_reconfiguration_changes_nothing():
    online = OnlineDiscovery(WindowConfig(length=100), DiscoveryConfig(tau_max=3), min_samples=50)
    with pytest.raises(ValueError, match="window_length 40 is shorter than the 50 samples"):
        online.reconfigure(window=WindowConfig(length=40))
    assert online.window.config.length == 100 and online.reconfigurations == 0


def test_without_listed_variables_one_the_frames_drop_leaves_at_once_and_the_rest_is_kept():
    online = OnlineDiscovery(WindowConfig(length=100), DiscoveryConfig(tau_max=1), min_samples=20)
    for k in range(30):
        online.add(0.1 * k, ["a", "b", "c"], [float(k), 1.0 * (k % 4), float(k * k)])
    assert online.add(3.0, ["a", "c"], [30.0, 900.0]) is None  # the producer stopped sending b
    assert online.window.names == ["a", "c"] and online.window.fill == 31 and not online.window.resets
    assert online.left_out == {}  # nothing to warn about: the frames' variables are the producer's choice


def test_without_listed_variables_frames_renamed_again_and_again_start_new_windows_and_nothing_grows():
    """A producer whose frames switch to a wholly new set of names (another robot, a renamed topic): each set starts
    a new window at once, as before the leave-out rule. Before the fix each switch cost leave_out_after rejected
    frames and left the old names out for good, so ``left_out`` (and the /diagnostics WARN) grew without bound."""
    online = OnlineDiscovery(WindowConfig(length=100, leave_out_after=5), DiscoveryConfig(tau_max=1))
    stamp = 0.0
    for generation in range(50):
        names = [f"g{generation}_a", f"g{generation}_b"]
        for k in range(10):
            stamp += 0.1
            assert online.add(stamp, names, [float(k), float(k * k % 7)]) is None
    assert online.window.names == ["g49_a", "g49_b"] and online.window.fill == 10
    assert online.left_out == {} and online._back_run == {} and not online.rejected
    assert online.window.resets["variables_changed"] == 49
    assert "left out" not in online.fill_status()[1]


def test_two_listed_variables_leaving_a_few_frames_apart_lose_no_frame():
    """c stops coming at frame 20, b at frame 25. When c is left out, the frames held back for it that lack b too
    wait again for b (before the fix they were rejected a second time and lost, and counted twice)."""
    online = OnlineDiscovery(WindowConfig(length=1000, leave_out_after=10), DiscoveryConfig(tau_max=1),
                             variables=["a", "b", "c"])
    for k in range(65):
        names = ["a", "b", "c"][:1 if k >= 25 else 2 if k >= 20 else 3]
        online.add(0.1 * k, names, [float(k), float(k % 3), float(k % 5)][:len(names)])
    assert set(online.left_out) == {"b", "c"} and online.window.names == ["a"]
    assert online.window.fill == 65 and online.window.accepted == 65  # every frame in, in order
    np.testing.assert_array_equal(online.window.array()[:, 0], np.arange(65.0))
    assert online.rejected == {"missing_c": 5, "missing_b": 9}  # each frame counted once


def test_a_variable_left_out_for_nan_needs_leave_out_nan_after_good_frames_to_return():
    """leave_out_after 0 (a missing variable is never left out) must not mean that one good frame from a dying
    sensor takes it back in and empties the window: it returns after as many good frames as it took to leave."""
    online = OnlineDiscovery(WindowConfig(length=1000, leave_out_after=0, leave_out_nan_after=5),
                             DiscoveryConfig(tau_max=1), variables=["a", "b"])
    for k in range(30):
        online.add(0.1 * k, ["a", "b"], [float(k), float(k % 3) if k < 10 else math.nan])
    assert online.left_out == {"b": "NaN in 5 frames in a row"} and online.window.fill == 30
    online.add(3.0, ["a", "b"], [30.0, 1.0])  # one good frame: still out, the window kept
    assert "b" in online.left_out and online.window.fill == 31
    for k in range(31, 35):
        online.add(0.1 * k, ["a", "b"], [float(k), 1.0])
    assert online.left_out == {} and online.window.names == ["a", "b"] and online.window.fill == 1


def test_frames_held_back_before_a_reset_do_not_enter_the_window_after_it():
    """~/reset empties the window; frames held back for a variable that is then left out must not bring the
    samples from before the reset back in (before the fix they were replayed into the emptied window)."""
    online = OnlineDiscovery(WindowConfig(length=100, leave_out_after=10), DiscoveryConfig(tau_max=1),
                             variables=["a", "b"])
    for k in range(20):
        online.add(0.1 * k, ["a", "b"], [float(k), float(k % 3)])
    for k in range(20, 25):  # b stops coming: these frames are held back
        online.add(0.1 * k, ["a"], [float(k)])
    assert online.reset() == 20
    for k in range(25, 30):
        online.add(0.1 * k, ["a"], [float(k)])
    assert online.left_out == {"b": "not in the frames (10 in a row)"}
    np.testing.assert_array_equal(online.window.array()[:, 0], np.arange(25.0, 30.0))


def test_a_frame_of_no_variables_is_rejected_not_a_crash():
    """An empty frame used to be accepted as a window of no variables, and the fast engine's streaming statistics
    then raised out of ``add`` (in the node: out of the subscription callback)."""
    online = OnlineDiscovery(WindowConfig(length=100), DiscoveryConfig(tau_max=1))
    for k in range(5):
        online.add(0.1 * k, ["a", "b"], [float(k), float(k % 2)])
    assert online.add(0.5, [], []) == "no_variables"
    assert online.window.names == ["a", "b"] and online.window.fill == 5
    assert online.counters()["rejected_no_variables"] == 1


def test_the_last_listed_variables_are_never_all_left_out():
    """Frames that carry none of the listed variables wait (rejected, named) rather than leaving every variable out:
    before the fix the window was narrowed to no variables and the next frame raised out of ``add``."""
    online = OnlineDiscovery(WindowConfig(length=100, leave_out_after=3), DiscoveryConfig(tau_max=1),
                             variables=["a", "b"])
    for k in range(5):
        online.add(0.1 * k, ["a", "b"], [float(k), float(k % 2)])
    for k in range(5, 15):
        assert online.add(0.1 * k, ["x"], [1.0]) == "missing_a"
    assert online.left_out == {} and online.window.names == ["a", "b"] and online.window.fill == 5
    assert online.blocking() == {"a": 10, "b": 10}


def test_a_listed_variable_in_every_other_frame_is_left_out_rather_than_rejecting_half_the_frames():
    """Flicker (a topic at the edge of going stale): before, the run of frames without it restarted at every frame
    with it, so it was never left out and half the frames were rejected for ever. It now counts against the variable
    while it is missing from more than a third of the frames; once left out, every frame is taken."""
    online = OnlineDiscovery(WindowConfig(length=1000, leave_out_after=10), DiscoveryConfig(tau_max=1),
                             variables=["a", "b"])
    for k in range(100):
        names = ["a", "b"] if k % 2 else ["a"]
        online.add(0.1 * k, names, [float(k), 1.0][:len(names)])
    assert online.left_out == {"b": "not in more than a third of the frames"}
    rejected = sum(online.rejected.values())
    for k in range(100, 200):
        names = ["a", "b"] if k % 2 else ["a"]
        assert online.add(0.1 * k, names, [float(k), 1.0][:len(names)]) is None
    assert sum(online.rejected.values()) == rejected and online.window.names == ["a"]
    np.testing.assert_allclose(np.diff(online.window.stamps()[-100:]), 0.1)  # evenly sampled since it left


def test_a_variable_missing_from_one_frame_in_ten_stays_in():
    online = OnlineDiscovery(WindowConfig(length=1000, leave_out_after=5), DiscoveryConfig(tau_max=1),
                             variables=["a", "b"])
    for k in range(500):
        names = ["a"] if k % 10 == 9 else ["a", "b"]
        online.add(0.1 * k, names, [float(k), 1.0][:len(names)])
    assert online.left_out == {} and online.rejected == {"missing_b": 50}
