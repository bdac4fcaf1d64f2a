"""params_files.py reads a node's parameter from params files as rcl does: checked against real rclpy nodes, each
in its own context started with the same ``--params-file`` arguments, in several namespaces. The files are the
shapes a user with several robots writes (namespaced keys, ``/**`` after a node key, nested keys, ``*``), where
reading "the key naming the node wins" gave one robot another robot's list."""
from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.ros

pytest.importorskip("rclpy")

from causal_nodes.nodes.params_files import params_file_value, read_params_file  # noqa: E402

FILES = {
    "robots.yaml": "/robot1/variables_node:\n  ros__parameters:\n    variables: [human_speed, closing_speed]\n"
                   "/**:\n  ros__parameters:\n    variables: [robot_linear_speed]\n"
                   "/robot2/variables_node:\n  ros__parameters:\n    variables: [human_bearing]\n",
    "node_key_first.yaml": "/**:\n  ros__parameters:\n    variables: [a1]\n"
                           "/**/variables_node:\n  ros__parameters:\n    variables: [a2]\n",
    "star_only.yaml": "/**:\n  ros__parameters:\n    variables: [b1]\n",
    "nested.yaml": "variables_node:\n  ros__parameters:\n    variables: [c1]\n"
                   "robot1:\n  variables_node:\n    ros__parameters:\n      variables: [c2]\n"
                   "/*/variables_node:\n  ros__parameters:\n    rate_hz: 4.0\n",
    "same_key_twice.yaml": "/variables_node:\n  ros__parameters:\n    variables: [d1]\n"
                           "variables_node:\n  ros__parameters:\n    variables: [d2]\n"
                           "/robot1/*:\n  ros__parameters:\n    variables: [d3]\n",
    "empty.yaml": "",
}
CASES = [["robots.yaml"], ["node_key_first.yaml", "star_only.yaml"], ["star_only.yaml", "node_key_first.yaml"],
         ["nested.yaml"], ["same_key_twice.yaml"], ["empty.yaml"], ["nested.yaml", "robots.yaml"]]


def _rclpy_values(paths: list[Path], namespace: str, defaults: dict) -> dict:
    import rclpy
    from rclpy.node import Node

    args = ["--ros-args"]
    for path in paths:
        args += ["--params-file", str(path)]
    context = rclpy.Context()
    rclpy.init(context=context, args=args)
    try:
        node = Node("variables_node", namespace=namespace, context=context)
        try:
            return {name: node.declare_parameter(name, default).value for name, default in defaults.items()}
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


@pytest.mark.parametrize("files", CASES, ids=["+".join(case) for case in CASES])
def test_the_value_read_is_the_value_rclpy_gives_the_node_in_every_namespace(tmp_path: Path, files: list[str]):
    paths = []
    for name in files:
        (tmp_path / name).write_text(FILES[name])
        paths.append(tmp_path / name)
    defaults = {"variables": ["unset"], "rate_hz": -1.0}
    for namespace in ("", "robot1", "robot2", "a/b"):
        given = _rclpy_values(paths, namespace, defaults)
        fqn = f"/{namespace}/variables_node" if namespace else "/variables_node"
        for name, default in defaults.items():
            read = params_file_value(paths, fqn, name)
            assert (read if read is not None else default) == given[name], (files, namespace, name)


def test_files_rcl_would_refuse_are_one_line_errors_naming_the_file(tmp_path: Path):
    shapes = {"list.yaml": ("- a\n- b\n", "top level must map node names"),
              "scalar_section.yaml": ("variables_node:\n  ros__parameters: 5\n",
                                      "/variables_node/ros__parameters must be a mapping"),
              "broken.yaml": ("a: [\n", "line 2: not valid YAML")}
    for name, (text, message) in shapes.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=message) as error:
            params_file_value([tmp_path / name], "/variables_node", "variables")
        assert str(tmp_path / name) in str(error.value)
    with pytest.raises(FileNotFoundError, match="params file .*missing.yaml does not exist"):
        read_params_file(tmp_path / "missing.yaml")
