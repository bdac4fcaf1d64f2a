"""Bags without ROS: open/validate/read/write rosbag2 (MCAP, SQLite3), replay timing, ETH/UCY → bag, bag → CSV.

Nothing here imports rclpy: the record/replay nodes in :mod:`causal_nodes.nodes` only wire these helpers to topics,
and the offline tools (``bag2csv``, ``eth2bag``) run without a ROS graph at all.
"""
from causal_nodes.bags.errors import BagError
from causal_nodes.bags.reader import BagMessage, BagReader, TopicInfo
from causal_nodes.bags.writer import BagWriter

__all__ = ["BagError", "BagMessage", "BagReader", "BagWriter", "TopicInfo"]
