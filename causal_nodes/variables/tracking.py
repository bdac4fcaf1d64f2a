"""Keeps person identities across ``PoseArray`` messages, which carry positions but no ids.

Greedy nearest-neighbour association with a distance gate: at pedestrian speeds (< 2 m/s) and sensor rates
(>= 2.5 Hz) a person moves less than the gate between messages, so the closest unclaimed track is the same
person. Tracks unseen for ``timeout_s`` end; an unmatched pose starts a new track with a fresh id.
"""
from __future__ import annotations

import itertools

import numpy as np


class NearestNeighbourTracker:
    def __init__(self, gate_m: float = 1.0, timeout_s: float = 1.0) -> None:
        if gate_m <= 0 or timeout_s <= 0:
            raise ValueError(f"gate_m and timeout_s must be > 0, got {gate_m}, {timeout_s}")
        self.gate_m = gate_m
        self.timeout_s = timeout_s
        self._ids = itertools.count()
        self._position: dict[int, np.ndarray] = {}
        self._last_seen: dict[int, float] = {}

    def reset(self) -> None:
        self._position.clear()
        self._last_seen.clear()

    def is_alive(self, track_id: int, now: float) -> bool:
        seen = self._last_seen.get(track_id)
        return seen is not None and now - seen <= self.timeout_s

    def update(self, stamp: float, positions_xy: np.ndarray) -> dict[int, np.ndarray]:
        """Assigns each row of ``positions_xy`` to a track; returns {track id: position} for this message."""
        return self._associate(stamp, positions_xy)[0]

    def assign(self, stamp: float, positions_xy: np.ndarray) -> list[int]:
        """The track id of each row of ``positions_xy`` (the association of :meth:`update`), in row order."""
        return self._associate(stamp, positions_xy)[1]

    def _associate(self, stamp: float, positions_xy: np.ndarray) -> tuple[dict[int, np.ndarray], list[int]]:
        for track_id in [t for t in self._position if not self.is_alive(t, stamp)]:
            del self._position[track_id]
            del self._last_seen[track_id]
        assigned: dict[int, np.ndarray] = {}
        row_ids = [-1] * len(positions_xy)
        if len(positions_xy) == 0:
            return assigned, row_ids
        track_ids = list(self._position)
        unclaimed_rows = set(range(len(positions_xy)))
        if track_ids:
            known = np.stack([self._position[t] for t in track_ids])
            distances = np.linalg.norm(known[:, None, :] - positions_xy[None, :, :], axis=2)
            for flat in np.argsort(distances, axis=None):
                ti, row = map(int, np.unravel_index(flat, distances.shape))
                if distances[ti, row] > self.gate_m:
                    break
                track_id = track_ids[ti]
                if track_id in assigned or row not in unclaimed_rows:
                    continue
                assigned[track_id] = positions_xy[row]
                row_ids[row] = track_id
                unclaimed_rows.discard(row)
        for row in sorted(unclaimed_rows):
            row_ids[row] = next(self._ids)
            assigned[row_ids[row]] = positions_xy[row]
        for track_id, position in assigned.items():
            self._position[track_id] = np.array(position, dtype=np.float64)
            self._last_seen[track_id] = stamp
        return assigned, row_ids
