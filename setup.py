"""Installs causal_nodes as an ament_python package (colcon) or a plain Python package (pip).

Executables are listed once in ``NODE_EXECUTABLES`` so ``ros2 run causal_nodes <name>`` and the launch files
find the same entry points the ``causal-nodes run`` composition uses.
"""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "causal_nodes"

NODE_EXECUTABLES = {
    "variables_node": "causal_nodes.nodes.variables_node:main",
    "discovery_node": "causal_nodes.nodes.discovery_node:main",
    "sim_node": "causal_nodes.nodes.sim_node:main",
    "prioritizer_node": "causal_nodes.nodes.prioritizer_node:main",
    "world_model_node": "causal_nodes.nodes.world_model_node:main",
    "recorder_node": "causal_nodes.nodes.recorder_node:main",
    "replay_node": "causal_nodes.nodes.replay_node:main",
    "foxglove_node": "causal_nodes.nodes.foxglove_node:main",
}

#: Fleet-scale bag analysis (`causal-nodes fleet`): Dask distributed (bokeh for its dashboard), Parquet tables,
#: progress bar, the HTML report's plots. Also in the `test` extra, so the test environment covers the fleet tests.
FLEET_REQUIRES = ["dask[distributed]>=2024.1", "bokeh>=3.1", "pyarrow>=14", "tqdm>=4.60", "matplotlib"]

setup(
    name=PACKAGE,
    version="0.1.0",
    description=(
        "Online causal perception for ROS 2: PCMCI causal graphs, causal prioritization, streaming world model."
    ),
    license="GPL-3.0-or-later",
    python_requires=">=3.10",
    packages=find_packages(exclude=["test", "test.*", "training", "training.*", "benchmarks", "benchmarks.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/rviz", glob("rviz/*.rviz")),
        (f"share/{PACKAGE}/foxglove", glob("foxglove/*.json")),
        (f"share/{PACKAGE}/models", glob("models/*.onnx") + glob("models/*.json")),
        (f"share/{PACKAGE}/sim/scenarios", glob("sim/scenarios/*")),
    ],
    install_requires=[
        "numpy>=1.21",
        "scipy>=1.7",
        "tigramite>=5.2",
        "joblib",  # tigramite imports it without declaring it
        "opencv-python-headless>=4.5",
        "onnxruntime>=1.16",
        "rosbags>=0.10",
        "PyYAML",
        "scikit-learn",  # tigramite GPDC (Gaussian-process regression)
        "numba",  # the fast engine's compiled kernels; tigramite CMIknn
        "dcor",  # tigramite GPDC (distance correlation of residuals)
    ],
    extras_require={
        # websockets: the Foxglove bridge test's client
        "test": ["pytest>=7", "ruff>=0.5", "mypy>=1.8", *FLEET_REQUIRES, "foxglove-sdk>=0.16", "websockets>=12"],
        "fleet": FLEET_REQUIRES,
        "train": ["torch>=2.0", "onnx>=1.14"],
        "rl": ["gymnasium>=0.29", "stable-baselines3>=2.0", "matplotlib"],
        "gpu": ["onnxruntime-gpu", "tensorrt"],
        "foxglove": ["foxglove-sdk>=0.16"],  # the live Foxglove bridge (foxglove_node, causal-nodes view)
    },
    entry_points={
        "console_scripts": ["causal-nodes = causal_nodes.cli:main"]
        + [f"{name} = {target}" for name, target in NODE_EXECUTABLES.items()],
    },
    zip_safe=True,
)
