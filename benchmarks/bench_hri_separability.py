"""How well can data separate the HRI reference's links from its non-links? Scores per candidate link, by lag.

Run (one core, a few minutes):

    python benchmarks/bench_hri_separability.py --seeds 500 501 502 503 504 --out benchmarks/results/hri_separability.md

Why: every discovery pipeline scores below a data-free guess on the physical scenarios (``bench_hri_discovery.py``,
rows ``guess_*``). Either the methods threshold badly, or the statistics they compute do not rank reference links
above non-links. This benchmark separates the two. For every candidate ``X(t - tau) -> Y(t)`` (lag-0 pairs
undirected) of each scenario x seed stream (default variables, 600 samples = one window; `--steps` for longer), it computes two statistics:

* ``mci``: the p-value PCMCI (ParCorr, tau_max 3, pc_alpha 0.2) gives the link: what the pipelines threshold;
* ``granger2``: a nested F-test of a degree-2 polynomial regression (all pairwise products) of Y(t) on every
  variable at lag 1, with and without X at the candidate's lag (lag 0: X(t) added; lags 2, 3: X at that lag added,
  linearly). Holding every other observed variable at lag 1 is what the reference's do() holds, and the products
  can express the kinematics (a robot speed times the cosine of a bearing) a linear test cannot.

For each statistic: AUROC (the chance that a random reference link ranks above a random non-link; 0.5 = no
information) per lag and overall, and the best lag-level F1 any single threshold on it reaches, and any set of one
threshold per lag (chosen *after* seeing the reference, so upper bounds for a thresholding method), beside the F1
of the guess that links every pair at lags 0 and 1. A statistic whose best threshold cannot beat the guess has no usable information about the
reference at these sample sizes.

``--reference noise|spread|both``: the interventional reference's effect unit (``causal_nodes.sim.reference
.UNITS``; default ``noise``, the #10 targets'); with ``both`` the same statistics are ranked against each, one row
per statistic and unit.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.stats import f as f_distribution  # noqa: E402
from scipy.stats import rankdata  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from causal_nodes.discovery.discover import DiscoveryConfig, discover  # noqa: E402
from causal_nodes.evaluation.discovery_scores import usable_columns  # noqa: E402
from causal_nodes.sim import load_scenario, run_scenario  # noqa: E402
from causal_nodes.sim.reference import UNITS  # noqa: E402
from causal_nodes.variables.extractor import DEFAULT_VARIABLES  # noqa: E402

PHYSICAL = ("corridor_passing", "crossing", "overtaking", "approach_standing", "crowd")
TAU_MAX = 3
Candidate = tuple[int, int, int]  # source index, target index, lag


def candidates(n: int) -> list[Candidate]:
    """Every (i, j, tau) scored: lagged pairs with autolinks, lag-0 pairs once (i < j)."""
    return [(i, j, tau) for tau in range(TAU_MAX + 1) for i in range(n) for j in range(n)
            if tau > 0 or i < j]


def _standardised(columns: list[np.ndarray]) -> np.ndarray:
    z = np.column_stack(columns)
    return (z - z.mean(axis=0)) / (z.std(axis=0) + 1e-12)


def _quadratic(z: np.ndarray) -> np.ndarray:
    upper = np.triu_indices(z.shape[1])
    return np.column_stack([z, (z[:, :, None] * z[:, None, :])[:, upper[0], upper[1]]])


def _rss(features: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    design = np.column_stack([np.ones(len(y)), features])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    return float(residual @ residual), design.shape[1]


def granger2_pvalue(values: np.ndarray, i: int, j: int, tau: int) -> float:
    """Nested F-test: does X_i at lag tau improve a degree-2 regression of Y_j(t) on all variables at lag 1?"""
    t = len(values)
    lag1 = _quadratic(_standardised([values[TAU_MAX - 1:t - 1, k] for k in range(values.shape[1])]))
    y = values[TAU_MAX:, j]
    if tau == 1:  # drop X's terms (its column and its products) from the full lag-1 model
        others = [k for k in range(values.shape[1]) if k != i]
        reduced = _quadratic(_standardised([values[TAU_MAX - 1:t - 1, k] for k in others]))
        full = lag1
    else:
        reduced = lag1
        extra = _standardised([values[TAU_MAX - tau:t - tau, i]])
        full = np.column_stack([lag1, extra])
    rss_full, k_full = _rss(full, y)
    rss_reduced, k_reduced = _rss(reduced, y)
    df1, df2 = k_full - k_reduced, len(y) - k_full
    if df1 <= 0 or df2 <= 0 or rss_full <= 0:
        return 1.0
    statistic = ((rss_reduced - rss_full) / df1) / (rss_full / df2)
    return float(f_distribution.sf(max(statistic, 0.0), df1, df2))


def auroc(is_link: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney AUROC of ``score`` (higher = more link-like); NaN without both classes."""
    positives = int(is_link.sum())
    negatives = len(is_link) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[is_link].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _mean_run_f1(chosen: np.ndarray, is_link: np.ndarray, run: np.ndarray) -> float:
    f1s = []
    for r in np.unique(run):
        m = run == r
        tp = int((chosen & is_link & m).sum())
        fp = int((chosen & ~is_link & m).sum())
        fn = int((~chosen & is_link & m).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(f1s))


