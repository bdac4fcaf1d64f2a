"""Named discovery settings, one source for the demo, the docs and a params file: the measured best per use.

Why: the best setting on the human-robot scenarios differs from the safe general default, and a user should not
have to read a benchmark to find it. Each preset is a set of discovery-node parameters (``config/discovery.yaml``
names) plus the variables it needs in the frames (a regime label).

* ``general`` (the node's defaults): PCMCI + ParCorr, tau_max 3. SCM scenarios F1 0.94; the safe choice for
  unknown, possibly lagged, roughly linear data.
* ``hri``: PCMCI + rcot within the approach / leave regimes of ``closing_speed``, tau_max 1, alpha_level 0.05,
  chosen on tuning seeds 11-13; on held-out seeds lag-level / lag-collapsed F1 0.488 / 0.651 against the
  interventional reference (0.371 / 0.575 for ``general``), 0.31 CPU s per update (``benchmarks/results/
  hri_discovery.md``, pipeline ``rcot_phases_tau1``). It looks one step back only: effects at longer lags are
  missed by design.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DiscoveryPreset:
    name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    """Discovery-node parameters that differ from the node's defaults."""
    extra_variables: tuple[str, ...] = ()
    """Variables the frames must carry besides the graph's own (a regime label: not a node of the graph)."""


PRESETS = {
    "general": DiscoveryPreset("general"),
    "hri": DiscoveryPreset("hri", {"test": "rcot", "context": "closing_speed", "context_bins": "0",
                                   "tau_max": 1, "alpha_level": 0.05}, ("closing_speed",)),
}


def preset(name: str) -> DiscoveryPreset:
    """The preset ``name``; ValueError naming the known ones."""
    if name not in PRESETS:
        raise ValueError(f"unknown discovery preset {name!r}; known: {sorted(PRESETS)}")
    return PRESETS[name]


def preset_for(name: str, scenario_kind: str) -> DiscoveryPreset:
    """Preset ``name``, where ``auto`` means the measured best for the scenario's kind: ``hri`` on a physical
    (human-robot) scenario, ``general`` on an SCM one."""
    return preset(name if name != "auto" else "hri" if scenario_kind == "physical" else "general")
