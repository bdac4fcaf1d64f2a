"""Issue #16, fifth pass: a place memory kept across recordings of the same place, and a per-step blend of the
model's and calibrated filtered CV's forecasts (both with memory), on ETH/UCY leave-one-scene-out.

Three stages, each chosen only on the held-out scene's fold data (its ``train``/``val`` rows, never ``test``):

1. **mode** (``--stage mode``, no model, seconds): on ``S/val`` (the other scenes' val rows), calibrated filtered
   CV + memory (the fold's setting from ``place_memory_tune.json``) with the memory (a) per file (the fourth
   pass), (b) *carried*: one memory per place over the fold's val files of that place, in the order listed, (c)
   *seeded*: each val file's memory first taught by the fold's **train** rows of the same place from *other
   recordings* (as at test, where the held-out recording has no train rows). Places: ``biwi_eth``, ``biwi_hotel``,
   ``crowds_zara0*`` (one frame: their walking axes agree per 2 m cell, see docs), ``students00*`` +
   ``uni_examples``. The mode (:data:`MODES`) with the least val ADE/CV + FDE/CV is the fold's.
2. **blend** (``--stage blend``, the fold's model): on ``S/val`` with the fold's memory mode, per horizon step the
   weight ``w`` (grid 0..1 by 0.05) of model + memory against calibrated filtered CV + memory with the least mean
   displacement error at that step (ADE is the mean of the steps, so each is chosen alone).
3. **test** (``--stage test``, once): each test scene with the old configuration (memory per file, model + memory)
   and the new (the fold's mode, seeded from the fold's train rows named in the report, and the blend) in one run.
"""
from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from causal_nodes.evaluation.trajectories import (  # noqa: E402
    OBS,
    PRED,
    evaluate_windows,
    online_track_noise,
    start_indices,
)
from causal_nodes.world_model.eth_ucy import SCENES, load_windows, scene_files  # noqa: E402
from causal_nodes.world_model.place_memory import PlaceMemoryConfig  # noqa: E402
from causal_nodes.world_model.runtime import WorldModel  # noqa: E402

PLACES = (("biwi_eth", "eth"), ("biwi_hotel", "hotel"), ("crowds_zara", "zara"), ("students", "univ"),
          ("uni_examples", "univ"))
WEIGHTS = np.round(np.arange(0.0, 1.0001, 0.05), 2)
MODES = ((False, False, 1.0), (True, False, 1.0), (False, True, 1.0), (False, True, 0.1), (True, True, 0.1))
"""(carry, seed, seed weight) tried per fold on its val rows; the first is the fourth pass."""
SLOPES = (-0.5, 0.0, 0.5, 1.0, 1.5)
GAINS = (0.8, 1.0, 1.25, 1.5)


def recording(path: Path | str) -> str:
    """The recording a split file comes from: ``crowds_zara01_train.txt`` -> ``crowds_zara01``."""
    return re.sub(r"_(train|val)$", "", Path(path).stem)


def place(path: Path | str) -> str:
    """The place a recording was made at (recordings of one place share one world frame)."""
    name = recording(path)
    for prefix, where in PLACES:
        if name.startswith(prefix):
            return where
    raise ValueError(f"unknown recording {name}")


def seeds(data: Path, fold: str, evaluated: list[Path]) -> list[Path]:
    """The fold's train files recorded at the places of ``evaluated``, from other recordings than those."""
    places = {place(f) for f in evaluated}
    own = {recording(f) for f in evaluated}
    return [f for f in scene_files(data, fold, "train") if place(f) in places and recording(f) not in own]


def prepare(files: list[Path]) -> tuple[list, list, list]:
    windows = load_windows(files, OBS + PRED)
    return windows, online_track_noise(files, windows), start_indices(files, windows)


def run(model, data: Path, fold: str, files: list[Path], config: PlaceMemoryConfig, carry: bool, seed: bool,
        blend: np.ndarray | None = None, collect: dict | None = None, seed_weight: float = 1.0
        ) -> tuple[dict, list[str]]:
    """``files`` scored with the memory per file or carried over a place's files, and/or seeded (each memory in its
    own evaluation, so a seed file can teach several); the metrics pooled over targets, and the seed files used."""
    pooled: dict[str, float] = {}
    used: list[str] = []
    groups = [files] if carry else [[f] for f in files]
    for group in groups:
        by_place: dict[str, list[Path]] = {}
        for f in group:
            by_place.setdefault(place(f), []).append(f)
        for where, fs in by_place.items():
            seed_files = seeds(data, fold, fs) if seed else []
            used += [f.name for f in seed_files]
            windows, noises, starts, scored = [], [], [], []
            for f, score in [(s, False) for s in seed_files] + [(f, True) for f in fs]:
                w, n, s = prepare([f])
                windows += w
                noises += n
                starts += s
                scored += [score] * len(w)
            r = evaluate_windows(model, windows, best_of=0, noises=noises, starts=starts, place_memory=config,
                                 memory_keys=[where] * len(windows), scored=scored, blend=blend, collect=collect,
                                 seed_weight=seed_weight)
            for k, v in r.items():
                if k.endswith(("_ade", "_fde")) or k in ("ade", "fde"):
                    pooled[k] = pooled.get(k, 0.0) + v * r["targets"]
            pooled["targets"] = pooled.get("targets", 0) + r["targets"]
    return {k: (v / pooled["targets"] if k != "targets" else v) for k, v in pooled.items()}, sorted(set(used))


