"""Named choices: string-valued enums, so a params YAML, a CLI flag and the code name the same option.

Why not plain strings: a string is checked by hand wherever it is used, and a typo in one of those places fails
silently. Why not a plain :class:`enum.Enum`: ROS parameters, argparse and JSON speak strings. A :class:`Choice`
member *is* its string (``Method.PCMCI == "pcmci"``, ``str()``/``format()``/``json.dumps`` give ``"pcmci"``), and
:meth:`Choice.parse` turns a string from outside into a member with an error that lists the allowed values.
(``enum.StrEnum`` would do the same but needs Python 3.11; ROS 2 Humble runs 3.10.)
"""
from __future__ import annotations

from enum import Enum
from typing import TypeVar

C = TypeVar("C", bound="Choice")


class Choice(str, Enum):
    """Base of the package's option enums; members compare, print and serialise as their value."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The allowed values, in declaration order (for parameter descriptors and argparse ``choices``)."""
        return tuple(str(member.value) for member in cls)

    @classmethod
    def parse(cls: type[C], value: object, field: str) -> C:
        """``value`` as a member; ValueError naming ``field`` and the allowed values when it is none of them."""
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"{field} must be one of {cls.names()}, got {value!r}") from None
