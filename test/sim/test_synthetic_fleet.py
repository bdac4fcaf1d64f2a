"""A synthetic fleet (sim/synthetic_fleet.py via scripts/simulate_fleet.py): bags across scenarios and seeds, and
the metadata CSV that `causal-nodes fleet` reads."""
from __future__ import annotations

import csv
import importlib.util

from repo_paths import REPO_ROOT

from causal_nodes.bags import BagReader


def _script():
    spec = importlib.util.spec_from_file_location("simulate_fleet", REPO_ROOT / "scripts" / "simulate_fleet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generates_bags_across_scenarios_and_seeds_with_metadata(tmp_path, capsys):
    script = _script()
    args = ["--out", str(tmp_path), "--bags", "3", "--scenarios", "crossing", "scm_demo", "--duration-s", "2",
            "--robots", "2", "--first-seed", "7"]
    assert script.main(args) == 0
    with (tmp_path / "fleet.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["scenario"], r["seed"], r["robot"], r["site"]) for r in rows] == [
        ("crossing", "7", "r0", "site_crossing"), ("scm_demo", "8", "r1", "site_scm_demo"),
        ("crossing", "9", "r0", "site_crossing")]
    for row in rows:
        with BagReader(row["bag"]) as bag:
            assert bag.custom_data["seed"] == row["seed"] and bag.custom_data["steps"] == "20"
    assert script.main(args) == 0  # existing bags are kept: resuming does nothing
    assert "3 bags" in capsys.readouterr().out
