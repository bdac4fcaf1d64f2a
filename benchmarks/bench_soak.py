"""Soak: many frames through variables -> discovery -> prioritizer; RSS growth, graphs per minute, frames lost.

Two modes, both reported:

* ``core`` (in-process, no DDS): the ROS-free stages the nodes run, back to back, as fast as they go:
  ``VariableExtractor`` (sensor messages -> frames) -> ``OnlineDiscovery`` (window, streaming statistics, a PCMCI run
  every ``--graph-every`` frames) -> ``prioritize`` on each graph. Hostile input is mixed in every
  ``--hostile-every`` frames (a far-future stamp, NaN odometry, a 300-person crowd, a clock restart). RSS of this
  process every ``--sample-every`` frames. What it shows: whether the stages' state stays bounded over 10^6 frames.
* ``ros`` (real nodes over DDS): ``causal-nodes run`` (variables, discovery, prioritizer) in a child process; this
  process publishes /odom, /people, /scan at a rate, one grid frame per message set. First a ramp finds the highest
  rate in ``--rates`` with no loss (sensor messages the variables node did not receive, frames discovery lost by
  their sequence numbers); then ``--frames`` frames at that rate. RSS of the child process, graphs and priorities per
  minute, frames published / received / lost, from the nodes' own /diagnostics.

Targets (issue #11): RSS growth < 1 MB per 10^5 frames after warm-up; 0 frames lost at the sustainable rate.

  nice -n 10 python benchmarks/bench_soak.py --mode core --frames 1000000 --out benchmarks/results/soak.md
  nice -n 10 python benchmarks/bench_soak.py --mode ros --frames 100000 --out benchmarks/results/soak.md --append
"""
from __future__ import annotations

import argparse
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test"))
HOUR_FRAMES = 36_000  # one hour of the default 10 Hz grid
VARIABLES = ("human_speed", "human_heading_rate", "human_robot_distance", "robot_linear_speed",
             "robot_angular_speed", "min_scan_range", "collision_risk")


def rss_mb(pid: int | None = None) -> float:
    with open(f"/proc/{pid or 'self'}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS")


