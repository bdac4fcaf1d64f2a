"""End to end over ROS: the sim node's topics through the pipeline's variables node give the simulator's values.

The sim node publishes its state-based variables on /sim/true_variables; the variables node computes
/causal/variables from /people, /odom, /scan, /goal_pose, /camera/image_raw and /imu. Matched by stamp they must
agree (up to the float32 of LaserScan ranges) -- so a graph discovered live is scored against the right truth.
"""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.ros  # real rclpy nodes over DDS

pytest.importorskip("rclpy")
pytest.importorskip("causal_msgs.msg")

from rclpy.parameter import Parameter  # noqa: E402

from causal_msgs.msg import VariableFrame  # noqa: E402
from causal_nodes.nodes.common import STREAM_QOS  # noqa: E402
from causal_nodes.nodes.sim_node import SimNode  # noqa: E402
from causal_nodes.nodes.variables_node import VariablesNode  # noqa: E402
from causal_nodes.variables.extractor import ALL_VARIABLES  # noqa: E402


def _stamp(msg) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


def test_variables_node_reproduces_the_simulator_variables(ros) -> None:
    ros.add(SimNode(context=ros.context, parameter_overrides=[
        Parameter("scenario", value="corridor_passing"), Parameter("real_time_factor", value=4.0)]))
    ros.add(VariablesNode(context=ros.context, parameter_overrides=[
        Parameter("variables", value=list(ALL_VARIABLES)), Parameter("max_input_age_s", value=5.0)]))
    peer = ros.node("sim_pipeline_peer")
    pipeline, truth = {}, {}
    peer.create_subscription(VariableFrame, "/causal/variables", lambda m: pipeline.__setitem__(_stamp(m), m),
                             STREAM_QOS)
    peer.create_subscription(VariableFrame, "/sim/true_variables", lambda m: truth.__setitem__(_stamp(m), m),
                             STREAM_QOS)
    def complete() -> list[int]:
        """Stamps both sides have, the pipeline's with every variable the simulator states (its scenario's): an
        input not received yet (the first camera image under load) leaves its variables out of the early frames."""
        return [t for t in sorted(set(pipeline) & set(truth)) if set(truth[t].names) <= set(pipeline[t].names)]

    assert ros.spin_until(lambda: len(complete()) >= 30, timeout=30.0), (len(pipeline), len(truth))
    common = complete()[5:]  # the first frames lack a previous position / image
    compared = 0
    for stamp in common:
        computed = dict(zip(pipeline[stamp].names, pipeline[stamp].values))
        expected = dict(zip(truth[stamp].names, truth[stamp].values))
        for name in expected:
            assert computed[name] == pytest.approx(expected[name], rel=1e-5, abs=1e-5), (stamp, name)
            compared += 1
    assert compared >= 10 * 20