def ratio(r: dict, key: str) -> tuple[float, float]:
    return r[f"{key}_ade"] / r["cv_ade"], r[f"{key}_fde"] / r["cv_fde"]


def stage_mode(data: Path, chosen: dict) -> dict:
    out = {}
    for fold in SCENES:
        config = PlaceMemoryConfig(**chosen[fold]["config"])
        files = scene_files(data, fold, "val")
        rows = {}
        for carry, seed, weight in MODES:
            t0 = time.perf_counter()
            r, used = run(None, data, fold, files, config, carry, seed, seed_weight=weight)
            name = f"carry={int(carry)} seed={int(seed)}" + (f" weight={weight:g}" if seed else "")
            rows[name] = {"fcv_memory": ratio(r, "fcv_memory"), "seeds": used, "targets": r["targets"]}
            print(fold, name, rows[name]["fcv_memory"], f"{time.perf_counter() - t0:.0f} s", flush=True)
        best = min(rows, key=lambda name: sum(rows[name]["fcv_memory"]))  # per-file memory first: kept on ties
        mode = next(m for m in MODES if rows[best] is rows[f"carry={int(m[0])} seed={int(m[1])}"
                                                           + (f" weight={m[2]:g}" if m[1] else "")])
        out[fold] = {"runs": rows, "carry": mode[0], "seed": mode[1], "seed_weight": mode[2]}
    return out


def stage_shrink(data: Path, chosen: dict, modes: dict) -> dict:
    """Per fold, on its val rows with its mode: the per-step shrinkage slope and the gain of the correction."""
    out = {}
    for fold in SCENES:
        base = chosen[fold]["config"]
        files = scene_files(data, fold, "val")
        rows = {}
        for slope, gain in itertools.product(SLOPES, GAINS):
            config = PlaceMemoryConfig(**{**base, "n0_slope": slope, "gain": gain})
            r, _ = run(None, data, fold, files, config, modes[fold]["carry"], modes[fold]["seed"],
                       seed_weight=modes[fold]["seed_weight"])
            rows[f"{slope:g} {gain:g}"] = ratio(r, "fcv_memory")
        best = min(rows, key=lambda k: (sum(rows[k]), k != "0 1"))
        slope, gain = (float(v) for v in best.split())
        out[fold] = {"n0_slope": slope, "gain": gain, "val": rows[best], "val_default": rows["0 1"], "runs": rows}
        print(fold, best, rows[best], rows["0 1"], flush=True)
    return out


def fold_config(chosen: dict, shrink: dict | None, fold: str) -> PlaceMemoryConfig:
    extra = {"n0_slope": shrink[fold]["n0_slope"], "gain": shrink[fold]["gain"]} if shrink else {}
    return PlaceMemoryConfig(**{**chosen[fold]["config"], **extra})


def best_weights(collected: dict) -> tuple[np.ndarray, dict]:
    """Per step the weight of the model's forecast with the least mean error, and that error per weight."""
    a, b, t = (np.concatenate(collected[k]) for k in ("model", "fcv", "truth"))
    errors = np.stack([np.linalg.norm(w * a + (1 - w) * b - t, axis=-1).mean(axis=0) for w in WEIGHTS])  # (W, H)
    return WEIGHTS[errors.argmin(axis=0)], {"model_only": errors[-1].tolist(), "fcv_only": errors[0].tolist(),
                                            "chosen": errors.min(axis=0).tolist()}


def stage_blend(data: Path, models: Path, chosen: dict, modes: dict, shrink: dict) -> dict:
    out = {}
    for fold in SCENES:
        model = WorldModel(models / f"world_model_loo_{fold}.onnx", backend="cpu")
        collected: dict[str, list[np.ndarray]] = {}
        t0 = time.perf_counter()
        run(model, data, fold, scene_files(data, fold, "val"), fold_config(chosen, shrink, fold),
            modes[fold]["carry"], modes[fold]["seed"], collect=collected, seed_weight=modes[fold]["seed_weight"])
        weights, errors = best_weights(collected)
        out[fold] = {"weights": weights.tolist(), "val_step_error": errors}
        print(fold, weights.tolist(), f"{time.perf_counter() - t0:.0f} s", flush=True)
    return out


