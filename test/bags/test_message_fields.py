"""Typed bag messages from plain fields: ROS defaults for what is left out, clear errors, a CDR round trip."""
from __future__ import annotations

import numpy as np
import pytest

from causal_nodes.bags import BagError
from causal_nodes.bags.message_fields import MessageBuilder, build_message, message_fields
from causal_nodes.bags.typestore import default_typestore


@pytest.fixture(scope="module")
def store():
    return default_typestore()


def test_unset_fields_take_the_ros_defaults(store) -> None:
    scan = build_message(store, "sensor_msgs/msg/LaserScan", {"ranges": [1.0, 2.5], "header": {"frame_id": "laser"}})
    assert scan.header.frame_id == "laser" and scan.header.stamp.sec == 0 and scan.header.stamp.nanosec == 0
    assert scan.ranges.dtype == np.float32 and scan.ranges.tolist() == [1.0, 2.5]
    assert scan.intensities.dtype == np.float32 and scan.intensities.size == 0
    assert scan.angle_min == 0.0 and isinstance(scan.angle_min, float)
    odom = build_message(store, "nav_msgs/msg/Odometry", {})
    assert odom.pose.covariance.shape == (36,) and not odom.pose.covariance.any()  # fixed-size array of zeros
    assert odom.child_frame_id == "" and odom.pose.pose.orientation.w == 0.0  # as a fresh rclpy message


def test_a_message_survives_the_cdr_round_trip_field_for_field(store) -> None:
    fields = {"header": {"stamp": {"sec": 12, "nanosec": 5}, "frame_id": "odom"},
              "poses": [{"position": {"x": 1.5, "y": -2.0, "z": 0.0}, "orientation": {"z": 0.6, "w": 0.8}}]}
    message = MessageBuilder(store).build("geometry_msgs/msg/PoseArray", fields)
    back = store.deserialize_cdr(store.serialize_cdr(message, "geometry_msgs/msg/PoseArray"),
                                 "geometry_msgs/msg/PoseArray")
    plain = message_fields(back)
    assert plain["header"] == fields["header"]
    assert plain["poses"][0]["position"] == {"x": 1.5, "y": -2.0, "z": 0.0}
    assert plain["poses"][0]["orientation"] == {"x": 0.0, "y": 0.0, "z": 0.6, "w": 0.8}


def test_errors_name_the_field(store) -> None:
    builder = MessageBuilder(store)
    with pytest.raises(BagError, match=r"no field\(s\) \['colour'\]"):
        builder.build("std_msgs/msg/ColorRGBA", {"colour": 1.0})
    with pytest.raises(BagError, match="pose.covariance is an array of 36"):
        builder.build("nav_msgs/msg/Odometry", {"pose": {"covariance": [0.0] * 35}})
    with pytest.raises(BagError, match="header.stamp of type builtin_interfaces/msg/Time needs a mapping"):
        builder.build("std_msgs/msg/Header", {"stamp": 3}, where="header")
    with pytest.raises(BagError, match="unknown message type"):
        builder.build("no_pkg/msg/Nothing", {})
