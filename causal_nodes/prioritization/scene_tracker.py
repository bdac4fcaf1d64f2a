"""The current :class:`PlanarScene` from odometry and people detections (ROS-free; the prioritizer node feeds it).

The kinematic effect model starts from where the robot and the person are *now*. The person is the one nearest to
the robot (as the pipeline's ``person: nearest`` picks it); its velocity is the finite difference of its tracked
position between the last two detection messages (stamps, not arrival times, so a replayed bag gives the same
scene). Odometry and detections must be in the same fixed frame (``odom``), as the simulator and the variables
node assume.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from causal_nodes.core.tracking import NearestNeighbourTracker

from .kinematics import PlanarScene


class SceneTracker:
    def __init__(self, gate_m: float = 1.0, timeout_s: float = 1.0) -> None:
        self._tracker = NearestNeighbourTracker(gate_m, timeout_s)
        self._pose: Optional[tuple[float, float, float]] = None
        self._tracks: dict[int, tuple[float, np.ndarray]] = {}  # id -> (stamp, position) of the last message
        self._velocity: dict[int, np.ndarray] = {}

    def update_odometry(self, x: float, y: float, yaw: float) -> None:
        values = (float(x), float(y), float(yaw))
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"odometry pose must be finite, got {values}")
        self._pose = values

    def update_people(self, stamp: float, positions_xy: Sequence[Sequence[float]]) -> None:
        xy = np.asarray(positions_xy, dtype=float).reshape(-1, 2)
        if not np.isfinite(xy).all():
            raise ValueError("people positions must be finite")
        assigned = self._tracker.update(float(stamp), xy)
        tracks: dict[int, tuple[float, np.ndarray]] = {}
        for track_id, position in assigned.items():
            previous = self._tracks.get(track_id)
            if previous is not None and stamp > previous[0]:
                self._velocity[track_id] = (position - previous[1]) / (stamp - previous[0])
            tracks[track_id] = (float(stamp), position.copy())
        self._velocity = {k: v for k, v in self._velocity.items() if k in tracks}
        self._tracks = tracks

    def scene(self, dt: float) -> Optional[PlanarScene]:
        """The scene now (None before odometry and a person are seen); ``dt`` is the variable grid period."""
        if self._pose is None or not self._tracks:
            return None
        robot = np.array(self._pose[:2])
        track_id = min(self._tracks, key=lambda k: float(np.hypot(*(self._tracks[k][1] - robot))))
        velocity = self._velocity.get(track_id, np.zeros(2))
        return PlanarScene(self._pose, tuple(self._tracks[track_id][1]), tuple(velocity), dt)
