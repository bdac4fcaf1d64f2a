"""Variables stage (ROS-free): sensor and people messages to named causal variables on a fixed-rate time grid.

:mod:`.extractor` defines the variables and the grid, :mod:`.tracking` follows people between messages,
:mod:`.msg_adapters` reads rclpy and rosbags messages alike, :mod:`.csv_io` reads and writes variable tables.
"""
