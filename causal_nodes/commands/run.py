"""Runs the node graph in one process (MultiThreadedExecutor), for machines without `ros2 launch`.

Parameters come from ROS params files (the same files as the launch files use, e.g. config/*.yaml), matched by
node name. Example: causal-nodes run --params config/discovery.yaml --params config/variables.yaml --sim-time
``--discovery-preset hri`` does what the launch argument ``discovery_preset:=hri`` does.
"""
from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_NODES = ("variables", "discovery", "prioritizer")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", default=",".join(DEFAULT_NODES),
                        help="comma-separated nodes to run: sim, variables, discovery, prioritizer, world_model "
                             "(default %(default)s)")
    parser.add_argument("--params", type=Path, action="append", default=[], metavar="YAML",
                        help="ROS 2 params file (repeatable)")
    parser.add_argument("--sim-time", action="store_true", help="use_sim_time:=true for every node (bag replay)")
    parser.add_argument("--discovery-preset", default="", metavar="NAME",
                        help="discovery preset over the params files (causal_nodes/discovery/presets.py): hri sets "
                             "the discovery node to rcot within approach/leave regimes, tau_max 1, and appends "
                             "closing_speed to the variables node's list; '' = the params files as they are")


def run(args: argparse.Namespace) -> int:
    from rclpy.parameter import Parameter

    from causal_nodes.nodes.composition import Composition, node_factories
    from causal_nodes.nodes.params_files import read_params_file
    from causal_nodes.nodes.preset_parameters import discovery_preset_overrides

    factories = node_factories()
    names = [n.strip() for n in args.nodes.split(",") if n.strip()]
    unknown = [n for n in names if n not in factories]
    if unknown:
        raise ValueError(f"unknown node(s) {unknown}; known: {sorted(factories)}")
    for path in args.params:
        read_params_file(path)  # an error naming the file and the line, not an RCLError
    discovery, variables = discovery_preset_overrides(args.discovery_preset, args.params)
    overrides = {"discovery": discovery, "variables": variables}
    ros_args = ["--ros-args"]
    for path in args.params:
        ros_args += ["--params-file", str(path)]
    if args.sim_time:
        ros_args += ["-p", "use_sim_time:=true"]
    with Composition(ros_args) as composition:
        for name in names:
            composition.add(factories[name], parameter_overrides=[
                Parameter(key, value=value) for key, value in overrides.get(name, {}).items()])
        print(f"running {', '.join(names)} (Ctrl-C to stop)")
        composition.spin_forever()
    return 0
