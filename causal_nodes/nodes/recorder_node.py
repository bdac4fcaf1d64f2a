"""Recorder node: records topics of the live graph into a rosbag2 bag (MCAP or SQLite3) that ``ros2 bag`` can play.

Topics and their types are discovered from the graph (every ``discovery_period`` seconds, so publishers that start
later are picked up); each is subscribed raw (serialized bytes, no decoding) and written with its ``ros2msg``
definition, the publishers' RIHS01 type hash and their offered QoS profiles — what ``ros2 bag play`` needs.

Subscription QoS follows the publishers: best effort if any publisher is best effort (a reliable reader would not
match it), transient local if all publishers are (to receive latched graphs), keep last 100 otherwise.
Message times are receive times on the node clock (system time, or /clock with ``use_sim_time``), as rosbag2 does.

All file handling is in :mod:`causal_nodes.bags` (atomic write: the bag appears only when recording ends).
"""
from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from causal_nodes.bags.errors import BagError
from causal_nodes.bags.qos_convert import qos_from_profile
from causal_nodes.bags.stop_signals import StopOnSignals
from causal_nodes.bags.typestore import default_typestore, installed_first_typestore, normalize_type_name, type_name_of
from causal_nodes.bags.writer import STORAGES, BagWriter
from causal_nodes.nodes.bag_session import bag_context, run_bag_node
from causal_nodes.nodes.common import declare

#: Recorded only when asked for by name: ROS-internal chatter that no replay consumer needs.
EXCLUDED_BY_DEFAULT = frozenset({"/rosout", "/parameter_events"})
RECORD_DEPTH = 1000


def message_class(msgtype: str) -> Any:
    """The rclpy message class of ``pkg/msg/Name``; BagError naming the type when its package is not installed."""
    pkg, sub, name = normalize_type_name(msgtype).split("/")
    try:
        return getattr(importlib.import_module(f"{pkg}.{sub}"), name)
    except (ImportError, AttributeError):
        raise BagError(f"message type {msgtype!r} is not installed for Python (no module {pkg}.{sub} with {name}); "
                       "source its workspace first") from None


@dataclass
class RecordSummary:
    """What a recording produced."""

    bag: str
    counts: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def message_count(self) -> int:
        return sum(self.counts.values())


class RecorderNode(Node):
    """Records ``topics`` (all but ROS-internal ones when empty) into ``bag``; call :meth:`finish` to close it."""

    def __init__(self, bag: str | None = None, topics: Sequence[str] | None = None,
                 storage: str | None = None, **kwargs: Any) -> None:
        super().__init__("recorder_node", **kwargs)
        default_bag = datetime.now().strftime("causal_bag_%Y%m%d_%H%M%S")
        self.bag_path = bag if bag is not None else declare(
            self, "bag", default_bag, "Output bag folder (must not exist; written atomically on stop)") or default_bag
        requested = list(topics) if topics is not None else [
            t for t in declare(self, "topics", [""], "Topics to record ([''] = every topic of the graph)") if t]
        self.storage = storage if storage is not None else declare(
            self, "storage", "mcap", "Bag storage format", choices=sorted(STORAGES))
        period = declare(self, "discovery_period", 0.2, "How often to look for new topics [s]",
                         float_range=(0.05, 60.0))
        self.requested = {t if t.startswith("/") else "/" + t for t in requested}  # graph names are absolute
        self.skipped: dict[str, str] = {}
        self.fatal: BagError | None = None
        self._raw_subscriptions: dict[str, Any] = {}
        try:
            # definitions of the ROS install that is running (its .msg files) first, Kilted's for the rest
            self.writer = BagWriter(self.bag_path, storage=self.storage, typestore=installed_first_typestore(),
                                    fallback_typestore=default_typestore())
        except BaseException:
            self.destroy_node()  # a node that failed to start must not linger in the context
            raise
        self.discover()
        self._timer = self.create_timer(period, self.discover)

    # -- discovery ---------------------------------------------------------------------------------------------------
    def _wanted(self, topic: str) -> bool:
        if self.requested:
            return topic in self.requested
        return topic not in EXCLUDED_BY_DEFAULT

    def discover(self) -> None:
        """Subscribe to every wanted topic that has appeared (and has a publisher) since the last call."""
        for topic, types in self.get_topic_names_and_types():
            if topic in self._raw_subscriptions or topic in self.skipped or not self._wanted(topic):
                continue
            publishers = self.get_publishers_info_by_topic(topic)
            if not publishers:
                continue  # only subscribers so far: nothing to record, look again later
            try:
                self._subscribe(topic, types, publishers)
            except BagError as error:
                if topic in self.requested:
                    self.fatal = error
                    self.get_logger().error(str(error))
                else:
                    self.skipped[topic] = str(error)
                    self.get_logger().warning(f"not recording {topic}: {error}")

    def _subscribe(self, topic: str, types: list[str], publishers: list[Any]) -> None:
        if len(types) != 1:
            raise BagError(f"topic {topic!r} has several types {types}; cannot record it into one connection")
        msgtype = types[0]
        cls = message_class(msgtype)
        offered = [qos_from_profile(p.qos_profile) for p in publishers]
        # type hashes exist from Iron on; Humble's endpoint info has none (the bag then stores no hash)
        hashes = {str(getattr(p, "topic_type_hash", "")) for p in publishers}
        hashes = {h for h in hashes if h.startswith("RIHS01_")}
        self.writer.add_topic(topic, msgtype, offered_qos=offered, type_hash=hashes.pop() if len(hashes) == 1 else None)
        best_effort = any(p.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for p in publishers)
        latched = all(p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in publishers)
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=RECORD_DEPTH,
            reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
        )
        self._raw_subscriptions[topic] = self.create_subscription(
            cls, topic, lambda data, t=topic: self._on_message(t, data), qos, raw=True)
        self.get_logger().info(f"recording {topic} [{msgtype}]")

    def _on_message(self, topic: str, data: bytes) -> None:
        try:
            self.writer.write(topic, self.get_clock().now().nanoseconds, data)
        except Exception as error:  # never raise in a callback: a write failure ends the recording cleanly
            self.fatal = BagError(f"writing {topic} to {self.bag_path} failed: {error}")

    # -- end ---------------------------------------------------------------------------------------------------------
    @property
    def recorded_topics(self) -> list[str]:
        return sorted(self._raw_subscriptions)

    def missing_requested(self) -> list[str]:
        return sorted(self.requested - set(self._raw_subscriptions))

    def destroy_node(self) -> None:
        """Drops a bag that was not finished (a no-op after :meth:`finish`), so no partial bag is left."""
        writer = getattr(self, "writer", None)
        if writer is not None:
            writer.abort()
        super().destroy_node()

    def finish(self) -> RecordSummary:
        """Stop recording and move the finished bag into place (or drop it after a fatal error)."""
        self._timer.cancel()
        for subscription in self._raw_subscriptions.values():
            self.destroy_subscription(subscription)
        summary = RecordSummary(str(self.bag_path), dict(self.writer.counts), dict(self.skipped))
        if self.fatal is not None:
            self.writer.abort()
            raise self.fatal
        self.writer.close()
        return summary


