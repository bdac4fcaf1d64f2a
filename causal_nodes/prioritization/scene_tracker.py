"""The :class:`PlanarScene` at a given time, from odometry and the variable frames' subject (ROS-free).

The kinematic effect model starts where the robot and the person were at the newest sample of the graph's window,
so the scene is looked up at that sample's stamp (odometry can run ahead of the variable grid). The person is the
*subject* of the variable frames, the one the variables node chose (``person: nearest`` or a track id) and whose
position it sends with every frame: the prioritizer never chooses a person of its own, so its model describes the
same person as the variables the graph was discovered on. The person's velocity is the displacement of the same
subject over the last ``velocity_window_s`` (at least two frames) divided by the time between their stamps: one
frame apart, detection jitter would dominate. Stamps, not arrival times, are used, so a replayed bag gives the same
scene. Odometry and frames must be in the same fixed frame (``odom``), as the simulator and the variables node
assume.
"""

from __future__ import annotations

import bisect
import math
from collections import deque

import numpy as np

from .kinematics import PlanarScene


class SceneTracker:
    def __init__(self, velocity_window_s: float = 0.3, history_s: float = 2.0) -> None:
        if velocity_window_s <= 0 or history_s <= velocity_window_s:
            raise ValueError(f"need 0 < velocity_window_s < history_s, got {velocity_window_s}, {history_s}")
        self._velocity_window = velocity_window_s
        self._history = history_s
        self._odom: deque[tuple[float, tuple[float, float, float]]] = deque()
        self._subject: deque[tuple[float, tuple[str, np.ndarray] | None]] = deque()  # (stamp, (id, xy) or None)

    def update_odometry(self, stamp: float, x: float, y: float, yaw: float) -> None:
        values = (float(x), float(y), float(yaw))
        if not all(math.isfinite(v) for v in (stamp, *values)):
            raise ValueError(f"odometry stamp and pose must be finite, got {stamp}, {values}")
        self._append(self._odom, float(stamp), values)

    def update_subject(self, stamp: float, subject_id: str, xy: tuple[float, float] | None) -> None:
        """The subject of the frame at ``stamp``: ``subject_id`` "" or ``xy`` None/NaN = no person at that time."""
        if not math.isfinite(stamp):
            raise ValueError(f"frame stamp must be finite, got {stamp}")
        position = None if xy is None else np.asarray(xy, dtype=float).reshape(2)
        known = bool(subject_id) and position is not None and bool(np.isfinite(position).all())
        self._append(self._subject, float(stamp), (subject_id, position) if known else None)

    def scene(self, dt: float, at: float | None = None) -> PlanarScene | None:
        """The scene at stamp ``at`` (newest data at or before it; None = the newest), or None before odometry
        and a subject are seen. ``dt`` is the variable grid period."""
        pose = _latest(self._odom, at)
        subject = _latest(self._subject, at)
        if pose is None or subject is None or subject[1] is None:
            return None
        stamp, (subject_id, xy) = subject
        return PlanarScene(pose[1], tuple(xy), tuple(self._velocity(subject_id, stamp)), dt)

    def _velocity(self, subject_id: str, stamp: float) -> np.ndarray:
        """Displacement from the newest sample of the same subject at least a velocity window older (else the
        oldest kept one), per second of stamp difference; zero with a single sample."""
        samples = [(s, v[1]) for s, v in self._subject if s <= stamp and v is not None and v[0] == subject_id]
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
