"""What the launch files share: namespace and remap arguments, TF remaps, and optional viewers that may be missing.

Why a module: the three launch files must treat namespaces the same way, and ``rviz:=true`` on a machine without
rviz2 must not abort a launch half-way (the nodes already started would be left without a parent), so the checks
happen here, before any action is returned.

Namespaces follow the Nav2 convention: every node runs in ``namespace``; ``/tf`` and ``/tf_static`` are remapped to
the relative ``tf`` / ``tf_static`` so each robot has its own TF tree (``/robot1/tf``), and the simulator's and
the replay's ``/clock`` to ``clock``, so two simulated robots keep two clocks.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import yaml
from launch.actions import DeclareLaunchArgument, LogInfo
from launch.substitutions import LaunchConfiguration

TF_REMAPS: list[tuple[str, str]] = [("/tf", "tf"), ("/tf_static", "tf_static")]
CLOCK_REMAPS: list[tuple[str, str]] = [("/clock", "clock")]
TRUE = {"true", "1", "yes", "on"}


def namespace_arguments() -> list[DeclareLaunchArgument]:
    return [
        DeclareLaunchArgument("namespace", default_value="",
                              description="namespace of every node and topic (robot1 -> /robot1/causal/graph, "
                                          "/robot1/tf); '' = none"),
        DeclareLaunchArgument("remap", default_value="",
                              description="extra remaps FROM:=TO for every node, separated by spaces "
                                          "(e.g. 'people:=/tracker/people scan:=/front/scan')"),
    ]


def is_true(context, name: str) -> bool:
    return LaunchConfiguration(name).perform(context).strip().lower() in TRUE


def parse_remaps(text: str) -> list[tuple[str, str]]:
    """``'a:=b c:=/d'`` -> ``[('a', 'b'), ('c', '/d')]``; ValueError naming a malformed rule."""
    rules = []
    for rule in text.split():
        source, sep, target = rule.partition(":=")
        if not sep or not source or not target:
            raise ValueError(f"remap {rule!r} is not FROM:=TO")
        rules.append((source, target))
    return rules


def remaps(context, *defaults: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The default remaps followed by the user's ``remap`` argument (later rules win in rcl)."""
    rules = [rule for group in defaults for rule in group]
    return rules + parse_remaps(LaunchConfiguration("remap").perform(context))


def package_installed(package: str) -> bool:
    """Whether an ament package is in the index (what ``Node(package=...)`` needs to start)."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        get_package_prefix(package)
    except PackageNotFoundError:
        return False
    return True


def rviz_available() -> bool:
    return package_installed("rviz2")


def rviz_topic_remaps(config: str | os.PathLike) -> list[tuple[str, str]]:
    """Absolute display topics of an RViz config -> relative, so RViz in a namespace shows that robot."""
    data = yaml.safe_load(Path(config).read_text())
    topics = set()
    for display in data.get("Visualization Manager", {}).get("Displays", []):
        value = (display.get("Topic") or {}).get("Value")
        if isinstance(value, str) and value.startswith("/"):
            topics.add(value)
    return [(t, t.lstrip("/")) for t in sorted(topics)] + TF_REMAPS


def missing_viewer(name: str, install_hint: str) -> LogInfo:
    return LogInfo(msg=f"[causal_nodes] {name}:=true but {name} is not installed ({install_hint}); "
                       f"starting everything else without it")


def foxglove_available() -> bool:
    return importlib.util.find_spec("foxglove") is not None


def params_file_value(path: str | os.PathLike, node: str, name: str) -> object | None:
    """The value of parameter ``name`` for ``node`` in a ROS 2 params file, or None when the file does not set it.

    Keys as ``ros2 launch`` matches them: ``node``, ``/node``, ``/**/node``, ``/**`` (the most specific wins)."""
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


def discovery_preset_overrides(name: str, variables_params: str | os.PathLike) -> tuple[dict, dict]:
    """Parameter overrides of the discovery and the variables node for discovery preset ``name`` ('' = none).

    The discovery node gets the preset's parameters; the variables node's ``variables`` (from its params file, or
    the extractor's default list) gets the preset's extra variables appended (the regime label of ``hri``), so the
    frames carry it. ValueError naming the known presets for an unknown name."""
    from causal_nodes.discovery.presets import preset
    from causal_nodes.variables.extractor import DEFAULT_VARIABLES

    if not name.strip():
        return {}, {}
    settings = preset(name.strip())
    listed = params_file_value(variables_params, "variables_node", "variables")
    variables = [v for v in (listed or DEFAULT_VARIABLES) if v]
    extra = [v for v in settings.extra_variables if v not in variables]
    return dict(settings.parameters), ({"variables": variables + extra} if extra else {})
