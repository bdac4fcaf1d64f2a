"""What every causal_nodes node shares: QoS choices, parameter declaration, diagnostics, time conversion, main().

QoS, chosen per kind of topic:
- ``SENSOR_QOS`` (best effort, keep last 50) for sensor inputs: a best-effort subscription matches both
  best-effort and reliable publishers, and a late sensor sample is worth less than the next one; the queue is
  deeper than ``qos_profile_sensor_data``'s 5 so a bag replayed faster than real time is not thinned out.
- ``STREAM_QOS`` (reliable, keep last 1000) for the derived ``VariableFrame`` stream: every sample matters to
  the window, frames are small (~200 B), and a deep queue absorbs bursts (a simulator or a bag replayed faster
  than real time) while a discovery holds the CPU.
- ``LATCHED_QOS`` (reliable, transient local, depth 1) for graphs, priorities, ground truth and their markers:
  a subscriber that joins late (RViz, a prioritizer) gets the last result at once.

Topic names are relative (``causal/graph``, ``people``), so a node started in a namespace (``robot1``) uses
``/robot1/causal/graph`` and several robots share one DDS domain without crosstalk. Two stay absolute by ROS
convention: ``/diagnostics`` (one aggregator per system; statuses are named by the node's full name) and
``/clock``, ``/tf``, ``/tf_static`` (the launch files remap them into the namespace where the robot has its own).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from causal_nodes.variables.msg_adapters import seconds_to_sec_nanosec, stamp_seconds

SENSOR_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50, reliability=ReliabilityPolicy.BEST_EFFORT)
STREAM_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000, reliability=ReliabilityPolicy.RELIABLE)
LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

OK, WARN, ERROR = 0, 1, 2  # DiagnosticStatus levels as ints (the message field is a byte)


def declare(
    node: Node,
    name: str,
    default: Any,
    description: str,
    *,
    int_range: Sequence[int] | None = None,
    float_range: Sequence[float] | None = None,
    choices: Iterable[str] | None = None,
    read_only: bool = False,
) -> Any:
    """Declares a parameter with a descriptor (description, range, allowed values) and returns its value."""
    constraints = ""
    descriptor = ParameterDescriptor(description=description, read_only=read_only)
    if int_range is not None:
        descriptor.integer_range = [IntegerRange(from_value=int(int_range[0]), to_value=int(int_range[1]), step=1)]
    if float_range is not None:
        descriptor.floating_point_range = [
            FloatingPointRange(from_value=float(float_range[0]), to_value=float(float_range[1]), step=0.0)
        ]
    if choices is not None:
        constraints = "one of: " + ", ".join(choices)
        descriptor.additional_constraints = constraints
    value = node.declare_parameter(name, default, descriptor).value
    if choices is not None and value not in set(choices):
        raise ValueError(f"parameter {name}={value!r} is not {constraints}")
    return value


def to_time_msg(seconds: float) -> Time:
    sec, nanosec = seconds_to_sec_nanosec(seconds)
    return Time(sec=sec, nanosec=nanosec)


def now_seconds(node: Node) -> float:
    """The node's clock (sim time under ``use_sim_time``) in seconds."""
    return node.get_clock().now().nanoseconds * 1e-9


class DiagnosticsPublisher:
    """Publishes one ``DiagnosticStatus`` for a node on ``/diagnostics``, from plain counters."""

    def __init__(self, node: Node, hardware_id: str = "causal_nodes") -> None:
        self._node = node
        self._hardware_id = hardware_id
        self._publisher = node.create_publisher(DiagnosticArray, "/diagnostics", 10)

    def publish(self, level: int, message: str, values: dict[str, Any]) -> DiagnosticStatus:
        status = DiagnosticStatus(
            level=level if isinstance(level, bytes) else bytes([int(level)]),
            name=self._node.get_fully_qualified_name().lstrip("/"),  # robot1/discovery_node: unique per robot
            message=message,
            hardware_id=self._hardware_id,
            values=[KeyValue(key=str(k), value=_fmt(v)) for k, v in values.items()],
        )
        array = DiagnosticArray(status=[status])
        array.header.stamp = self._node.get_clock().now().to_msg()
        self._publisher.publish(array)
        return status


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def run_node(node_class: type[Node], args: Sequence[str] | None = None) -> None:
    """``main()`` of a single node: init, spin on a multi-threaded executor, clean shutdown on Ctrl-C."""
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    rclpy.init(args=args)
    node = node_class()
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


__all__ = [
    "SENSOR_QOS", "STREAM_QOS", "LATCHED_QOS", "OK", "WARN", "ERROR", "declare", "to_time_msg", "now_seconds",
    "stamp_seconds", "DiagnosticsPublisher", "run_node",
]
