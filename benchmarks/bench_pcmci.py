"""Benchmark: tigramite PCMCI vs the exact fast engine (causal_nodes.discovery.fast.pcmci), side by side.

Both run in this process on the same seeded linear SCM data with ParCorr
(analytic significance), pc_alpha=0.2, alpha_level=0.05. Prints a markdown
table (N, T, tau_max, tigramite s, fast s, speed-up, identical) plus the
streaming per-window latency (push 1 sample + run) and peak memory, and writes
it to benchmarks/results/pcmci.md.

BLAS is pinned to one thread (set before numpy is imported) so numbers are
single-core. tigramite is run once per configuration, the fast engine
``--repeats`` times (median reported). Configurations whose predicted
tigramite time exceeds ``--tigramite-budget`` seconds are skipped for
tigramite unless ``--full`` (prediction: measured seconds-per-test at the
calibration points times the number of tests the fast engine ran).

    .venv/bin/python benchmarks/bench_pcmci.py --quick
    .venv/bin/python benchmarks/bench_pcmci.py            # full grid, tigramite capped
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from causal_nodes.discovery.fast.pcmci import StreamingPCMCI, run_fast_with_diagnostics  # noqa: E402
from causal_nodes.sim.scm import random_linear_scm  # noqa: E402

OPTIONS = dict(pc_alpha=0.2, alpha_level=0.05)
TOL = 1e-8


def bench_data(n_vars: int, n_time: int, tau_max: int, seed: int) -> np.ndarray:
    """Seeded linear SCM, true lags <= min(tau_max, 3), ~2 cross-parents per variable."""
    max_lag = max(1, min(tau_max, 3))
    return random_linear_scm(n_vars, n_time, max_lag=max_lag,
                             density=min(0.3, 2.0 / (n_vars * max_lag)), seed=seed)


def tigramite_run(data: np.ndarray, tau_max: int) -> dict:
    from tigramite.data_processing import DataFrame
    from tigramite.independence_tests.parcorr import ParCorr
    from tigramite.pcmci import PCMCI

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pcmci = PCMCI(dataframe=DataFrame(data), cond_ind_test=ParCorr(significance="analytic"),
                      verbosity=0)
        return pcmci.run_pcmci(tau_max=tau_max, **OPTIONS)


def compare(expected: dict, got: dict) -> tuple[bool, float, float]:
    dval = float(np.nanmax(np.abs(expected["val_matrix"] - got["val_matrix"])))
    dp = float(np.nanmax(np.abs(expected["p_matrix"] - got["p_matrix"])))
    nan_same = np.array_equal(np.isnan(expected["p_matrix"]), np.isnan(got["p_matrix"]))
    same = bool(np.array_equal(expected["graph"], got["graph"]) and nan_same
                and dval <= TOL and dp <= TOL)
    return same, dval, dp


def time_fast(data: np.ndarray, tau_max: int, repeats: int) -> tuple[float, dict, dict[str, int]]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result, info = run_fast_with_diagnostics(data, tau_max=tau_max, **OPTIONS)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result, info


class TigramiteCostModel:
    """seconds per CI test ~ a + b*T, fitted on the calibration runs."""

    def __init__(self) -> None:
        self.points: list[tuple[int, float]] = []

    def add(self, n_time: int, seconds: float, n_tests: int) -> None:
        self.points.append((n_time, seconds / max(1, n_tests)))

    def predict(self, n_time: int, n_tests: int) -> float:
        if len(self.points) < 2:
            return 0.0
        ts, costs = zip(*self.points)
        if len(set(ts)) < 2:
            return costs[-1] * n_tests
        b, a = np.polyfit(ts, costs, 1)
        return max(a + b * n_time, min(costs)) * n_tests


def peak_memory_mib(fn) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def streaming_latency(n_vars: int, window: int, tau_max: int, n_windows: int) -> dict[str, float]:
    data = bench_data(n_vars, window + n_windows, tau_max, seed=123)
    stream = StreamingPCMCI(n_vars, window=window, tau_max=tau_max)
    for row in data[:window]:
        stream.push(row)
    stream.run(tau_max=tau_max, **OPTIONS)  # warm-up (first statistics)
    latencies, cpu, identical = [], [], True
    for k, row in enumerate(data[window:]):
        start, start_cpu = time.perf_counter(), time.process_time()
        stream.push(row)
        result = stream.run(tau_max=tau_max, **OPTIONS)
        latencies.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        if k % max(1, n_windows // 5) == 0:
            batch, _ = run_fast_with_diagnostics(stream.window_data(), tau_max=tau_max, **OPTIONS)
            identical &= compare(batch, result)[0]
    lat = np.array(latencies) * 1e3
    return {"median_ms": float(np.median(lat)), "p95_ms": float(np.percentile(lat, 95)),
            "max_ms": float(lat.max()), "cpu_median_ms": float(np.median(cpu) * 1e3),
            "cpu_p95_ms": float(np.percentile(cpu, 95) * 1e3), "identical": identical,
            "n_windows": n_windows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small subset (N in {5, 20}, T in {300, 500}, tau_max in {1, 5})")
    parser.add_argument("--full", action="store_true", help="run tigramite on every configuration")
    parser.add_argument("--tigramite-budget", type=float, default=60.0,
                        help="skip tigramite where its predicted time exceeds this (s)")
    parser.add_argument("--repeats", type=int, default=3, help="fast-engine repetitions (median)")
    parser.add_argument("--stream-windows", type=int, default=100,
                        help="windows for the streaming latency measurement")
    parser.add_argument("--out", type=Path, default=None,
                        help="markdown output (default benchmarks/results/pcmci.md, "
                             "pcmci_quick.md with --quick)")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = REPO / "benchmarks" / "results" / ("pcmci_quick.md" if args.quick else "pcmci.md")

    if args.quick:
        grid = [(5, 300, 1), (5, 500, 5), (20, 300, 1), (20, 500, 5)]
    else:
        grid = [(n, t, tau) for n in (5, 10, 20, 40) for t in (300, 1000, 3000) for tau in (1, 3, 5)]
        grid.insert(grid.index((20, 1000, 1)), (20, 500, 5))  # the streaming/target size
    model = TigramiteCostModel()
    for n_time in (300, 3000):  # calibration runs for the skip rule (cheap: N=5, tau_max=1)
        data = bench_data(5, n_time, 1, seed=1)
        start = time.perf_counter()
        tigramite_run(data, 1)
        seconds = time.perf_counter() - start
        _, _, info = time_fast(data, 1, 1)
        model.add(n_time, seconds, info["n_tests"])

    rows = []
    header = ("| N | T | tau_max | tests | tigramite s | fast s | speed-up | identical | "
              "max abs d val | max abs d p |")
    print(header)
    print("|" + "---|" * 10)
    for n_vars, n_time, tau_max in grid:
        data = bench_data(n_vars, n_time, tau_max, seed=1000 * n_vars + n_time + tau_max)
        fast_s, fast_res, info = time_fast(data, tau_max, args.repeats)
        predicted = model.predict(n_time, info["n_tests"])
        if args.full or predicted <= args.tigramite_budget:
            start = time.perf_counter()
            tig_res = tigramite_run(data, tau_max)
            tig_s = time.perf_counter() - start
            model.add(n_time, tig_s, info["n_tests"])
            same, dval, dp = compare(tig_res, fast_res)
            cells = [f"{tig_s:.3f}", f"{fast_s:.4f}", f"{tig_s / fast_s:.0f}x",
                     "yes" if same else "NO", f"{dval:.1e}", f"{dp:.1e}"]
        else:
            cells = [f"skipped (~{predicted:.0f} s predicted)", f"{fast_s:.4f}",
                     f"~{predicted / fast_s:.0f}x (predicted)", "n/a", "", ""]
        line = f"| {n_vars} | {n_time} | {tau_max} | {info['n_tests']} | " + " | ".join(cells) + " |"
        rows.append(line)
        print(line, flush=True)

    target = bench_data(20, 500, 5, seed=20500)
    fast_peak = peak_memory_mib(lambda: run_fast_with_diagnostics(target, tau_max=5, **OPTIONS))
    tig_peak = peak_memory_mib(lambda: tigramite_run(target, 5))
    stream = streaming_latency(20, 500, 5, args.stream_windows)
    stream_peak = peak_memory_mib(lambda: streaming_latency(20, 500, 5, 3))
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    extra = [
        "",
        f"Streaming (StreamingPCMCI, N=20, window T=500, tau_max=5, push 1 sample + run, "
        f"{stream['n_windows']} windows): wall median {stream['median_ms']:.1f} ms, "
        f"p95 {stream['p95_ms']:.1f} ms, max {stream['max_ms']:.1f} ms per window; CPU time "
        f"median {stream['cpu_median_ms']:.1f} ms, p95 {stream['cpu_p95_ms']:.1f} ms "
        f"(10 Hz budget: 100 ms); equal to batch run_fast on sampled windows: "
        f"{'yes' if stream['identical'] else 'NO'}.",
        "",
        f"Peak traced Python memory (tracemalloc), N=20 T=500 tau_max=5: fast {fast_peak:.1f} MiB, "
        f"tigramite {tig_peak:.1f} MiB, streaming {stream_peak:.1f} MiB; process max RSS "
        f"{rss_mib:.0f} MiB.",
    ]
    for line in extra:
        print(line)
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
               f"{platform.python_version()}, numpy {np.__version__}, BLAS threads "
               f"{os.environ.get('OPENBLAS_NUM_THREADS')}")
    cmd = ".venv/bin/python benchmarks/bench_pcmci.py" + (" --quick" if args.quick else "") + \
        (" --full" if args.full else "")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    report = ["# PCMCI benchmark: tigramite vs fast engine", "",
              f"Command: `{cmd}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine}; "
              f"1-min load average at the end {load:.1f} -- the machine is shared, so wall times "
              "of both engines are inflated alike; the speed-up compares them in the same run).",
              "ParCorr(significance='analytic'), pc_alpha=0.2, alpha_level=0.05, seeded linear SCM "
              "(causal_nodes.sim.lagged_scm, true lags <= min(tau_max, 3), ~2 cross-parents per "
              "variable); 'tests' = CI tests the fast engine answered; "
              "tigramite timed once, fast engine median of "
              f"{args.repeats}; 'identical' = same graph strings and |d val|, |d p| <= 1e-8.", "",
              header, "|" + "---|" * 10, *rows, *extra, ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(report))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
