"""``discovery_preset:=hri`` over a real launch in a namespace: the variables node gets the list rcl would give it
from the user's params file *for its namespace*, with the regime label appended.

The launch files run through ``launch.LaunchService`` (``launch_runner.py``) from an ament index made here that
points at this working tree (share/causal_nodes -> launch/, config/; lib/causal_nodes -> the venv's node
executables), so no colcon build is needed; the nodes are real processes, their parameters read back over DDS.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from repo_paths import REPO_ROOT, ROS_UNDERLAY

pytestmark = pytest.mark.ros

pytest.importorskip("rclpy")

from rcl_interfaces.srv import GetParameters  # noqa: E402
from rclpy.parameter import parameter_value_to_python  # noqa: E402

UNDERLAY = ROS_UNDERLAY
RUNNER = Path(__file__).with_name("launch_runner.py")
EXECUTABLES = ("variables_node", "discovery_node", "prioritizer_node", "sim_node", "replay_node")


def _prefix(tmp: Path) -> Path:
    """An install prefix with causal_nodes in its ament index, pointing at this working tree."""
    prefix = tmp / "prefix"
    index = prefix / "share" / "ament_index" / "resource_index" / "packages"
    index.mkdir(parents=True)
    (index / "causal_nodes").touch()
    share = prefix / "share" / "causal_nodes"
    share.mkdir()
    for folder in ("launch", "config", "rviz"):
        (share / folder).symlink_to(REPO_ROOT / folder)
    lib = prefix / "lib" / "causal_nodes"
    lib.mkdir(parents=True)
    for name in EXECUTABLES:
        found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
        if found is None:
            pytest.skip(f"{name} is not installed (pip install -e .)")
        (lib / name).symlink_to(found)
    return prefix


def _launch(tmp: Path, *arguments: str) -> subprocess.Popen:
    if not UNDERLAY.is_file():
        pytest.skip(f"no {UNDERLAY} (launch, launch_ros): run scripts/env.sh")
    command = (f'source "{UNDERLAY}" && export AMENT_PREFIX_PATH="{_prefix(tmp)}:$AMENT_PREFIX_PATH" && '
               f'exec "{sys.executable}" "{RUNNER}" causal_nodes ' + " ".join(f"'{a}'" for a in arguments))
    return subprocess.Popen(["bash", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env=dict(os.environ))


def _left_running(process: subprocess.Popen) -> bool:
    """Whether any process of the launch's process group (the nodes it started) is still alive."""
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            return process.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            pass
    if _left_running(process):
        os.killpg(process.pid, signal.SIGKILL)
    return process.communicate(timeout=10)[0]


def _refused(process: subprocess.Popen) -> tuple[list[str], str, bool]:
    """(the launch's ERROR lines, its output, whether a node it started outlived it) for a launch that refuses."""
    try:
        output = process.communicate(timeout=120)[0]
        time.sleep(1.0)  # a node process started just before the refusal would still be starting
        leftover = _left_running(process)
    finally:
        _stop(process)
    return [line for line in output.splitlines() if "ERROR" in line], output, leftover


def _parameters(ros, node: str, names: list[str], process: subprocess.Popen, timeout: float = 90.0) -> dict:
    client = ros.node(f"ask_{len(ros.nodes)}").create_client(GetParameters, f"{node}/get_parameters")
    ready = ros.spin_until(lambda: client.service_is_ready() or process.poll() is not None, timeout)
    assert ready and process.poll() is None, f"{node}/get_parameters never appeared:\n{_stop(process)[-3000:]}"
    future = client.call_async(GetParameters.Request(names=names))
    assert ros.spin_until(future.done, 10), f"{node}/get_parameters did not answer"
    return {name: parameter_value_to_python(value) for name, value in zip(names, future.result().values)}


