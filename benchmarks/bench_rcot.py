"""Benchmark: the random-feature CI test (rcot) beside tigramite's GPDC and ParCorr, in one run.

Three parts, all single-core (BLAS pinned to one thread before numpy loads):

1. **False-positive rate** on conditionally independent data (X and Y nonlinear in Z, noise independent given Z;
   homo- and heteroscedastic), alpha = 0.05 and 0.01, n in {200, 600}, 0-8 conditions: rcot with both nulls,
   ParCorr as the linear reference (GPDC is left out here: seconds per test).
2. **AUROC on the physical scenarios**: every candidate link ``X(t - tau) -> Y(t)`` of a 600-sample window is tested
   given the same conditions for all tests (MCI-style: the PC1 parents of Y found by ParCorr, without X, plus X's
   parents shifted by tau), and its p-value scored against the scenario's reference graph (the interventional
   reference where the simulator has one, else the mechanism truth). GPDC costs seconds per test, so all three
   tests answer the same random subsample (all true links, as many false ones, at most ``--gpdc-tests`` per
   window); rcot and ParCorr are also scored on every candidate. CPU time per test, same run.
3. **PCMCI per window** (tau_max 3, pc_alpha 0.2, alpha_level 0.01): rcot through tigramite vs ParCorr through
   tigramite and the exact fast engine, CPU and wall seconds.

Held-out seeds (``--seeds``, default 101,102): the test's defaults were chosen on other data (test/discovery). The
machine is shared: wall times vary with the load, CPU times less; ratios compare tests measured in the same run.

    .venv/bin/python benchmarks/bench_rcot.py --quick          # ~10 min: fewer draws, one seed, 8 GPDC tests
    .venv/bin/python benchmarks/bench_rcot.py                  # ~40 min on a loaded 2-core machine
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from causal_nodes.discovery.discover import DiscoveryConfig, discover  # noqa: E402
from causal_nodes.discovery.rcot import RCoT, RCoTOptions, conditional_test  # noqa: E402
from causal_nodes.sim import list_scenarios, load_scenario, run_scenario  # noqa: E402

WINDOW = 600
TAU_MAX = 3
SHAPES = (lambda z: np.tanh(1.5 * z), lambda z: np.maximum(z - 0.3, 0.0), lambda z: z * z / 2, np.sin,
          lambda z: 1 / (1 + np.exp(-5 * z)), lambda z: np.abs(z - 0.2))


# ---- 1. false-positive rate ---------------------------------------------------------------------------------
def null_draw(rng: np.random.Generator, n: int, dz: int, hetero: bool) -> tuple[np.ndarray, ...]:
    z = rng.normal(size=(n, dz))

    def f() -> np.ndarray:
        return sum((rng.normal() * SHAPES[rng.integers(len(SHAPES))](z[:, j]) for j in range(dz)), np.zeros(n))

    scale = 0.3 + np.abs(z[:, 0]) if hetero and dz else 0.5
    return (f() + scale * rng.normal(size=n))[:, None], (f() + scale * rng.standard_t(5, size=n))[:, None], z


def parcorr_p(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    from scipy import stats

    design = np.column_stack([np.ones(len(x)), z])
    rx = x[:, 0] - design @ np.linalg.lstsq(design, x[:, 0], rcond=None)[0]
    ry = y[:, 0] - design @ np.linalg.lstsq(design, y[:, 0], rcond=None)[0]
    r = np.corrcoef(rx, ry)[0, 1]
    dof = len(x) - 2 - z.shape[1]
    return float(2 * stats.t.sf(abs(r) * np.sqrt(dof / (1 - r * r)), dof))


def calibration(draws: int) -> list[str]:
    tests = {"rcot (wilks)": lambda x, y, z: conditional_test(x, y, z, RCoTOptions(null="wilks")).p_value,
             "rcot (robust)": lambda x, y, z: conditional_test(x, y, z, RCoTOptions(null="robust")).p_value,
             "parcorr": parcorr_p}
    lines = ["| noise | n | conditions | " + " | ".join(f"{name} 5% / 1%" for name in tests) + " |",
             "|---|---|---|" + "---|" * len(tests)]
    pooled: dict[str, list[float]] = {name: [] for name in tests}
    for hetero in (False, True):
        for n in (200, 600):
            for dz in (0, 1, 2, 4, 8):
                cells = []
                for name, test in tests.items():
                    rng = np.random.default_rng(7919 * n + 31 * dz + hetero)
                    p = np.array([test(*null_draw(rng, n, dz, hetero)) for _ in range(draws)])
                    pooled[name].extend(p.tolist())
                    cells.append(f"{np.mean(p <= 0.05):.3f} / {np.mean(p <= 0.01):.3f}")
                lines.append(f"| {'hetero' if hetero else 'homo'} | {n} | {dz} | " + " | ".join(cells) + " |")
    lines.append("| **all** | | | " + " | ".join(
        f"**{np.mean(np.array(p) <= 0.05):.3f} / {np.mean(np.array(p) <= 0.01):.3f}**" for p in pooled.values())
        + " |")
    return lines


# ---- 2. AUROC on the physical scenarios -----------------------------------------------------------------------
def window(scenario_name: str, seed: int) -> tuple[list[str], np.ndarray, set, str]:
    """600 complete samples of the scenario's variables (constant or undefined ones left out) and the truth."""
    scenario = load_scenario(scenario_name)
    series = run_scenario(scenario, seed=seed, steps=WINDOW + 60)
    values = series.values
    keep = [k for k in range(values.shape[1])
            if np.isfinite(values[:, k]).mean() > 0.8 and np.nanstd(values[:, k]) > 0]
    names = [series.names[k] for k in keep]
    values = values[:, keep]
    values = values[np.all(np.isfinite(values), axis=1)][-WINDOW:]
    if hasattr(scenario, "reference"):
        reference = scenario.reference(names, tau_max=TAU_MAX)
        return names, values, set(reference.links), str(reference.kind)
    return names, values, set(scenario.ground_truth()), "mechanism"


