"""Train the robot-effect head (issue #16, fifth pass) on the simulator, with the base model frozen.

    python -m training.train_effect_head --base models/world_model.pt --seed 0 --out models/

The forecast is ``base + robot_present × effect`` (``training.model.RobotEffectHead``). The base (every weight of
the ETH/UCY model in ``--base``) is loaded, frozen and exported unchanged; only the head learns, and only from the
simulator's robot-interaction episodes (``training.sim_data``, robot_present = 1: the people there see the robot),
by the free-running rollout's ADE + FDE. So every robot-free forecast (robot_present = 0, every ETH/UCY window)
stays the base's bit for bit, and with the robot present the model moves people as the simulator's people move
around the robot. Held-out simulator seeds (``--test-seeds``, never trained on) measure whether the head makes the
simulator forecasts better, not just different: ADE/FDE with and without the head, for everybody and for the
people near the robot.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from causal_nodes.world_model.cache_policy import StreamingCachePolicy
from training.dataset import Augment, Batch, make_batch
from training.export_onnx import export_all, load_checkpoint, parse_buckets, update_metrics
from training.model import StreamingWorldModel, empty_cache
from training.sim_data import SCENARIOS, sim_windows
from training.train_world_model import OBS, PRED, BatchSampler, batch_loss

NEAR_M = 3.0  # "near the robot" for the held-out report: the simulator's robot force is 3 % of its peak at 3 m


def load_sim(seeds: range, dt: float) -> list:
    return [w for w in sim_windows(SCENARIOS, seeds, OBS + PRED, dt) if w.present[OBS - 1].any()]


def without_effect(model: StreamingWorldModel) -> StreamingWorldModel:
    """A copy whose head is all zero: the base alone."""
    twin = copy.deepcopy(model)
    with torch.no_grad():
        for p in twin.effect.parameters():
            p.zero_()
    return twin


@torch.no_grad()
def rollout_distances(model: StreamingWorldModel, b: Batch) -> torch.Tensor:
    """Distance (B, P, H) between the mean rollout from the window's last observed step and the true path."""
    cfg = model.cfg
    B, _, P = b.mask.shape
    policy = StreamingCachePolicy(cfg.sinks, cfg.window, B, P)
    k = v = empty_cache(cfg, B, P)
    for t in range(OBS - 1):
        mask_np = b.mask[:, t]
        plan = policy.plan(mask_np)
        _, _, k, v = model.step(torch.from_numpy(b.people[:, t]), torch.from_numpy(mask_np.astype(np.float32)),
                                torch.from_numpy(b.action[:, t]), k, v, torch.from_numpy(plan.past_valid),
                                torch.from_numpy(plan.past_age), torch.from_numpy(plan.write_onehot))
        policy.commit(mask_np)
    mask_np = b.mask[:, OBS - 1]
    valid, age = policy.plan_rollout(mask_np, cfg.horizon)
    positions, _ = model.rollout(
        torch.from_numpy(b.people[:, OBS - 1]), torch.from_numpy(mask_np.astype(np.float32)), k, v,
        torch.from_numpy(valid), torch.from_numpy(age), torch.from_numpy(b.robot_pose),
        torch.from_numpy(b.action[:, OBS - 1 : OBS - 1 + cfg.horizon]), torch.zeros(B, cfg.horizon, P, 2))
    return torch.sqrt(((positions - torch.from_numpy(b.future)) ** 2).sum(-1))


def sim_accuracy(model: StreamingWorldModel, windows: list, batch: int = 64) -> dict[str, float]:
    """ADE/FDE (m) on held-out simulator windows: the model with its head, the base alone, constant velocity;
    all targets and those within ``NEAR_M`` of the robot at the forecast's start."""
    base = without_effect(model)
    rng = np.random.default_rng(0)
    sums: dict[str, list[float]] = {}
    for start in range(0, len(windows), batch):
        idx = np.arange(start, min(start + batch, len(windows)))
        b = make_batch(windows, idx, rng, model.cfg.p_max, OBS, model.cfg.horizon, model.cfg.dt, 0.0)
        fv = torch.from_numpy(b.future_valid).all(-1)  # targets seen over the whole horizon
        last = torch.from_numpy(b.people[:, OBS - 1])
        steps = torch.arange(1, model.cfg.horizon + 1, dtype=torch.float32).reshape(1, 1, -1, 1) * model.cfg.dt
        cv = last[..., None, :2] + last[..., None, 2:4] * steps
        dist = {"model": rollout_distances(model, b), "base": rollout_distances(base, b),
                "cv": torch.sqrt(((cv - torch.from_numpy(b.future)) ** 2).sum(-1))}
        near = fv & (last[..., :2].norm(dim=-1) < NEAR_M)
        for group, sel in (("all", fv), ("near", near)):
            for name, d in dist.items():
                acc = sums.setdefault(f"{group}_{name}", [0.0, 0.0, 0.0])
                acc[0] += float(d.mean(-1)[sel].sum())
                acc[1] += float(d[..., -1][sel].sum())
                acc[2] += float(sel.sum())
    out: dict[str, float] = {}
    for key, (ade, fde, n) in sums.items():
        group, name = key.split("_")
        out[f"{group}_{name}_ade"] = round(ade / max(n, 1.0), 4)
        out[f"{group}_{name}_fde"] = round(fde / max(n, 1.0), 4)
        out[f"{group}_targets"] = int(n)
    return out