class MessageBagWriter:
    """Write rclpy messages into a bag without a recorder node: topics are added on first use with the message's
    type. For programs that hold the messages already (the demo, simulators, tests).

    >>> with MessageBagWriter("demo_bag") as bag:                 # doctest: +SKIP
    ...     bag.write("/people", people_msg, stamp_ns)
    """

    def __init__(self, path: str, storage: str = "mcap") -> None:
        self.bag = BagWriter(path, storage=storage)

    def write(self, topic: str, message: Any, stamp_ns: int) -> None:
        from rclpy.serialization import serialize_message

        if not self.bag.has_topic(topic):
            self.bag.add_topic(topic, type_name_of(message))
        self.bag.write(topic, stamp_ns, serialize_message(message))

    def close(self) -> str:
        return str(self.bag.close())

    def __enter__(self) -> MessageBagWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.bag.close()
        else:
            self.bag.abort()


def spin_until_stopped(node: RecorderNode, duration_s: float = 0.0) -> float:
    """Spin ``node`` until Ctrl-C/SIGTERM, a fatal error, or ``duration_s`` (> 0) wall seconds; returns seconds."""
    started = time.monotonic()
    with StopOnSignals() as stop:
        while not stop.is_set() and node.fatal is None:
            rclpy.spin_once(node, timeout_sec=0.05)
            if duration_s and time.monotonic() - started >= duration_s:
                break
    return time.monotonic() - started


def record(bag: str, topics: Sequence[str] = (), duration_s: float = 0.0, storage: str = "mcap",
           node_args: list[str] | None = None, log: Any = print) -> RecordSummary:
    """Record until Ctrl-C/SIGTERM or ``duration_s`` (> 0) wall seconds; returns what was written.

    Requested topics that never appeared are reported (not an error: the bag is still valid, but the user should
    know). Runs its own rclpy context with rclpy's signal handlers off, so the bag is always closed properly.
    """
    if not 0 <= duration_s < float("inf"):  # NaN fails too: it would record forever
        raise BagError(f"duration must be a finite number >= 0 s (0 = until Ctrl-C), got {duration_s}")
    with bag_context(node_args):
        node = None
        try:
            node = RecorderNode(bag=bag, topics=list(topics), storage=storage)
            seconds = spin_until_stopped(node, duration_s)
            missing = node.missing_requested()
            summary = node.finish()
            summary.seconds = seconds
            if missing:
                log(f"warning: requested topic(s) {missing} never had a publisher; not in the bag")
            return summary
        finally:
            if node is not None:
                node.destroy_node()


def main(args: list[str] | None = None) -> None:
    """``ros2 run causal_nodes recorder_node --ros-args -p bag:=run1 -p topics:="['/people','/odom']"``."""

    def record_until_stopped(node: RecorderNode) -> None:
        spin_until_stopped(node)
        summary = node.finish()
        node.get_logger().info(f"wrote {summary.bag}: {summary.message_count} messages {summary.counts}")

    run_bag_node("recorder_node", args, RecorderNode, record_until_stopped)


if __name__ == "__main__":
    main()
