"""Publisher QoS profiles ↔ the rosbag2 metadata form (``offered_qos_profiles``), without importing rclpy.

Why: ``ros2 bag play`` (and our replay) choose their publishers' QoS from what the recorded publishers offered, so
the recorder stores each publisher's profile. rclpy's policy enums use the rmw numbering, which is also the
numbering of :mod:`rosbags.interfaces`, so the conversion is by value; the profile is read by attribute only.
"""
from __future__ import annotations

from typing import Any

from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime


def _time(duration: Any) -> QosTime:
    """A duration (``.nanoseconds``; rclpy's Infinite is 2**63-1 ns) → (sec, nsec) as rosbag2 writes it."""
    sec, nsec = divmod(int(getattr(duration, "nanoseconds", 0)), 1_000_000_000)
    return QosTime(sec, nsec)


def _enum(enum_type: Any, value: Any, unknown: Any) -> Any:
    try:
        return enum_type(int(value))
    except (TypeError, ValueError):
        return unknown


def qos_from_profile(profile: Any) -> Qos:
    """An rclpy ``QoSProfile`` (or anything with its attributes) → rosbags ``Qos`` for bag metadata."""
    return Qos(
        history=_enum(QosHistory, profile.history, QosHistory.UNKNOWN),
        depth=int(profile.depth),
        reliability=_enum(QosReliability, profile.reliability, QosReliability.UNKNOWN),
        durability=_enum(QosDurability, profile.durability, QosDurability.UNKNOWN),
        deadline=_time(profile.deadline),
        lifespan=_time(profile.lifespan),
        liveliness=_enum(QosLiveliness, profile.liveliness, QosLiveliness.UNKNOWN),
        liveliness_lease_duration=_time(profile.liveliness_lease_duration),
        avoid_ros_namespace_conventions=bool(profile.avoid_ros_namespace_conventions),
    )
