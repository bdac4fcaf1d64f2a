"""Benchmark: where the kinematic effect model's errors come from, by swapping its parts for the simulator's truth.

For each physical scenario and episode (as in ``eval-interventions``: 50 warm-up + 500 observed steps, PCMCI on
the window, state-local SEM, kinematic effect model, horizon 10), every candidate ``do()`` is run in a copy of the
simulator (one noise future, shared with the copy without intervention) and its real effect on
``human_robot_distance`` is compared, by Kendall tau over all episodes' candidates, with predictions from:

* ``model``: the prioritizer as shipped (SEM forecasts the robot's commands, constant-velocity person);
* ``true commands, CV person``: the unicycle driven by the commands the simulated robot really executed (with and
  without the intervention), the person at constant velocity -- what a perfect forecast of the controller gives;
* ``true commands, true person``: the same with the person's real path -- what is left is numerical (≈ 1);
* with ``--world-model PATH``: ``true commands, world-model person`` (the world model, streamed with every person
  during the window, forecasts the subject under each candidate's real commands) and ``model, world-model person
  + plan`` (the prioritizer with ``person_motion="world_model"`` and the robot's plan, as
  ``eval-interventions --person-motion world_model --planned-commands`` runs it).

Also reported: the mean error of the constant-velocity (and world-model) person after the horizon. Writes
benchmarks/results/effect_error_sources.md.

    .venv/bin/python benchmarks/bench_effect_error_sources.py [--world-model models/world_model.onnx]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dataclasses import replace  # noqa: E402

from causal_nodes.evaluation.interventions import (  # noqa: E402
    VerificationConfig,
    WorldModelFeed,
    intervened_twin,
    observe_episode,
    planned_commands,
    scene_of,
)
from causal_nodes.prioritization import PrioritizerConfig, prioritize  # noqa: E402
from causal_nodes.prioritization.kinematics import KinematicCoupling, PlanarScene  # noqa: E402
from causal_nodes.sim.scenario import list_scenarios, load_scenario  # noqa: E402

TARGET = "human_robot_distance"
ACTIONS = ["robot_linear_speed", "robot_angular_speed"]


def rollout(sim, variable, value, horizon):
    """Commands executed, the subject's path and the final distance in a copy of ``sim`` (noise future 0)."""
    v, w, person = [], [], []

    def record(twin) -> None:
        v.append(twin.robot_speed)
        w.append(twin.robot_yaw_rate)
        person.append(twin.positions[twin.subject].copy())

    twin = intervened_twin(sim, variable, value, horizon, 0, on_step=record)
    return (
        np.array(v),
        np.array(w),
        np.array(person),
        float(np.hypot(*(twin.positions[twin.subject] - twin.robot_pose[:2]))),
    )


def distance_after(pose, v, w, person_end, dt) -> float:
    """The model's own unicycle (:class:`KinematicCoupling`) from ``pose`` with commands ``v, w``; distance to
    ``person_end`` (a person standing there, so only the robot moves)."""
    names = ["robot_linear_speed", "robot_angular_speed", TARGET]
    step = KinematicCoupling(PlanarScene(tuple(pose), tuple(person_end), (0.0, 0.0), dt), names, 1, 1)
    x = np.zeros((1, 1, 3))
    for vk, wk in zip(v, w):
        x[..., 0], x[..., 1] = vk, wk
        out = step(x)
    return float(out[0, 0, 2])


