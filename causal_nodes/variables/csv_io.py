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

    Empty cells and ``nan`` read as NaN (a missing value, e.g. from ``bag2csv``); inf is an error. Blank lines
    are skipped (see :func:`read_datasets_csv` to read them as dataset separators).
    """
    names, values, time, _ = read_datasets_csv(path)
    return names, values, time


def read_datasets_csv(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray | None, np.ndarray]:
    """Like :func:`read_variables_csv`, plus a dataset label per row: blank lines separate datasets (tigramite's
    multiple-datasets mode: episodes, people, years). The time column then increases within each dataset."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open(newline="") as handle:
        raw = list(csv.reader(handle))
    rows: list[tuple[int, list[str], int]] = []  # (line number, cells, dataset)
    dataset = 0
    for line, row in enumerate(raw, start=1):
        if row and any(cell.strip() for cell in row):
            rows.append((line, row, dataset))
        elif rows and len(rows) > 1 and rows[-1][2] == dataset:  # a blank line after data starts a new dataset
            dataset += 1
    if not rows:
        raise ValueError(f"{path}: empty file (expected a header of variable names)")
    header = [cell.strip() for cell in rows[0][1]]
    if any(not name for name in header):
        raise ValueError(f"{path}: line {rows[0][0]}: empty column name in header {header}")
    if len(set(header)) != len(header):
        raise ValueError(f"{path}: line {rows[0][0]}: duplicate column names in header {header}")
    body = rows[1:]
    values = np.empty((len(body), len(header)))
    for k, (line, row, _) in enumerate(body):
        if len(row) != len(header):
            raise ValueError(f"{path}: line {line}: {len(row)} fields, header has {len(header)}")
        for column, cell in enumerate(row):
            try:
                values[k, column] = float(cell) if cell.strip() else float("nan")
            except ValueError:
                raise ValueError(f"{path}: line {line}, column {header[column]!r}: not a number: {cell!r}") from None
    labels = np.array([d for _, _, d in body], dtype=np.int64)
    labels -= labels[0] if len(labels) else 0
    lines = [line for line, _, _ in body]
    if np.isinf(values).any():
        k, column = (int(v) for v in np.argwhere(np.isinf(values))[0])
        raise ValueError(f"{path}: line {lines[k]}, column {header[column]!r}: inf is not allowed")
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
