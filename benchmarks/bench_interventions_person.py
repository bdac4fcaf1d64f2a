"""Benchmark: predicted vs simulated do() effects on every physical scenario, old person/robot forecast vs new.

Runs ``verify_scenario`` (what ``causal-nodes eval-interventions`` runs: 50 warm-up + 500 observed steps, PCMCI on
the window, state-local SEM, kinematic effect model, horizon 10, 20 noise futures per real effect) for each
physical scenario with, in the same run and on the same seeds:

* ``CV person, SEM commands``: the shipped default (constant-velocity person, the SEM forecasts the robot's
  controller);
* ``CV person, planned commands``: the robot's plan (``--planned-commands``) instead of the SEM's forecast;
* per ``--world-model``: ``WM person, planned commands``: the world model, streamed with every person during the
  window, forecasts the subject under each scenario's commands (``--person-motion world_model``).

Reports pooled Kendall tau and sign accuracy per scenario and variant against the targets (tau >= 0.7, sign
>= 90 %). Writes a markdown table (``--out``) and every result (``--json``).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_interventions_person.py \\
        --world-model models/world_model.onnx --world-model models/world_model_sim.onnx
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from causal_nodes.commands.eval_interventions import DEFAULT_PHYSICAL_ACTIONABLE, DEFAULT_PHYSICAL_TARGET  # noqa: E402
from causal_nodes.evaluation.interventions import VerificationConfig, verify_scenario  # noqa: E402
from causal_nodes.sim.scenario import list_scenarios, load_scenario  # noqa: E402

TAU_TARGET, SIGN_TARGET = 0.7, 0.9


def variants(models: list[Path]) -> list[tuple[str, dict]]:
    out = [("CV person, SEM commands", {}), ("CV person, planned commands", dict(planned_commands=True))]
    for m in models:
        out.append((f"WM person ({m.stem}), planned commands",
                    dict(person_motion="world_model", world_model=str(m), planned_commands=True)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="", help="comma-separated (default: every physical scenario)")
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--world-model", type=Path, action="append", default=[])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "interventions_person.md")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    names = [s for s in args.scenarios.split(",") if s] or [
        s for s in list_scenarios() if load_scenario(s).kind == "physical"]
    results: list[dict] = []
    for name in names:
        scenario = load_scenario(name)
        for label, extra in variants(args.world_model):
            cfg = VerificationConfig(episodes=args.episodes, seed=args.seed, local_weighting="state",
                                     effect_model="kinematic", **extra)
            t0 = time.perf_counter()
            res = verify_scenario(scenario, DEFAULT_PHYSICAL_TARGET, list(DEFAULT_PHYSICAL_ACTIONABLE), cfg)
            row = dict(scenario=name, variant=label, kendall_tau=res["kendall_tau"],
                       sign_accuracy=res["sign_accuracy"], n=res["n"], sign_n=res["sign_n"],
                       mean_abs_error=res["mean_abs_error"], seconds=round(time.perf_counter() - t0, 1),
                       episodes=res["episodes"])
            results.append(row)
            print(f"{name:18s} {label:55s} tau {row['kendall_tau']:.3f} sign {row['sign_accuracy']:.3f} "
                  f"n {row['n']} ({row['seconds']} s)", flush=True)

    def met(r: dict) -> str:
        ok = r["kendall_tau"] >= TAU_TARGET and r["sign_accuracy"] >= SIGN_TARGET
        return "met" if ok else "**missed**"

    fmt = lambda v: "nan" if isinstance(v, float) and math.isnan(v) else f"{v:.2f}"  # noqa: E731
    lines = [
        "# Predicted vs simulated do() effects: person and robot forecasts (issue #16)", "",
        f"`{' '.join(['python'] + sys.argv)}`", "",
        f"Episodes {args.episodes} (seeds {args.seed}..{args.seed + args.episodes - 1}), discovered graphs, "
        "state-local SEM, kinematic effect model, horizon 10 (1 s), 20 noise futures; target "
        f"human_robot_distance; targets tau >= {TAU_TARGET}, sign >= {SIGN_TARGET:.0%}. "
        f"{platform.processor() or platform.machine()}, one thread, shared machine.", "",
        "| scenario | variant | Kendall tau | sign accuracy | n | MAE [m] | targets |", "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['scenario']} | {r['variant']} | {fmt(r['kendall_tau'])} | {fmt(r['sign_accuracy'])} | {r['n']} | "
              f"{fmt(r['mean_abs_error'])} | {met(r)} |" for r in results]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
