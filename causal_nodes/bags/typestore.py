"""Message type definitions for reading and writing bags without ROS.

Why a module of its own: a bag is only useful to stock ROS tools (``ros2 bag info/play``) when every topic carries
its full ``ros2msg`` definition (nested types included) and its RIHS01 type hash, and it is only readable here when
we can deserialize types that our ROS install may not know (another robot's custom messages). So:

* writing uses :func:`default_typestore` — the ROS 2 Kilted standard types plus our ``causal_msgs`` plus, on demand,
  any type whose ``.msg`` file is installed in an ament prefix (:func:`ensure_type`);
* reading uses :func:`typestore_for_definitions` — the definitions stored *in the bag* win over the defaults,
  because they describe the bytes that were actually recorded.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from rosbags.typesys import Stores, TypesysError, get_types_from_idl, get_types_from_msg, get_typestore
from rosbags.typesys.base import Nodetype
from rosbags.typesys.store import Typestore

from causal_nodes.bags.errors import BagError
from causal_nodes.resources import message_definition_dirs

#: The distribution whose standard message definitions are used when a type is not defined otherwise.
DEFAULT_STORE = Stores.ROS2_KILTED

_SEPARATOR = "=" * 80 + "\n"


def normalize_type_name(name: str) -> str:
    """``pkg/Name`` or ``pkg/msg/Name`` → ``pkg/msg/Name`` (the form rosbag2 metadata and the graph use)."""
    parts = name.strip().split("/")
    if len(parts) == 2 and all(parts):
        return f"{parts[0]}/msg/{parts[1]}"
    if len(parts) == 3 and all(parts):
        return name.strip()
    raise BagError(f"malformed message type name {name!r} (expected 'package/msg/Name')")


def type_name_of(message: object) -> str:
    """``pkg/msg/Name`` of a message object: rclpy messages (by their generated module) and rosbags ones alike."""
    declared = getattr(message, "__msgtype__", None)
    if isinstance(declared, str):
        return declared
    cls = type(message)
    parts = cls.__module__.split(".")  # rclpy: geometry_msgs.msg._pose_array
    if len(parts) >= 2 and parts[1] in ("msg", "srv", "action"):
        return f"{parts[0]}/{parts[1]}/{cls.__name__}"
    raise BagError(f"cannot tell the ROS type of a {cls.__module__}.{cls.__name__} object")


def _msg_search_dirs() -> list[Path]:
    """Folders that may hold ``<pkg>/msg/<Name>.msg``: the repo's interfaces, then every ament prefix's share."""
    dirs = message_definition_dirs()
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            dirs.append(Path(prefix) / "share")
    return dirs


def find_msg_file(msgtype: str) -> Path | None:
    """The installed ``.msg`` file of ``msgtype``, or None when no search folder has it."""
    pkg, _, name = normalize_type_name(msgtype).split("/")
    for base in _msg_search_dirs():
        candidate = base / pkg / "msg" / f"{name}.msg"
        if candidate.is_file():
            return candidate
    return None


def _referenced_types(fielddef: tuple[list, list]) -> Iterator[str]:
    """Names of the message types a parsed definition refers to (through arrays and sequences too)."""
    for _name, (nodetype, args) in fielddef[1]:
        while nodetype in (Nodetype.ARRAY, Nodetype.SEQUENCE):
            nodetype, args = args[0]
        if nodetype == Nodetype.NAME:
            yield str(args)


def ensure_type(store: Typestore, msgtype: str, fallback: Typestore | None = None) -> None:
    """Make ``msgtype`` and every type it nests known to ``store``.

    A type missing from ``store`` is loaded from its installed ``.msg`` file, else taken from ``fallback``.
    With an empty ``store`` and the Kilted store as ``fallback`` (what the recorder does), the definitions written
    are those of the ROS install that is running, whatever its distribution. Raises BagError naming the first
    type whose definition cannot be found.
    """
    pending = [normalize_type_name(msgtype)]
    found: dict[str, tuple] = {}
    while pending:
        name = pending.pop()
        if name in store.fielddefs or name in found:
            continue
        path = find_msg_file(name)
        if path is not None:
            parsed = get_types_from_msg(path.read_text(encoding="utf-8"), name)
        elif fallback is not None and name in fallback.fielddefs:
            parsed = {name: fallback.fielddefs[name]}
        else:
            raise BagError(
                f"unknown message type {name!r}: not a ROS 2 standard type and no {name.split('/')[-1]}.msg found "
                f"under the repo's interfaces/ or AMENT_PREFIX_PATH"
            )
        found.update(parsed)
        for parsed_def in parsed.values():
            pending.extend(_referenced_types(parsed_def))
    if found:
        store.register(found)


def default_typestore(extra_types: Iterable[str] = ("causal_msgs/msg/VariableFrame",
                                                    "causal_msgs/msg/CausalGraph",
                                                    "causal_msgs/msg/CausalPriorities",
                                                    "causal_msgs/msg/InterventionArray")) -> Typestore:
    """Kilted standard types plus ``extra_types`` (by default our ``causal_msgs``) and everything they nest.

    An extra type whose definition cannot be found is left out here; using it later raises the error that names it.
    """
    store = get_typestore(DEFAULT_STORE)
    for name in extra_types:
        try:
            ensure_type(store, name)
        except BagError:
            continue
    return store


def installed_first_typestore() -> Typestore:
    """An empty store to be filled by :func:`ensure_type` with ``fallback=default_typestore()``: definitions of the
    running ROS install first (its ``share/<pkg>/msg``), the Kilted ones only for types that are not installed."""
    return get_typestore(Stores.EMPTY)


def _types_from_definition(msgtype: str, fmt: str, text: str) -> dict:
    """Parse one connection's stored definition (``ros2msg`` with nested ``MSG:`` parts, or ``ros2idl``)."""
    if fmt == "ros2msg":
        return get_types_from_msg(text, msgtype)
    types: dict = {}
    if text.startswith(_SEPARATOR + "IDL: "):
        for part in text.split(_SEPARATOR)[1:]:
            types.update(get_types_from_idl(part.split("\n", 1)[1]))
    else:
        types.update(get_types_from_idl(text))
    return types


def typestore_for_definitions(definitions: Iterable[tuple[str, str, str]]) -> Typestore:
    """A store in which the given ``(msgtype, format, text)`` definitions override the Kilted defaults.

    A bag recorded on another distribution (or with a custom type) is decoded by what it says about itself; types it
    does not define fall back to :func:`default_typestore`.
    """
    merged = dict(default_typestore().fielddefs)
    for msgtype, fmt, text in definitions:
        if not text.strip():
            continue
        try:
            merged.update(_types_from_definition(msgtype, fmt, text))
        except (TypesysError, ValueError, IndexError) as error:
            raise BagError(f"the bag's definition of {msgtype!r} cannot be parsed: {error}") from None
    store = get_typestore(Stores.EMPTY)
    store.register(merged)
    return store


def message_definition(msgtype: str, store: Typestore | None = None) -> str:
    """The full ``ros2msg`` definition of ``msgtype`` (nested types included, as rosbag2 and Foxglove want it):
    from the running install's ``.msg`` files first, Kilted's standard definitions for the rest."""
    store = store if store is not None else installed_first_typestore()
    msgtype = normalize_type_name(msgtype)
    ensure_type(store, msgtype, default_typestore())
    return store.generate_msgdef(msgtype, ros_version=2)[0]