class Scene:
    """A robot and a person moving smoothly with noise (so the variables are coupled, not constant)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.robot = np.zeros(3)  # x, y, yaw
        self.v, self.w = 0.5, 0.0
        self.person = np.array([5.0, 1.0])
        self.person_v = np.array([-0.5, 0.0])

    def step(self, dt: float) -> None:
        rng = self.rng
        distance = float(np.hypot(*(self.person - self.robot[:2])))
        self.v = float(np.clip(0.8 * self.v + 0.2 * (0.3 * distance / 5.0) + rng.normal(0, 0.05), 0.0, 1.2))
        self.w = float(np.clip(0.7 * self.w + rng.normal(0, 0.1), -1.0, 1.0))
        self.robot += dt * np.array([self.v * math.cos(self.robot[2]), self.v * math.sin(self.robot[2]), self.w])
        self.person_v = 0.9 * self.person_v + rng.normal(0, 0.1, 2) - 0.02 * (self.person - self.robot[:2])
        self.person = self.person + dt * self.person_v


# ---------------------------------------------------------------------------------------------------- core mode
def run_core(args) -> list[str]:
    from causal_nodes.discovery.discover import DiscoveryConfig
    from causal_nodes.discovery.online import OnlineDiscovery
    from causal_nodes.discovery.window import WindowConfig
    from causal_nodes.prioritization import PrioritizerConfig, prioritize
    from causal_nodes.variables.extractor import VariableConfig, VariableExtractor

    extractor = VariableExtractor(VariableConfig(rate_hz=10.0, variables=VARIABLES))
    online = OnlineDiscovery(WindowConfig(length=args.window), DiscoveryConfig(tau_max=3), min_samples=50)
    prioritizer_config = PrioritizerConfig(bootstrap=args.bootstrap, horizon=10)
    scene = Scene(args.seed)
    rng = random.Random(args.seed)
    dt = 0.1
    t = 1_700_000_000.0
    frames = graphs = prioritized = failed = hostile = 0
    samples: list[tuple[int, float, float]] = []  # (frames, rss MiB, wall s)
    started = time.perf_counter()
    next_sample = 0
    while frames < args.frames:
        scene.step(dt)
        t += dt
        if args.hostile_every and rng.random() < 1.0 / args.hostile_every:
            hostile += 1
            kind = rng.randrange(4)
            if kind == 0:
                extractor.add_scan(2_145_916_800.0, [1.0], 0.1, 10.0)  # 2038
            elif kind == 1:
                extractor.add_odometry(t - 0.05, math.nan, 0.0, 0.0, 0.0, 0.0)
            elif kind == 2:
                extractor.add_people(t - 0.01, np.random.default_rng(hostile).uniform(-20, 20, (300, 2)))
            else:
                t = 100.0 + rng.random() * 100  # the clock restarts
        extractor.add_odometry(t, *scene.robot, scene.v, scene.w)
        extractor.add_people(t + 0.001, scene.person[None, :])
        extractor.add_scan(t + 0.002, [float(np.hypot(*(scene.person - scene.robot[:2]))), 8.0], 0.1, 10.0)
        for frame in extractor.poll():
            frames += 1
            online.add(frame.stamp, frame.names, frame.values)
            if frames % args.graph_every == 0 and online.ready():
                outcome = online.run(online.take_job())
                if outcome.result is None:
                    failed += 1
                    continue
                graphs += 1
                job = outcome.job
                links = [(k.source, k.target, k.lag, k.link_type) for k in outcome.result.links()]
                try:
                    prioritize(job.data, job.names, links, "human_robot_distance",
                               ["robot_linear_speed", "robot_angular_speed"], prioritizer_config)
                    prioritized += 1
                except ValueError:
                    failed += 1
        if frames >= next_sample:
            samples.append((frames, rss_mb(), time.perf_counter() - started))
            print(f"core: {frames} frames, RSS {samples[-1][1]:.1f} MiB, {graphs} graphs, "
                  f"{samples[-1][2]:.0f} s", flush=True)
            next_sample += args.sample_every
    samples.append((frames, rss_mb(), time.perf_counter() - started))
    wall = samples[-1][2]
    growth = growth_after_warmup(samples, args.warmup)
    counters = extractor.counters()
    lines = [
        f"## Core stages in-process (`--mode core`), {frames:,} frames",
        "",
        f"Command: `{command_line()}`",
        "",
        f"Window {args.window} samples, tau_max 3, a PCMCI run every {args.graph_every} frames and a prioritization "
        f"(bootstrap {args.bootstrap}) on each graph; hostile input about every {args.hostile_every} frames "
        f"({hostile} events). Wall {wall:.0f} s ({frames / wall:,.0f} frames/s, one core of the shared machine).",
        "",
        "| frames | RSS MiB | wall s |",
        "|---:|---:|---:|",
        *[f"| {n:,} | {r:.1f} | {w:.0f} |" for n, r, w in samples],
        "",
        f"- RSS growth after warm-up ({args.warmup:,} frames): **{growth:+.2f} MB per 10^5 frames** "
        f"({growth * HOUR_FRAMES / 1e5:+.2f} MB per hour-equivalent of 36,000 frames at 10 Hz); "
        f"target < 1 MB per 10^5: **{'met' if growth < 1.0 else 'missed'}**",
        f"- graphs {graphs:,}, prioritizations {prioritized:,}, failed runs {failed}",
        f"- extractor: resets {dict(extractor.reset_reasons)}, dropped "
        f"{ {k: v for k, v in counters.items() if k.startswith('dropped_')} }; window resets "
        f"{dict(online.window.resets)}, rejected {dict(online.window.rejected)}",
        "",
    ]
    return lines


def growth_after_warmup(samples: list[tuple[int, float, float]], warmup: int) -> float:
    """Least-squares slope of RSS over frames after ``warmup`` frames, in MB per 10^5 frames."""
    after = [(n, r) for n, r, _ in samples if n >= warmup]
    if len(after) < 2:
        return float("nan")
    n, r = np.array(after, dtype=float).T
    return float(np.polyfit(n, r, 1)[0] * 1e5 * (1024 * 1024) / 1e6)


def _rise_after(samples: list[tuple[int, float, float]], warmup: int) -> float:
    """RSS at the last sample minus RSS at the first sample at or after ``warmup`` frames [MB]."""
    after = [r for n, r, _ in samples if n >= warmup]
    return (after[-1] - after[0]) * (1024 * 1024) / 1e6 if after else float("nan")


def command_line() -> str:
    return " ".join(["python", "benchmarks/bench_soak.py", *sys.argv[1:]])


# ----------------------------------------------------------------------------------------------------- ros mode
PARAMS = """variables_node:
  ros__parameters:
    variables: [{variables}]
    stale_after_s: 30.0
