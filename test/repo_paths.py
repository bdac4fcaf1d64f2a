"""Where tests find the repository's files and the shared datasets, in one place (the test tree is nested)."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS = REPO_ROOT / "models"
DEFAULT_MODEL = Path(os.environ.get("WORLD_MODEL_TEST_MODEL", MODELS / "world_model.onnx"))
DATASETS = Path(os.environ.get("CAUSAL_NODES_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))
# The wheel install's stand-in for /opt/ros/<distro>/setup.bash, written by scripts/env.sh (which exports its path:
# another distro's environment, scripts/check-distro jazzy, keeps its own under build/<distro>/).
ROS_UNDERLAY = Path(os.environ.get("CAUSAL_NODES_UNDERLAY", REPO_ROOT / "build" / "ros_underlay.bash"))
