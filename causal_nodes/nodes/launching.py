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


def number_argument(context, name: str, kind: type = float, low: float | None = None,
                    high: float | None = None) -> float:
    """Launch argument ``name`` as a number, checked before any node starts: ValueError naming it otherwise.

    Why: a ``ParameterValue(..., value_type=...)`` fails only when its node is launched, after the nodes before
    it have started, and those outlive the refused launch."""
    text = LaunchConfiguration(name).perform(context)
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name}:={text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name}:={text!r} is outside {low}..{high}")
    return value


def flag_argument(context, name: str) -> bool:
    """Launch argument ``name`` as true/false, checked before any node starts: ValueError naming it otherwise."""
    text = LaunchConfiguration(name).perform(context).strip().lower()
    if text not in TRUE | {"false", "0", "no", "off"}:
        raise ValueError(f"{name}:={text!r} is not true or false")
    return text in TRUE


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

