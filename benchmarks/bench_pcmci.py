"""Benchmark: tigramite vs the exact fast engine (causal_nodes.discovery.fast), PCMCI and PCMCI+, side by side.

Both engines run in this process on the same held-out seeded linear SCMs (ParCorr, analytic significance) over a
density axis (sparse / medium / dense: 1, 2, 4 expected lagged cross-parents per variable, plus contemporaneous
links). Every cell is run on ``--runs`` different seeds; per seed tigramite is timed once and the fast engine
``--repeats`` times (median), and the table reports medians over the seeds of both engines' times, of the
per-seed speed-ups and of the tests per second, plus whether every seed gave identical results (same graph
strings, NaN pattern, |d val|, |d p| <= 1e-8). The seeds (7,000,000 and up) were never used while developing or
tuning the engine.

Also: streaming latency (push one sample + full run, as the discovery node at 10 Hz) for PCMCI and PCMCI+ at
N=20, window 500, tau_max 5 on a dense graph, the bare cost of one compiled test, and peak memory.

BLAS is limited to one thread (environment variables before numpy loads, and threadpoolctl). Where tigramite's
predicted time for one run exceeds ``--tigramite-budget`` seconds it is skipped (prediction: its measured seconds
per test times the tests the fast engine ran) unless ``--full``.

    .venv/bin/python benchmarks/bench_pcmci.py --quick    # N in {5, 20}, tau_max in {1, 5}, PCMCI+ at N=10
    .venv/bin/python benchmarks/bench_pcmci.py            # full grid
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from causal_nodes.discovery.fast import kernels  # noqa: E402
from causal_nodes.discovery.fast.pcmci import StreamingPCMCI, run_fast_with_diagnostics  # noqa: E402
from causal_nodes.sim.scm import linear_scm_coefficients, random_linear_scm  # noqa: E402

#: Expected lagged cross-parents per variable of each density level.
DENSITIES = {"sparse": 1.0, "medium": 2.0, "dense": 4.0}
#: Options per method: PCMCI as the project runs it, PCMCI+ with tigramite's run_pcmciplus defaults.
OPTIONS = {"pcmci": dict(pc_alpha=0.2, alpha_level=0.05), "pcmciplus": {}}
SEED_BASE = 7_000_000
TOL = 1e-8


def held_out_seed(method: str, n_vars: int, n_time: int, tau_max: int, density: str, run: int) -> int:
    """A seed in the held-out range, distinct for every cell and run."""
    return (SEED_BASE + 1_000_000 * (method == "pcmciplus") + 100_000 * list(DENSITIES).index(density)
            + 1000 * n_vars + 100 * tau_max + 10 * run + n_time % 7)


def _scm_args(n_vars: int, tau_max: int, density: str) -> dict[str, Any]:
    max_lag = max(1, min(tau_max, 3))
    return dict(max_lag=max_lag, density=min(0.9, DENSITIES[density] / max(1, (n_vars - 1) * max_lag)))


def bench_data(n_vars: int, n_time: int, tau_max: int, density: str, seed: int) -> np.ndarray:
    """Seeded linear SCM with true lags <= min(tau_max, 3) and the density level's cross-parents per variable."""
    return random_linear_scm(n_vars, n_time, seed=seed, **_scm_args(n_vars, tau_max, density))


def true_links_per_variable(n_vars: int, tau_max: int, density: str, seed: int) -> float:
    """Cross links per variable of the simulated structure (a lag-0 link counted once)."""
    coeffs = linear_scm_coefficients(n_vars, seed=seed, **_scm_args(n_vars, tau_max, density)) != 0
    coeffs[:, range(n_vars), range(n_vars)] = False
    return int(coeffs.sum()) / n_vars


def tigramite_run(method: str, data: np.ndarray, tau_max: int) -> dict:
    from tigramite.data_processing import DataFrame
    from tigramite.independence_tests.parcorr import ParCorr
    from tigramite.pcmci import PCMCI

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pcmci = PCMCI(dataframe=DataFrame(data), cond_ind_test=ParCorr(significance="analytic"), verbosity=0)
        run = pcmci.run_pcmciplus if method == "pcmciplus" else pcmci.run_pcmci
        return run(tau_max=tau_max, **OPTIONS[method])


def fast_run(method: str, data: np.ndarray, tau_max: int) -> tuple[dict, dict]:
    return run_fast_with_diagnostics(data, method=method, tau_max=tau_max, **OPTIONS[method])


def compare(expected: dict, got: dict) -> tuple[bool, float, float]:
    dval = float(np.nanmax(np.abs(expected["val_matrix"] - got["val_matrix"])))
    dp = float(np.nanmax(np.abs(expected["p_matrix"] - got["p_matrix"])))
    nan_same = np.array_equal(np.isnan(expected["p_matrix"]), np.isnan(got["p_matrix"]))
    same = bool(np.array_equal(expected["graph"], got["graph"]) and nan_same and dval <= TOL and dp <= TOL)
    return same, dval, dp


