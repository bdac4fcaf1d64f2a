"""Evaluate the world model on ETH/UCY (observe 8, predict 12) against constant velocity."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from causal_nodes.world_model.eth_ucy import SCENES


def default_model(scene: str) -> Path:
    """The leave-one-scene-out model trained without ``scene`` (never trained on its test split), as shipped."""
    from causal_nodes.resources import find_resource, share_dirs

    try:
        return find_resource("models", f"world_model_loo_{scene}.onnx")
    except FileNotFoundError:
        return share_dirs()[0] / "models" / f"world_model_loo_{scene}.onnx"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, help="ETH/UCY root with scene/{train,val,test}/*.txt")
    parser.add_argument("--scene", required=True, choices=SCENES + ("all",), help="held-out test scene (or all)")
    parser.add_argument("--model", type=Path, default=None,
                        help="step ONNX (default: models/world_model_loo_<scene>.onnx, trained without the scene)")
    parser.add_argument("--json", type=Path, default=None, help="write the metrics here")
    parser.add_argument("--best-of", type=int, default=20, help="samples for best-of-N ADE/FDE (0: skip)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the best-of-N sampling")
    parser.add_argument("--backend", default="cpu", help="auto|cpu|cuda|tensorrt|trt-native")
    parser.add_argument("--max-windows", type=int, default=None, help="evaluate only the first N windows (smoke runs)")
    parser.add_argument("--velocity", choices=("filtered", "raw"), default="filtered",
                        help="people's input velocities: filtered for the tracker noise estimated online from the "
                             "frames before each window (the node's default), or raw backward differences")
    parser.add_argument("--calibrate", choices=("on", "off"), default="on",
                        help="self-calibration from the outcomes of earlier windows of the same file, as the node's "
                             "self_calibrate does (on: ade/fde are calibrated, uncalibrated_* reported beside)")
    parser.add_argument("--robot-present", type=int, choices=(0, 1), default=0,
                        help="the model's robot_present input: 0 (the definition here: the scenes have no robot, the "
                             "evaluation's virtual robot is seen by nobody) or 1 (what a robot user's model predicts)")
    parser.add_argument("--place-memory", choices=("on", "off"), default="on",
                        help="an online place memory per file with the node's default settings (place_memory*), "
                             "learned from earlier windows only (on: ade/fde include it, without_memory_* beside, "
                             "fcv_memory_* / cv_memory_* for the baselines, memory_coverage)")


def run(args: argparse.Namespace) -> int:
    from causal_nodes.evaluation.trajectories import evaluate_scene
    from causal_nodes.world_model.place_memory import PlaceMemoryConfig
    from causal_nodes.world_model.runtime import WorldModel

    if not Path(args.data).is_dir():
        print(f"eval-trajectories: --data {args.data} is not a folder (ETH/UCY layout expected)", file=sys.stderr)
        return 2
    if args.best_of < 0:
        print("eval-trajectories: --best-of must be >= 0", file=sys.stderr)
        return 2
    scenes = SCENES if args.scene == "all" else (args.scene,)
    results = {}
    try:
        for scene in scenes:
            model_path = args.model or default_model(scene)
            model = WorldModel(model_path, backend=args.backend)
            res = evaluate_scene(model, args.data, scene, best_of=args.best_of, seed=args.seed,
                                 max_windows=args.max_windows, velocity=args.velocity,
                                 calibrate=args.calibrate == "on", robot_present=bool(args.robot_present),
                                 place_memory=PlaceMemoryConfig() if args.place_memory == "on" else None)
            if args.place_memory == "on":  # the headline is what the node publishes
                res["without_memory_ade"], res["without_memory_fde"] = res["ade"], res["fde"]
                res["ade"], res["fde"] = res.pop("memory_ade"), res.pop("memory_fde")
            res["model"] = str(model_path)
            res["backend"] = model.backend
            results[scene] = res
            print(json.dumps(res), flush=True)
    except ValueError as exc:
        print(f"eval-trajectories: {exc}", file=sys.stderr)
        return 2
    if len(scenes) == 1:
        out = results[scenes[0]]
    else:
        keys = [k for k in results[scenes[0]] if isinstance(results[scenes[0]][k], float)]
        out = {k: sum(r[k] for r in results.values()) / len(results) for k in keys}
        out["scenes"] = results
    if args.json is not None:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0
