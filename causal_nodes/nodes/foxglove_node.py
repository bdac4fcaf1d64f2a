"""Foxglove bridge: the pipeline's topics on a Foxglove WebSocket server (``foxglove-sdk``), a live view without RViz.

Open https://app.foxglove.dev (or Foxglove desktop) -> "Open connection" -> ``ws://<host>:8765``, then import the
layout ``foxglove/causal_nodes.json`` (graph image, 3D view of markers, scan, people and predicted paths, plots of
the causal variables).

Each ROS topic found on the graph (``topics``, relative to the node's namespace; a name ending in ``/`` covers the
topics under it) is forwarded as its serialized CDR bytes on a channel with the full ``ros2msg`` definition, which
Foxglove decodes like a ROS 2 connection: the graph image, markers, paths, TF, the scan. ``causal/variables`` is
also published as JSON on ``<ns>/causal/variables_by_name`` (``{"human_speed": 0.8, ...}``, NaN left out), so the
Plot panel can name the variables (``/causal/variables_by_name.human_speed``).

  ros2 run causal_nodes foxglove_node --ros-args -p port:=8765      # or: causal-nodes view, or foxglove:=true
"""
from __future__ import annotations

import json
import math
from typing import Any

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message

from causal_msgs.msg import VariableFrame
from causal_nodes.bags.errors import BagError
from causal_nodes.bags.typestore import installed_first_typestore, message_definition
from causal_nodes.nodes.common import OK, WARN, DiagnosticsPublisher, declare, now_seconds, run_node
from causal_nodes.nodes.recorder_node import message_class

DEFAULT_TOPICS = ["causal/graph", "causal/graph_image", "causal/graph_markers", "causal/priorities",
                  "causal/interventions", "causal/intervention_markers", "causal/variables", "sim/ground_truth",
                  "world_model/markers", "world_model/paths/", "people", "odom", "scan", "goal_pose", "tf",
                  "tf_static"]
VARIABLES_TOPIC = "causal/variables"
BY_NAME_SUFFIX = "_by_name"


def variables_by_name(msg: Any) -> dict[str, Any]:
    """A VariableFrame as the JSON the Plot panel reads: stamp plus one finite value per variable name."""
    values = {name: float(v) for name, v in zip(msg.names, msg.values) if math.isfinite(v)}
    return {"timestamp": {"sec": int(msg.header.stamp.sec), "nsec": int(msg.header.stamp.nanosec)},
            "subject_id": msg.subject_id, **values}


class FoxgloveNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("foxglove_bridge", **kwargs)
        import foxglove  # optional dependency: a clear ImportError names the package

        self.host = declare(self, "host", "127.0.0.1", "Address to listen on (0.0.0.0 = every interface)")
        port = declare(self, "port", 8765, "WebSocket port (0 = any free port)", int_range=(0, 65535))
        self.wanted = [t for t in declare(self, "topics", DEFAULT_TOPICS,
                                          "Topics to forward, relative to the namespace; 'x/' = every topic under x")
                       if t]
        period = declare(self, "discovery_period", 1.0, "How often to look for new topics [s]",
                         float_range=(0.05, 60.0))
        self._foxglove = foxglove
        self._fox_context = foxglove.Context()
        self._store = installed_first_typestore()
        self.channels: dict[str, Any] = {}
        self.forwarded: dict[str, int] = {}
        self.skipped: dict[str, str] = {}
        self._by_name = None
        self._forwarding: dict[str, Any] = {}
        self.server = foxglove.start_server(name=f"causal_nodes {self.get_namespace()}", host=self.host, port=port,
                                            context=self._fox_context)
        self.port = self.server.port
        self.get_logger().info(f"Foxglove WebSocket server on ws://{self.host}:{self.port} "
                               "(layout: foxglove/causal_nodes.json)")
        self.diagnostics = DiagnosticsPublisher(self)
        self.discover()
        self.create_timer(period, self.discover)
        self.create_timer(1.0, self._publish_diagnostics)

    # -- topics ------------------------------------------------------------------------------------------------
    def _full(self, name: str) -> str:
        return name if name.startswith("/") else f"{self.get_namespace().rstrip('/')}/{name}"

    def _is_wanted(self, topic: str) -> bool:
        for name in self.wanted:
            full = self._full(name)
            if topic == full or (full.endswith("/") and topic.startswith(full)):
                return True
        return False

    def discover(self) -> None:
        """Forward every wanted topic that has a publisher and is not forwarded yet."""
        for topic, types in self.get_topic_names_and_types():
            if topic in self._forwarding or topic in self.skipped or not self._is_wanted(topic):
                continue
            publishers = self.get_publishers_info_by_topic(topic)
            if not publishers or len(types) != 1:
                continue
            try:
                self._forward(topic, types[0], publishers)
            except BagError as error:
                self.skipped[topic] = str(error)
                self.get_logger().warning(f"not forwarding {topic}: {error}")

    def _forward(self, topic: str, msgtype: str, publishers: list[Any]) -> None:
        cls = message_class(msgtype)
        schema = self._foxglove.Schema(name=msgtype, encoding="ros2msg",
                                       data=message_definition(msgtype, self._store).encode())
        self.channels[topic] = self._foxglove.Channel(topic, schema=schema, message_encoding="cdr",
                                                      context=self._fox_context)
        self.forwarded[topic] = 0
        best_effort = any(p.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for p in publishers)
        latched = all(p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in publishers)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                         reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)
        self._forwarding[topic] = self.create_subscription(
            cls, topic, lambda data, t=topic: self._on_message(t, data), qos, raw=True)
        if topic == self._full(VARIABLES_TOPIC) and cls is VariableFrame:
            self._by_name = self._foxglove.Channel(topic + BY_NAME_SUFFIX, context=self._fox_context)
        self.get_logger().info(f"forwarding {topic} [{msgtype}]")

    def _on_message(self, topic: str, data: bytes) -> None:
        log_time = int(now_seconds(self) * 1e9)
        self.channels[topic].log(data, log_time=log_time)
        self.forwarded[topic] += 1
        if self._by_name is not None and topic == self._full(VARIABLES_TOPIC):
            self._by_name.log(json.dumps(variables_by_name(deserialize_message(data, VariableFrame))).encode(),
                              log_time=log_time)

    def _publish_diagnostics(self) -> None:
        values: dict[str, Any] = {"port": self.port, "channels": len(self.channels)}
        values.update({f"forwarded {t}": n for t, n in self.forwarded.items()})
        level = OK if self.channels else WARN
        message = f"ws://{self.host}:{self.port}, {len(self.channels)} topics" if self.channels else \
            f"ws://{self.host}:{self.port}, none of the topics has a publisher yet"
        self.diagnostics.publish(level, message, values)

    def destroy_node(self) -> None:
        self.server.stop()
        super().destroy_node()


def main(args=None) -> None:
    run_node(FoxgloveNode, args)


if __name__ == "__main__":
    main()