def timed(fn, *args) -> tuple[float, float, Any]:
    """(wall s, CPU s, result) of one call ``fn(*args)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, out


class TigramiteCostModel:
    """tigramite's seconds per CI test, from the runs so far (per method)."""

    def __init__(self) -> None:
        self.per_test: dict[str, list[float]] = {"pcmci": [], "pcmciplus": []}

    def add(self, method: str, seconds: float, n_tests: int) -> None:
        self.per_test[method].append(seconds / max(1, n_tests))

    def predict(self, method: str, n_tests: int) -> float:
        known = self.per_test[method] or self.per_test["pcmci"]
        return statistics.median(known) * n_tests if known else 0.0


@dataclass
class Cell:
    method: str
    n_vars: int
    n_time: int
    tau_max: int
    density: str
    tig_wall: list[float] = field(default_factory=list)
    tig_cpu: list[float] = field(default_factory=list)
    fast_wall: list[float] = field(default_factory=list)
    fast_cpu: list[float] = field(default_factory=list)
    tests: list[int] = field(default_factory=list)
    links: list[float] = field(default_factory=list)
    identical: list[bool] = field(default_factory=list)
    dval: float = 0.0
    dp: float = 0.0
    predicted: float = 0.0

    def row(self) -> str:
        med = statistics.median
        tests = med(self.tests)
        fast_wall, fast_cpu = med(self.fast_wall), med(self.fast_cpu)
        cells = [self.density, str(self.n_vars), str(self.n_time), str(self.tau_max), f"{med(self.links):.1f}",
                 f"{tests:.0f}"]
        if self.tig_wall:
            speedup = med([t / f for t, f in zip(self.tig_wall, self.fast_wall)])
            speedup_cpu = med([t / f for t, f in zip(self.tig_cpu, self.fast_cpu)])
            cells += [f"{med(self.tig_cpu):.2f}", f"{1e3 * fast_cpu:.1f}", f"{1e3 * fast_wall:.1f}",
                      f"**{speedup_cpu:.0f}x**", f"{speedup:.0f}x",
                      f"{tests / fast_cpu:,.0f}", f"{1e6 * fast_cpu / tests:.2f}",
                      f"{1e6 * med(self.tig_cpu) / tests:.0f}",
                      f"{'yes' if all(self.identical) else 'NO'} ({len(self.identical)}/{len(self.identical)})",
                      f"{self.dval:.0e} / {self.dp:.0e}"]
        else:
            cells += [f"skipped (~{self.predicted:.0f} s)", f"{1e3 * fast_cpu:.1f}", f"{1e3 * fast_wall:.1f}",
                      f"~{self.predicted / fast_cpu:.0f}x (pred.)", "", f"{tests / fast_cpu:,.0f}",
                      f"{1e6 * fast_cpu / tests:.2f}", "", "n/a", ""]
        return "| " + " | ".join(cells) + " |"


HEADER = ("| density | N | T | tau_max | links/var | tests | tigramite CPU s | fast CPU ms | fast wall ms | "
          "speed-up (CPU) | speed-up (wall) | fast tests/s | fast us/test | tigramite us/test | identical | "
          "max d val / d p |")


def run_cell(cell: Cell, runs: int, repeats: int, model: TigramiteCostModel, budget: float, full: bool) -> Cell:
    for run in range(runs):
        seed = held_out_seed(cell.method, cell.n_vars, cell.n_time, cell.tau_max, cell.density, run)
        data = bench_data(cell.n_vars, cell.n_time, cell.tau_max, cell.density, seed)
        fast_run(cell.method, data, cell.tau_max)  # warm-up (first compile, caches)
        walls, cpus = [], []
        for _ in range(repeats):
            wall, cpu, (result, info) = timed(fast_run, cell.method, data, cell.tau_max)
            walls.append(wall)
            cpus.append(cpu)
        cell.fast_wall.append(statistics.median(walls))
        cell.fast_cpu.append(statistics.median(cpus))
        cell.tests.append(info["n_tests"])
        cell.links.append(true_links_per_variable(cell.n_vars, cell.tau_max, cell.density, seed))
        cell.predicted = model.predict(cell.method, info["n_tests"])
        if full or cell.predicted <= budget:
            wall, cpu, reference = timed(tigramite_run, cell.method, data, cell.tau_max)
            model.add(cell.method, cpu, info["n_tests"])
            cell.tig_wall.append(wall)
            cell.tig_cpu.append(cpu)
            same, dval, dp = compare(reference, result)
            cell.identical.append(same)
            cell.dval, cell.dp = max(cell.dval, dval), max(cell.dp, dp)
    return cell


