"""Walks TF trees seen on the graph: does every frame RViz is asked to draw in reach the fixed frame?

Independent of :class:`causal_nodes.variables.frames.TransformTree` on purpose: a test of the published transforms
should not lean on the code that consumes them. Used by the in-process TF test and the launch-file tests.
"""
from __future__ import annotations

import yaml
from geometry_msgs.msg import PoseArray
from nav_msgs.msg import Path as PathMsg
from rclpy.qos import QoSProfile, ReliabilityPolicy
from repo_paths import REPO_ROOT
from sensor_msgs.msg import LaserScan
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from causal_nodes.nodes.common import LATCHED_QOS, SENSOR_QOS
from causal_nodes.nodes.tf import TF_STATIC_QOS

FIXED_FRAME = yaml.safe_load((REPO_ROOT / "rviz" / "causal_nodes.rviz").read_text())[
    "Visualization Manager"]["Global Options"]["Fixed Frame"]
DRAWN = {
    "/causal/graph_markers": (MarkerArray, LATCHED_QOS),
    "/causal/intervention_markers": (MarkerArray, LATCHED_QOS),
    "/world_model/markers": (MarkerArray, SENSOR_QOS),
    "/world_model/paths/p0": (PathMsg, SENSOR_QOS),
    "/scan": (LaserScan, SENSOR_QOS),
    "/people": (PoseArray, SENSOR_QOS),
}


class FrameCollector:
    """The TF edges seen (child -> parent) and the frame_ids of everything RViz draws."""

    def __init__(self, ros, name: str, namespace: str = "", drawn: tuple[str, ...] = tuple(DRAWN)) -> None:
        self.parents: dict[str, str] = {}
        self.drawn: dict[str, set[str]] = {topic: set() for topic in drawn}
        ns = "/" + namespace.strip("/") if namespace.strip("/") else ""
        node = ros.node(name)
        node.create_subscription(TFMessage, f"{ns}/tf", self._on_tf, QoSProfile(
            depth=100, reliability=ReliabilityPolicy.BEST_EFFORT))
        node.create_subscription(TFMessage, f"{ns}/tf_static", self._on_tf, TF_STATIC_QOS)
        for topic in drawn:
            cls, qos = DRAWN[topic]
            node.create_subscription(cls, ns + topic, lambda m, t=topic: self._on_drawn(t, m), qos)

    def _on_tf(self, msg: TFMessage) -> None:
        for t in msg.transforms:
            self.parents[t.child_frame_id] = t.header.frame_id

    def _on_drawn(self, topic: str, msg) -> None:
        items = msg.markers if isinstance(msg, MarkerArray) else [msg]
        self.drawn[topic].update(m.header.frame_id for m in items if m.header.frame_id)

    def resolves(self, frame: str) -> bool:
        """Walk from ``frame`` up the tree until the fixed frame (True) or a root that is not it (False)."""
        seen = set()
        while frame != FIXED_FRAME:
            if frame in seen or frame not in self.parents:
                return False
            seen.add(frame)
            frame = self.parents[frame]
        return True

    def complete(self) -> bool:
        return all(self.drawn.values()) and all(self.resolves(f) for fs in self.drawn.values() for f in fs)

    def unresolved(self) -> dict[str, list[str]]:
        return {t: sorted(f for f in fs if not self.resolves(f)) or ("nothing received" if not fs else [])
                for t, fs in self.drawn.items() if not fs or any(not self.resolves(f) for f in fs)}


