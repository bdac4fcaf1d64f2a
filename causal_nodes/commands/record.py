"""Record live topics into a rosbag2 bag (MCAP or SQLite3) that `ros2 bag info/play` can read.

Topics and types are discovered from the ROS graph (all topics except /rosout and /parameter_events when no
--topics are given; topics that appear later are picked up). Stops on Ctrl-C/SIGTERM or after --duration seconds;
the bag appears only when recording ends cleanly (it is written to a hidden temporary folder first).

  causal-nodes record run1 --topics /people /odom /scan --duration 60
"""
from __future__ import annotations

import argparse

from causal_nodes.bags.writer import STORAGES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", help="output bag folder (must not exist)")
    parser.add_argument("--topics", nargs="+", default=[], metavar="TOPIC",
                        help="topics to record (default: every topic of the graph)")
    parser.add_argument("--duration", type=float, default=0.0, metavar="S",
                        help="stop after S wall seconds (default 0: until Ctrl-C)")
    parser.add_argument("--storage", choices=sorted(STORAGES), default="mcap", help="bag storage format (default mcap)")


def run(args: argparse.Namespace) -> int:
    from causal_nodes.nodes.recorder_node import record  # rclpy only when the command runs

    summary = record(args.bag, args.topics, args.duration, args.storage)
    print(f"wrote {summary.bag}: {summary.message_count} messages in {summary.seconds:.1f} s")
    for topic, count in sorted(summary.counts.items()):
        print(f"  {topic}: {count}")
    for topic, reason in sorted(summary.skipped.items()):
        print(f"  skipped {topic}: {reason}")
    return 0
