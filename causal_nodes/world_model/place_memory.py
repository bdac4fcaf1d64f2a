"""Online place memory: how people at a place, heading a given way, moved compared with their forecasts (numpy only).

The self-calibration (:mod:`.calibration`) learns one number per place, how much people keep their pace. What tells
scenes apart is finer: where people go *here* (a door on the left, a crossing that makes everyone turn, a bench
where they stop). A robot watching one place sees it for free, as it sees the damping: 4.8 s after a forecast it
has observed where the person went. :class:`PlaceMemory` keeps, per grid cell of the world frame (the frame of
``/people``, e.g. ``odom`` or ``map``) and heading bin, the running mean of the residual ``truth - forecast`` of
every forecast step that came true, expressed in the person's heading frame (x along the walking direction at
forecast time, y to its left; people slower than ``min_speed`` share one bin in world axes). A forecast made from a
cell then adds that mean residual shrunk by the evidence, ``n / (n + n0)`` per step, so with no memory it is exactly
the old forecast and a cell seen once moves it little.

Constant memory: at most ``max_cells`` cells (the least recently updated one is evicted), at most ``horizon``
pending forecasts per tracked person. ``half_life`` (scored steps, 0 = never forget) lets the memory follow a place
that changes. Prequential: only outcomes already observed are ever added, never the future of the forecast corrected.
"""
from __future__ import annotations

import contextlib
import glob
import os
import stat
import time
import uuid
import zipfile
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .calibration import PendingForecasts

Key = tuple[int, int, int, int]
"""A cell: (level, cell x, cell y, heading bin)."""

FILE_FORMAT = "causal_nodes.place_memory/1"
"""Version tag of a saved memory (:meth:`PlaceMemory.save`); another tag is refused."""
GEOMETRY = ("cell_size", "heading_bins", "min_speed", "speed_scaled", "levels")
"""Settings that give the cells their meaning: a saved memory loads only into a memory with the same ones."""
ARRAYS = ("meta", "keys", "sum", "count")
"""The arrays of a saved memory (members ``<name>.npy`` of the npz)."""
MAX_FILE_COUNT = 1e12
"""Outcomes per cell and step a loaded file may hold (a live memory never nears it)."""
MAX_FILE_MEAN = 1e9
"""m (or m per m/s): the largest mean residual per cell and step a loaded file may hold. Finite numbers beyond these
(a bit flip, a file made by hand) made the corrections overflow to inf, and so the published paths."""


STALE_TEMPORARY_S = 3600.0
"""A save's temporary file older than this was left by a process killed mid-write (a save takes well under a second)."""


def remove_stale_temporaries(path: Path, older_than_s: float = STALE_TEMPORARY_S) -> int:
    """Deletes ``path``'s temporary files (``.<name>.<hex>.tmp``, :meth:`PlaceMemory.save`) older than
    ``older_than_s``: a robot killed mid-save leaves one per crash, and a robot is killed often. Younger ones may be
    another writer's save in progress and are left. Returns how many were deleted."""
    removed, now = 0, time.time()
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):  # gone already (another writer's cleanup) or not ours to delete
            if now - tmp.lstat().st_mtime > older_than_s:
                tmp.unlink()
                removed += 1
    return removed


class PlaceMemoryFileError(ValueError):
    """A memory file that cannot be loaded (missing, oversized, corrupt, another version, frame or geometry)."""


