"""The :class:`PlanarScene` at a given time from odometry and people detections (ROS-free; the node feeds it).

The kinematic effect model starts where the robot and the person were at the newest sample of the variable
window, so the scene is looked up at that sample's stamp (odometry and detections can run ahead of the variable
grid). The person is the one nearest to the robot (as the pipeline's ``person: nearest`` picks it); its velocity is
the displacement of its track over the last ``velocity_window_s`` (at least two detections) divided by the time
between their stamps: one message apart, detection jitter would dominate. Stamps, not arrival times, are used, so a
replayed bag gives the same scene. Odometry and detections must be in the same fixed frame (``odom``), as the
simulator and the variables node assume.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence

import numpy as np

from causal_nodes.variables.tracking import NearestNeighbourTracker

from .kinematics import PlanarScene


class SceneTracker:
    def __init__(
        self, gate_m: float = 1.0, timeout_s: float = 1.0, velocity_window_s: float = 0.3, history_s: float = 2.0
    ) -> None:
        if velocity_window_s <= 0 or history_s <= velocity_window_s:
            raise ValueError(f"need 0 < velocity_window_s < history_s, got {velocity_window_s}, {history_s}")
        self._tracker = NearestNeighbourTracker(gate_m, timeout_s)
        self._velocity_window = velocity_window_s
        self._history = history_s
        self._odom: deque[tuple[float, tuple[float, float, float]]] = deque()
        self._people: deque[tuple[float, dict[int, np.ndarray]]] = deque()  # (stamp, {track id: position})

    def update_odometry(self, stamp: float, x: float, y: float, yaw: float) -> None:
        values = (float(x), float(y), float(yaw))
        if not all(math.isfinite(v) for v in (stamp, *values)):
            raise ValueError(f"odometry stamp and pose must be finite, got {stamp}, {values}")
        self._append(self._odom, float(stamp), values)

    def update_people(self, stamp: float, positions_xy: Sequence[Sequence[float]]) -> None:
        xy = np.asarray(positions_xy, dtype=float).reshape(-1, 2)
        if not (np.isfinite(xy).all() and math.isfinite(stamp)):
            raise ValueError("people stamp and positions must be finite")
        tracks = {k: v.copy() for k, v in self._tracker.update(float(stamp), xy).items()}
        self._append(self._people, float(stamp), tracks)

    def scene(self, dt: float, at: float | None = None) -> PlanarScene | None:
        """The scene at stamp ``at`` (newest messages at or before it; None = the newest), or None before
        odometry and a person are seen. ``dt`` is the variable grid period."""
        pose = _latest(self._odom, at)
        people = _latest(self._people, at)
        if pose is None or people is None or not people[1]:
            return None
        stamp, tracks = people
        robot = np.array(pose[1][:2])
        track_id = min(tracks, key=lambda k: float(np.hypot(*(tracks[k] - robot))))
        return PlanarScene(pose[1], tuple(tracks[track_id]), tuple(self._velocity(track_id, stamp)), dt)

    def _velocity(self, track_id: int, stamp: float) -> np.ndarray:
        """Displacement from the newest detection at least a velocity window older (else the oldest kept one),
        per second of stamp difference; zero with a single detection."""
        samples = [(s, tracks[track_id]) for s, tracks in self._people if s <= stamp and track_id in tracks]
        if len(samples) < 2:
            return np.zeros(2)
        now_s, now_p = samples[-1]
        older = [x for x in samples[:-1] if now_s - x[0] >= self._velocity_window]
        then_s, then_p = older[-1] if older else samples[0]
        return (now_p - then_p) / (now_s - then_s) if now_s > then_s else np.zeros(2)

    def _append(self, buffer: deque, stamp: float, value: object) -> None:
        if buffer and stamp < buffer[-1][0]:
            buffer.clear()  # time jumped back (a looping bag): start over
        buffer.append((stamp, value))
        while buffer and buffer[0][0] < stamp - self._history:
            buffer.popleft()


def _latest(buffer: deque, at: float | None) -> tuple | None:
    if not buffer:
        return None
    if at is None:
        return buffer[-1]
    index = bisect.bisect_right([s for s, _ in buffer], at) - 1
    return buffer[index] if index >= 0 else None
