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
    for k in range(40, 59):  # b back, but its frames are not yet enough for a run: the narrow window runs on
        online.add(0.1 * k, ["a", "b", "c"], [float(k), float(k % 3), 1.0])
    assert "b" in online.left_out and online.window.fill == 59 and online.ready()
    assert "returning: b (19/20 samples)" in online.fill_status()[1]
    online.add(5.9, ["a", "b", "c"], [59.0, 2.0, 1.0])  # the 20th: the window switches to these 20 frames, b in
    assert online.left_out == {} and online.window.names == ["a", "b", "c"] and online.window.fill == 20
    np.testing.assert_array_equal(online.window.array()[:, :2], np.c_[np.arange(40.0, 60.0), np.arange(40, 60) % 3])
    assert online.counters()["variable_returned_switches"] == 1 and not online.window.resets


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
    """leave_out_after 0 (a missing variable is never left out) must not mean that a few good frames from a dying
    sensor take it back in: it returns after as many good frames as it took to leave, even when its frames are
    already enough for a run (min_samples 12 here)."""
    online = OnlineDiscovery(WindowConfig(length=1000, leave_out_after=0, leave_out_nan_after=20),
                             DiscoveryConfig(tau_max=1), variables=["a", "b"])
    for k in range(50):
        online.add(0.1 * k, ["a", "b"], [float(k), float(k % 3) if k < 10 else math.nan])
    assert online.left_out == {"b": "NaN in 20 frames in a row"} and online.window.fill == 50
    for k in range(50, 69):  # 19 good frames: more than min_samples, fewer than leave_out_nan_after
        online.add(0.1 * k, ["a", "b"], [float(k), float(k % 3)])
    assert online.min_samples == 12 and "b" in online.left_out and online.window.fill == 69
    online.add(6.9, ["a", "b"], [69.0, 0.0])
    assert online.left_out == {} and online.window.names == ["a", "b"] and online.window.fill == 20
    np.testing.assert_array_equal(online.window.array()[:, 0], np.arange(50.0, 70.0))


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


# ---- a left-out variable returning: the narrow window runs on until the frames with it are enough for a run ------

LAST = NAMES[-1]


def _returning_setup(seed: int, leave_out_after: int = 10, length: int = 150) -> tuple[OnlineDiscovery, np.ndarray]:
    """d comes for 100 frames, stops for 100 (left out after 10), and the window is full without it."""
    data = scm_samples(600, seed=seed)
    online = OnlineDiscovery(WindowConfig(length=length, leave_out_after=leave_out_after),
                             DiscoveryConfig(tau_max=2), variables=NAMES, min_samples=60)
    for k in range(100):
        online.add(0.1 * k, NAMES, data[k])
    for k in range(100, 200):
        online.add(0.1 * k, NAMES[:-1], data[k, :-1])
    assert set(online.left_out) == {LAST} and online.window.fill == min(length, 200)
    return online, data


def _assert_streaming_statistics_are_the_batch_ones(online: OnlineDiscovery, job) -> None:
    from causal_nodes.discovery.fast.pcmci import StreamingPCMCI

    config = job.config
    assert job.statistics is not None
    fresh = StreamingPCMCI(len(job.names), online.window.config.length, config.tau_max)
    fresh.extend(job.data)
    batch_statistics = fresh.snapshot(config.test.name)
    np.testing.assert_allclose(job.statistics.cov, batch_statistics.cov, atol=1e-10)
    np.testing.assert_array_equal(job.statistics.raw_rows, batch_statistics.raw_rows)
    streamed = online.run(job).result
    batch = discover(job.data, job.names, config)
    assert streamed.engine_note == "streaming statistics" and (streamed.graph == batch.graph).all()
    np.testing.assert_allclose(streamed.val_matrix, batch.val_matrix, atol=1e-10)
    np.testing.assert_allclose(streamed.p_matrix, batch.p_matrix, atol=1e-10)


def test_a_returning_variable_waits_aside_while_the_narrow_window_runs_on_then_the_window_switches():
    """#10 leftover "a returning variable restarts the window": before, the window was emptied as soon as d was back
    for leave_out_after frames, and no job came for min_samples frames. Now every frame keeps giving a job from the
    narrow window; the 60th frame with d switches the window to exactly those 60 frames, d in."""
    online, data = _returning_setup(seed=21)
    for k in range(200, 259):
        assert online.add(0.1 * k, NAMES, data[k]) is None
        assert online.ready()
        job = online.take_job()
        assert job.names == NAMES[:-1] and len(job.stamps) == 150 and set(job.left_out) == {LAST}
        np.testing.assert_array_equal(job.data[-1], data[k, :-1])
    enough, sentence = online.fill_status()
    assert enough and f"returning: {LAST} (59/60 samples)" in sentence and "waiting" not in sentence
    assert online.counters()["returning_frames_kept"] == 59 and online.counters()["variable_returned_switches"] == 0
    assert online.add(25.9, NAMES, data[259]) is None
    assert online.ready()
    job = online.take_job()
    assert job.names == NAMES and job.left_out == {}
    np.testing.assert_array_equal(job.data, data[200:260])  # exactly the frames kept, none twice, none lost
    np.testing.assert_allclose(job.stamps, 0.1 * np.arange(200, 260))
    counters = online.counters()
    assert counters["variable_returned_switches"] == 1 and counters["returning_frames_kept"] == 0
    assert counters["accepted"] == 260 and online.rejected == {f"missing_{LAST}": 9}
    assert not online.window.resets and "returning" not in online.fill_status()[1]
    _assert_streaming_statistics_are_the_batch_ones(online, job)
    for k in range(260, 330):  # the widened window goes on sample by sample
        online.add(0.1 * k, NAMES, data[k])
    job = online.take_job()
    np.testing.assert_array_equal(job.data, data[200:330])
    _assert_streaming_statistics_are_the_batch_ones(online, job)


