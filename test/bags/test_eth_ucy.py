"""ETH/UCY pedestrian files → bags: poses, headings, ids, the stand-in robot, bad files, and the real data if present.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from repo_paths import DATASETS

from causal_nodes.bags import BagError, BagReader
from causal_nodes.bags.eth_ucy import build_tracks, eth_ucy_to_bag, read_eth_ucy
from causal_nodes.cli import main as cli
from causal_nodes.geometry import quaternion_to_yaw

DATA = DATASETS

# Pedestrian 3 walks +x at 1 m/s (0.4 m per 0.4 s); pedestrian 1 walks +y at 0.5 m/s; ped 7 stands still, then
# walks -x. Frame ids step by 10 (0.4 s); frame 40 is missing (a gap, as in the real files).
TINY = """\
0\t3.0\t0.0\t0.0
0\t1.0\t5.0\t0.0
10\t3.0\t0.4\t0.0
10\t1.0\t5.0\t0.2
10\t7.0\t9.0\t9.0
20\t1.0\t5.0\t0.4
20\t3.0\t0.8\t0.0
20\t7.0\t9.0\t9.0
30\t3.0\t1.2\t0.0
30\t7.0\t8.6\t9.0
50\t3.0\t2.0\t0.0
"""


@pytest.fixture
def tiny(tmp_path) -> Path:
    path = tmp_path / "tiny.txt"
    path.write_text(TINY)
    return path


def test_people_frames_are_sorted_by_id_with_heading_of_motion(tmp_path, tiny):
    summary = eth_ucy_to_bag(tiny, tmp_path / "bag", frame_id="map", t0_s=100.0)
    assert (summary.frames, summary.pedestrians, summary.robot_ped) == (5, 3, None)
    assert summary.duration_s == pytest.approx(2.0)
    with BagReader(tmp_path / "bag") as bag:
        assert {t: i.msgtype for t, i in bag.topics.items()} == {
            "/people": "geometry_msgs/msg/PoseArray", "/people/ids": "std_msgs/msg/String"}
        people = [(m.timestamp_ns, bag.deserialize(m)) for m in bag.messages(["/people"])]
        ids = [(m.timestamp_ns, json.loads(bag.deserialize(m).data)) for m in bag.messages(["/people/ids"])]
        assert bag.custom_data["source"] == "tiny.txt"
    # stamps: frame id * 0.04 s after t0, exact to the nanosecond, the bag time equal to the header stamp
    assert [t for t, _ in people] == [100_000_000_000 + k * 400_000_000 for k in (0, 1, 2, 3, 5)]
    assert all(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == t for t, msg in people)
    assert all(msg.header.frame_id == "map" for _, msg in people)
    assert [i for _, i in ids] == [[1, 3], [1, 3, 7], [1, 3, 7], [3, 7], [3]]
    assert [t for t, _ in ids] == [t for t, _ in people]
    frame1 = people[1][1]
    assert [(p.position.x, p.position.y) for p in frame1.poses] == [(5.0, 0.2), (0.4, 0.0), (9.0, 9.0)]
    assert quaternion_to_yaw(frame1.poses[0].orientation) == pytest.approx(math.pi / 2)  # ped 1 walks +y
    assert quaternion_to_yaw(frame1.poses[1].orientation) == pytest.approx(0.0)  # ped 3 walks +x
    # ped 7 stands still at first: it already faces the way it will walk (-x)
    assert abs(quaternion_to_yaw(frame1.poses[2].orientation)) == pytest.approx(math.pi)


def test_robot_pedestrian_becomes_odometry_and_leaves_people(tmp_path, tiny):
    summary = eth_ucy_to_bag(tiny, tmp_path / "bag", robot_ped="longest", t0_s=100.0)
    assert summary.robot_ped == 3 and summary.counts["/odom"] == 5
    with BagReader(tmp_path / "bag") as bag:
        odom = [bag.deserialize(m) for m in bag.messages(["/odom"])]
        ids = [json.loads(bag.deserialize(m).data) for m in bag.messages(["/people/ids"])]
    assert all(3 not in frame for frame in ids)
    assert [o.pose.pose.position.x for o in odom] == [0.0, 0.4, 0.8, 1.2, 2.0]
    assert all(o.twist.twist.linear.x == pytest.approx(1.0) for o in odom)  # 0.4 m per 0.4 s
    assert all(abs(o.twist.twist.angular.z) < 1e-9 for o in odom)
    assert odom[0].child_frame_id == "base_link" and odom[0].header.frame_id == "world"


def test_crop_to_robot_keeps_only_its_lifetime(tmp_path, tiny):
    summary = eth_ucy_to_bag(tiny, tmp_path / "bag", robot_ped=7, crop_to_robot=True, t0_s=0.0)
    assert summary.frames == 3 and summary.counts["/odom"] == 3 and summary.duration_s == pytest.approx(0.8)
    with BagReader(tmp_path / "bag") as bag:
        ids = [json.loads(bag.deserialize(m).data) for m in bag.messages(["/people/ids"])]
    assert ids == [[1, 3], [1, 3], [3]]
    with pytest.raises(BagError, match="needs a robot pedestrian"):
        eth_ucy_to_bag(tiny, tmp_path / "bag2", crop_to_robot=True)


def test_tracks_speed_and_heading(tiny):
    tracks = build_tracks(read_eth_ucy(tiny))
    assert tracks[1].speed == pytest.approx([0.5, 0.5, 0.5])
    assert list(tracks[3].frames) == [0, 10, 20, 30, 50]


@pytest.mark.parametrize("content, message", [
    ("0\t1.0\t2.0\n", "expected 4 fields"),
    ("0\t1.0\tabc\t2.0\n", "non-numeric"),
    ("0\t1.0\tnan\t2.0\n", "non-finite"),
    ("0.5\t1.0\t1.0\t2.0\n", "must be integers"),
    ("0\t1\t1\t1\n0\t1\t2\t2\n", "appears twice in the same frame"),
    ("\n\n", "holds no rows"),
])
def test_malformed_files_are_named_and_leave_nothing(tmp_path, content, message):
    source = tmp_path / "bad.txt"
    source.write_text(content)
    with pytest.raises(BagError, match=message):
        eth_ucy_to_bag(source, tmp_path / "bag")
    assert sorted(os.listdir(tmp_path)) == ["bad.txt"]


def test_cli_converts_and_reports_errors_with_exit_code(tmp_path, tiny, capsys):
    assert cli(["eth2bag", str(tiny), "--out", str(tmp_path / "ok"), "--robot-ped", "1", "--storage", "sqlite3"]) == 0
    assert "pedestrian 1 as the robot" in capsys.readouterr().out
    assert (tmp_path / "ok" / "ok.db3").is_file()
    assert cli(["eth2bag", str(tiny), "--out", str(tmp_path / "bad"), "--robot-ped", "42"]) == 2
    assert "--robot-ped 42 is not a pedestrian" in capsys.readouterr().err
    assert cli(["eth2bag", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "bad")]) == 2
    assert "ETH/UCY file not found" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok", "tiny.txt"]


@pytest.mark.skipif(not (DATA / "eth_ucy" / "raw" / "all_data" / "biwi_hotel.txt").is_file(),
                    reason="real ETH/UCY data not present (see shared/datasets/README.md)")
def test_real_hotel_scene_converts(tmp_path):
    source = DATA / "eth_ucy" / "raw" / "all_data" / "biwi_hotel.txt"
    table = read_eth_ucy(source)
    summary = eth_ucy_to_bag(source, tmp_path / "hotel", robot_ped="longest")
    assert summary.frames == len(set(table[:, 0])) and summary.pedestrians == len(set(table[:, 1]))
    with BagReader(tmp_path / "hotel") as bag:
        poses = sum(len(bag.deserialize(m).poses) for m in bag.messages(["/people"]))
        assert poses + bag.topics["/odom"].count == len(table)
