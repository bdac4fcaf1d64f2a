"""Bag → variable table, offline: the same extraction as the variables node, without DDS.

Why the same code path: the node and this tool both read messages through
:mod:`causal_nodes.variables.msg_adapters` (attribute access only, so rclpy and rosbags messages both work) into one
:class:`~causal_nodes.variables.extractor.VariableExtractor`, fed in bag (receive) order — so a CSV made from a bag
holds the frames the live node would have published, and discovery results can be compared between the two.
"""
from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from causal_nodes.bags.errors import BagError
from causal_nodes.bags.paths import PathLike
from causal_nodes.bags.reader import BagReader
from causal_nodes.variables.csv_io import write_variables_csv
from causal_nodes.variables.extractor import DEFAULT_VARIABLES, VariableConfig, VariableExtractor, VariableSample
from causal_nodes.variables.msg_adapters import feed, stamp_seconds

#: Default topic of each input kind (interfaces spec).
DEFAULT_TOPICS: dict[str, str] = {
    "odom": "/odom",
    "people": "/people",
    "scan": "/scan",
    "goal": "/goal_pose",
    "image": "/camera/image_raw",
    "imu": "/imu",
}
#: Message type each input kind must have.
EXPECTED_TYPES: dict[str, str] = {
    "odom": "nav_msgs/msg/Odometry",
    "people": "geometry_msgs/msg/PoseArray",
    "scan": "sensor_msgs/msg/LaserScan",
    "goal": "geometry_msgs/msg/PoseStamped",
    "image": "sensor_msgs/msg/Image",
    "imu": "sensor_msgs/msg/Imu",
}
FRAMES_TOPIC = "/causal/variables"
FRAMES_TYPE = "causal_msgs/msg/VariableFrame"


def parse_topic_overrides(rules: Sequence[str]) -> dict[str, str]:
    """``["people=/crowd", ...]`` → ``{"people": "/crowd"}`` over the defaults; BagError on an unknown kind."""
    topics = dict(DEFAULT_TOPICS)
    for rule in rules:
        kind, sep, topic = rule.partition("=")
        kind, topic = kind.strip(), topic.strip()
        if not sep or not topic:
            raise BagError(f"malformed topic override {rule!r} (expected KIND=/topic, e.g. people=/crowd)")
        if kind not in DEFAULT_TOPICS:
            raise BagError(f"unknown input kind {kind!r} in {rule!r}; known: {sorted(DEFAULT_TOPICS)}")
        topics[kind] = topic
    return topics


def _streams_of(variable: str) -> tuple[str, ...]:
    return VariableConfig(variables=(variable,)).streams()


@dataclass
class Extraction:
    """Frames extracted from a bag, plus what was left out and why (for the user, never silent)."""

    frames: list[VariableSample]
    names: list[str]
    skipped_variables: dict[str, str] = field(default_factory=dict)
    bad_messages: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)


def choose_variables(bag: BagReader, topics: Mapping[str, str],
                     variables: Sequence[str] | None) -> tuple[tuple[str, ...], dict[str, str]]:
    """Variables to compute and those skipped (with the reason).

    Explicit ``variables``: every topic they need must be in the bag (BagError naming the missing topics).
    Default: the pipeline's default variables whose topics are in the bag; the others are reported as skipped.
    """
    wanted = tuple(variables) if variables else DEFAULT_VARIABLES
    VariableConfig(variables=wanted)  # validates the names
    chosen: list[str] = []
    skipped: dict[str, str] = {}
    for name in wanted:
        missing = [topics[k] for k in _streams_of(name) if topics[k] not in bag.topics]
        if not missing:
            chosen.append(name)
        elif variables:
            raise BagError(f"variable {name!r} needs topic(s) {missing}, which are not in bag {bag.path} "
                           f"(it has {sorted(bag.topics)}); map them with --topic KIND=/topic")
        else:
            skipped[name] = f"no {', '.join(missing)} in the bag"
    if not chosen:
        raise BagError(f"bag {bag.path} has none of the topics the pipeline variables need "
                       f"({sorted(set(topics.values()))}); it has {sorted(bag.topics)}")
    return tuple(chosen), skipped


def extract_variables(bag: BagReader, config: VariableConfig,
                      topics: Mapping[str, str] = DEFAULT_TOPICS) -> Extraction:
    """Run the variable extraction over the bag's input topics in bag order; returns every completed frame.

    A topic of the wrong type is an error naming it; a message that cannot be decoded or read (bad encoding,
    missing field) is counted in ``bad_messages`` per topic, as the live node counts it on /diagnostics; messages
    the bag's metadata lists but its storage could not deliver (a corrupt chunk) are counted there as well.
    """
    kinds = {topics[kind]: kind for kind in config.streams() if topics[kind] in bag.topics}
    for topic, kind in kinds.items():
        have = bag.topics[topic].msgtype
        if have != EXPECTED_TYPES[kind]:
            raise BagError(f"topic {topic!r} in bag {bag.path} has type {have!r}, "
                           f"but {kind} input must be {EXPECTED_TYPES[kind]!r}")
    extractor = VariableExtractor(config)
    frames: list[VariableSample] = []
    bad: dict[str, int] = {}
    for message in bag.messages(sorted(kinds)):
        try:
            feed(extractor, kinds[message.topic], bag.deserialize(message))
        except ValueError:  # BagError (undecodable) is one too
            bad[message.topic] = bad.get(message.topic, 0) + 1
            continue
        frames.extend(extractor.poll())
    for topic, count in bag.unreadable.items():
        bad[topic] = bad.get(topic, 0) + count
    counters = extractor.counters()
    return Extraction(frames, list(config.variables), bad_messages=bad,
                      dropped={k: v for k, v in counters.items() if k.startswith(("dropped_", "reset_"))
                               or (k == "frames_skipped_gap" and v)})


