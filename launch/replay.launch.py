"""Replays a rosbag2 (MCAP or sqlite3) through the pipeline on the bag's time.

  ros2 launch causal_nodes replay.launch.py bag:=/path/to/bag [rate:=1.0] [loop:=false] [include_outputs:=false]
      [namespace:=robot1] [rviz:=true] [foxglove:=true] [remap:='FROM:=TO ...']

By default the bag's /clock and the pipeline's own outputs (/causal/graph, ...) are not replayed: the replay
publishes the clock and the pipeline recomputes the outputs (include_outputs:=true replays them too). The bag's
topics are published relative to the namespace (/people -> /robot1/people under namespace:=robot1).
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from causal_nodes.nodes.launching import (
    CLOCK_REMAPS,
    TF_REMAPS,
    flag_argument,
    namespace_arguments,
    number_argument,
    remaps,
)
from launch import LaunchDescription

PACKAGE = "causal_nodes"


def _replay_and_pipeline(context) -> list:
    """Every argument is checked, and the pipeline's own checks (preset, params files, remaps) run, before the
    replay starts: a refused launch never leaves a process behind it -- a replay playing the bag and /clock into
    the domain, or pipeline nodes -- after the launch has exited."""
    share = get_package_share_directory(PACKAGE)
    passed = ("namespace", "rviz", "world_model", "foxglove", "foxglove_port", "discovery_preset")
    replay_parameters = {"bag": LaunchConfiguration("bag"), "rate": number_argument(context, "rate"),
                         "loop": flag_argument(context, "loop"),
                         "include_outputs": flag_argument(context, "include_outputs")}
    pipeline = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, "launch", "causal_pipeline.launch.py")),
        launch_arguments={"use_sim_time": "true",
                          "remap": ["/clock:=clock ", LaunchConfiguration("remap")],
                          **{name: LaunchConfiguration(name) for name in passed}}.items())
    replay = Node(package=PACKAGE, executable="replay_node", output="screen",
                  namespace=LaunchConfiguration("namespace"), remappings=remaps(context, TF_REMAPS, CLOCK_REMAPS),
                  parameters=[os.path.join(share, "config", "replay.yaml"), replay_parameters])
    return [pipeline, replay]  # launch visits depth first: the pipeline's checks run before the replay starts


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        *namespace_arguments(),
        DeclareLaunchArgument("bag", description="bag folder or .mcap/.db3 file to replay"),
        DeclareLaunchArgument("rate", default_value="1.0"),
        DeclareLaunchArgument("loop", default_value="false"),
        DeclareLaunchArgument("include_outputs", default_value="false",
                              description="also replay /clock and the pipeline's outputs recorded in the bag"),
        DeclareLaunchArgument("rviz", default_value="false"),
        DeclareLaunchArgument("world_model", default_value="false"),
        DeclareLaunchArgument("foxglove", default_value="false"),
        DeclareLaunchArgument("foxglove_port", default_value="8765"),
        DeclareLaunchArgument("discovery_preset", default_value="",
                              description="discovery preset (hri for human-robot bags, general); '' = params files"),
        OpaqueFunction(function=_replay_and_pipeline),
    ])
