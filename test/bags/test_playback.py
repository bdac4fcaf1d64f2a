"""Replay timing without ROS: the schedule (rate, start offset, loop), /clock ticks, QoS choice and remaps.

A fake clock stands in for time: ``sleep`` advances it, so the schedule is checked exactly and instantly.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

from causal_nodes.bags import BagError, BagReader, BagWriter
from causal_nodes.bags.playback import PlaybackOptions, parse_remaps, play, remapped, replay_qos, select_topics

S = 1_000_000_000  # ns per second
T0 = 50 * S


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0.0
        self.now += seconds


def _bag(tmp_path: Path, stamps_s=(0.0, 0.5, 1.0, 2.0)) -> Path:
    path = tmp_path / "timing"
    with BagWriter(path) as bag:
        bag.add_topic("/a", "std_msgs/msg/String")
        bag.add_topic("/b", "std_msgs/msg/String")
        for k, t in enumerate(stamps_s):
            topic = "/a" if k % 2 == 0 else "/b"
            bag.write_message(topic, T0 + int(t * S), bag.typestore.types["std_msgs/msg/String"](data=str(k)))
    return path


def _replay(path: Path, options: PlaybackOptions, topics=None, stop_after_passes=None):
    clock = FakeTime()
    published: list[tuple[float, str, int]] = []
    ticks: list[tuple[float, int]] = []
    with BagReader(path) as bag:
        chosen = select_topics(bag, topics)
        stats = play(bag, chosen, options,
                     publish=lambda m: published.append((clock.now - 1000.0, m.topic, m.timestamp_ns)),
                     publish_clock=lambda t: ticks.append((clock.now - 1000.0, t)),
                     should_stop=(lambda: len(published) >= stop_after_passes * 4) if stop_after_passes else
                     (lambda: False),
                     now=clock.time, sleep=clock.sleep)
    return stats, published, ticks


@pytest.mark.parametrize("rate", [1.0, 2.0, 0.5])
def test_messages_are_published_at_bag_time_divided_by_rate(tmp_path, rate):
    stats, published, _ = _replay(_bag(tmp_path), PlaybackOptions(rate=rate, publish_clock=False))
    assert [p[2] for p in published] == [T0, T0 + S // 2, T0 + S, T0 + 2 * S]
    for wall, _topic, stamp in published:
        assert wall == pytest.approx((stamp - T0) / S / rate, abs=1e-9)
    assert stats.published == {"/a": 2, "/b": 2} and stats.passes == 1
    assert stats.mean_abs_error_s == pytest.approx(0.0, abs=1e-9)


def test_rate_zero_publishes_everything_without_waiting(tmp_path):
    stats, published, ticks = _replay(_bag(tmp_path), PlaybackOptions(rate=0.0))
    assert [p[0] for p in published] == [0.0] * 4
    assert [t for _, t in ticks] == [p[2] for p in published]  # one /clock per message, at its bag time


def test_start_offset_skips_the_beginning_and_topics_filter(tmp_path):
    path = _bag(tmp_path)
    stats, published, _ = _replay(path, PlaybackOptions(start_s=0.75, publish_clock=False))
    assert [(round(w, 9), s) for w, _, s in published] == [(0.25, T0 + S), (1.25, T0 + 2 * S)]
    # a relative name is taken as absolute, as ROS resolves it in the root namespace
    stats, published, _ = _replay(path, PlaybackOptions(rate=0.0, publish_clock=False), topics=["b"])
    assert [t for _, t, _ in published] == ["/b", "/b"] and stats.published == {"/b": 2}
    with BagReader(path) as bag:
        with pytest.raises(BagError, match="past the end"):
            play(bag, ["/a"], PlaybackOptions(start_s=10.0), publish=lambda m: None)


def test_clock_ticks_between_messages_and_with_each_message(tmp_path):
    _, published, ticks = _replay(_bag(tmp_path), PlaybackOptions(rate=1.0, clock_hz=100.0))
    times = [t for _, t in ticks]
    assert times == sorted(times)  # bag time never goes backwards within a pass
    between = [(w, t) for w, t in ticks if t not in {p[2] for p in published}]
    # 2 s of bag at 100 Hz: about 200 ticks, each carrying the bag time of its wall time
    assert 180 <= len(between) <= 210
    for wall, t in between:
        assert t == pytest.approx(T0 + wall * S, abs=1e3)
    gaps = [b[0] - a[0] for a, b in zip(between, between[1:])]
    assert max(gaps) <= 0.5 + 1e-9  # never silent for long (the longest gap is across a message)


def test_loop_repeats_until_stopped(tmp_path):
    stats, published, _ = _replay(_bag(tmp_path), PlaybackOptions(rate=0.0, loop=True, publish_clock=False),
                                  stop_after_passes=3)
    assert len(published) == 12 and [p[2] for p in published[4:8]] == [p[2] for p in published[:4]]
    assert stats.passes == 3


def test_loop_over_topics_without_messages_ends(tmp_path):
    path = tmp_path / "quiet"
    with BagWriter(path) as bag:
        bag.add_topic("/a", "std_msgs/msg/String")
        bag.add_topic("/silent", "std_msgs/msg/String")
        bag.write_message("/a", T0, bag.typestore.types["std_msgs/msg/String"](data="x"))
    stats, published, _ = _replay(path, PlaybackOptions(rate=0.0, loop=True), topics=["/silent"])
    assert published == [] and stats.passes == 1


def test_bad_options_are_rejected():
    with pytest.raises(BagError, match="rate must be >= 0"):
        PlaybackOptions(rate=-1.0)
    with pytest.raises(BagError, match="start offset"):
        PlaybackOptions(start_s=-2.0)
    with pytest.raises(BagError, match="rate must be >= 0"):
        PlaybackOptions(rate=float("nan"))


def _qos(durability: QosDurability, reliability=QosReliability.RELIABLE) -> Qos:
    t = QosTime(0, 0)
    return Qos(QosHistory.KEEP_LAST, 1, reliability, durability, t, t, QosLiveliness.AUTOMATIC, t, False)


def test_replay_qos_latches_graphs_and_keeps_streams_volatile():
    assert replay_qos("/causal/graph").transient_local and replay_qos("/causal/graph").depth == 1
    assert replay_qos("/sim/ground_truth").transient_local
    people = replay_qos("/people", [_qos(QosDurability.VOLATILE, QosReliability.BEST_EFFORT)])
    assert people.reliable and not people.transient_local and people.depth == 100
    assert replay_qos("/my_latched", [_qos(QosDurability.TRANSIENT_LOCAL)] * 2).transient_local
    assert not replay_qos("/mixed", [_qos(QosDurability.TRANSIENT_LOCAL), _qos(QosDurability.VOLATILE)]).transient_local


def test_remaps_are_parsed_and_checked():
    assert parse_remaps(["/a:=/robot/a", " /b := /c "]) == {"/a": "/robot/a", "/b": "/c"}
    with pytest.raises(BagError, match="malformed remap '/a=/b'"):
        parse_remaps(["/a=/b"])
    assert remapped(["/a", "/b"], {"/a": "/x"}) == [("/a", "/x"), ("/b", "/b")]
    with pytest.raises(BagError, match=r"remap of topic\(s\) \['/zzz'\]"):
        remapped(["/a"], {"/zzz": "/y"})


def test_derived_topics_are_left_out_by_default(tmp_path):
    """A replay publishes /clock itself and the pipeline recomputes its outputs: replaying the recorded ones too gave
    every subscriber two streams (clock jumping back, frames twice). /causal/variables is an output only when the
    bag holds /people or /odom to compute it from."""
    from causal_nodes.bags.playback import derived_topics

    physical = ["/clock", "/people", "/odom", "/causal/variables", "/causal/graph", "/causal/graph_markers",
                "/world_model/paths/p0", "/robot1/causal/graph", "/tf", "/scan", "/diagnostics"]
    assert derived_topics(physical) == sorted(["/clock", "/causal/variables", "/causal/graph",
                                               "/causal/graph_markers", "/world_model/paths/p0",
                                               "/robot1/causal/graph", "/diagnostics"])
    assert derived_topics(["/clock", "/causal/variables", "/sim/ground_truth"]) == ["/clock"]  # SCM bag: input

    path = tmp_path / "mixed"
    with BagWriter(path) as bag:
        for topic in ("/clock", "/people", "/causal/variables", "/causal/graph"):
            bag.add_topic(topic, "std_msgs/msg/String")
            bag.write_message(topic, T0, bag.typestore.types["std_msgs/msg/String"](data=topic))
    with BagReader(path) as reader:
        assert select_topics(reader, None) == ["/people"]
        assert select_topics(reader, None, include_outputs=True) == sorted(reader.topics)
        assert select_topics(reader, ["/causal/graph"]) == ["/causal/graph"]  # named: replayed
