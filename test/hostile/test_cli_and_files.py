"""Hostile files and command lines through the real CLI (issue #11 findings 8, 10, 12, 13): every user error is one
line naming the file or parameter with exit code 2; a corrupt bag is used as far as it can be read, with a warning
that counts what was lost."""
from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.ros  # replay and run start real rclpy contexts

pytest.importorskip("causal_msgs")

from scene_bags import write_scene  # noqa: E402
from scm_data import NAMES, scm_samples  # noqa: E402

from causal_nodes.bags.reader import BagReader  # noqa: E402
from causal_nodes.cli import main  # noqa: E402
from causal_nodes.variables.csv_io import write_variables_csv  # noqa: E402


@pytest.fixture(scope="module")
def corrupt_bag(tmp_path_factory) -> tuple[Path, int]:
    """A 60 s scene bag with 50 KB of garbage written over its middle; returns (bag, messages promised)."""
    path = tmp_path_factory.mktemp("corrupt") / "scene"
    write_scene(path, seconds=60.0)
    mcap = next(path.glob("*.mcap"))
    data = bytearray(mcap.read_bytes())
    rng = random.Random(11)
    middle = len(data) // 2
    data[middle:middle + 50_000] = bytes(rng.getrandbits(8) for _ in range(50_000))
    mcap.write_bytes(bytes(data))
    with BagReader(path) as bag:
        return path, bag.message_count


def _one_line_error(capsys, argv: list[str], *names: str) -> str:
    assert main(argv) == 2, argv
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"causal-nodes {argv[0]}: error: "), err
    for name in names:
        assert name in err, (name, err)
    return err


def test_bag2csv_counts_what_a_corrupt_bag_lost_and_keeps_the_rest(corrupt_bag, tmp_path, capsys):
    """Finding 8: bag2csv aborted on one undecodable message; garbage in a chunk was skipped without a word."""
    bag, promised = corrupt_bag
    out = tmp_path / "scene.csv"
    assert main(["bag2csv", str(bag), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    with out.open() as handle:
        rows = list(csv.reader(handle))
    assert len(rows) > 50  # what could be read (the chunk after the garbage) was used
    warnings = [line for line in captured.err.splitlines() if "unreadable message(s)" in line]
    lost = sum(int(line.split("warning: ")[1].split()[0]) for line in warnings)
    assert warnings and 0 < lost < promised, captured.err


def test_replay_of_a_corrupt_bag_warns_with_the_count(corrupt_bag, capsys):
    """Finding 8: replay reported success (3667 of 3744 messages) with no warning."""
    bag, promised = corrupt_bag
    assert main(["replay", str(bag), "--rate", "0", "--no-clock"]) == 0
    captured = capsys.readouterr()
    replayed = int(captured.out.split("replayed ")[1].split()[0])
    assert 0 < replayed < promised
    warning = [line for line in captured.err.splitlines() if "could not be read" in line]
    assert warning and f"{promised - replayed} message(s)" in warning[0], captured.err


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_user_errors_are_one_line_naming_the_file_or_parameter_with_code_2(tmp_path, capsys):
    """Finding 10: directories as outputs, unparsable params, empty lists, out-of-range parameters, NaN durations
    and binary files came out as tracebacks with exit code 1, or recorded forever."""
    data = tmp_path / "data.csv"
    write_variables_csv(data, NAMES, scm_samples(200, seed=2))
    folder = tmp_path / "a_folder"
    folder.mkdir()
    _one_line_error(capsys, ["discover", str(data), "--json", str(folder)], "a_folder", "folder")
    bag = tmp_path / "scene"
    write_scene(bag, seconds=2.0)
    _one_line_error(capsys, ["bag2csv", str(bag), "--out", str(folder)], "a_folder", "folder")
    broken = _write(tmp_path / "broken.yaml", "discovery_node:\n  ros__parameters: {tau_max: [1, 2\n")
    _one_line_error(capsys, ["run", "--params", str(broken)], "broken.yaml", "line")
    empty = _write(tmp_path / "empty.yaml", "variables_node:\n  ros__parameters:\n    variables: []\n")
    _one_line_error(capsys, ["run", "--nodes", "variables", "--params", str(empty)], "variables_node", "variables")
    tau = _write(tmp_path / "tau.yaml", "discovery_node:\n  ros__parameters:\n    tau_max: 99\n")
    _one_line_error(capsys, ["run", "--nodes", "variables,discovery", "--params", str(tau)], "discovery_node",
                    "tau_max", "out of range")
    person = _write(tmp_path / "person.yaml", "variables_node:\n  ros__parameters:\n    person: foo\n")
    _one_line_error(capsys, ["run", "--nodes", "variables", "--params", str(person)], "person", "'foo'")
    _one_line_error(capsys, ["record", str(tmp_path / "rec"), "--duration", "nan"], "--duration", "finite")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 16)
    _one_line_error(capsys, ["discover", str(binary)], "binary.csv", "not a text")
    _one_line_error(capsys, ["demo", "--duration", "-5"], "--duration")
    _one_line_error(capsys, ["discover", str(data), "--tau-max", "three"], "--tau-max")
    _one_line_error(capsys, ["replay", str(tmp_path / "no_such_bag")], "no_such_bag")


def test_a_2000_column_csv_is_refused_at_once(tmp_path, capsys):
    """Finding 12: a 2000-column CSV used 7.3 GB and gave no result after 150 s."""
    wide = tmp_path / "wide.csv"
    rng = np.random.default_rng(0)
    write_variables_csv(wide, [f"v{k}" for k in range(2000)], rng.normal(size=(300, 2000)))
    _one_line_error(capsys, ["discover", str(wide)], "wide.csv", "2000 variable columns", "--max-columns")
    _one_line_error(capsys, ["discover", str(wide), "--max-columns", "3000", "--max-rows", "100"], "wide.csv",
                    "more than 100 data rows", "--max-rows")


def test_rows_of_empty_cells_are_missing_samples_and_blank_lines_are_said(tmp_path, capsys):
    """Finding 13: a row of empty cells was dropped silently; two concatenated series became one without a word."""
    data = scm_samples(300, seed=9)
    text = "a,b,c,d\n" + "".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in data[:150])
    text += ",,,\n" + "".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in data[150:])
    gap = _write(tmp_path / "gap.csv", text)
    assert main(["discover", str(gap), "--tau-max", "2"]) == 0
    captured = capsys.readouterr()
    assert "1 of 301 rows of" in captured.err and "1 entirely empty" in captured.err
    assert "301 samples" in captured.out  # the empty row kept its place on the time grid
    pasted = _write(tmp_path / "pasted.csv", text.replace(",,,\n", "\n"))
    assert main(["discover", str(pasted), "--tau-max", "2"]) == 0  # a blank line: two datasets, and it says so
    captured = capsys.readouterr()
    assert "pasted.csv holds 2 datasets" in captured.err and "in 2 datasets" in captured.out
