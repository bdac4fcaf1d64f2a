"""ETH/UCY leave-one-scene-out with an online place memory: settings chosen on val rows, then the test scenes once.

    python benchmarks/bench_place_memory.py --data /work/shared/datasets/eth_ucy --models models \
        --out benchmarks/results/place_memory.md

Issue #16's target is ADE and FDE <= 0.9 x constant velocity (CV). :class:`PlaceMemory`
(``causal_nodes/world_model/place_memory.py``) learns online, per file, how people at a place and heading moved
compared with the forecast made for them, and corrects later forecasts from there. Two stages, one command:

1. **choose** (``--stage tune``, no model, seconds per setting): for each held-out scene ``S``, every setting of the
   grid runs on ``S/val`` (the other scenes' val rows, never a test split) correcting calibrated filtered CV (the
   node's baseline without the network, which the network moves by < 1 %); the setting with the least
   ADE/CV + FDE/CV there is ``S``'s. A file's result does not depend on the fold, so each val file runs once per
   setting and the folds pool their files' targets. The setting best on all val files pooled is the node default.
2. **test** (``--stage test``, once): the five test scenes with the model trained without each (node defaults:
   filtered velocities + self-calibration), and CV, calibrated filtered CV and the model each with the memory of
   that scene's chosen setting, in one run on the same windows and targets.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from causal_nodes.evaluation.trajectories import (  # noqa: E402
    OBS,
    PRED,
    evaluate_scene,
    evaluate_windows,
    online_track_noise,
    start_indices,
)
from causal_nodes.world_model.eth_ucy import SCENES, load_windows, scene_files  # noqa: E402
from causal_nodes.world_model.place_memory import PlaceMemoryConfig  # noqa: E402
from causal_nodes.world_model.runtime import WorldModel  # noqa: E402

GRIDS = (  # single resolution, then nested resolutions (cells of cell_size * 2**j, j < levels)
    {"cell_size": (1.0, 2.0, 4.0, 8.0, 16.0), "heading_bins": (4, 8), "n0": (10.0, 30.0, 100.0, 300.0),
     "speed_scaled": (False, True)},
    {"cell_size": (0.5, 1.0, 2.0), "levels": (3, 4, 5), "heading_bins": (4, 8), "n0": (10.0, 30.0, 100.0),
     "speed_scaled": (True,)},
)
KEYS = ("fcv_calibrated_ade", "fcv_calibrated_fde", "fcv_memory_ade", "fcv_memory_fde", "memory_coverage")


def grid() -> list[PlaceMemoryConfig]:
    return [PlaceMemoryConfig(**dict(zip(g, values, strict=True))) for g in GRIDS for values in itertools.product(*g.values())]


def tune(data: Path) -> dict:
    """Per val file and setting the pooled sums; per fold and overall the chosen setting."""
    files = {f.name: f for scene in SCENES for f in scene_files(data, scene, "val")}
    prepared = {}
    for name, f in sorted(files.items()):
        windows = load_windows([f], OBS + PRED)
        prepared[name] = (windows, online_track_noise([f], windows), start_indices([f], windows))
    configs = grid()
    sums: dict[str, dict[int, dict[str, float]]] = {name: {} for name in prepared}
    for c, config in enumerate(configs):
        t0 = time.perf_counter()
        for name, (windows, noises, starts) in prepared.items():
            r = evaluate_windows(None, windows, best_of=0, noises=noises, starts=starts, place_memory=config)
            sums[name][c] = {"targets": r["targets"], **{k: r[k] * r["targets"] for k in KEYS}}
        print(c, config, f"{time.perf_counter() - t0:.1f} s", flush=True)

    def score(names: list[str], c: int) -> dict[str, float]:
        n = sum(sums[f][c]["targets"] for f in names)
        pooled = {k: sum(sums[f][c][k] for f in names) / n for k in KEYS}
        pooled["ratio_ade"] = pooled["fcv_memory_ade"] / pooled["fcv_calibrated_ade"]
        pooled["ratio_fde"] = pooled["fcv_memory_fde"] / pooled["fcv_calibrated_fde"]
        pooled["targets"] = n
        return pooled

    folds = {scene: sorted(f.name for f in scene_files(data, scene, "val")) for scene in SCENES}
    folds["all val files"] = sorted(prepared)
    chosen = {}
    for fold, names in folds.items():
        scored = [score(names, c) for c in range(len(configs))]
        best = min(range(len(configs)), key=lambda c: scored[c]["ratio_ade"] + scored[c]["ratio_fde"])
        chosen[fold] = {"config": dataclasses.asdict(configs[best]), "val": scored[best],
                        "top": sorted(((scored[c]["ratio_ade"] + scored[c]["ratio_fde"]) / 2, c)
                                      for c in range(len(configs)))[:5]}
    return {"grid": [dataclasses.asdict(c) for c in configs], "per_file": sums, "chosen": chosen}


def test(data: Path, models: Path, chosen: dict, setting: str = "fold") -> dict:
    """The test scenes once, each with its fold's setting (``fold``) or all with the one chosen on every val file
    (``all``: the node's default; those val rows include other parts of the test recordings, so it is reported as
    what the node and ``eval-trajectories --place-memory on`` give, not as the held-out figure)."""
    out = {}
    for scene in SCENES:
        config = PlaceMemoryConfig(**chosen[scene if setting == "fold" else "all val files"]["config"])
        model = WorldModel(models / f"world_model_loo_{scene}.onnx", backend="cpu")
        t0 = time.perf_counter()
        res = evaluate_scene(model, data, scene, best_of=0, place_memory=config)
        res["seconds"] = round(time.perf_counter() - t0, 1)
        res["place_memory"] = dataclasses.asdict(config)
        out[scene] = res
        print(scene, json.dumps(res), flush=True)
    return out


def describe(c: dict) -> str:
    """A setting in a table cell: cells (and levels), heading bins, n0, speed scaling."""
    cells = f"{c['cell_size']:g} m" + (f" x {c['levels']} levels" if c.get("levels", 1) > 1 else "")
    return f"{cells}, {c['heading_bins']} headings, n0 {c['n0']:g}{', per m/s' if c['speed_scaled'] else ''}"


COLUMNS = (("CV + memory", "cv_memory"), ("calibrated filtered CV", "fcv_calibrated"),
           ("calibrated filtered CV + memory", "fcv_memory"), ("model, node defaults", ""),
           ("**model + memory**", "memory"))


def test_table(results: dict) -> str:
    head = "| scene | targets | setting | coverage | CV ADE / FDE (m) | "
    rows = [head + " | ".join(f"{name} / CV" for name, _ in COLUMNS) + " |",
            "|---|---:|---|---:|---:|" + "---:|" * len(COLUMNS)]
    metres: dict[str, list[tuple[float, float]]] = {key: [] for _, key in COLUMNS}
    cv = []
    for scene, r in results.items():
        c = r["place_memory"]
        cv.append((r["cv_ade"], r["cv_fde"]))
        cells = []
        for _, key in COLUMNS:
            a, f = r[f"{key}_ade" if key else "ade"], r[f"{key}_fde" if key else "fde"]
            metres[key].append((a, f))
            cells.append(f"{a / r['cv_ade']:.3f} / {f / r['cv_fde']:.3f}")
        rows.append(f"| {scene} | {r['targets']} | {describe(c)} | {r['memory_coverage']:.2f} | "
                    f"{r['cv_ade']:.3f} / {r['cv_fde']:.3f} | " + " | ".join(cells) + " |")
    cv_ade, cv_fde = (sum(x[i] for x in cv) / len(cv) for i in (0, 1))
    means = []
    for _, key in COLUMNS:
        a, f = (sum(x[i] for x in metres[key]) / len(cv) for i in (0, 1))
        means.append(f"**{a / cv_ade:.3f} / {f / cv_fde:.3f}**")
    rows.append(f"| **mean ADE / mean CV ADE (issue #16's measure)** | | | | {cv_ade:.3f} / {cv_fde:.3f} | "
                + " | ".join(means) + " |")
    return "\n".join(rows)


def tune_table(tuned: dict) -> str:
    rows = ["| val slice | targets | chosen setting | coverage | "
            "calibrated filtered CV + memory / without (ADE / FDE) |", "|---|---:|---|---:|---:|"]
    for fold, ch in tuned["chosen"].items():
        c, v = ch["config"], ch["val"]
        rows.append(f"| {fold if fold.startswith('all') else fold + '/val'} | {v['targets']} | {describe(c)} | "
                    f"{v['memory_coverage']:.2f} | {v['ratio_ade']:.3f} / {v['ratio_fde']:.3f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=Path, help="ETH/UCY root (scene/split/*.txt)")
    p.add_argument("--models", type=Path, default=ROOT / "models", help="folder of world_model_loo_<scene>.onnx")
    p.add_argument("--stage", choices=("tune", "test", "both"), default="both")
    p.add_argument("--setting", choices=("fold", "all"), default="fold",
                   help="test with each fold's chosen setting, or with the one chosen on all val files (node default)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/place_memory.md",
                   help="markdown report; the tuning goes to <out>_tune.json (read by --stage test), the test to "
                        "<out>.json")
    p.add_argument("--tune-json", type=Path, default=None, help="the tuning to read (default: <out>_tune.json)")
    args = p.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: --data {args.data} is not a folder (the ETH/UCY layout is expected)", file=sys.stderr)
        return 2
    tune_json = args.tune_json or args.out.with_name(args.out.stem + "_tune.json")
    if args.stage in ("tune", "both"):
        tuned = tune(args.data)
        tune_json.write_text(json.dumps(tuned, indent=1) + "\n")
    tuned = json.loads(tune_json.read_text())
    text = (f"# Place memory on ETH/UCY (leave-one-scene-out)\n\n`python benchmarks/bench_place_memory.py --data DATA "
            f"--models {args.models.name}`\n\n## Settings chosen on val rows ({len(tuned['grid'])} settings, no "
            f"model)\n\n{tune_table(tuned)}\n")
    if args.stage in ("test", "both"):
        results = test(args.data, args.models, tuned["chosen"], args.setting)
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
        which = "each with its fold's setting" if args.setting == "fold" else "all with the setting chosen on all val files"
        text += (f"\n## Test scenes, once, {which}\n\nRatios to CV (ADE / FDE; below 1 is "
                 "better). Model: trained without the scene, filtered velocities + self-calibration (the node's "
                 f"defaults); memory on top of each forecast.\n\n{test_table(results)}\n")
    print(text)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
