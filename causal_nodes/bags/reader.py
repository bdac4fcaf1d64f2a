"""Open, validate and read rosbag2 bags (MCAP or SQLite3) without ROS.

Why a wrapper over ``rosbags.rosbag2.Reader``: every bag tool here (replay, bag→CSV) needs the same guarantees —
a missing, truncated or corrupt bag, a topic that is not in it or a type that cannot be decoded ends in one
:class:`BagError` that names the bag, topic or type, instead of a library exception from deep inside a loop.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from rosbags.interfaces import ConnectionExtRosbag2, MessageDefinitionFormat, Qos
from rosbags.rosbag2 import Reader
from rosbags.typesys.store import Typestore

from causal_nodes.bags.errors import BagError
from causal_nodes.bags.paths import PathLike
from causal_nodes.bags.typestore import typestore_for_definitions

_FORMAT_NAMES = {MessageDefinitionFormat.MSG: "ros2msg", MessageDefinitionFormat.IDL: "ros2idl"}
_RESUME_STEP_NS = 1_000_000  # 1 ms: the first step past a corrupt part (doubled while nothing can be read)
_MAX_RESUMES = 200


class BagMessage(NamedTuple):
    """One stored message: its topic and type, the bag (receive) time in ns and the CDR bytes as recorded."""

    topic: str
    msgtype: str
    timestamp_ns: int
    data: bytes


@dataclass(frozen=True)
class TopicInfo:
    """What the bag says about one topic."""

    name: str
    msgtype: str
    count: int
    offered_qos: list[Qos] = field(default_factory=list)


class BagReader:
    """A bag opened for reading; use as a context manager.

    >>> with BagReader("run1") as bag:                      # doctest: +SKIP
    ...     for message in bag.messages(["/people"]):
    ...         people = bag.deserialize(message)
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f"bag not found: {self.path}")
        try:
            self._reader = Reader(self.path)
            self._reader.open()
        except BagError:
            raise
        except Exception as error:  # rosbags raises ReaderError, KeyError, struct/zstd errors … on broken files
            raise BagError(f"cannot open bag {self.path}: {error or type(error).__name__}") from None
        self._typestore: Typestore | None = None
        self.unreadable: dict[str, int] = {}
        self.read_errors: list[str] = []
        """Per topic: messages the metadata promises that the last full read could not reach (a corrupt chunk
        that the storage reader skipped without an error). Filled when :meth:`messages` ran to the end."""
        self.topics: dict[str, TopicInfo] = {}
        for name, info in sorted(self._reader.topics.items()):
            if info.msgtype is None:
                types = sorted({c.msgtype for c in info.connections})
                self.close()
                raise BagError(f"bag {self.path}: topic {name!r} is recorded with several types {types}")
            qos: list[Qos] = []
            for connection in info.connections:
                if isinstance(connection.ext, ConnectionExtRosbag2):
                    qos.extend(connection.ext.offered_qos_profiles)
            self.topics[name] = TopicInfo(name, info.msgtype, info.msgcount, qos)

    # -- context manager -------------------------------------------------------------------------------------------
    def __enter__(self) -> BagReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._reader.is_open:
            self._reader.close()

    # -- metadata ----------------------------------------------------------------------------------------------------
    @property
    def message_count(self) -> int:
        return int(self._reader.message_count)

    @property
    def start_ns(self) -> int:
        """Time of the first message (ns); 0 for an empty bag."""
        return int(self._reader.start_time) if self.message_count else 0

    @property
    def end_ns(self) -> int:
        """Time of the last message (ns); 0 for an empty bag."""
        return int(self._reader.end_time) - 1 if self.message_count else 0

    @property
    def custom_data(self) -> dict[str, str]:
        """The ``custom_data`` of metadata.yaml (e.g. the ETH/UCY source and id order)."""
        return dict(self._reader.storage.metadata.custom or {}) if hasattr(self._reader.storage, "metadata") else {}

    def require_topics(self, topics: Iterable[str]) -> list[str]:
        """Return ``topics`` as a list; raise BagError naming those the bag does not contain."""
        wanted = list(topics)
        missing = [t for t in wanted if t not in self.topics]
        if missing:
            raise BagError(f"topic(s) {missing} not in bag {self.path} (it has {sorted(self.topics)})")
        return wanted

    # -- messages ----------------------------------------------------------------------------------------------------
    def messages(self, topics: Sequence[str] | None = None, start_ns: int | None = None,
                 stop_ns: int | None = None) -> Iterator[BagMessage]:
        """Messages of ``topics`` (all when None) in bag-time order, from ``start_ns`` (inclusive) to ``stop_ns``.

        A corrupt part (garbage in a chunk, bad compression) does not end the read: it resumes after the part,
        stepping ahead in bag time until messages come again, and what the metadata promised but could not be
        read is counted in :attr:`unreadable` (and the read errors in :attr:`read_errors`). Only when nothing at
        all can be read does it raise BagError naming the bag.
        """
        if topics is not None:
            wanted = set(self.require_topics(topics))
            connections = [c for c in self._reader.connections if c.topic in wanted]
            if not connections:
                return
        else:
            connections = list(self._reader.connections)
        read: dict[str, int] = dict.fromkeys({c.topic for c in connections}, 0)
        promised = sum(self.topics[topic].count for topic in read)
        whole = (start_ns is None or start_ns <= self.start_ns) and (stop_ns is None or stop_ns > self.end_ns)
        self.read_errors = []
        position, newest, step = start_ns, None, _RESUME_STEP_NS
        longest_step = max(_RESUME_STEP_NS, (self.end_ns - self.start_ns) // 100)  # ~100 tries cross the bag
        while True:
            progressed = False
            try:
                for connection, timestamp, data in self._reader.messages(connections, start=position, stop=stop_ns):
                    progressed, newest = True, int(timestamp)
                    read[connection.topic] += 1
                    yield BagMessage(connection.topic, connection.msgtype, int(timestamp), bytes(data))
            except BagError:
                raise
            except Exception as error:  # rosbags raises struct/zstd/index errors on a corrupt chunk
                self.read_errors.append(f"{error or type(error).__name__}")
                if newest is None and len(self.read_errors) > _MAX_RESUMES:
                    raise BagError(f"bag {self.path} is corrupt or truncated: {self.read_errors[0]}") from None
            else:
                if not whole or sum(read.values()) >= promised:
                    break  # everything the metadata promised (the normal case: one pass)
            # Ended early: resume just after the newest message read, further ahead each time nothing comes.
            step = _RESUME_STEP_NS if progressed else min(2 * step, longest_step)
            base = newest if newest is not None else (position if position is not None else self.start_ns)
            position = base + step
            if position > self.end_ns or (stop_ns is not None and position >= stop_ns) \
                    or len(self.read_errors) > _MAX_RESUMES:
                break
        if whole:
            short = {topic: self.topics[topic].count - n for topic, n in read.items() if n < self.topics[topic].count}
            self.unreadable = dict(sorted(short.items()))

    def describe_unreadable(self) -> str:
        """One sentence about :attr:`unreadable` ('' when every promised message was read)."""
        if not self.unreadable:
            return ""
        lost = sum(self.unreadable.values())
        per_topic = ", ".join(f"{topic} {count}" for topic, count in self.unreadable.items())
        return (f"bag {self.path}: {lost} message(s) that its metadata lists could not be read (corrupt or truncated "
                f"data, skipped): {per_topic}")

    def validate(self) -> int:
        """Read every message once (catches truncation that metadata alone does not show); returns the count."""
        count = 0
        for _ in self.messages():
            count += 1
        if count != self.message_count:
            raise BagError(f"bag {self.path}: metadata promises {self.message_count} messages, found {count}")
        return count

    # -- decoding ----------------------------------------------------------------------------------------------------
    @property
    def typestore(self) -> Typestore:
        """Types for decoding: the bag's own definitions first, Kilted/causal_msgs defaults for the rest."""
        if self._typestore is None:
            definitions = []
            for connection in self._reader.connections:
                fmt = _FORMAT_NAMES.get(connection.msgdef.format)
                if fmt is not None:
                    definitions.append((connection.msgtype, fmt, connection.msgdef.data))
            self._typestore = typestore_for_definitions(definitions)
        return self._typestore

    def deserialize(self, message: BagMessage) -> object:
        """Decode one message into a rosbags message object (same attribute names as the rclpy message)."""
        if message.msgtype not in self.typestore.fielddefs:
            raise BagError(
                f"unknown message type {message.msgtype!r} on topic {message.topic!r}: the bag {self.path} carries "
                "no definition for it and it is not a known ROS 2 / causal_msgs type"
            )
        try:
            return self.typestore.deserialize_cdr(message.data, message.msgtype)
        except Exception as error:
            raise BagError(
                f"bag {self.path}: cannot decode a {message.msgtype} message on {message.topic!r} "
                f"at t={message.timestamp_ns} ns: {error or type(error).__name__}"
            ) from None
