"""Small simulated bags for the fleet tests: two physical runs, two SCM runs and a truncated (corrupt) bag.

Tiny on purpose (30 s of sim time each, windows of 100 samples): the tests check that every scheduler gives the
same answers and that failures are handled, not statistics.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from causal_nodes.fleet import FleetConfig, PrioritizationOptions, WindowOptions
from causal_nodes.sim.bag_export import write_scenario_bag

STEPS = 300
RUNS = (("corridor_passing", 1), ("corridor_passing", 2), ("scm_demo", 1), ("scm_demo", 2))
CONFIG = FleetConfig(window=WindowOptions(length=100, stride=50),
                     prioritization=PrioritizationOptions(target="human_robot_distance"))


def truncate_bag(source: Path, destination: Path) -> Path:
    """A copy of ``source`` whose MCAP file lost its second half (as after a crash mid-write)."""
    shutil.copytree(source, destination)
    mcap = next(destination.glob("*.mcap"))
    data = mcap.read_bytes()
    mcap.write_bytes(data[: len(data) // 2])
    return destination


def write_fleet_bags(folder: Path) -> list[str]:
    """Bag paths in a fixed order; the last one is corrupt."""
    bags = [write_scenario_bag(name, folder / f"{name}_{seed}", seed=seed, steps=STEPS).path for name, seed in RUNS]
    bags.append(truncate_bag(bags[2], folder / "zz_truncated"))
    return [str(p) for p in bags]