def _thresholds(score: np.ndarray) -> np.ndarray:
    """101 quantiles of ``score`` and +inf (select nothing)."""
    return np.append(np.unique(np.quantile(score, np.linspace(0, 1, 101))), np.inf)


def best_threshold_f1(is_link: np.ndarray, score: np.ndarray, run: np.ndarray) -> float:
    """The highest mean per-run lag-level F1 over single thresholds on ``score`` (an oracle's choice)."""
    return max(_mean_run_f1(score >= t, is_link, run) for t in _thresholds(score))


def best_per_lag_f1(is_link: np.ndarray, score: np.ndarray, run: np.ndarray, lag: np.ndarray) -> float:
    """The same with one threshold per lag (coordinate ascent from the lags-0-and-1 guess, 3 sweeps).

    A method may treat lags differently (the guess does), so this is the fairer upper bound to compare with it.
    """
    lags = np.unique(lag)
    chosen_threshold = {t: (-np.inf if t <= 1 else np.inf) for t in lags}

    def f1_of(thresholds: dict) -> float:
        chosen = np.zeros(len(score), dtype=bool)
        for t, th in thresholds.items():
            chosen |= (lag == t) & (score >= th)
        return _mean_run_f1(chosen, is_link, run)

    best = f1_of(chosen_threshold)
    for _ in range(3):
        for t in lags:
            for th in np.append(_thresholds(score[lag == t]), -np.inf):
                trial = {**chosen_threshold, t: th}
                value = f1_of(trial)
                if value > best:
                    best, chosen_threshold = value, trial
    return best


def collect(scenarios, seeds, steps: int, units=("noise",)) -> dict[str, np.ndarray]:
    """The statistics of every candidate, and ``is_link.<unit>``: whether it is a link of the ``unit`` reference."""
    rows: dict[str, list] = {"lag": [], "run": [], "mci": [], "granger2": [], **{f"is_link.{u}": [] for u in units}}
    config = DiscoveryConfig(tau_max=TAU_MAX, pc_alpha=0.2)
    for run_index, (scenario_name, seed) in enumerate((s, d) for s in scenarios for d in seeds):
        scenario = load_scenario(scenario_name)
        series = run_scenario(scenario, seed=seed, variables=list(DEFAULT_VARIABLES), steps=steps)
        usable = usable_columns(series.names, series.values)
        names, values = usable.names, usable.values
        references = {u: scenario.reference(names, tau_max=TAU_MAX, unit=u).links for u in units}
        result = discover(values, names, config)
        for i, j, tau in candidates(len(names)):
            for unit, reference in references.items():
                rows[f"is_link.{unit}"].append((names[i], names[j], tau) in reference
                                               or (tau == 0 and (names[j], names[i], 0) in reference))
            p_mci = float(result.p_matrix[i, j, tau])
            p_granger = granger2_pvalue(values, i, j, tau)
            if tau == 0:  # undirected: the stronger of the two directions
                p_granger = min(p_granger, granger2_pvalue(values, j, i, tau))
            rows["lag"].append(tau)
            rows["run"].append(run_index)
            rows["mci"].append(-np.log10(max(p_mci, 1e-300)))
            rows["granger2"].append(-np.log10(max(p_granger, 1e-300)))
        print(f"{scenario_name} seed {seed}: {len(names)} variables, reference links "
              + ", ".join(f"{len(r)} ({u})" for u, r in references.items()), flush=True)
    return {key: np.asarray(value) for key, value in rows.items()}


