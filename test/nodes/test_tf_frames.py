"""RViz's fixed frame resolves for every marker, scan and path, in simulation and in replay: a walk of the TF tree.

The simulator, the pipeline (variables, discovery, prioritizer, world model) and a recorder run together; every
frame_id on the marker, scan, people and path topics must reach the RViz config's fixed frame through the transforms
seen on /tf and /tf_static. The recorded bag is then replayed without its /tf (as an old bag would be) through a fresh
pipeline: the replay's transforms from /odom and its static sensor mounts must resolve the same frames.
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros  # real rclpy nodes over DDS

pytest.importorskip("rclpy")
pytest.importorskip("causal_msgs.msg")
pytest.importorskip("tf2_msgs.msg", reason="tf2_msgs is built from ../shared/ros2_src by scripts/env.sh")

from rclpy.parameter import Parameter  # noqa: E402
from tf_walk import FIXED_FRAME, FrameCollector  # noqa: E402

from causal_nodes.bags.playback import PlaybackOptions, derived_topics  # noqa: E402
from causal_nodes.bags.reader import BagReader  # noqa: E402
from causal_nodes.nodes.discovery_node import DiscoveryNode  # noqa: E402
from causal_nodes.nodes.prioritizer_node import PrioritizerNode  # noqa: E402
from causal_nodes.nodes.recorder_node import RecorderNode  # noqa: E402
from causal_nodes.nodes.replay_node import ReplayNode  # noqa: E402
from causal_nodes.nodes.sim_node import SimNode  # noqa: E402
from causal_nodes.nodes.variables_node import VariablesNode  # noqa: E402
from causal_nodes.nodes.world_model_node import WorldModelNode  # noqa: E402


def _pipeline(ros, sim_time: bool) -> list:
    def p(**values) -> list[Parameter]:
        return [Parameter(k, value=v) for k, v in values.items()] + [Parameter("use_sim_time", value=sim_time)]

    return [ros.add(VariablesNode(context=ros.context, parameter_overrides=p())),
            ros.add(DiscoveryNode(context=ros.context, parameter_overrides=p(min_samples=30, update_period_s=0.5))),
            ros.add(PrioritizerNode(context=ros.context, parameter_overrides=p(bootstrap=5))),
            ros.add(WorldModelNode(context=ros.context, parameter_overrides=p()))]


def _remove(ros, nodes) -> None:
    for node in nodes:
        ros.executor.remove_node(node)
        ros.nodes.remove(node)
    ros.spin_for(1.0)  # let the spinning executor rebuild its wait set before the handles go
    for node in nodes:
        node.destroy_node()


def test_fixed_frame_resolves_for_everything_drawn_in_sim_and_replay(ros, tmp_path: Path) -> None:
    assert FIXED_FRAME == "odom"
    live = FrameCollector(ros, "frames_live")
    bag = tmp_path / "sim_bag"
    recorder = ros.add(RecorderNode(bag=str(bag), context=ros.context))
    nodes = _pipeline(ros, sim_time=True)
    sim = ros.add(SimNode(context=ros.context, parameter_overrides=[
        Parameter("scenario", value="corridor_passing"), Parameter("real_time_factor", value=3.0),
        Parameter("duration_s", value=12.0), Parameter("start_delay_s", value=1.0)]))
    assert ros.spin_until(lambda: live.complete() or sim.finished, 60), live.unresolved()
    assert live.complete(), live.unresolved()
    assert live.parents["base_link"] == "odom" and live.parents["base_laser"] == "base_link"
    assert live.parents["person_0"] == "odom"
    assert ros.spin_until(lambda: sim.finished, 60)
    summary = recorder.finish()
    assert summary.counts["/tf"] > 0 and summary.counts["/tf_static"] >= 1  # TF is in the bag
    _remove(ros, [sim, recorder, *nodes])

    with BagReader(bag) as reader:
        derived = set(derived_topics(reader.topics))
        without_tf = [t for t in reader.topics if t not in derived | {"/tf", "/tf_static"}]
    replayed = FrameCollector(ros, "frames_replay")
    nodes = _pipeline(ros, sim_time=True)
    player = ros.add(ReplayNode(bag=str(bag), options=PlaybackOptions(rate=3.0), topics=without_tf,
                                context=ros.context))
    assert player.synthesize_tf and "/tf" not in player.topics
    ros.spin_for(1.0)
    thread = threading.Thread(target=player.play, daemon=True)
    thread.start()
    assert ros.spin_until(replayed.complete, 120), replayed.unresolved()
    assert player.synthesized_tf > 0
    thread.join(60)
