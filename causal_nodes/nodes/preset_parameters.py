"""Discovery presets as parameter overrides, read against the user's params files (no launch, no rclpy).

Why a module: ``discovery_preset:=hri`` in the launch files and ``causal-nodes run --discovery-preset hri`` (for
machines without ``ros2 launch``) must give the nodes the same parameters, and the variables node's list must be the
one the user's params file sets, not the shipped default, with the preset's regime label appended.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import yaml


def params_file_value(path: str | os.PathLike, node: str, name: str) -> object | None:
    """The value of parameter ``name`` for ``node`` in a ROS 2 params file, or None when the file does not set it.

    Keys as rcl matches them: ``node``, ``/node``, ``/ns/node``, ``/**/node``, ``/**`` (a key naming the node
    wins over ``/**``)."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    found = None
    for key, section in data.items():
        parts = str(key).strip("/").split("/")
        if parts[-1] not in (node, "**") or not isinstance(section, dict):
            continue
        value = (section.get("ros__parameters") or {}).get(name)
        if value is not None and (found is None or parts[-1] == node):
            found = value
    return found


def discovery_preset_overrides(name: str, params_files: Sequence[str | os.PathLike]) -> tuple[dict, dict]:
    """Parameter overrides of the discovery and the variables node for discovery preset ``name`` ('' = none).

    The discovery node gets the preset's parameters; the variables node's ``variables`` (from the last of
    ``params_files`` that sets them, else the extractor's default list) gets the preset's extra variables appended
    (the regime label of ``hri``), so the frames carry it. ValueError naming the known presets for an unknown
    name."""
    from causal_nodes.discovery.presets import preset
    from causal_nodes.variables.extractor import DEFAULT_VARIABLES

    if not name.strip():
        return {}, {}
    settings = preset(name.strip())
    listed = None
    for path in params_files:
        listed = params_file_value(path, "variables_node", "variables") or listed
    variables = [v for v in (listed or DEFAULT_VARIABLES) if v]
    extra = [v for v in settings.extra_variables if v not in variables]
    return dict(settings.parameters), ({"variables": variables + extra} if extra else {})
