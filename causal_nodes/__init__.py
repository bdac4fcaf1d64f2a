"""causal_nodes: online causal perception for ROS 2 robots.

One package per pipeline stage, none of which imports rclpy:

* :mod:`causal_nodes.variables` -- sensor and people messages to causal variables on a fixed-rate grid;
* :mod:`causal_nodes.discovery` -- sliding-window PCMCI (exact fast ParCorr engine in ``discovery.fast``, or tigramite);
* :mod:`causal_nodes.prioritization` -- total causal effects and ranked do()-interventions on the discovered graph;
* :mod:`causal_nodes.world_model` -- streaming world model runtime (ONNX Runtime, TensorRT);
* :mod:`causal_nodes.sim` -- simulator with known causal ground truth;
* :mod:`causal_nodes.bags` -- rosbag2 reading, writing and replay timing;
* :mod:`causal_nodes.evaluation` -- scoring against ground truth (graphs, interventions, trajectories, RL);
  runtime stages never import it.

``causal_nodes.nodes`` holds the thin rclpy nodes that convert messages and wire topics, and
``causal_nodes.commands`` the CLI.
"""

__version__ = "0.1.0"
