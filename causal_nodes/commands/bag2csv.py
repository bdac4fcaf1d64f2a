"""Extract the pipeline's causal variables from a bag into a CSV, offline (same extraction as the variables node).

Reads /people, /odom, /scan, /goal_pose (and /camera/image_raw, /imu when those variables are asked for) in bag
order through the variables core; writes `time,<variable names>`, one row per grid frame (NaN = not computable).
Without --variables, default variables whose topics the bag lacks are left out (and listed). --from-frames dumps
the /causal/variables frames already in the bag instead.

  causal-nodes bag2csv run1 --out run1.csv --rate-hz 10 --person nearest
"""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", help="bag folder (or a single .mcap / .db3 file)")
    parser.add_argument("--out", required=True, help="output CSV file")
    add_extraction_options(parser)
    parser.add_argument("--from-frames", action="store_true",
                        help="dump the bag's /causal/variables VariableFrames instead of extracting")
    parser.add_argument("--drop-incomplete", action="store_true",
                        help="leave out rows with a NaN (e.g. for `causal-nodes discover`, which rejects NaN)")


def add_extraction_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Options of every command that extracts variables from bags (defaults: the variables node's)."""
    from causal_nodes.variables.extractor import VariableConfig

    defaults = VariableConfig()
    parser.add_argument("--rate-hz", type=float, default=defaults.rate_hz,
                        help="rate of the variable grid (default %(default)s Hz)")
    parser.add_argument("--person", default=defaults.person, help="'nearest' (to the robot) or a track id")
    parser.add_argument("--variables", nargs="+", default=None, metavar="NAME",
                        help="variables to compute (default: the pipeline defaults the bag has topics for)")
    parser.add_argument("--topic", action="append", default=[], metavar="KIND=/topic",
                        help="input topic override, KIND in odom, people, scan, goal, image, imu (repeatable)")


def run(args: argparse.Namespace) -> int:
    from causal_nodes.bags.to_csv import bag_to_csv, parse_topic_overrides

    extraction = bag_to_csv(args.bag, args.out, rate_hz=args.rate_hz, person=args.person, variables=args.variables,
                            topics=parse_topic_overrides(args.topic), from_frames=args.from_frames,
                            drop_incomplete=args.drop_incomplete)
    print(f"wrote {args.out}: {len(extraction.frames)} rows x {len(extraction.names)} variables {extraction.names}")
    for name, reason in extraction.skipped_variables.items():
        print(f"  left out {name}: {reason}")
    for topic, count in extraction.bad_messages.items():
        print(f"causal-nodes bag2csv: warning: {count} unreadable message(s) on {topic} of {args.bag} (counted, "
              "skipped)", file=sys.stderr)
    for reason, count in extraction.dropped.items():
        if reason.startswith("reset_") or reason == "frames_skipped_gap":
            print(f"causal-nodes bag2csv: warning: time sanity: {reason} {count} (the grid started over; no "
                  "frames were made up for the gap)", file=sys.stderr)
        else:
            print(f"  {reason}: {count}")
    return 0
