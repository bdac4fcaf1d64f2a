"""Train the streaming world model on ETH/UCY and export it to ONNX (+ metadata JSON).

    python -m training.train_world_model --data /work/shared/datasets/eth_ucy --seed 0 --out models/

``--holdout SCENE`` trains on ``SCENE/train`` + ``SCENE/val`` (the other scenes' rows) only, for
leave-one-scene-out evaluation; without it the deployable model trains on the union of all
scenes' train splits. Deterministic for a given seed and thread count (CPU).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from causal_nodes.world_model.cache_policy import StreamingCachePolicy
from causal_nodes.world_model.eth_ucy import SCENES, Window, file_track_noise, load_windows, scene_files
from training.dataset import Augment, Batch, make_batch
from training.export_onnx import parse_buckets
from training.model import StreamingWorldModel, WorldModelConfig, empty_cache

OBS, PRED = 8, 12


def training_files(data: Path, holdout: str, tune: bool = False) -> list[Path]:
    """Training rows; with ``tune`` the training scenes' val rows are kept out (for choosing settings)."""
    if holdout:
        return scene_files(data, holdout, "train") + ([] if tune else scene_files(data, holdout, "val"))
    # every scene folder's train split holds the *other* scenes' train rows: their union covers all
    files = {}
    for scene in SCENES:
        for f in scene_files(data, scene, "train"):
            files[f.name] = f
    return sorted(files.values())


def batch_loss(model: StreamingWorldModel, b: Batch, ade_weight: float, fde_weight: float = 0.0,
               nll_mean: bool = True) -> tuple:
    """Teacher-forced NLL over the whole window + free-running ADE (and FDE) over the prediction horizon.

    Both run through the streaming cache policy (sinks + ring), with windows longer than the cache.
    The NLL's gradient on the mean is the error over the predicted variance, i.e. hundreds of times the
    ADE's for a confident step, so it decides where the mean goes; ``nll_mean=False`` lets the NLL train
    the variance only (mean detached) and the mean follow the evaluated metric, the rollout's ADE/FDE.
    """
    cfg = model.cfg
    B, T, P = b.mask.shape
    policy = StreamingCachePolicy(cfg.sinks, cfg.window, B, P)
    k = v = empty_cache(cfg, B, P)
    nll_sum, nll_n = torch.zeros(()), 0.0
    rollout_out = None
    for t in range(T - 1):
        mask_np = b.mask[:, t]
        if t == OBS - 1:
            valid, age = policy.plan_rollout(mask_np, cfg.horizon)
            noise = torch.zeros(B, cfg.horizon, P, 2)
            rollout_out = model.rollout(
                torch.from_numpy(b.people[:, t]), torch.from_numpy(mask_np.astype(np.float32)), k, v,
                torch.from_numpy(valid), torch.from_numpy(age), torch.from_numpy(b.robot_pose),
                torch.from_numpy(b.action[:, t : t + cfg.horizon]), noise)
        plan = policy.plan(mask_np)
        mean, logvar, k, v = model.step(
            torch.from_numpy(b.people[:, t]), torch.from_numpy(mask_np.astype(np.float32)),
            torch.from_numpy(b.action[:, t]), k, v, torch.from_numpy(plan.past_valid),
            torch.from_numpy(plan.past_age), torch.from_numpy(plan.write_onehot))
        policy.commit(mask_np)
        w = torch.from_numpy(b.target_valid[:, t].astype(np.float32))
        err = torch.from_numpy(b.target[:, t]) - (mean if nll_mean else mean.detach())
        nll = 0.5 * (logvar + err * err * torch.exp(-logvar)).sum(-1)
        nll_sum = nll_sum + (nll * w).sum()
        nll_n += float(w.sum())
    nll = nll_sum / max(nll_n, 1.0)
    positions, _ = rollout_out
    fv = torch.from_numpy(b.future_valid.astype(np.float32))
    dist = torch.sqrt(((positions - torch.from_numpy(b.future)) ** 2).sum(-1) + 1e-9)
    ade = (dist * fv).sum() / fv.sum().clamp(min=1.0)
    loss = nll + ade_weight * ade
    if fde_weight:
        last = fv[..., -1]
        loss = loss + fde_weight * (dist[..., -1] * last).sum() / last.sum().clamp(min=1.0)
    return loss, nll.detach(), ade.detach()