def _push_and_run(stream: StreamingPCMCI, row: np.ndarray, method: str) -> dict:
    stream.push(row)
    return stream.run(method=method, **OPTIONS[method])


def streaming_latency(method: str, n_vars: int, window: int, tau_max: int, n_windows: int,
                      freeze_heap: bool) -> dict[str, float]:
    """Push one sample + full run per window on a dense held-out SCM; every 20th window checked against batch.

    ``freeze_heap``: as the discovery node does after loading the kernels, move every object alive so far into
    the garbage collector's permanent generation (``gc.freeze``), so a full collection does not rescan them.
    """
    data = bench_data(n_vars, window + n_windows, tau_max, "dense", SEED_BASE - 1 - (method == "pcmciplus"))
    stream = StreamingPCMCI(n_vars, window=window, tau_max=tau_max)
    stream.extend(data[:window])
    stream.run(method=method, **OPTIONS[method])  # warm-up
    if freeze_heap:
        gc.freeze()
    walls, cpus, identical = [], [], True
    for k, row in enumerate(data[window:]):
        wall, cpu, result = timed(_push_and_run, stream, row, method)
        walls.append(wall)
        cpus.append(cpu)
        if k % 20 == 0:
            batch, _ = fast_run(method, stream.window_data(), tau_max)
            identical &= compare(batch, result)[0]
    if freeze_heap:
        gc.unfreeze()
    wall_ms, cpu_ms = np.array(walls) * 1e3, np.array(cpus) * 1e3
    return {"median": float(np.median(wall_ms)), "p95": float(np.percentile(wall_ms, 95)),
            "max": float(wall_ms.max()), "cpu_median": float(np.median(cpu_ms)),
            "cpu_p95": float(np.percentile(cpu_ms, 95)), "identical": identical, "n": n_windows}


def bare_test_cost(n_vars: int, n_time: int, tau_max: int) -> tuple[float, float]:
    """µs per test of the compiled factorisation alone, on the MCI tests of a dense held-out run, and their mean
    |Z| -- the floor under the engine's per-test cost."""
    captured: dict = {}
    original = kernels.partial_correlations

    def spy(*args):
        captured.setdefault("args", args)
        return original(*args)

    kernels.partial_correlations = spy
    try:
        fast_run("pcmci", bench_data(n_vars, n_time, tau_max, "dense", SEED_BASE - 3), tau_max)
    finally:
        kernels.partial_correlations = original
    args = captured["args"]
    cpus = [timed(original, *args)[1] for _ in range(20)]
    return 1e6 * statistics.median(cpus) / len(args[2]), float(np.mean(args[2]) - 2)


