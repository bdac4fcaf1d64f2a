"""Bag reading/writing without ROS: round trips, metadata a stock rosbag2 accepts, atomic output, broken input."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from rosbags.rosbag2 import StoragePlugin, Writer

from causal_nodes.bags import BagError, BagReader, BagWriter
from causal_nodes.bags.typestore import (
    default_typestore,
    ensure_type,
    find_msg_file,
    installed_first_typestore,
    normalize_type_name,
)

# RIHS01 of causal_msgs/msg/VariableFrame as rosidl computes it (read from a live publisher's endpoint info).
VARIABLE_FRAME_RIHS01 = "RIHS01_ab34a21773d9d2ebbb2616cfa5d5f3e26335c51f991b4e241487c6780aeddb86"


def _frame(store, k: int):
    header = store.types["std_msgs/msg/Header"](
        stamp=store.types["builtin_interfaces/msg/Time"](sec=100 + k, nanosec=5), frame_id="odom")
    return store.types["causal_msgs/msg/VariableFrame"](
        header=header, names=["a", "b"], values=np.array([float(k), -1.5]), subject_id=str(k),
        subject_position=store.types["geometry_msgs/msg/Point"](x=float(k), y=0.5, z=0.0), sequence=k)


def _write_sample_bag(path: Path, storage: str = "mcap", frames: int = 5) -> None:
    with BagWriter(path, storage=storage) as bag:
        bag.add_topic("/causal/variables", "causal_msgs/msg/VariableFrame")
        bag.add_topic("/chatter", "std_msgs/String")
        for k in range(frames):
            bag.write_message("/causal/variables", 1_000 + 10 * k, _frame(bag.typestore, k))
            bag.write_message("/chatter", 1_005 + 10 * k, bag.typestore.types["std_msgs/msg/String"](data=f"m{k}"))


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_round_trip_keeps_types_counts_order_and_values(tmp_path, storage):
    path = tmp_path / "run"
    _write_sample_bag(path, storage)
    with BagReader(path) as bag:
        assert {t: (i.msgtype, i.count) for t, i in bag.topics.items()} == {
            "/causal/variables": ("causal_msgs/msg/VariableFrame", 5),
            "/chatter": ("std_msgs/msg/String", 5),
        }
        assert (bag.start_ns, bag.end_ns, bag.message_count) == (1_000, 1_045, 10)
        assert bag.validate() == 10
        messages = list(bag.messages())
        assert [m.timestamp_ns for m in messages] == sorted(m.timestamp_ns for m in messages)
        frames = [bag.deserialize(m) for m in bag.messages(["/causal/variables"])]
    assert [f.subject_id for f in frames] == ["0", "1", "2", "3", "4"]
    assert (frames[3].subject_position.x, frames[3].subject_position.y) == (3.0, 0.5)
    assert list(frames[3].values) == [3.0, -1.5] and list(frames[3].names) == ["a", "b"]
    assert frames[2].header.stamp.sec == 102 and frames[2].header.frame_id == "odom"


def _humble_qos(text: object) -> list[dict]:
    """Decode ``offered_qos_profiles`` as Humble's rosbag2 0.15 does (metadata_io.cpp, rosbag2_transport/qos.cpp):
    one YAML string; history/reliability/durability/liveliness as int, depth int, durations as uint64 sec/nsec."""
    assert isinstance(text, str), f"Humble reads offered_qos_profiles as a string, got {type(text).__name__}"
    profiles = yaml.safe_load(text)
    for profile in profiles:
        for policy in ("history", "reliability", "durability", "liveliness", "depth"):
            assert type(profile[policy]) is int, (policy, profile[policy])
        for duration in ("deadline", "lifespan", "liveliness_lease_duration"):
            assert all(type(profile[duration][k]) is int and 0 <= profile[duration][k] < 2**64 for k in ("sec", "nsec"))
        assert type(profile["avoid_ros_namespace_conventions"]) is bool
    return profiles


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_bags_are_readable_by_humble_rosbag2(tmp_path, storage):
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

    infinite = QosTime(9223372036, 854775807)
    latched = Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, infinite,
                  infinite, QosLiveliness.AUTOMATIC, infinite, False)
    path = tmp_path / "humble"
    with BagWriter(path, storage=storage) as bag:
        bag.add_topic("/causal/graph", "causal_msgs/msg/CausalGraph", offered_qos=[latched])
        bag.add_topic("/chatter", "std_msgs/msg/String")
        bag.write_message("/chatter", 5, bag.typestore.types["std_msgs/msg/String"](data="x"))
    info = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == 8
    topics = {t["topic_metadata"]["name"]: t["topic_metadata"] for t in info["topics_with_message_count"]}
    (profile,) = _humble_qos(topics["/causal/graph"]["offered_qos_profiles"])
    assert (profile["reliability"], profile["durability"], profile["depth"]) == (1, 1, 1)  # rmw: reliable, TL
    assert topics["/chatter"]["offered_qos_profiles"] == ""  # Humble: no profiles = adapt to the subscribers
    if storage == "mcap":  # the storage plugin reads the channel's copy of the same string
        assert topics["/causal/graph"]["offered_qos_profiles"].encode() in (path / "humble.mcap").read_bytes()
    with BagReader(path) as reader:  # and this package (Jazzy/Kilted rules) still reads it
        assert reader.topics["/causal/graph"].offered_qos[0].durability == QosDurability.TRANSIENT_LOCAL


def test_metadata_and_definitions_are_what_stock_rosbag2_needs(tmp_path):
    path = tmp_path / "run"
    _write_sample_bag(path)
    info = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["storage_identifier"] == "mcap" and info["version"] == 8
    assert info["relative_file_paths"] == ["run.mcap"] and (path / "run.mcap").is_file()
    topics = {t["topic_metadata"]["name"]: t for t in info["topics_with_message_count"]}
    frame_topic = topics["/causal/variables"]
    assert frame_topic["message_count"] == 5
    assert frame_topic["topic_metadata"]["type"] == "causal_msgs/msg/VariableFrame"
    assert frame_topic["topic_metadata"]["serialization_format"] == "cdr"
    assert frame_topic["topic_metadata"]["type_description_hash"] == VARIABLE_FRAME_RIHS01
    # The MCAP schema carries the full ros2msg definition, nested types included (what `ros2 bag play` decodes).
    from rosbags.rosbag2 import Reader

    with Reader(path / "run.mcap") as raw:
        schema = {c.topic: c.msgdef for c in raw.connections}["/causal/variables"]
    assert schema.format.name == "MSG"
    assert schema.data.startswith("std_msgs/Header header\nstring[] names\nfloat64[] values\nstring subject_id")
    assert "MSG: std_msgs/Header" in schema.data and "MSG: builtin_interfaces/Time" in schema.data


def test_writer_is_atomic_on_error_and_refuses_to_overwrite(tmp_path):
    path = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with BagWriter(path) as bag:
            bag.add_topic("/chatter", "std_msgs/msg/String")
            bag.write_message("/chatter", 1, bag.typestore.types["std_msgs/msg/String"](data="x"))
            raise RuntimeError("simulated crash mid-recording")
    assert os.listdir(tmp_path) == []  # neither the bag nor its temporary folder
    _write_sample_bag(path)
    with pytest.raises(BagError, match="exists already"):
        BagWriter(path)
    with pytest.raises(BagError, match="does not exist"):
        BagWriter(tmp_path / "no_such_dir" / "bag")


def test_writer_rejects_unknown_type_and_unregistered_topic(tmp_path):
    with BagWriter(tmp_path / "out") as bag:
        with pytest.raises(BagError, match="unknown message type 'nobody_msgs/msg/Nothing'"):
            bag.add_topic("/x", "nobody_msgs/msg/Nothing")
        with pytest.raises(BagError, match="'/y' was not added"):
            bag.write("/y", 1, b"\x00\x01\x00\x00")
    with pytest.raises(BagError, match="malformed message type"):
        normalize_type_name("justaname")


def test_missing_bag_topic_and_bad_storage_are_named(tmp_path):
    with pytest.raises(BagError, match="bag not found: .*nothing_here"):
        BagReader(tmp_path / "nothing_here")
    path = tmp_path / "run"
    _write_sample_bag(path)
    with BagReader(path) as bag:
        with pytest.raises(BagError, match=r"\['/scan'\] not in bag"):
            list(bag.messages(["/chatter", "/scan"]))
    with pytest.raises(BagError, match="unknown bag storage 'rosbag1'"):
        BagWriter(tmp_path / "x", storage="rosbag1")


def test_truncated_mcap_is_reported(tmp_path):
    path = tmp_path / "run"
    _write_sample_bag(path, frames=200)
    data_file = path / "run.mcap"
    data = data_file.read_bytes()
    data_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(BagError, match="run"):
        with BagReader(path) as bag:
            bag.validate()


def test_corrupt_files_are_reported(tmp_path):
    path = tmp_path / "run"
    _write_sample_bag(path, storage="sqlite3")
    (path / "run.db3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(BagError, match="run"):
        with BagReader(path) as bag:
            bag.validate()
    other = tmp_path / "meta"
    _write_sample_bag(other)
    (other / "metadata.yaml").write_text("rosbag2_bagfile_information: [unclosed\n")
    with pytest.raises(BagError, match="cannot open bag .*meta"):
        BagReader(other)
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(BagError, match="cannot open bag .*empty"):
        BagReader(empty_dir)


def test_type_defined_only_in_the_bag_is_decoded_and_undefined_one_is_named(tmp_path):
    """Another robot's custom type: its bag carries the definition, and that is enough to decode it."""
    store = default_typestore()
    path = tmp_path / "foreign"
    writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    defined = writer.add_connection("/thing", "robot_msgs/msg/Thing", msgdef="float64 level\nstring label\n",
                                    rihs01="RIHS01_" + "0" * 64)
    undefined = writer.add_connection("/mystery", "robot_msgs/msg/Mystery", msgdef="", rihs01="RIHS01_" + "1" * 64)
    from rosbags.typesys import get_types_from_msg

    store.register(get_types_from_msg("float64 level\nstring label\n", "robot_msgs/msg/Thing"))
    thing = store.types["robot_msgs/msg/Thing"](level=2.5, label="ok")
    writer.write(defined, 10, bytes(store.serialize_cdr(thing, "robot_msgs/msg/Thing")))
    writer.write(undefined, 20, b"\x00\x01\x00\x00\x00\x00\x00\x00")
    writer.close()
    with BagReader(path) as bag:
        decoded = [bag.deserialize(m) for m in bag.messages(["/thing"])]
        assert (decoded[0].level, decoded[0].label) == (2.5, "ok")
        mystery = next(bag.messages(["/mystery"]))
        with pytest.raises(BagError, match="unknown message type 'robot_msgs/msg/Mystery' on topic '/mystery'"):
            bag.deserialize(mystery)


