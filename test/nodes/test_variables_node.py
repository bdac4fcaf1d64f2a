"""The variables node over real rclpy/DDS: sensor topics in, VariableFrames on the grid out, bad input counted."""
from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.ros  # real rclpy nodes over DDS

pytest.importorskip("causal_msgs")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import Pose, PoseArray, PoseStamped  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image, LaserScan  # noqa: E402

from causal_msgs.msg import VariableFrame  # noqa: E402
from causal_nodes.nodes.common import SENSOR_QOS, STREAM_QOS, to_time_msg  # noqa: E402
from causal_nodes.nodes.variables_node import VariablesNode  # noqa: E402


def _messages(t: float):
    odom = Odometry()
    odom.header.stamp = to_time_msg(t)
    odom.header.frame_id = "odom"
    odom.pose.pose.position.x = 0.5 * t
    odom.pose.pose.orientation.w = 1.0
    odom.twist.twist.linear.x = 0.5
    people = PoseArray()
    people.header.stamp = to_time_msg(t)
    people.header.frame_id = "odom"
    person = Pose()
    person.position.x, person.position.y = 6.0 - t, 0.0
    people.poses = [person]
    scan = LaserScan(range_min=0.1, range_max=10.0, ranges=[3.0, 2.0, float("inf")])
    scan.header.stamp = odom.header.stamp
    goal = PoseStamped()
    goal.header.stamp = odom.header.stamp
    goal.pose.position.x = -4.0
    return odom, people, scan, goal


def test_frames_from_sensor_topics(ros):
    node = ros.add(VariablesNode(context=ros.context, parameter_overrides=[
        Parameter("variables", value=["human_speed", "human_robot_distance", "robot_linear_speed",
                                      "min_scan_range", "human_goal_distance", "image_motion"])]))
    source = ros.node("sensors")
    pubs = [source.create_publisher(cls, topic, SENSOR_QOS) for cls, topic in (
        (Odometry, "/odom"), (PoseArray, "/people"), (LaserScan, "/scan"), (PoseStamped, "/goal_pose"))]
    image_pub = source.create_publisher(Image, "/camera/image_raw", SENSOR_QOS)
    frames, diagnostics = [], []
    sink = ros.node("sink")
    sink.create_subscription(VariableFrame, "/causal/variables", frames.append, STREAM_QOS)
    sink.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, 10)
    assert ros.spin_until(lambda: all(p.get_subscription_count() for p in pubs + [image_pub]), 5)

    for k in range(40):
        t = 10.0 + k * 0.05
        for pub, msg in zip(pubs, _messages(t)):
            pub.publish(msg)
        image = Image(height=4, width=4, encoding="mono8", step=4, data=bytes([(k * 20) % 256] * 16))
        image.header.stamp = to_time_msg(t)
        image_pub.publish(image)
        if k == 20:  # bad input: NaN odometry, an unsupported image encoding, out-of-order people
            bad_odom, late_people, _, _ = _messages(t - 0.5)
            bad_odom.header.stamp = to_time_msg(t + 0.01)
            bad_odom.pose.pose.position.x = math.nan
            pubs[0].publish(bad_odom)
            pubs[1].publish(late_people)
            image_pub.publish(Image(height=1, width=1, encoding="yuv422", step=2, data=bytes(2)))
        ros.spin_for(0.01)
    assert ros.spin_until(lambda: len(frames) >= 10, 10)

    frame = frames[5]
    values = dict(zip(frame.names, frame.values))
    t = frame.header.stamp.sec + frame.header.stamp.nanosec * 1e-9
    assert abs(t * 10 - round(t * 10)) < 1e-6
    assert values["human_speed"] == pytest.approx(1.0, abs=1e-3)
    assert values["human_robot_distance"] == pytest.approx(abs(6.0 - 1.5 * t), abs=1e-3)
    assert values["human_goal_distance"] == pytest.approx(abs(10.0 - t), abs=1e-3)
    assert values["robot_linear_speed"] == pytest.approx(0.5)
    assert values["min_scan_range"] == pytest.approx(2.0)
    assert 0.0 <= values["image_motion"] <= 1.0
    assert frame.header.frame_id == "odom"

    def counters():
        return {
            kv.key: kv.value for d in diagnostics for s in d.status if s.name == "variables_node" for kv in s.values
        }

    wanted = {"malformed_image", "dropped_odom_non_finite_value", "dropped_people_out_of_order"}
    assert ros.spin_until(lambda: wanted <= set(counters()), 5), counters()
    got = counters()
    assert int(got["dropped_odom_non_finite_value"]) >= 1
    assert int(got["dropped_people_out_of_order"]) >= 1
    assert 0 < int(got["frames_published"]) <= node.frames_published


def test_people_in_the_robot_frame_are_transformed_into_the_world_frame(ros):
    """/people in base_link (as a robot-mounted tracker publishes them): the node moves them into odom through the
    odometry's odom -> base_link, so the person's speed is its speed over ground (1 m/s), not relative to the robot
    (1.5 m/s); people in a frame without a transform are dropped and counted; ~/reset starts over."""
    from std_srvs.srv import Trigger

    node = ros.add(VariablesNode(context=ros.context, parameter_overrides=[
        Parameter("variables", value=["human_speed", "human_robot_distance"])]))
    source = ros.node("robot_frame_sensors")
    odom_pub = source.create_publisher(Odometry, "/odom", SENSOR_QOS)
    people_pub = source.create_publisher(PoseArray, "/people", SENSOR_QOS)
    frames = []
    source.create_subscription(VariableFrame, "/causal/variables", frames.append, STREAM_QOS)
    assert ros.spin_until(lambda: odom_pub.get_subscription_count() and people_pub.get_subscription_count(), 5)
    for k in range(30):
        t = 10.0 + k * 0.05
        odom, people, _, _ = _messages(t)
        odom.child_frame_id = "base_link"
        odom.pose.pose.orientation.z, odom.pose.pose.orientation.w = math.sin(math.pi / 4), math.cos(math.pi / 4)
        ahead = 6.0 - t - 0.5 * t  # the person's x minus the robot's x, in odom
        people.header.frame_id = "base_link"  # robot facing +y: odom's +x is base_link's -y
        people.poses[0].position.x, people.poses[0].position.y = 0.0, -ahead
        odom_pub.publish(odom)
        ros.spin_for(0.005)
        people_pub.publish(people)
        if k == 10:
            stray = PoseArray(poses=[Pose()])
            stray.header.stamp, stray.header.frame_id = to_time_msg(t), "camera_link"
            people_pub.publish(stray)
        ros.spin_for(0.01)
    assert ros.spin_until(lambda: len(frames) >= 8, 10)
    values = dict(zip(frames[5].names, frames[5].values))
    t = frames[5].header.stamp.sec + frames[5].header.stamp.nanosec * 1e-9
    assert values["human_speed"] == pytest.approx(1.0, abs=1e-3)
    assert values["human_robot_distance"] == pytest.approx(abs(6.0 - 1.5 * t), abs=1e-3)
    assert ros.spin_until(lambda: node.malformed.get("no_transform_people", 0) >= 1, 5), node.malformed
    assert node.frames.backend in ("tf2_ros", "builtin")

    client = source.create_client(Trigger, "/variables_node/reset")
    assert client.wait_for_service(timeout_sec=5.0)
    future = client.call_async(Trigger.Request())
    assert ros.spin_until(future.done, 10) and future.result().success
    assert node.extractor.resets >= 1
