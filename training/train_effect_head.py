"""Train the robot-effect head (issue #16, fifth pass) on the simulator, with the base model frozen.

    python -m training.train_effect_head --base models/world_model.pt --seed 0 --out models/

The forecast is ``base + robot_present × effect`` (``training.model.RobotEffectHead``). The base (every weight of
the ETH/UCY model in ``--base``) is loaded, frozen and exported unchanged; only the head learns, and only from the
simulator's robot-interaction episodes (``training.sim_data``; robot_present = 1: the people there see the robot).
So every robot-free forecast (robot_present = 0, every ETH/UCY window) stays the base's bit for bit.

What the head learns (``--target``): by default the simulator's *effect* of the robot, i.e. the difference between
each window's future with people who see the robot and the same future (same history, same noise, the robot driving
the same) with people who do not (``sim_data.counterfactual_windows``); the head's change to the rollout is fitted to
that difference. Fitting the simulator's paths themselves (``--target paths``, ADE + FDE) was tried first: it lowers
the simulator ADE as much on episodes whose people ignore the robot, i.e. it learns the simulator's people rather
than their response to the robot (docs/world_model.md). Held-out simulator seeds (``--test-seeds``, never trained
on) measure the result: ADE/FDE with and without the head, on both kinds of future, and the effect's error.
"""
from __future__ import annotations

import argparse
import copy
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import torch

from causal_nodes.world_model.cache_policy import StreamingCachePolicy
from training.dataset import Augment, Batch, make_batch
from training.export_onnx import export_all, load_checkpoint, parse_buckets, update_metrics
from training.model import StreamingWorldModel, empty_cache
from training.sim_data import SCENARIOS, counterfactual_windows
from training.train_world_model import OBS, BatchSampler, batch_loss

NEAR_M = 3.0  # "near the robot" for the held-out report: the simulator's robot force is 3 % of its peak at 3 m


def without_effect(model: StreamingWorldModel) -> StreamingWorldModel:
    """A copy whose head is all zero: the base alone."""
    twin = copy.deepcopy(model)
    with torch.no_grad():
        for p in twin.effect.parameters():
            p.zero_()
    return twin


@torch.no_grad()
def paired_windows(seeds: range, cfg, cache_dir: Path | None = None) -> tuple[list, list]:
    """``counterfactual_windows`` of every scenario for ``seeds``; with ``cache_dir`` kept there (pickled) so that
    several heads (seeds, models) train on the same episodes without simulating them again."""
    key = f"cf_{seeds.start}_{seeds.stop}_{OBS}_{cfg.horizon}_{cfg.dt}_{'-'.join(SCENARIOS)}.pkl"
    if cache_dir is not None and (cache_dir / key).is_file():
        with open(cache_dir / key, "rb") as f:
            return pickle.load(f)
    pair = counterfactual_windows(SCENARIOS, seeds, OBS, cfg.horizon, cfg.dt)
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with open(cache_dir / key, "wb") as f:
            pickle.dump(pair, f)
    return pair


def observe(model: StreamingWorldModel, b: Batch) -> tuple:
    """The cache after the window's observed steps (the head never touches it) and the rollout's read plan."""
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
    valid, age = policy.plan_rollout(b.mask[:, OBS - 1], cfg.horizon)
    return k, v, torch.from_numpy(valid), torch.from_numpy(age)


def rollout(model: StreamingWorldModel, b: Batch, cache: tuple) -> torch.Tensor:
    """Mean rollout positions (B, P, H, 2) from the window's last observed step, start robot frame."""
    cfg = model.cfg
    B, _, P = b.mask.shape
    k, v, valid, age = cache
    return model.rollout(
        torch.from_numpy(b.people[:, OBS - 1]), torch.from_numpy(b.mask[:, OBS - 1].astype(np.float32)), k, v,
        valid, age, torch.from_numpy(b.robot_pose), torch.from_numpy(b.action[:, OBS - 1 : OBS - 1 + cfg.horizon]),
        torch.zeros(B, cfg.horizon, P, 2))[0]


