"""A scenario recorded live and replayed from the bag into the discovery node gives the same graph (rclpy/DDS)."""
from __future__ import annotations

import threading

import pytest

pytestmark = pytest.mark.ros  # real rclpy nodes over DDS

pytest.importorskip("causal_msgs")

from rclpy.parameter import Parameter  # noqa: E402

from causal_msgs.msg import CausalGraph, VariableFrame  # noqa: E402
from causal_nodes.bags.playback import PlaybackOptions  # noqa: E402
from causal_nodes.nodes.common import LATCHED_QOS, STREAM_QOS  # noqa: E402
from causal_nodes.nodes.discovery_node import DiscoveryNode  # noqa: E402
from causal_nodes.nodes.recorder_node import RecorderNode  # noqa: E402
from causal_nodes.nodes.replay_node import ReplayNode  # noqa: E402
from causal_nodes.nodes.sim_node import SimNode  # noqa: E402

SAMPLES = 200


def _params(**values):
    return [Parameter(k, value=v) for k, v in values.items()]


def _discovery(ros):
    return ros.add(DiscoveryNode(context=ros.context, parameter_overrides=_params(
        window_length=SAMPLES, min_samples=SAMPLES, update_period_s=0.1, tau_max=2)))


def _final_graph(ros, graphs, node) -> CausalGraph:
    """The graph of the full window: once the window is full and no frame has arrived for a while."""
    assert ros.spin_until(lambda: node.online.window.fill == SAMPLES, 60), node.online.counters()
    settled = -1
    for _ in range(30):  # until no frame has come for a second
        if node.online.window.accepted == settled:
            break
        settled = node.online.window.accepted
        ros.spin_for(1.0)
    end = node.online.window.newest_stamp()
    assert ros.spin_until(lambda: graphs and abs(_end(graphs[-1]) - end) < 1e-9, 30)
    return graphs[-1]


def _end(graph: CausalGraph) -> float:
    return graph.window_end.sec + graph.window_end.nanosec * 1e-9


def _remove(ros, node) -> None:
    ros.executor.remove_node(node)
    ros.nodes.remove(node)
    node.destroy_node()


def test_replayed_bag_gives_the_live_graph(ros, tmp_path):
    graphs = []
    sink = ros.node("graph_sink")
    sink.create_subscription(CausalGraph, "/causal/graph", graphs.append, LATCHED_QOS)
    bag = tmp_path / "scm_bag"
    # the topic exists before the simulator starts, so the recorder subscribes before the first frame
    sink.create_publisher(VariableFrame, "/causal/variables", STREAM_QOS)
    recorder = ros.add(RecorderNode(bag=str(bag), topics=["/causal/variables", "/clock"], storage="mcap",
                                    context=ros.context))
    live_discovery = _discovery(ros)
    assert ros.spin_until(lambda: "/causal/variables" in recorder._raw_subscriptions, 10)
    ros.spin_for(0.5)
    sim = ros.add(SimNode(context=ros.context, parameter_overrides=_params(
        scenario="scm_demo", duration_s=1.0 + SAMPLES * 0.1, real_time_factor=20.0)))
    assert ros.spin_until(lambda: sim.finished, 60)
    live = _final_graph(ros, graphs, live_discovery)
    summary = recorder.finish()
    assert summary.counts["/causal/variables"] >= SAMPLES
    for node in (sim, recorder, live_discovery):
        _remove(ros, node)

    graphs.clear()
    replay_discovery = _discovery(ros)
    player = ros.add(ReplayNode(bag=str(bag), options=PlaybackOptions(rate=10.0), context=ros.context))
    ros.spin_for(0.5)
    thread = threading.Thread(target=player.play, daemon=True)
    thread.start()
    replayed = _final_graph(ros, graphs, replay_discovery)
    thread.join(30)

    assert replayed.sample_count == live.sample_count == SAMPLES
    assert (replayed.window_start, replayed.window_end) == (live.window_start, live.window_end)
    assert [(link.source, link.target, link.lag, link.link_type) for link in replayed.links] == \
        [(link.source, link.target, link.lag, link.link_type) for link in live.links]
    assert [link.strength for link in replayed.links] == pytest.approx(
        [link.strength for link in live.links], abs=1e-12
    )
    assert len(live.links) >= 5
