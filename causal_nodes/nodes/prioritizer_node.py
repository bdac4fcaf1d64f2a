"""ROS 2 node: causal priorities and ranked do()-interventions for a target, on every discovered graph.

Subscribes ``/causal/graph`` (causal_msgs/CausalGraph, reliable + transient local, depth 1) and
``/causal/variables`` (causal_msgs/VariableFrame, kept as a bounded window of recent frames); on each graph
it runs :func:`causal_nodes.prioritization.prioritize` on the window and publishes
``/causal/priorities`` (CausalPriorities) and ``/causal/interventions`` (InterventionArray), both transient
local so late subscribers get the latest, text markers of the top candidates on
``/causal/intervention_markers`` and a status on ``/diagnostics`` (unknown target → ERROR listing the known
variables, empty graph → WARN, latency from graph arrival to publication).

It also subscribes ``/odom`` and ``/people`` (sensor-data QoS): with ``effect_model: kinematic`` (default) the
robot pose and the nearest person start the hybrid model in which commands move the robot by its kinematics
(:mod:`causal_nodes.prioritization.kinematics`); without them it falls back to the linear SEM with a WARN.
With ``world_model_path`` set it also streams them into the world model
(:mod:`causal_nodes.world_model.stream`) and fills each candidate's ``predicted_paths`` (one nav_msgs/Path
per person, world frame) for candidates on ``robot_linear_speed`` / ``robot_angular_speed`` with one batched
``rollout``.

The node only converts messages; all computation is in the ROS-free core.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseArray, PoseStamped
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
from rcl_interfaces.msg import SetParametersResult
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
from causal_nodes.nodes.common import LATCHED_QOS, SENSOR_QOS, STREAM_QOS, declare, run_node, stamp_seconds
from causal_nodes.prioritization import PrioritizationResult, PrioritizerConfig, prioritize
from causal_nodes.prioritization.graph import UNDIRECTED_POLICIES
from causal_nodes.prioritization.kinematics import EFFECT_MODELS, PERSON_MOTIONS
from causal_nodes.prioritization.lagged_sem import LOCAL_WEIGHTINGS
from causal_nodes.prioritization.prioritizer import GOALS, SPACINGS
from causal_nodes.prioritization.scene_tracker import SceneTracker
from causal_nodes.prioritization.world_paths import candidate_actions, predicted_world_paths

STATUS_NAME = "causal_prioritizer"


class PrioritizerNode(Node):
    """Thin wrapper: window of VariableFrames + latest CausalGraph → priorities, interventions, markers."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("causal_prioritizer", **kwargs)
        declare(self, "target", "human_robot_distance", "variable whose causal drivers are ranked")
        declare(
            self,
            "actionable",
            ["robot_linear_speed", "robot_angular_speed"],
            "variables the robot can set; candidate interventions are built for these",
        )
        declare(self, "horizon", 10, "prediction horizon in samples of the variable grid", int_range=(1, 1000))
        declare(self, "goal", "maximize", "rank interventions to maximize or minimize the target", choices=GOALS)
        declare(self, "bootstrap", 100, "block-bootstrap replicas for the uncertainty", int_range=(0, 2000))
        declare(self, "candidate_values", 5, "candidate values per actionable variable", int_range=(1, 100))
        declare(self, "risk_aversion", 1.0, "score = s * effect - risk_aversion * std", float_range=(0.0, 10.0))
        declare(self, "window_size", 500, "VariableFrames kept for fitting", int_range=(20, 100000))
        declare(self, "undirected", "orient", "treatment of lag-0 o-o links", choices=UNDIRECTED_POLICIES)
        declare(
            self,
            "local_weighting",
            "state",
            "SEM fit: 'none' (global), 'state' (around the current state), 'recent' (newest samples)",
            choices=LOCAL_WEIGHTINGS,
        )
        declare(self, "local_span", 0.3, "fraction of the window a local fit uses", float_range=(0.05, 1.0))
        declare(
            self,
            "effect_model",
            "kinematic",
            "how robot commands act on the distance and collision risk: 'kinematic' (unicycle + geometry inside "
            "the learned SEM; needs /odom and /people) or 'linear' (SEM only)",
            choices=EFFECT_MODELS,
        )
        declare(
            self, "person_motion", "constant_velocity",
            "the person in the kinematic model: 'constant_velocity' or 'sem' (speed and turning from the SEM)",
            choices=PERSON_MOTIONS,
        )
        declare(
            self, "candidate_spacing", "even",
            "candidate values: 'even' over the 5..95 % range of the window, or the window's 'quantile's",
            choices=SPACINGS,
        )
        declare(self, "max_markers", 3, "top candidates shown as RViz text markers", int_range=(0, 50))
        declare(self, "marker_frame", "base_link", "frame of the intervention text markers")
        declare(self, "seed", 0, "seed of the block bootstrap", int_range=(0, 2**31 - 1))
        declare(
            self,
            "world_model_path",
            "",
            "world-model step ONNX (metadata JSON beside it) for predicted_paths; '' = no world model",
            read_only=True,
        )
        declare(
            self, "world_model_horizon", 12, "world-model steps of the predicted paths", int_range=(1, 100),
            read_only=True,
        )
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._frames: deque = deque(maxlen=int(self.get_parameter("window_size").value))
        self._frame_names: list[str] = []
        self._graph: CausalGraph | None = None
        self._graph_received = 0.0
        self._graph_pending = False
        self._bad_messages = 0
        self._latencies: deque = deque(maxlen=100)
        self._status = (DiagnosticStatus.WARN, "waiting for a causal graph", {})
        self._world: Any | None = None  # WorldModelStream when a world model is configured
        self._world_error = ""
        self._world_pose: tuple | None = None  # robot pose (x, y, yaw) at the model's last step
        self._world_frame = ""
        self._odom: Odometry | None = None
        self._scene = SceneTracker()
        self._frame_stamps: deque = deque(maxlen=50)
        self._init_world_model()

        self._pub_priorities = self.create_publisher(CausalPriorities, "causal/priorities", LATCHED_QOS)
        self._pub_interventions = self.create_publisher(InterventionArray, "causal/interventions", LATCHED_QOS)
        self._pub_markers = self.create_publisher(MarkerArray, "causal/intervention_markers", LATCHED_QOS)
        self._pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(CausalGraph, "causal/graph", self._on_graph, LATCHED_QOS)
        self.create_subscription(VariableFrame, "causal/variables", self._on_frame, STREAM_QOS)
        # The robot pose and the people now: start of the kinematic effect model and of world-model rollouts.
        self.create_subscription(PoseArray, "people", self._on_people, SENSOR_QOS)
        self.create_subscription(Odometry, "odom", self._on_odom, SENSOR_QOS)
        self.create_timer(1.0, self._publish_status)

    # ------------------------------------------------------------------ optional world model
    def _init_world_model(self) -> None:
        """Load the world model if ``world_model_path`` is set; a failure is reported, never fatal."""
        path = str(self.get_parameter("world_model_path").value)
        if not path:
            return
        try:
            from causal_nodes.world_model.runtime import WorldModel
            from causal_nodes.world_model.stream import WorldModelStream

            model = WorldModel(path)
            horizon = min(int(self.get_parameter("world_model_horizon").value), model.horizon_max)
            self._world = WorldModelStream(model, horizon)
        except Exception as exc:  # missing file, bad metadata, no onnxruntime: run without paths
            self._world_error = f"world model {path!r} not loaded: {type(exc).__name__}: {exc}"
            self.get_logger().warning(self._world_error)

    def _on_odom(self, msg: Odometry) -> None:
        p, v = msg.pose.pose.position, msg.twist.twist
        try:
            if not all(math.isfinite(x) for x in (p.x, p.y, v.linear.x, v.angular.z)):
                raise ValueError("non-finite odometry")
            self._scene.update_odometry(stamp_seconds(msg.header.stamp), p.x, p.y, _yaw(msg.pose.pose.orientation))
        except ValueError:
            self._bad_messages += 1
            return
        self._odom = msg

    def _on_people(self, msg: PoseArray) -> None:
        people = [(p.position.x, p.position.y) for p in msg.poses]
        try:
            self._scene.update_people(stamp_seconds(msg.header.stamp), people)
        except ValueError:
            self._bad_messages += 1
            return
        if self._world is None or self._odom is None:
            return
        o = self._odom.pose.pose
        pose = (o.position.x, o.position.y, _yaw(o.orientation))
        twist = self._odom.twist.twist
        try:
            stepped = self._world.update(
                stamp_seconds(msg.header.stamp), list(range(len(people))), people, pose,
                (twist.linear.x, twist.angular.z),
            )
        except ValueError as exc:
            self._bad_messages += 1
            self._world_error = f"world model input rejected: {exc}"
            return
        if stepped is not None:
            self._world_pose = pose
            self._world_frame = msg.header.frame_id or self._odom.header.frame_id

    def _predicted_paths(self, result: PrioritizationResult, header: Any) -> list:
        """nav_msgs/Path lists per candidate (empty lists without a world model or for non-action variables)."""
        paths: list = [[] for _ in result.candidates]
        if self._world is None or self._world_pose is None or self._odom is None:
            return paths
        twist = self._odom.twist.twist
        try:
            actions, index = candidate_actions(result.candidates, (twist.linear.x, twist.angular.z))
            predicted = predicted_world_paths(self._world.model, self._world.horizon, actions, self._world_pose)
        except Exception as exc:  # never raise in a callback
            self._world_error = f"world-model rollout failed: {type(exc).__name__}: {exc}"
            return paths
        for i, people in zip(index, predicted):
            for xy in people:
                path = PathMsg()
                path.header.stamp = header.stamp
                path.header.frame_id = self._world_frame
                for x, y in xy:
                    ps = PoseStamped(header=path.header)
                    ps.pose.position.x, ps.pose.position.y = float(x), float(y)
                    ps.pose.orientation.w = 1.0
                    path.poses.append(ps)
                paths[i].append(path)
        return paths

    # ------------------------------------------------------------------ parameters
    def _config(self, overrides: dict | None = None) -> PrioritizerConfig:
        get = lambda name: (overrides or {}).get(name, self.get_parameter(name).value)  # noqa: E731
        return PrioritizerConfig(
            horizon=int(get("horizon")),
            goal=str(get("goal")),
            bootstrap=int(get("bootstrap")),
            candidate_values=int(get("candidate_values")),
            risk_aversion=float(get("risk_aversion")),
            undirected=str(get("undirected")),
            local_weighting=str(get("local_weighting")),
            local_span=float(get("local_span")),
            effect_model=str(get("effect_model")),
            person_motion=str(get("person_motion")),
            candidate_spacing=str(get("candidate_spacing")),
            seed=int(get("seed")),
        )

    def _on_set_parameters(self, params: list) -> SetParametersResult:
        overrides = {p.name: p.value for p in params}
        try:
            self._config(overrides)
        except ValueError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        if "window_size" in overrides:
            self._frames = deque(self._frames, maxlen=int(overrides["window_size"]))
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ callbacks
    def _on_frame(self, msg: VariableFrame) -> None:
        if len(msg.names) != len(msg.values) or not msg.names:
            self._bad_messages += 1
            return
        names = list(msg.names)
        if names != self._frame_names:
            self._frame_names = names if not self._frame_names else self._merge_names(names)
        self._frames.append(dict(zip(names, msg.values)))
        self._frame_stamps.append(stamp_seconds(msg.header.stamp))
        if self._graph_pending and self._graph is not None and len(self._frames) >= self._min_samples(self._graph):
            self._compute()

    def _merge_names(self, names: list) -> list:
        return self._frame_names + [n for n in names if n not in self._frame_names]

    def _on_graph(self, msg: CausalGraph) -> None:
        self._graph = msg
        self._graph_received = time.perf_counter()
        if len(self._frames) >= self._min_samples(msg):
            self._compute()
        else:
            self._graph_pending = True
            self._set_status(
                DiagnosticStatus.WARN,
                f"graph received, waiting for {self._min_samples(msg)} variable frames (have {len(self._frames)})",
            )

    def _grid_period(self) -> float:
        """Period of the variable grid from the frames' stamps (median step; 0.1 s until two are seen)."""
        steps = np.diff(np.array(self._frame_stamps))
        steps = steps[steps > 0]
        return float(np.median(steps)) if steps.size else 0.1

    @staticmethod
    def _min_samples(graph: CausalGraph) -> int:
        max_lag = max([int(link.lag) for link in graph.links] + [int(graph.tau_max), 1])
        return 2 * max_lag + 10

    # ------------------------------------------------------------------ computation
    def _window(self, graph: CausalGraph) -> tuple[np.ndarray, list[str]]:
        names = list(dict.fromkeys(list(self._frame_names) + list(graph.variables)))
        data = np.array([[f.get(n, math.nan) for n in names] for f in self._frames], dtype=float)
        return data, names

    def _compute(self) -> None:
        graph = self._graph
        if graph is None:
            return
        self._graph_pending = False
        target = str(self.get_parameter("target").value)
        actionable = [str(a) for a in self.get_parameter("actionable").value]
        try:
            data, names = self._window(graph)
            config = self._config()
            newest = self._frame_stamps[-1] if self._frame_stamps else None
            scene = self._scene.scene(self._grid_period(), at=newest) if config.effect_model == "kinematic" else None
            result = prioritize(data, names, list(graph.links), target, actionable, config, scene=scene)
        except ValueError as exc:  # unknown target/actionable/variable, too short window: say why
            self._set_status(DiagnosticStatus.ERROR, str(exc))
            self._publish_status()
            return
        except Exception as exc:  # never raise in a callback; report instead
            self._bad_messages += 1
            self._set_status(DiagnosticStatus.ERROR, f"prioritization failed: {type(exc).__name__}: {exc}")
            self._publish_status()
            return
        self._publish_result(result, graph)
        latency = time.perf_counter() - self._graph_received
        self._latencies.append(latency)
        level = DiagnosticStatus.WARN if result.warnings else DiagnosticStatus.OK
        message = "; ".join(result.warnings) if result.warnings else (
            f"{len(result.candidates)} interventions for {target}" + (
                f", best do({result.candidates[0].variable}={result.candidates[0].value:.3g})"
                if result.candidates else ""
            )
        )
        extra = {
            "window_samples": str(data.shape[0]),
            "graph_links": str(len(graph.links)),
            "oriented_links": ", ".join(f"{s}->{t}" for s, t, _, _ in result.graph.oriented),
            "ignored_links": ", ".join(f"{s} {k} {t} (lag {lag})" for s, t, lag, k in result.graph.ignored),
            "compute_ms": f"{1e3 * result.seconds:.2f}",
        }
        self._set_status(level, message, extra)
        self._publish_status()

    def _publish_result(self, result: PrioritizationResult, graph: CausalGraph) -> None:
        header = graph.header
        pri = CausalPriorities(header=header, target=result.target, horizon=result.horizon)
        pri.priorities = [
            VariablePriority(
                variable=p.variable,
                actionable=p.actionable,
                total_effect=p.total_effect,
                total_effect_std=p.total_effect_std,
                weight=p.weight,
                is_ancestor=p.is_ancestor,
            )
            for p in result.priorities
        ]
        arr = InterventionArray(header=header, target=result.target, horizon=result.horizon)
        arr.candidates = [
            Intervention(
                variable=c.variable,
                value=c.value,
                predicted_effect=c.predicted_effect,
                predicted_effect_std=c.predicted_effect_std,
                rank=c.rank,
                predicted_paths=paths,
            )
            for c, paths in zip(result.candidates, self._predicted_paths(result, header))
        ]
        self._pub_priorities.publish(pri)
        self._pub_interventions.publish(arr)
        self._pub_markers.publish(self._markers(result, header))

    def _markers(self, result: PrioritizationResult, header: Any) -> MarkerArray:
        out = MarkerArray()
        clear = Marker(action=Marker.DELETEALL)
        clear.header.frame_id = str(self.get_parameter("marker_frame").value)
        out.markers.append(clear)
        for i, c in enumerate(result.candidates[: int(self.get_parameter("max_markers").value)]):
            m = Marker(type=Marker.TEXT_VIEW_FACING, action=Marker.ADD, ns="causal_interventions", id=i)
            m.header.frame_id = clear.header.frame_id
            m.header.stamp = header.stamp
            m.pose.position.z = 1.6 + 0.25 * i
            m.pose.orientation.w = 1.0
            m.scale.z = 0.18
            m.color.a = 1.0
            m.color.g = 1.0 if i == 0 else 0.8
            m.color.r = 0.2 if i == 0 else 0.8
            m.color.b = 0.2 if i == 0 else 0.8
            m.text = (
                f"{c.rank}. do({c.variable}={c.value:.2f}) -> d{result.target} "
                f"{c.predicted_effect:+.2f}+/-{c.predicted_effect_std:.2f} in {result.horizon} steps"
            )
            out.markers.append(m)
        return out

    # ------------------------------------------------------------------ diagnostics
    def _set_status(self, level: int, message: str, extra: dict | None = None) -> None:
        self._status = (level, message, extra or {})

    def _publish_status(self) -> None:
        level, message, extra = self._status
        values = {
            "target": str(self.get_parameter("target").value),
            "bad_messages": str(self._bad_messages),
            "window_frames": str(len(self._frames)),
        }
        if self._latencies:
            lat = np.array(self._latencies) * 1e3
            values.update(
                latency_ms_last=f"{lat[-1]:.2f}", latency_ms_mean=f"{lat.mean():.2f}", latency_ms_max=f"{lat.max():.2f}"
            )
        values.update(extra)
        if self._world is not None or self._world_error:
            values["world_model"] = "loaded" if self._world is not None else "off"
        if self._world_error:
            values["world_model_error"] = self._world_error
        status = DiagnosticStatus(level=level, name=STATUS_NAME, message=message, hardware_id="causal_nodes")
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        diag = DiagnosticArray(status=[status])
        diag.header.stamp = self.get_clock().now().to_msg()
        self._pub_diag.publish(diag)


def _yaw(q: Any) -> float:
    """Yaw of a quaternion (rotation about z, REP 103)."""
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def main(args: list | None = None) -> None:
    run_node(PrioritizerNode, args)


if __name__ == "__main__":
    main()
