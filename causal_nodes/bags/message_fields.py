"""Typed bag messages from plain nested fields, and back, by the type's definition in a rosbags type store.

Why: code that must stay free of ROS (the simulator) describes a message as a mapping of its ROS field names, as
``rosidl_runtime_py.set_message_fields`` takes for rclpy. rosbags' message classes, unlike rclpy's, have no default
values, so :func:`build_message` fills every field the mapping leaves out with the ROS default (0, ``""``, empty
sequence, zero array, nested defaults), exactly as a freshly constructed rclpy message would hold.
:func:`message_fields` turns a (deserialized) message back into such a mapping, to compare messages field by field.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
from rosbags.typesys.base import Nodetype
from rosbags.typesys.store import Typestore

from causal_nodes.bags.errors import BagError

_NUMPY_TYPES = {
    "bool": np.bool_, "byte": np.uint8, "char": np.uint8, "int8": np.int8, "uint8": np.uint8, "int16": np.int16,
    "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32, "int64": np.int64, "uint64": np.uint64,
    "float32": np.float32, "float64": np.float64,
}


def _base_default(name: str) -> Any:
    if name == "string" or name == "wstring":
        return ""
    if name == "bool":
        return False
    return 0.0 if name.startswith("float") else 0


class MessageBuilder:
    """Builds messages of one type store; the field layout of each type is looked up once and cached."""

    def __init__(self, store: Typestore) -> None:
        self.store = store
        self._plans: dict[str, tuple[Any, list[tuple[str, tuple]], frozenset[str]]] = {}

    def _plan(self, msgtype: str) -> tuple[Any, list[tuple[str, tuple]], frozenset[str]]:
        plan = self._plans.get(msgtype)
        if plan is None:
            if msgtype not in self.store.fielddefs:
                raise BagError(f"unknown message type {msgtype!r} in the type store")
            _, definition = self.store.fielddefs[msgtype]
            plan = (self.store.types[msgtype], list(definition), frozenset(name for name, _ in definition))
            self._plans[msgtype] = plan
        return plan

    def build(self, msgtype: str, fields: Mapping[str, Any] | None = None, where: str = "") -> Any:
        """A ``msgtype`` message with ``fields`` set and every other field at its ROS default.

        Raises BagError naming the field when a name is not a field of the type or a value has the wrong shape.
        """
        cls, definition, known = self._plan(msgtype)
        fields = fields or {}
        if not known.issuperset(fields):
            unknown = sorted(set(fields) - known)
            raise BagError(f"{msgtype}{' at ' + where if where else ''} has no field(s) {unknown} "
                           f"(fields: {[name for name, _ in definition]})")
        return cls(**{name: self._value(spec, fields.get(name), f"{where}.{name}" if where else name)
                      for name, spec in definition})

    def _value(self, spec: tuple, value: Any, where: str) -> Any:
        nodetype, args = spec
        if nodetype == Nodetype.BASE:
            name = args[0]
            if value is None:
                return _base_default(name)
            if name in ("string", "wstring"):
                return str(value)
            if name == "bool":
                return bool(value)
            return float(value) if name.startswith("float") else int(value)
        if nodetype == Nodetype.NAME:
            if value is not None and not isinstance(value, Mapping):
                raise BagError(f"field {where} of type {args} needs a mapping of its fields, "
                               f"got {type(value).__name__}")
            return self.build(str(args), value, where)
        (inner_type, inner_args), length = args
        fixed = nodetype == Nodetype.ARRAY
        if inner_type == Nodetype.BASE and inner_args[0] in _NUMPY_TYPES:
            dtype = _NUMPY_TYPES[inner_args[0]]
            array = np.zeros(length if fixed else 0, dtype) if value is None else np.asarray(value, dtype=dtype)
            if fixed and array.shape != (length,):
                raise BagError(f"field {where} is an array of {length} values, got shape {array.shape}")
            return array
        items = ([None] * length if fixed else []) if value is None else list(value)
        if fixed and len(items) != length:
            raise BagError(f"field {where} is an array of {length} entries, got {len(items)}")
        return [self._value((inner_type, inner_args), item, f"{where}[{k}]") for k, item in enumerate(items)]


def build_message(store: Typestore, msgtype: str, fields: Mapping[str, Any] | None = None) -> Any:
    """One ``msgtype`` message of ``store`` (see :meth:`MessageBuilder.build`; use a builder for many)."""
    return MessageBuilder(store).build(msgtype, fields)


def message_fields(message: Any) -> Any:
    """A message (rosbags or any dataclass-like) as nested dicts and lists of plain Python values."""
    if dataclasses.is_dataclass(message) and not isinstance(message, type):
        return {f.name: message_fields(getattr(message, f.name)) for f in dataclasses.fields(message)
                if f.name != "__msgtype__"}
    if isinstance(message, np.ndarray):
        return message.tolist()
    if isinstance(message, (list, tuple)):
        return [message_fields(item) for item in message]
    if isinstance(message, np.generic):
        return message.item()
    return message
