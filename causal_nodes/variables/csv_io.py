"""Reads and writes variable tables as CSV: a header of variable names, optionally a first column ``time``.

Errors name the file, the line and what is wrong, because a CSV usually comes from another tool and the user
needs to know where to look. Nothing is dropped without a word: a row of empty cells (``,,,``) is a missing
sample like a row of ``nan``; a blank line *inside* the table is an error (two series pasted together would
otherwise become one). The size is bounded before anything big is allocated (``max_columns``, ``max_rows``):
a discovery's memory grows with the square of the columns.
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
    """Returns (variable names, (T, N) float array, time column or None).

    Empty cells and ``nan`` read as NaN (a missing value, e.g. from ``bag2csv``); inf is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open("rb") as raw:
        if b"\0" in raw.read(4096):
            raise ValueError(f"{path}: not a text (CSV) file")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            header, values, lines = _read_table(path, _numbered_rows(handle), max_columns, max_rows)
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
        if np.any(np.diff(time) <= 0):
            line = lines[int(np.argmax(np.diff(time) <= 0)) + 1]
            raise ValueError(f"{path}: line {line}: time column is not strictly increasing")
    if len(header) < 2:
        raise ValueError(f"{path}: need at least two variable columns, got {header}")
    return header, values, time


def _numbered_rows(handle) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(handle)
    for row in reader:
        yield reader.line_num, row


def _read_table(path: Path, rows: Iterator[tuple[int, list[str]]], max_columns: int,
                max_rows: int) -> tuple[list[str], np.ndarray, list[int]]:
    """(header, (rows, columns) values, line number of each row), refusing what is over the limits."""
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
    count = 0
    blank_line = None
    for line, row in rows:
        if not row:
            blank_line = blank_line or line
            continue
        if blank_line is not None:
            raise ValueError(f"{path}: line {blank_line}: blank line inside the table (two series pasted together?); "
                             "write a missing sample as empty cells (,,) or nan, or split the file")
        if len(row) != len(header):
            raise ValueError(f"{path}: line {line}: {len(row)} fields, header has {len(header)}")
        if count == max_rows:
            raise ValueError(f"{path}: more than {max_rows} data rows, the limit (raise it with --max-rows)")
        if count == len(values):
            values = np.resize(values, (min(max_rows, 2 * len(values)), len(header)))
        for column, cell in enumerate(row):
            try:
                values[count, column] = float(cell) if cell.strip() else math.nan
            except ValueError:
                raise ValueError(f"{path}: line {line}, column {header[column]!r}: not a number: {cell!r}") from None
        lines.append(line)
        count += 1
    return header, values[:count].copy(), lines


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
