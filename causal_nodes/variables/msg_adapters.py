"""Reads ROS messages into the plain values the core works with, by attribute access only.

Why duck-typed: the same functions then serve rclpy messages in the nodes and ``rosbags``-deserialized
messages in offline bag analysis (both expose the ROS field names), so live and offline variables cannot drift
apart. Nothing here imports rclpy or a message package.

Every reader raises ``ValueError`` naming the problem when a message cannot be used (the caller counts it).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from causal_nodes.geometry import quaternion_to_yaw
from causal_nodes.variables.extractor import VariableExtractor
from causal_nodes.variables.frames import Transform

WorldTransform = Callable[[str, float], "Transform | None"]
"""``(frame_id, stamp) -> transform world <- frame_id``, or None when ``frame_id`` is the world frame already;
raises :class:`FrameUnavailable` when the frame cannot be expressed in the world frame."""


class FrameUnavailable(LookupError):
    """A message's frame has no transform into the world frame (yet): the message is dropped and counted."""


def stamp_seconds(stamp: Any) -> float:
    """``builtin_interfaces/Time`` -> float seconds."""
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def seconds_to_sec_nanosec(seconds: float) -> tuple[int, int]:
    """Float seconds -> (sec, nanosec) with nanosec in [0, 1e9), rounding to the nearest nanosecond."""
    total = int(round(seconds * 1e9))
    return total // 1_000_000_000, total % 1_000_000_000


def odometry_values(msg: Any) -> tuple[float, float, float, float, float, float]:
    """``nav_msgs/Odometry`` -> (stamp, x, y, yaw, linear x speed, angular z speed)."""
    pose = msg.pose.pose
    twist = msg.twist.twist
    return (
        stamp_seconds(msg.header.stamp),
        pose.position.x,
        pose.position.y,
        quaternion_to_yaw(pose.orientation),
        twist.linear.x,
        twist.angular.z,
    )


def pose_array_positions(msg: Any) -> tuple[float, np.ndarray]:
    """``geometry_msgs/PoseArray`` -> (stamp, (P, 2) positions)."""
    xy = np.array([(p.position.x, p.position.y) for p in msg.poses], dtype=np.float64).reshape(-1, 2)
    return stamp_seconds(msg.header.stamp), xy


def scan_values(msg: Any) -> tuple[float, np.ndarray, float, float, float, float]:
    """``sensor_msgs/LaserScan`` -> (stamp, ranges, range_min, range_max, angle_min, angle_increment)."""
    return (stamp_seconds(msg.header.stamp), np.asarray(msg.ranges, dtype=np.float64), msg.range_min, msg.range_max,
            msg.angle_min, msg.angle_increment)


def goal_values(msg: Any) -> tuple[float, float, float]:
    """``geometry_msgs/PoseStamped`` -> (stamp, x, y)."""
    return stamp_seconds(msg.header.stamp), msg.pose.position.x, msg.pose.position.y


def imu_values(msg: Any) -> tuple[float, float]:
    """``sensor_msgs/Imu`` -> (stamp, yaw rate)."""
    return stamp_seconds(msg.header.stamp), msg.angular_velocity.z


_CHANNELS = {"mono8": (1, np.uint8), "mono16": (1, np.uint16), "rgb8": (3, np.uint8), "bgr8": (3, np.uint8),
             "rgba8": (4, np.uint8), "bgra8": (4, np.uint8)}


def image_gray(msg: Any) -> tuple[float, np.ndarray]:
    """``sensor_msgs/Image`` -> (stamp, 2-D grey image); supports mono8/16, rgb8, bgr8, rgba8, bgra8."""
    if msg.encoding not in _CHANNELS:
        raise ValueError(f"unsupported image encoding {msg.encoding!r}; supported: {sorted(_CHANNELS)}")
    channels, dtype = _CHANNELS[msg.encoding]
    itemsize = np.dtype(dtype).itemsize
    if msg.step < msg.width * channels * itemsize or len(msg.data) < msg.step * msg.height:
        raise ValueError(f"image data too short for {msg.width}x{msg.height} {msg.encoding} (step {msg.step})")
    raw = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, np.ndarray) else msg.data.tobytes(), np.uint8)
    rows = raw[: msg.step * msg.height].reshape(msg.height, msg.step)[:, : msg.width * channels * itemsize]
    pixels = np.ascontiguousarray(rows).view(dtype)
    if msg.is_bigendian and itemsize > 1:
        pixels = pixels.byteswap()
    pixels = pixels.reshape(msg.height, msg.width, channels)
    gray = pixels[..., 0] if channels == 1 else pixels[..., :3].astype(np.float32).mean(axis=2).astype(dtype)
    return stamp_seconds(msg.header.stamp), gray


def _in_world(to_world: WorldTransform | None, msg: Any, stamp: float) -> Transform | None:
    return None if to_world is None else to_world(msg.header.frame_id.lstrip("/"), stamp)


def feed(extractor: VariableExtractor, kind: str, msg: Any, to_world: WorldTransform | None = None):
    """Passes one message of input ``kind`` (odom, people, scan, goal, image, imu) to the extractor.

    ``to_world`` expresses the geometric inputs (odometry pose, people, goal) given in another frame than the world
    frame in the world frame (their ``header.frame_id`` is honoured); without it they are taken as given.
    Returns the extractor's verdict (``None`` = used, else the reason it was dropped). Raises ValueError for a
    message that cannot be read (missing field, bad encoding), FrameUnavailable when its frame has no transform.
    """
    try:
        if kind == "odom":
            stamp, x, y, yaw, v, w = odometry_values(msg)
            if (transform := _in_world(to_world, msg, stamp)) is not None:
                (x, y), yaw = transform.apply(np.array([[x, y]]))[0], yaw + transform.yaw
            return extractor.add_odometry(stamp, x, y, yaw, v, w)
        if kind == "people":
            stamp, xy = pose_array_positions(msg)
            if (transform := _in_world(to_world, msg, stamp)) is not None and len(xy):
                xy = transform.apply(xy)
            return extractor.add_people(stamp, xy)
        if kind == "scan":
            return extractor.add_scan(*scan_values(msg))
        if kind == "goal":
            stamp, x, y = goal_values(msg)
            if (transform := _in_world(to_world, msg, stamp)) is not None:
                x, y = transform.apply(np.array([[x, y]]))[0]
            return extractor.add_goal(stamp, float(x), float(y))
        if kind == "image":
            return extractor.add_image(*image_gray(msg))
        if kind == "imu":
            return extractor.add_imu(*imu_values(msg))
    except AttributeError as error:
        raise ValueError(f"{kind} message lacks a field: {error}") from error
    raise ValueError(f"unknown input kind {kind!r}; known: odom, people, scan, goal, image, imu")
