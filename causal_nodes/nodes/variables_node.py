"""Variables node: sensor and people topics in, ``causal_msgs/VariableFrame`` on a fixed-rate grid out.

Subscribes (best-effort, so reliable and best-effort publishers both match): ``/people``
(geometry_msgs/PoseArray) or per-person ``nav_msgs/Odometry`` topics (``person_odom_topics``), ``/odom``,
``/scan``, ``/goal_pose``, and, when their variables are configured, ``/camera/image_raw`` and ``/imu``.
Geometric inputs honour their ``header.frame_id``: people, goal and odometry given in another frame than
``frame_id`` (the world frame) are transformed into it through TF (:class:`causal_nodes.nodes.tf.FrameLookup`:
tf2_ros where installed, else ``/tf``, ``/tf_static`` and the odometry's own ``odom -> base_link``); a message
whose frame has no transform yet is dropped and counted (``no_transform_<input>``).
Service ``~/reset`` (std_srvs/Trigger) forgets every input and person track and starts the grid again.
All computation is in :class:`causal_nodes.variables.extractor.VariableExtractor`; this node converts messages,
publishes ``/causal/variables`` (each frame numbered in ``sequence``, so subscribers can count losses) and
reports on ``/diagnostics``: inputs dropped and time resets by name, inputs silent for longer than
``stale_after_s`` (STALE when all are), and the variables that have had no value for as long (naming the input
they wait for). The extraction parameters apply at runtime (the extractor starts over with them).
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from geometry_msgs.msg import Point, PoseArray, PoseStamped
from nav_msgs.msg import Odometry
from rclpy.node import Node
from sensor_msgs.msg import Image, Imu, LaserScan
from std_srvs.srv import Trigger

from causal_msgs.msg import VariableFrame
from causal_nodes.nodes.common import (
    OK,
    SENSOR_QOS,
    STALE,
    STREAM_QOS,
    WARN,
    DiagnosticsPublisher,
    declare,
    monotonic,
    on_parameter_change,
    parameter_values,
    run_node,
    to_time_msg,
    topic_parameter,
    wall_timer,
)
from causal_nodes.nodes.tf import FrameLookup
from causal_nodes.variables import msg_adapters
from causal_nodes.variables.extractor import ALL_VARIABLES, DEFAULT_VARIABLES, VariableConfig, VariableExtractor
from causal_nodes.variables.frames import Transform
from causal_nodes.variables.stream_health import InputMonitor

# Input streams -> topics (relative: a namespace applies) and types.
TOPICS = {"people": "people", "odom": "odom", "scan": "scan", "goal": "goal_pose", "image": "camera/image_raw",
          "imu": "imu"}
MESSAGE_TYPES = {"people": PoseArray, "odom": Odometry, "scan": LaserScan, "goal": PoseStamped, "image": Image,
                 "imu": Imu}
# Parameter -> VariableConfig field, for the parameters that rebuild the extractor when set at runtime.
CONFIG_PARAMETERS = {"rate_hz": "rate_hz", "variables": "variables", "person": "person",
                     "max_input_age_s": "max_input_age_s", "time_jump_reset_s": "time_jump_reset_s",
                     "tracker_gate_m": "tracker_gate_m", "max_forward_jump_s": "max_forward_jump_s",
                     "max_gap_fill_s": "max_gap_fill_s", "max_people": "max_people"}


class VariablesNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("variables_node", **kwargs)
        declare(self, "variables", list(DEFAULT_VARIABLES),
                "Variables to compute, in order; known: " + ", ".join(ALL_VARIABLES))
        declare(self, "rate_hz", 10.0, "Rate of the output grid [Hz]", float_range=(0.1, 1000.0))
        declare(self, "person", "nearest", "Person described: 'nearest' to the robot, or a track id")
        declare(self, "max_input_age_s", 0.5,
                "Hold an input this long past its newest sample before its variables are NaN [s]",
                float_range=(0.01, 60.0))
        declare(self, "time_jump_reset_s", 1.0,
                "A stamp this far back in time restarts the extractor (looping bag) [s]", float_range=(0.001, 3600.0))
        declare(self, "tracker_gate_m", 1.0,
                "Largest move of a person between two messages still taken as the same person [m]",
                float_range=(0.01, 100.0))
        declare(self, "max_forward_jump_s", 10.0,
                "A stamp this far ahead of all inputs is dropped as an outlier; 3 in a row restart the extractor [s]",
                float_range=(0.01, 1e6))
        declare(self, "max_gap_fill_s", 2.0,
                "A silence of every input longer than this is not filled with frames: the grid restarts after it [s]",
                float_range=(0.01, 3600.0))
        declare(self, "max_people", 50, "People used per PoseArray: the nearest to the robot", int_range=(1, 10000))
        self.frame_id = declare(self, "frame_id", "odom", "World frame of the geometric variables")
        self.stale_after_s = declare(self, "stale_after_s", 5.0,
                                     "An input silent this long is reported; all of them silent: STALE [s, wall]",
                                     float_range=(0.1, 3600.0))
        self.frames = FrameLookup(self, cache_s=declare(self, "tf_cache_s", 10.0,
                                                        "Transforms kept for looking up input frames [s]",
                                                        float_range=(0.1, 600.0), read_only=True),
                                  max_frames=declare(self, "tf_max_frames", 1000,
                                                     "Frames the built-in transform tree keeps (names come from the "
                                                     "input: odometry child frames, /tf); a new one beyond it is "
                                                     "dropped and counted unless an expired frame can go",
                                                     int_range=(1, 100000), read_only=True))
        self.person_topics = [t for t in declare(
            self, "person_odom_topics", [""],
            "Per-person nav_msgs/Odometry topics instead of /people ([''] = use /people)", read_only=True) if t]
        for topic in self.person_topics:
            topic_parameter(self, "person_odom_topics", topic)
        try:
            self.config = self._config_from(parameter_values(self, CONFIG_PARAMETERS))
        except ValueError as error:  # checked at start-up, not at the first message
            raise ValueError(f"{self.get_name()}: parameter {error}") from None
        self.extractor = VariableExtractor(self.config)
        self._earlier_counters: Counter = Counter()  # of extractors replaced by a runtime reconfiguration
        self.reconfigurations = 0
        self.malformed: dict[str, int] = {}
        self._person_latest: dict[str, tuple[float, np.ndarray]] = {}
        self._resets_reported = 0
        self.frames_published = 0

        self.publisher = self.create_publisher(VariableFrame, "causal/variables", STREAM_QOS)
        self.diagnostics = DiagnosticsPublisher(self)
        self._subscribed: set[str] = set()
        self.inputs = InputMonitor((), self.stale_after_s, monotonic())
        self._follow_inputs()
        wall_timer(self, 1.0, self._publish_diagnostics)
        self.create_service(Trigger, "~/reset", self._on_reset)
        on_parameter_change(self, self._apply_parameters)

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.extractor.reset()
        self._person_latest.clear()
        response.success, response.message = True, "inputs and person tracks forgotten; the grid starts again"
        self.get_logger().info(response.message)
        return response

    def _to_world(self, frame: str, stamp: float) -> Transform | None:
        """world <- ``frame`` at ``stamp`` (None when ``frame`` is the world frame or unset)."""
        if not frame or frame == self.frame_id:
            return None
        try:
            return self.frames.lookup(self.frame_id, frame, stamp)
        except LookupError as error:
            raise msg_adapters.FrameUnavailable(f"no transform {frame} -> {self.frame_id}: {error}") from None

    # ---- parameters -------------------------------------------------------------------------------------------
    @staticmethod
    def _config_from(values: dict[str, Any]) -> VariableConfig:
        fields = {CONFIG_PARAMETERS[name]: value for name, value in values.items()}
        fields["variables"] = tuple(fields["variables"])
        return VariableConfig(**fields)

    def _apply_parameters(self, changes: dict[str, Any]) -> None:
        """Checks the new values together (ValueError: rejected), then applies them."""
        config = self._config_from(parameter_values(self, CONFIG_PARAMETERS, changes))
        stale_after_s = changes.get("stale_after_s", self.stale_after_s)
        InputMonitor((), stale_after_s, 0.0)  # validates
        self.frame_id = changes.get("frame_id", self.frame_id)
        self.stale_after_s = stale_after_s
        if config != self.config:
            self._earlier_counters.update(self.extractor.counters())
            self.config = config
            self.extractor = VariableExtractor(config)
            self.reconfigurations += 1
        self._follow_inputs()

    def _follow_inputs(self) -> None:
        """Subscriptions and input monitoring for the streams the configured variables read."""
        streams = list(self.config.streams())
        for kind in ["people", "odom", "scan", "goal"] + [k for k in ("image", "imu") if k in streams]:
            if kind in self._subscribed:
                continue
            if kind == "people" and self.person_topics:
                for topic in self.person_topics:
                    self.create_subscription(Odometry, topic, lambda m, t=topic: self._on_person_odom(t, m),
                                             SENSOR_QOS)
            else:
                self.create_subscription(MESSAGE_TYPES[kind], TOPICS[kind], lambda m, k=kind: self._feed(k, m),
                                         SENSOR_QOS)
            self._subscribed.add(kind)
        previous = self.inputs.streams
        self.inputs = InputMonitor(streams, self.stale_after_s, self.inputs.started, events=("goal",))
        for name, health in previous.items():
            if name in self.inputs.streams:
                self.inputs.streams[name] = health

    # ---- inputs -----------------------------------------------------------------------------------------------
    def _feed(self, kind: str, msg) -> None:
        if kind in self.inputs.streams:
            self.inputs.arrived(kind, monotonic())
        if kind == "odom":
            self.frames.add_odometry(msg)
        try:
            msg_adapters.feed(self.extractor, kind, msg, self._to_world)
        except (ValueError, msg_adapters.FrameUnavailable) as error:  # unusable message: count it, keep going
            key = f"{'no_transform' if isinstance(error, LookupError) else 'malformed'}_{kind}"
            self.malformed[key] = self.malformed.get(key, 0) + 1
            self.get_logger().warning(f"{kind}: {error}", throttle_duration_sec=5.0)
            return
        self._publish_frames()

    def _on_person_odom(self, topic: str, msg: Odometry) -> None:
        """Per-person odometry: the newest position of every person becomes one people observation."""
        self.inputs.arrived("people", monotonic())
        try:
            stamp, x, y, *_ = msg_adapters.odometry_values(msg)
            if (transform := self._to_world(msg.header.frame_id.lstrip("/"), stamp)) is not None:
                x, y = transform.apply(np.array([[x, y]]))[0]
        except (AttributeError, msg_adapters.FrameUnavailable) as error:
            key = f"{'no_transform' if isinstance(error, LookupError) else 'malformed'}_people"
            self.malformed[key] = self.malformed.get(key, 0) + 1
            self.get_logger().warning(f"{topic}: {error}", throttle_duration_sec=5.0)
            return
        self._person_latest[topic] = (stamp, np.array([x, y]))
        current = [xy for t, xy in self._person_latest.values() if abs(stamp - t) <= self.config.max_input_age_s]
        self.extractor.add_people(stamp, np.array(current).reshape(-1, 2))
        self._publish_frames()

    def _publish_frames(self) -> None:
        for sample in self.extractor.poll():
            x, y = sample.subject_xy if sample.subject_xy is not None else (float("nan"), float("nan"))
            msg = VariableFrame(names=sample.names, values=[float(v) for v in sample.values],
                                subject_id=sample.subject_id, subject_position=Point(x=x, y=y, z=0.0),
                                sequence=self.frames_published)
            msg.header.stamp = to_time_msg(sample.stamp)
            msg.header.frame_id = self.frame_id
            self.publisher.publish(msg)
            self.frames_published += 1
        if self.extractor.resets != self._resets_reported:
            self._resets_reported = self.extractor.resets
            self.get_logger().warning(
                "time reset: " + ", ".join(f"{k} x{v}" for k, v in self.extractor.reset_reasons.items())
                + f" ({self.extractor.frames_skipped} grid frames skipped in gaps)", throttle_duration_sec=2.0)

    # ---- diagnostics ------------------------------------------------------------------------------------------
    def counters(self) -> dict[str, Any]:
        counters: Counter = Counter(self._earlier_counters)
        counters.update(self.extractor.counters())
        out: dict[str, Any] = dict(counters)
        out["tracks"] = self.extractor.counters()["tracks"]
        out.update(self.malformed)
        out.update(self.inputs.counters())
        out.update(self.frames.counters())
        out.update(frames_published=self.frames_published, reconfigurations=self.reconfigurations,
                   tf_backend=self.frames.backend)
        return out

    def status(self) -> tuple[int, str]:
        """(level, sentence): STALE when every input is silent, WARN naming silent inputs and value-less variables."""
        now = monotonic()
        stale = self.inputs.stale(now)
        watched = [name for name in self.inputs.streams if name not in self.inputs.events]
        topics = {kind: self._topic(kind) for kind in TOPICS}
        silent = self.inputs.describe_stale(now, topics)
        if watched and len(stale) == len(watched):
            return STALE, f"no input: {silent}"
        problems = [silent] if silent else []
        blocking = self.extractor.blocking_variables(max(1, int(self.stale_after_s * self.config.rate_hz)))
        left_out = self.extractor.left_out() if self.frames_published else []
        if left_out:
            problems.append("left out, never published: " + ", ".join(
                f"{name} (needs {', '.join(topics[k] for k in self.extractor.inputs_of(name))})" for name in left_out))
        if blocking:
            problems.append("no value for " + ", ".join(
                f"{name} (needs {', '.join(topics[k] for k in self.extractor.inputs_of(name))})" for name in blocking))
        if not self.frames_published:
            problems.insert(0, "no frames yet: waiting for " + ", ".join(topics[k] for k in self.config.streams()))
        if problems:
            return WARN, "; ".join(problems)
        dropped = sum(v for k, v in self.counters().items()
                      if k.startswith(("dropped_", "malformed_", "no_transform_")))
        return OK, f"{self.frames_published} frames, {dropped} inputs dropped, {self.extractor.resets} time resets"

    def _topic(self, kind: str) -> str:
        """The full name of an input's topic (relative names resolve in the node's namespace)."""
        return f"{self.get_namespace().rstrip('/')}/{TOPICS[kind]}"

    def _publish_diagnostics(self) -> None:
        level, message = self.status()
        self.diagnostics.publish(level, message, self.counters())


def main(args=None) -> None:
    run_node(VariablesNode, args)


if __name__ == "__main__":
    main()
