"""Variable tables from CSV: nothing dropped without a word, limits before allocation, errors naming the file."""
from __future__ import annotations

import math

import numpy as np
import pytest

from causal_nodes.variables.csv_io import read_datasets_csv, read_variables_csv, write_variables_csv


def test_a_row_of_empty_cells_is_a_missing_sample_not_a_dropped_one(tmp_path):
    path = tmp_path / "gap.csv"
    path.write_text("a,b\n1,2\n,\n3,4\nnan,nan\n5,6\n\n\n")  # trailing blank lines are only the end of the file
    names, values, time = read_variables_csv(path)
    assert names == ["a", "b"] and time is None
    assert values.shape == (5, 2)
    assert np.isnan(values[1]).all() and np.isnan(values[3]).all() and values[4, 1] == 6.0


def test_a_blank_line_inside_one_series_is_an_error_and_separates_datasets(tmp_path):
    path = tmp_path / "two_series.csv"
    path.write_text("a,b\n1,2\n2,3\n\n1,2\n,\n2,3\n")
    with pytest.raises(ValueError, match=r"two_series.csv: line 4: blank line inside the table"):
        read_variables_csv(path)
    _, values, _, datasets = read_datasets_csv(path)
    assert list(datasets) == [0, 0, 1, 1, 1] and np.isnan(values[3]).all()  # ',' is a missing sample, not a gap


def test_limits_are_checked_before_the_table_is_read(tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"v{k}" for k in range(2000)) + "\n" + ",".join("1" for _ in range(2000)) + "\n")
    with pytest.raises(ValueError, match=r"wide.csv: 2000 variable columns, more than the limit of 100"):
        read_variables_csv(wide)
    long = tmp_path / "long.csv"
    write_variables_csv(long, ["a", "b"], np.ones((50, 2)), time=np.arange(50.0))
    with pytest.raises(ValueError, match=r"more than 20 data rows"):
        read_variables_csv(long, max_rows=20)
    assert read_variables_csv(long, max_rows=50)[1].shape == (50, 2)


@pytest.mark.parametrize("content, message", [
    (bytes(range(256)) * 4, "not a text"),
    ("a,b\n1,\xe9\n".encode("latin-1"), "not a UTF-8 text"),
    (b"a,b\n1,2,3\n", "line 2: 3 fields, header has 2"),
    (b"a,b\n1,x\n", "line 2, column 'b': not a number"),
    (b"a,b\n1,inf\n", "line 2, column 'b': inf is not allowed"),
    (b"time,a,b\n1,1,2\n1,2,3\n", "line 3: time column is not strictly increasing"),
])
def test_unreadable_files_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="bad.csv: " + message.replace("(", r"\(")):
        read_variables_csv(path)


def test_round_trip_keeps_nan(tmp_path):
    path = tmp_path / "rt.csv"
    write_variables_csv(path, ["a", "b"], np.array([[1.0, math.nan], [2.0, 3.0]]), time=[0.0, 0.1])
    names, values, time = read_variables_csv(path)
    assert names == ["a", "b"] and list(time) == [0.0, 0.1] and np.isnan(values[0, 1])