discovery_node:
  ros__parameters:
    window_length: {window}
    min_samples: 50
    update_period_s: 1.0
    tau_max: 3
    stale_after_s: 30.0
causal_prioritizer:
  ros__parameters:
    target: human_robot_distance
    bootstrap: {bootstrap}
    effect_model: linear
    window_size: {window}
"""


class RosDriver:
    """Publishes the scene at a rate into the child's variables node and reads the nodes' /diagnostics."""

    def __init__(self, ros, seed: int) -> None:
        from geometry_msgs.msg import PoseArray
        from hostile_tools import DiagnosticsWatcher
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import LaserScan

        from causal_msgs.msg import CausalGraph, CausalPriorities
        from causal_nodes.nodes.common import LATCHED_QOS, SENSOR_QOS

        self.ros = ros
        node = ros.node("soak_driver")
        self.odom = node.create_publisher(Odometry, "/odom", SENSOR_QOS)
        self.people = node.create_publisher(PoseArray, "/people", SENSOR_QOS)
        self.scan = node.create_publisher(LaserScan, "/scan", SENSOR_QOS)
        self.graphs = 0
        self.priorities = 0
        node.create_subscription(CausalGraph, "/causal/graph", self._on_graph, LATCHED_QOS)
        node.create_subscription(CausalPriorities, "/causal/priorities", self._on_priorities, LATCHED_QOS)
        self.diagnostics = DiagnosticsWatcher(node)
        self.scene = Scene(seed)
        self.t = 1_700_000_000.0
        self.sent = 0

    def _on_graph(self, _msg) -> None:
        self.graphs += 1

    def _on_priorities(self, _msg) -> None:
        self.priorities += 1

    def publish_step(self) -> None:
        from geometry_msgs.msg import Pose, PoseArray
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import LaserScan

        from causal_nodes.nodes.common import to_time_msg

        scene = self.scene
        scene.step(0.1)
        self.t += 0.1
        stamp = to_time_msg(self.t)
        odom = Odometry()
        odom.header.stamp, odom.header.frame_id = stamp, "odom"
        odom.pose.pose.position.x, odom.pose.pose.position.y = float(scene.robot[0]), float(scene.robot[1])
        odom.pose.pose.orientation.z = math.sin(scene.robot[2] / 2)
        odom.pose.pose.orientation.w = math.cos(scene.robot[2] / 2)
        odom.twist.twist.linear.x, odom.twist.twist.angular.z = scene.v, scene.w
        people = PoseArray()
        people.header.stamp = stamp
        pose = Pose()
        pose.position.x, pose.position.y = float(scene.person[0]), float(scene.person[1])
        people.poses = [pose]
        scan = LaserScan(range_min=0.1, range_max=10.0,
                         ranges=[float(min(9.9, np.hypot(*(scene.person - scene.robot[:2])))), 8.0])
        scan.header.stamp = stamp
        self.odom.publish(odom)
        self.people.publish(people)
        self.scan.publish(scan)
        self.sent += 1

    def run(self, rate: float, frames: int, child_pid: int, sample_every_s: float = 10.0) -> list[tuple]:
        """Publishes ``frames`` message sets at ``rate``/s; returns (sent, child RSS, wall) samples."""
        samples = []
        start = time.perf_counter()
        first = self.sent
        next_sample = start
        while self.sent - first < frames:
            due = first + int((time.perf_counter() - start) * rate) + 1
            while self.sent < min(due, first + frames):
                self.publish_step()
            now = time.perf_counter()
            if now >= next_sample:
                samples.append((self.sent - first, rss_mb(child_pid), now - start))
                next_sample = now + sample_every_s
            time.sleep(0.002)
        self.ros.spin_for(2.0)  # let the last frames through
        samples.append((self.sent - first, rss_mb(child_pid), time.perf_counter() - start))
        return samples

    def counters(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for node, keys in (("variables_node", ("received_odom", "received_people", "received_scan",
                                               "frames_published")),
                           ("discovery_node", ("received_frames", "expected_frames", "lost_frames")),
                           ("causal_prioritizer", ("received_frames", "expected_frames", "lost_frames"))):
            status = self.diagnostics.get(node)
            for key in keys:
                # a key is absent until the first numbered frame arrived: nothing received, nothing lost yet
                out[f"{node}.{key}"] = status.count(key) if status is not None else 0
        return out


def run_ros(args) -> list[str]:
    from conftest import RosHarness

    with tempfile.TemporaryDirectory(prefix="bench_soak_") as tmp:
        params = Path(tmp) / "params.yaml"
        params.write_text(PARAMS.format(variables=", ".join(VARIABLES), window=args.window, bootstrap=args.bootstrap))
        ros = RosHarness()
        child = subprocess.Popen([sys.executable, "-m", "causal_nodes", "run", "--params", str(params)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp)
        try:
            driver = RosDriver(ros, args.seed)
            ros.spin_until(lambda: driver.scan.get_subscription_count() > 0, 60)
            ros.spin_for(2.0)
            ramp = []
            sustainable = None
            for rate in args.rates:
                before = settle(driver)
                driver.run(rate, int(rate * args.ramp_s), child.pid)
                after = settle(driver)
                lost_inputs = (driver.sent - before["sent"]) * 3 - sum(
                    after[f"variables_node.received_{k}"] - before[f"variables_node.received_{k}"]
                    for k in ("odom", "people", "scan"))
                lost_frames = after["discovery_node.lost_frames"] - before["discovery_node.lost_frames"]
                ramp.append((rate, lost_inputs, lost_frames))
                print(f"ramp: {rate}/s -> {lost_inputs} sensor messages and {lost_frames} frames lost", flush=True)
                if lost_inputs == 0 and lost_frames == 0:
                    sustainable = rate
                else:
                    break
            rate = sustainable or args.rates[0]
            before = settle(driver)
            graphs0, priorities0 = driver.graphs, driver.priorities
            samples = driver.run(rate, args.frames, child.pid)
            after = settle(driver)
            if child.poll() is not None:
                raise RuntimeError(f"the node process died: {child.communicate()[1][-2000:]}")
        finally:
            if child.poll() is None:
                child.send_signal(2)
                try:
                    child.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
            ros.close()
    minutes = samples[-1][2] / 60.0
    delta = {k: after[k] - before[k] for k in after}
    growth = growth_after_warmup(samples, args.warmup)
    published = delta["variables_node.frames_published"]
    lines = [
        f"## Real nodes over DDS (`--mode ros`), {args.frames:,} frames",
        "",
        f"Command: `{command_line()}`",
        "",
        "`causal-nodes run` (variables, discovery, prioritizer) in a child process; sensor input from this process "
        f"(/odom, /people, /scan; one 10 Hz grid frame per set). Discovery window {args.window}, tau_max 3, a graph "
        f"every 1 s of wall time; prioritizer bootstrap {args.bootstrap}. Shared 2-core machine.",
        "",
        "Ramp (" + f"{args.ramp_s:.0f} s each): " + "; ".join(
            f"{r}/s: {li} sensor messages, {lf} frames lost" for r, li, lf in ramp),
        "",
        f"**Sustainable rate: {rate} frames/s** (the highest ramp rate without loss"
        + ("" if sustainable else "; NONE was loss-free, the soak ran at the lowest") + ").",
        "",
        "| frames sent | child RSS MiB | wall s |",
        "|---:|---:|---:|",
        *[f"| {n:,} | {r:.1f} | {w:.0f} |" for n, r, w in samples[:: max(1, len(samples) // 12)]],
        f"| {samples[-1][0]:,} | {samples[-1][1]:.1f} | {samples[-1][2]:.0f} |",
        "",
        f"- RSS growth after warm-up ({args.warmup:,} frames): **{growth:+.2f} MB per 10^5 frames** "
        f"({growth * HOUR_FRAMES / 1e5:+.2f} MB per hour-equivalent); target < 1 MB per 10^5: "
        f"**{'met' if growth < 1.0 else 'missed'}**",
        f"- the same slope over the second half only (from {samples[-1][0] // 2:,} frames; a plateau shows as ~0): "
        f"{growth_after_warmup(samples, samples[-1][0] // 2):+.2f} MB per 10^5 frames; RSS at the end minus RSS at "
        f"the first sample past warm-up: {_rise_after(samples, args.warmup):+.2f} MB",
        f"- frames published by variables_node {published:,}; discovery received "
        f"{delta['discovery_node.received_frames']:,}, lost {delta['discovery_node.lost_frames']:,}; prioritizer "
        f"received {delta['causal_prioritizer.received_frames']:,}, lost {delta['causal_prioritizer.lost_frames']:,}",
        f"- sensor messages sent {3 * args.frames:,}, received "
        f"{sum(delta[f'variables_node.received_{k}'] for k in ('odom', 'people', 'scan')):,}",
        f"- graphs per minute {(driver.graphs - graphs0) / minutes:.1f}, priorities per minute "
        f"{(driver.priorities - priorities0) / minutes:.1f}",
        "",
    ]
    return lines


def settle(driver) -> dict[str, int]:
    """The nodes' counters once they stopped changing (diagnostics come once a second)."""
    previous = None
    for _ in range(10):
        driver.ros.spin_for(1.1)
        current = driver.counters()
        if current == previous:
            break
        previous = current
    current = driver.counters()
    current["sent"] = driver.sent
    return current


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("core", "ros"), default="core")
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--window", type=int, default=300)
    parser.add_argument("--graph-every", type=int, default=1000, help="core: frames between PCMCI runs")
    parser.add_argument("--bootstrap", type=int, default=20)
    parser.add_argument("--hostile-every", type=int, default=5000, help="core: mean frames between hostile inputs")
    parser.add_argument("--sample-every", type=int, default=100_000, help="core: frames between RSS samples")
    parser.add_argument("--warmup", type=int, default=100_000, help="frames before RSS growth is measured")
    parser.add_argument("--rates", type=int, nargs="+", default=[100, 200, 400, 800], help="ros: ramp rates [1/s]")
    parser.add_argument("--ramp-s", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--append", action="store_true", help="append to --out instead of replacing it")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    lines = run_core(args) if args.mode == "core" else run_ros(args)
    text = "\n".join(lines)
    print(text)
    if args.out:
        header = "" if args.append and args.out.exists() else "# Soak (issue #11)\n\n"
        with args.out.open("a" if args.append else "w") as handle:
            handle.write(header + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
