"""package.xml declares every runtime dependency with a rosdep key; what no rosdep key covers is in
requirements/pip-only.txt; and the colcon layout the README relies on holds.

Why static: ``rosdep install`` needs a network and root here; the keys themselves were checked against
ros/rosdistro (rosdep/base.yaml, python.yaml and the humble, jazzy and kilted distribution files), and this test keeps
the code and the manifest from drifting apart: a new import without its key fails here, not on a robot.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from repo_paths import REPO_ROOT

# top-level module -> rosdep key (ROS packages: the package name; Python: the rosdistro key)
ROSDEP_KEY = {
    "numpy": "python3-numpy", "scipy": "python3-scipy", "cv2": "python3-opencv", "yaml": "python3-yaml",
    "onnxruntime": "python3-onnxruntime-pip", "rosbags": "python3-rosbags-pip", "tf2_ros": "tf2_ros_py",
    # the fast engine's compiled kernels; llvmlite is numba's own dependency (python3-numba pulls it in)
    "numba": "python3-numba", "llvmlite": "python3-numba",
}
# no rosdep key exists: installed with pip from requirements/pip-only.txt
PIP_ONLY = {"tigramite": "tigramite", "foxglove": "foxglove-sdk"}
# tigramite imports these without declaring them (GPDC, CMIknn, parallel runs)
FOR_TIGRAMITE = {"python3-joblib", "python3-sklearn", "python3-numba"}
# optional extras of setup.py (training, the RL study, GPU back-ends, offline fleet analysis), not needed to run the
# nodes; threadpoolctl comes with scikit-learn
OPTIONAL = {"torch", "gymnasium", "stable_baselines3", "tensorrt", "cuda", "dask", "distributed", "pyarrow", "tqdm",
            "matplotlib", "bokeh", "threadpoolctl"}
FIRST_PARTY = {"causal_nodes", "causal_msgs", "__future__"}


def _exec_depends(path) -> set[str]:
    return {e.text.strip() for e in ET.parse(path).getroot() if e.tag in ("exec_depend", "depend")}


def _third_party_imports() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((REPO_ROOT / "causal_nodes").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                    found.setdefault(top, str(path.relative_to(REPO_ROOT)))
    return found


def _pip_only() -> set[str]:
    lines = (REPO_ROOT / "requirements" / "pip-only.txt").read_text().splitlines()
    return {line.split(">")[0].split("=")[0].strip() for line in lines if line.strip() and not line.startswith("#")}


def test_every_runtime_import_has_a_declared_dependency() -> None:
    declared, pip_only = _exec_depends(REPO_ROOT / "package.xml"), _pip_only()
    missing = {}
    for module, where in _third_party_imports().items():
        if module in OPTIONAL:
            continue
        if module in PIP_ONLY:
            ok = PIP_ONLY[module] in pip_only
        else:
            ok = ROSDEP_KEY.get(module, module) in declared
        if not ok:
            missing[module] = where
    assert not missing, f"imports without a package.xml key (or pip-only.txt entry): {missing}"
    assert FOR_TIGRAMITE <= declared


def test_pip_only_packages_are_installed_by_setup_py_too() -> None:
    setup = (REPO_ROOT / "setup.py").read_text()
    for package in _pip_only():
        assert f'"{package}' in setup, f"{package} is in pip-only.txt but not in setup.py"


def _colcon_list(*base_paths) -> dict[str, str]:
    run = subprocess.run([sys.executable, "-m", "colcon", "--log-base", os.devnull, "list", "--base-paths",
                          *map(str, base_paths)], capture_output=True, text=True, cwd=REPO_ROOT.parent)
    assert run.returncode == 0, run.stderr[-2000:]
    return {line.split()[0]: line.split()[-1].strip("()") for line in run.stdout.splitlines() if line.strip()}


def test_colcon_finds_both_packages_from_the_base_paths_the_readme_names() -> None:
    """colcon stops descending at the first package folder: from the clone alone it finds causal_nodes only, with
    interfaces/ as a second base path (the README's colcon and rosdep lines) it finds causal_msgs too."""
    pytest.importorskip("colcon_core")
    assert _colcon_list(REPO_ROOT) == {"causal_nodes": "ros.ament_python"}
    assert _colcon_list(REPO_ROOT, REPO_ROOT / "interfaces") == {
        "causal_msgs": "ros.ament_cmake", "causal_nodes": "ros.ament_python"}
    assert "causal_msgs" in _exec_depends(REPO_ROOT / "package.xml")