def read_variable_frames(bag: BagReader, topic: str = FRAMES_TOPIC) -> Extraction:
    """The ``VariableFrame`` messages already in the bag (as published live), columns in first-seen order."""
    bag.require_topics([topic])
    if bag.topics[topic].msgtype != FRAMES_TYPE:
        raise BagError(f"topic {topic!r} in bag {bag.path} has type {bag.topics[topic].msgtype!r}, "
                       f"expected {FRAMES_TYPE!r}")
    frames: list[VariableSample] = []
    names: list[str] = []
    bad = 0
    for message in bag.messages([topic]):
        try:
            msg = bag.deserialize(message)
        except BagError:
            bad += 1
            continue
        frame_names = [str(n) for n in msg.names]
        values = [float(v) for v in msg.values]
        if len(frame_names) != len(values):
            bad += 1
            continue
        names.extend(n for n in frame_names if n not in names)
        frames.append(VariableSample(stamp_seconds(msg.header.stamp), frame_names, values, str(msg.subject_id)))
    bad += bag.unreadable.get(topic, 0)
    return Extraction(frames, names, bad_messages={topic: bad} if bad else {})


def drop_valueless_variables(extraction: Extraction) -> list[str]:
    """Leave out the variables that have no finite value in any frame, recording why in ``skipped_variables``.

    Why: a variable the bag can never give (no wall in reach of the scan for ``robot_obstacle_clearance``, a topic
    that stays silent) would otherwise make every frame incomplete, so ``--drop-incomplete`` would drop every row.
    It is left out by name instead, as the live pipeline leaves it out of a window.
    """
    valued: set[str] = set()
    for frame in extraction.frames:
        valued.update(n for n, v in zip(frame.names, frame.values) if math.isfinite(v))
    empty = [n for n in extraction.names if n not in valued]
    if empty:
        extraction.names = [n for n in extraction.names if n in valued]
        for frame in extraction.frames:
            kept = [(n, v) for n, v in zip(frame.names, frame.values) if n in valued]
            frame.names, frame.values = [n for n, _ in kept], [v for _, v in kept]
        for name in empty:
            extraction.skipped_variables[name] = "no finite value in any frame"
    return empty


def frames_to_table(extraction: Extraction, drop_incomplete: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(time (T,), values (T, N)) in ``extraction.names`` order; NaN where a frame lacks a value."""
    index = {name: i for i, name in enumerate(extraction.names)}
    values = np.full((len(extraction.frames), len(index)), np.nan)
    times = np.empty(len(extraction.frames))
    for row, frame in enumerate(extraction.frames):
        times[row] = frame.stamp
        for name, value in zip(frame.names, frame.values):
            values[row, index[name]] = value
    if drop_incomplete:
        keep = np.all(np.isfinite(values), axis=1)
        times, values = times[keep], values[keep]
    return times, values


def write_csv_atomically(path: PathLike, names: Sequence[str], times: np.ndarray, values: np.ndarray) -> Path:
    """Write the table next to ``path`` and rename it into place, so a failure never leaves a partial CSV."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise BagError(f"output folder {parent} does not exist")
    if path.is_dir():
        raise BagError(f"output {path} is a folder; give a CSV file name")
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.partial-", dir=parent)
    os.close(handle)
    try:
        write_variables_csv(tmp, list(names), values, time=list(times))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def bag_to_csv(bag_path: PathLike, out: PathLike, rate_hz: float = 10.0, person: str = "nearest",
               variables: Sequence[str] | None = None, topics: Mapping[str, str] = DEFAULT_TOPICS,
               from_frames: bool = False, drop_incomplete: bool = False) -> Extraction:
    """Extract the pipeline variables of ``bag_path`` (or dump its VariableFrames) into the CSV ``out``."""
    if not (person == "nearest" or person.lstrip("-").isdigit()):
        raise BagError(f"--person must be 'nearest' or an integer track id, got {person!r}")
    if Path(out).is_dir():
        raise BagError(f"output {out} is a folder; give a CSV file name")
    with BagReader(bag_path) as bag:
        if from_frames:
            extraction = read_variable_frames(bag)
        else:
            chosen, skipped = choose_variables(bag, topics, variables)
            config = VariableConfig(rate_hz=rate_hz, variables=chosen, person=person)
            extraction = extract_variables(bag, config, topics)
            extraction.skipped_variables = skipped
    if not extraction.frames:
        raise BagError(
            f"bag {bag_path}: no variable frames could be produced "
            f"(dropped inputs: {extraction.dropped or 'none'}, unreadable: {extraction.bad_messages or 'none'})"
        )
    if drop_incomplete:
        drop_valueless_variables(extraction)
    times, values = frames_to_table(extraction, drop_incomplete)
    if len(times) == 0:
        raise BagError(f"bag {bag_path}: every frame has a NaN value, nothing left after --drop-incomplete")
    write_csv_atomically(out, extraction.names, times, values)
    extraction.frames = extraction.frames if not drop_incomplete else [f for f in extraction.frames
                                                                       if all(math.isfinite(v) for v in f.values)]
    return extraction
