"""A synthetic robot fleet: many simulator bags across scenarios and seeds, with metadata, for fleet analysis.

Bag i runs scenario ``scenarios[i % len(scenarios)]`` with seed ``first_seed + i``, is assigned to robot
``r<i % robots>`` and to site ``site_<scenario>`` (a scenario stands for a place), and is written as
``OUT/<scenario>/seed_<seed>`` by :func:`~causal_nodes.sim.bag_export.write_scenario_bag`. The CSV
``OUT/fleet.csv`` (columns bag, scenario, seed, robot, site) is what ``causal-nodes fleet --metadata`` reads. Bags that
exist already are kept, so an interrupted generation resumes where it stopped.
"""
from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from .bag_export import write_scenario_bag
from .scenario import load_scenario

DEFAULT_SCENARIOS = ("corridor_passing", "crossing", "overtaking", "approach_standing")
METADATA_FILE = "fleet.csv"


@dataclass(frozen=True)
class FleetBag:
    bag: str
    scenario: str
    seed: int
    robot: str
    site: str


def fleet_plan(out: str | Path, count: int, scenarios: Sequence[str] = DEFAULT_SCENARIOS, first_seed: int = 1000,
               robots: int = 5) -> list[FleetBag]:
    if count < 1 or robots < 1 or not scenarios:
        raise ValueError("a fleet needs >= 1 bag, >= 1 robot and at least one scenario")
    out = Path(out)
    return [FleetBag(str(out / scenarios[i % len(scenarios)] / f"seed_{first_seed + i}"), scenarios[i % len(scenarios)],
                     first_seed + i, f"r{i % robots}", f"site_{scenarios[i % len(scenarios)]}") for i in range(count)]


def write_fleet_bag(entry: FleetBag, duration_s: float) -> float:
    """Write one bag of the plan (unless it exists); returns the CPU seconds spent."""
    started = time.process_time()
    path = Path(entry.bag)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        scenario = load_scenario(entry.scenario)
        steps = None if duration_s <= 0 else int(round(duration_s / scenario.dt))
        write_scenario_bag(scenario, path, seed=entry.seed, steps=steps)
    return time.process_time() - started


def write_fleet(out: str | Path, plan: Sequence[FleetBag], duration_s: float = 600.0, jobs: int = 1) -> float:
    """Write every bag of ``plan`` (``jobs`` processes) and ``out/fleet.csv``; returns the writers' CPU seconds."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    durations = [duration_s] * len(plan)
    if jobs <= 1:
        cpu = list(map(write_fleet_bag, plan, durations))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            cpu = list(pool.map(write_fleet_bag, plan, durations))
    with (out / METADATA_FILE).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(plan[0])))
        writer.writeheader()
        writer.writerows(asdict(entry) for entry in plan)
    return sum(cpu)
