"""ROS-free replay logic: timing (rate, start offset, loop), /clock ticks, topic selection/remapping and QoS choice.

Why here and not in the node: the timing is what makes a replay trustworthy (a node graph on ``use_sim_time`` sees
the same time series as it did live), so it must be testable with a fake clock and reused by the benchmark; the
node only supplies "publish these bytes" and "publish this clock time" callbacks.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from rosbags.interfaces import Qos, QosDurability, QosReliability

from causal_nodes.bags.errors import BagError
from causal_nodes.bags.reader import BagMessage, BagReader

#: Topics whose last message must reach late subscribers (graphs, ground truth, static maps): replayed transient local.
LATCHED_TOPICS = frozenset({"/causal/graph", "/sim/ground_truth", "/tf_static", "/map", "/robot_description"})

#: The pipeline's own outputs (a name ending in ``/`` covers the topics under it). A replay through the pipeline
#: recomputes them, and replaying the recorded ones too would give every subscriber two streams, so they are left
#: out unless asked for (``include_outputs``, or by name). ``/clock`` is the replay's own.
PIPELINE_OUTPUTS = ("/clock", "/causal/graph", "/causal/graph_markers", "/causal/graph_image", "/causal/priorities",
                    "/causal/interventions", "/causal/intervention_markers", "/world_model/", "/diagnostics",
                    "/rosout", "/parameter_events")
#: ``/causal/variables`` is an output too when the bag holds what the variables node computes it from; without
#: these (a bag of an SCM scenario) it is the input and is replayed.
VARIABLE_INPUTS = ("/people", "/odom")
VARIABLES_TOPIC = "/causal/variables"

#: Queue depth of replayed volatile topics: deep enough that a burst at high rate is not dropped by the writer.
VOLATILE_DEPTH = 100


@dataclass(frozen=True)
class ReplayQos:
    """QoS of a replay publisher, in plain terms the node turns into an rclpy QoSProfile.

    Always reliable: a reliable writer serves both reliable and best-effort (sensor-data) readers, whereas a
    best-effort writer is invisible to reliable readers. Transient local (depth 1) only for latched topics, so late
    joiners get the newest graph but never a backlog of stale sensor data.
    """

    reliable: bool
    transient_local: bool
    depth: int


def replay_qos(topic: str, offered: Sequence[Qos] = ()) -> ReplayQos:
    """QoS for replaying ``topic``: transient local when it is a known latched topic or every recorded publisher
    offered transient local; otherwise volatile with depth :data:`VOLATILE_DEPTH`. Reliability: always reliable."""
    latched = topic in LATCHED_TOPICS or (
        bool(offered) and all(q.durability == QosDurability.TRANSIENT_LOCAL for q in offered)
    )
    return ReplayQos(reliable=True, transient_local=latched, depth=1 if latched else VOLATILE_DEPTH)


def recorded_reliability_is_best_effort(offered: Sequence[Qos]) -> bool:
    """True when any recorded publisher was best-effort (the recorder must then subscribe best-effort too)."""
    return any(q.reliability == QosReliability.BEST_EFFORT for q in offered)


def parse_remaps(remaps: Iterable[str]) -> dict[str, str]:
    """``["/a:=/b", ...]`` → ``{"/a": "/b"}``; raises BagError on a malformed rule."""
    result: dict[str, str] = {}
    for rule in remaps:
        source, sep, target = rule.partition(":=")
        if not sep or not source.strip() or not target.strip():
            raise BagError(f"malformed remap {rule!r} (expected FROM:=TO, e.g. /scan:=/robot1/scan)")
        result[source.strip()] = target.strip()
    return result


@dataclass(frozen=True)
class PlaybackOptions:
    """How to replay: ``rate`` 1 = real time, 2 = twice as fast, 0 = as fast as possible; ``start_s`` skips the
    first seconds of the bag; ``loop`` repeats (bag time restarts each pass, as with ``ros2 bag play --loop``);
    ``clock_hz`` > 0 publishes /clock at that wall rate between messages (and always right before each message)."""

    rate: float = 1.0
    start_s: float = 0.0
    loop: bool = False
    clock_hz: float = 100.0
    publish_clock: bool = True

    def __post_init__(self) -> None:
        if not self.rate >= 0.0:
            raise BagError(f"replay rate must be >= 0 (0 = as fast as possible), got {self.rate}")
        if not self.start_s >= 0.0:
            raise BagError(f"replay start offset must be >= 0 s, got {self.start_s}")
        if not self.clock_hz >= 0.0:
            raise BagError(f"clock rate must be >= 0 Hz, got {self.clock_hz}")


@dataclass
class PlaybackClock:
    """Maps bag time to wall time for one pass: bag time ``origin_ns`` is due at wall time ``wall_origin``."""

    origin_ns: int
    wall_origin: float
    rate: float

    def due(self, t_ns: int) -> float:
        """Wall time (same clock as ``wall_origin``) at which the message stamped ``t_ns`` is to be published."""
        if self.rate == 0.0:
            return self.wall_origin
        return self.wall_origin + (t_ns - self.origin_ns) / 1e9 / self.rate

    def bag_time(self, wall: float) -> int:
        """Bag time (ns) that corresponds to wall time ``wall`` (for /clock ticks between messages)."""
        if self.rate == 0.0:
            return self.origin_ns
        return self.origin_ns + int(round((wall - self.wall_origin) * self.rate * 1e9))


@dataclass
class PlaybackStats:
    """What a replay did: messages per topic, passes, wall seconds, and timing error of publication."""

    published: dict[str, int] = field(default_factory=dict)
    clock_ticks: int = 0
    passes: int = 0
    wall_s: float = 0.0
    abs_error_sum_s: float = 0.0
    max_abs_error_s: float = 0.0
    unreadable: dict[str, int] = field(default_factory=dict)
    """Per topic: messages listed in the bag's metadata that could not be read (a corrupt part, skipped)."""

    @property
    def message_count(self) -> int:
        return sum(self.published.values())

    @property
    def mean_abs_error_s(self) -> float:
        """Mean |wall time of the publish call − due wall time| over all messages (0 when none or at rate 0)."""
        return self.abs_error_sum_s / self.message_count if self.message_count else 0.0


