"""Discovery presets as parameter overrides, read against the user's params files (no launch, no rclpy).

Why a module: ``discovery_preset:=hri`` in the launch files and ``causal-nodes run --discovery-preset hri`` (for
machines without ``ros2 launch``) must give the nodes the same parameters, and the variables node's list must be the
one the user's params files give *that* node (its namespace, the order of the keys, as rcl reads them:
``params_files.py``), not the shipped default, with the preset's regime label appended.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

from causal_nodes.nodes.params_files import params_file_value


def discovery_preset_overrides(name: str, params_files: Sequence[str | os.PathLike],
                               namespace: str = "") -> tuple[dict, dict]:
    """Parameter overrides of the discovery and the variables node for discovery preset ``name`` ('' = none).

    The discovery node gets the preset's parameters; the variables node's ``variables`` (what ``params_files`` give
    ``<namespace>/variables_node``, else the extractor's default list) gets the preset's extra variables appended
    (the regime label of ``hri``), so the frames carry it. A list the node would refuse (not a non-empty list of
    names, e.g. ``['']``) is left as it is, so the node refuses it as it would without the preset, rather than
    the preset turning it into a one-variable list. ValueError naming the known presets for an unknown name;
    FileNotFoundError / ValueError naming a params file that is missing or not one."""
    from causal_nodes.discovery.presets import preset
    from causal_nodes.variables.extractor import DEFAULT_VARIABLES

    name = name.strip()
    if not name:
        return {}, {}
    if name == "auto":
        raise ValueError("discovery preset auto chooses by the scenario (sim.launch.py, causal-nodes demo); "
                         "without a simulator choose hri (human-robot data) or general")
    settings = preset(name)
    listed = params_file_value(params_files, f"{namespace.rstrip('/')}/variables_node", "variables")
    if listed is None:
        listed = list(DEFAULT_VARIABLES)
    if not (isinstance(listed, list) and listed and all(isinstance(v, str) and v.strip() for v in listed)):
        return dict(settings.parameters), {}
    extra = [v for v in settings.extra_variables if v not in listed]
    return dict(settings.parameters), ({"variables": listed + extra} if extra else {})
