"""Replay benchmark: throughput at rate 0 (as fast as possible) and timing error at rate 1, side by side.

Run (about a minute on 2 cores):

    source scripts/env.sh && python benchmarks/bench_replay.py [--out benchmarks/results/replay.md]

Bags are synthetic but shaped like the pipeline's inputs (written with :class:`causal_nodes.bags.BagWriter`):
/odom (50 Hz), /scan (360 beams, 10 Hz), /people (8 poses, 10 Hz), /imu (100 Hz). Throughput compares reading
alone, replay without /clock, with /clock, and with one subscriber in another process (counting what arrives).
Timing error at rate 1: publisher side = mean |publish wall time − due wall time| (due = bag time / rate after the
start), subscriber side = mean |(receive − first receive) − (bag time − first bag time)| in the other process.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from causal_nodes.bags import BagReader, BagWriter  # noqa: E402
from causal_nodes.bags.playback import PlaybackOptions  # noqa: E402

os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(101, 200)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

START_NS = 1_700_000_000 * 10**9
RATES_HZ = {"/odom": 50.0, "/scan": 10.0, "/people": 10.0, "/imu": 100.0}


def write_bag(path: Path, seconds: float) -> int:
    """The synthetic input bag; returns its message count."""
    with BagWriter(path) as bag:
        store = bag.typestore
        T = store.types
        types = {"/odom": "nav_msgs/msg/Odometry", "/scan": "sensor_msgs/msg/LaserScan",
                 "/people": "geometry_msgs/msg/PoseArray", "/imu": "sensor_msgs/msg/Imu"}
        for topic, msgtype in types.items():
            bag.add_topic(topic, msgtype)
        events = sorted((START_NS + int(k * 1e9 / hz), topic) for topic, hz in RATES_HZ.items()
                        for k in range(int(seconds * hz)))
        vec = T["geometry_msgs/msg/Vector3"]
        quat = T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)
        for t_ns, topic in events:
            sec, nanosec = divmod(t_ns, 10**9)
            header = T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                                              frame_id="odom")
            pose = T["geometry_msgs/msg/Pose"](position=T["geometry_msgs/msg/Point"](x=1.0, y=2.0, z=0.0),
                                               orientation=quat)
            if topic == "/odom":
                msg = T["nav_msgs/msg/Odometry"](
                    header=header, child_frame_id="base_link",
                    pose=T["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=np.zeros(36)),
                    twist=T["geometry_msgs/msg/TwistWithCovariance"](
                        twist=T["geometry_msgs/msg/Twist"](linear=vec(x=0.5, y=0.0, z=0.0),
                                                           angular=vec(x=0.0, y=0.0, z=0.1)),
                        covariance=np.zeros(36)))
            elif topic == "/scan":
                msg = T["sensor_msgs/msg/LaserScan"](
                    header=header, angle_min=-3.14, angle_max=3.14, angle_increment=0.0174, time_increment=0.0,
                    scan_time=0.1, range_min=0.1, range_max=30.0, ranges=np.full(360, 5.0, np.float32),
                    intensities=np.zeros(0, np.float32))
            elif topic == "/people":
                msg = T["geometry_msgs/msg/PoseArray"](header=header, poses=[pose] * 8)
            else:
                msg = T["sensor_msgs/msg/Imu"](
                    header=header, orientation=quat, orientation_covariance=np.zeros(9),
                    angular_velocity=vec(x=0.0, y=0.0, z=0.1), angular_velocity_covariance=np.zeros(9),
                    linear_acceleration=vec(x=0.0, y=0.0, z=9.8), linear_acceleration_covariance=np.zeros(9))
            bag.write_message(topic, t_ns, msg)
        return bag.message_count


SUBSCRIBER = textwrap.dedent("""
    import json, sys, time, rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy, HistoryPolicy
    from rclpy.serialization import deserialize_message
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import LaserScan, Imu
    from geometry_msgs.msg import PoseArray
    types = {"/odom": Odometry, "/scan": LaserScan, "/people": PoseArray, "/imu": Imu}
    expected, timeout = int(sys.argv[1]), float(sys.argv[2])
    rclpy.init()
    node = rclpy.create_node("bench_sink")
    qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000, reliability=ReliabilityPolicy.RELIABLE)
    got = []
    for topic, cls in types.items():
        node.create_subscription(cls, topic, lambda d, c=cls: got.append((time.monotonic(), d, c)), qos, raw=True)
    print("ready", flush=True)
    deadline = time.monotonic() + timeout
    last = None
    while len(got) < expected and time.monotonic() < deadline:
        before = len(got)
        rclpy.spin_once(node, timeout_sec=0.05)
        if len(got) != before:
            last = time.monotonic()
        elif last is not None and time.monotonic() - last > 2.0:
            break  # nothing new for 2 s: the rest was lost
    stamps = []
    for recv, data, cls in got:
        h = deserialize_message(data, cls).header.stamp
        stamps.append((recv, h.sec * 10**9 + h.nanosec))
    print(json.dumps(stamps), flush=True)
