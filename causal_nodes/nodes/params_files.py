"""ROS 2 params files read as rcl reads them, without rclpy: checked, then asked what one node gets.

Why a module: ``causal-nodes run`` checks the user's files before rclpy reads them (an error naming the file and
the line, not an RCLError), and the discovery presets (``preset_parameters.py``) must extend the value a node
really gets from them -- which depends on the node's namespace and on the order of the keys, as in rcl:

* a key is the node's fully qualified name, written flat (``/robot1/variables_node``, a leading ``/`` optional) or
  nested (``robot1: {variables_node: ...}``); a token ``*`` matches one name, ``**`` any number (``/**``: all);
* the files are merged in the order given, a key seen again keeping its first place; then every key matching the
  node applies in that order, so the *last* matching key wins (``/**`` after ``/**/node`` overrides it).
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

PARAMETERS_KEY = "ros__parameters"


def read_params_file(path: str | os.PathLike) -> dict:
    """The file's YAML: a mapping of node names (``/**``, namespaces) to ``ros__parameters`` mappings ({} for an
    empty file, which rcl takes too).

    FileNotFoundError / ValueError naming the file (and the line of a YAML error) for anything rcl would refuse."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"params file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except UnicodeDecodeError:
        raise ValueError(f"params file {path}: not a text (YAML) file") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ValueError(f"params file {path}: {where}not valid YAML ({getattr(error, 'problem', error)})") from None

    def check(node: object, where: str) -> None:
        if not isinstance(node, dict) or not node:
            raise ValueError(f"params file {path}: {where or 'top level'} must map node names to "
                             f"'{PARAMETERS_KEY}:' (see config/*.yaml)")
        for key, value in node.items():
            if key == PARAMETERS_KEY:
                if not isinstance(value, dict):
                    raise ValueError(f"params file {path}: {where}/{PARAMETERS_KEY} must be a mapping of parameters")
            else:
                check(value, f"{where}/{key}")

    if data is None:
        return {}
    check(data, "")
    return data


def params_file_value(paths: Sequence[str | os.PathLike], node: str, name: str) -> Any | None:
    """The value of parameter ``name`` that node ``node`` (fully qualified: ``/robot1/variables_node``; a bare
    name is in the root namespace) gets from the params files ``paths``, given in this order; None when none sets
    it. Each file is checked as :func:`read_params_file` does."""
    merged: dict[tuple[str, ...], dict[str, Any]] = {}
    for path in paths:
        for key, parameters in _sections(read_params_file(path), ()):
            merged.setdefault(key, {}).update(parameters)
    target = _tokens(node)
    found = None
    for key, parameters in merged.items():
        if name in parameters and _matches(key, target):
            found = parameters[name]
    return found


def _tokens(name: str) -> tuple[str, ...]:
    return tuple(token for token in str(name).split("/") if token)


def _sections(data: dict, prefix: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """(key as tokens, its parameters with nested names joined by dots), in the file's order."""
    for key, value in data.items():
        if key == PARAMETERS_KEY:
            yield prefix, dict(_flatten(value, ""))
        elif isinstance(value, dict):
            yield from _sections(value, prefix + _tokens(key))


def _flatten(parameters: dict, prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in parameters.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _matches(pattern: tuple[str, ...], name: tuple[str, ...]) -> bool:
    """rcl's node-name wildcards: ``*`` one token, ``**`` zero or more."""
    if not pattern:
        return not name
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_matches(rest, name[k:]) for k in range(len(name) + 1))
    return bool(name) and head in ("*", name[0]) and _matches(rest, name[1:])
