"""Keep a share of a trained robot-effect head's output, chosen on validation simulator seeds (issue #16).

    python -m training.scale_effect_head --model models/world_model_robot.pt --out models --name world_model

A head fitted to the simulator's whole effect of the robot predicts that effect better than no head, but on the
simulator's factual futures (people who see the robot) the forecasts of the frozen ETH/UCY base *plus* that effect
can be further from where people went than the base's alone: the base already predicts part of the avoidance, and
the effect is partly unpredictable. Scaling the head's output (``WorldModelConfig.effect_scale``, which scales its
bound: the same weights, one constant in the graphs) trades the two. Each scale of ``--scales`` is measured on
validation seeds (``--val-seed-start``, neither trained on nor the test seeds); chosen is the largest scale whose
forecasts are no further from the factual futures than the base's (ADE and FDE, all targets and those near the
robot); the chosen model is exported and measured once on the held-out test seeds (as train_effect_head reports).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from training.export_onnx import export_all, load_checkpoint
from training.train_effect_head import paired_windows, save_and_report, sim_accuracy

NO_LOSS = ("all_model_ade", "all_model_fde", "near_model_ade", "near_model_fde")


def no_worse(report: dict) -> bool:
    """The forecasts with the head are no further from the factual futures than the base's (all and near)."""
    return all(report[k] <= report[k.replace("_model_", "_base_")] for k in NO_LOSS)


def choose(model, scales: list[float], pair: tuple) -> tuple[float | None, list[dict]]:
    """Measure each scale on the validation pair; the largest that passes ``no_worse`` (None if none does)."""
    rows = []
    for scale in scales:
        model.cfg.effect_scale = scale
        model.effect.bound = 2.0 * model.cfg.disp_scale * scale
        report = sim_accuracy(model, *pair)
        rows.append({"scale": scale, "no_worse": no_worse(report), **report})
        print(json.dumps({k: rows[-1][k] for k in ("scale", "no_worse", *NO_LOSS, "near_base_ade",
                                                   "near_base_fde", "near_effect_error_ade")}), flush=True)
    passing = [r["scale"] for r in rows if r["no_worse"]]
    return (max(passing) if passing else None), rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, type=Path, help="a .pt with a trained head (train_effect_head)")
    p.add_argument("--out", default=Path("models"), type=Path)
    p.add_argument("--name", required=True, help="file stem of the exported model")
    p.add_argument("--scales", default="0.1,0.2,0.3,0.4,0.5,0.7,1.0")
    p.add_argument("--val-seed-start", default=30_000, type=int)
    p.add_argument("--val-seeds", default=10, type=int)
    p.add_argument("--test-seed-start", default=20_000, type=int)
    p.add_argument("--test-seeds", default=10, type=int)
    p.add_argument("--sim-cache", default=None, type=Path)
    p.add_argument("--threads", default=1, type=int)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_checkpoint(args.model)
    meta = json.loads(args.model.with_suffix(".json").read_text())
    val = range(args.val_seed_start, args.val_seed_start + args.val_seeds)
    scale, rows = choose(model, [float(s) for s in args.scales.split(",")],
                         paired_windows(val, model.cfg, args.sim_cache))
    if scale is None:
        print("no scale keeps the factual forecasts as close as the base's: nothing exported")
        return 1
    model.cfg.effect_scale = scale
    model.effect.bound = 2.0 * model.cfg.disp_scale * scale
    training = dict(meta.get("training", {}))
    training["robot_effect_scale"] = {
        "scale": scale, "head": str(args.model), "validation_seeds": f"{val.start}..{val.stop - 1}",
        "rule": "largest scale whose ADE and FDE on the factual futures (all, near) are <= the base's",
        "validation": rows,
        "command": "python -m training.scale_effect_head " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    buckets = tuple(b["people"] for b in meta.get("rollout_buckets", []))
    paths = export_all(model, args.out, args.name, training, {}, buckets)
    save_and_report(model, paths, args.out / f"{args.name}.pt",
                    range(args.test_seed_start, args.test_seed_start + args.test_seeds), args.sim_cache)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