""")


def start_subscriber(expected: int, timeout: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", SUBSCRIBER, str(expected), str(timeout)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def replay_once(bag: Path, options: PlaybackOptions, subscriber: bool, expected: int):
    """One replay in a fresh rclpy context; returns (stats, subscriber's [(recv wall, bag ns)] or None)."""
    import rclpy

    from causal_nodes.nodes.replay_node import ReplayNode

    proc = start_subscriber(expected, timeout=120.0) if subscriber else None
    rclpy.init()
    node = ReplayNode(bag=str(bag), options=options, topics=[], remaps=[])
    try:
        if proc is not None:
            node.wait_for_subscribers(10.0)
            time.sleep(0.5)  # let the reverse discovery settle
        stats = node.play()
    finally:
        node.destroy_node()
        rclpy.shutdown()
    received = None
    if proc is not None:
        out, _ = proc.communicate(timeout=130)
        received = json.loads(out.strip().splitlines()[-1])
    return stats, received


def read_only(bag: Path) -> tuple:
    started = time.perf_counter()
    with BagReader(bag) as reader:
        count = sum(1 for _ in reader.messages())
    return count, time.perf_counter() - started


def relative_error_ms(received, rate: float) -> float:
    received = sorted(received, key=lambda r: r[1])
    recv0, bag0 = received[0]
    errors = [abs((r - recv0) - (b - bag0) / 1e9 / rate) for r, b in received]
    return 1e3 * float(np.mean(errors))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the throughput bag (bag seconds)")
    parser.add_argument("--timing-seconds", type=float, default=5.0, help="length of the rate-1 bag")
    parser.add_argument("--out", default=None, help="also write the tables as markdown to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "throughput", Path(tmp) / "timing"
        n_big = write_bag(big, args.seconds)
        n_small = write_bag(small, args.timing_seconds)
        rows = []
        count, seconds = read_only(big)
        rows.append(("read bag only (BagReader.messages)", count, seconds, count / seconds, "-"))
        for label, options, sub in (
            ("replay rate 0, no /clock, no subscriber", PlaybackOptions(rate=0.0, publish_clock=False), False),
            ("replay rate 0, /clock, no subscriber", PlaybackOptions(rate=0.0), False),
            ("replay rate 0, /clock, 1 subscriber (other process)", PlaybackOptions(rate=0.0), True),
        ):
            stats, received = replay_once(big, options, sub, n_big)
            got = "-" if received is None else f"{len(received)}/{n_big}"
            rows.append((label, stats.message_count, stats.wall_s, stats.message_count / stats.wall_s, got))
        timing = []
        for rate in (1.0, 2.0):
            stats, received = replay_once(small, PlaybackOptions(rate=rate), True, n_small)
            timing.append((rate, stats.message_count, 1e3 * stats.mean_abs_error_s, 1e3 * stats.max_abs_error_s,
                           relative_error_ms(received, rate) if received else float("nan"),
                           f"{len(received)}/{n_small}"))

    lines = [f"Throughput, {args.seconds:.0f} s synthetic bag ({n_big} messages: /odom 50 Hz, /scan 360 beams 10 Hz, "
             "/people 8 poses 10 Hz, /imu 100 Hz)", "",
             "| mode | messages | wall s | messages/s | received |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r[0]} | {r[1]} | {r[2]:.3f} | {r[3]:,.0f} | {r[4]} |" for r in rows]
    lines += ["", f"Timing error, {args.timing_seconds:.0f} s bag ({n_small} messages), /clock at 100 Hz, "
              "1 subscriber in another process", "",
              "| rate | messages | publisher mean abs err ms | publisher max abs err ms | "
              "subscriber mean abs err ms | received |", "|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {t[0]:g} | {t[1]} | {t[2]:.3f} | {t[3]:.3f} | {t[4]:.3f} | {t[5]} |" for t in timing]
    load = os.getloadavg()
    lines += ["", f"Machine: {os.cpu_count()} CPU cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
              "(1/5/15 min) at the end of the run; Python "
              f"{sys.version.split()[0]}, RMW {os.environ.get('RMW_IMPLEMENTATION', 'default')}."]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
