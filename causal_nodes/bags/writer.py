"""Write rosbag2 bags (MCAP or SQLite3) that stock ``ros2 bag info/play`` read, atomically.

Why atomic: a recorder killed part-way or a conversion that hits bad input must not leave a half bag that looks
complete (metadata.yaml present, messages missing). The bag is written inside a hidden temporary folder next to the
destination and renamed into place only by :meth:`BagWriter.close`; :meth:`BagWriter.abort` (or an exception inside
``with``) removes it.

Each topic is registered with its full ``ros2msg`` definition (nested types included) and RIHS01 hash, generated
from :mod:`causal_nodes.bags.typestore`, which is what rosbag2's MCAP and SQLite3 storage plugins need to play it.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from rosbags.interfaces import Connection, Qos
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys.store import Typestore

from causal_nodes.bags.errors import BagError
from causal_nodes.bags.paths import PathLike
from causal_nodes.bags.typestore import default_typestore, ensure_type, normalize_type_name

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}

#: rosbag2 metadata version written by default. 8 is the newest that Humble's rosbag2 (0.15) can read: it parses
#: ``offered_qos_profiles`` as one YAML string with the policies as numbers, which version 8 writes, whereas
#: version 9 (Jazzy's own) writes a YAML list with policy names, which Humble rejects ("bad conversion").
#: Jazzy and Kilted read both. The same string goes into the MCAP channel metadata.
BAG_VERSION = 8
BAG_VERSIONS = (8, 9)


class BagWriter:
    """A bag being written; use as a context manager (commit on success, abort on exception).

    >>> with BagWriter("out_bag") as bag:                       # doctest: +SKIP
    ...     bag.add_topic("/people", "geometry_msgs/msg/PoseArray")
    ...     bag.write("/people", stamp_ns, cdr_bytes)            # bytes from rclpy or typestore.serialize_cdr
    """

    def __init__(self, path: PathLike, storage: str = "mcap", typestore: Typestore | None = None,
                 overwrite: bool = False, fallback_typestore: Typestore | None = None,
                 version: int = BAG_VERSION) -> None:
        self.path = Path(path)
        if storage not in STORAGES:
            raise BagError(f"unknown bag storage {storage!r} (choose from {sorted(STORAGES)})")
        if version not in BAG_VERSIONS:
            raise BagError(f"bag metadata version {version} not supported (choose from {BAG_VERSIONS}; 8 is "
                           "readable by Humble, Jazzy and Kilted)")
        if self.path.exists() and not overwrite:
            raise BagError(f"output bag {self.path} exists already (choose another name or remove it)")
        self.storage = storage
        self.typestore = typestore if typestore is not None else default_typestore()
        self._fallback = fallback_typestore
        parent = self.path.parent if str(self.path.parent) else Path(".")
        if not parent.is_dir():
            raise BagError(f"output folder {parent} does not exist")
        self._overwrite = overwrite
        self._tmpdir = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.partial-", dir=parent))
        self._writer = Writer(self._tmpdir / self.path.name, version=version, storage_plugin=STORAGES[storage])
        self._writer.open()
        self._connections: dict[str, Connection] = {}
        self.counts: dict[str, int] = {}
        self._closed = False

    # -- context manager -------------------------------------------------------------------------------------------
    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # -- topics ------------------------------------------------------------------------------------------------------
    def has_topic(self, topic: str) -> bool:
        return topic in self._connections

    def add_topic(self, topic: str, msgtype: str, offered_qos: Iterable[Qos] = (),
                  type_hash: str | None = None) -> None:
        """Register ``topic`` with its type; ``type_hash`` (RIHS01 from the ROS graph) overrides the computed one.

        Raises BagError when the type is unknown (naming it) or the topic was registered before.
        """
        if topic in self._connections:
            raise BagError(f"topic {topic!r} registered twice in bag {self.path}")
        msgtype = normalize_type_name(msgtype)
        ensure_type(self.typestore, msgtype, self._fallback)
        msgdef, _ = self.typestore.generate_msgdef(msgtype, ros_version=2)
        digest = type_hash or self.typestore.hash_rihs01(msgtype)
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, msgdef=msgdef, rihs01=digest, offered_qos_profiles=list(offered_qos)
        )
        self.counts[topic] = 0

    def set_custom_data(self, key: str, value: str) -> None:
        """Store a string in metadata.yaml's ``custom_data`` (read back by ``BagReader.custom_data``)."""
        self._writer.set_custom_data(key, value)

    # -- messages ----------------------------------------------------------------------------------------------------
    def write(self, topic: str, timestamp_ns: int, data: bytes) -> None:
        """Append one already-serialized (CDR) message at bag time ``timestamp_ns``."""
        connection = self._connections.get(topic)
        if connection is None:
            raise BagError(f"topic {topic!r} was not added to bag {self.path} before writing")
        self._writer.write(connection, int(timestamp_ns), data)
        self.counts[topic] += 1

    def write_message(self, topic: str, timestamp_ns: int, message: object) -> None:
        """Serialize a typestore (rosbags) message object for ``topic`` and append it."""
        connection = self._connections.get(topic)
        if connection is None:
            raise BagError(f"topic {topic!r} was not added to bag {self.path} before writing")
        data = self.typestore.serialize_cdr(message, connection.msgtype)
        self.write(topic, timestamp_ns, bytes(data))

    # -- finishing ---------------------------------------------------------------------------------------------------
    def close(self) -> Path:
        """Finish the bag and move it to its destination; returns the destination path."""
        if self._closed:
            return self.path
        try:
            self._writer.close()
            if self.path.exists() and self._overwrite:
                shutil.rmtree(self.path) if self.path.is_dir() else self.path.unlink()
            os.replace(self._tmpdir / self.path.name, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        shutil.rmtree(self._tmpdir, ignore_errors=True)
        return self.path

    def abort(self) -> None:
        """Drop everything written so far; the destination is left untouched."""
        if self._closed:
            return
        self._closed = True
        try:
            self._writer.abort()
        finally:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    @property
    def message_count(self) -> int:
        return sum(self.counts.values())