@dataclass(frozen=True)
class PlaceMemoryConfig:
    """Every size and setting of a :class:`PlaceMemory` (the node's parameters). The defaults are the setting that
    erred least on all ETH/UCY val files pooled (``benchmarks/bench_place_memory.py``, 134 settings)."""

    cell_size: float = 0.5
    """m: edge of a grid cell of the world frame."""
    heading_bins: int = 8
    """Walking directions told apart per cell (equal sectors)."""
    min_speed: float = 0.2
    """m/s, > 0: slower people have no heading; they share one bin per cell, residuals in world axes (0 gave a person
    standing still a heading and a scale of 0/0: NaN in the cell, the corrections and the saved file)."""
    n0: float = 100.0
    """Shrinkage: a cell's mean residual is applied with weight n / (n + n0), n its scored outcomes at that step."""
    speed_scaled: bool = True
    """Store residuals per m/s of the person's speed (a slow and a fast walker share the shape of a turn)."""
    levels: int = 4
    """Resolutions: level j has cells of ``cell_size * 2**j``; a cell's mean shrinks towards the coarser cell's
    estimate instead of towards zero (the coarsest towards zero): a place seen rarely borrows from around it."""
    max_cells: int = 20000
    """Cells kept; beyond, the least recently updated is evicted."""
    half_life: float = 0.0
    """Scored steps after which an outcome weighs half (0: never forget)."""
    n0_slope: float = 0.0
    """Shrinkage per step: step k of H uses ``n0 * (H / k) ** n0_slope`` (0: the same n0 at every step; > 0: the
    early steps, where a place's mean residual is small against the tracker's noise, are shrunk more)."""
    gain: float = 1.0
    """The correction is multiplied by this (1: as estimated)."""

    def __post_init__(self) -> None:
        if not self.cell_size > 0 or self.heading_bins < 1 or not self.min_speed > 0 or self.n0 < 0 or self.levels < 1:
            raise ValueError(f"need cell_size > 0, heading_bins >= 1, min_speed > 0, n0 >= 0, levels >= 1: {self}")
        if not (np.isfinite(self.n0_slope) and abs(self.n0_slope) <= 4 and 0 <= self.gain <= 4):
            raise ValueError(f"need |n0_slope| <= 4 and 0 <= gain <= 4: {self}")
        if self.max_cells < 1 or self.half_life < 0:
            raise ValueError(f"need max_cells >= 1 and half_life >= 0 (0: never forget): {self}")


