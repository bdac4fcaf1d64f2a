"""Check the prioritizer's predicted intervention effects against the simulator's do() (Kendall tau, signs).

Runs a scenario observationally, discovers the graph (PCMCI), ranks candidate interventions with the
prioritizer, applies each one in copies of the simulator for the horizon (common random numbers, averaged
over reseeded noise futures) and compares predicted with real effects on the target.

Example: causal-nodes eval-interventions --scenario corridor_passing --json out/eval.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

DEFAULT_PHYSICAL_TARGET = "human_robot_distance"
DEFAULT_PHYSICAL_ACTIONABLE = ("robot_linear_speed", "robot_angular_speed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from causal_nodes.evaluation.interventions import VerificationConfig

    d = VerificationConfig()
    parser.add_argument("--scenario", required=True, help="scenario name (sim/scenarios) or YAML path")
    parser.add_argument("--target", help=f"target variable (physical default: {DEFAULT_PHYSICAL_TARGET}; "
                        "SCM default: the variable with the most true ancestors)")
    parser.add_argument("--actionable", help="comma-separated actionable variables (physical default: "
                        f"{','.join(DEFAULT_PHYSICAL_ACTIONABLE)}; SCM default: all but the target)")
    parser.add_argument("--horizon", type=int, default=d.horizon, help="steps (default %(default)s)")
    parser.add_argument("--episodes", type=int, default=d.episodes, help="seeds to run (default %(default)s)")
    parser.add_argument("--futures", type=int, default=d.futures,
                        help="noise futures averaged per real effect (default %(default)s)")
    parser.add_argument("--observe-steps", type=int, default=d.observe_steps,
                        help="window length (default %(default)s)")
    parser.add_argument("--warmup-steps", type=int, default=d.warmup_steps,
                        help="steps skipped first (default %(default)s)")
    parser.add_argument("--bootstrap", type=int, default=d.bootstrap, help="bootstrap replicas (default %(default)s)")
    parser.add_argument("--candidate-values", type=int, default=d.candidate_values)
    parser.add_argument("--tau-max", type=int, default=d.tau_max)
    parser.add_argument("--alpha-level", type=float, default=d.alpha_level)
    parser.add_argument("--seed", type=int, default=d.seed, help="first seed (episodes use seed, seed+1, ...)")
    parser.add_argument("--true-graph", action="store_true",
                        help="use the scenario's ground-truth graph instead of discovery (isolates the SEM's error)")
    parser.add_argument("--local", choices=("auto", "none", "recent", "state"), default="auto",
                        help="local SEM fit around the current situation; auto: state for physical scenarios, "
                        "none (global) for SCM ones (default %(default)s)")
    parser.add_argument("--local-span", type=float, default=d.local_span,
                        help="fraction of the window used by a local fit (default %(default)s)")
    parser.add_argument("--effect-model", choices=("auto", "linear", "kinematic"), default="auto",
                        help="how robot commands act on geometric variables: kinematic (unicycle + geometry "
                        "inside the learned SEM), linear (SEM only); auto: kinematic for physical scenarios, "
                        "linear for SCM ones (default %(default)s)")
    parser.add_argument("--person-motion", choices=("constant_velocity", "sem", "world_model"),
                        default=d.person_motion, help="the person in the kinematic model; world_model needs "
                        "--world-model (default %(default)s)")
    parser.add_argument("--world-model", default=d.world_model,
                        help="world-model step ONNX streamed with all people during the window (for "
                        "--person-motion world_model)")
    parser.add_argument("--planned-commands", action="store_true",
                        help="give the prioritizer the robot's plan (its controller's commands over the horizon "
                        "without intervention) instead of the SEM's forecast of them")
    parser.add_argument("--json", type=Path, help="write the full result (with every candidate) to this file")


def run(args: argparse.Namespace) -> int:
    from causal_nodes.evaluation.interventions import VerificationConfig, verify_scenario
    from causal_nodes.sim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    names = list(scenario.variables)
    physical = scenario.kind == "physical"
    target = args.target or (DEFAULT_PHYSICAL_TARGET if physical else _most_caused(scenario))
    if args.actionable:
        actionable = [a.strip() for a in args.actionable.split(",") if a.strip()]
    else:
        actionable = list(DEFAULT_PHYSICAL_ACTIONABLE) if physical else [n for n in names if n != target]
    cfg = VerificationConfig(
        horizon=args.horizon, episodes=args.episodes, futures=args.futures, observe_steps=args.observe_steps,
        warmup_steps=args.warmup_steps, bootstrap=args.bootstrap, candidate_values=args.candidate_values,
        tau_max=args.tau_max, alpha_level=args.alpha_level, seed=args.seed, use_true_graph=args.true_graph,
        local_weighting=("state" if physical else "none") if args.local == "auto" else args.local,
        local_span=args.local_span,
        effect_model=("kinematic" if physical else "linear") if args.effect_model == "auto" else args.effect_model,
        person_motion=args.person_motion, world_model=args.world_model, planned_commands=args.planned_commands,
    )
    result = verify_scenario(scenario, target, actionable, cfg)
    print(f"scenario {scenario.name} ({scenario.kind}), target {target}, actionable {actionable}, "
          f"horizon {cfg.horizon}, graph {result['graph']}, local fit {cfg.local_weighting}, "
          f"effect model {cfg.effect_model}, person {cfg.person_motion}"
          + (", planned commands" if cfg.planned_commands else ""))
    for ep in result["episodes"]:
        print(f"  seed {ep['seed']}: {ep['links']} links, {len(ep['candidates'])} candidates, "
              f"tau {ep['kendall_tau']:.3f}" + (f"  warnings: {ep['warnings']}" if ep["warnings"] else ""))
    fmt = lambda v: "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"  # noqa: E731
    print(f"kendall_tau {fmt(result['kendall_tau'])}  sign_accuracy {fmt(result['sign_accuracy'])} "
          f"(n_sign {result['sign_n']})  n {result['n']}  mean_abs_error {fmt(result['mean_abs_error'])}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(_clean(result), indent=2))
        print(f"wrote {args.json}")
    return 0


def _most_caused(scenario: object) -> str:
    """SCM default target: the variable with the most ancestors in the scenario's true graph (the most
    interesting one to intervene for; the choice uses the truth only to set the task, not to predict)."""
    from causal_nodes.evaluation.interventions import ancestors_of

    truth = scenario.ground_truth()  # type: ignore[attr-defined]
    names = list(scenario.variables)  # type: ignore[attr-defined]
    return max(reversed(names), key=lambda n: len(ancestors_of(truth, n)))


def _clean(value: object) -> object:
    """Strict JSON: NaN becomes null, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # type: ignore[union-attr]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
