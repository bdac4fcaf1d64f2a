"""``causal-nodes run --discovery-preset``: the one-process graph gets the same preset parameters as the launch
argument ``discovery_preset:=hri``, over the user's params files. A real process, its parameters read back through
the nodes' own ``get_parameters`` services over DDS."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros

pytest.importorskip("rclpy")

from rcl_interfaces.srv import GetParameters  # noqa: E402
from rclpy.parameter import parameter_value_to_python  # noqa: E402


def _parameters(ros, node: str, names: list[str], timeout: float = 60.0) -> dict:
    client = ros.node(f"ask_{node}").create_client(GetParameters, f"/{node}/get_parameters")
    assert ros.spin_until(client.service_is_ready, timeout), f"/{node}/get_parameters never appeared"
    future = client.call_async(GetParameters.Request(names=names))
    assert ros.spin_until(future.done, 10), f"/{node}/get_parameters did not answer"
    return {name: parameter_value_to_python(value) for name, value in zip(names, future.result().values)}


def _run(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "causal_nodes", "run", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_run_with_the_hri_preset_sets_discovery_and_appends_the_regime_label(ros, tmp_path):
    params = tmp_path / "variables.yaml"
    params.write_text("/**/variables_node:\n  ros__parameters:\n    variables: [human_speed, robot_linear_speed]\n"
                      "/**/discovery_node:\n  ros__parameters:\n    alpha_level: 0.01\n")
    process = _run("--nodes", "variables,discovery", "--params", str(params), "--discovery-preset", "hri",
                   cwd=tmp_path)
    try:
        discovery = _parameters(ros, "discovery_node", ["test", "tau_max", "context", "alpha_level"])
        assert discovery == {"test": "rcot", "tau_max": 1, "context": "closing_speed", "alpha_level": 0.05}
        variables = _parameters(ros, "variables_node", ["variables"])["variables"]
        assert list(variables) == ["human_speed", "robot_linear_speed", "closing_speed"]  # the user's list + label
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err[-2000:]


def test_run_refuses_an_unknown_preset_in_one_line(tmp_path):
    process = _run("--discovery-preset", "fastest", cwd=tmp_path)
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "unknown discovery preset 'fastest'; known: ['general', 'hri']" in err and "Traceback" not in err, err
