"""How much do simple kinematic corrections of constant velocity gain on ETH/UCY? (numpy, seconds)

    python benchmarks/bench_cv_variants.py --data /work/shared/datasets/eth_ucy --out benchmarks/results/cv_variants.md

Issue #16 asks for a world model at <= 0.9 x constant velocity (CV). This measures, on the same windows and
targets as ``eval-trajectories`` (8 observed + 12 predicted frames, people present in all 20), what the two
textbook corrections give: a velocity averaged over the last k displacements (smoothing a noisy track) and a
damped velocity (people slowing down). They tell how much of the gap is reachable from one person's own
track, without scene context. Each scene's ``val`` split (the other scenes' held-back rows, where training
choices are made) and its ``test`` split are reported as ratios to CV.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from causal_nodes.evaluation.trajectories import OBS, PRED, constant_velocity  # noqa: E402
from causal_nodes.world_model.eth_ucy import SCENES, load_windows, scene_files  # noqa: E402

AVERAGED = (2, 3, 4)
DAMPING = (0.98, 0.97, 0.95)


def targets(data: Path, scene: str, split: str, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Observed (n, OBS, 2) and future (n, PRED, 2) positions of every target of the split."""
    obs, fut = [], []
    for w in load_windows(scene_files(data, scene, split), OBS + PRED, stride=stride):
        if len(w.targets):
            obs.append(w.positions[:OBS, w.targets].transpose(1, 0, 2))
            fut.append(w.positions[OBS:, w.targets].transpose(1, 0, 2))
    return np.concatenate(obs), np.concatenate(fut)


def extrapolate(last: np.ndarray, step: np.ndarray, damping: float = 1.0) -> np.ndarray:
    """Positions after 1..PRED steps of ``step`` (n, 2), each step ``damping`` times the previous one."""
    gain = np.cumsum(damping ** np.arange(PRED))
    return last[:, None] + step[:, None] * gain[None, :, None]


def ade_fde(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    err = np.linalg.norm(pred - truth, axis=-1)
    return float(err.mean()), float(err[:, -1].mean())


def variants(obs: np.ndarray, fut: np.ndarray) -> dict[str, tuple[float, float]]:
    out = {"CV": ade_fde(constant_velocity(obs), fut)}
    for k in AVERAGED:
        out[f"velocity averaged over {k} steps"] = ade_fde(extrapolate(obs[:, -1], (obs[:, -1] - obs[:, -1 - k]) / k), fut)
    for d in DAMPING:
        out[f"damped x{d} per step"] = ade_fde(extrapolate(obs[:, -1], obs[:, -1] - obs[:, -2], d), fut)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--out", type=Path, default=None, help="markdown table (default: print only)")
    p.add_argument("--val-stride", type=int, default=2, help="window stride on the val splits (as --tune)")
    args = p.parse_args(argv)
    rows = []
    for split, stride in (("val", args.val_stride), ("test", 1)):
        for scene in SCENES:
            obs, fut = targets(args.data, scene, split, stride)
            res = variants(obs, fut)
            cv_ade, cv_fde = res["CV"]
            for name, (ade, fde) in res.items():
                rows.append(f"| {scene}/{split} | {len(obs)} | {name} | {ade:.3f} | {fde:.3f} | "
                            f"{ade / cv_ade:.3f} | {fde / cv_fde:.3f} |")
    table = "\n".join(["| split | targets | predictor | ADE | FDE | ADE / CV | FDE / CV |",
                       "|---|---:|---|---:|---:|---:|---:|", *rows])
    text = f"# CV variants on ETH/UCY\n\n`python benchmarks/bench_cv_variants.py --data DATA`\n\n{table}\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