def paired_batches(factual: list, counterfactual: list, idx: np.ndarray, rng: np.random.Generator, cfg,
                   aug: Augment | None = None) -> tuple[Batch, Batch]:
    """Batches of the same windows with and without the robot's effect, under the same random augmentation and
    person order (the counterfactual batch replays the factual one's random draws)."""
    state = rng.bit_generator.state
    b = make_batch(factual, idx, rng, cfg.p_max, OBS, cfg.horizon, cfg.dt, 0.0, aug)
    twin = np.random.default_rng()
    twin.bit_generator.state = state
    return b, make_batch(counterfactual, idx, twin, cfg.p_max, OBS, cfg.horizon, cfg.dt, 0.0, aug)


def effect_loss(model: StreamingWorldModel, base: StreamingWorldModel, b: Batch, bc: Batch,
                loss: str = "distance", clip: float = 0.0, delta: float = 0.2) -> torch.Tensor:
    """Mean error between the change the head makes to the rollout and the simulator's effect of the robot (factual
    minus counterfactual future), over the people seen in both futures. ``loss``: ``distance`` (m; its minimiser is
    the effect's geometric median, zero for the many people whom the robot moves only sometimes), ``squared`` (m²;
    the conditional mean) or ``huber`` (squared below ``delta`` m, distance above). ``clip`` > 0: the effect's
    length is clipped to ``clip`` m first (a person who went round the robot on the other side is an effect no
    forecast from the same history can predict; clipping keeps such outliers from ruling a squared loss)."""
    cache = observe(base, b)
    with torch.no_grad():
        without = rollout(base, b, cache)
    change = rollout(model, b, cache) - without
    effect = torch.from_numpy(b.future - bc.future)
    if clip > 0:
        length = torch.sqrt((effect ** 2).sum(-1, keepdim=True) + 1e-12)
        effect = effect * torch.clamp(clip / length, max=1.0)
    w = torch.from_numpy((b.future_valid & bc.future_valid).astype(np.float32))
    sq = ((change - effect) ** 2).sum(-1)
    if loss == "squared":
        err = sq
    else:
        err = torch.sqrt(sq + 1e-9)
        if loss == "huber":
            err = torch.where(err < delta, sq / (2 * delta), err - delta / 2)
    return (err * w).sum() / w.sum().clamp(min=1.0)


def sim_accuracy(model: StreamingWorldModel, factual: list, counterfactual: list,
                 batch: int = 64) -> dict[str, float]:
    """Held-out simulator windows, all targets and those within ``NEAR_M`` of the robot at the forecast's start:
    ADE/FDE (m) of the model with its head (``model``), the base alone (``base``) and constant velocity (``cv``) on
    the factual futures (people see the robot) and, as a diagnostic, on the counterfactual ones (they do not:
    ``unaware_*``, where a head that learned the robot's effect should not help); and the error of the predicted
    robot effect against the simulator's (``effect_error``, beside ``effect_size``: the error of predicting none)."""
    base = without_effect(model)
    rng = np.random.default_rng(0)
    sums: dict[str, list[float]] = {}

    def add(key: str, d: torch.Tensor, sel: torch.Tensor) -> None:
        acc = sums.setdefault(key, [0.0, 0.0, 0.0])
        acc[0] += float(d.mean(-1)[sel].sum())
        acc[1] += float(d[..., -1][sel].sum())
        acc[2] += float(sel.sum())

    for start in range(0, len(factual), batch):
        idx = np.arange(start, min(start + batch, len(factual)))
        b, bc = paired_batches(factual, counterfactual, idx, rng, model.cfg)
        fv = torch.from_numpy(b.future_valid & bc.future_valid).all(-1)  # seen over the whole horizon
        last = torch.from_numpy(b.people[:, OBS - 1])
        near = fv & (last[..., :2].norm(dim=-1) < NEAR_M)
        steps = torch.arange(1, model.cfg.horizon + 1, dtype=torch.float32).reshape(1, 1, -1, 1) * model.cfg.dt
        with torch.no_grad():
            cache = observe(base, b)
            pred = {"model": rollout(model, b, cache), "base": rollout(base, b, cache),
                    "cv": last[..., None, :2] + last[..., None, 2:4] * steps}
        truth = {"": torch.from_numpy(b.future), "unaware_": torch.from_numpy(bc.future)}
        for group, sel in (("all", fv), ("near", near)):
            for prefix, fut in truth.items():
                for name, x in pred.items():
                    add(f"{prefix}{group}_{name}", torch.sqrt(((x - fut) ** 2).sum(-1)), sel)
            effect = truth[""] - truth["unaware_"]
            add(f"{group}_effect_error", torch.sqrt(((pred["model"] - pred["base"] - effect) ** 2).sum(-1)), sel)
            add(f"{group}_effect_size", torch.sqrt((effect ** 2).sum(-1)), sel)
            # squared (m²): the head fitted with --loss squared minimises this one
            add(f"{group}_effect_sqerror", ((pred["model"] - pred["base"] - effect) ** 2).sum(-1), sel)
            add(f"{group}_effect_sqsize", (effect ** 2).sum(-1), sel)
    out: dict[str, float] = {}
    for key, (ade, fde, n) in sums.items():
        out[f"{key}_ade"] = round(ade / max(n, 1.0), 4)
        out[f"{key}_fde"] = round(fde / max(n, 1.0), 4)
        out[f"{key.removeprefix('unaware_').split('_')[0]}_targets"] = int(n)
    return out