class PlaceMemory:
    """The memory of one place; see the module docstring.

    Two ways in, as :class:`.calibration.HorizonDamping`: :meth:`add_outcome` for forecasts whose outcome is known
    (offline evaluation, in time order), or :meth:`record` + :meth:`observe_many` for a stream (the node).
    """

    def __init__(self, horizon: int, dt: float, config: PlaceMemoryConfig | None = None) -> None:
        if horizon < 1 or dt <= 0:
            raise ValueError(f"horizon must be >= 1 and dt > 0, got {horizon}, {dt}")
        self.horizon = int(horizon)
        self.dt = float(dt)
        self.config = config if config is not None else PlaceMemoryConfig()
        c = self.config
        self._sum = np.zeros((c.max_cells, self.horizon, 2))
        self._count = np.zeros((c.max_cells, self.horizon))
        self._at = np.zeros(c.max_cells)  # self.points when the row was last decayed
        self._rows: OrderedDict[Key, int] = OrderedDict()  # cell key -> row, least recently updated first
        self._pending = PendingForecasts(self.horizon, self.dt)  # payload: (cells, heading axis + scale, path)
        self.points = 0
        """Scored forecast steps so far (the half-life's clock)."""
        self.corrections = 0
        """Forecasts that were corrected with some evidence (for diagnostics)."""
        self.frame_id = ""
        """The world frame of a loaded file's cells ('' if none was named)."""

    @property
    def cells(self) -> int:
        """Cells in use (at most ``config.max_cells``)."""
        return len(self._rows)

    # keys and frames ------------------------------------------------------------------------------------------
    def keys(self, origin: np.ndarray, velocity: np.ndarray) -> list[tuple[Key, ...]]:
        """Per person at ``origin`` (n, 2) walking at ``velocity`` (n, 2) the cells (level, cell x, cell y, heading
        bin), finest level first."""
        c = self.config
        speed = np.hypot(velocity[:, 0], velocity[:, 1])
        angle = np.arctan2(velocity[:, 1], velocity[:, 0])
        heading = np.floor((angle + np.pi) / (2 * np.pi) * c.heading_bins).astype(np.int64) % c.heading_bins
        heading = np.where(speed >= c.min_speed, heading, c.heading_bins).tolist()
        per_level = []
        for level in range(c.levels):
            cell = np.floor(np.asarray(origin, dtype=np.float64) / (c.cell_size * 2 ** level)).astype(np.int64)
            per_level.append([(level, x, y, h) for x, y, h in zip(cell[:, 0].tolist(), cell[:, 1].tolist(), heading,
                                                                    strict=True)])
        return list(zip(*per_level, strict=True))

    def _frames(self, velocity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per person the heading axes (n, 2) (world axes below ``min_speed``) and the residual scale (n,)."""
        speed = np.hypot(velocity[:, 0], velocity[:, 1])
        moving = speed >= self.config.min_speed
        axis = np.where(moving[:, None], velocity / np.where(moving, speed, 1.0)[:, None], [1.0, 0.0])
        scale = np.maximum(speed, self.config.min_speed) if self.config.speed_scaled else np.ones_like(speed)
        return axis, scale

    @staticmethod
    def _to_local(axis: np.ndarray, world: np.ndarray) -> np.ndarray:
        """World vectors (n, ..., 2) into each person's heading frame (x along ``axis``, y to its left)."""
        ax = axis.reshape(axis.shape[:1] + (1,) * (world.ndim - 2) + (2,))
        return np.stack([world[..., 0] * ax[..., 0] + world[..., 1] * ax[..., 1],
                         -world[..., 0] * ax[..., 1] + world[..., 1] * ax[..., 0]], axis=-1)

    @staticmethod
    def _to_world(axis: np.ndarray, local: np.ndarray) -> np.ndarray:
        ax = axis[:, None, :]
        return np.stack([local[..., 0] * ax[..., 0] - local[..., 1] * ax[..., 1],
                         local[..., 0] * ax[..., 1] + local[..., 1] * ax[..., 0]], axis=-1)

    def _decays(self, rows: np.ndarray) -> np.ndarray:
        """Factors by which rows' totals have decayed since they were last touched (1 without a half-life, and for
        rows < 0, which are unseen cells)."""
        if self.config.half_life <= 0:
            return np.ones(rows.shape)
        return np.where(rows >= 0, 0.5 ** ((self.points - self._at[rows]) / self.config.half_life), 1.0)

    # query ----------------------------------------------------------------------------------------------------
    def correction(self, origin: np.ndarray, velocity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World-frame offsets (n, H, 2) to add to forecasts made from ``origin`` at ``velocity``, and the evidence
        (n,): the decayed outcome count of the last step (0 where the memory knows nothing: offset exactly 0)."""
        origin = np.asarray(origin, dtype=np.float64).reshape(-1, 2)
        velocity = np.asarray(velocity, dtype=np.float64).reshape(-1, 2)
        n = len(origin)
        local = np.zeros((n, self.horizon, 2))
        evidence = np.zeros(n)
        finite = np.isfinite(origin).all(axis=1) & np.isfinite(velocity).all(axis=1)
        if not self._rows or not finite.any():
            return local, evidence
        index = np.flatnonzero(finite)
        rows = np.array([[self._rows.get(key, -1) for key in cells]
                         for cells in self.keys(origin[finite], velocity[finite])])  # (m, levels), -1: unseen
        decay = self._decays(rows)
        n0 = self.config.n0 * (self.horizon / np.arange(1, self.horizon + 1)) ** self.config.n0_slope  # (H,)
        estimate = np.zeros((len(index), self.horizon, 2))
        for level in reversed(range(rows.shape[1])):  # coarsest first: each finer cell's mean shrinks towards it
            row, known = rows[:, level], rows[:, level] >= 0
            count = np.where(known[:, None], self._count[row] * decay[:, level, None], 0.0)  # (m, H)
            total = np.where(known[:, None, None], self._sum[row] * decay[:, level, None, None], 0.0)
            seen = count > 0
            shrunk = (total + n0[:, None] * estimate) / np.where(seen, count + n0, 1.0)[..., None]
            estimate = np.where(seen[..., None], shrunk, estimate)
            evidence[index] = np.maximum(evidence[index], count[:, -1])
        local[index] = estimate * self.config.gain
        axis, scale = self._frames(np.where(finite[:, None], velocity, 0.0))
        return self._to_world(axis, local * scale[:, None, None]), evidence

    def apply(self, origin: np.ndarray, velocity: np.ndarray, path: np.ndarray) -> np.ndarray:
        """``path`` (n, H', 2), H' <= horizon, with the memory's offsets added (counts corrected forecasts)."""
        offset, evidence = self.correction(origin, velocity)
        self.corrections += int((evidence > 0).sum())
        return path + offset[:, :path.shape[1]]

    # learning -------------------------------------------------------------------------------------------------
    def _add(self, keys: Sequence[tuple[Key, ...]], residual: np.ndarray, scored: np.ndarray) -> None:
        """Adds forecasts' local residuals (m, H, 2) at their ``scored`` steps (m, H) to their cells ``keys`` (m,
        one per level). In chunks small enough that a cell created in a chunk is never evicted within it."""
        self.points += int(scored.sum())
        residual = np.where(scored[..., None], residual, 0.0)
        weight = scored.astype(np.float64)
        levels = self.config.levels
        chunk = max(1, self.config.max_cells // levels)
        for lo in range(0, len(keys), chunk):
            rows = np.array([self._row(key) for cells in keys[lo:lo + chunk] for key in cells])
            np.add.at(self._sum, rows, np.repeat(residual[lo:lo + chunk], levels, axis=0))
            np.add.at(self._count, rows, np.repeat(weight[lo:lo + chunk], levels, axis=0))

    def _row(self, key: Key) -> int:
        """The row of ``key``, decayed to now and marked most recently updated; created (evicting the least recently
        updated cell when full) if new."""
        row = self._rows.get(key)
        if row is None:
            if len(self._rows) >= self.config.max_cells:
                _, row = self._rows.popitem(last=False)
            else:
                row = len(self._rows)
            self._sum[row] = 0.0
            self._count[row] = 0.0
            self._rows[key] = row
        else:
            self._rows.move_to_end(key)
            if self.config.half_life > 0 and self._at[row] != self.points:
                decay = 0.5 ** ((self.points - self._at[row]) / self.config.half_life)
                self._sum[row] *= decay
                self._count[row] *= decay
        self._at[row] = self.points
        return row

    def add_outcome(self, origin: np.ndarray, velocity: np.ndarray, path: np.ndarray, truth: np.ndarray) -> None:
        """Forecasts ``path`` (n, H', 2) made from ``origin`` (n, 2) at ``velocity`` (n, 2) (the forecast *before*
        this memory's correction) and the positions that came true, ``truth`` (n, H', 2), NaN where unobserved."""
        origin = np.asarray(origin, dtype=np.float64).reshape(-1, 2)
        velocity = np.asarray(velocity, dtype=np.float64).reshape(-1, 2)
        h = min(path.shape[1], self.horizon)
        residual = np.asarray(truth, dtype=np.float64)[:, :h] - np.asarray(path, dtype=np.float64)[:, :h]
        ok = (np.isfinite(residual).all(axis=2) & np.isfinite(origin).all(axis=1)[:, None]
              & np.isfinite(velocity).all(axis=1)[:, None])
        if not ok.any():
            return
        axis, scale = self._frames(np.nan_to_num(velocity))
        local = self._to_local(axis, np.nan_to_num(residual)) / scale[:, None, None]
        keys = self.keys(np.nan_to_num(origin), np.nan_to_num(velocity))
        people = np.flatnonzero(ok.any(axis=1))
        scored = np.zeros((len(people), self.horizon), dtype=bool)
        scored[:, :h] = ok[people]
        padded = np.zeros((len(people), self.horizon, 2))
        padded[:, :h] = local[people]
        self._add([keys[i] for i in people.tolist()], padded, scored)

    def record(self, key: Hashable, stamp: float, origin: np.ndarray, velocity: np.ndarray, path: np.ndarray) -> None:
        """A forecast ``path`` (H', 2) (before this memory's correction) for person ``key`` at ``stamp``."""
        self.record_many([key], stamp, np.reshape(origin, (1, 2)), np.reshape(velocity, (1, 2)), np.asarray(path)[None])

    def record_many(self, keys: Sequence[Hashable], stamp: float, origins: np.ndarray, velocities: np.ndarray,
                    paths: np.ndarray) -> None:
        """Forecasts ``paths`` (n, H', 2) (before this memory's correction) made at ``stamp`` for people ``keys`` at
        ``origins`` (n, 2) walking at ``velocities`` (n, 2); at most ``horizon`` are pending per person. Non-finite
        forecasts are not kept."""
        origins = np.asarray(origins, dtype=np.float64).reshape(-1, 2)
        velocities = np.asarray(velocities, dtype=np.float64).reshape(-1, 2)
        paths = np.asarray(paths, dtype=np.float64)[:, :self.horizon]
        ok = (np.isfinite(origins).all(axis=1) & np.isfinite(velocities).all(axis=1)
              & np.isfinite(paths).all(axis=(1, 2)))
        if not ok.any():
            return
        axis, scale = self._frames(velocities[ok])
        frames = np.concatenate([axis, scale[:, None]], axis=1)
        cells = self.keys(origins[ok], velocities[ok])
        for j, i in enumerate(np.flatnonzero(ok).tolist()):
            self._pending.add(keys[i], stamp, (cells[j], frames[j], paths[i]), len(paths[i]))

    def observe_many(self, keys: Sequence[Hashable], stamp: float, positions: np.ndarray) -> None:
        """Everyone seen in one frame (``positions`` (n, 2)): scores the pending forecasts' step this time falls on."""
        positions = np.asarray(positions, dtype=np.float64)
        cells, steps, residuals = [], [], []
        for i, step, (cell, frame, path) in self._pending.due(keys, stamp):
            world = positions[i] - path[step]
            if np.isfinite(world).all():
                cells.append(cell)
                steps.append(step)
                residuals.append(np.array([world[0] * frame[0] + world[1] * frame[1],
                                           -world[0] * frame[1] + world[1] * frame[0]]) / frame[2])
        if steps:
            scored = np.zeros((len(steps), self.horizon), dtype=bool)
            scored[np.arange(len(steps)), steps] = True
            local = np.zeros((len(steps), self.horizon, 2))
            local[np.arange(len(steps)), steps] = residuals
            self._add(cells, local, scored)

    # persistence ----------------------------------------------------------------------------------------------
    def save(self, path: str | Path, frame_id: str = "") -> int:
        """Writes the cells (decayed to now; pending forecasts are not kept: their outcomes are still unknown) to
        ``path`` atomically (a temporary file renamed), tagged with :data:`FILE_FORMAT`, the geometry, horizon, dt
        and the world frame ``frame_id`` the cells are in. Returns the bytes written."""
        keys = list(self._rows)
        rows = np.array([self._rows[k] for k in keys], dtype=np.int64)
        decay = self._decays(rows) if len(rows) else np.ones(0)
        c = self.config
        meta = np.array([FILE_FORMAT, frame_id, repr(self.horizon), repr(self.dt)]
                        + [repr(getattr(c, name)) for name in GEOMETRY])
        # Through a symlink to the file it names (replacing the link would leave that file stale); a temporary name
        # of this write only, so two writers of one file (two nodes, a periodic save still running at shutdown)
        # never write into each other's temporary file; synced before the rename, so a power cut leaves the old
        # file or the new one, never a truncated one.
        path = Path(os.path.realpath(path))
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "xb") as f:
                np.savez(f, meta=meta, keys=np.array(keys, dtype=np.int64).reshape(-1, 4),
                         sum=self._sum[rows] * decay[:, None, None], count=self._count[rows] * decay[:, None])
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()  # a failed write (disk full, unwritable folder) leaves nothing behind
            raise
        remove_stale_temporaries(path)
        return path.stat().st_size

    def load(self, path: str | Path, frame_id: str = "", weight: float = 1.0, max_bytes: int = 64 << 20) -> int:
        """Replaces the cells by those saved in ``path`` (:meth:`save`), each outcome weighing ``weight`` (in
        (0, 1]: an earlier visit counts less than what is seen now, see docs/world_model.md, fifth pass). Refuses,
        with :class:`PlaceMemoryFileError` and the memory left empty, a file over ``max_bytes``, unreadable or
        corrupt, of another :data:`FILE_FORMAT`, horizon, dt, geometry (:data:`GEOMETRY`) or ``frame_id`` (when
        both name one), or holding non-finite or negative numbers. Beyond ``max_cells`` the cells seen most keep.
        Returns the cells loaded."""
        if not 0 < weight <= 1:
            raise ValueError(f"weight must be in (0, 1], got {weight}")
        self._clear()
        path = Path(path)
        try:
            status = path.stat()
        except OSError as exc:
            raise PlaceMemoryFileError(f"place memory file {path}: {exc.strerror or exc}") from exc
        if not stat.S_ISREG(status.st_mode):  # a folder, a FIFO (opening it would block the node), a device
            raise PlaceMemoryFileError(f"place memory file {path} is not a regular file")
        if status.st_size > max_bytes:
            raise PlaceMemoryFileError(f"place memory file {path} has {status.st_size} bytes, over the {max_bytes} "
                                       "allowed")
        try:
            claimed = _array_bytes(path)
            if claimed > max_bytes:
                raise PlaceMemoryFileError(f"place memory file {path} holds arrays of {claimed} bytes, over the "
                                           f"{max_bytes} allowed")
            with np.load(path, allow_pickle=False) as data:
                meta, keys, total, count = (data[k] for k in ARRAYS)
        except PlaceMemoryFileError:
            raise
        except Exception as exc:  # a corrupt zip/npy raises many types; all mean the same to the caller
            raise PlaceMemoryFileError(f"place memory file {path} is not a readable memory: {exc}") from exc
        expected = [FILE_FORMAT, None, repr(self.horizon), repr(self.dt)] + [repr(getattr(self.config, name))
                                                                            for name in GEOMETRY]
        meta = [str(m) for m in meta.tolist()] if meta.ndim == 1 else []
        if len(meta) != len(expected) or meta[0] != FILE_FORMAT:
            raise PlaceMemoryFileError(f"place memory file {path} is not {FILE_FORMAT}: {meta[:1]}")
        for name, want, got in zip(["format", "frame_id", "horizon", "dt", *GEOMETRY], expected, meta, strict=True):
            if want is not None and want != got:
                raise PlaceMemoryFileError(f"place memory file {path} has {name} {got}, this memory {want}")
        if frame_id and meta[1] and frame_id != meta[1]:
            raise PlaceMemoryFileError(f"place memory file {path} is in frame {meta[1]!r}, /people in {frame_id!r}")
        keys = self._checked_cells(path, keys, total, count)
        keep = np.argsort(count[:, -1] + count.sum(axis=1) * 1e-9, kind="stable")[-self.config.max_cells:]
        keep.sort()
        for row, i in enumerate(keep.tolist()):
            self._rows[tuple(keys[i].tolist())] = row
        m = len(keep)
        self.frame_id = meta[1]
        self._sum[:m] = total[keep]
        self._count[:m] = count[keep]
        self.discount(weight)
        return m

    def _checked_cells(self, path: Path, keys: np.ndarray, total: np.ndarray, count: np.ndarray) -> np.ndarray:
        """``keys`` as int64 (n, 4) if the cells are well-formed, else :class:`PlaceMemoryFileError`. The dtypes are
        checked first: a valid npz may hold strings, complex or unsigned numbers, 0-d arrays, and those made the
        checks below raise TypeError (the node died at start) or loaded keys no int64 holds (its next save died)."""
        c = self.config
        typed = (keys.ndim == 2 and keys.dtype.kind in "iu" and total.dtype.kind == "f" and count.dtype.kind == "f")
        n = keys.shape[0] if typed else -1
        well_formed = (typed and keys.shape == (n, 4) and total.shape == (n, self.horizon, 2)
                       and count.shape == (n, self.horizon) and np.isfinite(total).all() and np.isfinite(count).all()
                       and not (count < 0).any() and not (count > MAX_FILE_COUNT).any()
                       and not (np.abs(total) > MAX_FILE_MEAN * count[..., None]).any())
        if well_formed:  # in range of this geometry (a level or heading bin beyond it names no cell) and of int64
            level, heading = keys[:, 0], keys[:, 3]
            int64 = np.iinfo(np.int64)
            well_formed = bool((level >= 0).all() and (level < c.levels).all() and (heading >= 0).all()
                               and (heading <= c.heading_bins).all() and (keys >= int64.min).all()
                               and (keys <= int64.max).all())
        if well_formed:
            keys = keys.astype(np.int64)
            well_formed = len({tuple(k) for k in keys.tolist()}) == n
        if not well_formed:
            raise PlaceMemoryFileError(f"place memory file {path}: cells malformed (dtypes, shapes, non-finite, "
                                       "negative, out of range or repeated)")
        return keys

    @staticmethod
    def largest_file_bytes(max_cells: int, horizon: int) -> int:
        """An upper bound of the bytes of a file :meth:`save` writes for ``max_cells`` cells (keys, sums, counts and
        64 KiB for the tags and headers): a file-size limit below it refuses files this memory may write."""
        return int(max_cells) * 8 * (4 + 3 * int(horizon)) + (64 << 10)

    def discount(self, weight: float) -> None:
        """Every outcome so far weighs ``weight`` (in (0, 1]): the means stay, the evidence shrinks, so what is seen
        from now on soon outweighs an earlier visit (a loaded file, other recordings of the place)."""
        if not 0 < weight <= 1:
            raise ValueError(f"weight must be in (0, 1], got {weight}")
        self._sum *= weight
        self._count *= weight

    def _clear(self) -> None:
        self._rows.clear()
        self._sum[:] = 0.0
        self._count[:] = 0.0
        self._at[:] = 0.0
        self.points = 0

    def forget_except(self, keys: set) -> None:
        """Drop pending forecasts of people no longer tracked (bounded by the people in view)."""
        self._pending.forget_except(keys)


def _array_bytes(path: Path) -> int:
    """Bytes the arrays of the npz at ``path`` take once read, from their .npy headers, before any is read: the file
    size alone does not bound them (a compressed member, a header claiming more than the member holds). An array
    missing, of object dtype (pickles) or of an unknown .npy version raises ValueError."""
    total = 0
    with zipfile.ZipFile(path) as archive:
        for name in ARRAYS:
            with archive.open(f"{name}.npy") as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                else:
                    raise ValueError(f"{name}: .npy version {version} not read")
                if dtype.hasobject:
                    raise ValueError(f"{name}: object arrays (pickles) are not read")
                total += int(np.prod(shape, dtype=object)) * dtype.itemsize
    return total
