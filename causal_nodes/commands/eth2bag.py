"""Convert an ETH/UCY pedestrian file (frame_id ped_id x y, 2.5 Hz) into a bag of /people PoseArrays.

One /people message per frame (poses sorted by ped_id, yaw = heading of motion), the ids in /people/ids
(std_msgs/String, JSON list, same stamp), optionally one pedestrian as the robot on /odom (--robot-ped ID or
'longest'). Real data: /work/shared/datasets/eth_ucy (see its README).

  causal-nodes eth2bag ../shared/datasets/eth_ucy/raw/all_data/students003.txt --out students003 --robot-ped longest
"""
from __future__ import annotations

import argparse

from causal_nodes.bags.writer import STORAGES


def _robot_ped(text: str):
    if text == "longest":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a pedestrian id or 'longest', got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="ETH/UCY text file (tab-separated frame_id ped_id x y)")
    parser.add_argument("--out", required=True, help="output bag folder (must not exist)")
    parser.add_argument("--frame", default="world", help="frame_id of the poses (default world)")
    parser.add_argument("--robot-ped", type=_robot_ped, default=None, metavar="ID|longest",
                        help="publish this pedestrian as the robot on /odom (and leave it out of /people)")
    parser.add_argument("--crop-to-robot", action="store_true",
                        help="keep only the frames while the robot pedestrian is observed")
    parser.add_argument("--storage", choices=sorted(STORAGES), default="mcap", help="bag storage (default mcap)")
    parser.add_argument("--t0", type=float, default=None, metavar="S",
                        help="stamp of frame id 0 in seconds (default 1700000000)")
    parser.add_argument("--dt-per-frame-id", type=float, default=None, metavar="S",
                        help="seconds per frame-id unit (default 0.04: ids step by 10 per 0.4 s)")


def run(args: argparse.Namespace) -> int:
    from causal_nodes.bags.eth_ucy import DEFAULT_T0_S, SECONDS_PER_FRAME_ID, eth_ucy_to_bag

    summary = eth_ucy_to_bag(
        args.file, args.out, frame_id=args.frame, robot_ped=args.robot_ped, storage=args.storage,
        t0_s=DEFAULT_T0_S if args.t0 is None else args.t0,
        seconds_per_frame_id=SECONDS_PER_FRAME_ID if args.dt_per_frame_id is None else args.dt_per_frame_id,
        crop_to_robot=args.crop_to_robot,
    )
    robot = "" if summary.robot_ped is None else f", pedestrian {summary.robot_ped} as the robot on /odom"
    print(f"wrote {summary.bag}: {summary.frames} frames, {summary.pedestrians} pedestrians, "
          f"{summary.duration_s:.1f} s{robot}")
    for topic, count in sorted(summary.counts.items()):
        print(f"  {topic}: {count}")
    return 0
