"""The simulator with known causal ground truth, driving the full pipeline on sim time.

  ros2 launch causal_nodes sim.launch.py [scenario:=corridor_passing] [rviz:=true]
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

PACKAGE = "causal_nodes"


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory(PACKAGE)
    return LaunchDescription([
        DeclareLaunchArgument("scenario", default_value="corridor_passing", description="scenario name or YAML path"),
        DeclareLaunchArgument("rviz", default_value="false"),
        DeclareLaunchArgument("world_model", default_value="false"),
        Node(package=PACKAGE, executable="sim_node", output="screen",
             parameters=[os.path.join(share, "config", "sim.yaml"),
                         {"scenario": LaunchConfiguration("scenario")}]),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(share, "launch", "causal_pipeline.launch.py")),
            launch_arguments={"use_sim_time": "true", "rviz": LaunchConfiguration("rviz"),
                              "world_model": LaunchConfiguration("world_model")}.items()),
    ])
