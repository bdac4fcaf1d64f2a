"""Run a simulator scenario headless: variables to CSV, its ground-truth graph, optional do() and PCMCI scoring.

Examples:
  causal-nodes simulate --list
  causal-nodes simulate corridor_passing --duration-s 60 --out corridor.csv --truth-out corridor_truth.csv
  causal-nodes simulate corridor_passing --do robot_linear_speed=0.2@5:15 --out slow.csv
  causal-nodes simulate scm_demo --seed 3 --score          # PCMCI on the stream, F1 against the ground truth
  causal-nodes simulate crossing --seed 7 --score --json score.json   # against the interventional reference
  causal-nodes simulate crossing --seed 4 --duration-s 600 --bag crossing_4   # an MCAP bag, no DDS needed

--score scores against the scenario's reference graph (docs/simulator.md): an SCM's own links, or for physical
scenarios the interventional reference over the observed variables. --json writes precision, recall, f1
(lag-level), f1_summary (lag-collapsed), reference (its kind), seconds (the discovery) and more.

The CSV has a first column `time` and one column per variable (rows before every variable is defined, e.g. the
first step without a speed, are left out), so `causal-nodes discover` reads it directly.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

import numpy as np

from causal_nodes.commands.discover import add_discovery_options, config_from_args
from causal_nodes.sim import Intervention, list_scenarios, load_scenario, run_scenario
from causal_nodes.variables.csv_io import write_variables_csv

_DO_PATTERN = re.compile(r"^(?P<var>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[^@]+)(@(?P<start>[^:]*)(:(?P<end>.*))?)?$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", nargs="?", help="scenario name or YAML path (see --list)")
    parser.add_argument("--list", action="store_true", help="list the known scenarios and exit")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--duration-s", type=float, help="simulated time (default: the scenario's duration)")
    length.add_argument("--steps", type=int, help="number of grid steps")
    parser.add_argument("--do", action="append", default=[], metavar="VAR=VALUE[@START[:END]]",
                        help="intervention do(VAR = VALUE) from START to END s (repeatable; human_goal takes X,Y)")
    parser.add_argument("--definitions", choices=("state", "pipeline"), default="state",
                        help="physical scenarios: variables from the sim state (exact) or from the pipeline's "
                             "extractor on the simulated sensors")
    parser.add_argument("--out", type=Path, help="write the variables to this CSV")
    parser.add_argument("--truth-out", type=Path, help="write the ground-truth links (source,target,lag) to this CSV")
    parser.add_argument("--bag", type=Path, help="write the run as an MCAP bag with the simulator node's topics "
                        "(/clock, /people, /odom, /scan, /imu, /goal_pose, /sim/true_variables, /sim/ground_truth; "
                        "SCM scenarios /causal/variables), directly, without DDS")
    parser.add_argument("--camera", action="store_true", help="with --bag: also /camera/image_raw (large)")
    parser.add_argument("--score", action="store_true",
                        help="run the discovery on the simulated stream and print precision/recall/F1")
    parser.add_argument("--json", type=Path, metavar="OUT",
                        help="with --score: write the scores (f1, f1_summary, reference, seconds, ...) to this JSON")
    parser.add_argument("--variables", help="comma-separated variables to simulate (default: the scenario's)")
    add_discovery_options(parser)


def parse_do(text: str) -> Intervention:
    """``VAR=VALUE[@START[:END]]`` -> Intervention (ValueError naming the problem)."""
    match = _DO_PATTERN.match(text.strip())
    if not match:
        raise ValueError(f"--do {text!r}: expected VAR=VALUE[@START[:END]], e.g. robot_linear_speed=0.2@5:15")
    try:
        raw = match["value"]
        value = tuple(float(v) for v in raw.split(",")) if "," in raw else float(raw)
        start = float(match["start"]) if match["start"] else 0.0
        end = float(match["end"]) if match["end"] else None
    except ValueError:
        raise ValueError(f"--do {text!r}: VALUE, START and END must be numbers") from None
    return Intervention(match["var"], value, start, end)


def run(args: argparse.Namespace) -> int:
    if args.list:
        for name in list_scenarios():
            scenario = load_scenario(name)
            print(f"{name:24s} {scenario.kind:8s} {len(scenario.variables)} variables, "
                  f"{len(scenario.ground_truth())} links")
        return 0
    if not args.scenario:
        print("simulate: give a scenario name or path (see --list)", file=sys.stderr)
        return 2
    try:
        scenario = load_scenario(args.scenario)
        interventions = [parse_do(text) for text in args.do]
        steps = args.steps if args.steps is not None else (
            int(round(args.duration_s / scenario.dt)) if args.duration_s is not None else None)
        if args.bag is not None:
            _write_bag(scenario, args, steps, interventions)
            if not (args.out or args.truth_out or args.score):
                return 0
        chosen = [v.strip() for v in args.variables.split(",") if v.strip()] if args.variables else None
        series = run_scenario(scenario, seed=args.seed, steps=steps, interventions=interventions,
                              definitions=args.definitions, variables=chosen)
        if args.json and not args.score:
            raise ValueError("--json writes the scores of --score: give --score too")
        config = config_from_args(args) if args.score else None
    except ValueError as error:
        print(f"simulate: {error}", file=sys.stderr)
        return 2
    complete = np.all(np.isfinite(series.values), axis=1)
    times, values = series.times[complete], series.values[complete]
    truth = sorted(scenario.ground_truth(), key=lambda link: (link[1], link[0], link[2]))
    print(f"{scenario.name}: {len(series.times)} steps of {scenario.dt} s, {len(series.names)} variables, "
          f"{len(truth)} ground-truth links; {int((~complete).sum())} incomplete row(s) left out")
    for source, target, lag in truth:
        print(f"  {source}(t-{lag}) --> {target}(t)")
    if args.out:
        write_variables_csv(args.out, series.names, values, times)
        print(f"wrote {len(times)} rows to {args.out}")
    if args.truth_out:
        with args.truth_out.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["source", "target", "lag"])
            writer.writerows(truth)
        print(f"wrote {len(truth)} links to {args.truth_out}")
    if config is not None:
        return _score(scenario, series, config, args.json, args.seed)
    return 0


def _write_bag(scenario, args: argparse.Namespace, steps: int | None, interventions: list[Intervention]) -> None:
    from causal_nodes.sim.bag_export import write_scenario_bag

    bag = write_scenario_bag(scenario, args.bag, seed=args.seed, steps=steps, interventions=interventions,
                             camera=args.camera)
    print(f"wrote bag {bag.path}: {bag.steps} steps ({bag.duration_s:g} s of sim time, seed {bag.seed}), "
          f"{bag.message_count} messages on {len(bag.counts)} topics")


def _score(scenario, series, config, json_out: Path | None, seed: int | None) -> int:
    from causal_nodes.evaluation.discovery_scores import discover_and_score, guess_line, guess_scores

    try:
        score = discover_and_score(scenario, series.names, series.values, config)
    except ValueError as error:
        print(f"simulate: discovery failed: {error}", file=sys.stderr)
        return 1
    for name, why in score["left_out"].items():
        print(f"WARN: {name} left out of the discovery: {why}", file=sys.stderr)
    score.update(guess_scores(scenario.reference(score["variables"], tau_max=score["tau_max"]), score["variables"]))
    print(guess_line(score))  # before the discovery's line, which stays the last
    print(f"discovery ({config.method}/{config.test}, tau_max {config.tau_max}, pc_alpha {config.pc_alpha}, "
          f"alpha_level {config.alpha_level}) on {score['samples']} samples, {score['seconds']:.2f} s, against "
          f"the {score['reference']} reference ({score['reference_links']} links): precision "
          f"{score['precision']:.3f} recall {score['recall']:.3f} F1 {score['f1']:.3f} (tp {score['tp']}, "
          f"fp {score['fp']}, fn {score['fn']}); lag-collapsed F1 {score['f1_summary']:.3f}")
    if json_out:
        score["seed"] = scenario.seed if seed is None else seed
        json_out.write_text(json.dumps(score, indent=1) + "\n")
        print(f"wrote {json_out}")
    return 0
