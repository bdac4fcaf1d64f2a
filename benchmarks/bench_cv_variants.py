"""How much do simple kinematic corrections of constant velocity gain on ETH/UCY? (numpy, seconds)

    python benchmarks/bench_cv_variants.py --data /work/shared/datasets/eth_ucy --out benchmarks/results/cv_variants.md

Issue #16 asks for a world model at <= 0.9 x constant velocity (CV). This measures, on the same windows and
targets as ``eval-trajectories`` (8 observed + 12 predicted frames, people present in all 20), what the two
textbook corrections give: a velocity averaged over the last k displacements (smoothing a noisy track) and a
damped velocity (people slowing down). They tell how much of the gap is reachable from one person's own
track, without scene context. Each scene's ``val`` split (the other scenes' held-back rows, where training
choices are made) and its ``test`` split are reported as ratios to CV.

On the test splits it also scores the best *linear* filter of the track that the other scenes teach: ridge
regression from the last k observed positions to the 12 future ones, in the frame of the last step's heading
(mirrored copies added, so left and right are alike), fitted on the scene's ``train`` + ``val`` rows (the other
four scenes). Any smoothing or damping with fixed weights is such a filter, so it bounds what they can gain
without per-scene choices.
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
LINEAR_HISTORY = (2, 4, 8)
RIDGE = 1.0


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


def heading_frames(obs: np.ndarray) -> np.ndarray:
    """(n, 2, 2) rotations world -> the frame whose x axis is the last observed step (identity when standing)."""
    step = obs[:, -1] - obs[:, -2]
    length = np.linalg.norm(step, axis=1)
    moving = length > 1e-6
    c = np.where(moving, step[:, 0] / np.where(moving, length, 1.0), 1.0)
    s = np.where(moving, step[:, 1] / np.where(moving, length, 1.0), 0.0)
    return np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], 1)


def _local(rotation: np.ndarray, points: np.ndarray, origin: np.ndarray) -> np.ndarray:
    return np.einsum("nij,ntj->nti", rotation, points - origin[:, None])


def fit_linear_filter(obs: np.ndarray, fut: np.ndarray, k: int, ridge: float = RIDGE) -> np.ndarray:
    """Ridge weights from the last ``k`` positions (heading frame, relative to the last) to the future ones."""
    rotation = heading_frames(obs)
    x = _local(rotation, obs[:, -k:], obs[:, -1])
    y = _local(rotation, fut, obs[:, -1])
    mirror = np.array([1.0, -1.0])
    x = np.concatenate([x, x * mirror]).reshape(2 * len(obs), -1)
    y = np.concatenate([y, y * mirror]).reshape(2 * len(obs), -1)
    x = np.hstack([x, np.ones((len(x), 1))])
    return np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ y)


def predict_linear_filter(weights: np.ndarray, obs: np.ndarray, k: int) -> np.ndarray:
    rotation = heading_frames(obs)
    x = _local(rotation, obs[:, -k:], obs[:, -1]).reshape(len(obs), -1)
    local = (np.hstack([x, np.ones((len(x), 1))]) @ weights).reshape(len(obs), -1, 2)
    return np.einsum("nji,ntj->nti", rotation, local) + obs[:, -1][:, None]


def learned_filters(data: Path, scene: str, obs: np.ndarray, fut: np.ndarray,
                    stride: int) -> dict[str, tuple[float, float]]:
    """The linear filters fitted on the other scenes (the scene's train + val rows), scored on ``obs``/``fut``."""
    parts = [targets(data, scene, split, stride) for split in ("train", "val")]
    train_obs, train_fut = np.concatenate([o for o, _ in parts]), np.concatenate([f for _, f in parts])
    return {f"linear filter of the last {k} positions, fitted on the other scenes":
            ade_fde(predict_linear_filter(fit_linear_filter(train_obs, train_fut, k), obs, k), fut)
            for k in LINEAR_HISTORY}


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
            if split == "test":
                res.update(learned_filters(args.data, scene, obs, fut, args.val_stride))
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
