"""ETH/UCY leave-one-scene-out: the same world models fed raw or filtered velocities, with and without self-calibration.

    python benchmarks/bench_trajectory_inputs.py --data /work/shared/datasets/eth_ucy \
        --models models --out benchmarks/results/trajectory_inputs.md

Issue #16 asks for ADE and FDE <= 0.9 x constant velocity (CV) on the leave-one-scene-out protocol of
``eval-trajectories``. This runs that protocol on every scene, with the model trained without it
(``<models>/world_model_loo_<scene>.onnx``), in three settings side by side in one run:

* ``raw, off``: backward-difference input velocities, no calibration (the evaluation before both existed);
* ``filtered, off``: velocities from the Kalman filter matched to the tracker noise that the node would have
  measured from the frames before each window (``causal_nodes/world_model/track_filter.py``);
* ``filtered, on``: plus self-calibration from the realized paths of earlier windows of the same file
  (``causal_nodes/world_model/calibration.py``), the node's defaults;
* ``filtered, on, robot present``: the same with the model's ``robot_present`` input 1. The scenes have no robot,
  so the evaluation's virtual robot is seen by nobody and the three settings above feed 0 (the definition); this
  one shows what a robot user's model (``robot_present`` true, the node's default) predicts for the same people.
The last column is each model's robot-response probe (``robot_response_probe``, path change stand vs drive).

CV (last displacement repeated) is computed by the same code on the same targets; ``filtered CV`` is constant
velocity from the filtered velocity, no model (``calibrated``: with the same self-calibration). Mean predictions
only (no best-of-N).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from causal_nodes.evaluation.trajectories import evaluate_scene, robot_response_probe  # noqa: E402
from causal_nodes.world_model.eth_ucy import SCENES  # noqa: E402
from causal_nodes.world_model.runtime import WorldModel  # noqa: E402

SETTINGS = (("raw", False, False), ("filtered", False, False), ("filtered", True, False), ("filtered", True, True))


def run(data: Path, models: Path) -> tuple[dict[str, dict[str, dict]], dict[str, float]]:
    """{scene: {setting: evaluate_scene's result}} for every scene and setting, and each model's probe (m)."""
    out: dict[str, dict[str, dict]] = {}
    probes: dict[str, float] = {}
    for scene in SCENES:
        model = WorldModel(models / f"world_model_loo_{scene}.onnx", backend="cpu")
        out[scene] = {}
        for velocity, calibrate, present in SETTINGS:
            t0 = time.perf_counter()
            res = evaluate_scene(model, data, scene, best_of=0, velocity=velocity, calibrate=calibrate,
                                 robot_present=present)
            res["seconds"] = round(time.perf_counter() - t0, 1)
            out[scene][f"{velocity}, {'on' if calibrate else 'off'}" + (", robot present" if present else "")] = res
            print(scene, velocity, calibrate, present,
                  json.dumps({k: v for k, v in res.items() if isinstance(v, float)}), flush=True)
        probes[scene] = robot_response_probe(model)["path_difference_m"]
    return out, probes


def table(results: dict[str, dict[str, dict]], probes: dict[str, float]) -> str:
    rows = ["| scene | targets | CV ADE / FDE | filtered CV / CV | filtered CV, calibrated / CV | " + " | ".join(
        f"model ({name}) / CV" for name in results[SCENES[0]]) + " | probe (m) |",
        "|---|---:|---:|---:|---:|" + "---:|" * (len(results[SCENES[0]]) + 1)]
    sums: dict[str, list[tuple[float, float]]] = {}
    metres: dict[str, list[tuple[float, float]]] = {}
    cv_metres = []
    for scene, by_setting in results.items():
        first = next(iter(by_setting.values()))
        cv_ade, cv_fde = first["cv_ade"], first["cv_fde"]
        cv_metres.append((cv_ade, cv_fde))
        filtered, calibrated = by_setting["filtered, off"], by_setting["filtered, on"]
        cells = []
        for key, res in (("fcv", filtered), ("fcv_calibrated", calibrated)):
            cells.append(f"{res[key + '_ade'] / cv_ade:.3f} / {res[key + '_fde'] / cv_fde:.3f}")
            sums.setdefault(key, []).append((res[key + "_ade"] / cv_ade, res[key + "_fde"] / cv_fde))
            metres.setdefault(key, []).append((res[key + "_ade"], res[key + "_fde"]))
        for name, res in by_setting.items():
            cells.append(f"{res['ade'] / cv_ade:.3f} / {res['fde'] / cv_fde:.3f}")
            sums.setdefault(name, []).append((res["ade"] / cv_ade, res["fde"] / cv_fde))
            metres.setdefault(name, []).append((res["ade"], res["fde"]))
        rows.append(f"| {scene} | {first['targets']} | {cv_ade:.3f} / {cv_fde:.3f} | " + " | ".join(cells)
                    + f" | {probes[scene]:.3f} |")
    means = [f"{sum(a for a, _ in v) / len(v):.3f} / {sum(f for _, f in v) / len(v):.3f}" for v in sums.values()]
    rows.append("| mean of the 5 ratios | | | " + " | ".join(means) + f" | {sum(probes.values()) / len(probes):.3f} |")
    cv_ade, cv_fde = (sum(c[i] for c in cv_metres) / len(cv_metres) for i in (0, 1))
    issue = [f"**{sum(a for a, _ in v) / len(v) / cv_ade:.3f} / {sum(f for _, f in v) / len(v) / cv_fde:.3f}**"
             for v in metres.values()]
    rows.append(f"| **mean ADE / mean CV ADE (issue #16's measure)** | | {cv_ade:.3f} / {cv_fde:.3f} | "
                + " | ".join(issue) + " | |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=Path, help="ETH/UCY root (scene/split/*.txt)")
    p.add_argument("--models", type=Path, default=ROOT / "models", help="folder of world_model_loo_<scene>.onnx")
    p.add_argument("--out", type=Path, default=None, help="markdown report (and a .json beside it)")
    args = p.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: --data {args.data} is not a folder (the ETH/UCY layout is expected)", file=sys.stderr)
        return 2
    results, probes = run(args.data, args.models)
    text = (f"# World model inputs on ETH/UCY (leave-one-scene-out)\n\n`python benchmarks/bench_trajectory_inputs.py "
            f"--data DATA --models {args.models.name}`\n\nRatios to constant velocity (ADE / FDE; below 1 is better "
            f"than CV). Settings: velocity (raw | filtered), self-calibration (off | on); robot_present 0 unless "
            f"'robot present'.\n\n{table(results, probes)}\n")
    print(text)
    if args.out:
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps({"results": results, "probes": probes}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
