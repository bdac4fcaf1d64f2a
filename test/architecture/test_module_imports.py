"""Every module of the package imports on the running interpreter; the ROS-free ones with ROS 2 made unimportable.

Why: the other tests import what they exercise, so a module no test reaches (a command, a backend) could use a
standard-library name newer than Python 3.10 (Humble's) or an API of one ROS distribution and fail only on a robot.
ruff's py310 target checks syntax, not names looked up at run time. Each check runs in a fresh interpreter, so
modules the suite already imported cannot hide a failure. ``scripts/check-distro py310`` runs this on Python 3.10.
Every source file is also compiled, for syntax newer than the running Python that ruff may not flag.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
from repo_paths import REPO_ROOT

PACKAGE = REPO_ROOT / "causal_nodes"
# Thin rclpy wrappers: the only modules allowed to need ROS 2 at import time.
NODES = "causal_nodes.nodes"
# Top-level names a ROS 2 install provides (rclpy and the message packages the nodes use).
ROS_ROOTS = ("rclpy", "causal_msgs", "std_msgs", "builtin_interfaces", "sensor_msgs", "geometry_msgs", "nav_msgs",
             "visualization_msgs", "diagnostic_msgs", "rosgraph_msgs", "std_srvs", "rcl_interfaces", "tf2_msgs",
             "ament_index_python", "launch", "launch_ros", "rosidl_runtime_py")
# Packages of setup.py's optional extras (train, rl, gpu, fleet, foxglove): a module built on one may fail to import
# where that extra is not installed (torch has no CPU wheel for every Python here), and only there.
EXTRAS_ONLY = ("torch", "onnx", "gymnasium", "stable_baselines3", "tensorrt", "foxglove", "dask", "distributed",
               "pyarrow", "tqdm", "matplotlib", "bokeh")

# Imports each named module, with the named top-level packages blocked; prints JSON {module: null, or [error, name
# of the missing module when it is a ModuleNotFoundError]}.
IMPORT_EACH = """
import importlib, json, sys, traceback
names, blocked = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for root in blocked:
    sys.modules[root] = None  # `import root` now raises ModuleNotFoundError, as on a machine without ROS 2
errors = {}
for name in names:
    try:
        importlib.import_module(name)
        errors[name] = None
    except BaseException as error:  # SystemExit or a bad module-level call must be reported too
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
        missing = getattr(error, "name", None) if isinstance(error, ModuleNotFoundError) else None
        errors[name] = [text, missing]
print(json.dumps(errors))
"""


def _module_names() -> list[str]:
    """Module names from the files (importing packages to walk them would run their code before the check)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        if parts[-1] == "__main__":
            continue  # runs the CLI
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _failures(names: list[str], blocked: tuple[str, ...] = ()) -> dict[str, str]:
    """Modules that do not import, with the error; a missing extra that is really not installed is no failure."""
    run = subprocess.run([sys.executable, "-c", IMPORT_EACH, json.dumps(names), json.dumps(blocked)], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    failed = {}
    for name, error in json.loads(run.stdout.strip().splitlines()[-1]).items():
        if error is None:
            continue
        text, missing = error
        root = (missing or "").split(".")[0]
        if root in EXTRAS_ONLY and importlib.util.find_spec(root) is None:
            print(f"{name}: needs the optional {root}, not installed here")
            continue
        failed[name] = text
    return failed


def test_every_source_file_compiles() -> None:
    """Syntax newer than the running Python (3.12's nested same-quote f-strings, ``type`` aliases, ``except*``) in
    any file, including the training, benchmark and launch code that no import test reaches."""
    failed = {}
    for folder in ("causal_nodes", "training", "benchmarks", "launch", "test", "scripts", "bin"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            try:
                compile(path.read_text(), str(path), "exec", dont_inherit=True)
            except SyntaxError as error:
                failed[str(path.relative_to(REPO_ROOT))] = f"line {error.lineno}: {error.msg}"
    assert not failed, json.dumps(failed, indent=1)


def test_module_list_covers_the_package() -> None:
    names = _module_names()
    assert "causal_nodes" in names and "causal_nodes.discovery.fast" in names and "causal_nodes.cli" in names
    assert len(names) == len(set(names)) > 50


def test_ros_free_modules_import_without_ros() -> None:
    """Everything but the nodes imports with rclpy and every message package missing (Humble-era Python too)."""
    names = [n for n in _module_names() if n != NODES and not n.startswith(NODES + ".")]
    failed = _failures(names, ROS_ROOTS)
    assert not failed, json.dumps(failed, indent=1)


def test_node_modules_import() -> None:
    pytest.importorskip("rclpy", reason="ROS 2 (rclpy) not installed: the node modules need it")
    names = [n for n in _module_names() if n == NODES or n.startswith(NODES + ".")]
    assert len(names) > 5
    failed = _failures(names)
    assert not failed, json.dumps(failed, indent=1)
