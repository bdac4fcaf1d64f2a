"""Simulator node: runs a scenario of :mod:`causal_nodes.sim` and publishes it like a robot would, on sim time.

Physical scenarios publish ``/clock`` (rosgraph_msgs/Clock), ``/people`` (geometry_msgs/PoseArray, one pose per
person in a stable order, yaw = direction of motion), ``/odom`` (nav_msgs/Odometry, odom -> base_link),
``/scan`` (sensor_msgs/LaserScan, frame base_laser), ``/camera/image_raw`` (sensor_msgs/Image rgb8, robot-centred
top-down view), ``/imu`` (sensor_msgs/Imu), ``/goal_pose`` (geometry_msgs/PoseStamped: the subject person's goal)
``/sim/true_variables`` (causal_msgs/VariableFrame computed from the simulator state: the values the
pipeline should reproduce) and, every ``plan_period_s`` of sim time, ``/local_plan`` (nav_msgs/Path in the world
frame, poses stamped ``dt`` apart: the robot controller's next ``plan_horizon_s``, as a local planner publishes its
plan; :mod:`causal_nodes.sim.plan`). SCM scenarios publish ``/clock`` and their samples as ``/causal/variables``.
Both publish ``/sim/ground_truth`` (causal_msgs/CausalGraph, transient local; links ``-->`` with their lag).
TF (``tf2_msgs/TFMessage``, computed by :mod:`causal_nodes.sim.frames`): ``odom -> base_link`` and
``odom -> person_<i>`` on ``/tf`` at every step, ``base_link -> base_laser`` and ``base_link -> camera`` on
``/tf_static``; an SCM scenario, which has no robot, pins ``base_link`` at the origin of ``odom`` (static) so that
the graph markers drawn above it resolve in RViz's ``odom`` fixed frame.

Subscribes ``/cmd_vel`` (geometry_msgs/Twist: drives the robot for ``command_timeout`` s, then the scenario's
controller takes over again) and ``/sim/do`` (causal_msgs/Intervention: ``do(variable = value)`` from now on for
``intervention_duration_s``). Bad messages are counted on ``/diagnostics``.

Another publisher on one of its output topics (a second simulator, a bag replay or a robot driver in the same
ROS_DOMAIN_ID) is reported on ``/diagnostics`` (WARN, ``foreign_publishers_<topic>``: the most seen at once):
subscribers cannot tell its messages from the simulator's, and two simulators' streams mixed turn into
out-of-order stamps, time resets and NaN frames downstream (measured: 540 of 1528 frames, ``docs/robustness.md``).

The node steps on a steady wall-clock timer (never on its own /clock), ``real_time_factor`` times real time,
or as fast as it can when that is 0.
"""
from __future__ import annotations

import math
import time

import numpy as np
from geometry_msgs.msg import Point, Pose, PoseArray, PoseStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import Image, Imu, LaserScan
from std_msgs.msg import Header

from causal_msgs.msg import CausalGraph, CausalLink, VariableFrame
from causal_msgs.msg import Intervention as InterventionMsg
from causal_nodes.geometry import yaw_to_quaternion
from causal_nodes.nodes.common import (
    LATCHED_QOS,
    OK,
    SENSOR_QOS,
    STREAM_QOS,
    WARN,
    DiagnosticsPublisher,
    declare,
    run_node,
    to_time_msg,
    topic_parameter,
)
from causal_nodes.nodes.tf import TfPublisher
from causal_nodes.sim import (
    Intervention,
    PhysicalSimulator,
    list_scenarios,
    load_scenario,
    state_variables,
)
from causal_nodes.sim.frames import CAMERA_FRAME, LASER_FRAME, ROBOT_FRAME, dynamic_transforms, static_transforms
from causal_nodes.sim.plan import robot_plan
from causal_nodes.sim.truth_variables import sensed_variables
from causal_nodes.variables.frames import Transform

