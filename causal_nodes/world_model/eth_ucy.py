"""Reading ETH/UCY pedestrian files and cutting them into fixed-length windows (numpy only).

Files are read by :func:`causal_nodes.eth_ucy.read_eth_ucy` (``frame_id ped_id x y`` in metres, 2.5 Hz).
Windows follow the Social-GAN protocol: ``obs + pred`` consecutive annotated frames,
stride one frame; a person is a *target* when present in every frame of the window.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from causal_nodes.eth_ucy import read_eth_ucy
from causal_nodes.world_model.track_filter import TrackNoise, TrackNoiseEstimator

SCENES = ("eth", "hotel", "univ", "zara1", "zara2")
DT = 0.4  # seconds between annotated frames (2.5 Hz)


@dataclass
class Window:
    """One window of a scene: positions ``(T, N, 2)`` world frame, NaN where absent."""

    positions: np.ndarray
    present: np.ndarray  # (T, N) bool
    source: str
    start_frame: float
    robot_pose: np.ndarray | None = None  # (T, 3) world [x, y, yaw] when the data has a real robot (sim)
    robot_action: np.ndarray | None = None  # (T, 2) [linear, angular] applied from t to t+1
    track_noise: TrackNoise | None = None  # the file's tracker noise when velocities are filtered (training)

    @property
    def targets(self) -> np.ndarray:
        """Indices of people present in every frame."""
        return np.flatnonzero(self.present.all(axis=0))


def windows_from_rows(rows: np.ndarray, length: int, source: str = "", stride: int = 1) -> Iterator[Window]:
    """Slide a window of ``length`` consecutive annotated frames over one file's rows."""
    frames = np.unique(rows[:, 0])
    if len(frames) < length:
        return
    by_frame: list[np.ndarray] = [rows[rows[:, 0] == f] for f in frames]
    for start in range(0, len(frames) - length + 1, stride):
        chunk = by_frame[start : start + length]
        ids = np.unique(np.concatenate([c[:, 1] for c in chunk]))
        col = {pid: j for j, pid in enumerate(ids)}
        pos = np.full((length, len(ids), 2), np.nan)
        for t, c in enumerate(chunk):
            for row in c:
                pos[t, col[row[1]]] = row[2:4]
        present = np.isfinite(pos[..., 0])
        yield Window(pos, present, source, float(frames[start]))


def scene_files(root: Path, scene: str, split: str) -> list[Path]:
    """Files of ``{root}/{scene}/{split}/*.txt`` with a clear error when the layout is missing."""
    if scene not in SCENES:
        raise ValueError(f"unknown scene {scene!r}; expected one of {SCENES}")
    folder = Path(root) / scene / split
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise ValueError(f"no *.txt files in {folder} (expected the ETH/UCY layout scene/split/*.txt)")
    return files


def load_windows(files: list[Path], length: int, stride: int = 1) -> list[Window]:
    """All windows of the given files."""
    out: list[Window] = []
    for f in files:
        out.extend(windows_from_rows(read_eth_ucy(f), length, source=Path(f).name, stride=stride))
    return out


def file_track_noise(path: Path, dt: float = DT) -> TrackNoise:
    """The tracker noise of a whole file (every track's second differences): for training on that file."""
    rows = read_eth_ucy(path)
    estimator = TrackNoiseEstimator(dt)
    frames = np.unique(rows[:, 0])
    index = {f: i for i, f in enumerate(frames)}
    for pid in np.unique(rows[:, 1]):
        track = rows[rows[:, 1] == pid]
        track = track[np.argsort(track[:, 0])]
        at = np.array([index[f] for f in track[:, 0]])
        positions = np.full((at[-1] - at[0] + 1, 2), np.nan)  # a missing frame splits the track
        positions[at - at[0]] = track[:, 2:4]
        estimator.add_track(positions)
    return estimator.estimate()