def candidate_tests(data: np.ndarray, pc_alpha: float = 0.2) -> list[tuple[tuple, tuple, list]]:
    """(X, Y, Z) of every candidate link, Z = ParCorr PC1 parents of Y without X + X's parents shifted."""
    from tigramite.data_processing import DataFrame
    from tigramite.independence_tests.parcorr import ParCorr
    from tigramite.pcmci import PCMCI

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parents = PCMCI(DataFrame(data), ParCorr(significance="analytic"), verbosity=0).run_pc_stable(
            tau_max=TAU_MAX, pc_alpha=pc_alpha)
    n_vars = data.shape[1]
    out = []
    for j in range(n_vars):
        for i in range(n_vars):
            for tau in range(TAU_MAX + 1):
                if tau == 0 and i >= j:
                    continue  # one test per contemporaneous pair
                x = (i, -tau)
                z = [node for node in parents[j] if node != x]
                z += [(v, lag - tau) for v, lag in parents[i] if (v, lag - tau) not in z and (v, lag - tau) != x]
                out.append((x, (j, 0), z))
    return out


def is_true(x: tuple, y: tuple, names: list[str], truth: set) -> bool:
    source, target, lag = names[x[0]], names[y[0]], -x[1]
    return (source, target, lag) in truth or (lag == 0 and (target, source, 0) in truth)


def run_tests(test, data: np.ndarray, tests: list) -> tuple[np.ndarray, float]:
    from tigramite.data_processing import DataFrame

    test.set_dataframe(DataFrame(data))
    started = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = np.array([test.run_test([x], [y], z, tau_max=TAU_MAX)[1] for x, y, z in tests], dtype=float)
    return p, (time.process_time() - started) / max(1, len(tests))


