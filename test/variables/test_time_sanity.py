"""Time sanity in the variables core: far-future stamps, clocks that restart or jump, silences, crowds."""
from __future__ import annotations

import math

import numpy as np
import pytest

from causal_nodes.variables.extractor import VariableConfig, VariableExtractor
from causal_nodes.variables.stream_health import InputMonitor, StreamHealth
from causal_nodes.variables.time_sanity import (
    ACCEPT,
    DROP,
    RESET,
    ForwardJumpGuard,
    TimeRules,
    judge_step_back,
)

ROBOT_VARIABLES = ("robot_linear_speed", "min_scan_range")


def _feed(extractor: VariableExtractor, t0: float, seconds: float, rate: float = 20.0) -> int:
    """Odometry and scan at ``rate``; returns the frames the extractor emitted meanwhile."""
    emitted = 0
    for k in range(int(seconds * rate)):
        t = t0 + k / rate
        extractor.add_odometry(t, 0.0, 0.0, 0.0, 0.5, 0.0)
        extractor.add_scan(t, [2.0], 0.1, 10.0)
        emitted += len(extractor.poll())
    return emitted


def test_step_back_rules():
    rules = TimeRules(back_jump_reset_s=1.0)
    assert judge_step_back(None, 5.0, rules).action == ACCEPT
    assert judge_step_back(5.0, 5.1, rules).action == ACCEPT
    assert judge_step_back(5.0, 5.0, rules).reason == "duplicate_stamp"
    assert judge_step_back(5.0, 4.5, rules).reason == "out_of_order"
    assert judge_step_back(5.0, 3.9, rules).action == RESET
    assert judge_step_back(5.0, math.inf, rules).reason == "non_finite_stamp"


def test_a_far_future_outlier_is_dropped_but_a_confirmed_jump_resets():
    guard = ForwardJumpGuard(TimeRules(max_forward_jump_s=10.0, confirmations=3))
    assert guard.judge(100.0, 105.0).action == ACCEPT
    assert guard.judge(100.0, 2.1e9).action == DROP  # one /scan stamped 2038
    assert guard.judge(100.0, 100.1).action == ACCEPT  # an ordinary stamp in between: it was an outlier
    assert [guard.judge(100.0, 5000.0 + k).action for k in range(3)] == [DROP, DROP, RESET]
    # outliers that disagree with each other never confirm
    assert [guard.judge(100.0, t).action for t in (1e6, 2e6, 3e6, 4e6)] == [DROP] * 4


def test_one_2038_scan_neither_floods_nor_stops_the_grid():
    extractor = VariableExtractor(VariableConfig(variables=ROBOT_VARIABLES))
    before = _feed(extractor, 1_700_000_000.0, 2.0)
    assert extractor.add_scan(2_145_916_800.0, [2.0], 0.1, 10.0) == "scan_future_stamp"
    assert extractor.poll() == []  # the unfixed extractor made one frame per 0.1 s of the 14-year gap here
    after = _feed(extractor, 1_700_000_002.0, 2.0)
    assert before >= 18 and after >= 18
    assert extractor.counters()["dropped_scan_future_stamp"] == 1 and extractor.resets == 0


def test_clock_restart_at_1970_and_a_real_jump_ahead_restart_the_grid_with_bounded_frames():
    extractor = VariableExtractor(VariableConfig(variables=ROBOT_VARIABLES))
    _feed(extractor, 1_700_000_000.0, 2.0)
    restarted = _feed(extractor, 0.5, 2.0)  # the robot's clock restarts at 1970
    assert extractor.reset_reasons["time_jumped_back"] == 1 and 15 <= restarted <= 41
    jumped = _feed(extractor, 5000.0, 2.0)  # the clock really jumps ahead (every input agrees)
    assert extractor.reset_reasons["time_jumped_forward"] == 1 and 15 <= jumped <= 41
    assert extractor.frames_emitted <= 3 * 41  # never a frame for the time in between
    assert all(len(s.stamps) <= 5 * 20 + 1 for s in extractor._streams.values())  # buffers bounded by the horizon


