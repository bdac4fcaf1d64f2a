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
    from causal_nodes.nodes.preset_parameters import discovery_preset_overrides

    factories = node_factories()
    names = [n.strip() for n in args.nodes.split(",") if n.strip()]
    unknown = [n for n in names if n not in factories]
    if unknown:
        raise ValueError(f"unknown node(s) {unknown}; known: {sorted(factories)}")
    for path in args.params:
        check_params_file(path)
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


def check_params_file(path: Path) -> None:
    """A ROS 2 params file: YAML mapping node names (``/**``, namespaces) to ``ros__parameters`` mappings.

    Checked before rclpy reads it, so a broken file is an error naming the file and the line, not an RCLError.
    """
    import yaml

    if not path.is_file():
        raise FileNotFoundError(f"params file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except UnicodeDecodeError:
        raise ValueError(f"params file {path}: not a text (YAML) file") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ValueError(f"params file {path}: {where}not valid YAML ({getattr(error, 'problem', error)})") from None

    def check(node: object, where: str) -> None:
        if not isinstance(node, dict) or not node:
            raise ValueError(f"params file {path}: {where or 'top level'} must map node names to "
                             "'ros__parameters:' (see config/*.yaml)")
        for key, value in node.items():
            if key == "ros__parameters":
                if not isinstance(value, dict):
                    raise ValueError(f"params file {path}: {where}/ros__parameters must be a mapping of parameters")
            else:
                check(value, f"{where}/{key}")

    check(data, "")
