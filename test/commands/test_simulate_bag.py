"""`causal-nodes simulate SCENARIO --bag OUT`: a bag written directly, then usable by bag2csv."""
from __future__ import annotations

from causal_nodes.bags import BagReader
from causal_nodes.cli import main
from causal_nodes.variables.csv_io import read_variables_csv


def test_simulate_writes_a_bag_that_bag2csv_reads(tmp_path, capsys):
    bag = tmp_path / "crossing_4"
    assert main(["simulate", "crossing", "--seed", "4", "--steps", "60", "--bag", str(bag)]) == 0
    assert f"wrote bag {bag}: 60 steps" in capsys.readouterr().out
    with BagReader(bag) as reader:
        assert {"/clock", "/people", "/odom", "/scan", "/sim/ground_truth"} <= set(reader.topics)
        assert reader.topics["/odom"].count == 61 and reader.custom_data["seed"] == "4"
    assert main(["bag2csv", str(bag), "--out", str(tmp_path / "v.csv"), "--drop-incomplete"]) == 0
    # crossing has no walls: the scan shows no obstacle, so the clearance is the scan's range_max (10 m), not NaN
    names, values, time = read_variables_csv(tmp_path / "v.csv")
    assert "human_robot_distance" in names and len(values) >= 55 and time[0] >= 1.0
    assert set(values[:, names.index("robot_obstacle_clearance")]) == {10.0}


def test_simulate_refuses_to_overwrite_a_bag(tmp_path, capsys):
    bag = tmp_path / "scm"
    assert main(["simulate", "scm_demo", "--steps", "5", "--bag", str(bag)]) == 0
    assert main(["simulate", "scm_demo", "--steps", "5", "--bag", str(bag)]) == 2
    assert "exists already" in capsys.readouterr().err