def test_a_long_silence_is_skipped_not_filled():
    extractor = VariableExtractor(VariableConfig(variables=ROBOT_VARIABLES, max_gap_fill_s=2.0))
    _feed(extractor, 100.0, 2.0)
    frames_before = extractor.frames_emitted
    _feed(extractor, 108.0, 2.0)  # every input silent for 6 s (below the 10 s jump limit)
    assert extractor.reset_reasons["gap_too_long"] == 1
    assert extractor.frames_skipped >= 50
    assert extractor.frames_emitted - frames_before <= 2.0 * 10 + 10  # the frames after the gap, and a few held


def test_a_short_silence_is_still_filled_with_held_then_nan_frames():
    extractor = VariableExtractor(VariableConfig(variables=ROBOT_VARIABLES, max_gap_fill_s=2.0))
    _feed(extractor, 100.0, 2.0)
    _feed(extractor, 103.0, 1.0)  # 1 s silence: on the grid, NaN beyond max_input_age_s
    assert extractor.resets == 0 and extractor.frames_skipped == 0


def test_a_crowd_keeps_the_nearest_people_and_counts_the_rest():
    extractor = VariableExtractor(VariableConfig(variables=("human_robot_distance", "human_speed"), max_people=10))
    rng = np.random.default_rng(3)
    crowd = rng.uniform(-50, 50, size=(3000, 2))
    crowd[1234] = (0.5, 0.5)  # the nearest person to the robot at the origin
    for k in range(10):
        t = 10.0 + 0.1 * k
        extractor.add_odometry(t, 0.0, 0.0, 0.0, 0.0, 0.0)
        extractor.add_people(t, crowd)
    frames = extractor.poll()
    assert frames and frames[-1].values[0] == pytest.approx(math.hypot(0.5, 0.5))
    assert extractor.counters()["dropped_people_beyond_max_people"] == 10 * 2990
    assert extractor.counters()["tracks"] <= 10


def test_a_variable_without_input_is_left_out_by_name_and_one_without_values_is_named_as_blocking():
    extractor = VariableExtractor(VariableConfig(variables=("robot_linear_speed", "human_goal_distance",
                                                            "human_speed")))
    _feed(extractor, 10.0, 3.0)  # no goal, no people topic yet: left out of the frames, never NaN forever
    assert extractor.left_out() == ["human_goal_distance", "human_speed"]
    assert extractor.counters()["left_out_never_published_human_goal_distance"] == 1
    assert extractor.inputs_of("human_goal_distance") == ("people", "goal")
    for k in range(60):  # the people topic appears, with nobody in view: human_speed is NaN in every frame
        t = 13.0 + k / 20.0
        extractor.add_odometry(t, 0.0, 0.0, 0.0, 0.5, 0.0)
        extractor.add_people(t, np.empty((0, 2)))
        extractor.poll()
    assert extractor.left_out() == ["human_goal_distance"]
    assert extractor.blocking_variables(20) == ["human_speed"]


@pytest.mark.parametrize("bad", [
    {"person": "foo"}, {"variables": ()}, {"variables": ("human_speed", "human_speed")}, {"max_people": 0},
    {"rate_hz": math.nan}, {"max_forward_jump_s": -1.0}, {"max_gap_fill_s": 0.0}, {"time_jump_reset_s": math.inf},
])
def test_bad_settings_are_refused_at_construction(bad):
    with pytest.raises(ValueError, match=next(iter(bad)).split("_s")[0].split("_")[0]):
        VariableConfig(**bad)


def test_sequence_numbers_reveal_losses_and_restarts():
    health = StreamHealth()
    for sequence in (0, 1, 2, 5, 6, 0, 1):
        health.arrived(0.0, sequence)
    assert (health.received, health.lost, health.restarts, health.expected) == (7, 2, 1, 9)


def test_inputs_go_stale_by_name_and_events_never_do():
    monitor = InputMonitor(["odom", "scan", "goal"], stale_after_s=1.0, started=0.0, events=["goal"])
    monitor.arrived("odom", 0.5)
    assert monitor.stale(1.2) == ["scan"]
    assert monitor.stale(2.0) == ["odom", "scan"]
    assert "no scan since start" in monitor.describe_stale(2.0)
    assert monitor.counters()["received_odom"] == 1
