"""Reads and writes variable tables as CSV: a header of variable names, optionally a first column ``time``.

Errors name the file, the line and what is wrong, because a CSV usually comes from another tool and the user
needs to know where to look.
"""
from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def read_variables_csv(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """Returns (variable names, (T, N) float array, time column or None).

    Empty cells and ``nan`` read as NaN (a missing value, e.g. from ``bag2csv``); inf is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    rows = [r for r in rows if r and any(cell.strip() for cell in r)]
    if not rows:
        raise ValueError(f"{path}: empty file (expected a header of variable names)")
    header = [cell.strip() for cell in rows[0]]
    if any(not name for name in header):
        raise ValueError(f"{path}: line 1: empty column name in header {header}")
    if len(set(header)) != len(header):
        raise ValueError(f"{path}: line 1: duplicate column names in header {header}")
    values = np.empty((len(rows) - 1, len(header)))
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(f"{path}: line {line}: {len(row)} fields, header has {len(header)}")
        for column, cell in enumerate(row):
            try:
                values[line - 2, column] = float(cell) if cell.strip() else float("nan")
            except ValueError:
                raise ValueError(f"{path}: line {line}, column {header[column]!r}: not a number: {cell!r}") from None
    if np.isinf(values).any():
        line, column = (int(v) for v in np.argwhere(np.isinf(values))[0])
        raise ValueError(f"{path}: line {line + 2}, column {header[column]!r}: inf is not allowed")
    time = None
    if header[0].lower() == "time":
        time, values, header = values[:, 0], values[:, 1:], header[1:]
        if np.isnan(time).any():
            raise ValueError(f"{path}: line {int(np.argmax(np.isnan(time))) + 2}: time is missing")
        if np.any(np.diff(time) <= 0):
            line = int(np.argmax(np.diff(time) <= 0)) + 3
            raise ValueError(f"{path}: line {line}: time column is not strictly increasing")
    if len(header) < 2:
        raise ValueError(f"{path}: need at least two variable columns, got {header}")
    return header, values, time


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
