"""Variables on the grid: values against hand-computed geometry, bad inputs counted, bag loops handled."""
from __future__ import annotations

import math

import numpy as np
import pytest

from causal_nodes.variables.extractor import (
    LEGACY_VARIABLES,
    TTC_MAX_S,
    VariableConfig,
    VariableExtractor,
    collision_risk,
    obstacle_clearance,
    relative_kinematics,
)
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
    extractor = VariableExtractor(VariableConfig(rate_hz=10.0, variables=LEGACY_VARIABLES))
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


def test_relative_kinematics_in_the_robot_frame():
    """REP 103: x forward, y left. Robot at the origin heading +y; person 2 m ahead and 1 m to its right."""
    k = relative_kinematics(np.array([1.0, 2.0]), np.array([0.0, -1.5]), np.zeros(2), math.pi / 2, 0.5)
    assert k["forward_offset"] == pytest.approx(2.0) and k["lateral_offset"] == pytest.approx(-1.0)
    assert k["human_bearing"] == pytest.approx(math.atan2(-1.0, 2.0))
    distance = math.hypot(1.0, 2.0)
    closing = -np.dot([1.0, 2.0], [0.0, -2.0]) / distance  # relative velocity (0, -1.5) - (0, 0.5)
    assert k["closing_speed"] == pytest.approx(closing)
    assert k["time_to_collision"] == pytest.approx(distance / closing)
    receding = relative_kinematics(np.array([0.0, 3.0]), np.array([0.0, 1.0]), np.zeros(2), 0.0, 0.0)
    assert receding["closing_speed"] < 0 and receding["time_to_collision"] == TTC_MAX_S


def test_obstacle_clearance_ignores_beams_that_hit_people():
    # robot at the origin heading +x; a wall 3 m ahead, a person 1 m to the left: the person's beam is not an obstacle
    angles = np.array([0.0, math.pi / 2, math.pi])
    ranges = np.array([3.0, 0.7, np.inf])
    people = np.array([[0.0, 1.0]])
    assert obstacle_clearance(ranges, angles, np.zeros(3), people) == pytest.approx(3.0)
    assert obstacle_clearance(ranges, angles, np.zeros(3), np.zeros((0, 2))) == pytest.approx(0.7)
    assert math.isnan(obstacle_clearance(np.array([0.7, np.inf]), angles[1:], np.zeros(3), people))
    # only the person (or nothing) within range: no obstacle closer than the scan's range_max (open space)
    assert obstacle_clearance(np.array([0.7, np.inf]), angles[1:], np.zeros(3), people, range_max=10.0) == 10.0
    assert math.isnan(obstacle_clearance(np.array([0.7]), angles[1:2], np.zeros(3), people, range_max=np.inf))


def test_new_variables_on_the_grid_match_the_geometry():
    names = ("closing_speed", "human_bearing", "lateral_offset", "forward_offset", "time_to_collision",
             "robot_obstacle_clearance")
    extractor = VariableExtractor(VariableConfig(rate_hz=10.0, variables=names))
    for k in range(60):
        t = 0.01 + k / 20
        extractor.add_odometry(t, 0.5 * t, 0.0, 0.0, 0.5, 0.0)
        extractor.add_people(t, np.array([[6.0 - t, 1.0]]))
        # beam 0 ahead hits a wall 4 m off; beam 1 points at the person (world angle of the person from the robot)
        bearing = math.atan2(1.0, 6.0 - 1.5 * t)
        extractor.add_scan(t, [4.0, math.hypot(6.0 - 1.5 * t, 1.0) - 0.3], 0.05, 10.0, angle_min=0.0,
                           angle_increment=bearing)
    frame = extractor.poll()[15]
    v = dict(zip(frame.names, frame.values))
    t = frame.stamp
    forward, lateral = 6.0 - 1.5 * t, 1.0
    assert v["forward_offset"] == pytest.approx(forward, abs=1e-6) and v["lateral_offset"] == pytest.approx(1.0)
    assert v["human_bearing"] == pytest.approx(math.atan2(lateral, forward), abs=1e-6)
    closing = 1.5 * forward / math.hypot(forward, lateral)
    assert v["closing_speed"] == pytest.approx(closing, rel=1e-6)
    assert v["time_to_collision"] == pytest.approx(math.hypot(forward, lateral) / closing, rel=1e-6)
    assert v["robot_obstacle_clearance"] == pytest.approx(4.0), "the beam ending at the person is not an obstacle"


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


def test_never_published_topic_leaves_its_variables_out_and_frames_keep_coming():
    extractor = VariableExtractor(VariableConfig(rate_hz=10.0, max_input_age_s=0.3, variables=LEGACY_VARIABLES))
    for k in range(30):  # odometry and people only: no /scan, no goal
        t = 0.05 + k / 10
        extractor.add_odometry(t, 0, 0, 0, 0.2, 0)
        extractor.add_people(t, np.array([[2.0, 0.0]]))
    frames = extractor.poll()
    assert len(frames) > 20
    v = dict(zip(frames[-1].names, frames[-1].values))
    # never published: left out of the frames (named), not NaN in every frame
    assert "min_scan_range" not in v and "human_goal_distance" not in v
    assert extractor.left_out() == ["human_goal_distance", "min_scan_range"]
    assert extractor.counters()["left_out_never_published_min_scan_range"] == 1
    assert v["robot_linear_speed"] == pytest.approx(0.2) and np.isfinite(v["human_robot_distance"])
    extractor.add_scan(3.2, [2.0, 3.0], 0.05, 10.0)  # the lidar comes up: its variable joins the frames
    extractor.add_odometry(3.25, 0, 0, 0, 0.2, 0)
    extractor.add_people(3.25, np.array([[2.0, 0.0]]))
    later = extractor.poll()
    assert later and "min_scan_range" in later[-1].names and extractor.left_out() == ["human_goal_distance"]


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


def test_a_person_who_is_the_nearest_again_keeps_their_own_speed():
    """The nearest person changes from B to A and back: each speed comes from the person's own track. Before, a
    speed came from the frame in which that person was last the subject: NaN whenever the nearest person changed,
    and B's 0.3 m/s read 11.1 m/s when B was the nearest again (3.6 s of walking taken as one 0.1 s step)."""
    extractor = VariableExtractor(VariableConfig(variables=("human_speed", "human_heading_rate")))
    frames = []
    for k in range(60):  # the robot stands at the origin; A walks +x at 1 m/s on y = 2, B at 0.3 m/s on y = 2.6
        t = 1.0 + 0.1 * k
        extractor.add_odometry(t, 0.0, 0.0, 0.0, 0.0, 0.0)
        extractor.add_people(t, np.array([[-3.0 + (t - 1.0), 2.0], [-0.5 + 0.3 * (t - 1.0), 2.6]]))
        frames += extractor.poll()
    subjects = [f.subject_id for f in frames]
    assert subjects[0] == "1" and "0" in subjects and subjects[-1] == "1", "B, then A, then B again is the nearest"
    speeds = np.array([f.values[0] for f in frames])
    assert math.isnan(speeds[0]), "the first frame has no step before it"
    true = np.where(np.array(subjects) == "0", 1.0, 0.3)
    assert speeds[1:] == pytest.approx(true[1:], abs=1e-9)
    assert [f.values[1] for f in frames[1:]] == pytest.approx([0.0] * (len(frames) - 1), abs=1e-9)


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