class BatchSampler:
    """Batches of similar crowd size, from the real and (optionally) the simulator pool.

    A batch is padded to its largest crowd, so mixing one crowded window into a batch of small ones
    would multiply the cost for nothing: each pool is sorted by crowd size and a batch is drawn from a
    random contiguous span of that order. A batch is all-simulator with probability ``p_sim``, so the
    share of simulator data is a parameter instead of a consequence of how many episodes were run.
    """

    def __init__(self, real: list[Window], sim: list[Window], batch: int, p_max: int, p_sim: float) -> None:
        self.pools = [(w, self._order(w, p_max)) for w in (real, sim) if w]
        self.batch, self.p_sim = batch, (p_sim if sim and real else float(bool(sim)))

    @staticmethod
    def _order(windows: list[Window], p_max: int) -> np.ndarray:
        return np.argsort([min(w.present.any(axis=0).sum(), p_max) for w in windows], kind="stable")

    def draw(self, rng: np.random.Generator) -> tuple[list[Window], np.ndarray]:
        use_sim = len(self.pools) == 2 and rng.random() < self.p_sim
        windows, order = self.pools[1 if use_sim else 0]
        span = min(len(windows), 4 * self.batch)
        start = int(rng.integers(0, len(windows) - span + 1))
        return windows, order[start + rng.choice(span, size=min(self.batch, span), replace=False)]