def test_hri_in_a_namespace_extends_the_list_rcl_gives_that_namespace(ros, tmp_path: Path):
    """A fleet params file: robot1's own key comes first, a ``/**`` key later (rcl: the later one wins for robot1),
    robot2's key last. Reading "the key naming the node wins" gave robot1 robot2's list."""
    params = tmp_path / "fleet_variables.yaml"
    params.write_text("/robot1/variables_node:\n  ros__parameters:\n    variables: [human_speed, human_bearing]\n"
                      "/**:\n  ros__parameters:\n    variables: [robot_linear_speed, human_robot_distance]\n"
                      "/robot2/variables_node:\n  ros__parameters:\n    variables: [human_bearing]\n")
    process = _launch(tmp_path, "causal_pipeline.launch.py", "namespace:=robot1", f"variables_params:={params}",
                      "discovery_preset:=hri")
    try:
        variables = _parameters(ros, "/robot1/variables_node", ["variables"], process)["variables"]
        assert list(variables) == ["robot_linear_speed", "human_robot_distance", "closing_speed"]
        discovery = _parameters(ros, "/robot1/discovery_node", ["test", "context", "tau_max"], process)
        assert discovery == {"test": "rcot", "context": "closing_speed", "tau_max": 1}
    finally:
        output = _stop(process)
    assert "Traceback" not in output, output[-3000:]


def test_a_params_file_that_is_not_one_stops_the_launch_in_one_line_naming_it(tmp_path: Path):
    params = tmp_path / "list.yaml"
    params.write_text("- variables_node\n- discovery_node\n")
    for launch_file in ("causal_pipeline.launch.py", "sim.launch.py"):
        errors, output, leftover = _refused(_launch(tmp_path / launch_file, launch_file,
                                                    f"variables_params:={params}", "discovery_preset:=hri"))
        assert len(errors) == 1 and f"params file {params}: top level must map node names" in errors[0], output
        assert "Traceback" not in output and "object has no attribute" not in output, output
        assert not leftover, f"{launch_file}: a node outlived the refused launch\n{output}"


def test_sim_launch_refuses_a_preset_the_scenario_cannot_feed_in_one_line_and_starts_nothing(tmp_path: Path):
    """hri on an SCM scenario (no people, no closing_speed): refused as causal-nodes demo refuses it, rather than a
    pipeline whose discovery could never test within the regimes. The simulator was once started before the
    refusal and outlived the launch, publishing frames and /clock into the domain."""
    errors, output, leftover = _refused(_launch(tmp_path, "sim.launch.py", "scenario:=scm_demo",
                                                "discovery_preset:=hri"))
    assert len(errors) == 1, output
    assert "discovery_preset:=hri needs ['closing_speed'], which the scm scenario scm_demo does not have" in errors[0]
    assert not leftover, f"a node outlived the refused launch\n{output}"


def test_replay_launch_refused_by_the_pipeline_starts_no_replay(tmp_path: Path):
    """discovery_preset:=auto has no scenario to choose by on a bag: the pipeline refuses it. The replay node was
    started before that refusal and went on playing the bag (looped) after the launch had exited."""
    from causal_nodes.bags import BagWriter

    bag = tmp_path / "bag"
    with BagWriter(bag) as writer:
        writer.add_topic("/chatter", "std_msgs/msg/String")
        for k in range(20):
            writer.write_message("/chatter", (100 + k) * 10**8, writer.typestore.types["std_msgs/msg/String"](data="x"))
    refusals = {("discovery_preset:=auto",): "discovery preset auto chooses by the scenario",
                # refused after the pipeline had started: its nodes outlived the launch
                ("rate:=fast",): "rate:='fast' is not a number", ("include_outputs:=maybe",): "is not true or false"}
    for k, (arguments, message) in enumerate(refusals.items()):
        errors, output, leftover = _refused(_launch(tmp_path / str(k), "replay.launch.py", f"bag:={bag}",
                                                    "loop:=true", *arguments))
        assert len(errors) == 1 and message in errors[0], output
        assert not leftover, f"{arguments}: a node outlived the refused launch\n{output}"


def test_a_bad_foxglove_port_stops_the_pipeline_launch_before_any_node_starts(tmp_path: Path):
    """foxglove_port was a ParameterValue(int) read only when the bridge was launched, after the variables,
    discovery and prioritizer nodes had started: they outlived the refused launch. Checked first now."""
    for k, (port, message) in enumerate({"abc": "foxglove_port:='abc' is not an integer",
                                         "70000": "foxglove_port:='70000' is outside 0..65535"}.items()):
        errors, output, leftover = _refused(_launch(tmp_path / str(k), "causal_pipeline.launch.py", "foxglove:=true",
                                                    f"foxglove_port:={port}"))
        assert len(errors) == 1 and message in errors[0], output
        assert not leftover, f"a node outlived the refused launch\n{output}"
