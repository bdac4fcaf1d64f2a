"""Benchmark: prioritizer latency (vectorised bootstrap vs a per-replica loop) and accuracy against the simulator.

Part 1 (latency): on a seeded random stable VAR with ~2N cross links, lags 1..3, times ``prioritize`` for a grid of
(N, T, H, bootstrap, effect model / local fit; the kinematic rows rename three variables to the robot's commands
and the distance and start from a person 3 m ahead) and, side by side, the same SEM fit done naively (one ``np.linalg.lstsq`` per
replica and variable), checking both give the same coefficients. Median of ``--repeats`` runs, single BLAS thread.

Part 2 (accuracy, skipped with --quick): ``verify_scenario`` on every scenario of sim/scenarios (SCM: global fit;
physical: linear and kinematic effect model, each with global and state-local fit), Kendall tau and sign accuracy of predicted vs. simulated do() effects.

Writes a markdown report to benchmarks/results/prioritizer.md.

    .venv/bin/python benchmarks/bench_prioritizer.py --quick
    .venv/bin/python benchmarks/bench_prioritizer.py
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from causal_nodes.prioritization import PrioritizerConfig, build_directed_graph, fit_lagged_sem, prioritize  # noqa: E402
from causal_nodes.prioritization.bootstrap import block_bootstrap_weights  # noqa: E402
from causal_nodes.prioritization.kinematics import PlanarScene  # noqa: E402


def random_var(n: int, t_len: int, seed: int) -> tuple[np.ndarray, list[str], list[tuple[str, str, int]]]:
    """Stable VAR(3) with autolinks and 2n random cross links; returns data, names, links."""
    rng = np.random.default_rng(seed)
    names = [f"x{i}" for i in range(n)]
    coef = np.zeros((4, n, n))
    links = []
    for i in range(n):
        coef[1, i, i] = rng.uniform(0.3, 0.5)
        links.append((names[i], names[i], 1))
    while len(links) < 3 * n:
        i, j = rng.choice(n, 2, replace=False)
        lag = int(rng.integers(1, 4))
        if coef[lag, j, i] == 0:
            coef[lag, j, i] = rng.choice([-1, 1]) * rng.uniform(0.1, 0.25)
            links.append((names[i], names[j], lag))
    x = np.zeros((t_len + 50, n))
    for t in range(3, t_len + 50):
        x[t] = sum(coef[k] @ x[t - k] for k in (1, 2, 3)) + rng.normal(size=n)
    return x[50:], names, links


def naive_fit(data: np.ndarray, names: list[str], links: list, weights: np.ndarray) -> np.ndarray:
    """Reference: weighted least squares one replica and one variable at a time (lstsq on sqrt-weighted rows)."""
    graph = build_directed_graph(links, names, target=names[-1])
    max_lag = max(graph.max_lag, 1)
    n_rows = data.shape[0] - max_lag
    all_w = np.vstack([np.ones(n_rows), weights])
    idx = {n: i for i, n in enumerate(names)}
    coef = np.zeros((all_w.shape[0], max_lag + 1, len(names), len(names)))
    for name, parents in graph.parents(names).items():
        j = idx[name]
        y = data[max_lag:, j]
        z = np.column_stack([np.ones(n_rows)] + [data[max_lag - k : data.shape[0] - k, idx[p]] for p, k in parents])
        for r, w in enumerate(all_w):
            sw = np.sqrt(w)
            beta = np.linalg.lstsq(z * sw[:, None], y * sw, rcond=None)[0]
            for col, (p, k) in enumerate(parents, start=1):
                coef[r, k, j, idx[p]] = beta[col]
    return coef


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def latency_table(repeats: int, quick: bool) -> list[str]:
    grid = [
        (10, 500, 10, 100, "none"),
        (10, 500, 10, 0, "none"),
        (10, 500, 10, 50, "none"),
        (10, 500, 10, 200, "none"),
        (10, 500, 10, 100, "state"),
        (10, 500, 10, 100, "kinematic"),
        (10, 500, 10, 100, "kinematic+state"),
        (10, 500, 50, 100, "none"),
        (5, 500, 10, 100, "none"),
        (20, 500, 10, 100, "none"),
        (10, 2000, 10, 100, "none"),
    ]
    if quick:
        grid = grid[:5]
    rows = [
        "| N | T | H | bootstrap | effect model / local fit | links | prioritize ms (median) | SEM fit vectorised ms | SEM fit naive loop ms | speed-up | same coefficients |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, t_len, horizon, boot, model in grid:
        data, names, links = random_var(n, t_len, seed=n * 7 + t_len)
        local = "state" if model.endswith("state") else "none"
        scene = None
        if model.startswith("kinematic"):
            # The same data under the pipeline's names, so the commands move a robot towards a person 3 m ahead.
            rename = {
                names[0]: "robot_linear_speed",
                names[1]: "robot_angular_speed",
                names[-1]: "human_robot_distance",
            }
            names = [rename.get(v, v) for v in names]
            links = [(rename.get(a, a), rename.get(b, b), lag) for a, b, lag in links]
            scene = PlanarScene((0.0, 0.0, 0.0), (3.0, 0.0), (0.0, 0.0), 0.1)
        actionable = names[:3]
        cfg = PrioritizerConfig(horizon=horizon, bootstrap=boot, local_weighting=local,
                                effect_model="kinematic" if scene else "linear")
        run = functools.partial(prioritize, data, names, links, names[-1], actionable, cfg, scene=scene)
        run()  # warm-up
        total = median_ms(run, repeats)
        graph = build_directed_graph(links, names, target=names[-1])
        n_rows = t_len - max(graph.max_lag, 1)
        w = block_bootstrap_weights(n_rows, boot, rng=np.random.default_rng(0))
        fast = median_ms(functools.partial(fit_lagged_sem, data, names, graph, w), repeats)
        naive_repeats = max(1, repeats // 5)
        naive = median_ms(functools.partial(naive_fit, data, names, links, w), naive_repeats)
        same = np.allclose(fit_lagged_sem(data, names, graph, w).coef, naive_fit(data, names, links, w), atol=1e-6)
        rows.append(
            f"| {n} | {t_len} | {horizon} | {boot} | {model} | {len(links)} | {total:.1f} | {fast:.1f} | {naive:.1f} "
            f"| {naive / fast:.1f}x | {same} |"
        )
        print(rows[-1], flush=True)
    return rows


def accuracy_table() -> list[str]:
    from causal_nodes.evaluation.interventions import VerificationConfig, ancestors_of, verify_scenario
    from causal_nodes.sim.scenario import list_scenarios, load_scenario

    rows = [
        "| scenario | kind | target | actionable | effect model | local fit | Kendall tau | sign accuracy (n) | n | mean abs error | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in list_scenarios():
        sc = load_scenario(name)
        if sc.kind == "physical":
            target, actionable = "human_robot_distance", ["robot_linear_speed", "robot_angular_speed"]
            variants = [(m, loc) for m in ("linear", "kinematic") for loc in ("none", "state")]
        else:
            truth = sc.ground_truth()
            target = max(reversed(sc.variables), key=lambda v: len(ancestors_of(truth, v)))
            actionable, variants = [v for v in sc.variables if v != target], [("linear", "none")]
        for model, local in variants:
            t0 = time.perf_counter()
            cfg = VerificationConfig(episodes=5, futures=10, local_weighting=local, effect_model=model)
            r = verify_scenario(sc, target, actionable, cfg)
            rows.append(
                f"| {name} | {sc.kind} | {target} | {', '.join(actionable)} | {model} | {local} | {r['kendall_tau']:.2f} "
                f"| {r['sign_accuracy']:.2f} ({r['sign_n']}) | {r['n']} | {r['mean_abs_error']:.3f} "
                f"| {time.perf_counter() - t0:.0f} |"
            )
            print(rows[-1], flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small latency grid, no accuracy part")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "prioritizer.md")
    args = parser.parse_args()
    lines = [
        "# Prioritizer benchmark",
        "",
        f"`benchmarks/bench_prioritizer.py{' --quick' if args.quick else ''}` on {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}, one BLAS thread, machine shared with other jobs.",
        "",
        "## Latency (graph arrival to result, core only)",
        "",
    ]
    lines += latency_table(args.repeats, args.quick)
    if not args.quick:
        lines += [
            "",
            "## Predicted vs. simulated do() effects (5 episodes, 10 noise futures each, discovered graphs)",
            "",
            "Horizon 10 steps (1 s), window 500 samples, PCMCI ParCorr tau_max 3; sign accuracy over candidates whose real",
            "effect is at least 5 % of the episode's largest (see causal_nodes/evaluation/interventions.py).",
            "",
        ]
        lines += accuracy_table()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
