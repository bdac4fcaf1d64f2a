"""Diagnostics that tell the truth and parameters that do what they say, over real rclpy (issue #11 findings 3-6)."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.ros  # real rclpy nodes over DDS

pytest.importorskip("causal_msgs")

from hostile_tools import DiagnosticsWatcher, Sensors, collect, parameters, stamp_of  # noqa: E402
from rcl_interfaces.srv import SetParameters, SetParametersAtomically  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from causal_msgs.msg import CausalGraph, CausalPriorities, VariableFrame  # noqa: E402
from causal_nodes.nodes.common import LATCHED_QOS, OK, STALE, STREAM_QOS, WARN  # noqa: E402
from causal_nodes.nodes.discovery_node import DiscoveryNode  # noqa: E402
from causal_nodes.nodes.prioritizer_node import PrioritizerNode  # noqa: E402
from causal_nodes.nodes.sim_node import SimNode  # noqa: E402
from causal_nodes.nodes.variables_node import VariablesNode  # noqa: E402


def _call_parameter_service(ros, client_node, node_name: str, service, name: str, values: dict):
    client = client_node.create_client(service, f"/{node_name}/{name}")
    assert client.wait_for_service(timeout_sec=10)
    future = client.call_async(service.Request(
        parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()]))
    assert ros.spin_until(future.done, 10)
    return future.result()


def _set(ros, client_node, node_name: str, **values):
    """``ros2 param set`` through the node's parameter service, all values at once; returns the one result."""
    return _call_parameter_service(ros, client_node, node_name, SetParametersAtomically,
                                   "set_parameters_atomically", values).result


def _set_one_by_one(ros, client_node, node_name: str, **values):
    """``ros2 param set`` of each value in turn; returns a result per value."""
    return _call_parameter_service(ros, client_node, node_name, SetParameters, "set_parameters", values).results


def test_bad_parameters_are_refused_at_start_up_naming_them(ros):
    """Finding 3: person:=foo was accepted and crashed the node at its first frame."""
    with pytest.raises(ValueError, match=r"variables_node: parameter person must be 'nearest' or an integer.*'foo'"):
        VariablesNode(context=ros.context, parameter_overrides=parameters(person="foo"))
    with pytest.raises(ValueError, match=r"discovery_node: parameter tau_max: .*out of range"):
        DiscoveryNode(context=ros.context, parameter_overrides=parameters(tau_max=99))
    with pytest.raises(ValueError, match=r"window_length 20 is shorter than the 50 samples"):
        DiscoveryNode(context=ros.context, parameter_overrides=parameters(window_length=20))
    with pytest.raises(ValueError, match=r"causal_prioritizer: parameter .*target"):
        PrioritizerNode(context=ros.context, parameter_overrides=parameters(target=""))
    with pytest.raises(ValueError, match=r"causal_prioritizer: parameter plan_topic: 'my plan' is not a topic name"):
        PrioritizerNode(context=ros.context,
                        parameter_overrides=parameters(target="min_scan_range", plan_topic="my plan"))
    with pytest.raises(ValueError, match=r"sim_node: parameter plan_topic: 'plan!' is not a topic name"):
        SimNode(context=ros.context, parameter_overrides=parameters(plan_topic="plan!"))
    with pytest.raises(ValueError, match=r"variables_node: parameter person_odom_topics: '/p 1/odom' is not a topic"):
        VariablesNode(context=ros.context, parameter_overrides=parameters(person_odom_topics=["/p 1/odom"]))


def test_a_silent_input_is_named_and_graphs_come_once_it_speaks(ros):
    """Finding 4: no /goal_pose, nobody in view: every frame was NaN; discovery never said which variable,
    variables_node said OK."""
    ros.add(VariablesNode(context=ros.context, parameter_overrides=parameters(
        variables=["human_speed", "human_goal_distance", "robot_linear_speed", "min_scan_range"],
        stale_after_s=1.0)))
    ros.add(DiscoveryNode(context=ros.context, parameter_overrides=parameters(
        window_length=100, min_samples=30, update_period_s=0.2, tau_max=1, stale_after_s=30.0)))
    io = ros.node("hostile_silence")
    sensors = Sensors(io, seed=3)
    graphs = collect(io, CausalGraph, "/causal/graph", LATCHED_QOS)
    diagnostics = DiagnosticsWatcher(io)
    assert ros.spin_until(lambda: sensors.scan.get_subscription_count() > 0, 10)

    nobody = np.zeros((0, 2))
    t = sensors.run(ros, 30.0, 4.0, goal=False, crowd=nobody)  # no /goal_pose at all, and nobody in view
    named = diagnostics.wait(ros, "variables_node", lambda s: "no value for human_speed" in s.message)
    assert named.level == WARN and "(needs /people)" in named.message
    assert "left out, never published: human_goal_distance (needs /people, /goal_pose)" in named.message
    assert named.count("left_out_never_published_human_goal_distance") == 1
    blocked = diagnostics.wait(ros, "discovery_node", lambda s: "no value for human_speed" in s.message)
    assert blocked.level == WARN and "no graph" in blocked.message and not graphs

    sensors.run(ros, t, 5.0, goal=True)  # a person comes into view, the goal appears: graphs come
    assert ros.spin_until(lambda: bool(graphs) and "human_goal_distance" in graphs[-1].variables, 20), \
        diagnostics.get("discovery_node")
    assert "human_speed" in graphs[-1].variables


