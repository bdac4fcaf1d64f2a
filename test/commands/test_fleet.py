"""`causal-nodes fleet` end to end (serial scheduler): summary JSON, Parquet tables, HTML report, metadata, failures."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from fleet_bags import truncate_bag

from causal_nodes.cli import main
from causal_nodes.sim.bag_export import write_scenario_bag

pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture(scope="module")
def site_bags(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sites")
    (root / "site_a").mkdir()
    (root / "site_b").mkdir()
    for seed in (1, 2):
        write_scenario_bag("scm_demo", root / "site_a" / f"scm_{seed}", seed=seed, steps=250)
    write_scenario_bag("corridor_passing", root / "site_b" / "corridor_1", seed=1, steps=250)
    truncate_bag(root / "site_a" / "scm_1", root / "site_b" / "broken")
    (root / "robots.csv").write_text("bag,robot\nscm_1,r1\nscm_2,r2\ncorridor_1,r1\n")
    return root


def _strict_json(path: Path) -> dict:
    def refuse(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_fleet_command_writes_summary_tables_and_report(site_bags, tmp_path, capsys):
    out = tmp_path / "fleet.json"
    code = main(["fleet", str(site_bags / "site_a"), str(site_bags / "site_b"), "--scheduler", "none",
                 "--json", str(out), "--report", str(tmp_path / "fleet.html"), "--window", "100", "--stride", "50",
                 "--group-by", "site", "--path-pattern", r"(?P<site>site_[ab])/", "--metadata",
                 str(site_bags / "robots.csv"), "--prioritize", "collision_risk", "--bootstrap", "100",
                 "--permutations", "50"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "3/4 bags analysed" in printed and "FAILED" in printed and "broken" in printed

    summary = _strict_json(out)
    assert [Path(b["bag"]).name for b in summary["bags"]] == ["scm_1", "scm_2", "broken", "corridor_1"]
    assert summary["bags_ok"] == 3 and summary["bags_failed"] == 1
    assert summary["failures"][0]["bag"].endswith("broken") and "cannot open bag" in summary["failures"][0]["error"]
    first = summary["bags"][0]
    assert first["metadata"]["site"] == "site_a" and first["metadata"]["robot"] == "r1"
    assert first["metadata"]["scenario"] == "scm_demo" and first["source"] == "frames"
    assert first["graph"]["links"] and len(first["windows"]) == 4
    assert {"source", "target", "lag", "link_type", "strength", "p_value"} <= set(first["windows"][0]["links"][0])
    assert first["windows"][0]["recommendation"]["target"] == "collision_risk"
    links = summary["consensus"]["links"]
    assert links and {"source", "target", "lag", "frequency", "frequency_low", "frequency_high"} <= set(links[0])
    assert summary["groups"]["key"] == "site" and summary["groups"]["group_names"] == ["site_a", "site_b"]
    assert summary["robot_hours"] == pytest.approx(3 * 25.0 / 3600, rel=1e-6)

    tables = tmp_path / "fleet_tables"
    bags = pq.read_table(tables / "bags.parquet").to_pylist()
    assert [row["meta.site"] for row in bags] == ["site_a", "site_a", "site_b", "site_b"]
    assert [row["ok"] for row in bags] == [True, True, False, True]
    window_links = pq.read_table(tables / "window_links.parquet")
    assert window_links.num_rows == sum(len(w["links"]) for b in summary["bags"] for w in b["windows"])
    consensus = pq.read_table(tables / "consensus.parquet").to_pylist()
    assert [(c["source"], c["target"], c["lag"]) for c in consensus] == \
        [(c["source"], c["target"], c["lag"]) for c in links]
    for name in ("pooled_links", "windows", "recommendations", "group_differences", "change_points"):
        assert (tables / f"{name}.parquet").is_file()
    assert pq.read_table(tables / "recommendations.parquet").num_rows == sum(len(b["windows"])
                                                                              for b in summary["bags"])

    report = (tmp_path / "fleet.html").read_text()
    assert report.count("<img") >= 4 and "data:image/png;base64," in report
    assert "Bags that could not be analysed" in report and "site_a" in report


def test_compact_json_keeps_window_counts_only(site_bags, tmp_path, capsys):
    out = tmp_path / "compact.json"
    assert main(["fleet", str(site_bags / "site_a"), "--scheduler", "none", "--json", str(out), "--window", "100",
                 "--stride", "50", "--compact-json", "--bootstrap", "20"]) == 0
    summary = _strict_json(out)
    assert [b["windows"] for b in summary["bags"]] == [4, 4] and summary["consensus"]["links"]
    assert pq.read_table(tmp_path / "compact_tables" / "windows.parquet").num_rows == 8


def test_fleet_command_refuses_bad_options_with_one_line(site_bags, tmp_path, capsys):
    assert main(["fleet", str(site_bags), "--scheduler", "bogus", "--json", str(tmp_path / "f.json")]) == 2
    assert "scheduler must be" in capsys.readouterr().err
    assert main(["fleet", str(tmp_path), "--scheduler", "none", "--json", str(tmp_path / "f.json")]) == 2
    assert "no bags under" in capsys.readouterr().err
    assert not (tmp_path / "f.json").exists()
