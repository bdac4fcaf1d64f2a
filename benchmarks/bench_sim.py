"""Simulator benchmark: steps per second for 10 / 50 / 200 people, sensors off and on, side by side.

Run (about half a minute on 2 cores):

    . .venv/bin/activate && python benchmarks/bench_sim.py [--out benchmarks/results/sim.md] [--steps 300]

Worlds are the ``crowd`` scenario (walled hall, robot crossing, social force with person-person, person-robot
and wall forces) with the hall scaled so the density stays at 10 people per 16 m x 10 m. Columns:
dynamics only; + laser scan (360 beams ray-cast against walls and people); + camera (160 x 120 rgb8 render);
+ the pipeline variables computed from the state every step (what ``run_scenario`` does). "x real time" is
steps/s divided by the 10 Hz grid rate. Rates are per CPU second of this process (``time.process_time``), so
other jobs on a shared machine inflate them less than wall time would. The synthetic SCM simulator is timed on
the demo scenario.

With ``--f1`` it also runs PCMCI (ParCorr, tau_max 3, pc_alpha 0.2, alpha_level 0.01: the demo's settings) on
each scenario's stream for ``--seeds`` seeds and scores it against the scenario's reference (a few minutes).
"""
from __future__ import annotations

import argparse
import copy
import functools
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from causal_nodes.sim import PhysicalSimulator, default_demo_scenario, load_scenario, state_variables  # noqa: E402

PEOPLE = (10, 50, 200)
VARIANTS = ("dynamics", "+ scan", "+ scan + camera", "+ scan + camera + variables")


def crowd_config(people: int, scan: bool, camera: bool):
    config = copy.deepcopy(load_scenario("crowd").physical)
    scale = math.sqrt(people / 10.0)
    config.walls = config.walls * scale
    x0, y0, x1, y1 = config.crowd.region
    config.crowd.region = (x0 * scale, y0 * scale, x1 * scale, y1 * scale)
    config.crowd.count = people
    config.robot.start = (config.robot.start[0] * scale, 0.0, 0.0)
    config.robot.goals = [(gx * scale, gy) for gx, gy in config.robot.goals]
    config.scan.enabled = scan
    config.camera.enabled = camera
    return config


def steps_per_second(make, steps: int, variables: bool) -> float:
    sim = make()
    for _ in range(20):  # warm-up: caches, first allocations
        sim.step()
    start = time.process_time()  # CPU time of this process: robust to other jobs sharing the cores
    for _ in range(steps):
        sim.step()
        if variables:
            state_variables(sim)
    return steps / (time.process_time() - start)


F1_SCENARIOS = ("scm_demo", "scm_random_linear", "scm_random_nonlinear", "scm_contemporaneous", "corridor_passing",
                "crossing")


def f1_table(seeds: int) -> list:
    """Markdown lines: PCMCI ParCorr on each scenario's default-length stream vs its reference (and, physical, the
    mechanism truth), scored as ``causal-nodes simulate --score`` does."""
    from causal_nodes.discovery.discover import DiscoveryConfig
    from causal_nodes.evaluation.discovery_scores import discover_and_score
    from causal_nodes.sim import run_scenario

    config = DiscoveryConfig(method="pcmci", test="parcorr", tau_max=3, pc_alpha=0.2, alpha_level=0.01)
    lines = [f"PCMCI (ParCorr, tau_max 3, pc_alpha 0.2, alpha_level 0.01) vs each scenario's reference, {seeds} "
             "seeds per scenario (see benchmarks/bench_hri_discovery.py for held-out seeds and other pipelines):",
             "", "| scenario | samples | F1 mean | F1 min | F1 lag-collapsed | F1 vs mechanism | precision | recall |"
             " CPU s/run |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name in F1_SCENARIOS:
        scenario = load_scenario(name)
        scores = []
        for seed in range(seeds):
            series = run_scenario(scenario, seed=seed)
            scores.append(discover_and_score(scenario, series.names, series.values, config))
        f1 = np.array([s["f1"] for s in scores])
        mechanism = [s["f1_mechanism"] for s in scores if "f1_mechanism" in s]
        lines.append(
            f"| {name} | {scores[0]['samples']} | {f1.mean():.3f} | {f1.min():.3f} | "
            f"{np.mean([s['f1_summary'] for s in scores]):.3f} | "
            + (f"{np.mean(mechanism):.3f}" if mechanism else "") + " | "
            f"{np.mean([s['precision'] for s in scores]):.2f} | {np.mean([s['recall'] for s in scores]):.2f} | "
            f"{np.mean([s['cpu_seconds'] for s in scores]):.2f} |"
        )
        print(lines[-1], flush=True)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="timed steps per cell (default %(default)s)")
    parser.add_argument("--out", type=Path, help="also write the markdown table to this file")
    parser.add_argument("--f1", action="store_true", help="also score PCMCI against each scenario's ground truth")
    parser.add_argument("--seeds", type=int, default=10, help="seeds per scenario for --f1 (default %(default)s)")
    args = parser.parse_args()

    rows = []
    for people in PEOPLE:
        cells = []
        for variant in VARIANTS:
            scan = variant != "dynamics"
            camera = "camera" in variant
            config = crowd_config(people, scan, camera)
            rate = steps_per_second(
                functools.partial(PhysicalSimulator, config, seed=0), args.steps, "variables" in variant
            )
            cells.append(rate)
        rows.append((people, cells))
        print(f"{people:4d} people: " + "  ".join(f"{v}: {c:8.0f}/s" for v, c in zip(VARIANTS, cells)), flush=True)
    demo = default_demo_scenario()
    scm_rate = steps_per_second(lambda: demo.make_simulator(0), args.steps * 10, False)

    lines = [
        f"Simulator steps per second ({platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, numpy {np.__version__}; {args.steps} timed steps per cell, one process, "
        "one thread, CPU time). In brackets: times real time at the 10 Hz grid.",
        "",
        "| people | " + " | ".join(VARIANTS) + " |",
        "|---:|" + "---:|" * len(VARIANTS),
    ]
    for people, cells in rows:
        lines.append(f"| {people} | " + " | ".join(f"{c:,.0f} ({c / 10:,.0f}x)" for c in cells) + " |")
    lines += ["", f"Synthetic SCM ({demo.name}, {len(demo.variables)} variables): {scm_rate:,.0f} steps/s."]
    if args.f1:
        lines += ["", *f1_table(args.seeds)]
    lines += ["", "Command: `python benchmarks/bench_sim.py --out benchmarks/results/sim.md"
              + (f" --f1 --seeds {args.seeds}`" if args.f1 else "`")]
    table = "\n".join(lines)
    print()
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("# Simulator benchmark\n\n" + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
