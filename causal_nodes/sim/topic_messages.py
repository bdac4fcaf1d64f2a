"""What the simulator publishes, as ROS messages described by plain nested fields, without ROS.

Why plain fields: the simulator node publishes rclpy messages over DDS, while ``causal-nodes simulate --bag`` writes
the same topics straight into a bag (no middleware, far faster than real time). Describing each message as a
mapping of its ROS field names keeps this module free of rclpy and of any message package: the bag writer turns a
description into a typed message (:class:`causal_nodes.bags.message_fields.MessageBuilder`), and a test compares it
field by field with what the running simulator node records, so the two cannot drift apart.

Topics, types and order within a step follow ``causal_nodes/nodes/sim_node.py``: ``/clock`` first, then (physical
scenarios) ``/people``, ``/odom``, ``/scan``, ``/imu``, ``/goal_pose``, ``/camera/image_raw`` (optional),
``/sim/true_variables``; SCM scenarios publish ``/causal/variables``. The moving frames (:mod:`.frames`: robot and
people) go on ``/tf`` at every step of a physical scenario; ``/sim/ground_truth`` and the fixed frames on
``/tf_static`` go out once, at the start. Stamps are ``time_offset_s + sim.time`` (ROS reads time 0 as unset).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from causal_nodes.geometry import yaw_to_quaternion
from causal_nodes.variables.frames import Transform
from causal_nodes.variables.msg_adapters import seconds_to_sec_nanosec

from .frames import ROBOT_FRAME, dynamic_transforms, static_transforms
from .physical import PhysicalSimulator
from .scenario import Scenario
from .scm import SCMSimulator
from .truth_variables import sensed_variables, state_variables

Fields = dict[str, Any]

CLOCK = ("/clock", "rosgraph_msgs/msg/Clock")
GROUND_TRUTH = ("/sim/ground_truth", "causal_msgs/msg/CausalGraph")
PHYSICAL_TOPICS: dict[str, str] = {
    "/people": "geometry_msgs/msg/PoseArray",
    "/odom": "nav_msgs/msg/Odometry",
    "/scan": "sensor_msgs/msg/LaserScan",
    "/imu": "sensor_msgs/msg/Imu",
    "/goal_pose": "geometry_msgs/msg/PoseStamped",
    "/camera/image_raw": "sensor_msgs/msg/Image",
    "/sim/true_variables": "causal_msgs/msg/VariableFrame",
}
SCM_TOPICS: dict[str, str] = {"/causal/variables": "causal_msgs/msg/VariableFrame"}
TF = ("/tf", "tf2_msgs/msg/TFMessage")
TF_STATIC = ("/tf_static", "tf2_msgs/msg/TFMessage")
LATCHED_TOPICS = frozenset({GROUND_TRUTH[0], TF_STATIC[0]})
"""Topics the node publishes transient-local (a late subscriber still gets them)."""


def time_fields(seconds: float) -> Fields:
    sec, nanosec = seconds_to_sec_nanosec(seconds)
    return {"sec": sec, "nanosec": nanosec}


NO_POSITION: Fields = {"x": math.nan, "y": math.nan, "z": math.nan}
"""``subject_position`` of a frame that describes no person (an SCM frame)."""


def point_fields(x: float, y: float) -> Fields:
    return {"x": float(x), "y": float(y), "z": 0.0}


def pose_fields(x: float, y: float, yaw: float) -> Fields:
    qx, qy, qz, qw = yaw_to_quaternion(float(yaw))
    return {"position": {"x": float(x), "y": float(y), "z": 0.0},
            "orientation": {"x": qx, "y": qy, "z": qz, "w": qw}}


def transforms_fields(transforms: list[Transform]) -> Fields:
    """``tf2_msgs/TFMessage`` fields of ``transforms``."""
    return {"transforms": [
        {"header": {"stamp": time_fields(t.stamp), "frame_id": t.parent}, "child_frame_id": t.child,
         "transform": {"translation": dict(zip("xyz", (float(v) for v in t.translation))),
                       "rotation": dict(zip("xyzw", (float(v) for v in t.rotation)))}}
        for t in transforms]}


class SimMessages:
    """Describes the messages of a scenario's simulator at its current step.

    ``camera``: include ``/camera/image_raw`` (the node's ``publish_camera``; images make a bag ~40x larger);
    ``true_variables``: include ``/sim/true_variables`` (the node's ``publish_true_variables``).
    """

    def __init__(self, scenario: Scenario, sim: PhysicalSimulator | SCMSimulator, time_offset_s: float = 1.0,
                 frame_id: str = "odom", camera: bool = False, true_variables: bool = True) -> None:
        self.scenario = scenario
        self.sim = sim
        self.time_offset_s = float(time_offset_s)
        self.frame_id = frame_id
        self._physical = sim if isinstance(sim, PhysicalSimulator) else None
        self.physical = self._physical is not None
        self.camera = camera and self._physical is not None and self._physical.config.camera.enabled
        self.true_variables = true_variables

    @property
    def robot_sim(self) -> PhysicalSimulator:
        """The physical simulator (only for physical scenarios)."""
        if self._physical is None:
            raise ValueError(f"scenario {self.scenario.name!r} is not a physical scenario")
        return self._physical

    @property
    def stamp_s(self) -> float:
        return self.time_offset_s + self.sim.time

    def topics(self) -> dict[str, str]:
        """Topic -> type of everything :meth:`step` and :meth:`ground_truth` produce."""
        out = dict([CLOCK, GROUND_TRUTH, TF_STATIC])
        if self._physical is None:
            out.update(SCM_TOPICS)
            return out
        out[TF[0]] = TF[1]
        for topic, msgtype in PHYSICAL_TOPICS.items():
            if topic == "/scan" and not self._physical.config.scan.enabled:
                continue
            if (topic == "/camera/image_raw" and not self.camera) or (
                    topic == "/sim/true_variables" and not self.true_variables):
                continue
            out[topic] = msgtype
        return out

    def header(self, frame_id: str | None = None) -> Fields:
        return {"stamp": time_fields(self.stamp_s), "frame_id": self.frame_id if frame_id is None else frame_id}

    # ---- one step ---------------------------------------------------------------------------------------------
    def step(self) -> list[tuple[str, Fields]]:
        """``(topic, fields)`` of the current state, in the order the node publishes them."""
        out: list[tuple[str, Fields]] = [(CLOCK[0], {"clock": time_fields(self.stamp_s)})]
        if self._physical is None:
            assert isinstance(self.sim, SCMSimulator)
            names, values = self.sim.frame()
            out.append(("/causal/variables", {"header": self.header(), "names": list(names),
                                              "values": [float(v) for v in values], "subject_id": "",
                                              "subject_position": NO_POSITION}))
            return out
        sim = self._physical
        out.append((TF[0], transforms_fields(dynamic_transforms(sim, self.stamp_s, self.frame_id))))
        out += [("/people", self.people()), ("/odom", self.odometry())]
        if sim.scan_ranges is not None:
            out.append(("/scan", self.scan()))
        out.append(("/imu", self.imu()))
        goal = sim.person_goals()[sim.subject]
        out.append(("/goal_pose", {"header": self.header(), "pose": pose_fields(goal[0], goal[1], 0.0)}))
        if self.camera and sim.image is not None:
            out.append(("/camera/image_raw", self.image()))
        if self.true_variables:
            truth = state_variables(sim)
            names = sensed_variables(sim.config)  # every variable the sensors support, as the node publishes
            out.append(("/sim/true_variables", {"header": self.header(), "names": names,
                                                "values": [float(truth[n]) for n in names],
                                                "subject_id": str(sim.subject),
                                                "subject_position": point_fields(*sim.positions[sim.subject])}))
        return out

    def people(self) -> Fields:
        sim = self.robot_sim
        headings = np.arctan2(sim.velocities[:, 1], sim.velocities[:, 0])
        return {"header": self.header(), "poses": [pose_fields(x, y, h) for (x, y), h in zip(sim.positions, headings)]}

    def odometry(self) -> Fields:
        sim = self.robot_sim
        return {"header": self.header(), "child_frame_id": "base_link",
                "pose": {"pose": pose_fields(*sim.robot_pose)},
                "twist": {"twist": {"linear": {"x": float(sim.robot_speed)},
                                    "angular": {"z": float(sim.robot_yaw_rate)}}}}

    def scan(self) -> Fields:
        sim = self.robot_sim
        scan = sim.config.scan
        ranges = np.zeros(0) if sim.scan_ranges is None else sim.scan_ranges
        increment = (scan.angle_max - scan.angle_min) / max(scan.beams - 1, 1)
        return {"header": self.header("base_laser"), "angle_min": float(scan.angle_min),
                "angle_max": float(scan.angle_max), "angle_increment": float(increment), "time_increment": 0.0,
                "scan_time": float(sim.dt), "range_min": float(scan.range_min),
                "range_max": float(scan.range_max), "ranges": ranges.astype(np.float32)}

    def imu(self) -> Fields:
        sim = self.robot_sim
        x, y, z, w = yaw_to_quaternion(float(sim.robot_pose[2]))
        return {"header": self.header("base_link"), "orientation": {"x": x, "y": y, "z": z, "w": w},
                "angular_velocity": {"z": float(sim.imu.yaw_rate)},
                "linear_acceleration": {"x": float(sim.imu.linear_acceleration_x),
                                        "y": float(sim.imu.linear_acceleration_y), "z": 9.81}}

    def image(self) -> Fields:
        image = self.robot_sim.image
        if image is None:
            raise ValueError("the simulator has no camera image (camera disabled)")
        height, width = image.shape[:2]
        return {"header": self.header("camera"), "height": height, "width": width, "encoding": "rgb8",
                "is_bigendian": 0, "step": width * 3, "data": np.frombuffer(image.tobytes(), np.uint8)}

    # ---- once -------------------------------------------------------------------------------------------------
    def static_frames(self) -> Fields:
        """The fixed frames as the node latches them on ``/tf_static``: the sensor mounts (physical scenarios), or
        the SCM's frame pinned to ``base_link`` so that its graph markers resolve."""
        stamp = self.time_offset_s
        transforms = (static_transforms(stamp) if self.physical
                      else [Transform(self.frame_id, ROBOT_FRAME, stamp=stamp)])
        return transforms_fields(transforms)

    def ground_truth(self) -> Fields:
        """The scenario's causal graph as the node latches it on ``/sim/ground_truth``."""
        scenario = self.scenario
        links = sorted(scenario.ground_truth(), key=lambda link: (link[1], link[0], link[2]))
        strengths: dict[tuple[str, str, int], float] = {}
        if scenario.scm is not None:
            strengths = {(link.source, link.target, link.lag): link.coefficient for link in scenario.scm.links}
        return {
            "header": self.header(), "variables": list(scenario.variables), "tau_min": 0,
            "tau_max": max((lag for _, _, lag in links), default=0), "method": "ground_truth", "test": "",
            "engine": "simulator", "pc_alpha": math.nan, "alpha_level": math.nan, "sample_count": 0,
            "compute_time": 0.0,
            "links": [{"source": s, "target": t, "lag": int(lag), "link_type": "-->",
                       "strength": float(strengths.get((s, t, lag), math.nan)), "p_value": 0.0}
                      for s, t, lag in links],
        }
