"""Variables on the grid: values against hand-computed geometry, bad inputs counted, bag loops handled."""
from __future__ import annotations

import math

import numpy as np
import pytest

from causal_nodes.variables.extractor import VariableConfig, VariableExtractor, collision_risk
from causal_nodes.variables.tracking import NearestNeighbourTracker


def _scene(extractor: VariableExtractor, t0: float = 0.0, seconds: float = 3.0, rate: float = 30.0) -> None:
    """Robot drives +x at 0.5 m/s; a person walks -x at 1 m/s towards it; a far person stands still."""
    for k in range(int(seconds * rate)):
        t = t0 + k / rate + 0.003
        extractor.add_odometry(t, 0.5 * (t - t0), 0.0, 0.0, 0.5, 0.1)
        extractor.add_people(t, np.array([[20.0, 20.0], [6.0 - (t - t0), 1.0]]))
        extractor.add_scan(t, [4.0, 2.5, math.inf, 0.01], 0.05, 10.0)
        extractor.add_goal(t, -4.0, 1.0)


def test_values_match_the_geometry():
    extractor = VariableExtractor(VariableConfig(rate_hz=10.0))
    _scene(extractor)
    frames = extractor.poll()
    assert len(frames) >= 25
    names = frames[0].names
    frame = frames[10]
    v = dict(zip(names, frame.values))
    t = frame.stamp
    assert t == pytest.approx(round(t * 10) / 10)  # on the 10 Hz grid
    person = np.array([6.0 - t, 1.0])
    robot = np.array([0.5 * t, 0.0])
    assert v["human_speed"] == pytest.approx(1.0, abs=1e-6)
    assert v["human_heading_rate"] == pytest.approx(0.0, abs=1e-6)
    assert v["human_robot_distance"] == pytest.approx(np.hypot(*(person - robot)), abs=1e-6)
    assert v["human_goal_distance"] == pytest.approx(np.hypot(*(person - [-4.0, 1.0])), abs=1e-6)
    assert v["robot_linear_speed"] == pytest.approx(0.5) and v["robot_angular_speed"] == pytest.approx(0.1)
    assert v["min_scan_range"] == pytest.approx(2.5)
    expected_risk = collision_risk(person, np.array([-1.0, 0.0]), robot, np.array([0.5, 0.0]))
    assert v["collision_risk"] == pytest.approx(expected_risk, rel=1e-6) and expected_risk > 0
    assert frame.subject_id == frames[-1].subject_id  # the nearest person keeps its track id


def test_collision_risk_is_inverse_time_to_collision():
    # 4 m apart, closing at 2 m/s: 2 s to collision -> 0.5 1/s; moving apart -> 0
    assert collision_risk([4, 0], [-1, 0], [0, 0], [1, 0]) == pytest.approx(0.5)
    assert collision_risk([4, 0], [1, 0], [0, 0], [0, 0]) == 0.0


def test_bad_inputs_are_dropped_and_counted():
    extractor = VariableExtractor(VariableConfig())
    assert extractor.add_odometry(1.0, 0, 0, 0, 0.5, 0) is None
    assert extractor.add_odometry(1.1, math.nan, 0, 0, 0.5, 0) == "odom_non_finite_value"
    assert extractor.add_odometry(0.9, 0, 0, 0, 0.5, 0) == "odom_out_of_order"
    assert extractor.add_odometry(1.0, 0, 0, 0, 0.5, 0) == "odom_duplicate_stamp"
    assert extractor.add_scan(1.0, [math.inf, math.nan], 0.1, 10) == "scan_without_valid_range"
    assert extractor.add_people(math.nan, np.zeros((1, 2))) == "people_non_finite_stamp"
    counters = extractor.counters()
    assert counters["dropped_odom_out_of_order"] == 1 and counters["dropped_odom_non_finite_value"] == 1


def test_missing_topic_gives_nan_after_max_age_and_frames_keep_coming():
    extractor = VariableExtractor(VariableConfig(rate_hz=10.0, max_input_age_s=0.3))
    for k in range(30):  # odometry and people only: no /scan, no goal
        t = 0.05 + k / 10
        extractor.add_odometry(t, 0, 0, 0, 0.2, 0)
        extractor.add_people(t, np.array([[2.0, 0.0]]))
    frames = extractor.poll()
    assert len(frames) > 20
    v = dict(zip(frames[-1].names, frames[-1].values))
    assert math.isnan(v["min_scan_range"]) and math.isnan(v["human_goal_distance"])
    assert v["robot_linear_speed"] == pytest.approx(0.2)


def test_time_jump_back_restarts_the_grid():
    extractor = VariableExtractor(VariableConfig(rate_hz=10.0))
    _scene(extractor, t0=100.0, seconds=2.0)
    first = extractor.poll()
    _scene(extractor, t0=100.0, seconds=2.0)  # the bag loops
    second = extractor.poll()
    assert extractor.resets == 1
    assert [f.stamp for f in second] == pytest.approx([f.stamp for f in first])
    np.testing.assert_allclose([f.values for f in second], [f.values for f in first], equal_nan=True)


def test_unknown_variable_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown variable.*known"):
        VariableConfig(variables=("human_speed", "robot_mood"))


def test_tracker_keeps_ids_when_order_changes():
    tracker = NearestNeighbourTracker(gate_m=0.5)
    first = tracker.update(0.0, np.array([[0.0, 0.0], [5.0, 0.0]]))
    second = tracker.update(0.1, np.array([[5.1, 0.0], [0.1, 0.0]]))  # order swapped
    for track_id, position in first.items():
        assert np.hypot(*(second[track_id] - position)) < 0.2
    third = tracker.update(0.2, np.array([[9.0, 9.0]]))
    assert set(third).isdisjoint(first)  # a new person gets a new id


def test_a_goal_published_once_does_not_delay_the_grid():
    extractor = VariableExtractor(VariableConfig(rate_hz=10.0, max_input_age_s=5.0))
    extractor.add_goal(0.0, 3.0, 0.0)
    emitted = []
    for k in range(20):
        t = 0.05 + k / 10
        extractor.add_odometry(t, 0, 0, 0, 0.2, 0)
        extractor.add_people(t, np.array([[1.0 + 0.1 * k, 0.0]]))
        extractor.add_scan(t, [2.0], 0.1, 10)
        emitted += extractor.poll()
        if k:
            assert emitted[-1].stamp >= t - 0.1 - 1e-9  # frames follow the sampled inputs at once
    v = dict(zip(emitted[-1].names, emitted[-1].values))
    assert v["human_goal_distance"] == pytest.approx(3.0 - (1.0 + 0.1 * 19), abs=0.11)
