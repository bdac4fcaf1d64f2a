"""Fleet benchmark: the same simulated fleet analysed serially and on a LocalCluster, side by side, in one run.

    source scripts/env.sh
    nice -n 10 python benchmarks/bench_fleet.py --fleet /tmp/fleet_bench --bags 50 --duration-s 600 --workers 2 \
        --out benchmarks/results/fleet.md

The fleet (``causal_nodes.sim.synthetic_fleet``, as ``scripts/simulate_fleet.py``: four physical scenarios, one
seed per bag) is generated first where the folder lacks bags of the plan; generation is not part of the comparison. Then ``causal_nodes.fleet.run_fleet`` runs on every bag with
``--scheduler none`` and with a LocalCluster of ``--workers`` processes (alternating, ``--repeat`` pairs), and the
two summaries are checked to be identical. Reported: wall times and speed-up (cluster start-up included, and
shown), per-bag cost (task wall and CPU seconds), throughput in sim-hours per CPU-hour, result size per bag
(pickled, as Dask ships it; JSON, as the summary stores it), and the scheduler's cost per task (no-op tasks on a
LocalCluster of the same size). The machine's load average is recorded before and after every run: on a shared
machine the parallel speed-up is depressed by other work, so read it together with the load.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from causal_nodes.fleet import FleetConfig, PrioritizationOptions, WindowOptions, run_fleet  # noqa: E402
from causal_nodes.fleet.summary import (  # noqa: E402
    AggregationOptions,
    aggregate,
    bag_json,
    summary_json,
    without_run_details,
)
from causal_nodes.sim.synthetic_fleet import fleet_plan, write_fleet  # noqa: E402


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def _noop(x: int) -> int:
    return x


def scheduler_overhead(workers: int, tasks: int) -> dict[str, float]:
    """Seconds per task of no-op tasks: batch throughput (map) and one-by-one round trip (submit + result)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"}) as cluster, \
            Client(cluster) as client:
        client.gather(client.map(_noop, range(50), pure=False))  # warm up
        started = time.perf_counter()
        client.gather(client.map(_noop, range(tasks), pure=False))
        batch = (time.perf_counter() - started) / tasks
        started = time.perf_counter()
        for k in range(50):
            client.submit(_noop, k, pure=False).result()
        single = (time.perf_counter() - started) / 50
    return {"batch_s_per_task": batch, "round_trip_s": single}


def _timed(label: str, bags: list[str], config: FleetConfig, scheduler: str, workers: int) -> dict:
    before = _load()
    run = run_fleet(bags, config, scheduler=scheduler, workers=workers, dashboard_address=None,
                    log=lambda _: None)
    after = _load()
    print(f"{label}: {run.wall_s:.1f} s wall (start-up {run.startup_s:.1f} s), load {before} -> {after}", flush=True)
    return {"run": run, "load_before": before, "load_after": after}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleet", type=Path, default=Path("/tmp/fleet_bench"))
    parser.add_argument("--bags", type=int, default=50)
    parser.add_argument("--duration-s", type=float, default=600.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="serial/LocalCluster pairs, alternating order")
    parser.add_argument("--generate-jobs", type=int, default=2)
    parser.add_argument("--window", type=int, default=300)
    parser.add_argument("--stride", type=int, default=100)
    parser.add_argument("--prioritize", default=None, metavar="TARGET", help="also prioritize every window")
    parser.add_argument("--noop-tasks", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=None, help="Markdown results (and .json beside it)")
    args = parser.parse_args()

    plan = fleet_plan(args.fleet, args.bags)
    missing = [entry for entry in plan if not Path(entry.bag).exists()]
    if missing:
        print(f"generating {len(missing)} of {args.bags} bags of {args.duration_s:g} s in {args.fleet} …", flush=True)
    started = time.perf_counter()
    cpu = write_fleet(args.fleet, plan, args.duration_s, args.generate_jobs)  # keeps the bags that exist
    if missing:
        print(f"generated in {time.perf_counter() - started:.0f} s wall, {cpu:.0f} s CPU", flush=True)
    bags = [entry.bag for entry in plan]
    config = FleetConfig(window=WindowOptions(length=args.window, stride=args.stride),
                         prioritization=PrioritizationOptions(args.prioritize) if args.prioritize else None)
    runs: dict[str, list[dict]] = {"serial": [], "local": []}
    for k in range(args.repeat):
        order = ("serial", "local") if k % 2 == 0 else ("local", "serial")
        for label in order:
            scheduler = "none" if label == "serial" else "local"
            runs[label].append(_timed(label, bags, config, scheduler, args.workers))
    overhead = scheduler_overhead(args.workers, args.noop_tasks)

    options = AggregationOptions(bootstrap=200, permutations=100)
    reference = without_run_details(summary_json(aggregate(runs["serial"][0]["run"], config, options)))
    identical = all(without_run_details(summary_json(aggregate(r["run"], config, options))) == reference
                    for label in runs for r in runs[label])
    serial_run = runs["serial"][0]["run"]
    results = [r for r in serial_run.results if r.ok]
    sim_hours = sum(r.duration_s for r in results) / 3600.0
    cpu_s = [r.timing["cpu_s"] for r in results]
    task_s = [r.timing["seconds"] for r in results]
    pickled = [len(pickle.dumps(r)) for r in results]
    as_json = [len(json.dumps(bag_json(r, {}))) for r in results]
    serial_wall = [r["run"].wall_s for r in runs["serial"]]
    local_wall = [r["run"].wall_s for r in runs["local"]]
    local_startup = [r["run"].startup_s for r in runs["local"]]
    speedups = [s / p for s, p in zip(serial_wall, local_wall)]
    speedups_ex = [s / (p - u) for s, p, u in zip(serial_wall, local_wall, local_startup)]
    record = {
        "command": " ".join(["python", "benchmarks/bench_fleet.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "bags": len(bags), "bags_ok": len(results), "sim_hours": sim_hours, "windows": sum(len(r.windows)
                                                                                           for r in results),
        "window": args.window, "stride": args.stride, "workers": args.workers, "prioritize": args.prioritize,
        "serial_wall_s": serial_wall, "local_wall_s": local_wall, "local_startup_s": local_startup,
        "speedup": speedups, "speedup_without_startup": speedups_ex,
        "loads": {label: [(r["load_before"], r["load_after"]) for r in runs[label]] for label in runs},
        "identical_summaries": identical,
        "per_bag_cpu_s_mean": sum(cpu_s) / len(cpu_s), "per_bag_task_s_mean": sum(task_s) / len(task_s),
        # the workers' CPU per bag: equal to the serial one when the slow-down is only the CPU share they got
        "local_per_bag_cpu_s_mean": [sum(b.timing.get("cpu_s", 0.0) for b in r["run"].results if b.ok)
                                     / max(1, sum(1 for b in r["run"].results if b.ok)) for r in runs["local"]],
        "sim_hours_per_cpu_hour": sim_hours / (sum(cpu_s) / 3600.0),
        "result_pickle_bytes_mean": sum(pickled) / len(pickled), "result_json_bytes_mean": sum(as_json) / len(as_json),
        "scheduler_overhead": overhead,
    }
    text = _markdown(record)
    print(text)
    if args.out:
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(record, indent=1))
    return 0 if identical else 1


