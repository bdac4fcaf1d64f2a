"""Live Foxglove view of a running pipeline: starts the Foxglove bridge node (needs foxglove-sdk).

  causal-nodes view [--port 8765] [--host 127.0.0.1] [--namespace robot1] [--sim-time] [--layout OUT.json]

Then open Foxglove (app.foxglove.dev or the desktop app) -> Open connection -> ws://HOST:PORT and import the layout
(foxglove/causal_nodes.json, or the one --layout writes for the namespace).
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8765, help="WebSocket port (default %(default)s; 0 = any free)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    parser.add_argument("--namespace", default="", help="the robot's namespace (e.g. robot1)")
    parser.add_argument("--sim-time", action="store_true", help="stamp forwarded messages with /clock time")
    parser.add_argument("--layout", type=Path, default=None, metavar="OUT.json",
                        help="also write the Foxglove layout for this namespace to OUT.json")


def run(args: argparse.Namespace) -> int:
    from causal_nodes.nodes.common import run_node
    from causal_nodes.nodes.foxglove_layout import layout_json
    from causal_nodes.nodes.foxglove_node import FoxgloveNode

    if args.layout is not None:
        args.layout.write_text(layout_json(args.namespace))
        print(f"wrote the Foxglove layout for namespace {args.namespace or '/'} to {args.layout}")
    ros_args = ["--ros-args", "-p", f"port:={args.port}", "-p", f"host:={args.host}",
                "-r", "/tf:=tf", "-r", "/tf_static:=tf_static"]
    if args.namespace:
        ros_args += ["-r", f"__ns:=/{args.namespace.strip('/')}"]
    if args.sim_time:
        ros_args += ["-p", "use_sim_time:=true", "-r", "/clock:=clock"]
    run_node(FoxgloveNode, ros_args)
    return 0