def probe_vs_simulator(model) -> dict[str, float]:
    """The robot-response probe's predicted change (driving minus standing robot, (H, 2)) against the simulator's
    in the same scene, noise-free (``probe_truth.simulated_probe_paths``): ``cosine`` of the two changes (whole
    horizon flattened; +1: the same direction, -1: the opposite), their largest lengths and the largest distance
    between them. ``model``: a runtime ``WorldModel``."""
    from causal_nodes.evaluation.probe_truth import simulated_probe_paths
    from causal_nodes.evaluation.trajectories import robot_response_paths

    ours, truth = robot_response_paths(model), simulated_probe_paths()
    a, b = (ours[1] - ours[0]).ravel(), (truth[1] - truth[0]).ravel()
    cos = float(a @ b / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))
    return {"cosine": round(cos, 4), "model_change_m": round(float(np.linalg.norm(a.reshape(-1, 2), axis=1).max()), 4),
            "simulator_change_m": round(float(np.linalg.norm(b.reshape(-1, 2), axis=1).max()), 4),
            "max_error_m": round(float(np.linalg.norm((a - b).reshape(-1, 2), axis=1).max()), 4)}


def train(args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    model = load_checkpoint(args.base).train()
    cfg = model.cfg
    cfg.effect_context, cfg.effect_hidden, cfg.effect_scale = not args.no_context, args.hidden, 1.0
    model.effect = type(model.effect)(cfg)  # a fresh head (the base's .pt may hold an all-zero or an earlier one)
    for p in model.base_parameters():
        p.requires_grad_(False)
    base = without_effect(model).eval()
    seeds = range(args.sim_seed_start, args.sim_seed_start + args.sim_seeds)
    factual, counterfactual = paired_windows(seeds, cfg, args.sim_cache)
    sampler = BatchSampler([], factual, args.batch, cfg.p_max, 1.0)
    aug = Augment(mirror=args.aug_mirror)
    opt = torch.optim.AdamW(model.effect.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.iterations, pct_start=0.1)
    t0, log = time.time(), []
    for it in range(args.iterations):
        _, idx = sampler.draw(rng)
        b, bc = paired_batches(factual, counterfactual, idx, rng, cfg, aug)
        if args.target == "effect":
            loss = effect_loss(model, base, b, bc, args.loss, args.effect_clip, args.huber_delta)
        else:  # the factual paths' ADE + FDE (the simulator's people as such, not only the robot's effect on them)
            loss = batch_loss(model, b, 1.0, args.fde_weight, nll_mean=False)[0]  # the NLL has no path to the head
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.effect.parameters(), 1.0)
        opt.step()
        sched.step()
        if it % 50 == 0 or it == args.iterations - 1:
            log.append({"iteration": it, "loss": round(loss.item(), 5), "seconds": round(time.time() - t0, 1)})
            print(json.dumps(log[-1]), flush=True)
    return {"model": model.eval(), "sim_windows": len(factual), "log": log,
            "train_seconds": round(time.time() - t0, 1)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", default=Path("models/world_model.pt"), type=Path,
                   help="weights of the base model (train_world_model's .pt); frozen, exported unchanged")
    p.add_argument("--out", default=Path("models"), type=Path, help="output folder for .onnx + .json + .pt")
    p.add_argument("--name", default=None, help="file stem (default: the base's stem, i.e. replace that model)")
    p.add_argument("--seed", default=0, type=int)
    p.add_argument("--iterations", default=300, type=int)
    p.add_argument("--batch", default=32, type=int)
    p.add_argument("--lr", default=3e-3, type=float)
    p.add_argument("--target", default="effect", choices=("effect", "paths"),
                   help="effect: the simulator's effect of the robot (paths with minus without people seeing it, "
                        "same history, same noise); paths: the simulator's paths themselves (ADE + FDE), which also "
                        "teaches how the simulator's people differ from real ones (docs/world_model.md)")
    p.add_argument("--loss", default="distance", choices=("distance", "squared", "huber"),
                   help="with --target effect: mean distance (m), mean squared distance (m²) or Huber (squared "
                        "below --huber-delta) to the simulator's effect (the median-like distance fits zero where "
                        "the robot moves people only sometimes)")
    p.add_argument("--huber-delta", default=0.2, type=float, help="with --loss huber: m")
    p.add_argument("--effect-clip", default=0.0, type=float,
                   help="clip the simulator's effect to this length (m) for training (0: off)")
    p.add_argument("--hidden", default=32, type=int, help="width of the head's two hidden layers")
    p.add_argument("--no-context", action="store_true",
                   help="the head reads the token's raw inputs only, not also the base's final token")
    p.add_argument("--fde-weight", default=1.0, type=float, help="with --target paths: weight of the FDE")
    p.add_argument("--aug-mirror", default=0.5, type=float, help="probability of mirroring a window (y -> -y)")
    p.add_argument("--sim-seeds", default=40, type=int, help="training episodes: 5 scenarios × this many seeds")
    p.add_argument("--sim-seed-start", default=10_000, type=int,
                   help="first training seed (far from the seeds eval-interventions and the tests use)")
    p.add_argument("--test-seeds", default=10, type=int, help="held-out episodes per scenario for the report")
    p.add_argument("--test-seed-start", default=20_000, type=int)
    p.add_argument("--sim-cache", default=None, type=Path,
                   help="folder to keep the simulated episode pairs in (reused by later runs with the same seeds)")
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
                            if k not in ("out", "name", "sim_cache")},
        "train_seconds": result["train_seconds"],
        "final_log": result["log"][-1],
        "command": "python -m training.train_effect_head " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    paths = export_all(model, args.out, name, training, base_meta.get("metrics", {}), tuple(buckets))
    save_and_report(model, paths, args.out / f"{name}.pt",
                    range(args.test_seed_start, args.test_seed_start + args.test_seeds), args.sim_cache)
    return 0


