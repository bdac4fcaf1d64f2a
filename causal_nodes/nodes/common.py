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

Parameters: :func:`declare` checks every value at start-up (range, choices, type) and turns rclpy's exceptions into
a ``ValueError`` naming the node and the parameter, so a bad params file ends in one line and exit code 2, never a
node that dies at its first message. :func:`on_parameter_change` applies a ``set_parameters`` at runtime or
rejects it with the reason; parameters that cannot change at runtime are declared ``read_only``.

Topic names are relative (``causal/graph``, ``people``), so a node started in a namespace (``robot1``) uses
``/robot1/causal/graph`` and several robots share one DDS domain without crosstalk. Two stay absolute by ROS
convention: ``/diagnostics`` (one aggregator per system; statuses are named by the node's full name) and
``/clock``, ``/tf``, ``/tf_static`` (the launch files remap them into the namespace where the robot has its own).
"""
from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import ParameterException, ParameterUninitializedException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from causal_nodes.variables.msg_adapters import seconds_to_sec_nanosec, stamp_seconds
from causal_nodes.variables.stream_health import InputMonitor

SENSOR_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50, reliability=ReliabilityPolicy.BEST_EFFORT)
STREAM_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000, reliability=ReliabilityPolicy.RELIABLE)
LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

OK, WARN, ERROR, STALE = 0, 1, 2, 3  # DiagnosticStatus levels as ints (the message field is a byte)


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
    try:
        value = node.declare_parameter(name, default, descriptor).value
    except ParameterException as error:  # out of range, wrong type: one line naming node and parameter
        raise ValueError(f"{node.get_name()}: parameter {name}: {error}") from None
    if value is None and isinstance(default, list):
        value = []  # `name: []` in a params file has no element type, so rclpy gives no value: an empty list
    if choices is not None and value not in set(choices):
        raise ValueError(f"{node.get_name()}: parameter {name}={value!r} is not {constraints}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{node.get_name()}: parameter {name}={value!r} must be a finite number")
    return value


def on_parameter_change(node: Node, apply: Callable[[dict[str, Any]], None]) -> None:
    """Registers ``apply(changes)`` for ``set_parameters``: it checks and applies the new values (name -> value)
    together, or raises ValueError, which rejects the change with its message as the reason.

    Register it after every ``declare``: rclpy calls these callbacks for declarations too. Ranges and read-only
    flags are checked by rclpy before ``apply`` is called.
    """

    def callback(params: list) -> SetParametersResult:
        changes = {p.name: p.value for p in params}
        if set(changes) <= {"use_sim_time"}:
            return SetParametersResult(successful=True)  # rclpy's own
        try:
            apply(changes)
        except ValueError as error:
            node.get_logger().warning(f"parameter change rejected: {error}")
            return SetParametersResult(successful=False, reason=str(error))
        node.get_logger().info("parameters changed: " + ", ".join(f"{k}={v!r}" for k, v in changes.items()))
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(callback)


def parameter_values(node: Node, names: Iterable[str], changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The current values of ``names``, with pending ``changes`` applied (for checking a change before it is set)."""
    changes = changes or {}
    return {name: changes[name] if name in changes else _current(node, name) for name in names}


def _current(node: Node, name: str) -> Any:
    try:
        return node.get_parameter(name).value
    except ParameterUninitializedException:  # declared from `name: []` (an empty list has no type): empty
        return []


def input_health(level: int, message: str, inputs: InputMonitor, topics: dict[str, str]) -> tuple[int, str]:
    """``(level, message)`` with the truth about the inputs laid over: STALE naming the inputs silent for longer
    than their limit, a WARN with the frames lost on the way (by sequence numbers)."""
    lost = [f"{h.lost} of {h.expected} frames lost on {topics.get(name, name)}"
            for name, h in inputs.streams.items() if h.lost]
    if lost:
        level, message = max(level, WARN), f"{message}; {', '.join(lost)}"
    silent = inputs.describe_stale(monotonic(), topics)
    if silent:
        level, message = STALE, f"stale: {silent}; {message}"
    return level, message


def wall_timer(node: Node, period_s: float, callback: Callable[[], None]) -> Any:
    """A timer on the steady clock: diagnostics keep coming when sim time stands still (a paused bag)."""
    return node.create_timer(period_s, callback, clock=Clock(clock_type=ClockType.STEADY_TIME))


def monotonic() -> float:
    """The clock of input silence (``InputMonitor``): wall time, never bag time."""
    return time.monotonic()


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


def topic_parameter(node: Node, name: str, topic: str) -> str:
    """``topic`` (the value of parameter ``name``) if it is a valid ROS topic name, else a ValueError naming the
    parameter: rclpy's own exception at create_publisher would end the node in a traceback, not in one line."""
    from rclpy.exceptions import NameValidationException
    from rclpy.validate_topic_name import validate_topic_name

    try:
        validate_topic_name(topic)
    except NameValidationException as error:
        reason = str(error).strip().splitlines()[0]
        raise ValueError(f"{node.get_name()}: parameter {name}: {topic!r} is not a topic name ({reason})") from None
    return topic


def run_node(node_class: type[Node], args: Sequence[str] | None = None) -> None:
    """``main()`` of a single node: run it until Ctrl-C / SIGTERM, then shut down in order (see
    :mod:`causal_nodes.nodes.composition`). A bad parameter ends in one line and exit code 2."""
    from causal_nodes.nodes.composition import Composition

    try:
        with Composition(ros_args=args) as composition:
            composition.add(node_class)
            composition.spin_forever()
    except ValueError as error:
        print(f"{node_class.__name__}: error: {str(error).strip().splitlines()[0]}", file=sys.stderr)
        sys.exit(2)


__all__ = [
    "SENSOR_QOS", "STREAM_QOS", "LATCHED_QOS", "OK", "WARN", "ERROR", "STALE", "declare", "on_parameter_change",
    "parameter_values", "input_health", "wall_timer", "monotonic", "to_time_msg", "now_seconds", "stamp_seconds",
    "DiagnosticsPublisher", "run_node", "topic_parameter",
]