def test_stale_inputs_turn_diagnostics_stale_and_back(ros):
    """Finding 6: discovery said 'window 118/300' (OK) for 50 s without a new sample."""
    ros.add(VariablesNode(context=ros.context, parameter_overrides=parameters(
        variables=["robot_linear_speed", "min_scan_range"], stale_after_s=0.5)))
    ros.add(DiscoveryNode(context=ros.context, parameter_overrides=parameters(
        window_length=100, min_samples=20, update_period_s=0.2, tau_max=1, stale_after_s=0.5)))
    ros.add(PrioritizerNode(context=ros.context, parameter_overrides=parameters(
        target="min_scan_range", actionable=["robot_linear_speed"], effect_model="linear", bootstrap=5,
        stale_after_s=1.0)))
    io = ros.node("hostile_stale")
    sensors = Sensors(io, seed=4)
    diagnostics = DiagnosticsWatcher(io)
    assert ros.spin_until(lambda: sensors.scan.get_subscription_count() > 0, 10)
    t = sensors.run(ros, 40.0, 3.0)
    diagnostics.wait(ros, "discovery_node", lambda s: s.level == OK)
    # every input stops: both nodes go STALE and say what is silent
    stale = diagnostics.wait(ros, "discovery_node", lambda s: s.level == STALE)
    assert "no /causal/variables for" in stale.message
    silent = diagnostics.wait(ros, "variables_node", lambda s: s.level == STALE)
    assert "/odom" in silent.message and "/scan" in silent.message
    # graphs and frames both stop; which one passes stale_after_s first depends on the load (a graph computed from
    # the last frames can come after them), so wait until the status names the graph, as it must once both are stale
    no_graph = diagnostics.wait(ros, "causal_prioritizer",
                                lambda s: s.level == STALE and "no /causal/graph for" in s.message)
    assert no_graph.count("received_graphs") >= 1
    sensors.run(ros, t, 3.0, wall_dt=0.02)
    diagnostics.wait(ros, "discovery_node", lambda s: s.level == OK)
    diagnostics.wait(ros, "causal_prioritizer", lambda s: s.level != STALE)


def test_parameters_apply_at_runtime_or_are_refused_with_the_reason(ros):
    """Finding 5: set_parameters reported success and changed nothing."""
    ros.add(VariablesNode(context=ros.context, parameter_overrides=parameters(
        variables=["human_speed", "robot_linear_speed", "min_scan_range"], stale_after_s=30.0)))
    ros.add(DiscoveryNode(context=ros.context, parameter_overrides=parameters(
        window_length=100, min_samples=30, update_period_s=0.2, tau_max=3, stale_after_s=30.0)))
    ros.add(PrioritizerNode(context=ros.context, parameter_overrides=parameters(
        target="min_scan_range", actionable=["robot_linear_speed"], effect_model="linear", bootstrap=5)))
    io = ros.node("hostile_reconfigure")
    sensors = Sensors(io, seed=5)
    priorities = collect(io, CausalPriorities, "/causal/priorities", LATCHED_QOS)
    graphs = collect(io, CausalGraph, "/causal/graph", LATCHED_QOS)
    frames = collect(io, VariableFrame, "/causal/variables", STREAM_QOS)
    assert ros.spin_until(lambda: sensors.scan.get_subscription_count() > 0, 10)
    t = sensors.run(ros, 60.0, 5.0)
    assert ros.spin_until(lambda: graphs and graphs[-1].tau_max == 3, 20)

    results = _set_one_by_one(ros, io, "discovery_node", tau_max=1, alpha_level=0.05, pc_alpha=0.1, window_length=60)
    assert all(r.successful for r in results), [r.reason for r in results]
    count = len(graphs)
    t = sensors.run(ros, t, 1.0)
    assert ros.spin_until(lambda: len(graphs) > count and graphs[-1].tau_max == 1, 20)
    graph = graphs[-1]
    assert graph.alpha_level == pytest.approx(0.05) and graph.pc_alpha == pytest.approx(0.1)
    assert graph.sample_count <= 60

    refused = _set(ros, io, "discovery_node", window_length=25)  # shorter than min_samples 30
    assert not refused.successful and "shorter than the 30 samples" in refused.reason
    refused = _set(ros, io, "discovery_node", method="pcmciplus", tau_min=1)
    assert not refused.successful and "PCMCI+ needs tau_min = 0" in refused.reason
    refused = _set(ros, io, "discovery_node", tau_max=51)
    assert not refused.successful and "tau_max" in refused.reason
    refused = _set(ros, io, "variables_node", person_odom_topics=["/p1"])
    assert not refused.successful and "read-only" in refused.reason
    refused = _set(ros, io, "variables_node", person="foo")
    assert not refused.successful and "person" in refused.reason
    refused = _set(ros, io, "causal_prioritizer", goal="sideways")
    assert not refused.successful and "goal" in refused.reason
    assert _set(ros, io, "causal_prioritizer", horizon=4).successful
    count = len(priorities)
    t = sensors.run(ros, t, 1.0)
    assert ros.spin_until(lambda: len(priorities) > count and priorities[-1].horizon == 4, 20)

    assert _set(ros, io, "variables_node", rate_hz=5.0).successful
    start = len(frames)
    sensors.run(ros, t, 3.0)
    assert ros.spin_until(lambda: len(frames) >= start + 8, 10)
    steps = {round(stamp_of(b) - stamp_of(a), 6) for a, b in zip(frames[start + 2:], frames[start + 3:])}
    assert steps == {0.2}  # the grid now runs at 5 Hz
