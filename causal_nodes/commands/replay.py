"""Replay a rosbag2 bag onto the ROS graph with its original timing and /clock (for use_sim_time nodes).

Publishes the recorded bytes unchanged, timing scaled by --rate (0 = as fast as possible), from --start seconds
into the bag, optionally looping; /clock carries bag time with every message and at --clock-hz in between.

  causal-nodes replay run1 --rate 2 --topics /people /odom --remap /odom:=/robot/odom
"""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", help="bag folder (or a single .mcap / .db3 file)")
    parser.add_argument("--rate", type=float, default=1.0, help="playback rate (1 = real time, 0 = max speed)")
    parser.add_argument("--loop", action="store_true", help="start again when the bag ends (until Ctrl-C)")
    parser.add_argument("--start", type=float, default=0.0, metavar="S", help="skip the first S seconds of the bag")
    parser.add_argument("--topics", nargs="+", default=[], metavar="TOPIC",
                        help="topics to replay (default: all but /clock and the pipeline's outputs)")
    parser.add_argument("--include-outputs", action="store_true",
                        help="also replay the bag's /clock and the pipeline's outputs (/causal/graph, ...)")
    parser.add_argument("--remap", action="append", default=[], metavar="FROM:=TO",
                        help="publish bag topic FROM on TO (repeatable)")
    parser.add_argument("--clock", dest="clock", action="store_true", default=True,
                        help="publish /clock with bag time (default)")
    parser.add_argument("--no-clock", dest="clock", action="store_false", help="do not publish /clock")
    parser.add_argument("--clock-hz", type=float, default=100.0, help="/clock rate between messages (default 100)")
    parser.add_argument("--skip-unknown", action="store_true",
                        help="skip topics whose message type is not installed instead of failing")
    parser.add_argument("--wait-subscribers", type=float, default=0.0, metavar="S",
                        help="wait up to S s for every topic to have a subscriber before starting")
    parser.add_argument("--delay", type=float, default=0.0, metavar="S",
                        help="wait S s before starting (lets DDS discovery finish)")


def run(args: argparse.Namespace) -> int:
    from causal_nodes.bags.playback import PlaybackOptions
    from causal_nodes.nodes.replay_node import replay  # rclpy only when the command runs

    options = PlaybackOptions(rate=args.rate, start_s=args.start, loop=args.loop, clock_hz=args.clock_hz,
                              publish_clock=args.clock)
    stats = replay(args.bag, options, args.topics, args.remap, args.skip_unknown, args.wait_subscribers, args.delay,
                   include_outputs=args.include_outputs)
    print(f"replayed {stats.message_count} messages in {stats.wall_s:.2f} s "
          f"({stats.passes} pass(es), {stats.clock_ticks} /clock ticks, "
          f"mean timing error {stats.mean_abs_error_s * 1e3:.3f} ms)")
    for topic, count in sorted(stats.published.items()):
        print(f"  {topic}: {count}")
    if stats.unreadable:
        print(f"causal-nodes replay: warning: {sum(stats.unreadable.values())} message(s) of {args.bag} could not "
              "be read (corrupt or truncated data, skipped): "
              + ", ".join(f"{t} {n}" for t, n in sorted(stats.unreadable.items())), file=sys.stderr)
    return 0
