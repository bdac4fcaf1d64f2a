"""The causal perception pipeline on a robot: variables -> discovery -> prioritizer (+ optional world model, RViz,
Foxglove).

  ros2 launch causal_nodes causal_pipeline.launch.py [namespace:=robot1] [remap:='people:=/tracker/people']
      [use_sim_time:=false] [world_model:=false] [rviz:=false] [foxglove:=false] [plan_topic:=local_plan]
      [discovery_preset:=hri]

Each node reads its commented params file from config/; override any of them with the *_params arguments.
In a namespace every topic moves with the nodes (/robot1/causal/graph) and /tf, /tf_static become the robot's own
(/robot1/tf). rviz:=true or foxglove:=true where the viewer is not installed logs why and starts the rest.
discovery_preset:=hri sets the discovery node to the measured best setting on human-robot data and adds its regime
label (closing_speed) to the variables node's list (causal_nodes/discovery/presets.py, docs/discovery_methods.md).
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.utilities import make_namespace_absolute, prefix_namespace

from causal_nodes.nodes.launching import (
    TF_REMAPS,
    foxglove_available,
    is_true,
    missing_viewer,
    namespace_arguments,
    number_argument,
    remaps,
    rviz_available,
    rviz_topic_remaps,
)
from causal_nodes.nodes.preset_parameters import discovery_preset_overrides
from launch import LaunchDescription

PACKAGE = "causal_nodes"


def _nodes(context) -> list:
    share = get_package_share_directory(PACKAGE)
    namespace = LaunchConfiguration("namespace")
    use_sim_time = LaunchConfiguration("use_sim_time")
    rules = remaps(context, TF_REMAPS)

    def node(executable: str, params: str, **overrides) -> Node:
        return Node(package=PACKAGE, executable=executable, output="screen", namespace=namespace, remappings=rules,
                    parameters=[LaunchConfiguration(f"{params}_params"), {"use_sim_time": use_sim_time, **overrides}])

    plan_topic = LaunchConfiguration("plan_topic").perform(context)
    # checked here, before any node starts (as a ParameterValue it would fail after the first nodes had started)
    port = number_argument(context, "foxglove_port", int, 0, 65535) if is_true(context, "foxglove") else None
    # the namespace the nodes will have (launch_ros' rule), so the preset reads the variables list rcl gives them
    node_namespace = make_namespace_absolute(prefix_namespace(context.launch_configurations.get("ros_namespace"),
                                                              namespace.perform(context))) or ""
    discovery, variables = discovery_preset_overrides(LaunchConfiguration("discovery_preset").perform(context),
                                                      [LaunchConfiguration("variables_params").perform(context)],
                                                      node_namespace)
    actions = [node("variables_node", "variables", **variables), node("discovery_node", "discovery", **discovery),
               node("prioritizer_node", "prioritizer", **({"plan_topic": plan_topic} if plan_topic else {}))]
    if is_true(context, "world_model"):
        actions.append(node("world_model_node", "world_model"))
    if is_true(context, "rviz"):
        config = os.path.join(share, "rviz", "causal_nodes.rviz")
        if rviz_available():
            actions.append(Node(package="rviz2", executable="rviz2", output="screen", namespace=namespace,
                                arguments=["-d", config], remappings=rviz_topic_remaps(config) + rules,
                                parameters=[{"use_sim_time": use_sim_time}]))
        else:
            actions.append(missing_viewer("rviz", "apt install ros-$ROS_DISTRO-rviz2"))
    if is_true(context, "foxglove"):
        if foxglove_available():
            actions.append(Node(package=PACKAGE, executable="foxglove_node", output="screen", namespace=namespace,
                                remappings=rules,
                                parameters=[os.path.join(share, "config", "foxglove.yaml"),
                                            {"use_sim_time": use_sim_time, "port": port}]))
        else:
            actions.append(missing_viewer("foxglove", "pip install foxglove-sdk"))
    return actions


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory(PACKAGE)

    def params_argument(name: str) -> DeclareLaunchArgument:
        return DeclareLaunchArgument(f"{name}_params", default_value=os.path.join(share, "config", f"{name}.yaml"),
                                     description=f"params file of the {name} node")

    return LaunchDescription([
        *namespace_arguments(),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="use /clock (bag replay, simulator)"),
        DeclareLaunchArgument("world_model", default_value="false", description="also run the world-model node"),
        DeclareLaunchArgument("rviz", default_value="false", description="also start RViz with the causal view"),
        DeclareLaunchArgument("foxglove", default_value="false",
                              description="also start the Foxglove bridge (foxglove-sdk; ws://localhost:PORT)"),
        DeclareLaunchArgument("foxglove_port", default_value="8765", description="port of the Foxglove bridge"),
        DeclareLaunchArgument("plan_topic", default_value="",
                              description="the robot's plan for the prioritizer (nav_msgs/Path in the odom frame, "
                                          "e.g. local_plan); '' = the prioritizer params file's"),
        DeclareLaunchArgument("discovery_preset", default_value="",
                              description="discovery preset over the discovery params file: hri (rcot within "
                                          "approach/leave regimes, tau_max 1; adds closing_speed to the variables) "
                                          "or general; '' = the params files as they are"),
        params_argument("variables"),
        params_argument("discovery"),
        params_argument("prioritizer"),
        params_argument("world_model"),
        OpaqueFunction(function=_nodes),
    ])
