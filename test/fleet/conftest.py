"""Fixtures of the fleet tests: the small bag set of :mod:`fleet_bags`, written once per session."""
from __future__ import annotations

import pytest
from fleet_bags import CONFIG, write_fleet_bags

from causal_nodes.fleet import FleetConfig


@pytest.fixture(scope="session")
def fleet_bags(tmp_path_factory) -> list[str]:
    return write_fleet_bags(tmp_path_factory.mktemp("fleet_bags"))


@pytest.fixture(scope="session")
def fleet_config() -> FleetConfig:
    return CONFIG
