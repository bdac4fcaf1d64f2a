"""Derive a physical scenario's interventional reference graph by do() in the simulator (docs/simulator.md).

Examples:
  causal-nodes reference corridor_passing                       # the scenario's variables, printed
  causal-nodes reference corridor_passing --legacy --write      # the pre-#10 variables, into sim/references/
  causal-nodes reference crossing --variables robot_linear_speed,human_robot_distance,closing_speed --json r.json
  causal-nodes reference crowd --unit spread --write              # the band in units of Y's spread (*.spread.json)
  causal-nodes reference crowd --unit both                        # both units from one derivation, side by side

X(t-lag) -> Y(t) is a link when do(X) with every other observed variable held changes Y at that lag by more
than the band (effect size r >= band; see causal_nodes/sim/reference.py for the definition). ``--unit`` says what
one unit of r is: ``noise`` (the default; Y's one-step noise, band 1) or ``spread`` (Y's sd over the run, band
0.05); ``both`` derives once and gives both graphs.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from causal_nodes.sim import load_scenario
from causal_nodes.sim.reference import (
    DEFAULT_DERIVATION_SEEDS,
    DEFAULT_UNIT,
    UNITS,
    ReferenceGraph,
    derive_references,
    write_reference,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", help="physical scenario name or YAML path")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--variables", help="comma-separated observed variables (default: the scenario's)")
    chosen.add_argument("--legacy", action="store_true", help="the default variables before issue #10")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_DERIVATION_SEEDS),
                        help="derivation seeds (default %(default)s; benchmarks report on others)")
    parser.add_argument("--tau-max", type=int, default=3, help="largest lag [grid steps] (default %(default)s)")
    parser.add_argument("--stride", type=int, default=10, help="steps between do() experiments (default %(default)s)")
    parser.add_argument("--unit", choices=[*UNITS, "both"], default=DEFAULT_UNIT,
                        help="unit of the effect size: Y's one-step noise or Y's spread; both from one derivation "
                             "(default %(default)s)")
    parser.add_argument("--band", type=float,
                        help="effect size a link needs, one --unit only (default: the unit's, "
                             + ", ".join(f"{u.name} {u.band:g}" for u in UNITS.values()) + ")")
    parser.add_argument("--write", action="store_true", help="store it in sim/references/ (read by Scenario.reference)")
    parser.add_argument("--json", type=Path,
                        help="also write the reference to this JSON file (with --unit both: one file per unit, the "
                             "unit before the suffix)")


def run(args: argparse.Namespace) -> int:
    from causal_nodes.variables.extractor import LEGACY_VARIABLES

    scenario = load_scenario(args.scenario)
    if scenario.physical is None:
        print(f"reference: {scenario.name} is an SCM scenario; its reference is its own graph", file=sys.stderr)
        return 2
    units = list(UNITS) if args.unit == "both" else [args.unit]
    if args.tau_max < 0 or args.stride < 1 or (args.band is not None and (args.band <= 0 or len(units) > 1)):
        raise ValueError("--tau-max must be >= 0, --stride >= 1 and --band > 0 (with one --unit)")
    variables = (list(LEGACY_VARIABLES) if args.legacy
                 else [v.strip() for v in args.variables.split(",") if v.strip()] if args.variables
                 else list(scenario.variables))
    started = time.perf_counter()
    references = derive_references(scenario, variables, units=units, seeds=args.seeds, tau_max=args.tau_max,
                                   bands=None if args.band is None else {units[0]: args.band}, stride=args.stride,
                                   progress=lambda line: print(line, flush=True))
    seconds = time.perf_counter() - started
    for unit, reference in references.items():
        _print(reference, seconds)
        if args.write:
            print(f"wrote {write_reference(reference, variables)}")
        if args.json:
            path = args.json if len(units) == 1 else args.json.with_suffix(f".{unit}{args.json.suffix}")
            path.write_text(json.dumps(reference.to_json(), indent=1) + "\n")
            print(f"wrote {path}")
    return 0


def _print(reference: ReferenceGraph, seconds: float) -> None:
    n = len(reference.variables)
    candidates = n * n * (reference.tau_max + 1) - n
    print(f"{reference.scenario} ({reference.kind}, unit {reference.unit}): {len(reference.links)} links of "
          f"{candidates} candidates ({len(reference.summary())} in the summary graph) over {reference.variables}, "
          f"band {reference.band}, seeds {reference.seeds}, {seconds:.0f} s")
    for name, why in reference.left_out.items():
        print(f"  left out {name}: {why}")
    for name, fraction in reference.failed_holds.items():
        print(f"  do({name}): {fraction:.1%} of the experiments could not hold the other variables (dropped)")
    for link in sorted(reference.links, key=lambda k: (k[1], k[2], k[0])):
        print(f"  {link[0]}(t-{link[2]}) --> {link[1]}(t)   r = {reference.effects[link]:.3g}")
