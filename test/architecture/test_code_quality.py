"""The codebase's own rules, checked: lint and types pass, and each stage imports only what it may.

Why a test rather than a pre-commit hook: CI runs only the test command, so a rule that is not a test is a rule
that drifts.
"""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from repo_paths import REPO_ROOT

PACKAGE = REPO_ROOT / "causal_nodes"
# Stages that run on the robot: they may import each other and the simulator's geometry, never evaluation code.
RUNTIME_STAGES = ("variables", "discovery", "prioritization", "world_model", "bags")
ROS_FREE = (*RUNTIME_STAGES, "sim", "evaluation", "fleet")


def _imports(path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules_of(stage: str):
    return sorted((PACKAGE / stage).rglob("*.py"))


@pytest.mark.parametrize("stage", ROS_FREE)
def test_core_stages_import_no_rclpy(stage: str) -> None:
    offenders = {
        str(p.relative_to(REPO_ROOT)): sorted(m for m in _imports(p) if m.split(".")[0] in ("rclpy", "causal_msgs"))
        for p in _modules_of(stage)
    }
    assert not {k: v for k, v in offenders.items() if v}


@pytest.mark.parametrize("stage", RUNTIME_STAGES)
def test_runtime_stages_never_import_evaluation(stage: str) -> None:
    offenders = {
        str(p.relative_to(REPO_ROOT)): sorted(m for m in _imports(p) if m.startswith("causal_nodes.evaluation"))
        for p in _modules_of(stage)
    }
    assert not {k: v for k, v in offenders.items() if v}


def _tool(name: str) -> list[str]:
    # the running interpreter's environment first: scripts/check-distro's venvs have their own ruff and mypy
    exe = (shutil.which(name, path=str(Path(sys.executable).parent))
           or shutil.which(name, path=str(REPO_ROOT / ".venv" / "bin")) or shutil.which(name))
    if exe is None:
        pytest.skip(f"{name} is not installed (it comes with the 'test' extra: pip install -e .[test])")
    return [exe]


def test_ruff_lint_passes() -> None:
    run = subprocess.run([*_tool("ruff"), "check", "--no-cache", "."], cwd=REPO_ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def _mypy_target() -> list[str]:
    """pyproject's python_version (3.10, Humble's), except where numpy's stubs cannot be read under it: numpy 2.5+
    (Python 3.12+ only, so Jazzy's environment) writes them with 3.12 generics (``def min[T: ndarray]``), and mypy
    under a 3.10 target then rejects valid calls such as ``a.min()`` (call-overload). 3.10 compatibility is checked
    where numpy is older: the Kilted environment and ``scripts/check-distro py310``."""
    import numpy as np

    if np.lib.NumpyVersion(np.__version__) < "2.5.0":
        return []
    return ["--python-version", f"{sys.version_info.major}.{sys.version_info.minor}"]


def test_mypy_passes_on_discovery_and_variables() -> None:
    run = subprocess.run([*_tool("mypy"), "--no-incremental", "--cache-dir", "/dev/null", *_mypy_target()],
                         cwd=REPO_ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_python_version_supported() -> None:
    assert sys.version_info >= (3, 10)  # Humble's Python; the code uses X | Y annotations at runtime
