"""`simulate --bag` writes what a recorded simulator-node run holds: same topics, types and messages (rclpy/DDS).

The simulator node runs a physical scenario over DDS into the recorder; the same scenario and seed are written
straight into a bag; every message with the same stamp must be equal field for field.
"""
from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.ros  # real rclpy nodes over DDS

pytest.importorskip("causal_msgs")

from rclpy.parameter import Parameter  # noqa: E402

from causal_nodes.bags import BagReader  # noqa: E402
from causal_nodes.bags.message_fields import message_fields  # noqa: E402
from causal_nodes.nodes.recorder_node import RecorderNode  # noqa: E402
from causal_nodes.nodes.sim_node import SimNode  # noqa: E402
from causal_nodes.sim.bag_export import write_scenario_bag  # noqa: E402

STEPS = 30
TOPICS = ["/clock", "/people", "/odom", "/scan", "/imu", "/goal_pose", "/sim/true_variables", "/sim/ground_truth",
          "/tf", "/tf_static"]


def _nan_safe(value):
    """Fields with NaN replaced by a marker, so that equal messages compare equal (NaN != NaN)."""
    if isinstance(value, dict):
        return {k: _nan_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_safe(v) for v in value]
    return "NaN" if isinstance(value, float) and math.isnan(value) else value


def _by_stamp(path) -> dict[str, dict[int, dict]]:
    """topic -> {header/clock stamp in ns: message fields}."""
    out: dict[str, dict[int, dict]] = {}
    with BagReader(path) as bag:
        for message in bag.messages(TOPICS):
            fields = _nan_safe(message_fields(bag.deserialize(message)))
            if message.topic == "/clock":
                stamp = fields["clock"]
            elif message.topic.startswith("/tf"):
                stamp = fields["transforms"][0]["header"]["stamp"]
            else:
                stamp = fields["header"]["stamp"]
            out.setdefault(message.topic, {})[stamp["sec"] * 10**9 + stamp["nanosec"]] = fields
    return out


def test_direct_bag_equals_the_recorded_simulator_node(ros, tmp_path):
    recorded_path, direct_path = tmp_path / "recorded", tmp_path / "direct"
    recorder = ros.add(RecorderNode(bag=str(recorded_path), topics=TOPICS, storage="mcap", context=ros.context))
    sim = ros.add(SimNode(context=ros.context, parameter_overrides=[
        Parameter("scenario", value="corridor_passing"), Parameter("seed", value=3),
        Parameter("duration_s", value=STEPS * 0.1), Parameter("real_time_factor", value=5.0),
        Parameter("publish_camera", value=False), Parameter("start_delay_s", value=3.0)]))
    assert ros.spin_until(lambda: set(TOPICS) <= set(recorder._raw_subscriptions), 20), recorder._raw_subscriptions
    assert ros.spin_until(lambda: sim.finished, 60)
    ros.spin_for(1.0)
    recorder.finish()
    write_scenario_bag("corridor_passing", direct_path, seed=3, steps=STEPS)

    with BagReader(recorded_path) as recorded, BagReader(direct_path) as direct:
        assert {t: i.msgtype for t, i in recorded.topics.items()} == {t: i.msgtype for t, i in direct.topics.items()}
    live, written = _by_stamp(recorded_path), _by_stamp(direct_path)
    assert set(live) == set(TOPICS)
    for topic in TOPICS:
        common = sorted(set(live[topic]) & set(written[topic]))
        assert len(common) >= 0.9 * len(written[topic]), (topic, len(common), len(written[topic]))
        for stamp in common:
            assert live[topic][stamp] == written[topic][stamp], (topic, stamp)
    assert len(written["/odom"]) == STEPS + 1