def save_and_report(model: StreamingWorldModel, paths: dict, checkpoint: Path, test_seeds: range,
                    sim_cache: Path | None) -> dict:
    """Saves the exported model's weights to ``checkpoint`` and adds to its metadata what a user of the head asks
    first: the probe, its agreement with the simulator's own answer, and the held-out simulator accuracy on
    ``test_seeds`` (shared by this script and ``training.scale_effect_head``, so both report the same numbers)."""
    from causal_nodes.evaluation.trajectories import robot_response_probe
    from causal_nodes.world_model.runtime import WorldModel

    torch.save({"config": model.cfg.to_dict(), "state_dict": model.state_dict()}, checkpoint)
    wm = WorldModel(paths["step"], backend="cpu")
    metrics = {"robot_response_probe": robot_response_probe(wm), "robot_response_vs_simulator": probe_vs_simulator(wm),
               "robot_effect_sim_test": {"seeds": f"{test_seeds.start}..{test_seeds.stop - 1}",
                                         **sim_accuracy(model, *paired_windows(test_seeds, model.cfg, sim_cache))}}
    update_metrics(paths["metadata"], metrics)
    print(json.dumps(metrics))
    print(json.dumps({k: str(v) for k, v in paths.items()}))
    return metrics


if __name__ == "__main__":
    raise SystemExit(main())
