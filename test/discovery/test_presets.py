"""Discovery presets name real discovery-node parameters and the variables their regimes need."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from causal_nodes.discovery.presets import PRESETS, preset

PARAMS_FILE = Path(__file__).resolve().parents[2] / "config" / "discovery.yaml"


def test_every_preset_sets_parameters_the_discovery_node_declares() -> None:
    declared = set(yaml.safe_load(PARAMS_FILE.read_text())["/**/discovery_node"]["ros__parameters"])
    for name, settings in PRESETS.items():
        assert set(settings.parameters) <= declared, (name, set(settings.parameters) - declared)


def test_a_regime_preset_asks_the_frames_for_its_regime_label() -> None:
    hri = preset("hri")
    assert hri.parameters["context"] in hri.extra_variables and hri.parameters["tau_max"] == 1
    assert preset("general").parameters == {} and preset("general").extra_variables == ()


def test_unknown_preset_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown discovery preset 'fast'; known: \['general', 'hri'\]"):
        preset("fast")


def test_preset_for_a_scenario_ignores_blanks_and_refuses_what_the_scenario_cannot_feed():
    from causal_nodes.discovery.presets import PresetUnfit, preset_for

    assert preset_for(" hri ", "physical").name == "hri"  # discovery_preset:=' hri' as the pipeline launch takes it
    assert preset_for("auto", "physical").name == "hri" and preset_for("auto", "scm").name == "general"
    with pytest.raises(PresetUnfit, match=r"^hri needs \['closing_speed'\], which the scm scenario scm_demo does"):
        preset_for("hri", "scm", "scm_demo")
    with pytest.raises(ValueError, match="unknown discovery preset 'HRI'"):
        preset_for("HRI", "physical")