def train(args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    cfg = WorldModelConfig(d_model=args.d_model, heads=args.heads, layers=args.layers, ffn=args.ffn)
    files = training_files(Path(args.data), args.holdout, args.tune)
    real = [w for w in load_windows(files, OBS + PRED, stride=1) if w.present[OBS - 1].any()]
    if args.velocity == "filtered":  # the inputs the node feeds: velocities filtered for each file's tracker noise
        noise = {f.name: file_track_noise(f, cfg.dt) for f in files}
        for w in real:
            w.track_noise = noise[w.source]
    sim: list[Window] = []
    if args.sim_seeds > 0:
        from training.sim_data import SCENARIOS, sim_windows

        seeds = range(args.sim_seed_start, args.sim_seed_start + args.sim_seeds)
        sim = [w for w in sim_windows(SCENARIOS, seeds, OBS + PRED, cfg.dt) if w.present[OBS - 1].any()]
    if not real and not sim:
        raise ValueError(f"no training windows of {OBS + PRED} frames in {args.data}")
    aug = Augment(mirror=args.aug_mirror, reverse=args.aug_reverse, scale=args.aug_scale,
                  scale_range=tuple(args.scale_range), noise=args.aug_noise, noise_max=args.noise_max)
    sampler = BatchSampler(real, sim, args.batch, cfg.p_max, args.p_sim)
    model = StreamingWorldModel(cfg)
    # the robot-effect head is trained afterwards, on the simulator only, with this base frozen
    # (training/train_effect_head.py); here it stays all zero and out of the optimizer and the gradient clip
    model.effect.requires_grad_(False)
    opt = torch.optim.AdamW(model.base_parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.iterations, pct_start=0.1)
    t0, log = time.time(), []
    for it in range(args.iterations):
        windows, idx = sampler.draw(rng)
        b = make_batch(windows, idx, rng, cfg.p_max, OBS, cfg.horizon, cfg.dt, args.p_pedestrian_robot, aug,
                       bool(args.robot_flag))
        loss, nll, ade = batch_loss(model, b, args.ade_weight, args.fde_weight, bool(args.nll_mean))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if it % 50 == 0 or it == args.iterations - 1:
            log.append({"iteration": it, "nll": float(nll), "ade": float(ade), "seconds": round(time.time() - t0, 1)})
            print(json.dumps(log[-1]), flush=True)
    return {"model": model, "cfg": cfg, "files": [f"{f.parent.parent.name}/{f.parent.name}/{f.name}" for f in files],
            "windows": len(real), "sim_windows": len(sim), "log": log, "train_seconds": round(time.time() - t0, 1)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, type=Path, help="ETH/UCY root (scene/split/*.txt)")
    p.add_argument("--out", default=Path("models"), type=Path, help="output folder for .onnx + .json")
    p.add_argument("--name", default=None, help="file stem (default world_model or world_model_loo_<scene>)")
    p.add_argument("--holdout", default="", choices=("",) + SCENES, help="scene excluded from training")
    p.add_argument("--seed", default=0, type=int)
    p.add_argument("--iterations", default=300, type=int)
    p.add_argument("--batch", default=32, type=int)
    p.add_argument("--lr", default=3e-3, type=float)
    p.add_argument("--ade-weight", default=1.0, type=float, help="weight of the rollout ADE (m) in the loss")
    p.add_argument("--fde-weight", default=0.0, type=float, help="weight of the rollout FDE (m) in the loss")
    p.add_argument("--nll-mean", default=1, type=int, choices=(0, 1),
                   help="1: the teacher-forced NLL also trains the mean; 0: variance only (mean by ADE/FDE)")
    p.add_argument("--tune", action="store_true",
                   help="with --holdout: keep the training scenes' val rows out of training and report on them "
                        "(choose settings there, never on the held-out scene)")
    p.add_argument("--val-stride", default=2, type=int, help="window stride of the --tune evaluation")
    p.add_argument("--d-model", default=32, type=int)
    p.add_argument("--heads", default=4, type=int)
    p.add_argument("--layers", default=2, type=int)
    p.add_argument("--ffn", default=64, type=int)
    p.add_argument("--aug-mirror", default=0.0, type=float, help="probability of mirroring a window (y -> -y)")
    p.add_argument("--aug-reverse", default=0.0, type=float, help="probability of time reversal (ETH/UCY windows)")
    p.add_argument("--aug-scale", default=0.0, type=float, help="probability of speed scaling (ETH/UCY windows)")
    p.add_argument("--scale-range", default=(0.7, 2.0), type=float, nargs=2, metavar=("LOW", "HIGH"))
    p.add_argument("--aug-noise", default=0.0, type=float, help="probability of input position noise")
    p.add_argument("--velocity", default="raw", choices=("filtered", "raw"),
                   help="input velocities: raw backward differences (the shipped models) or filtered for each "
                        "file's tracker noise, as the node feeds them (measured no better: docs/world_model.md)")
    p.add_argument("--noise-max", default=0.05, type=float, help="largest per-axis noise std (m)")
    p.add_argument("--p-sim", default=0.25, type=float, help="share of simulator batches when --sim-seeds > 0")
    p.add_argument("--sim-seed-start", default=10_000, type=int,
                   help="first simulator seed (far from the seeds eval-interventions and the tests use)")
    p.add_argument("--p-pedestrian-robot", default=0.5, type=float)
    p.add_argument("--robot-flag", default=1, type=int, choices=(0, 1),
                   help="1: each window's robot_present input says whether people can see its robot (virtual robot "
                        "0, pedestrian-as-robot and simulator 1); 0: always 0, the models before the flag")
    p.add_argument("--threads", default=1, type=int, help="torch CPU threads (1-2: the machine is shared)")
    p.add_argument("--sim-seeds", default=0, type=int,
                   help="add simulator episodes (5 robot-interaction scenarios × this many seeds, 60 s each)")
    p.add_argument("--rollout-buckets", default=(), type=parse_buckets,
                   help="person buckets below p_max with their own rollout graph, e.g. 4,8,12 (deployable models)")
    p.add_argument("--no-eval", dest="eval", action="store_false", help="skip the held-out test evaluation")
    p.add_argument("--best-of", default=20, type=int, help="samples for the best-of-N metric (0: off)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    if not Path(args.data).is_dir():
        parser.error(f"--data {args.data} is not a folder")
    result = train(args)
    from training.export_onnx import export_all

    name = args.name or (f"world_model_loo_{args.holdout}" if args.holdout else "world_model")
    training_info = {
        "data": "ETH/UCY "
        + (f"leave-one-out, held-out scene {args.holdout}" if args.holdout else "train splits of all scenes")
        + (f" + simulator (seeds {args.sim_seed_start}..{args.sim_seed_start + args.sim_seeds - 1}, 5 scenarios, "
           "60 s each)" if args.sim_seeds else ""),
        "files": result["files"],
        "windows": result["windows"],
        "sim_windows": result["sim_windows"],
        "hyperparameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in sorted(vars(args).items())
                            if k not in ("data", "out", "name")},
        "seed": args.seed,
        "iterations": args.iterations,
        "train_seconds": result["train_seconds"],
        "final_log": result["log"][-1],
        "command": "python -m training.train_world_model " + " ".join(argv or __import__("sys").argv[1:]),
    }
    paths = export_all(result["model"], Path(args.out), name, training_info, buckets=args.rollout_buckets)
    # keep the weights so the graphs can be re-exported without retraining (small: ~120 kB)
    torch.save({"config": result["cfg"].to_dict(), "state_dict": result["model"].state_dict()},
               Path(args.out) / f"{name}.pt")
    from causal_nodes.evaluation.trajectories import evaluate_scene, evaluate_windows, robot_response_probe
    from causal_nodes.world_model.runtime import WorldModel
    from training.export_onnx import update_metrics

    wm = WorldModel(paths["step"], backend="cpu")
    metrics = {"robot_response_probe": robot_response_probe(wm)}
    # ETH/UCY has no robot: the evaluation's virtual robot is not present (0); the same evaluation with 1
    # (what a robot user gets) is reported beside it, with the suffix _robot_present
    if args.holdout and args.tune:
        val = load_windows(scene_files(Path(args.data), args.holdout, "val"), OBS + PRED, stride=args.val_stride)
        metrics["eth_ucy_val_slice"] = evaluate_windows(wm, val, best_of=0)
        metrics["eth_ucy_val_slice_robot_present"] = evaluate_windows(wm, val, best_of=0, robot_present=True)
    if args.holdout and args.eval:
        # with --tune, the ablation tables' setting (raw velocities, no self-calibration) so rows compare
        inputs = {"velocity": "raw", "calibrate": False} if args.tune else {}
        metrics[f"eth_ucy_test_{args.holdout}"] = evaluate_scene(wm, Path(args.data), args.holdout,
                                                                 best_of=args.best_of, seed=args.seed, **inputs)
        metrics[f"eth_ucy_test_{args.holdout}_robot_present"] = evaluate_scene(
            wm, Path(args.data), args.holdout, best_of=0, seed=args.seed, robot_present=True, **inputs)
    update_metrics(paths["metadata"], metrics)
    print(json.dumps(metrics))
    print(json.dumps({k: str(v) for k, v in paths.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