def test_installed_msg_files_are_found_with_nested_types(tmp_path, monkeypatch):
    """Recording a custom type needs its definition: found in an ament prefix's share/<pkg>/msg, recursively."""
    msg_dir = tmp_path / "prefix" / "share" / "robot_msgs" / "msg"
    msg_dir.mkdir(parents=True)
    (msg_dir / "Blob.msg").write_text("geometry_msgs/Point centre\nInner[] parts\n")
    (msg_dir / "Inner.msg").write_text("# comment\nuint8 id\nfloat32 weight 1.0\n")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path / "prefix"))
    store = default_typestore()
    ensure_type(store, "robot_msgs/Blob")
    with BagWriter(tmp_path / "bag", typestore=store) as bag:
        bag.add_topic("/blob", "robot_msgs/msg/Blob")
        blob = store.types["robot_msgs/msg/Blob"](
            centre=store.types["geometry_msgs/msg/Point"](x=1.0, y=2.0, z=3.0),
            parts=[store.types["robot_msgs/msg/Inner"](id=7, weight=0.5)])
        bag.write_message("/blob", 5, blob)
    with BagReader(tmp_path / "bag") as bag:
        decoded = bag.deserialize(next(bag.messages()))
    assert decoded.centre.y == 2.0 and decoded.parts[0].id == 7


@pytest.mark.skipif(find_msg_file("geometry_msgs/msg/PoseArray") is None,
                    reason="no installed ROS message definitions on AMENT_PREFIX_PATH (source scripts/env.sh)")
def test_installed_definitions_agree_with_the_kilted_store():
    """The recorder writes the running install's definitions; on Kilted they must equal rosbags' Kilted store."""
    kilted = default_typestore()
    installed = installed_first_typestore()
    for msgtype in ("geometry_msgs/msg/PoseArray", "nav_msgs/msg/Odometry", "sensor_msgs/msg/LaserScan",
                    "sensor_msgs/msg/Image", "rosgraph_msgs/msg/Clock", "causal_msgs/msg/CausalGraph",
                    "visualization_msgs/msg/MarkerArray"):
        ensure_type(installed, msgtype, fallback=kilted)
        assert installed.generate_msgdef(msgtype, ros_version=2) == kilted.generate_msgdef(msgtype, ros_version=2)
        assert installed.hash_rihs01(msgtype) == kilted.hash_rihs01(msgtype)
    with pytest.raises(BagError, match="unknown message type 'nobody_msgs/msg/X'"):
        ensure_type(installed, "nobody_msgs/msg/X", fallback=kilted)
