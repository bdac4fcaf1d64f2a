"""Replays a rosbag2 (MCAP or sqlite3) through the pipeline on the bag's time.

  ros2 launch causal_nodes replay.launch.py bag:=/path/to/bag [rate:=1.0] [loop:=false] [rviz:=true]
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from launch import LaunchDescription

PACKAGE = "causal_nodes"


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory(PACKAGE)
    return LaunchDescription([
        DeclareLaunchArgument("bag", description="bag folder or .mcap/.db3 file to replay"),
        DeclareLaunchArgument("rate", default_value="1.0"),
        DeclareLaunchArgument("loop", default_value="false"),
        DeclareLaunchArgument("rviz", default_value="false"),
        DeclareLaunchArgument("world_model", default_value="false"),
        Node(package=PACKAGE, executable="replay_node", output="screen",
             parameters=[os.path.join(share, "config", "replay.yaml"),
                         {"bag": LaunchConfiguration("bag"),
                          "rate": ParameterValue(LaunchConfiguration("rate"), value_type=float),
                          "loop": ParameterValue(LaunchConfiguration("loop"), value_type=bool)}]),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(share, "launch", "causal_pipeline.launch.py")),
            launch_arguments={"use_sim_time": "true", "rviz": LaunchConfiguration("rviz"),
                              "world_model": LaunchConfiguration("world_model")}.items()),
    ])
