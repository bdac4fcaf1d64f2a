"""The causal perception pipeline on a robot: variables -> discovery -> prioritizer (+ optional world model, RViz).

  ros2 launch causal_nodes causal_pipeline.launch.py [use_sim_time:=false] [world_model:=false] [rviz:=false]

Each node reads its commented params file from config/; override any of them with the *_params arguments.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

PACKAGE = "causal_nodes"


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory(PACKAGE)
    use_sim_time = LaunchConfiguration("use_sim_time")

    def params_argument(name: str) -> DeclareLaunchArgument:
        return DeclareLaunchArgument(f"{name}_params", default_value=os.path.join(share, "config", f"{name}.yaml"),
                                     description=f"params file of the {name} node")

    def node(executable: str, params: str, condition=None) -> Node:
        return Node(package=PACKAGE, executable=executable, output="screen", condition=condition,
                    parameters=[LaunchConfiguration(f"{params}_params"), {"use_sim_time": use_sim_time}])

    return LaunchDescription([
        DeclareLaunchArgument("use_sim_time", default_value="false", description="use /clock (bag replay, simulator)"),
        DeclareLaunchArgument("world_model", default_value="false", description="also run the world-model node"),
        DeclareLaunchArgument("rviz", default_value="false", description="also start RViz with the causal view"),
        params_argument("variables"),
        params_argument("discovery"),
        params_argument("prioritizer"),
        params_argument("world_model"),
        node("variables_node", "variables"),
        node("discovery_node", "discovery"),
        node("prioritizer_node", "prioritizer"),
        node("world_model_node", "world_model", condition=IfCondition(LaunchConfiguration("world_model"))),
        Node(package="rviz2", executable="rviz2", output="screen", condition=IfCondition(LaunchConfiguration("rviz")),
             arguments=["-d", os.path.join(share, "rviz", "causal_nodes.rviz")],
             parameters=[{"use_sim_time": use_sim_time}]),
    ])