def test_a_returning_variable_that_goes_again_before_the_switch_costs_the_narrow_window_nothing():
    """d flaps: back for 30 frames, absent once, back for 20, NaN once, then back for good. Each flap drops the
    frames kept for it (it stays left out); the narrow window takes every frame; the switch uses only the last run."""
    online, data = _returning_setup(seed=22)
    for k in range(200, 311):
        if k == 230:
            frame_names, row = NAMES[:-1], data[k, :-1]
        else:
            frame_names, row = NAMES, data[k].copy()
            if k == 250:
                row[-1] = math.nan
        assert online.add(0.1 * k, frame_names, row) is None
        if k in (230, 250):
            assert set(online.left_out) == {LAST} and online.counters()["returning_frames_kept"] == 0
        if k < 310:
            assert online.window.names == NAMES[:-1] and online.window.fill == 150
            np.testing.assert_array_equal(online.window.array()[-1], data[k, :-1])
    assert online.window.names == NAMES and online.window.accepted == 311
    np.testing.assert_array_equal(online.window.array(), data[251:311])
    assert online.rejected == {f"missing_{LAST}": 9} and online.counters()["variable_returned_switches"] == 1


def test_two_variables_returning_at_different_times_each_switch_when_their_frames_are_enough():
    data = scm_samples(400, seed=23)
    online = OnlineDiscovery(WindowConfig(length=150, leave_out_after=10), DiscoveryConfig(tau_max=2),
                             variables=NAMES, min_samples=60)
    for k in range(100):
        online.add(0.1 * k, NAMES, data[k])
    for k in range(100, 200):  # c and d stop coming
        online.add(0.1 * k, NAMES[:2], data[k, :2])
    assert set(online.left_out) == {"c", "d"}
    for k in range(200, 260):  # c back from 200, d from 220
        names = NAMES if k >= 220 else NAMES[:3]
        assert online.add(0.1 * k, names, data[k, :len(names)]) is None
    assert online.window.names == ["a", "b", "c"] and set(online.left_out) == {"d"}
    np.testing.assert_array_equal(online.window.array(), data[200:260, :3])
    assert "returning: d (40/60 samples)" in online.fill_status()[1]
    for k in range(260, 280):
        online.add(0.1 * k, NAMES, data[k])
    assert online.window.names == NAMES and online.left_out == {}
    np.testing.assert_array_equal(online.window.array(), data[220:280])
    assert online.counters()["variable_returned_switches"] == 2 and online.window.accepted == 280
    assert online.rejected == {"missing_c": 9}  # d went with c, left out in the same frame


def test_reset_and_reconfigure_drop_the_frames_kept_for_a_return():
    online, data = _returning_setup(seed=24)
    for k in range(200, 230):
        online.add(0.1 * k, NAMES, data[k])
    assert online.counters()["returning_frames_kept"] == 30
    online.reset()
    assert online.counters()["returning_frames_kept"] == 0 and online.window.fill == 0
    for k in range(230, 290):
        online.add(0.1 * k, NAMES, data[k])
    assert online.window.names == NAMES
    np.testing.assert_array_equal(online.window.array(), data[230:290])  # nothing from before the reset

    online, data = _returning_setup(seed=25)
    for k in range(200, 230):
        online.add(0.1 * k, NAMES, data[k])
    online.reconfigure(min_samples=40)
    assert online.counters()["returning_frames_kept"] == 0 and online.window.fill == 150
    for k in range(230, 270):
        online.add(0.1 * k, NAMES, data[k])
    np.testing.assert_array_equal(online.window.array(), data[230:270])


def test_the_frames_kept_for_a_return_never_outgrow_the_window():
    """leave_out_after (300) longer than the window (150): the frames kept stay at most the window's length, and
    the switch takes the newest 150."""
    data = scm_samples(700, seed=26)
    online = OnlineDiscovery(WindowConfig(length=150, leave_out_after=300), DiscoveryConfig(tau_max=2),
                             variables=NAMES, min_samples=60)
    for k in range(400):  # d stops after frame 99, left out at frame 399
        names = NAMES if k < 100 else NAMES[:-1]
        online.add(0.1 * k, names, data[k, :len(names)])
    assert set(online.left_out) == {LAST} and online.window.accepted == 400
    for k in range(400, 699):
        online.add(0.1 * k, NAMES, data[k])
        assert online.counters()["returning_frames_kept"] <= 150 and LAST in online.left_out
    online.add(69.9, NAMES, data[699])
    assert online.left_out == {}
    np.testing.assert_array_equal(online.window.array(), data[550:700])
