"""bag → CSV offline: the variables of a scene with known motion, frames already in a bag, and broken requests."""
from __future__ import annotations

import math
import os

import numpy as np
from scene_bags import T0, _header, _pose, read_csv, write_scene

from causal_nodes.bags import BagReader, BagWriter
from causal_nodes.bags.to_csv import Extraction, bag_to_csv, drop_valueless_variables, frames_to_table
from causal_nodes.cli import main as cli
from causal_nodes.variables.extractor import LEGACY_VARIABLES, VariableSample


def test_scene_variables_match_the_known_motion(tmp_path):
    write_scene(tmp_path / "scene")
    out = tmp_path / "scene.csv"
    extraction = bag_to_csv(tmp_path / "scene", out, rate_hz=10.0, variables=LEGACY_VARIABLES)
    header, table = read_csv(out)
    assert header == ["time", *LEGACY_VARIABLES]
    assert extraction.skipped_variables == {} and extraction.bad_messages == {}
    times = table[:, 0]
    assert np.allclose(np.diff(times), 0.1, atol=1e-6)  # the 10 Hz grid
    assert T0 - 1e-6 <= times[0] < T0 + 0.2 and times[-1] <= T0 + 4.0
    assert len(table) >= 35
    col = {name: table[:, i] for i, name in enumerate(header)}
    settled = slice(2, None)  # the first grid times have no previous position for a speed yet
    elapsed = times - T0
    assert np.allclose(col["human_speed"][settled], 1.0, atol=1e-6)
    assert np.allclose(col["human_heading_rate"][settled], 0.0, atol=1e-6)
    assert np.allclose(col["robot_linear_speed"], 0.5) and np.allclose(col["robot_angular_speed"], 0.1)
    assert np.allclose(col["human_robot_distance"], np.hypot(0.5 * elapsed, 2.0), atol=1e-6)
    assert np.allclose(col["human_goal_distance"], 10.0 - elapsed, atol=1e-6)
    assert np.allclose(col["min_scan_range"], 3.0)  # 0.01 is below range_min, inf is invalid
    # the person pulls away from the robot: the gap opens, no collision risk
    assert np.allclose(col["collision_risk"][settled], 0.0)


def test_frames_already_in_the_bag_are_dumped(tmp_path):
    path = tmp_path / "frames"
    with BagWriter(path) as bag:
        store = bag.typestore
        bag.add_topic("/causal/variables", "causal_msgs/msg/VariableFrame")
        for k in range(4):
            t = 10.0 + 0.1 * k
            values = [float(k), math.nan] if k != 2 else [float(k), 7.0]
            bag.write_message("/causal/variables", int(t * 1e9), store.types["causal_msgs/msg/VariableFrame"](
                header=_header(store, t), names=["x", "y"], values=np.array(values), subject_id="0",
                subject_position=store.types["geometry_msgs/msg/Point"](x=1.0, y=2.0, z=0.0), sequence=k))
    out = tmp_path / "frames.csv"
    assert cli(["bag2csv", str(path), "--out", str(out), "--from-frames"]) == 0
    header, table = read_csv(out)
    assert header == ["time", "x", "y"]
    assert np.allclose(table[:, 0], [10.0, 10.1, 10.2, 10.3]) and list(table[:, 1]) == [0.0, 1.0, 2.0, 3.0]
    assert np.isnan(table[0, 2]) and table[2, 2] == 7.0
    assert cli(["bag2csv", str(path), "--out", str(out), "--from-frames", "--drop-incomplete"]) == 0
    assert read_csv(out)[1].shape == (1, 3)


