"""The main job (`causal-nodes demo`) end to end over real rclpy: graph quality, outputs and a complete bag."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.ros  # real rclpy nodes over DDS

pytest.importorskip("rclpy")
pytest.importorskip("causal_msgs.msg")


def test_demo_runs_a_physical_scenario_scores_it_and_records_the_run_from_its_first_frame(tmp_path: Path) -> None:
    from causal_nodes.bags.reader import BagReader
    from causal_nodes.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--duration", "30"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "corridor_passing" and summary["reference"] == "interventional", summary
    assert 0.0 < summary["f1"] <= 1.0 and 0.0 < summary["f1_summary"] <= 1.0 and "f1_mechanism" in summary
    assert 0.0 < summary["guess_f1"] < 1.0 and 0.0 < summary["guess_f1_summary"] < 1.0, "the guess is reported"
    assert "poses up to" in summary["robot_plan"], "the prioritizer used the simulated robot's plan"
    assert summary["discovery_preset"] == "hri" and summary["f1"] > summary["guess_f1"] - 0.15
    assert summary["foreign_publishers"] == {}, "another pipeline in this ROS domain fed the run"
    assert (out / "graph.png").stat().st_size > 0
    graph = json.loads((out / "graph.json").read_text())
    assert graph["links"] and graph["ground_truth"] and graph["reference"] == "interventional"
    with BagReader(out / "bag") as bag:
        frames = [bag.deserialize(m) for m in bag.messages(["/causal/variables"])]
        assert bag.topics["/causal/priorities"].count >= 1 and bag.topics["/causal/graph"].count >= 1
    stamps = [f.header.stamp.sec + f.header.stamp.nanosec * 1e-9 for f in frames]
    # The first frame's person variables are NaN by nature (no velocity from one position; the goal, an event the
    # grid does not wait for, not read yet): the window refuses it. Any other NaN frame names its variables here.
    nan_frames = [(t, [n for n, v in zip(f.names, f.values) if not np.isfinite(v)]) for t, f in zip(stamps, frames)]
    nan_frames = [item for item in nan_frames if item[1]]
    assert summary["window"].get("rejected_non_finite_value", 0) <= 2, f"NaN frames starve the window: {nan_frames}"
    # the simulator starts at 1 s of sim time (time_offset_s) and steps 0.1 s: the recorder saw every frame
    assert stamps[0] == pytest.approx(1.0)
    assert np.diff(stamps) == pytest.approx(np.full(len(stamps) - 1, 0.1)) and stamps[-1] >= 30.0
    values = np.array([f.values for f in frames])
    assert np.isfinite(values[2:]).all(), "every frame after the first two is complete"


def test_demo_refuses_to_run_beside_another_publisher_of_its_topics(tmp_path: Path, capsys, ros) -> None:
    """Another simulator (here: a node publishing /odom) in the same ROS domain would feed this run's variables node
    and follow its flow control: refused in one line before any node of the run exists (issue #10: NaN frames)."""
    from nav_msgs.msg import Odometry

    from causal_nodes.cli import main

    ros.node("rival_simulator").create_publisher(Odometry, "/odom", 10)
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--duration", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "other publishers on /odom (1) in ROS_DOMAIN_ID" in err[0], err
    assert not (out / "bag").exists() and not (out / "summary.json").exists()


def test_demo_on_the_scm_stream_finds_its_graph(tmp_path: Path) -> None:
    from causal_nodes.cli import main

    out = tmp_path / "scm"
    assert main(["demo", "--scenario", "scm_demo", "--out", str(out), "--duration", "30"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reference"] == "scm" and summary["f1"] >= 0.9, summary


def test_a_preset_the_scenario_cannot_feed_is_refused_in_one_line(tmp_path: Path, capsys) -> None:
    from causal_nodes.cli import main

    assert main(["demo", "--scenario", "scm_demo", "--discovery", "hri", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--discovery hri needs ['closing_speed']" in err[0]
