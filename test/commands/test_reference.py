"""The `reference` command: one derivation, the graph in each effect unit, each file marked with its kind."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from causal_nodes.commands import reference

_TINY = "human_robot_distance,robot_linear_speed,robot_angular_speed,human_speed"


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    reference.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_both_units_from_one_derivation_into_two_marked_files(tmp_path: Path, capsys) -> None:
    out = tmp_path / "r.json"
    code = reference.run(_args("approach_standing", "--variables", _TINY, "--seeds", "9", "--stride", "60",
                               "--unit", "both", "--json", str(out)))
    assert code == 0
    noise = json.loads((tmp_path / "r.noise.json").read_text())
    spread = json.loads((tmp_path / "r.spread.json").read_text())
    assert (noise["kind"], noise["band"]) == ("interventional", 1.0)
    assert (spread["kind"], spread["band"]) == ("interventional-spread", 0.05)
    assert noise["variables"] == spread["variables"] and noise["links"] != spread["links"]
    printed = capsys.readouterr().out
    assert printed.count("seed 9:") == 1, "one derivation for both units"
    assert "(interventional-spread, unit spread)" in printed and "of 60 candidates" in printed


def test_a_band_needs_one_unit(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="with one --unit"):
        reference.run(_args("approach_standing", "--variables", _TINY, "--unit", "both", "--band", "0.1"))
    with pytest.raises(SystemExit):
        _args("approach_standing", "--unit", "sd")
