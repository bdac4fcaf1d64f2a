"""The simulator with known causal ground truth, driving the full pipeline on sim time.

  ros2 launch causal_nodes sim.launch.py [scenario:=corridor_passing] [namespace:=robot1] [rviz:=true]
      [foxglove:=true] [world_model:=true] [remap:='FROM:=TO ...'] [discovery_preset:=auto]

The simulator publishes /clock, /tf and /tf_static; in a namespace they become the robot's own (/robot1/clock,
/robot1/tf), so several simulated robots share one DDS domain without crosstalk.
discovery_preset:=auto (the default) runs the discovery preset `causal-nodes demo` runs: hri on a physical scenario,
general on an SCM one.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from causal_nodes.discovery.presets import preset_for
from causal_nodes.nodes.launching import CLOCK_REMAPS, TF_REMAPS, namespace_arguments, remaps
from causal_nodes.sim.scenario import load_scenario
from launch import LaunchDescription

PACKAGE = "causal_nodes"


def _simulator(context) -> list:
    share = get_package_share_directory(PACKAGE)
    return [Node(package=PACKAGE, executable="sim_node", output="screen", namespace=LaunchConfiguration("namespace"),
                 remappings=remaps(context, TF_REMAPS, CLOCK_REMAPS),
                 parameters=[os.path.join(share, "config", "sim.yaml"),
                             {"scenario": LaunchConfiguration("scenario")}])]


def _pipeline(context) -> list:
    share = get_package_share_directory(PACKAGE)
    passed = ("namespace", "rviz", "world_model", "foxglove", "foxglove_port")
    scenario = load_scenario(LaunchConfiguration("scenario").perform(context))
    chosen = preset_for(LaunchConfiguration("discovery_preset").perform(context), scenario.kind)
    return [IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, "launch", "causal_pipeline.launch.py")),
        launch_arguments={"use_sim_time": "true", "plan_topic": "local_plan",  # the simulated robot's plan
                          "discovery_preset": chosen.name,
                          "remap": ["/clock:=clock ", LaunchConfiguration("remap")],
                          **{name: LaunchConfiguration(name) for name in passed}}.items())]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        *namespace_arguments(),
        DeclareLaunchArgument("scenario", default_value="corridor_passing", description="scenario name or YAML path"),
        DeclareLaunchArgument("rviz", default_value="false"),
        DeclareLaunchArgument("world_model", default_value="false"),
        DeclareLaunchArgument("foxglove", default_value="false"),
        DeclareLaunchArgument("foxglove_port", default_value="8765"),
        DeclareLaunchArgument("discovery_preset", default_value="auto",
                              description="discovery preset: auto (hri on a physical scenario, general on an SCM "
                                          "one, as causal-nodes demo), hri or general"),
        OpaqueFunction(function=_simulator),
        OpaqueFunction(function=_pipeline),
    ])
