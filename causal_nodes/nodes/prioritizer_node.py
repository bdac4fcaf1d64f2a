"""ROS 2 node: causal priorities and ranked do()-interventions for a target, on every discovered graph.

In: ``/causal/graph`` (CausalGraph, transient local), ``/causal/variables`` (VariableFrame), ``/odom`` (Odometry),
with a world model ``/people`` (PoseArray), optionally the robot's plan (nav_msgs/Path on ``plan_topic``).
Out: ``/causal/priorities`` and ``/causal/interventions``
(transient local), text markers on ``/causal/intervention_markers``, a status on ``/diagnostics``. The rules
(the SEM is fitted on the graph's own window; the kinematic model starts from ``/odom`` and the frames' subject;
the optional world model fills ``predicted_paths``) live in
:class:`causal_nodes.prioritization.online.OnlinePrioritizer`; this node converts messages, holds the parameters
(defaults from its config dataclasses) and wires topics. Its status goes STALE when no graph (or no frame) came
for ``stale_after_s``, and counts frames received / expected / lost by their ``sequence``.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from typing import Any

import numpy as np
from geometry_msgs.msg import PoseArray, PoseStamped
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
from rclpy.node import Node
from visualization_msgs.msg import Marker, MarkerArray

from causal_msgs.msg import (
    CausalGraph,
    CausalPriorities,
    Intervention,
    InterventionArray,
    VariableFrame,
    VariablePriority,
)
from causal_nodes.geometry import quaternion_to_yaw
from causal_nodes.nodes.common import (
    LATCHED_QOS,
    SENSOR_QOS,
    STREAM_QOS,
    WARN,
    DiagnosticsPublisher,
    declare,
    input_health,
    monotonic,
    on_parameter_change,
    parameter_values,
    run_node,
    stamp_seconds,
    topic_parameter,
    wall_timer,
)
from causal_nodes.prioritization import PrioritizationResult, PrioritizerConfig
from causal_nodes.prioritization.graph import UndirectedPolicy
from causal_nodes.prioritization.kinematics import EffectModel, PersonMotion
from causal_nodes.prioritization.lagged_sem import LocalWeighting
from causal_nodes.prioritization.online import GraphWindow, OnlinePrioritizer, OnlinePrioritizerConfig
from causal_nodes.prioritization.prioritizer import CandidateSpacing, Goal
from causal_nodes.prioritization.world_paths import WorldModelPaths
from causal_nodes.variables.stream_health import InputMonitor

STATUS_NAME = "causal_prioritizer"
_DEFAULTS = OnlinePrioritizerConfig()
_CORE = _DEFAULTS.prioritizer
# name -> (default, description, declare() keywords); the defaults are the config dataclasses', nowhere else.
PARAMETERS: dict[str, tuple[Any, str, dict[str, Any]]] = {
    "target": (_DEFAULTS.target, "variable whose causal drivers are ranked", {}),
    "actionable": (list(_DEFAULTS.actionable), "variables the robot can set; candidates are built for these", {}),
    "window_size": (_DEFAULTS.window_size, "VariableFrames kept (>= discovery's window)", dict(int_range=(20, 100000))),
    "horizon": (_CORE.horizon, "prediction horizon in samples of the variable grid", dict(int_range=(1, 1000))),
    "goal": (_CORE.goal.value, "rank interventions to maximize or minimize the target", dict(choices=Goal.names())),
    "bootstrap": (_CORE.bootstrap, "block-bootstrap replicas for the uncertainty", dict(int_range=(0, 2000))),
    "candidate_values": (_CORE.candidate_values, "candidate values per actionable variable", dict(int_range=(1, 100))),
    "risk_aversion": (_CORE.risk_aversion, "score = s * effect - risk_aversion * std", dict(float_range=(0.0, 10.0))),
    "undirected": (_CORE.undirected.value, "treatment of lag-0 o-o links", dict(choices=UndirectedPolicy.names())),
    "local_weighting": (_CORE.local_weighting.value, "SEM fit: 'none' (global), 'state' (around the current state), "
                        "'recent' (newest samples)", dict(choices=LocalWeighting.names())),
    "local_span": (_CORE.local_span, "fraction of the window a local fit uses", dict(float_range=(0.05, 1.0))),
    "effect_model": (_CORE.effect_model.value, "how robot commands act on the distance and collision risk: "
                     "'kinematic' (unicycle + geometry inside the learned SEM; needs /odom and the frames' subject) "
                     "or 'linear' (SEM only)", dict(choices=EffectModel.names())),
    "person_motion": (_CORE.person_motion.value, "the person in the kinematic model: 'constant_velocity', 'sem' "
                      "(speed and turning from the SEM) or 'world_model' (the world model's forecast under each "
                      "scenario's commands; needs world_model_path)", dict(choices=PersonMotion.names())),
    "candidate_spacing": (_CORE.candidate_spacing.value, "candidate values: 'even' over the 5..95 % range of the "
                          "window, or the window's 'quantile's", dict(choices=CandidateSpacing.names())),
    "seed": (_CORE.seed, "seed of the block bootstrap", dict(int_range=(0, 2**31 - 1))),
    "max_markers": (3, "top candidates shown as RViz text markers", dict(int_range=(0, 50))),
    "marker_frame": ("base_link", "frame of the intervention text markers", {}),
    "world_model_path": ("", "world-model step ONNX (metadata JSON beside it) for predicted_paths; '' = none",
                         dict(read_only=True)),
    "world_model_horizon": (12, "world-model steps of the predicted paths", dict(int_range=(1, 100), read_only=True)),
    "plan_topic": ("", "the robot's plan (nav_msgs/Path in the /odom frame, e.g. a local planner's); its commands "
                   "replace the SEM's forecast of the robot's own; '' = none", dict(read_only=True)),
    "plan_dt": (0.1, "time between a plan's poses when they carry no stamps [s]", dict(float_range=(0.01, 5.0))),
    "plan_timeout_s": (_DEFAULTS.plan_timeout_s, "a plan is used while its last pose is at most this much older "
                       "than the graph's window end [s]", dict(float_range=(0.0, 60.0))),
    "stale_after_s": (10.0, "no graph or no frame for this long: STALE on /diagnostics [s, wall clock]",
                      dict(float_range=(0.1, 3600.0))),
}
_CORE_FIELDS = [f.name for f in dataclasses.fields(PrioritizerConfig) if f.name in PARAMETERS]


class PrioritizerNode(Node):
    """Thin wrapper: VariableFrames + odometry + the latest CausalGraph -> priorities, interventions, markers."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("causal_prioritizer", **kwargs)
        for name, (default, description, options) in PARAMETERS.items():
            declare(self, name, default, description, **options)
        self.world_error = ""
        try:
            config = self._config()
        except ValueError as error:  # checked at start-up, not at the first graph
            raise ValueError(f"{self.get_name()}: parameter {error}") from None
        self.online = OnlinePrioritizer(config, world=self._load_world_model(), world_error=self.world_error)
        self.inputs = InputMonitor(["graphs", "frames"], self.get_parameter("stale_after_s").value, monotonic())
        self._graph_received = 0.0
        self._graph_header: Any = None
        self._bad_messages = 0
        self._odom_frame = ""  # frame of the newest /odom: plans must come in it
        self._latencies: deque = deque(maxlen=100)
        self._status: tuple[int, str, dict] = (WARN, "waiting for a causal graph", {})

        self._pub_priorities = self.create_publisher(CausalPriorities, "causal/priorities", LATCHED_QOS)
        self._pub_interventions = self.create_publisher(InterventionArray, "causal/interventions", LATCHED_QOS)
        self._pub_markers = self.create_publisher(MarkerArray, "causal/intervention_markers", LATCHED_QOS)
        self._diagnostics = DiagnosticsPublisher(self)
        self.create_subscription(CausalGraph, "causal/graph", self._on_graph, LATCHED_QOS)
        self.create_subscription(VariableFrame, "causal/variables", self._on_frame, STREAM_QOS)
        self.create_subscription(Odometry, "odom", self._on_odom, SENSOR_QOS)
        if self.online.world is not None:  # the people are only needed to stream the world model
            self.create_subscription(PoseArray, "people", self._on_people, SENSOR_QOS)
        plan_topic = str(self.get_parameter("plan_topic").value)
        if plan_topic:  # a planner publishes when it replans: keep the newest, reliably
            topic_parameter(self, "plan_topic", plan_topic)
            self.create_subscription(PathMsg, plan_topic, self._on_plan, STREAM_QOS)
        wall_timer(self, 1.0, self._publish_status)
        on_parameter_change(self, self._apply_parameters)

    # ---- parameters -------------------------------------------------------------------------------------------
    def _config(self, overrides: dict | None = None) -> OnlinePrioritizerConfig:
        def get(name: str) -> Any:
            return parameter_values(self, [name], overrides)[name]

        return OnlinePrioritizerConfig(
            target=str(get("target")), actionable=tuple(str(a) for a in get("actionable")),
            window_size=int(get("window_size")), plan_timeout_s=float(get("plan_timeout_s")),
            prioritizer=PrioritizerConfig(**{name: get(name) for name in _CORE_FIELDS}),
        )

    def _apply_parameters(self, changes: dict[str, Any]) -> None:
        """Checks the new values (ValueError: the change is refused with the reason), then applies them."""
        config = self._config(changes)
        self.inputs.stale_after_s = float(changes.get("stale_after_s", self.inputs.stale_after_s))
        self.online.reconfigure(config)

    def _load_world_model(self) -> WorldModelPaths | None:
        """The world model if ``world_model_path`` is set; a failure is reported, never fatal."""
        path = str(self.get_parameter("world_model_path").value)
        if not path:
            return None
        try:
            return WorldModelPaths(path, int(self.get_parameter("world_model_horizon").value))
        except Exception as exc:  # missing file, bad metadata, no onnxruntime: run without paths
            self.world_error = f"world model {path!r} not loaded: {type(exc).__name__}: {exc}"
            self.get_logger().warning(self.world_error)
            return None

    # ---- inputs -----------------------------------------------------------------------------------------------
    def _on_frame(self, msg: VariableFrame) -> None:
        self.inputs.arrived("frames", monotonic(), int(msg.sequence))
        p = msg.subject_position  # rejected frames are counted by reason in the window's counters
        self.online.add_frame(stamp_seconds(msg.header.stamp), list(msg.names), list(msg.values), msg.subject_id,
                              (p.x, p.y))
        if self.online.ready():
            self._compute()

    def _on_odom(self, msg: Odometry) -> None:
        self._odom_frame = msg.header.frame_id
        pose, twist = msg.pose.pose, msg.twist.twist
        try:
            self.online.add_odometry(stamp_seconds(msg.header.stamp), pose.position.x, pose.position.y,
                                     quaternion_to_yaw(pose.orientation), twist.linear.x, twist.angular.z)
        except ValueError:
            self._bad_messages += 1

    def _on_people(self, msg: PoseArray) -> None:
        people = [(p.position.x, p.position.y) for p in msg.poses]
        try:
            self.online.add_people(stamp_seconds(msg.header.stamp), people, msg.header.frame_id)
        except ValueError:
            self._bad_messages += 1

    def _on_plan(self, msg: PathMsg) -> None:
        """Poses with their own stamps if they carry increasing ones, else ``plan_dt`` apart from the header's.

        A plan in another frame than the odometry's (a global planner's ``/plan`` in ``map``) is refused and
        counted: its poses would be read as odometry coordinates."""
        frame = msg.header.frame_id
        if frame and self._odom_frame and frame.lstrip("/") != self._odom_frame.lstrip("/"):
            self._bad_messages += 1
            self.get_logger().warning(f"plan on {self.get_parameter('plan_topic').value} ignored: frame {frame!r}, "
                                      f"odometry is in {self._odom_frame!r}", throttle_duration_sec=5.0)
            return
        stamps = np.array([stamp_seconds(p.header.stamp) for p in msg.poses])
        if stamps.size < 2 or np.any(np.diff(stamps) <= 0):
            dt = float(self.get_parameter("plan_dt").value)
            stamps = stamp_seconds(msg.header.stamp) + dt * np.arange(len(msg.poses))
        poses = [(p.pose.position.x, p.pose.position.y, quaternion_to_yaw(p.pose.orientation)) for p in msg.poses]
        try:
            self.online.add_plan(stamps, poses)
        except ValueError:
            self._bad_messages += 1

    def _on_graph(self, msg: CausalGraph) -> None:
        self.inputs.arrived("graphs", monotonic())
        self._graph_received = time.perf_counter()
        self.online.set_graph(GraphWindow(
            variables=list(msg.variables), tau_max=int(msg.tau_max), sample_count=int(msg.sample_count),
            links=[(link.source, link.target, int(link.lag), link.link_type) for link in msg.links],
            window_start=stamp_seconds(msg.window_start), window_end=stamp_seconds(msg.window_end)))
        self._graph_header = msg.header
        if self.online.ready():
            self._compute()
        else:
            self._status = (WARN, self.online.waiting_reason(), {})

    # ---- computation and outputs ------------------------------------------------------------------------------
    def _compute(self) -> None:
        outcome = self.online.run()
        self._bad_messages += int(outcome.failed)
        if outcome.result is not None:
            self._publish_result(outcome.result, self._graph_header)
            self._latencies.append(time.perf_counter() - self._graph_received)
        self._status = outcome.status()
        self._publish_status()

    def _publish_result(self, result: PrioritizationResult, header: Any) -> None:
        pri = CausalPriorities(header=header, target=result.target, horizon=result.horizon, priorities=[
            VariablePriority(variable=p.variable, actionable=p.actionable, total_effect=p.total_effect,
                             total_effect_std=p.total_effect_std, weight=p.weight, is_ancestor=p.is_ancestor)
            for p in result.priorities])
        paths = self.online.predicted_paths(result.candidates)
        arr = InterventionArray(header=header, target=result.target, horizon=result.horizon, candidates=[
            Intervention(variable=c.variable, value=c.value, predicted_effect=c.predicted_effect,
                         predicted_effect_std=c.predicted_effect_std, rank=c.rank,
                         predicted_paths=[self._path_message(xy, header) for xy in people])
            for c, people in zip(result.candidates, paths)])
        self._pub_priorities.publish(pri)
        self._pub_interventions.publish(arr)
        self._pub_markers.publish(self._markers(result, header))

    def _path_message(self, xy: np.ndarray, header: Any) -> PathMsg:
        path = PathMsg()
        path.header.stamp = header.stamp
        path.header.frame_id = self.online.world.frame_id if self.online.world is not None else ""
        for x, y in xy:
            pose = PoseStamped(header=path.header)
            pose.pose.position.x, pose.pose.position.y = float(x), float(y)
            pose.pose.orientation.w = 1.0
            path.poses.append(pose)
        return path

    def _markers(self, result: PrioritizationResult, header: Any) -> MarkerArray:
        frame = str(self.get_parameter("marker_frame").value)
        clear = Marker(action=Marker.DELETEALL)
        clear.header.frame_id = frame
        out = MarkerArray(markers=[clear])
        for i, c in enumerate(result.candidates[: int(self.get_parameter("max_markers").value)]):
            m = Marker(type=Marker.TEXT_VIEW_FACING, action=Marker.ADD, ns="causal_interventions", id=i)
            m.header.frame_id, m.header.stamp = frame, header.stamp
            m.pose.position.z, m.pose.orientation.w, m.scale.z = 1.6 + 0.25 * i, 1.0, 0.18
            m.color.a, m.color.g = 1.0, 1.0 if i == 0 else 0.8
            m.color.r = m.color.b = 0.2 if i == 0 else 0.8
            m.text = (f"{c.rank}. do({c.variable}={c.value:.2f}) -> d{result.target} "
                      f"{c.predicted_effect:+.2f}+/-{c.predicted_effect_std:.2f} in {result.horizon} steps")
            out.markers.append(m)
        return out

    def _publish_status(self) -> None:
        level, message, extra = self._status
        level, message = input_health(level, message, self.inputs, {"graphs": "/causal/graph",
                                                                    "frames": "/causal/variables"})
        values: dict[str, Any] = {"target": self.online.config.target, "bad_messages": self._bad_messages,
                                  **self.online.counters(), **self.inputs.counters()}
        if self._latencies:
            lat = np.array(self._latencies) * 1e3
            values.update(latency_ms_last=lat[-1], latency_ms_mean=lat.mean(), latency_ms_max=lat.max())
        self._diagnostics.publish(level, message, {**values, **extra})


def main(args: list | None = None) -> None:
    run_node(PrioritizerNode, args)


if __name__ == "__main__":
    main()
