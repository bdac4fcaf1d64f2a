"""Package data is found from a source checkout and from an ament (colcon) install, with one lookup."""
from __future__ import annotations

from pathlib import Path

import pytest
from repo_paths import REPO_ROOT

from causal_nodes import resources
from causal_nodes.sim.scenario import list_scenarios, scenario_dirs


def test_a_source_checkout_serves_its_own_folders() -> None:
    assert resources.source_checkout() == REPO_ROOT
    assert resources.find_resource("sim", "scenarios") == REPO_ROOT / "sim" / "scenarios"
    assert resources.message_definition_dirs() == [REPO_ROOT / "interfaces"]
    assert REPO_ROOT / "sim" / "scenarios" in scenario_dirs()


def _colcon_install(tmp_path: Path) -> Path:
    """A minimal install prefix as colcon lays it out: the ament index marker and the share folder."""
    prefix = tmp_path / "install"
    index = prefix / "share" / "ament_index" / "resource_index" / "packages"
    index.mkdir(parents=True)
    (index / "causal_nodes").write_text("")
    scenarios = prefix / "share" / "causal_nodes" / "sim" / "scenarios"
    scenarios.mkdir(parents=True)
    (scenarios / "installed_only.yaml").write_text("name: installed_only\n")
    return prefix


def test_an_installed_package_is_found_through_the_ament_index(tmp_path, monkeypatch) -> None:
    pytest.importorskip("ament_index_python")
    prefix = _colcon_install(tmp_path)
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    monkeypatch.setattr(resources, "_CHECKOUT", tmp_path / "site-packages")  # code installed, not a checkout
    assert resources.source_checkout() is None
    assert resources.ament_share() == prefix / "share" / "causal_nodes"
    assert resources.find_resource("sim", "scenarios") == prefix / "share" / "causal_nodes" / "sim" / "scenarios"
    assert "installed_only" in list_scenarios()
    assert resources.message_definition_dirs() == []


def test_a_missing_resource_names_every_folder_tried(tmp_path, monkeypatch) -> None:
    pytest.importorskip("ament_index_python")  # the colcon install is found only through the ament index
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(_colcon_install(tmp_path)))
    with pytest.raises(FileNotFoundError) as error:
        resources.find_resource("models", "no_such_model.onnx")
    assert str(REPO_ROOT / "models" / "no_such_model.onnx") in str(error.value)
    assert str(tmp_path / "install" / "share" / "causal_nodes" / "models") in str(error.value)