def stage_test(data: Path, models: Path, chosen: dict, modes: dict, shrink: dict, blends: dict) -> dict:
    out = {}
    for scene in SCENES:
        model = WorldModel(models / f"world_model_loo_{scene}.onnx", backend="cpu")
        config = PlaceMemoryConfig(**chosen[scene]["config"])
        files = scene_files(data, scene, "test")
        t0 = time.perf_counter()
        old, _ = run(model, data, scene, files, config, False, False)
        new, used = run(model, data, scene, files, fold_config(chosen, shrink, scene), modes[scene]["carry"],
                        modes[scene]["seed"],
                        blend=np.asarray(blends[scene]["weights"]), seed_weight=modes[scene]["seed_weight"])
        out[scene] = {"old": old, "new": new, "seeds": used, "carry": modes[scene]["carry"], **shrink[scene],
                      "seed": modes[scene]["seed"], "weights": blends[scene]["weights"],
                      "seconds": round(time.perf_counter() - t0, 1)}
        print(scene, json.dumps({k: v for k, v in out[scene].items() if k not in ("old", "new")}),
              ratio(old, "memory"), ratio(new, "memory"), ratio(new, "blend"), flush=True)
    return out


COLUMNS = (("old: model + memory per file", "old", "memory"), ("calibrated filtered CV + memory (new mode)", "new",
           "fcv_memory"), ("model + memory (new mode)", "new", "memory"), ("**blend (new mode)**", "new", "blend"))


def test_table(results: dict) -> str:
    rows = ["| scene | targets | carry | seeded from (fold's train rows, weight 0.1) | n0 slope, gain | CV ADE / FDE (m) | "
            + " | ".join(f"{name} / CV" for name, _, _ in COLUMNS) + " |",
            "|---|---:|---|---|---|---:|" + "---:|" * len(COLUMNS)]
    sums = np.zeros((len(COLUMNS), 2))
    cv = np.zeros(2)
    for scene, r in results.items():
        cv += (r["old"]["cv_ade"], r["old"]["cv_fde"])
        cells = []
        for j, (_, run_, key) in enumerate(COLUMNS):
            a, f = r[run_][f"{key}_ade"], r[run_][f"{key}_fde"]
            sums[j] += (a, f)
            cells.append(f"{a / r[run_]['cv_ade']:.3f} / {f / r[run_]['cv_fde']:.3f}")
        rows.append(f"| {scene} | {r['old']['targets']} | {'yes' if r['carry'] else 'no'} | "
                    f"{', '.join(r['seeds']) or '-'} | {r['n0_slope']:g}, {r['gain']:g} | "
                    f"{r['old']['cv_ade']:.3f} / {r['old']['cv_fde']:.3f} | "
                    + " | ".join(cells) + " |")
    rows.append("| **mean ADE / mean CV ADE (issue #16's measure)** | | | | | "
                f"{cv[0] / len(results):.3f} / {cv[1] / len(results):.3f} | "
                + " | ".join(f"**{s[0] / cv[0]:.3f} / {s[1] / cv[1]:.3f}**" for s in sums) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=Path, help="ETH/UCY root (scene/split/*.txt)")
    p.add_argument("--models", type=Path, default=ROOT / "models", help="folder of world_model_loo_<scene>.onnx")
    p.add_argument("--stage", choices=("mode", "shrink", "blend", "test", "all", "report"), default="all")
    p.add_argument("--tune-json", type=Path, default=ROOT / "benchmarks/results/place_memory_tune.json",
                   help="the fourth pass's per-fold memory settings")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/place_memory_carry.md",
                   help="markdown report; stages go to <out>_<stage>.json")
    args = p.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: --data {args.data} is not a folder (the ETH/UCY layout is expected)", file=sys.stderr)
        return 2
    chosen = json.loads(args.tune_json.read_text())["chosen"]
    path = {s: args.out.with_name(f"{args.out.stem}_{s}.json") for s in ("mode", "shrink", "blend", "test")}
    if args.stage in ("mode", "all"):
        path["mode"].write_text(json.dumps(stage_mode(args.data, chosen), indent=1) + "\n")
    modes = json.loads(path["mode"].read_text())
    if args.stage in ("shrink", "all"):
        path["shrink"].write_text(json.dumps(stage_shrink(args.data, chosen, modes), indent=1) + "\n")
    shrink = json.loads(path["shrink"].read_text())
    if args.stage in ("blend", "all"):
        path["blend"].write_text(json.dumps(stage_blend(args.data, args.models, chosen, modes, shrink), indent=1)
                                 + "\n")
    if args.stage in ("test", "all", "report"):
        if args.stage == "report":  # the table again from the test run's results
            results = json.loads(path["test"].read_text())
        else:
            blends = json.loads(path["blend"].read_text())
            results = stage_test(args.data, args.models, chosen, modes, shrink, blends)
            path["test"].write_text(json.dumps(results, indent=1) + "\n")
        text = (f"# Place memory across recordings + blend (issue #16, fifth pass)\n\n`python "
                f"benchmarks/bench_place_memory_carry.py --data DATA --models {args.models.name}`\n\n"
                "Ratios to CV (ADE / FDE). Each fold's memory setting (fourth pass), mode (carry / seed), per-step "
                "shrinkage and gain, and blend weights were chosen on its own train/val rows only; the test scenes "
                "ran once, old and new configuration in the same run. \"new mode\" = the fold's mode, shrinkage "
                f"and gain; blend = its per-step blend of the two columns before it.\n\n{test_table(results)}\n")
        args.out.write_text(text)
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
