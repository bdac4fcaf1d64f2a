"""TF for the nodes: publishing transforms on ``/tf`` / ``/tf_static``, and looking them up.

Lookups use ``tf2_ros`` where it is importable (a robot with ROS from apt). Where it is not (the PyPI wheels have
no ``tf2_ros``), :class:`FrameLookup` falls back to :class:`causal_nodes.variables.frames.TransformTree`, filled
from ``/tf`` and ``/tf_static`` (``tf2_msgs/TFMessage``, when that package is installed) and from odometry,
whose header states ``odom -> base_link`` itself. That covers the frames the pipeline needs: the world frame,
the robot's frame, and any sensor frame published on ``/tf_static``. The fallback does not extrapolate: a lookup
more than ``tolerance_s`` past the newest transform fails, as tf2's does.

Publishing needs ``tf2_msgs``; without it :class:`TfPublisher` stays silent and says so once.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from geometry_msgs.msg import TransformStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from causal_nodes.nodes.common import to_time_msg
from causal_nodes.variables.frames import Transform, TransformTree
from causal_nodes.variables.msg_adapters import stamp_seconds

try:
    from tf2_msgs.msg import TFMessage
except ImportError:  # no tf2_msgs for this Python: no /tf
    TFMessage = None

# tf2's own choices: dynamic transforms reliable with a deep queue, static ones latched.
TF_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE)
TF_STATIC_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)
# A subscriber to /tf must take best-effort publishers too.
TF_LISTEN_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)


def to_msg(transform: Transform) -> TransformStamped:
    msg = TransformStamped()
    msg.header.stamp = to_time_msg(transform.stamp)
    msg.header.frame_id = transform.parent
    msg.child_frame_id = transform.child
    t, q = msg.transform.translation, msg.transform.rotation
    t.x, t.y, t.z = (float(v) for v in transform.translation)
    q.x, q.y, q.z, q.w = (float(v) for v in transform.rotation)
    return msg


def from_msg(msg: Any) -> Transform:
    """A ``geometry_msgs/TransformStamped`` (rclpy or rosbags) as a :class:`Transform`."""
    t, q = msg.transform.translation, msg.transform.rotation
    return Transform(msg.header.frame_id.lstrip("/"), msg.child_frame_id.lstrip("/"), (t.x, t.y, t.z),
                     (q.x, q.y, q.z, q.w), stamp_seconds(msg.header.stamp))


def tf_message(transforms: Iterable[Transform]) -> Any:
    return TFMessage(transforms=[to_msg(t) for t in transforms])


class TfPublisher:
    """Publishes transforms on ``/tf`` and (latched, the whole set each time) ``/tf_static``.

    The names are absolute, as tf2 expects; the launch files remap them to ``tf`` / ``tf_static`` so that a robot
    in a namespace has its own tree.
    """

    def __init__(self, node: Node) -> None:
        self.available = TFMessage is not None
        self._static: dict[str, Transform] = {}
        if not self.available:
            node.get_logger().warning("tf2_msgs is not installed for this Python: no /tf, /tf_static published")
            return
        self._tf = node.create_publisher(TFMessage, "/tf", TF_QOS)
        self._tf_static = node.create_publisher(TFMessage, "/tf_static", TF_STATIC_QOS)

    def publish(self, transforms: Iterable[Transform]) -> None:
        if self.available:
            self._tf.publish(tf_message(transforms))

    def publish_static(self, transforms: Iterable[Transform]) -> None:
        if self.available:
            self._static.update({t.child: t for t in transforms})
            self._tf_static.publish(tf_message(self._static.values()))


class FrameLookup:
    """Transforms between frames for a node: ``tf2_ros`` when importable, else the built-in tree (module doc)."""

    def __init__(self, node: Node, cache_s: float = 10.0, tolerance_s: float = 0.5, max_frames: int = 1000) -> None:
        self.tree = TransformTree(cache_s=cache_s, tolerance_s=tolerance_s, max_frames=max_frames)
        self._buffer = None
        try:
            import rclpy.duration
            from tf2_ros.buffer import Buffer
            from tf2_ros.transform_listener import TransformListener

            self._buffer = Buffer(cache_time=rclpy.duration.Duration(seconds=cache_s), node=node)
            self._listener = TransformListener(self._buffer, node, spin_thread=False)
            self.backend = "tf2_ros"
        except ImportError:
            self.backend = "builtin" if TFMessage is not None else "odometry only"
            if TFMessage is not None:
                node.create_subscription(TFMessage, "/tf", lambda m: self._on_tf(m, False), TF_LISTEN_QOS)
                node.create_subscription(TFMessage, "/tf_static", lambda m: self._on_tf(m, True), TF_STATIC_QOS)
        self.bad_transforms = 0

    def _on_tf(self, msg: Any, static: bool) -> None:
        for transform in msg.transforms:
            try:
                self.tree.set_transform(from_msg(transform), static=static)
            except ValueError:
                self.bad_transforms += 1

    def add_odometry(self, msg: Any) -> None:
        """``header.frame_id -> child_frame_id`` from an odometry message (the built-in tree's robot frame)."""
        frame, child = msg.header.frame_id.lstrip("/"), msg.child_frame_id.lstrip("/")
        if not frame or not child or frame == child:
            return
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        try:
            self.tree.set_transform(Transform(frame, child, (p.x, p.y, p.z), (q.x, q.y, q.z, q.w),
                                    stamp_seconds(msg.header.stamp)))
        except ValueError:
            self.bad_transforms += 1

    def counters(self) -> dict[str, int]:
        """The built-in tree's size and what its ``max_frames`` bound refused or evicted (for /diagnostics)."""
        return {"tf_frames": self.tree.size, "dropped_tf_beyond_max_frames": self.tree.dropped_beyond_max_frames,
                "tf_frames_evicted": self.tree.evicted_frames, "bad_transforms": self.bad_transforms}

    def lookup(self, target: str, source: str, stamp: float) -> Transform:
        """Pose of ``source`` in ``target`` at ``stamp`` [s]; LookupError naming what is missing."""
        if self._buffer is not None:
            from rclpy.time import Time

            try:
                msg = self._buffer.lookup_transform(target, source, Time(nanoseconds=int(stamp * 1e9)))
                return from_msg(msg)
            except Exception as error:  # tf2's Lookup/Connectivity/Extrapolation exceptions
                try:
                    return self.tree.lookup(target, source, stamp)  # odometry's own frames
                except LookupError:
                    raise LookupError(str(error)) from None
        return self.tree.lookup(target, source, stamp)
