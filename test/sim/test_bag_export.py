"""Simulator runs written straight into bags: topics, stamps and contents equal the simulator's state, and the
variables bag2csv extracts from such a bag are the ones the pipeline computes from the simulator directly."""
from __future__ import annotations

import math

import numpy as np
import pytest

from causal_nodes.bags import BagError, BagReader
from causal_nodes.bags.to_csv import DEFAULT_TOPICS, extract_variables, frames_to_table
from causal_nodes.geometry import quaternion_to_yaw
from causal_nodes.sim import Intervention, load_scenario, run_scenario
from causal_nodes.sim.bag_export import write_scenario_bag
from causal_nodes.sim.topic_messages import PHYSICAL_TOPICS
from causal_nodes.variables.extractor import VariableConfig
from causal_nodes.variables.msg_adapters import stamp_seconds

STEPS = 40


def _messages(path, topic):
    with BagReader(path) as bag:
        return [(m.timestamp_ns, bag.deserialize(m)) for m in bag.messages([topic])]


def test_physical_bag_has_the_node_topics_and_the_simulator_state(tmp_path):
    path = tmp_path / "corridor"
    written = write_scenario_bag("corridor_passing", path, seed=3, steps=STEPS)
    expected = {"/clock", "/sim/ground_truth", "/tf", "/tf_static", *PHYSICAL_TOPICS} - {"/camera/image_raw"}
    with BagReader(path) as bag:
        assert set(bag.topics) == expected
        assert {t: i.msgtype for t, i in bag.topics.items() if t in PHYSICAL_TOPICS} == \
            {t: PHYSICAL_TOPICS[t] for t in expected if t in PHYSICAL_TOPICS}
        assert bag.topics["/clock"].msgtype == "rosgraph_msgs/msg/Clock"
        assert bag.topics["/sim/ground_truth"].count == 1 and bag.topics["/tf_static"].count == 1
        assert all(bag.topics[t].count == STEPS + 1 for t in expected - {"/sim/ground_truth", "/tf_static"})
        assert bag.custom_data["scenario"] == "corridor_passing" and bag.custom_data["seed"] == "3"
        assert bag.topics["/sim/ground_truth"].offered_qos[0].durability.name == "TRANSIENT_LOCAL"
    assert written.message_count == 2 + 8 * (STEPS + 1)

    sim = load_scenario("corridor_passing").make_simulator(3)
    people, odom, scans, tfs = (_messages(path, t) for t in ("/people", "/odom", "/scan", "/tf"))
    (_, mounts), = _messages(path, "/tf_static")
    assert {(t.header.frame_id, t.child_frame_id) for t in mounts.transforms} == {
        ("base_link", "base_laser"), ("base_link", "camera")}
    for k in range(STEPS + 1):
        if k:
            sim.step()
        stamp = 1.0 + k * 0.1
        assert people[k][0] == round(stamp * 1e9) and stamp_seconds(people[k][1].header.stamp) == pytest.approx(stamp)
        assert np.allclose([(p.position.x, p.position.y) for p in people[k][1].poses], sim.positions, atol=1e-12)
        pose = odom[k][1].pose.pose
        assert (pose.position.x, pose.position.y) == pytest.approx(tuple(sim.robot_pose[:2]), abs=1e-12)
        assert quaternion_to_yaw(pose.orientation) == pytest.approx(sim.robot_pose[2], abs=1e-9)
        assert odom[k][1].twist.twist.linear.x == sim.robot_speed and odom[k][1].child_frame_id == "base_link"
        assert np.array_equal(scans[k][1].ranges, sim.scan_ranges.astype(np.float32))
        assert scans[k][1].header.frame_id == "base_laser"
        robot = {t.child_frame_id: t for t in tfs[k][1].transforms}["base_link"]
        assert robot.header.frame_id == "odom" and robot.header.stamp == odom[k][1].header.stamp
        assert (robot.transform.translation.x, robot.transform.translation.y) == pytest.approx(
            tuple(sim.robot_pose[:2]), abs=1e-12)
        assert quaternion_to_yaw(robot.transform.rotation) == pytest.approx(sim.robot_pose[2], abs=1e-9)
        assert len(tfs[k][1].transforms) == 1 + len(sim.positions)  # the robot and one frame per person
    (_, truth), = _messages(path, "/sim/ground_truth")
    assert {(k.source, k.target, k.lag) for k in truth.links} == load_scenario("corridor_passing").ground_truth() - \
        {link for link in load_scenario("corridor_passing").ground_truth() if "image_motion" in link[:2]}
    assert "image_motion" not in truth.variables  # no camera: the sink variable is left out, as the node does


def test_variables_extracted_from_the_bag_are_the_pipelines_own(tmp_path):
    path = tmp_path / "corridor"
    write_scenario_bag("corridor_passing", path, seed=5, steps=STEPS)
    names = [v for v in load_scenario("corridor_passing").variables if v != "image_motion"]
    with BagReader(path) as bag:
        extraction = extract_variables(bag, VariableConfig(rate_hz=10.0, variables=tuple(names)), DEFAULT_TOPICS)
    times, values = frames_to_table(extraction)
    direct = run_scenario("corridor_passing", seed=5, steps=STEPS, definitions="pipeline")
    direct_values = direct.values[:, [direct.names.index(n) for n in names]]
    assert np.allclose(times - 1.0, direct.times[: len(times)], atol=1e-9)
    # Same extractor on the same data (the bag carries the scan as float32 and yaw as a quaternion). The first two
    # frames differ only by the order the first messages arrive in (the bag: the node's publish order, goal last).
    assert len(values) == STEPS + 1
    assert np.allclose(values[3:], direct_values[3:], atol=1e-5, equal_nan=True)
    assert np.isfinite(values[3:]).all()


def test_scm_bag_frames_are_the_scm_samples_and_interventions_are_applied(tmp_path):
    path = tmp_path / "scm"
    do = Intervention("robot_linear_speed", 0.9, start=1.0, end=2.0)
    write_scenario_bag("scm_demo", path, seed=2, steps=STEPS, interventions=[do])
    frames = _messages(path, "/causal/variables")
    series = run_scenario("scm_demo", seed=2, steps=STEPS, interventions=[do])
    assert [list(f.names) for _, f in frames] == [series.names] * (STEPS + 1)
    assert np.array_equal(np.array([f.values for _, f in frames]), series.values)
    with BagReader(path) as bag:
        assert set(bag.topics) == {"/clock", "/causal/variables", "/sim/ground_truth", "/tf_static"}
        assert bag.custom_data["interventions"] == "robot_linear_speed=0.9@1:2"
    speed = series.column("robot_linear_speed")
    assert all(math.isclose(v, 0.9) for v, t in zip(speed, series.times) if 1.0 <= t < 2.0 - 1e-9)


def test_an_existing_bag_is_not_overwritten_and_nothing_partial_is_left(tmp_path):
    path = tmp_path / "scm"
    write_scenario_bag("scm_demo", path, steps=5)
    with pytest.raises(BagError, match="exists already"):
        write_scenario_bag("scm_demo", path, steps=5)
    with pytest.raises(ValueError, match="steps"):
        write_scenario_bag("scm_demo", tmp_path / "none", steps=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scm"]
