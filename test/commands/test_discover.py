"""``causal-nodes discover`` on CSV files: exactly tigramite's result, clear errors for bad files."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scm_data import NAMES, TRUTH, scm_samples
from tigramite.data_processing import DataFrame
from tigramite.independence_tests.parcorr import ParCorr
from tigramite.pcmci import PCMCI

from causal_nodes.cli import main
from causal_nodes.variables.csv_io import write_variables_csv


@pytest.fixture
def scm_csv(tmp_path):
    data = scm_samples(400, seed=5)
    path = tmp_path / "scm.csv"
    write_variables_csv(path, NAMES, data, time=np.arange(len(data)) * 0.1)
    return path, data


@pytest.mark.parametrize("engine", ["tigramite", "auto"])
def test_discover_equals_tigramite(scm_csv, tmp_path, engine, capsys):
    path, data = scm_csv
    out = tmp_path / f"{engine}.json"
    assert main(["discover", str(path), "--tau-max", "3", "--pc-alpha", "0.2", "--alpha-level", "0.01",
                 "--engine", engine, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    reference = PCMCI(DataFrame(data), ParCorr(significance="analytic"), verbosity=0).run_pcmci(
        tau_max=3, pc_alpha=0.2, alpha_level=0.01)
    assert result["variables"] == NAMES
    assert result["graph"] == reference["graph"].tolist()
    np.testing.assert_allclose(np.array(result["val_matrix"], float), reference["val_matrix"], atol=1e-8)
    np.testing.assert_allclose(np.array(result["p_matrix"], float), reference["p_matrix"], atol=1e-8)
    assert set(result) >= {"variables", "graph", "val_matrix", "p_matrix", "seconds"}
    for source, target, lag in TRUTH:
        assert f"{source}(t-{lag}) --> {target}(t)" in printed


def test_fast_and_tigramite_engines_print_identical_graphs(scm_csv, capsys):
    path, _ = scm_csv
    outputs = []
    for engine in ("fast", "tigramite"):
        assert main(["discover", str(path), "--tau-max", "2", "--engine", engine]) == 0
        lines = capsys.readouterr().out.splitlines()
        outputs.append([line for line in lines if "-->" in line or "o-o" in line])
    assert outputs[0] == outputs[1] and outputs[0]


@pytest.mark.parametrize("content, message", [
    ("", "empty file"),
    ("a,b\n1,2\n3,x\n", "line 3, column 'b': not a number"),
    ("a,b\n1,2\n3\n", "line 3: 1 fields"),
    ("a,a\n1,2\n", "duplicate column"),
    ("time,a,b\n0,1,2\n0,3,4\n", "not strictly increasing"),
    ("a,b\n1,inf\n", "inf is not allowed"),
    ("a\n1\n2\n", "at least two variable columns"),
])
def test_bad_csv_gives_clear_error_and_nonzero_exit(tmp_path, capsys, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["discover", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_too_short_csv_and_missing_file(tmp_path, capsys):
    path = tmp_path / "short.csv"
    write_variables_csv(path, NAMES, scm_samples(12))
    assert main(["discover", str(path), "--tau-max", "3"]) == 2
    assert "too few" in capsys.readouterr().err
    assert main(["discover", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_missing_values_go_to_tigramite_with_missing_flag(scm_csv, tmp_path, capsys):
    _, data = scm_csv
    holey = data.copy()
    holey[[30, 31, 200], 1] = np.nan
    path = tmp_path / "holey.csv"
    write_variables_csv(path, NAMES, holey)
    out = tmp_path / "holey.json"
    assert main(["discover", str(path), "--tau-max", "2", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["engine"] == "tigramite" and "missing" in result["engine_note"]
    flag = -9.87654321e30
    reference = PCMCI(DataFrame(np.where(np.isnan(holey), flag, holey), missing_flag=flag),
                      ParCorr(significance="analytic"), verbosity=0).run_pcmci(tau_max=2, pc_alpha=0.2,
                                                                              alpha_level=0.01)
    assert result["graph"] == reference["graph"].tolist()
    assert main(["discover", str(path), "--engine", "fast"]) == 2
    assert "missing values" in capsys.readouterr().err


def test_mask_from_file_or_column_and_datasets_from_column_or_blank_lines(scm_csv, tmp_path, capsys):
    _, data = scm_csv
    masked = np.arange(len(data)) % 4 == 0
    column_csv = tmp_path / "with_columns.csv"
    episode = np.arange(len(data)) // 100
    write_variables_csv(column_csv, NAMES + ["masked", "episode"], np.column_stack([data, masked, episode]))
    plain_csv = tmp_path / "plain.csv"
    write_variables_csv(plain_csv, NAMES + ["episode"], np.column_stack([data, episode]))
    mask_csv = tmp_path / "mask.csv"
    write_variables_csv(mask_csv, NAMES, np.repeat(masked[:, None], 4, axis=1).astype(float))
    by_column, by_file = tmp_path / "column.json", tmp_path / "file.json"
    common = ["--tau-max", "2", "--mask-type", "y", "--datasets", "episode"]
    assert main(["discover", str(column_csv), "--mask", "masked", *common, "--json", str(by_column)]) == 0
    assert main(["discover", str(plain_csv), "--mask", str(mask_csv), *common, "--json", str(by_file)]) == 0
    first, second = json.loads(by_column.read_text()), json.loads(by_file.read_text())
    assert first["variables"] == NAMES and first["datasets"] == 4 and first["graph"] == second["graph"]
    mask = np.repeat(masked[:, None], 4, axis=1)
    frame = DataFrame({k: data[k * 100:(k + 1) * 100] for k in range(4)},
                      mask={k: mask[k * 100:(k + 1) * 100] for k in range(4)}, analysis_mode="multiple")
    reference = PCMCI(frame, ParCorr(significance="analytic", mask_type="y"), verbosity=0).run_pcmci(
        tau_max=2, pc_alpha=0.2, alpha_level=0.01)
    assert first["graph"] == reference["graph"].tolist()
    assert "400 samples in 4 datasets" in capsys.readouterr().out

    blank = tmp_path / "blank.csv"
    text = column_csv.read_text().splitlines()
    header, rows = text[0], text[1:]
    blank.write_text("\n".join([header] + rows[:100] + [""] + rows[100:200] + ["", ""] + rows[200:]) + "\n")
    out = tmp_path / "blank.json"
    assert main(["discover", str(blank), "--tau-max", "2", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["datasets"] == 3


def test_bad_mask_and_options_are_named(scm_csv, tmp_path, capsys):
    path, data = scm_csv
    assert main(["discover", str(path), "--mask", "nothing"]) == 2
    assert "neither a file nor a column" in capsys.readouterr().err
    short = tmp_path / "short_mask.csv"
    write_variables_csv(short, NAMES, np.zeros((10, 4)))
    assert main(["discover", str(path), "--mask", str(short)]) == 2
    assert "10 mask rows for 400 samples" in capsys.readouterr().err
    assert main(["discover", str(path), "--test", "rcot", "--test-option", "features=3"]) == 2
    assert "has no option(s) ['features']" in capsys.readouterr().err
    assert main(["discover", str(path), "--context", "a", "--context-bins", "x"]) == 2
    assert "--context-bins 'x'" in capsys.readouterr().err


def test_rcot_with_options_context_and_lpcmci_from_the_cli(scm_csv, tmp_path, capsys):
    path, _ = scm_csv
    out = tmp_path / "rcot.json"
    assert main(["discover", str(path), "--tau-max", "2", "--test", "rcot", "--test-option", "n_features=1",
                 "--context", "d", "--context-bins", "0", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["variables"] == ["a", "b", "c"] and result["config"]["test_options"]["n_features"] == 1
    assert "tests within the regimes of d" in capsys.readouterr().out
    assert main(["discover", str(path), "--tau-max", "2", "--method", "lpcmci"]) == 0
    printed = capsys.readouterr().out
    assert "pcmci" in printed and ("a(t-1) --> b(t)" in printed or "a(t-1) o-> b(t)" in printed)