def _names(topic: str, name: str) -> bool:
    """Whether ``topic`` is ``name`` or under it, also in a namespace (``/robot1/causal/graph``)."""
    if name.endswith("/"):
        return name in topic
    return topic == name or topic.endswith(name)


def derived_topics(topics: Iterable[str]) -> list[str]:
    """Which of ``topics`` (a bag's) the replay publishes itself or the pipeline recomputes: see
    :data:`PIPELINE_OUTPUTS` and :data:`VARIABLE_INPUTS`."""
    topics = list(topics)
    has_inputs = any(_names(t, name) for t in topics for name in VARIABLE_INPUTS)
    outputs = PIPELINE_OUTPUTS + ((VARIABLES_TOPIC,) if has_inputs else ())
    return sorted(t for t in topics if any(_names(t, name) for name in outputs))


def select_topics(bag: BagReader, topics: Sequence[str] | None, include_outputs: bool = False) -> list[str]:
    """The bag topics to replay: those named in ``topics`` (each must be in the bag), else all but
    :func:`derived_topics` (all of them with ``include_outputs``)."""
    if topics:
        return bag.require_topics([t if t.startswith("/") else "/" + t for t in topics])  # bag names are absolute
    chosen = sorted(bag.topics)
    if include_outputs:
        return chosen
    derived = set(derived_topics(chosen))
    return [t for t in chosen if t not in derived]


def play(bag: BagReader, topics: Sequence[str], options: PlaybackOptions,
         publish: Callable[[BagMessage], None], publish_clock: Callable[[int], None] | None = None,
         should_stop: Callable[[], bool] = lambda: False,
         now: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> PlaybackStats:
    """Replay ``topics`` of ``bag`` through ``publish`` with the bag's timing scaled by ``options.rate``.

    ``publish_clock(t_ns)`` (when given and ``options.publish_clock``) is called right before each message with its
    bag time, and every ``1/clock_hz`` wall seconds while waiting for the next one, so nodes on ``use_sim_time``
    advance smoothly. ``should_stop`` is polled between messages and while waiting (Ctrl-C, shutdown).
    """
    stats = PlaybackStats(published={t: 0 for t in topics})
    if bag.message_count == 0 or not topics:
        return stats
    clock = publish_clock if options.publish_clock else None
    tick = 1.0 / options.clock_hz if (clock is not None and options.clock_hz > 0) else 0.0
    origin_ns = bag.start_ns + int(round(options.start_s * 1e9))
    if origin_ns > bag.end_ns:
        raise BagError(
            f"start offset {options.start_s} s is past the end of bag {bag.path} "
            f"(duration {(bag.end_ns - bag.start_ns) / 1e9:.3f} s)"
        )
    started = now()
    while not should_stop():
        pacer = PlaybackClock(origin_ns, now(), options.rate)
        next_tick = pacer.wall_origin
        published_before = stats.message_count
        for message in bag.messages(topics, start_ns=origin_ns):
            due = pacer.due(message.timestamp_ns)
            while True:
                if should_stop():
                    stats.wall_s = now() - started
                    return stats
                current = now()
                if tick and current >= next_tick and current < due:
                    clock(pacer.bag_time(current))
                    stats.clock_ticks += 1
                    next_tick = current + tick
                if current >= due:
                    break
                wake = min(due, next_tick) if tick else due
                sleep(max(0.0, min(wake - current, 0.05)))
            if clock is not None:
                clock(message.timestamp_ns)
                stats.clock_ticks += 1
            handed_over = now()  # the scheduling error; the middleware's own send time is not ours to count
            publish(message)
            error = abs(handed_over - due) if options.rate > 0 else 0.0
            stats.abs_error_sum_s += error
            stats.max_abs_error_s = max(stats.max_abs_error_s, error)
            stats.published[message.topic] += 1
        stats.passes += 1
        stats.unreadable = dict(bag.unreadable)
        if not options.loop or stats.message_count == published_before:
            break  # a pass that published nothing (no messages of these topics after the offset) would spin forever
    stats.wall_s = now() - started
    return stats


def remapped(topics: Sequence[str], remaps: dict[str, str]) -> list[tuple[str, str]]:
    """``(bag topic, published topic)`` pairs; a remap of a topic that is not replayed is an error naming it."""
    unknown = sorted(set(remaps) - set(topics))
    if unknown:
        raise BagError(f"remap of topic(s) {unknown} that are not replayed (replayed: {list(topics)})")
    return [(t, remaps.get(t, t)) for t in topics]