def auroc(labels: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if labels.all() or not labels.any():
        return float("nan")
    return float(roc_auc_score(labels, -np.nan_to_num(p, nan=1.0)))


def scenario_auroc(scenarios: list[str], seeds: list[int], gpdc_tests: int) -> tuple[list[str], dict]:
    from tigramite.independence_tests.gpdc import GPDC
    from tigramite.independence_tests.parcorr import ParCorr

    rows = ["| scenario | seed | reference | N | candidates (true) | AUROC all: rcot / parcorr | subsample (true) | "
            "AUROC subsample: rcot / parcorr / gpdc | CPU ms/test: rcot / parcorr / gpdc |",
            "|---|---|---|---|---|---|---|---|---|"]
    pooled: dict[str, list] = {k: [] for k in ("labels_all", "rcot_all", "parcorr_all", "labels_sub", "rcot_sub",
                                               "parcorr_sub", "gpdc_sub", "t_rcot", "t_parcorr", "t_gpdc")}
    for name in scenarios:
        for seed in seeds:
            names, data, truth, kind = window(name, seed)
            tests = candidate_tests(data)
            labels = np.array([is_true(x, y, names, truth) for x, y, _ in tests])
            p_rcot, t_rcot = run_tests(RCoT(), data, tests)
            p_par, t_par = run_tests(ParCorr(significance="analytic"), data, tests)
            rng = np.random.default_rng(seed)
            pos, neg = np.flatnonzero(labels), np.flatnonzero(~labels)
            half = gpdc_tests // 2
            sub = np.concatenate([rng.choice(pos, min(half, len(pos)), replace=False),
                                  rng.choice(neg, min(gpdc_tests - min(half, len(pos)), len(neg)), replace=False)])
            p_gpdc, t_gpdc = run_tests(GPDC(significance="analytic"), data, [tests[k] for k in sub])
            for key, value in (("labels_all", labels), ("rcot_all", p_rcot), ("parcorr_all", p_par),
                               ("labels_sub", labels[sub]), ("rcot_sub", p_rcot[sub]), ("parcorr_sub", p_par[sub]),
                               ("gpdc_sub", p_gpdc)):
                pooled[key].extend(value.tolist())
            pooled["t_rcot"].append(t_rcot)
            pooled["t_parcorr"].append(t_par)
            pooled["t_gpdc"].append(t_gpdc)
            rows.append(
                f"| {name} | {seed} | {kind} | {len(names)} | {len(tests)} ({labels.sum()}) | "
                f"{auroc(labels, p_rcot):.3f} / {auroc(labels, p_par):.3f} | {len(sub)} ({labels[sub].sum()}) | "
                f"{auroc(labels[sub], p_rcot[sub]):.3f} / {auroc(labels[sub], p_par[sub]):.3f} / "
                f"{auroc(labels[sub], p_gpdc):.3f} | {1e3 * t_rcot:.2f} / {1e3 * t_par:.2f} / {1e3 * t_gpdc:.0f} |")
            print(rows[-1], flush=True)
    la, ls = np.array(pooled["labels_all"], bool), np.array(pooled["labels_sub"], bool)
    summary = {
        "auroc_rcot_all": auroc(la, np.array(pooled["rcot_all"])),
        "auroc_parcorr_all": auroc(la, np.array(pooled["parcorr_all"])),
        "auroc_rcot_sub": auroc(ls, np.array(pooled["rcot_sub"])),
        "auroc_parcorr_sub": auroc(ls, np.array(pooled["parcorr_sub"])),
        "auroc_gpdc_sub": auroc(ls, np.array(pooled["gpdc_sub"])),
        "ms_rcot": 1e3 * float(np.mean(pooled["t_rcot"])), "ms_parcorr": 1e3 * float(np.mean(pooled["t_parcorr"])),
        "ms_gpdc": 1e3 * float(np.mean(pooled["t_gpdc"])),
    }
    rows.append(f"| **pooled** | | | | {len(la)} ({la.sum()}) | **{summary['auroc_rcot_all']:.3f} / "
                f"{summary['auroc_parcorr_all']:.3f}** | {len(ls)} ({ls.sum()}) | **{summary['auroc_rcot_sub']:.3f} / "
                f"{summary['auroc_parcorr_sub']:.3f} / {summary['auroc_gpdc_sub']:.3f}** | "
                f"**{summary['ms_rcot']:.2f} / {summary['ms_parcorr']:.2f} / {summary['ms_gpdc']:.0f}** |")
    return rows, summary


# ---- 3. PCMCI per window ----------------------------------------------------------------------------------------
def pcmci_times(scenarios: list[str], seed: int) -> list[str]:
    rows = ["| scenario | N | rcot (tigramite) CPU / wall s | parcorr (tigramite) CPU / wall s | "
            "parcorr (fast engine) CPU / wall s | links rcot / parcorr |", "|---|---|---|---|---|---|"]
    base = DiscoveryConfig(tau_max=TAU_MAX, pc_alpha=0.2, alpha_level=0.01)
    for name in scenarios:
        names, data, _, _ = window(name, seed)
        cells, links = [], []
        for config in (base.replace(test="rcot"), base.replace(engine="tigramite"), base):
            cpu, wall = time.process_time(), time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = discover(data, names, config)
            cells.append(f"{time.process_time() - cpu:.2f} / {time.perf_counter() - wall:.2f}")
            links.append(len(result.links()))
        rows.append(f"| {name} | {len(result.variables)} | {cells[0]} | {cells[1]} | {cells[2]} | "
                    f"{links[0]} / {links[1]} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 draws, one seed, 8 GPDC tests per window")
    parser.add_argument("--draws", type=int, default=None, help="null draws per setting (default 400)")
    parser.add_argument("--seeds", default=None, help="held-out seeds, comma-separated (default 101,102)")
    parser.add_argument("--gpdc-tests", type=int, default=None, help="GPDC tests per window (default 16)")
    parser.add_argument("--skip", default="", help="parts to skip: calibration,auroc,pcmci")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "rcot.md")
    args = parser.parse_args()
    draws = args.draws or (100 if args.quick else 400)
    seeds = [int(s) for s in (args.seeds or ("101" if args.quick else "101,102")).split(",")]
    gpdc_tests = args.gpdc_tests or (8 if args.quick else 16)
    skip = set(filter(None, args.skip.split(",")))
    scenarios = [n for n in list_scenarios() if load_scenario(n).kind == "physical"]
    started = time.perf_counter()
    out = [f"# rcot vs GPDC vs ParCorr\n\nCommand: `.venv/bin/python benchmarks/bench_rcot.py "
           f"{' '.join(sys.argv[1:])}` ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {platform.machine()}, "
           f"{os.cpu_count()} CPUs shared with other jobs, Python {platform.python_version()}, BLAS threads 1).\n"]
    if "calibration" not in skip:
        out += [f"## False-positive rate on conditionally independent data ({draws} draws per cell)\n",
                *calibration(draws), ""]
        print("\n".join(out), flush=True)
    summary: dict = {}
    if "auroc" not in skip:
        rows, summary = scenario_auroc(scenarios, seeds, gpdc_tests)
        out += [f"## AUROC of the p-values for true vs false links, window {WINDOW}, tau_max {TAU_MAX} "
                f"(seeds {','.join(map(str, seeds))})\n", *rows, ""]
        speedup = summary["ms_gpdc"] / summary["ms_rcot"]
        out.append(f"rcot is **{speedup:.0f}x** faster than GPDC per test (CPU, same windows); AUROC on the common "
                   f"subsample rcot {summary['auroc_rcot_sub']:.3f} vs GPDC {summary['auroc_gpdc_sub']:.3f}.\n")
    if "pcmci" not in skip:
        out += [f"## PCMCI per window ({WINDOW} samples, tau_max {TAU_MAX}, pc_alpha 0.2, alpha_level 0.01, "
                f"seed {seeds[0]})\n", *pcmci_times(scenarios, seeds[0]), ""]
    load = os.getloadavg()[0]
    out.append(f"Total {time.perf_counter() - started:.0f} s; 1-min load average at the end {load:.1f}.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out) + "\n")
    print("\n".join(out[-3:]))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
