"""Reads and writes variable tables as CSV: a header of variable names, optionally a first column ``time``.

Errors name the file, the line and what is wrong, because a CSV usually comes from another tool and the user
needs to know where to look. Nothing is dropped without a word: a row of empty cells (``,,,``) is a missing
sample like a row of ``nan``; a blank line inside the table separates datasets (:func:`read_datasets_csv`) or,
where one series is expected, is an error. The size is bounded before anything big is allocated
(``max_columns``, ``max_rows``): a discovery's memory grows with the square of the columns.
"""
from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

MAX_COLUMNS = 100
"""Default limit on variable columns (the ``time`` column aside)."""
MAX_ROWS = 100_000
"""Default limit on data rows."""


def read_variables_csv(path: str | Path, max_columns: int = MAX_COLUMNS,
                       max_rows: int = MAX_ROWS) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """Returns (variable names, (T, N) float array, time column or None): one series.

    Empty cells and ``nan`` read as NaN (a missing value, e.g. from ``bag2csv``); inf is an error. A blank line
    inside the table is an error naming it (two series pasted together would otherwise become one); read such a
    file with :func:`read_datasets_csv`.
    """
    names, values, time, labels = read_datasets_csv(path, max_columns, max_rows)
    if labels[-1:].any():
        line = _lines_of(path)[int(np.argmax(labels > 0))] - 1
        raise ValueError(f"{path}: line {line}: blank line inside the table (two series pasted together?); write a "
                         "missing sample as empty cells (,,) or nan, or read the parts as separate datasets")
    return names, values, time


def read_datasets_csv(path: str | Path, max_columns: int = MAX_COLUMNS, max_rows: int = MAX_ROWS,
                      ) -> tuple[list[str], np.ndarray, np.ndarray | None, np.ndarray]:
    """Like :func:`read_variables_csv`, plus a dataset label per row: blank lines separate datasets (tigramite's
    multiple-datasets mode: episodes, people, years). The time column then increases within each dataset.

    A row of empty cells (``,,,``) is a missing sample, not a separator: only a line without any cell separates.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open("rb") as raw:
        if b"\0" in raw.read(4096):
            raise ValueError(f"{path}: not a text (CSV) file")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            header, values, lines, labels = _read_table(path, _numbered_rows(handle), max_columns, max_rows)
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not a UTF-8 text (CSV) file ({error.reason} at byte {error.start})") from None
    except csv.Error as error:
        raise ValueError(f"{path}: unreadable CSV: {error}") from None
    if np.isinf(values).any():
        row, column = (int(v) for v in np.argwhere(np.isinf(values))[0])
        raise ValueError(f"{path}: line {lines[row]}, column {header[column]!r}: inf is not allowed")
    time = None
    if header[0].lower() == "time":
        time, values, header = values[:, 0], values[:, 1:], header[1:]
        if np.isnan(time).any():
            raise ValueError(f"{path}: line {lines[int(np.argmax(np.isnan(time)))]}: time is missing")
        backwards = (np.diff(time) <= 0) & (np.diff(labels) == 0)
        if backwards.any():
            raise ValueError(f"{path}: line {lines[int(np.argmax(backwards)) + 1]}: time column is not strictly "
                             "increasing" + (" within its dataset" if labels[-1] > 0 else ""))
    if len(header) < 2:
        raise ValueError(f"{path}: need at least two variable columns, got {header}")
    return header, values, time, labels


def _numbered_rows(handle) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(handle)
    for row in reader:
        yield reader.line_num, row


def _lines_of(path: str | Path) -> list[int]:
    """Line number of each data row (for messages about a row found after reading)."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        rows = [line for line, row in _numbered_rows(handle) if row]
    return rows[1:]


def _read_table(path: Path, rows: Iterator[tuple[int, list[str]]], max_columns: int,
                max_rows: int) -> tuple[list[str], np.ndarray, list[int], np.ndarray]:
    """(header, (rows, columns) values, line number of each row, dataset of each row), refusing what is over the
    limits before it is allocated. A line without cells after data starts a new dataset."""
    header: list[str] = []
    header_line = 0
    for line, row in rows:
        if any(cell.strip() for cell in row):
            header, header_line = [cell.strip() for cell in row], line
            break
    if not header:
        raise ValueError(f"{path}: empty file (expected a header of variable names)")
    if any(not name for name in header):
        raise ValueError(f"{path}: line {header_line}: empty column name in header {header[:10]}")
    if len(set(header)) != len(header):
        raise ValueError(f"{path}: line {header_line}: duplicate column names in header {header[:10]}")
    variables = len(header) - (header[0].lower() == "time")
    if variables > max_columns:
        raise ValueError(f"{path}: {variables} variable columns, more than the limit of {max_columns} "
                         "(raise it with --max-columns)")
    values = np.empty((min(max_rows, 1024), len(header)))
    lines: list[int] = []
    labels: list[int] = []
    dataset, blank = 0, False
    for line, row in rows:
        if not row:
            blank = True
            continue
        if blank and lines:  # a blank line between data rows: a new dataset (trailing ones are only the end)
            dataset += 1
        blank = False
        if len(row) != len(header):
            raise ValueError(f"{path}: line {line}: {len(row)} fields, header has {len(header)}")
        if len(lines) == max_rows:
            raise ValueError(f"{path}: more than {max_rows} data rows, the limit (raise it with --max-rows)")
        if len(lines) == len(values):
            values = np.resize(values, (min(max_rows, 2 * len(values)), len(header)))
        for column, cell in enumerate(row):
            try:
                values[len(lines), column] = float(cell) if cell.strip() else math.nan
            except ValueError:
                raise ValueError(f"{path}: line {line}, column {header[column]!r}: not a number: {cell!r}") from None
        lines.append(line)
        labels.append(dataset)
    return header, values[:len(lines)].copy(), lines, np.array(labels, dtype=np.int64)


def write_variables_csv(
    path: str | Path, names: Sequence[str], values: np.ndarray, time: Sequence[float] | None = None
) -> None:
    path = Path(path)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow((["time"] if time is not None else []) + list(names))
        for k, row in enumerate(np.asarray(values, dtype=np.float64)):
            prefix = [repr(float(time[k]))] if time is not None else []
            writer.writerow(prefix + [repr(float(v)) if math.isfinite(v) else "nan" for v in row])