def _markdown(r: dict) -> str:
    lines = [
        "# Fleet benchmark: serial vs LocalCluster",
        "",
        f"Command: `{r['command']}`  ",
        f"Machine: {r['machine']}; shared with other work — load averages (1/5/15 min) before -> after each run below.",
        "",
        f"Fleet: {r['bags']} bags ({r['bags_ok']} analysed), {r['sim_hours']:.2f} sim-hours, {r['windows']} window graphs "
        f"(window {r['window']}, stride {r['stride']}), prioritization: {r['prioritize'] or 'off'}.",
        "",
        "| run | wall s | cluster start-up s | speed-up | speed-up without start-up | load before -> after |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for k, wall in enumerate(r["serial_wall_s"]):
        before, after = r["loads"]["serial"][k]
        lines.append(f"| serial #{k + 1} | {wall:.1f} | – | 1.00 | – | {before} -> {after} |")
    for k, wall in enumerate(r["local_wall_s"]):
        before, after = r["loads"]["local"][k]
        lines.append(f"| LocalCluster {r['workers']} workers #{k + 1} | {wall:.1f} | {r['local_startup_s'][k]:.1f} | "
                     f"{r['speedup'][k]:.2f} | {r['speedup_without_startup'][k]:.2f} | {before} -> {after} |")
    o = r["scheduler_overhead"]
    lines += [
        "",
        f"Summaries identical (serial vs LocalCluster, timings aside): **{r['identical_summaries']}**.",
        "",
        "| per bag (serial run) | value |",
        "|---|---:|",
        f"| task wall time, mean | {r['per_bag_task_s_mean']:.2f} s |",
        f"| task CPU time, mean | {r['per_bag_cpu_s_mean']:.2f} s |",
        *[f"| task CPU time in the LocalCluster run #{k + 1}, mean | {v:.2f} s |"
          for k, v in enumerate(r.get("local_per_bag_cpu_s_mean", []))],
        f"| throughput | {r['sim_hours_per_cpu_hour']:.0f} sim-hours per CPU-hour |",
        f"| result size, pickled (what Dask ships back) | {r['result_pickle_bytes_mean'] / 1024:.0f} KiB |",
        f"| result size, JSON (summary) | {r['result_json_bytes_mean'] / 1024:.0f} KiB |",
        f"| scheduler cost per no-op task, batch (map) | {1000 * o['batch_s_per_task']:.2f} ms |",
        f"| scheduler round trip per task (submit + result) | {1000 * o['round_trip_s']:.2f} ms |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