def _guess_f1(is_link: np.ndarray, lag: np.ndarray, run: np.ndarray) -> float:
    """Mean per-run lag-level F1 of the guess "every pair at lags 0 and 1"."""
    guess = is_link & (lag <= 1), ~is_link & (lag <= 1), is_link & (lag > 1)
    return float(np.mean([2 * (guess[0] & (run == r)).sum()
                          / (2 * (guess[0] & (run == r)).sum() + (guess[1] & (run == r)).sum()
                             + (guess[2] & (run == r)).sum()) for r in np.unique(run)]))


def report(data: dict[str, np.ndarray], scenarios, seeds, steps: int, seconds: float, command: str,
           units=("noise",)) -> str:
    lag, run = data["lag"], data["run"]
    counts = ", ".join(f"{int(data[f'is_link.{u}'].sum())} of them links of the {UNITS[u].kind} reference"
                       for u in units)
    lines = [f"Physical scenarios {', '.join(scenarios)}; seeds {list(seeds)}; default variables, {steps} samples per "
             f"stream; {len(lag)} candidate links, {counts}.", "",
             "| statistic | reference | AUROC lag 0 | lag 1 | lag 2 | lag 3 | all lags | best-threshold F1 (oracle) "
             "| best per-lag thresholds F1 (oracle) | guess F1 (lags 0 and 1) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name in ("mci", "granger2"):
        for unit in units:
            is_link = data[f"is_link.{unit}"].astype(bool)
            per_lag = [auroc(is_link[lag == t], data[name][lag == t]) for t in range(TAU_MAX + 1)]
            lines.append(f"| {name} | {unit} | " + " | ".join(f"{a:.3f}" for a in per_lag)
                         + f" | {auroc(is_link, data[name]):.3f} | {best_threshold_f1(is_link, data[name], run):.3f}"
                         f" | {best_per_lag_f1(is_link, data[name], run, lag):.3f} | "
                         f"{_guess_f1(is_link, lag, run):.3f} |")
    lines += ["", f"Total {seconds:.0f} s. Command: `{command}`"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[500, 501, 502, 503, 504])
    parser.add_argument("--scenarios", nargs="+", default=list(PHYSICAL))
    parser.add_argument("--steps", type=int, default=600, help="samples per stream (600 = one discovery window)")
    parser.add_argument("--out", type=Path, help="write the markdown report here")
    parser.add_argument("--reference", choices=[*UNITS, "both"], default="noise",
                        help="effect unit of the interventional reference (default %(default)s)")
    args = parser.parse_args()
    units = list(UNITS) if args.reference == "both" else [args.reference]
    started = time.perf_counter()
    data = collect(args.scenarios, args.seeds, args.steps, units)
    command = ("python benchmarks/bench_hri_separability.py --seeds " + " ".join(map(str, args.seeds))
               + (" --scenarios " + " ".join(args.scenarios) if list(args.scenarios) != list(PHYSICAL) else "")
               + (f" --steps {args.steps}" if args.steps != 600 else "")
               + (f" --reference {args.reference}" if args.reference != "noise" else "")
               + (f" --out {args.out}" if args.out else ""))
    text = report(data, args.scenarios, args.seeds, args.steps, time.perf_counter() - started, command, units)
    print("\n" + text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("# HRI reference: how separable are its links from data?\n\n" + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
