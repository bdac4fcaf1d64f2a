"""The Foxglove bridge over a real WebSocket: the advertised channels, and messages a client decodes.

A client speaking the Foxglove WebSocket protocol (subprotocol ``foxglove.sdk.v1``, formerly
``foxglove.websocket.v1``: JSON ``serverInfo``/``advertise``, binary message frames
``0x01 | subscription id u32 | log time u64 | payload``) connects to the bridge, checks that
the pipeline's topics are advertised with their ROS 2 definitions, subscribes, and decodes a CausalGraph (CDR, with
rclpy) and the variables-by-name JSON. The shipped layout must name only topics the bridge serves.
"""
from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import pytest
from repo_paths import REPO_ROOT

pytestmark = pytest.mark.ros  # real rclpy nodes over DDS

pytest.importorskip("rclpy")
pytest.importorskip("causal_msgs.msg")
pytest.importorskip("foxglove", reason="foxglove-sdk is in the test extra (pip install -e .[test])")
websockets_sync = pytest.importorskip("websockets.sync.client")

from rclpy.parameter import Parameter  # noqa: E402
from rclpy.serialization import deserialize_message  # noqa: E402

from causal_msgs.msg import CausalGraph, CausalLink, VariableFrame  # noqa: E402
from causal_nodes.nodes.common import LATCHED_QOS, STREAM_QOS, to_time_msg  # noqa: E402
from causal_nodes.nodes.foxglove_layout import layout_json  # noqa: E402
from causal_nodes.nodes.foxglove_node import FoxgloveNode  # noqa: E402


def _receive_until(ws, done, timeout: float = 20.0) -> list:
    """JSON ops and binary frames until ``done(received)``; fails the test on timeout."""
    received: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            frame = ws.recv(timeout=0.5)
        except TimeoutError:
            continue
        received.append(json.loads(frame) if isinstance(frame, str) else frame)
        if done(received):
            return received
    raise AssertionError(f"timed out; got {[r.get('op') if isinstance(r, dict) else 'binary' for r in received]}")


def test_bridge_advertises_the_topics_and_a_client_decodes_them(ros) -> None:
    bridge = ros.add(FoxgloveNode(context=ros.context, parameter_overrides=[
        Parameter("port", value=0), Parameter("discovery_period", value=0.2)]))
    source = ros.node("foxglove_source")
    graph_pub = source.create_publisher(CausalGraph, "/causal/graph", LATCHED_QOS)
    frame_pub = source.create_publisher(VariableFrame, "/causal/variables", STREAM_QOS)
    graph = CausalGraph(variables=["a", "b"], method="pcmci", tau_max=2,
                        links=[CausalLink(source="a", target="b", lag=1, link_type="-->", strength=0.5)])
    graph.header.stamp = to_time_msg(12.5)

    def publish() -> None:
        graph_pub.publish(graph)
        frame = VariableFrame(names=["human_speed", "collision_risk"], values=[0.8, float("nan")], subject_id="3")
        frame.header.stamp = to_time_msg(12.5)
        frame_pub.publish(frame)

    source.create_timer(0.1, publish)
    wanted = {"/causal/graph", "/causal/variables", "/causal/variables_by_name"}
    assert ros.spin_until(lambda: wanted - {"/causal/variables_by_name"} <= set(bridge.channels), 15)

    with websockets_sync.connect(f"ws://127.0.0.1:{bridge.port}", open_timeout=10,
                                 subprotocols=["foxglove.sdk.v1", "foxglove.websocket.v1"]) as ws:
        channels: dict[str, dict] = {}

        def advertised(received) -> bool:
            for op in received:
                if isinstance(op, dict) and op.get("op") == "advertise":
                    channels.update({c["topic"]: c for c in op["channels"]})
            return wanted <= set(channels)

        received = _receive_until(ws, advertised)
        assert received[0]["op"] == "serverInfo"
        ros_graph = channels["/causal/graph"]
        assert (ros_graph["encoding"], ros_graph["schemaName"], ros_graph["schemaEncoding"]) == \
            ("cdr", "causal_msgs/msg/CausalGraph", "ros2msg")
        assert ros_graph["schema"].startswith("std_msgs/Header header") and "MSG: causal_msgs/CausalLink" in \
            ros_graph["schema"]
        assert channels["/causal/variables_by_name"]["encoding"] == "json"

        ws.send(json.dumps({"op": "subscribe", "subscriptions": [
            {"id": 1, "channelId": ros_graph["id"]},
            {"id": 2, "channelId": channels["/causal/variables_by_name"]["id"]}]}))
        payloads: dict[int, bytes] = {}

        def both(received) -> bool:
            for frame in received:
                if isinstance(frame, bytes) and frame[0] == 0x01:
                    subscription, _log_time = struct.unpack_from("<IQ", frame, 1)
                    payloads[subscription] = frame[13:]
            return {1, 2} <= set(payloads)

        _receive_until(ws, both)
    decoded = deserialize_message(payloads[1], CausalGraph)
    assert (decoded.variables, decoded.tau_max, decoded.links[0].source, decoded.links[0].strength) == \
        (["a", "b"], 2, "a", 0.5)
    by_name = json.loads(payloads[2])
    assert by_name == {"timestamp": {"sec": 12, "nsec": 500000000}, "subject_id": "3", "human_speed": 0.8}
    assert bridge.forwarded["/causal/graph"] >= 1


def test_shipped_layout_is_the_generated_one_and_names_served_topics() -> None:
    shipped = json.loads((REPO_ROOT / "foxglove" / "causal_nodes.json").read_text())
    assert shipped == json.loads(layout_json()), "foxglove/causal_nodes.json is stale: regenerate it"
    text = json.dumps(shipped)
    from causal_nodes.nodes.foxglove_node import DEFAULT_TOPICS

    served = {"/" + t for t in DEFAULT_TOPICS} | {"/causal/variables_by_name"}
    for topic in ("/causal/graph_image", "/causal/graph_markers", "/scan", "/causal/variables_by_name"):
        assert f'"{topic}' in text and topic in served
    namespaced = json.loads(layout_json("robot1"))
    assert '"/robot1/causal/graph_image"' in json.dumps(namespaced)
    assert Path(REPO_ROOT / "foxglove" / "causal_nodes.json").stat().st_size > 500
