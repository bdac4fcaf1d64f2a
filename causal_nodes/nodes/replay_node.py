"""Replay node: plays a rosbag2 bag (MCAP or SQLite3) onto the graph with its original timing and ``/clock``.

Messages are published as the recorded bytes (no decoding), so any type whose Python package is installed can be
replayed, including another robot's. ``/clock`` (rosgraph_msgs/Clock) carries bag time right before each message
and at ``clock_hz`` in between, so nodes run with ``use_sim_time:=true`` see the recorded time axis.

Publisher QoS (see :func:`causal_nodes.bags.playback.replay_qos`): reliable everywhere (serves reliable and
best-effort readers alike); transient local depth 1 for latched topics (``/causal/graph``, ``/sim/ground_truth``,
``/tf_static``, ``/map``, or any topic whose recorded publishers were all transient local); otherwise volatile,
keep last 100. ``/clock``: reliable, keep last 10 (matches rclpy's best-effort time source subscription).

Which topics: by default all but ``/clock`` and the pipeline's own outputs (graphs, markers, priorities, and
``/causal/variables`` when the bag has ``/people`` or ``/odom`` to compute it from; see
:func:`causal_nodes.bags.playback.derived_topics`), so the replayed pipeline's results are the only ones on the
graph; ``include_outputs`` (or naming topics) replays them too. Topic names are published relative to the node's
namespace (``/people`` -> ``/robot1/people`` in ``robot1``); remap targets as written.

TF: a bag without ``/tf`` gets ``odom -> base_link`` from its odometry (``tf_from_odom``, header frame -> child
frame of every ``odom_topic`` message); one without ``/tf_static`` gets the ``static_transforms`` (the sensor
mounts; the simulator's by default), so RViz's ``odom`` fixed frame resolves for old bags too.

Timing, rate, start offset and looping are computed by :mod:`causal_nodes.bags.playback` (ROS-free).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from rosgraph_msgs.msg import Clock

from causal_nodes.bags.errors import BagError
from causal_nodes.bags.playback import (
    PlaybackOptions,
    PlaybackStats,
    ReplayQos,
    parse_remaps,
    play,
    remapped,
    replay_qos,
    select_topics,
)
from causal_nodes.bags.reader import BagMessage, BagReader
from causal_nodes.bags.stop_signals import StopOnSignals
from causal_nodes.nodes.bag_session import bag_context, run_bag_node
from causal_nodes.nodes.common import declare
from causal_nodes.nodes.recorder_node import message_class
from causal_nodes.nodes.tf import TfPublisher
from causal_nodes.sim.frames import static_transforms
from causal_nodes.variables.frames import Transform, parse_static_transform

CLOCK_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)


def to_profile(qos: ReplayQos) -> QoSProfile:
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=qos.depth,
        reliability=ReliabilityPolicy.RELIABLE if qos.reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if qos.transient_local else DurabilityPolicy.VOLATILE,
    )


class ReplayNode(Node):
    """Publishers for the selected bag topics; :meth:`play` replays them. Explicit arguments override parameters."""

    def __init__(self, bag: str | None = None, options: PlaybackOptions | None = None,
                 topics: Sequence[str] | None = None, remaps: Sequence[str] | None = None,
                 skip_unknown: bool | None = None, include_outputs: bool | None = None, **kwargs: Any) -> None:
        super().__init__("replay_node", **kwargs)
        self.bag: BagReader | None = None
        try:
            self._setup(bag, options, topics, remaps, skip_unknown, include_outputs)
        except BaseException:
            self.destroy_node()  # a node that failed to start must not linger in the context
            raise

    def _setup(self, bag: str | None, options: PlaybackOptions | None, topics: Sequence[str] | None,
               remaps: Sequence[str] | None, skip_unknown: bool | None, include_outputs: bool | None) -> None:
        if bag is None:
            bag = declare(self, "bag", "", "Bag folder (or .mcap/.db3 file) to replay")
            if not bag:
                raise BagError("parameter 'bag' is required (the bag to replay)")
        if options is None:
            options = PlaybackOptions(
                rate=declare(
                    self,
                    "rate",
                    1.0,
                    "Playback rate (1 = real time, 0 = as fast as possible)",
                    float_range=(0.0, 1000.0),
                ),
                start_s=declare(
                    self, "start", 0.0, "Skip this many seconds at the start of the bag [s]", float_range=(0.0, 1e9)
                ),
                loop=declare(self, "loop", False, "Replay again from the start when the bag ends"),
                clock_hz=declare(
                    self,
                    "clock_hz",
                    100.0,
                    "Rate of /clock between messages [Hz] (0 = only with messages)",
                    float_range=(0.0, 10000.0),
                ),
                publish_clock=declare(self, "clock", True, "Publish /clock (bag time) for use_sim_time nodes"),
            )
        if topics is None:
            topics = [t for t in declare(self, "topics", [""], "Topics to replay ([''] = all)") if t]
        if remaps is None:
            remaps = [r for r in declare(self, "remap", [""], "Topic remaps FROM:=TO") if r]
        if skip_unknown is None:
            skip_unknown = declare(self, "skip_unknown", False,
                                   "Skip topics whose message type is not installed instead of failing")
        if include_outputs is None:
            include_outputs = declare(self, "include_outputs", False,
                                      "Also replay /clock and the pipeline's outputs recorded in the bag")
        self.delay_s = declare(self, "delay", 0.0, "Wait this long before playing (DDS discovery) [s]",
                               float_range=(0.0, 3600.0))
        self.wait_subscribers_s = declare(
            self, "wait_subscribers", 0.0,
            "Wait up to this long for every replayed topic to have a subscriber before playing [s]",
            float_range=(0.0, 3600.0))
        self.options = options
        self.bag = BagReader(bag)
        selected = select_topics(self.bag, topics, include_outputs)
        rules = parse_remaps(remaps)
        pairs = remapped(selected, rules)
        self.skipped: dict[str, str] = {}
        self.publishers_by_topic: dict[str, Any] = {}
        unknown: list[str] = []
        for source, target in pairs:
            msgtype = self.bag.topics[source].msgtype
            try:
                cls = message_class(msgtype)
            except BagError as error:
                if skip_unknown and not topics:
                    self.skipped[source] = str(error)
                    self.get_logger().warning(f"not replaying {source}: {error}")
                    continue
                unknown.append(f"{source} [{msgtype}]")
                continue
            qos = to_profile(replay_qos(source, self.bag.topics[source].offered_qos))
            name = target if source in rules else source.lstrip("/")  # recorded names: in this namespace
            self.publishers_by_topic[source] = self.create_publisher(cls, name, qos)
        if unknown:
            raise BagError(f"cannot replay topic(s) {unknown} of bag {self.bag.path}: message type not installed "
                           "for Python (source its workspace, select other --topics, or use --skip-unknown)")
        self.clock_publisher = self.create_publisher(Clock, "/clock", CLOCK_QOS) if options.publish_clock else None
        self._setup_tf(selected)

    def _setup_tf(self, selected: Sequence[str]) -> None:
        """TF the bag lacks: odometry as ``odom -> base_link`` and the sensor mounts (see the module doc)."""
        from_odom = declare(self, "tf_from_odom", True,
                            "Publish odom -> base_link from the odometry when the bag has no /tf")
        self.odom_topic = declare(self, "odom_topic", "/odom", "Bag topic of the odometry used by tf_from_odom")
        mounts = [t for t in declare(self, "static_transforms",
                                     [f"{t.parent} {t.child} 0 0 0 0" for t in static_transforms()],
                                     "Published on /tf_static when the bag has none: 'parent child x y z yaw' "
                                     "[m, rad] each ([''] = none)") if t]
        statics = [parse_static_transform(text) for text in mounts]  # ValueError names a malformed one
        has = {t.rsplit("/", 1)[-1] for t in selected}  # what this replay publishes of the bag
        self.synthesize_tf = from_odom and "tf" not in has and self.odom_topic in selected
        self.tf = TfPublisher(self) if self.synthesize_tf or ("tf_static" not in has and statics) else None
        if self.tf is not None and "tf_static" not in has and statics:
            self.tf.publish_static(statics)
        self.synthesized_tf = 0

    @property
    def topics(self) -> list[str]:
        return sorted(self.publishers_by_topic)

    def wait_for_subscribers(self, timeout_s: float, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Wait until every replayed topic has a matched subscriber (or ``timeout_s``); True when all matched.

        DDS discovery takes a moment: without this the first messages of a short bag reach nobody.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not should_stop():
            if all(p.get_subscription_count() > 0 for p in self.publishers_by_topic.values()):
                return True
            time.sleep(0.02)
        return all(p.get_subscription_count() > 0 for p in self.publishers_by_topic.values())

    def _publish(self, message: BagMessage) -> None:
        self.publishers_by_topic[message.topic].publish(message.data)
        if self.synthesize_tf and message.topic == self.odom_topic:
            odom = deserialize_message(message.data, Odometry)
            p, q = odom.pose.pose.position, odom.pose.pose.orientation
            frame, child = odom.header.frame_id.lstrip("/"), odom.child_frame_id.lstrip("/")
            if frame and child and frame != child:
                stamp = odom.header.stamp.sec + odom.header.stamp.nanosec * 1e-9
                self.tf.publish([Transform(frame, child, (p.x, p.y, p.z), (q.x, q.y, q.z, q.w), stamp)])
                self.synthesized_tf += 1

    def _publish_clock(self, t_ns: int) -> None:
        sec, nanosec = divmod(int(t_ns), 1_000_000_000)
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = sec, nanosec
        self.clock_publisher.publish(msg)

    def play_when_ready(self, wait_subscribers_s: float = 0.0, delay_s: float = 0.0) -> PlaybackStats:
        """Waits for subscribers and/or a fixed delay (DDS matching), then plays; Ctrl-C/SIGTERM stop it cleanly."""
        with StopOnSignals() as stop:
            if wait_subscribers_s:
                self.wait_for_subscribers(wait_subscribers_s, stop.is_set)
            if delay_s:
                stop.event.wait(delay_s)
            return self.play(stop.is_set)

    def play(self, should_stop: Callable[[], bool] = lambda: False) -> PlaybackStats:
        """Replay the bag once (or until stopped when looping); returns counts and timing error."""
        return play(self.bag, self.topics, self.options, self._publish,
                    self._publish_clock if self.clock_publisher is not None else None, should_stop)

    def destroy_node(self) -> None:
        if self.bag is not None:
            self.bag.close()
            self.bag = None
        super().destroy_node()


def replay(bag: str, options: PlaybackOptions, topics: Sequence[str] = (), remaps: Sequence[str] = (),
           skip_unknown: bool = False, wait_subscribers_s: float = 0.0, delay_s: float = 0.0,
           node_args: list[str] | None = None, include_outputs: bool = False) -> PlaybackStats:
    """Replay ``bag`` in a fresh rclpy context until it ends (or Ctrl-C/SIGTERM); returns the playback stats."""
    if delay_s < 0 or wait_subscribers_s < 0:
        raise BagError("--delay and --wait-subscribers must be >= 0 s")
    with bag_context(node_args):
        node = None
        try:
            node = ReplayNode(bag=bag, options=options, topics=list(topics), remaps=list(remaps),
                              skip_unknown=skip_unknown, include_outputs=include_outputs)
            return node.play_when_ready(wait_subscribers_s, delay_s)
        finally:
            if node is not None:
                node.destroy_node()


def main(args: list[str] | None = None) -> None:
    """``ros2 run causal_nodes replay_node --ros-args -p bag:=run1 -p rate:=2.0 -p loop:=true``."""

    def play(node: ReplayNode) -> None:
        stats = node.play_when_ready(node.wait_subscribers_s, node.delay_s)
        node.get_logger().info(f"replayed {stats.message_count} messages in {stats.wall_s:.2f} s")

    run_bag_node("replay_node", args, ReplayNode, play)


if __name__ == "__main__":
    main()
