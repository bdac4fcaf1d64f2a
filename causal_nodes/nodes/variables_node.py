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
publishes ``/causal/variables`` and reports dropped inputs on ``/diagnostics``.
"""
from __future__ import annotations

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
    STREAM_QOS,
    WARN,
    DiagnosticsPublisher,
    declare,
    run_node,
    to_time_msg,
)
from causal_nodes.nodes.tf import FrameLookup
from causal_nodes.variables import msg_adapters
from causal_nodes.variables.extractor import ALL_VARIABLES, DEFAULT_VARIABLES, VariableConfig, VariableExtractor
from causal_nodes.variables.frames import Transform


class VariablesNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("variables_node", **kwargs)
        variables = declare(self, "variables", list(DEFAULT_VARIABLES),
                            "Variables to compute, in order; known: " + ", ".join(ALL_VARIABLES))
        self.config = VariableConfig(
            rate_hz=declare(self, "rate_hz", 10.0, "Rate of the output grid [Hz]", float_range=(0.1, 1000.0)),
            variables=tuple(variables),
            person=declare(self, "person", "nearest", "Person described: 'nearest' to the robot, or a track id"),
            max_input_age_s=declare(self, "max_input_age_s", 0.5,
                                    "Hold an input this long past its newest sample before its variables are NaN [s]",
                                    float_range=(0.01, 60.0)),
            time_jump_reset_s=declare(self, "time_jump_reset_s", 1.0,
                                      "A stamp this far back in time restarts the extractor (looping bag) [s]",
                                      float_range=(0.001, 3600.0)),
            tracker_gate_m=declare(self, "tracker_gate_m", 1.0,
                                   "Largest move of a person between two messages still taken as the same person [m]",
                                   float_range=(0.01, 100.0)),
        )
        self.frame_id = declare(self, "frame_id", "odom", "World frame of the geometric variables")
        self.frames = FrameLookup(self, cache_s=declare(self, "tf_cache_s", 10.0,
                                                        "Transforms kept for looking up input frames [s]",
                                                        float_range=(0.1, 600.0)))
        person_topics = [
            t
            for t in declare(
                self,
                "person_odom_topics",
                [""],
                "Per-person nav_msgs/Odometry topics instead of /people ([''] = use /people)",
            )
            if t
        ]
        self.extractor = VariableExtractor(self.config)
        self.malformed: dict[str, int] = {}
        self._person_latest: dict[str, tuple[float, np.ndarray]] = {}
        self.frames_published = 0

        self.publisher = self.create_publisher(VariableFrame, "causal/variables", STREAM_QOS)
        self.diagnostics = DiagnosticsPublisher(self)
        streams = set(self.config.streams())
        if person_topics:
            for topic in person_topics:
                self.create_subscription(Odometry, topic, lambda m, t=topic: self._on_person_odom(t, m), SENSOR_QOS)
        else:
            self.create_subscription(PoseArray, "people", lambda m: self._feed("people", m), SENSOR_QOS)
        self.create_subscription(Odometry, "odom", lambda m: self._feed("odom", m), SENSOR_QOS)
        self.create_subscription(LaserScan, "scan", lambda m: self._feed("scan", m), SENSOR_QOS)
        self.create_subscription(PoseStamped, "goal_pose", lambda m: self._feed("goal", m), SENSOR_QOS)
        if "image" in streams:
            self.create_subscription(Image, "camera/image_raw", lambda m: self._feed("image", m), SENSOR_QOS)
        if "imu" in streams:
            self.create_subscription(Imu, "imu", lambda m: self._feed("imu", m), SENSOR_QOS)
        self.create_timer(1.0, self._publish_diagnostics)
        self.create_service(Trigger, "~/reset", self._on_reset)

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

    def _feed(self, kind: str, msg) -> None:
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
        stamp, x, y, *_ = msg_adapters.odometry_values(msg)
        try:
            if (transform := self._to_world(msg.header.frame_id.lstrip("/"), stamp)) is not None:
                x, y = transform.apply(np.array([[x, y]]))[0]
        except msg_adapters.FrameUnavailable as error:
            self.malformed["no_transform_people"] = self.malformed.get("no_transform_people", 0) + 1
            self.get_logger().warn(f"{topic}: {error}", throttle_duration_sec=5.0)
            return
        self._person_latest[topic] = (stamp, np.array([x, y]))
        current = [xy for t, xy in self._person_latest.values() if stamp - t <= self.config.max_input_age_s]
        self.extractor.add_people(stamp, np.array(current).reshape(-1, 2))
        self._publish_frames()

    def _publish_frames(self) -> None:
        for sample in self.extractor.poll():
            x, y = sample.subject_xy if sample.subject_xy is not None else (float("nan"), float("nan"))
            msg = VariableFrame(names=sample.names, values=[float(v) for v in sample.values],
                                subject_id=sample.subject_id, subject_position=Point(x=x, y=y, z=0.0))
            msg.header.stamp = to_time_msg(sample.stamp)
            msg.header.frame_id = self.frame_id
            self.publisher.publish(msg)
            self.frames_published += 1

    def _publish_diagnostics(self) -> None:
        counters = self.extractor.counters()
        counters.update(self.malformed)
        counters["frames_published"] = self.frames_published
        counters["tf_backend"] = self.frames.backend
        problems = sum(v for k, v in counters.items() if k.startswith(("dropped_", "malformed_", "no_transform_")))
        level = OK if self.frames_published else WARN
        message = f"{self.frames_published} frames, {problems} inputs dropped"
        if not self.frames_published:
            message = "no frames yet: waiting for " + ", ".join(self.config.streams())
        self.diagnostics.publish(level, message, counters)


def main(args=None) -> None:
    run_node(VariablesNode, args)


if __name__ == "__main__":
    main()