def test_missing_topics_are_left_out_or_named(tmp_path, capsys):
    path = tmp_path / "people_only"
    with BagWriter(path) as bag:
        store = bag.typestore
        bag.add_topic("/people", "geometry_msgs/msg/PoseArray")
        for k in range(30):
            t = 5.0 + 0.1 * k
            bag.write_message("/people", int(t * 1e9), store.types["geometry_msgs/msg/PoseArray"](
                header=_header(store, t), poses=[_pose(store, 0.3 * k, 0.0)]))
    out = tmp_path / "p.csv"
    assert cli(["bag2csv", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "left out robot_linear_speed: no /odom in the bag" in printed
    header, table = read_csv(out)
    assert header == ["time", "human_speed"]  # the only default variable a people-only bag defines
    assert np.allclose(table[2:, 1], 3.0, atol=1e-6)
    # explicitly asked for a variable whose topic is absent: an error naming the topic, and no CSV
    bad_out = tmp_path / "bad.csv"
    assert cli(["bag2csv", str(path), "--out", str(bad_out), "--variables", "min_scan_range"]) == 2
    assert "needs topic(s) ['/scan']" in capsys.readouterr().err
    # the same variable, with its input mapped to a topic the bag does not have either
    assert cli(["bag2csv", str(path), "--out", str(bad_out), "--topic", "people=/crowd"]) == 2
    assert "none of the topics" in capsys.readouterr().err
    assert cli(["bag2csv", str(path), "--out", str(bad_out), "--from-frames"]) == 2
    assert "['/causal/variables'] not in bag" in capsys.readouterr().err
    assert not bad_out.exists()


def test_wrong_type_unknown_kind_and_broken_bag_fail_cleanly(tmp_path, capsys):
    write_scene(tmp_path / "wrong", seconds=0.5, people_type="std_msgs/msg/String")
    out = tmp_path / "o.csv"
    assert cli(["bag2csv", str(tmp_path / "wrong"), "--out", str(out)]) == 2
    assert "'/people' in bag" in capsys.readouterr().err
    assert cli(["bag2csv", str(tmp_path / "wrong"), "--out", str(out), "--topic", "lidar=/scan"]) == 2
    assert "unknown input kind 'lidar'" in capsys.readouterr().err
    write_scene(tmp_path / "broken", seconds=2.0)
    data_file = tmp_path / "broken" / "broken.mcap"
    data_file.write_bytes(data_file.read_bytes()[:4000])
    assert cli(["bag2csv", str(tmp_path / "broken"), "--out", str(out)]) == 2
    assert "broken" in capsys.readouterr().err
    assert cli(["bag2csv", str(tmp_path / "absent"), "--out", str(out)]) == 2
    assert "bag not found" in capsys.readouterr().err
    assert not out.exists()
    assert not [p for p in os.listdir(tmp_path) if "partial" in p]


def test_replayed_timing_does_not_matter_offline(tmp_path):
    """The extraction reads header stamps, not bag times: shifting every bag time leaves the table unchanged."""
    write_scene(tmp_path / "scene", seconds=2.0)
    shifted = tmp_path / "shifted"
    with BagReader(tmp_path / "scene") as source, BagWriter(shifted) as bag:
        for topic, info in source.topics.items():
            bag.add_topic(topic, info.msgtype)
        for message in source.messages():
            bag.write(message.topic, message.timestamp_ns + 3_600 * 10**9, message.data)
    bag_to_csv(tmp_path / "scene", tmp_path / "a.csv")
    bag_to_csv(shifted, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_a_variable_with_no_value_in_any_frame_is_left_out_by_name_not_every_row() -> None:
    frames = [VariableSample(0.1 * k, ["a", "silent", "b"], [float(k), math.nan, 2.0 * k]) for k in range(5)]
    extraction = Extraction(frames, ["a", "silent", "b"])
    assert drop_valueless_variables(extraction) == ["silent"]
    assert extraction.names == ["a", "b"] and extraction.skipped_variables == {"silent": "no finite value in any frame"}
    time, values = frames_to_table(extraction, drop_incomplete=True)
    assert values.shape == (5, 2) and values[4].tolist() == [4.0, 8.0]
