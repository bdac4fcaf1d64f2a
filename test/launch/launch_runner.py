"""Runs launch files of an installed package through ``launch.LaunchService``, the engine of ``ros2 launch``,
until SIGINT/SIGTERM (which shut the launched processes down, as Ctrl-C on ``ros2 launch`` does).

  python launch_runner.py PACKAGE FILE [name:=value ...] [-- FILE [name:=value ...]] ...

Several files run side by side, each in a scoped group so one's arguments do not leak into the next (two robots).
Run with the workspace's environment (``source install/setup.bash``): this is a script, not a test module.
"""
from __future__ import annotations

import sys

from ament_index_python.packages import get_package_share_directory
from launch.actions import GroupAction, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource

from launch import LaunchDescription, LaunchService


def description(package: str, specs: list[list[str]]) -> LaunchDescription:
    share = get_package_share_directory(package)
    actions = []
    for file, *arguments in specs:
        pairs = [tuple(a.split(":=", 1)) for a in arguments]
        include = IncludeLaunchDescription(PythonLaunchDescriptionSource(f"{share}/launch/{file}"),
                                           launch_arguments=pairs)
        actions.append(GroupAction([include], scoped=True))
    return LaunchDescription(actions)


def main(argv: list[str]) -> int:
    package, *rest = argv
    specs: list[list[str]] = [[]]
    for arg in rest:
        if arg == "--":
            specs.append([])
        else:
            specs[-1].append(arg)
    service = LaunchService()
    service.include_launch_description(description(package, [s for s in specs if s]))
    return service.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
