"""Benchmark: SAC with and without CIP components on the social-navigation env, a few seeds, small fixed budget.

Variants (same SAC hyper-parameters, same env-step budget, same evaluation episodes):
  * ``sac``: stable-baselines3 SAC;
  * ``cip_swap``: SAC + causal analysis of ``--analysis-steps`` random-policy steps (extra env steps, reported) →
    the counterfactual swap replay buffer only (causal_nodes/evaluation/rl/cip.py);
  * ``cip``: as ``cip_swap`` plus per-action-dimension entropy weights from the causal action weights.
Every ``--eval-every`` steps the deterministic policy is evaluated on ``--eval-episodes`` fixed episodes.
Writes benchmarks/results/rl_cip.{md,json,png}. Torch and BLAS are pinned to one thread (shared machine).

    .venv/bin/python benchmarks/bench_rl_cip.py --steps 4000 --seeds 0 1 2
    .venv/bin/python benchmarks/bench_rl_cip.py --quick
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def evaluate(model, episodes: int) -> dict:
    from causal_nodes.evaluation.rl.env import SocialNavEnv

    env = SocialNavEnv()
    returns, success, collisions, discomfort = [], 0, 0, []
    for i in range(episodes):
        obs, _ = env.reset(seed=10_000 + i)
        total, disc, done = 0.0, 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, info = env.step(action)
            total += reward
            disc += info["discomfort"]
            done = terminated or truncated
        returns.append(total)
        discomfort.append(disc)
        success += int(info["reached"])
        collisions += int(info["collision"])
    return {"return": float(np.mean(returns)), "success": success / episodes, "collisions": collisions / episodes,
            "discomfort": float(np.mean(discomfort))}


def run_variant(variant: str, seed: int, args: argparse.Namespace) -> dict:
    import torch
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    from causal_nodes.evaluation.rl.cip import (
        apply_action_weights,
        causal_analysis,
        collect_random_transitions,
        entropy_weights,
        make_swap_buffer_class,
    )
    from causal_nodes.evaluation.rl.env import ACTION_NAMES, OBS_NAMES, SocialNavEnv

    torch.set_num_threads(1)
    env = SocialNavEnv()
    env.reset(seed=seed)
    kwargs: dict = {}
    analysis_info: dict = {}
    if variant.startswith("cip"):
        t0 = time.perf_counter()
        s, a, r = collect_random_transitions(SocialNavEnv(), args.analysis_steps, seed=50_000 + seed)
        ca = causal_analysis(s, a, r, OBS_NAMES, ACTION_NAMES, seed=seed)
        weights = entropy_weights([ca.action_weights[n] for n in ACTION_NAMES], floor=args.entropy_floor)
        swap_cols = [OBS_NAMES.index(n) for n in ca.swappable]
        kwargs = dict(replay_buffer_class=make_swap_buffer_class(),
                      replay_buffer_kwargs=dict(swap_columns=swap_cols, swap_prob=args.swap_prob, swap_seed=seed))
        analysis_info = {"state_weights": ca.state_weights, "action_weights": ca.action_weights,
                         "entropy_weights": weights.tolist(), "swappable": ca.swappable,
                         "analysis_seconds": time.perf_counter() - t0, "analysis_env_steps": args.analysis_steps}
    model = SAC("MlpPolicy", env, learning_starts=args.learning_starts, batch_size=128, train_freq=args.train_freq,
                gradient_steps=1, policy_kwargs=dict(net_arch=[64, 64]), seed=seed, verbose=0, **kwargs)
    if variant == "cip":
        apply_action_weights(model, weights)
        analysis_info["entropy_weighting"] = True
    curve: list[dict] = []

    class EvalCallback(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % args.eval_every == 0:
                curve.append({"step": self.num_timesteps, **evaluate(self.model, args.eval_episodes)})
            return True

    t0 = time.perf_counter()
    model.learn(args.steps, callback=EvalCallback())
    out = {"variant": variant, "seed": seed, "curve": curve, "train_seconds": time.perf_counter() - t0,
           **analysis_info}
    if variant.startswith("cip"):
        out["swapped_samples"] = int(getattr(model.replay_buffer, "swapped", 0))
    print(f"{variant} seed {seed}: final return {curve[-1]['return']:.2f} success {curve[-1]['success']:.2f} "
          f"({out['train_seconds']:.0f} s)" + (f" swappable {out.get('swappable')} action w "
                                               f"{out.get('entropy_weights')}" if variant.startswith("cip") else ""),
          flush=True)
    return out


VARIANT_COLORS = (("sac", "tab:blue"), ("cip_swap", "tab:green"), ("cip", "tab:orange"))


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for variant, color in VARIANT_COLORS:
        rs = [r for r in runs if r["variant"] == variant]
        if not rs:
            continue
        steps = [p["step"] for p in rs[0]["curve"]]
        for ax, key in zip(axes, ("return", "success")):
            vals = np.array([[p[key] for p in r["curve"]] for r in rs])
            m, sd = vals.mean(axis=0), vals.std(axis=0)
            ax.plot(steps, m, color=color, label=f"{variant} (n={len(rs)} seeds)")
            ax.fill_between(steps, m - sd, m + sd, color=color, alpha=0.2)
            ax.set_xlabel("environment steps")
            ax.set_ylabel(f"eval {key}")
    axes[0].legend()
    axes[0].set_title("SocialNavEnv: mean ± std over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--learning-starts", type=int, default=500)
    parser.add_argument("--train-freq", type=int, default=2)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--eval-episodes", type=int, default=5)
    parser.add_argument("--analysis-steps", type=int, default=2000)
    parser.add_argument("--swap-prob", type=float, default=0.5)
    parser.add_argument("--variants", nargs="+", default=[v for v, _ in VARIANT_COLORS],
                        choices=[v for v, _ in VARIANT_COLORS])
    parser.add_argument("--entropy-floor", type=float, default=0.2,
                        help="share of uniform weight mixed into the causal entropy weights")
    parser.add_argument("--quick", action="store_true", help="tiny run (smoke test of the pipeline)")
    parser.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--stem", default=None, help="output file name stem (default rl_cip, or rl_cip_quick)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs in parallel processes (each single-threaded; results do not depend on it)")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.seeds, args.learning_starts, args.eval_every, args.eval_episodes = 600, [0], 200, 300, 2
        args.analysis_steps = 800
    jobs = [(v, s) for s in args.seeds for v in args.variants]
    if args.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.jobs) as pool:
            runs = list(pool.map(run_variant, *zip(*jobs), [args] * len(jobs)))
    else:
        runs = [run_variant(v, s, args) for v, s in jobs]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = args.stem or ("rl_cip_quick" if args.quick else "rl_cip")
    (args.out_dir / f"{stem}.json").write_text(json.dumps({"args": {k: (str(v) if isinstance(v, Path) else v)
                                                                   for k, v in vars(args).items()},
                                                          "runs": runs}, indent=1))
    plot(runs, args.out_dir / f"{stem}.png")
    lines = [
        "# SAC vs SAC + CIP components (SocialNavEnv)",
        "",
        f"`benchmarks/bench_rl_cip.py --steps {args.steps} --seeds {' '.join(map(str, args.seeds))}"
        f"{' --stem ' + args.stem if args.stem else ''}`: SAC (sb3, MLP 64x64,"
        f" batch 128, train_freq {args.train_freq}, learning_starts {args.learning_starts}), evaluation every"
        f" {args.eval_every} steps on {args.eval_episodes} fixed episodes (deterministic policy). CIP additionally used"
        f" {args.analysis_steps} random-policy env steps for its causal analysis (not counted on the x axis).",
        "",
        "| variant | seed | final return | best return | final success | final collisions | final discomfort | train s | swappable factors | entropy weights |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        last = r["curve"][-1]
        best = max(p["return"] for p in r["curve"])
        lines.append(
            f"| {r['variant']} | {r['seed']} | {last['return']:.2f} | {best:.2f} | {last['success']:.2f} "
            f"| {last['collisions']:.2f} | {last['discomfort']:.2f} | {r['train_seconds']:.0f} "
            f"| {', '.join(r.get('swappable', [])) or '-'} "
            f"| {', '.join(f'{w:.2f}' for w in r.get('entropy_weights', [])) if r.get('entropy_weighting') else '-'} |"
        )
    for variant, _ in VARIANT_COLORS:
        finals = [r["curve"][-1]["return"] for r in runs if r["variant"] == variant]
        aucs = [np.mean([p["return"] for p in r["curve"]]) for r in runs if r["variant"] == variant]
        if finals:
            lines.append(f"\n**{variant}**: final return {np.mean(finals):.2f} ± {np.std(finals):.2f}, "
                         f"mean over the curve {np.mean(aucs):.2f} ± {np.std(aucs):.2f} (n = {len(finals)} seeds)")
    lines.append(f"\n![learning curves]({stem}.png)")
    (args.out_dir / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out_dir / stem}.md/.json/.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