def scenario_rows(name: str, episodes: int, horizon: int, world_model: str = "") -> dict:
    sc = load_scenario(name)
    names = list(sc.variables)
    preds: dict[str, list] = {"model": [], "true commands, CV person": [], "true commands, true person": []}
    feed = WorldModelFeed(world_model) if world_model else None
    if feed is not None:
        preds.update({"true commands, world-model person": [], "model, world-model person + plan": []})
    real, cv_error, wm_error = [], [], []
    for seed in range(episodes):
        if feed is not None:
            feed.reset()
        sim, window, links, _ = observe_episode(sc, VerificationConfig(), seed, on_step=feed)
        cfg = PrioritizerConfig(horizon=horizon, bootstrap=0, local_weighting="state", effect_model="kinematic")
        result = prioritize(window, names, links, TARGET, ACTIONS, cfg, scene=scene_of(sim))
        p0, pv = sim.positions[sim.subject].copy(), sim.velocities[sim.subject].copy()
        cv_end = p0 + pv * horizon * sim.dt
        bv, bw, bperson, bdist = rollout(sim, None, 0.0, horizon)
        cv_error.append(float(np.hypot(*(cv_end - bperson[-1]))))
        forecast = feed.forecast(scene_of(sim), sim.time) if feed is not None else None
        if forecast is not None:
            wm_base = forecast(np.stack([bv, bw], -1)[None])[0]
            wm_error.append(float(np.hypot(*(wm_base[-1] - bperson[-1]))))
            scene = replace(scene_of(sim), person_forecast=forecast, planned_commands=planned_commands(sim, horizon))
            full = prioritize(window, names, links, TARGET, ACTIONS, replace(cfg, person_motion="world_model"),
                              scene=scene)
            by_candidate = {(c.variable, c.value): c.predicted_effect for c in full.candidates}
        for c in result.candidates:
            v, w, person, dist = rollout(sim, c.variable, c.value, horizon)
            real.append(dist - bdist)
            preds["model"].append(c.predicted_effect)
            preds["true commands, CV person"].append(
                distance_after(sim.robot_pose, v, w, cv_end, sim.dt)
                - distance_after(sim.robot_pose, bv, bw, cv_end, sim.dt)
            )
            preds["true commands, true person"].append(
                distance_after(sim.robot_pose, v, w, person[-1], sim.dt)
                - distance_after(sim.robot_pose, bv, bw, bperson[-1], sim.dt))
            if forecast is not None:
                wm_end = forecast(np.stack([v, w], -1)[None])[0, -1]
                preds["true commands, world-model person"].append(
                    distance_after(sim.robot_pose, v, w, wm_end, sim.dt)
                    - distance_after(sim.robot_pose, bv, bw, wm_base[-1], sim.dt))
                preds["model, world-model person + plan"].append(by_candidate[(c.variable, c.value)])
    out = {k: float(kendalltau(p, real)[0]) if len(p) == len(real) else float("nan") for k, p in preds.items()}
    out["cv_error"] = float(np.mean(cv_error))
    out["wm_error"] = float(np.mean(wm_error)) if wm_error else float("nan")
    out["n"] = len(real)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--world-model", default="", help="world-model step ONNX: adds its person forecast")
    parser.add_argument("--scenarios", nargs="*", default=None, help="physical scenarios (default: all)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "effect_error_sources.md")
    args = parser.parse_args()
    wm = bool(args.world_model)
    lines = [
        "# Where the kinematic effect model's errors come from",
        "",
        f"`benchmarks/bench_effect_error_sources.py --episodes {args.episodes} --horizon {args.horizon}"
        + (f" --world-model {args.world_model}" if wm else "") + "`: Kendall tau of "
        "predicted vs. real effects on human_robot_distance (one noise future), all candidates of all episodes.",
        "",
        "| scenario | n | model | true commands, CV person | true commands, true person |"
        + (" true commands, world-model person | model, world-model person + plan |" if wm else "")
        + " CV person error after the horizon [m] |" + (" world-model person error [m] |" if wm else ""),
        "|---|---|---|---|---|---|" + ("---|---|---|" if wm else ""),
    ]
    for name in args.scenarios or list_scenarios():
        if load_scenario(name).kind != "physical":
            continue
        r = scenario_rows(name, args.episodes, args.horizon, args.world_model)
        lines.append(f"| {name} | {r['n']} | {r['model']:.2f} | {r['true commands, CV person']:.2f} "
                     f"| {r['true commands, true person']:.2f} |"
                     + (f" {r['true commands, world-model person']:.2f} | {r['model, world-model person + plan']:.2f} |"
                        if wm else "")
                     + f" {r['cv_error']:.2f} |" + (f" {r['wm_error']:.2f} |" if wm else ""))
        print(lines[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