def train(args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    model = load_checkpoint(args.base).train()
    cfg = model.cfg
    with torch.no_grad():  # a fresh head (the base's .pt may hold an all-zero or an earlier one)
        fresh = type(model.effect)(cfg)
        model.effect.load_state_dict(fresh.state_dict())
    for p in model.base_parameters():
        p.requires_grad_(False)
    sim = load_sim(range(args.sim_seed_start, args.sim_seed_start + args.sim_seeds), cfg.dt)
    sampler = BatchSampler([], sim, args.batch, cfg.p_max, 1.0)
    aug = Augment(mirror=args.aug_mirror)
    opt = torch.optim.AdamW(model.effect.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.iterations, pct_start=0.1)
    t0, log = time.time(), []
    for it in range(args.iterations):
        windows, idx = sampler.draw(rng)
        b = make_batch(windows, idx, rng, cfg.p_max, OBS, cfg.horizon, cfg.dt, 0.0, aug)
        loss, _, ade = batch_loss(model, b, 1.0, args.fde_weight, nll_mean=False)  # the NLL has no path to the head
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.effect.parameters(), 1.0)
        opt.step()
        sched.step()
        if it % 50 == 0 or it == args.iterations - 1:
            log.append({"iteration": it, "ade": float(ade), "seconds": round(time.time() - t0, 1)})
            print(json.dumps(log[-1]), flush=True)
    return {"model": model.eval(), "sim_windows": len(sim), "log": log, "train_seconds": round(time.time() - t0, 1)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", default=Path("models/world_model.pt"), type=Path,
                   help="weights of the base model (train_world_model's .pt); frozen, exported unchanged")
    p.add_argument("--out", default=Path("models"), type=Path, help="output folder for .onnx + .json + .pt")
    p.add_argument("--name", default=None, help="file stem (default: the base's stem, i.e. replace that model)")
    p.add_argument("--seed", default=0, type=int)
    p.add_argument("--iterations", default=300, type=int)
    p.add_argument("--batch", default=32, type=int)
    p.add_argument("--lr", default=3e-3, type=float)
    p.add_argument("--fde-weight", default=1.0, type=float, help="weight of the rollout FDE (m) beside its ADE")
    p.add_argument("--aug-mirror", default=0.5, type=float, help="probability of mirroring a window (y -> -y)")
    p.add_argument("--sim-seeds", default=40, type=int, help="training episodes: 5 scenarios × this many seeds")
    p.add_argument("--sim-seed-start", default=10_000, type=int,
                   help="first training seed (far from the seeds eval-interventions and the tests use)")
    p.add_argument("--test-seeds", default=10, type=int, help="held-out episodes per scenario for the report")
    p.add_argument("--test-seed-start", default=20_000, type=int)
    p.add_argument("--threads", default=1, type=int, help="torch CPU threads (1-2: the machine is shared)")
    p.add_argument("--rollout-buckets", default=None, type=parse_buckets,
                   help="person buckets below p_max with their own rollout graph (default: the base's)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    if not args.base.is_file():
        parser.error(f"--base {args.base} is not a file")
    base_meta_path = args.base.with_suffix(".json")
    base_meta = json.loads(base_meta_path.read_text()) if base_meta_path.is_file() else {}
    result = train(args)
    model = result["model"]
    name = args.name or args.base.stem
    buckets = args.rollout_buckets
    if buckets is None:
        buckets = tuple(b["people"] for b in base_meta.get("rollout_buckets", []))
    training = dict(base_meta.get("training", {}))
    training["robot_effect"] = {
        "data": f"simulator seeds {args.sim_seed_start}..{args.sim_seed_start + args.sim_seeds - 1}, "
                f"scenarios {', '.join(SCENARIOS)}, 60 s each; base frozen ({args.base.name})",
        "sim_windows": result["sim_windows"],
        "hyperparameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in sorted(vars(args).items())
                            if k not in ("out", "name")},
        "train_seconds": result["train_seconds"],
        "final_log": result["log"][-1],
        "command": "python -m training.train_effect_head " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    paths = export_all(model, args.out, name, training, base_meta.get("metrics", {}), tuple(buckets))
    torch.save({"config": model.cfg.to_dict(), "state_dict": model.state_dict()}, args.out / f"{name}.pt")
    from causal_nodes.evaluation.trajectories import robot_response_probe
    from causal_nodes.world_model.runtime import WorldModel

    test = load_sim(range(args.test_seed_start, args.test_seed_start + args.test_seeds), model.cfg.dt)
    seeds = f"{args.test_seed_start}..{args.test_seed_start + args.test_seeds - 1}"
    metrics = {"robot_response_probe": robot_response_probe(WorldModel(paths["step"], backend="cpu")),
               "robot_effect_sim_test": {"seeds": seeds, **sim_accuracy(model, test)}}
    update_metrics(paths["metadata"], metrics)
    print(json.dumps(metrics))
    print(json.dumps({k: str(v) for k, v in paths.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