def peak_memory_mib(fn) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grid: N in {5, 20}, tau_max in {1, 5}")
    parser.add_argument("--full", action="store_true", help="run tigramite on every cell")
    parser.add_argument("--tigramite-budget", type=float, default=30.0,
                        help="skip tigramite where one run is predicted to take longer (s, CPU)")
    parser.add_argument("--runs", type=int, default=3, help="held-out seeds per cell (medians over them)")
    parser.add_argument("--repeats", type=int, default=5, help="fast-engine repetitions per seed (median)")
    parser.add_argument("--stream-windows", type=int, default=200, help="windows of the streaming measurement")
    parser.add_argument("--out", type=Path, default=None,
                        help="markdown output (default benchmarks/results/pcmci.md, pcmci_quick.md with --quick)")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = REPO / "benchmarks" / "results" / ("pcmci_quick.md" if args.quick else "pcmci.md")
    started = time.time()
    load_start = os.getloadavg()[0]

    sizes = [(5, 1), (5, 5), (20, 1), (20, 5)] if args.quick else \
        [(n, tau) for n in (5, 10, 20, 40) for tau in (1, 3, 5)]
    plus_sizes = [(10, 3)] if args.quick else [(5, 1), (5, 3), (10, 1), (10, 3), (20, 1), (20, 3)]
    model = TigramiteCostModel()
    sections: list[str] = []
    with threadpool_limits(limits=1):
        for method, n_time, grid in (("pcmci", 500, sizes), ("pcmciplus", 600, plus_sizes)):
            title = ("PCMCI (run_pcmci, pc_alpha 0.2, alpha_level 0.05)" if method == "pcmci" else
                     "PCMCI+ (run_pcmciplus with tigramite's defaults: pc_alpha 0.01, majority rule, "
                     "conflict resolution)")
            print(f"\n### {title}\n\n{HEADER}\n|" + "---|" * 16, flush=True)
            rows = []
            for n_vars, tau_max in grid:
                for density in DENSITIES:
                    cell = run_cell(Cell(method, n_vars, n_time, tau_max, density), args.runs, args.repeats, model,
                                    args.tigramite_budget, args.full)
                    rows.append(cell.row())
                    print(rows[-1], flush=True)
            sections += [f"### {title}", "", HEADER, "|" + "---|" * 16, *rows, ""]

        bare_us, mean_z = bare_test_cost(20, 500, 5)
        stream_lines = []
        for method, n_vars, tau_max in (("pcmci", 20, 5), ("pcmciplus", 20, 5)):
            for freeze in (True, False):
                s = streaming_latency(method, n_vars, 500, tau_max, args.stream_windows, freeze)
                how = "start-up heap frozen, as the node runs" if freeze else "heap not frozen"
                stream_lines.append(
                    f"- {method}, N={n_vars}, window 500, tau_max={tau_max}, dense, {how} ({s['n']} windows, push "
                    f"1 sample + run): CPU median {s['cpu_median']:.1f} ms, **p95 {s['cpu_p95']:.1f} ms**; wall "
                    f"median {s['median']:.1f} ms, p95 {s['p95']:.1f} ms, max {s['max']:.1f} ms (10 Hz budget "
                    f"100 ms); equal to batch on every 20th window: {'yes' if s['identical'] else 'NO'}.")
                print(stream_lines[-1], flush=True)
        target = bench_data(20, 500, 5, "dense", SEED_BASE - 3)
        fast_peak = peak_memory_mib(lambda: fast_run("pcmci", target, 5))
        tig_peak = peak_memory_mib(lambda: tigramite_run("pcmci", target, 5))
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    extra = [
        "### Streaming (StreamingPCMCI, as the discovery node runs at 10 Hz)", "",
        "One core's time per update is the CPU column; wall times include waiting for the shared cores. A full "
        "garbage collection scans every live object (~150k after importing numba, scipy and tigramite) and costs "
        "~100 ms; the node freezes its start-up heap (gc.freeze) after loading the kernels so that such a collection "
        "does not land on a 10 Hz update. Both are shown.", "", *stream_lines, "",
        "### Per-test cost", "",
        f"Compiled factorisation alone (numba kernel, the MCI tests of a dense N=20, T=500, tau_max=5 run, mean "
        f"|Z| = {mean_z:.1f}): **{bare_us:.2f} us per test** -- the floor under the end-to-end 'fast us/test' "
        "above, which also covers the moment matrix, PC1 bookkeeping, graph assembly and Python overhead. "
        f"Kernels: {'numba' if kernels.AVAILABLE else 'numpy fallback: ' + kernels.unavailable_reason()}.", "",
        f"Peak traced Python memory (tracemalloc), N=20 T=500 tau_max=5 dense: fast {fast_peak:.1f} MiB, "
        f"tigramite {tig_peak:.1f} MiB; process max RSS {rss_mib:.0f} MiB.", ""]
    print("\n".join(extra))
    machine = (f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy "
               f"{np.__version__}, BLAS threads 1")
    cmd = ".venv/bin/python benchmarks/bench_pcmci.py" + (" --quick" if args.quick else "") + \
        (" --full" if args.full else "")
    minutes = (time.time() - started) / 60
    report = [
        "# PCMCI / PCMCI+ benchmark: tigramite vs the fast engine", "",
        f"Command: `{cmd}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine}; {minutes:.0f} min). "
        f"**The machine was shared** (1-min load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at "
        "the end, on 2 cores), so wall times of both engines are inflated; each speed-up compares both engines on "
        "the same data in the same run. The speed-up is given on CPU time (process time of this single-threaded "
        "process): under load a long tigramite run is preempted many times while a few-millisecond fast run "
        "often is not, so wall-time ratios overstate the speed-up (the wall column shows them). 'tests/s' and "
        "'us/test' are per CPU second.", "",
        f"ParCorr(significance='analytic'); seeded linear SCMs (causal_nodes.sim.scm.random_linear_scm, true lags <= "
        f"min(tau_max, 3)) with {', '.join(f'{k} = {v:g}' for k, v in DENSITIES.items())} expected lagged "
        "cross-parents per variable plus contemporaneous links, on held-out seeds (>= 7,000,000, never used in "
        f"development). Each cell: {args.runs} seeds; per seed tigramite once, the fast engine {args.repeats} times "
        "(median); the table shows medians over the seeds. 'links/var': true cross links per variable of the "
        "simulated structure (lagged and contemporaneous); "
        "'tests': CI tests the fast engine answered; 'identical': same graph strings and NaN pattern, |d val|, "
        "|d p| <= 1e-8 on every seed (count); tigramite skipped where one run was predicted to exceed "
        f"{args.tigramite_budget:.0f} s.", "",
        *sections, *extra]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(report))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
