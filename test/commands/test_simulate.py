"""The headless `simulate` command: CSV and ground truth out, do() parsing, discovery scoring."""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest

from causal_nodes.commands import simulate
from causal_nodes.sim import load_scenario
from causal_nodes.variables.csv_io import read_variables_csv


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    simulate.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_writes_variables_and_truth(tmp_path: Path, capsys) -> None:
    out, truth = tmp_path / "vars.csv", tmp_path / "truth.csv"
    code = simulate.run(_args("corridor_passing", "--steps", "50", "--do", "robot_linear_speed=0.2@1:3",
                              "--out", str(out), "--truth-out", str(truth)))
    assert code == 0
    names, values, time = read_variables_csv(out)
    assert names == load_scenario("corridor_passing").variables
    assert len(values) >= 48 and time is not None
    speed = values[:, names.index("robot_linear_speed")]
    assert all(abs(v - 0.2) < 1e-12 for v, t in zip(speed, time) if 1.0 <= t < 3.0 - 1e-9)
    with truth.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["source", "target", "lag"] and len(rows) - 1 == len(
        load_scenario("corridor_passing").ground_truth()
    )


def test_scores_discovery_on_the_demo(capsys) -> None:
    assert simulate.run(_args("scm_demo", "--score")) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    f1 = float(line.split("F1 ")[1].split()[0])
    assert f1 >= 0.9


def test_score_json_has_the_promised_keys(tmp_path: Path) -> None:
    import json

    out = tmp_path / "score.json"
    assert simulate.run(_args("scm_demo", "--seed", "2", "--score", "--json", str(out))) == 0
    score = json.loads(out.read_text())
    for key in ("precision", "recall", "f1", "f1_summary", "reference", "seconds"):
        assert key in score, key
    assert score["reference"] == "scm" and score["f1"] >= 0.9 and score["seed"] == 2
    assert 0.0 < score["guess_f1"] < 0.5 < score["f1"], "on an SCM discovery beats the data-free guess by far"
    assert simulate.run(_args("scm_demo", "--json", str(out))) == 2, "--json needs --score"


@pytest.mark.parametrize("text, message", [("speed", "VAR=VALUE"), ("human_speed=fast", "numbers"),
                                           ("robot_linear_speed=0.1@5:2", "end")])
def test_bad_do_is_rejected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        simulate.parse_do(text)


def test_bad_input_gives_exit_code_2(capsys) -> None:
    assert simulate.run(_args("no_such_scenario")) == 2
    assert "unknown scenario" in capsys.readouterr().err
    assert simulate.run(_args("crossing", "--do", "collision_risk=1")) == 2


def test_goal_intervention_takes_a_pair() -> None:
    iv = simulate.parse_do("human_goal=1.5,-2@4")
    assert iv.value == (1.5, -2.0) and iv.start == 4.0 and iv.end is None