# Sensor outputs: reliable publishers match both reliable and best-effort subscribers; small depth, since a
# stale sample is worth less than the next one.
OUTPUT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
FASTEST_PERIOD_S = 0.0005
_NO_POSITION = Point(x=math.nan, y=math.nan, z=math.nan)  # an SCM frame describes no person
"""Timer period when ``real_time_factor`` is 0 (as fast as possible): one step per timer callback."""


class SimNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("sim_node", **kwargs)
        name = declare(self, "scenario", "corridor_passing",
                       "Scenario name (" + ", ".join(list_scenarios()) + ") or path of a scenario YAML file")
        seed = declare(self, "seed", -1, "Random seed (-1 = the scenario's)", int_range=(-1, 2**31 - 1))
        rate_hz = declare(self, "rate_hz", 0.0, "Simulation grid rate [Hz] (0 = the scenario's dt; the ground "
                          "truth's lags count steps of this grid)", float_range=(0.0, 1000.0))
        self.real_time_factor = declare(self, "real_time_factor", 1.0,
                                        "Simulated seconds per wall-clock second (0 = as fast as possible)",
                                        float_range=(0.0, 1000.0))
        self.publish_camera = declare(self, "publish_camera", True, "Render and publish /camera/image_raw")
        self.publish_true_variables = declare(self, "publish_true_variables", True,
                                              "Publish the state-based pipeline variables on /sim/true_variables")
        self.duration_s = declare(self, "duration_s", 0.0, "Stop stepping after this much sim time [s] (0 = never)",
                                  float_range=(0.0, 1e9))
        self.time_offset_s = declare(self, "time_offset_s", 1.0,
                                     "Sim time of the first step [s] (ROS reads time 0 as unset)",
                                     float_range=(0.0, 1e9))
        self.intervention_duration_s = declare(self, "intervention_duration_s", 5.0,
                                               "How long a /sim/do intervention holds [s] (0 = until the end)",
                                               float_range=(0.0, 1e9))
        self.frame_id = declare(self, "frame_id", "odom", "World frame of /people, /odom and /goal_pose")
        self.publish_tf = declare(self, "publish_tf", True, "Publish the robot, people and sensor frames on /tf "
                                  "and /tf_static")
        self.publish_people_tf = declare(self, "publish_people_tf", True, "Include person_<i> frames on /tf")
        self.start_delay_s = declare(self, "start_delay_s", 0.0,
                                     "Wall-clock seconds to wait before the first state is published, so that "
                                     "recorders and other late subscribers match first", float_range=(0.0, 60.0))
        self.max_lead_s = declare(self, "max_lead_s", 0.0,
                                  "Physical scenarios: pause stepping while the newest /causal/variables frame is "
                                  "more than this much sim time behind the simulator [s] (0 = never pause)",
                                  float_range=(0.0, 1e6))
        self.max_wait_s = declare(self, "max_wait_s", 5.0,
                                  "Flow control: wall-clock seconds without a new /causal/variables frame after which "
                                  "the simulator steps on (counted in steps_without_pipeline, WARN on /diagnostics): "
                                  "a variables node that died or stalled must not stop the run for good",
                                  float_range=(0.1, 3600.0))
        self.plan_topic = declare(self, "plan_topic", "local_plan",
                                  "Physical scenarios: topic of the robot's plan (nav_msgs/Path; '' = none)")
        if self.plan_topic:
            topic_parameter(self, "plan_topic", self.plan_topic)
        self.plan_horizon_s = declare(self, "plan_horizon_s", 2.0, "How far ahead the plan reaches [s of sim time]",
                                      float_range=(0.1, 60.0))
        self.plan_period_s = declare(self, "plan_period_s", 1.0, "How often a new plan is published [s of sim time]",
                                     float_range=(0.01, 60.0))

        self.scenario = load_scenario(name)
        if rate_hz > 0.0:
            self.scenario.dt = 1.0 / rate_hz
            if self.scenario.physical is not None:
                self.scenario.physical.dt = self.scenario.dt
        if self.scenario.physical is not None:
            self.scenario.physical.camera.enabled = bool(self.publish_camera)
            if not self.publish_camera:  # no frames, no image_motion (a sink: the ground truth stays exact)
                self.scenario.variables = [v for v in self.scenario.variables if v != "image_motion"]
        self.sim = self.scenario.make_simulator(None if seed < 0 else seed)
        physical = self.scenario.physical
        # /sim/true_variables: every pipeline variable the simulated sensors support, not only the scenario's
        self._true_names = [] if physical is None else sensed_variables(physical)
        self.physical = isinstance(self.sim, PhysicalSimulator)

        self.counters: dict[str, int] = {"steps": 0, "bad_cmd_vel": 0, "bad_do": 0, "cmd_vel": 0, "do": 0,
                                         "paused_ticks": 0, "plans": 0, "plan_failures": 0,
                                         "steps_without_pipeline": 0}
        self._next_plan_time = 0.0
        self.finished = False
        self.started = False
        self._wall_start = time.monotonic()

        self.clock_pub = self.create_publisher(ClockMsg, "/clock", OUTPUT_QOS)
        self.truth_pub = self.create_publisher(CausalGraph, "sim/ground_truth", LATCHED_QOS)
        if self.physical:
            self.people_pub = self.create_publisher(PoseArray, "people", OUTPUT_QOS)
            self.odom_pub = self.create_publisher(Odometry, "odom", OUTPUT_QOS)
            self.scan_pub = self.create_publisher(LaserScan, "scan", OUTPUT_QOS)
            self.imu_pub = self.create_publisher(Imu, "imu", OUTPUT_QOS)
            self.goal_pub = self.create_publisher(PoseStamped, "goal_pose", OUTPUT_QOS)
            self.image_pub = (
                self.create_publisher(Image, "camera/image_raw", OUTPUT_QOS) if self.publish_camera else None
            )
            self.true_pub = self.create_publisher(VariableFrame, "sim/true_variables", STREAM_QOS)
            self.plan_pub = self.create_publisher(PathMsg, self.plan_topic, STREAM_QOS) if self.plan_topic else None
            ctrl = self.scenario.physical.robot.controller
            # known interventions: the excitation added to the robot's commands (when the scenario enables it)
            self.excitation_pub = (
                self.create_publisher(TwistStamped, "sim/command_excitation", STREAM_QOS)
                if ctrl.excitation_linear > 0.0 or ctrl.excitation_angular > 0.0 else None
            )
        else:
            self.frame_pub = self.create_publisher(VariableFrame, "causal/variables", STREAM_QOS)
        self.frames_published = 0  # the sequence of causal/variables (subscribers count losses by it)
        # Flow control (faster-than-real-time runs): a simulator that outruns the variables node on a loaded machine
        # makes the node's input topics arrive with more skew than its max_input_age_s, which turns into NaN frames.
        self._pipeline_stamp = -math.inf
        self._pipeline_wall = -math.inf  # when the newest frame arrived (monotonic)
        if self.physical and self.max_lead_s > 0.0:
            self.create_subscription(VariableFrame, "causal/variables", self._on_frame, STREAM_QOS)
        self.create_subscription(Twist, "cmd_vel", self._on_cmd_vel, SENSOR_QOS)
        self.create_subscription(InterventionMsg, "sim/do", self._on_do, STREAM_QOS)
        self.diagnostics = DiagnosticsPublisher(self)
        self.tf = TfPublisher(self) if self.publish_tf else None
        self.foreign_publishers: dict[str, int] = {}
        """Output topic -> the most other publishers seen on it at once (checked every second)."""

        self.truth_pub.publish(self.ground_truth_message())
        if self.tf is not None:
            stamp = self.time_offset_s
            self.tf.publish_static(static_transforms(stamp) if self.physical
                                   else [Transform(self.frame_id, ROBOT_FRAME, stamp=stamp)])
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        period = FASTEST_PERIOD_S if self.real_time_factor == 0.0 else self.sim.dt / self.real_time_factor
        self.create_timer(period, self._on_tick, clock=steady)
        self.create_timer(1.0, self._publish_diagnostics, clock=steady)
        self.get_logger().info(f"scenario {self.scenario.name} ({self.scenario.kind}), dt {self.sim.dt} s, "
                               f"{len(self.scenario.ground_truth())} ground-truth links")

    # ---- callbacks ------------------------------------------------------------------------------------------
    def _on_tick(self) -> None:
        if self.finished:
            return
        if not self.started:  # the initial state goes out on the first tick after the start delay
            if time.monotonic() - self._wall_start < self.start_delay_s:
                return
            self.started = True
            self._wall_start = time.monotonic()
            self._publish_state()
            return
        if self.duration_s > 0.0 and self.sim.time + 1e-9 >= self.duration_s:
            self.finished = True
            self.get_logger().info(f"finished after {self.sim.time:.1f} s of sim time")
            return
        if self.waiting_for_pipeline():
            if self._pipeline_wall == -math.inf or time.monotonic() - self._pipeline_wall <= self.max_wait_s:
                self.counters["paused_ticks"] += 1
                return
            self.counters["steps_without_pipeline"] += 1  # the variables node went silent: run on
        self.sim.step()
        self.counters["steps"] += 1
        self._publish_state()

    def waiting_for_pipeline(self) -> bool:
        """Whether the variables node is more than max_lead_s behind (flow control; never before its first frame
        has had a second of wall time to arrive, so a pipeline without a variables node does not stall the run)."""
        if self.max_lead_s <= 0.0 or not self.physical:
            return False
        after_step = self.time_offset_s + self.sim.time + self.sim.dt
        if self._pipeline_stamp == -math.inf:
            return (time.monotonic() - self._wall_start < 1.0
                    and after_step - self.time_offset_s > self.max_lead_s + 1e-9)
        return after_step - self._pipeline_stamp > self.max_lead_s + 1e-9

    def _on_frame(self, msg: VariableFrame) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        if stamp > self._pipeline_stamp:
            self._pipeline_stamp, self._pipeline_wall = stamp, time.monotonic()

    def _on_cmd_vel(self, msg: Twist) -> None:
        if not self.physical:
            self.counters["bad_cmd_vel"] += 1  # an SCM scenario has no robot to drive
            return
        try:
            self.sim.set_command(float(msg.linear.x), float(msg.angular.z))
            self.counters["cmd_vel"] += 1
        except ValueError as error:
            self.counters["bad_cmd_vel"] += 1
            self.get_logger().warning(f"/cmd_vel ignored: {error}", throttle_duration_sec=5.0)

    def _on_do(self, msg: InterventionMsg) -> None:
        now = self.sim.time
        end = now + self.intervention_duration_s if self.intervention_duration_s > 0.0 else None
        try:
            self.sim.apply_intervention(Intervention(msg.variable, float(msg.value), start=now + self.sim.dt,
                                                     end=None if end is None else end + self.sim.dt))
            self.counters["do"] += 1
        except ValueError as error:
            self.counters["bad_do"] += 1
            self.get_logger().warning(f"/sim/do ignored: {error}", throttle_duration_sec=5.0)

    def check_foreign_publishers(self) -> dict[str, int]:
        """Other publishers on this node's state topics now (topic -> count); the maxima are kept."""
        outputs = [self.clock_pub] + ([self.people_pub, self.odom_pub, self.scan_pub, self.imu_pub, self.goal_pub]
                                      if self.physical else [self.frame_pub])
        now = {pub.topic_name: others for pub in outputs if (others := self.count_publishers(pub.topic_name) - 1) > 0}
        for topic, others in now.items():
            self.foreign_publishers[topic] = max(others, self.foreign_publishers.get(topic, 0))
        return now

    def _publish_diagnostics(self) -> None:
        foreign = self.check_foreign_publishers()
        wall = max(time.monotonic() - self._wall_start, 1e-9)
        values = dict(self.counters, sim_time_s=self.sim.time, achieved_real_time_factor=self.sim.time / wall,
                      scenario=self.scenario.name)
        values.update({f"foreign_publishers_{topic}": n for topic, n in self.foreign_publishers.items()})
        bad = self.counters["bad_cmd_vel"] + self.counters["bad_do"]
        level, message = (OK, "running") if not self.finished else (OK, "finished")
        if bad:
            level, message = WARN, f"{message}; {bad} bad input message(s) ignored"
        if self.counters["steps_without_pipeline"]:
            level = WARN
            message += (f"; {self.counters['steps_without_pipeline']} steps taken without the variables node "
                        f"(no new /causal/variables frame for max_wait_s {self.max_wait_s:g} s)")
        if foreign:
            level = WARN
            message += ("; other publishers on " + ", ".join(f"{t} ({n})" for t, n in sorted(foreign.items()))
                        + ": their messages mix with the simulator's (a second simulator, a bag replay or a robot "
                        "in this ROS_DOMAIN_ID?)")
            self.get_logger().warning(message, throttle_duration_sec=10.0)
        self.diagnostics.publish(level, message, values)

    # ---- message conversion ---------------------------------------------------------------------------------
    def _header(self, frame_id: str) -> Header:
        return Header(stamp=to_time_msg(self.time_offset_s + self.sim.time), frame_id=frame_id)

    def _publish_state(self) -> None:
        self.clock_pub.publish(ClockMsg(clock=to_time_msg(self.time_offset_s + self.sim.time)))
        if not self.physical:
            names, values = self.sim.frame()
            self.frame_pub.publish(VariableFrame(header=self._header(self.frame_id), names=names, values=values,
                                                 subject_id="", subject_position=_NO_POSITION,
                                                 sequence=self.frames_published))
            self.frames_published += 1
            return
        sim: PhysicalSimulator = self.sim
        if self.tf is not None:
            self.tf.publish(dynamic_transforms(sim, self.time_offset_s + sim.time, self.frame_id,
                                               people=self.publish_people_tf))
        self.people_pub.publish(self.people_message())
        self.odom_pub.publish(self.odometry_message())
        if sim.scan_ranges is not None:
            self.scan_pub.publish(self.scan_message())
        self.imu_pub.publish(self.imu_message())
        goal = sim.person_goals()[sim.subject]
        self.goal_pub.publish(PoseStamped(header=self._header(self.frame_id), pose=_pose(goal[0], goal[1], 0.0)))
        if self.image_pub is not None and sim.image is not None:
            self.image_pub.publish(self.image_message())
        if self.excitation_pub is not None:
            excitation = TwistStamped(header=self._header("base_link"))
            excitation.twist.linear.x, excitation.twist.angular.z = (float(v) for v in sim.command_dither)
            self.excitation_pub.publish(excitation)
        if self.plan_pub is not None and sim.time + 1e-9 >= self._next_plan_time:
            self._next_plan_time = sim.time + self.plan_period_s
            try:
                self.plan_pub.publish(self.plan_message())
                self.counters["plans"] += 1
            except (ValueError, ArithmeticError) as error:  # a plan is an extra: its failure never stops the sim
                self.counters["plan_failures"] += 1
                self.get_logger().warning(f"no plan this time: {error}", throttle_duration_sec=5.0)
        if self.publish_true_variables:
            values = state_variables(sim)
            names = self._true_names
            x, y = (float(v) for v in sim.positions[sim.subject])
            self.true_pub.publish(VariableFrame(header=self._header(self.frame_id), names=names,
                                                values=[float(values[n]) for n in names], subject_id=str(sim.subject),
                                                subject_position=Point(x=x, y=y, z=0.0)))

    def people_message(self) -> PoseArray:
        sim = self.sim
        headings = np.arctan2(sim.velocities[:, 1], sim.velocities[:, 0])
        return PoseArray(header=self._header(self.frame_id),
                         poses=[_pose(x, y, h) for (x, y), h in zip(sim.positions, headings)])

    def plan_message(self) -> PathMsg:
        """The controller's next ``plan_horizon_s`` (a fresh noise future per step index, reproducible)."""
        sim = self.sim
        steps = max(1, int(round(self.plan_horizon_s / sim.dt)))
        plan = robot_plan(sim, steps, noise_seed=sim.step_index)
        header = self._header(self.frame_id)
        poses = [PoseStamped(header=Header(stamp=to_time_msg(self.time_offset_s + t), frame_id=self.frame_id),
                             pose=_pose(x, y, yaw)) for t, (x, y, yaw) in zip(plan.times, plan.poses)]
        return PathMsg(header=header, poses=poses)

    def odometry_message(self) -> Odometry:
        sim = self.sim
        msg = Odometry(header=self._header(self.frame_id), child_frame_id=ROBOT_FRAME)
        msg.pose.pose = _pose(*sim.robot_pose)
        msg.twist.twist.linear.x = float(sim.robot_speed)
        msg.twist.twist.angular.z = float(sim.robot_yaw_rate)
        return msg

    def scan_message(self) -> LaserScan:
        scan = self.sim.config.scan
        increment = (scan.angle_max - scan.angle_min) / max(scan.beams - 1, 1)
        return LaserScan(header=self._header(LASER_FRAME), angle_min=float(scan.angle_min),
                         angle_max=float(scan.angle_max), angle_increment=float(increment), time_increment=0.0,
                         scan_time=float(self.sim.dt), range_min=float(scan.range_min),
                         range_max=float(scan.range_max), ranges=self.sim.scan_ranges.astype(np.float32).tolist())

    def imu_message(self) -> Imu:
        sim = self.sim
        msg = Imu(header=self._header(ROBOT_FRAME))
        x, y, z, w = yaw_to_quaternion(float(sim.robot_pose[2]))
        msg.orientation.x, msg.orientation.y, msg.orientation.z, msg.orientation.w = x, y, z, w
        msg.angular_velocity.z = float(sim.imu.yaw_rate)
        msg.linear_acceleration.x = float(sim.imu.linear_acceleration_x)
        msg.linear_acceleration.y = float(sim.imu.linear_acceleration_y)
        msg.linear_acceleration.z = 9.81
        return msg

    def image_message(self) -> Image:
        image = self.sim.image
        height, width = image.shape[:2]
        return Image(header=self._header(CAMERA_FRAME), height=height, width=width, encoding="rgb8", is_bigendian=0,
                     step=width * 3, data=image.tobytes())

    def ground_truth_message(self) -> CausalGraph:
        links = sorted(self.scenario.ground_truth(), key=lambda link: (link[1], link[0], link[2]))
        strengths = {}
        if self.scenario.scm is not None:
            strengths = {(link.source, link.target, link.lag): link.coefficient for link in self.scenario.scm.links}
        return CausalGraph(
            header=self._header(self.frame_id), variables=list(self.scenario.variables), tau_min=0,
            tau_max=max((lag for _, _, lag in links), default=0), method="ground_truth", test="",
            engine="simulator", pc_alpha=math.nan, alpha_level=math.nan, sample_count=0, compute_time=0.0,
            links=[CausalLink(source=s, target=t, lag=int(lag), link_type="-->",
                              strength=float(strengths.get((s, t, lag), math.nan)), p_value=0.0)
                   for s, t, lag in links])


def _pose(x: float, y: float, yaw: float) -> Pose:
    pose = Pose()
    pose.position.x, pose.position.y = float(x), float(y)
    qx, qy, qz, qw = yaw_to_quaternion(float(yaw))
    pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = qx, qy, qz, qw
    return pose


def main(args: list | None = None) -> None:
    run_node(SimNode, args)


if __name__ == "__main__":
    main()
