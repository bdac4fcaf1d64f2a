"""Tools of the hostile-input suite (test/hostile/): memory probes, a /diagnostics watcher, sensor and frame sources.

Why shared: every hostile test must check the same three things (the node stays alive, memory stays bounded, the
drop or reset is counted by name on /diagnostics), so each check is written once.
"""
from __future__ import annotations

import math
import os
import resource
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process now [MiB] (from /proc; this process when ``pid`` is None)."""
    status = f"/proc/{pid or 'self'}/status"
    with open(status) as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS in {status}")


def peak_rss_mb() -> float:
    """The highest resident memory this process ever had [MiB]: catches a spike between two probes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass
class Status:
    level: int
    message: str
    values: dict[str, str] = field(default_factory=dict)

    def count(self, key: str) -> int:
        return int(float(self.values.get(key, "0")))


class DiagnosticsWatcher:
    """Keeps the newest /diagnostics status of every node by name (subscribes on ``node``)."""

    def __init__(self, node) -> None:
        from diagnostic_msgs.msg import DiagnosticArray

        self._lock = threading.Lock()
        self.latest: dict[str, Status] = {}
        self.history: dict[str, list[Status]] = {}
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_array, 50)

    def _on_array(self, array) -> None:
        with self._lock:
            for status in array.status:
                level = status.level if isinstance(status.level, int) else int.from_bytes(status.level, "little")
                entry = Status(level, status.message, {kv.key: kv.value for kv in status.values})
                self.latest[status.name] = entry
                self.history.setdefault(status.name, []).append(entry)
                del self.history[status.name][:-50]

    def get(self, name: str) -> Status | None:
        with self._lock:
            return self.latest.get(name)

    def wait(self, ros, name: str, predicate, timeout: float = 10.0) -> Status:
        """The first status of ``name`` for which ``predicate(status)`` holds; AssertionError with the last one."""
        found: list[Status] = []

        def check() -> bool:
            status = self.get(name)
            if status is not None and predicate(status):
                found.append(status)
                return True
            return False

        if not ros.spin_until(check, timeout):
            raise AssertionError(f"{name}: no matching /diagnostics within {timeout} s; last: {self.get(name)}")
        return found[0]


class Sensors:
    """Publishes a small moving scene on /odom, /people, /scan, /goal_pose with chosen stamps."""

    def __init__(self, node, seed: int = 0) -> None:
        from geometry_msgs.msg import PoseArray, PoseStamped
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import LaserScan

        from causal_nodes.nodes.common import SENSOR_QOS

        self.odom = node.create_publisher(Odometry, "/odom", SENSOR_QOS)
        self.people = node.create_publisher(PoseArray, "/people", SENSOR_QOS)
        self.scan = node.create_publisher(LaserScan, "/scan", SENSOR_QOS)
        self.goal = node.create_publisher(PoseStamped, "/goal_pose", SENSOR_QOS)
        self.rng = np.random.default_rng(seed)
        self.person = np.array([4.0, 1.0])
        self.speed = 0.5

    def publishers(self) -> list:
        return [self.odom, self.people, self.scan, self.goal]

    def step(self, t: float, goal: bool = True, crowd: np.ndarray | None = None) -> None:
        """One sample of every input at stamp ``t`` (the person wanders, the robot's speed drifts)."""
        from geometry_msgs.msg import Pose, PoseArray, PoseStamped
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import LaserScan

        from causal_nodes.nodes.common import to_time_msg

        stamp = to_time_msg(t)
        self.speed = float(np.clip(self.speed + self.rng.normal(0, 0.05), 0.0, 1.0))
        self.person = self.person + self.rng.normal(0, 0.05, 2)
        odom = Odometry()
        odom.header.stamp, odom.header.frame_id = stamp, "odom"
        odom.pose.pose.orientation.w = 1.0
        odom.twist.twist.linear.x = self.speed
        people = PoseArray()
        people.header.stamp, people.header.frame_id = stamp, "odom"
        positions = [self.person] if crowd is None else list(crowd)
        for x, y in positions:
            pose = Pose()
            pose.position.x, pose.position.y = float(x), float(y)
            people.poses.append(pose)
        scan = LaserScan(range_min=0.1, range_max=10.0, ranges=[float(2.0 + self.rng.uniform(0, 1)), 5.0])
        scan.header.stamp = stamp
        self.odom.publish(odom)
        self.people.publish(people)
        self.scan.publish(scan)
        if goal:
            msg = PoseStamped()
            msg.header.stamp = stamp
            msg.pose.position.x = -4.0
            self.goal.publish(msg)

    def scan_at(self, t: float) -> None:
        from sensor_msgs.msg import LaserScan

        from causal_nodes.nodes.common import to_time_msg

        scan = LaserScan(range_min=0.1, range_max=10.0, ranges=[2.5])
        scan.header.stamp = to_time_msg(t)
        self.scan.publish(scan)

    def run(self, ros, t0: float, seconds: float, rate: float = 20.0, wall_dt: float = 0.01, **kwargs: Any) -> float:
        """``seconds`` of stamps from ``t0`` at ``rate``, published faster than real time; returns the next stamp."""
        steps = int(round(seconds * rate))
        for k in range(steps):
            self.step(t0 + k / rate, **kwargs)
            ros.spin_for(wall_dt)
        return t0 + steps / rate


def parameters(**values) -> list:
    """``parameter_overrides`` for a node."""
    from rclpy.parameter import Parameter

    return [Parameter(k, value=v) for k, v in values.items()]


def collect(node, msg_type, topic: str, qos) -> list:
    """Every message of ``topic`` arriving at ``node``, in a list that fills as they come."""
    messages: list = []
    node.create_subscription(msg_type, topic, messages.append, qos)
    return messages


def variable_frame(names, values, t: float, sequence: int):
    from causal_msgs.msg import VariableFrame
    from causal_nodes.nodes.common import to_time_msg

    msg = VariableFrame(names=list(names), values=[float(v) for v in values], sequence=sequence)
    msg.header.stamp = to_time_msg(t)
    return msg


def stamp_of(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def finite(values) -> bool:
    return all(math.isfinite(v) for v in values)


def child_env() -> dict[str, str]:
    """The environment for a child ``python -m causal_nodes`` on this test session's DDS domain."""
    return dict(os.environ)
