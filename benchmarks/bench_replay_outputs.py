"""Replaying a recorded pipeline run through the pipeline: the bag's own /clock and outputs replayed (the old
default) vs left out (the new default, ``include_outputs:=false``), side by side on the same bag.

Run (about two minutes on 2 cores):

    source scripts/env.sh && python benchmarks/bench_replay_outputs.py [--out benchmarks/results/replay_outputs.md]

1. Record: the simulator (corridor_passing, 20 s of sim time at 4x), the variables and discovery nodes on sim time,
   and a recorder of every topic, in one process over DDS.
2. Replay that bag at rate 2 into a fresh variables + discovery pair on sim time, once per mode, and count at a
   subscriber: /clock messages that go back in time, /causal/variables frames (vs the frames recorded), frames
   whose stamp arrives twice, and publishers on /causal/graph.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(101, 200)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402

from causal_msgs.msg import VariableFrame  # noqa: E402
from causal_nodes.bags.playback import PlaybackOptions  # noqa: E402
from causal_nodes.bags.reader import BagReader  # noqa: E402
from causal_nodes.nodes.common import STREAM_QOS  # noqa: E402
from causal_nodes.nodes.composition import Composition  # noqa: E402
from causal_nodes.nodes.discovery_node import DiscoveryNode  # noqa: E402
from causal_nodes.nodes.recorder_node import RecorderNode  # noqa: E402
from causal_nodes.nodes.replay_node import ReplayNode  # noqa: E402
from causal_nodes.nodes.sim_node import SimNode  # noqa: E402
from causal_nodes.nodes.variables_node import VariablesNode  # noqa: E402

SIM_TIME = [Parameter("use_sim_time", value=True)]


def record(bag: Path) -> None:
    with Composition() as ros:
        recorder = ros.add(RecorderNode, bag=str(bag))
        ros.add(VariablesNode, parameter_overrides=SIM_TIME)
        ros.add(DiscoveryNode, parameter_overrides=SIM_TIME)
        sim = ros.add(SimNode, parameter_overrides=[
            Parameter("scenario", value="corridor_passing"), Parameter("real_time_factor", value=4.0),
            Parameter("duration_s", value=20.0), Parameter("start_delay_s", value=1.5),
            Parameter("publish_camera", value=False)])
        ros.spin_until(lambda: sim.finished, 120)
        ros.spin_until(lambda: False, 1.0)
        recorder.finish()


def replay(bag: Path, include_outputs: bool) -> dict:
    clock_ns: list[int] = []
    stamps: list[int] = []
    with Composition() as ros:
        ros.add(VariablesNode, parameter_overrides=SIM_TIME)
        ros.add(DiscoveryNode, parameter_overrides=SIM_TIME)
        counter = ros.add(lambda **kw: __import__("rclpy").create_node("replay_counter", **kw))
        counter.create_subscription(Clock, "/clock", lambda m: clock_ns.append(m.clock.sec * 10**9 + m.clock.nanosec),
                                    QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT))
        counter.create_subscription(VariableFrame, "/causal/variables",
                                    lambda m: stamps.append(m.header.stamp.sec * 10**9 + m.header.stamp.nanosec),
                                    STREAM_QOS)
        player = ros.add(ReplayNode, bag=str(bag), options=PlaybackOptions(rate=2.0), include_outputs=include_outputs)
        ros.spin_until(lambda: False, 1.5)  # DDS matching
        thread = threading.Thread(target=player.play, daemon=True)
        thread.start()
        ros.spin_until(lambda: not thread.is_alive(), 120)
        ros.spin_until(lambda: False, 2.0)  # the last frames of the live variables node
        graph_publishers = len(counter.get_publishers_info_by_topic("/causal/graph"))
        replayed = player.topics
    backwards = sum(1 for a, b in zip(clock_ns, clock_ns[1:]) if b < a)
    return {"clock": len(clock_ns), "clock_back": backwards, "frames": len(stamps),
            "dup_frames": len(stamps) - len(set(stamps)), "graph_publishers": graph_publishers,
            "replayed_outputs": sorted(t for t in replayed if t.startswith(("/clock", "/causal")))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown table here too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bag = Path(tmp) / "run"
        started = time.monotonic()
        record(bag)
        with BagReader(bag) as reader:
            recorded = {t: i.count for t, i in reader.topics.items()}
        rows = {name: replay(bag, include) for name, include in (("old: bag outputs replayed", True),
                                                                 ("new: left out (default)", False))}
    lines = [f"Bag: corridor_passing, 20 s sim time, {recorded.get('/causal/variables', 0)} recorded frames, "
             f"{recorded.get('/clock', 0)} recorded /clock; replay at rate 2 into variables + discovery "
             f"({time.monotonic() - started:.0f} s wall, shared 2-core machine).", "",
             "| replay | /clock msgs | /clock going back | frames at subscriber | duplicated frame stamps | "
             "publishers of /causal/graph | bag topics replayed under /clock, /causal |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['clock']} | {r['clock_back']} | {r['frames']} | {r['dup_frames']} | "
                     f"{r['graph_publishers']} | {', '.join(r['replayed_outputs']) or '-'} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text("# Replay of a recorded pipeline run: bag outputs replayed vs left out\n\n"
                            "`python benchmarks/bench_replay_outputs.py --out benchmarks/results/replay_outputs.md`"
                            "\n\n" + text)


if __name__ == "__main__":
    main()
