"""The ETH/UCY pedestrian trajectory format, read once for every user (bag conversion, world-model data).

Format (ETH/BIWI and UCY as distributed with Social-STGCNN/Trajectron++, see the shared datasets README):
whitespace-separated rows ``frame_id ped_id x y`` (x, y in metres in the scene's world frame); frame ids step by 10
per 0.4 s (2.5 Hz).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

SECONDS_PER_FRAME_ID = 0.04
"""Seconds per frame-id unit: ids step by 10 per 0.4 s."""


def read_eth_ucy(path: str | Path) -> np.ndarray:
    """Rows ``(frame_id, ped_id, x, y)`` as a float array (n, 4); ValueError naming file and line on bad input
    (wrong field count, non-numeric or non-finite value, non-integer ids, no rows, a pedestrian twice in a frame)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"ETH/UCY file not found: {path}")
    rows: list[list[float]] = []
    with path.open("r", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            fields = text.split()
            if len(fields) != 4:
                raise ValueError(
                    f"{path}:{number}: expected 4 fields 'frame_id ped_id x y', got {len(fields)}: {text!r}")
            try:
                values = [float(v) for v in fields]
            except ValueError:
                raise ValueError(f"{path}:{number}: non-numeric field in {text!r}") from None
            if not all(math.isfinite(v) for v in values):
                raise ValueError(f"{path}:{number}: non-finite value in {text!r}")
            if values[0] != round(values[0]) or values[1] != round(values[1]):
                raise ValueError(f"{path}:{number}: frame_id and ped_id must be integers, got {text!r}")
            rows.append(values)
    if not rows:
        raise ValueError(f"ETH/UCY file {path} holds no rows")
    table = np.asarray(rows, dtype=float)
    keys = table[:, 0] * 1e9 + table[:, 1]
    if len(np.unique(keys)) != len(keys):
        raise ValueError(f"{path}: some pedestrian appears twice in the same frame")
    return table
