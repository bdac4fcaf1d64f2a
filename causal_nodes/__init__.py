"""causal_nodes: online causal perception for ROS 2 robots.

The package is split so that the computation can be used without ROS:
``causal_nodes.core`` (variables, windows, discovery, metrics) and the other sub-packages import no rclpy;
``causal_nodes.nodes`` holds the thin rclpy nodes that convert messages and wire topics.
"""

__version__ = "0.1.0"
