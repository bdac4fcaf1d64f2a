"""Where the ROS-mode soak's memory grows: ``causal-nodes run`` (the soak's three nodes, same params) in a child
process under ``tracemalloc``, fed by ``bench_soak``'s driver at a chosen rate; the child compares snapshots to one
taken after a warm-up and prints the allocation sites that grew most (by traceback), with its RSS and the Python
heap traced, so Python-heap growth (tracemalloc sees it) is told apart from native growth (RSS rises, traced flat).

  python benchmarks/profile_soak_memory.py --rate 300 --seconds 240 --warmup-s 40 --out /tmp/soak_profile.txt
  MALLOC_ARENA_MAX=2 python benchmarks/profile_soak_memory.py ...   # fragmentation across arenas or a leak?

``--no-tracemalloc`` runs the child without it (RSS only, the allocator as in the soak); ``--trim`` calls
``malloc_trim(0)`` in the child before every RSS sample (RSS after trimming: memory the allocator holds free is not
counted).
"""
from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "test"))


def child(args) -> int:
    """Runs ``causal-nodes run --params`` in this process, reporting memory every ``--every-s`` seconds."""
    from bench_soak import rss_mb

    from causal_nodes.cli import main as cli_main

    out = open(args.out, "a", buffering=1)  # noqa: SIM115 - open for the process's life
    libc = ctypes.CDLL("libc.so.6") if args.trim else None
    if not args.no_tracemalloc:
        tracemalloc.start(args.depth)

    def report() -> None:
        start = time.monotonic()
        baseline = None
        while True:
            time.sleep(args.every_s)
            elapsed = time.monotonic() - start
            if libc is not None:
                libc.malloc_trim(0)
            rss = rss_mb()
            if args.no_tracemalloc:
                out.write(f"t={elapsed:.0f}s rss={rss:.2f}MiB\n")
                continue
            traced, _peak = tracemalloc.get_traced_memory()
            out.write(f"t={elapsed:.0f}s rss={rss:.2f}MiB traced={traced / 2**20:.2f}MiB\n")
            if baseline is None and elapsed >= args.warmup_s:
                baseline = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
                out.write("baseline taken\n")
            elif baseline is not None:
                snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
                stats = sorted(snap.compare_to(baseline, "traceback"), key=lambda s: -s.size_diff)
                out.write(f"--- top growth since baseline at t={elapsed:.0f}s\n")
                for stat in stats[:args.top]:
                    if stat.size_diff <= 0:
                        break
                    out.write(f"{stat.size_diff / 1024:+.1f} KiB ({stat.count_diff:+d} blocks), "
                              f"now {stat.size / 1024:.1f} KiB\n")
                    for line in stat.traceback.format()[-2 * args.show_frames:]:
                        out.write(f"    {line}\n")
                del snap, stats

    threading.Thread(target=report, daemon=True).start()
    return cli_main(["run", "--params", args.params])


def parent(args) -> int:
    from bench_soak import PARAMS, VARIABLES, RosDriver, rss_mb
    from conftest import RosHarness

    with tempfile.TemporaryDirectory(prefix="soak_profile_") as tmp:
        params = Path(tmp) / "params.yaml"
        params.write_text(PARAMS.format(variables=", ".join(VARIABLES), window=300, bootstrap=20))
        Path(args.out).write_text(f"# {' '.join(sys.argv)}\n")
        command = [sys.executable, __file__, "--child", "--params", str(params), "--out", args.out,
                   "--every-s", str(args.every_s), "--warmup-s", str(args.warmup_s), "--top", str(args.top),
                   "--depth", str(args.depth), "--show-frames", str(args.show_frames)]
        command += ["--no-tracemalloc"] if args.no_tracemalloc else []
        command += ["--trim"] if args.trim else []
        proc = subprocess.Popen(command, cwd=tmp, stdout=subprocess.DEVNULL)
        ros = RosHarness()
        try:
            driver = RosDriver(ros, 0)
            ros.spin_until(lambda: driver.scan.get_subscription_count() > 0, 60)
            ros.spin_for(2.0)
            frames = int(args.rate * args.seconds)
            samples = driver.run(args.rate, frames, proc.pid, sample_every_s=args.every_s)
            for n, r, w in samples:
                print(f"sent {n} child RSS {r:.2f} MiB at {w:.0f} s", flush=True)
            print(f"final child RSS {rss_mb(proc.pid):.2f} MiB; graphs {driver.graphs}, priorities "
                  f"{driver.priorities}; counters {driver.counters()}", flush=True)
        finally:
            proc.send_signal(2)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            ros.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=300.0, help="message sets per second")
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--every-s", type=float, default=20.0, help="seconds between the child's reports")
    parser.add_argument("--warmup-s", type=float, default=40.0, help="child seconds before the baseline snapshot")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--depth", type=int, default=12, help="tracemalloc frames kept per allocation")
    parser.add_argument("--show-frames", type=int, default=6, help="innermost frames printed per site")
    parser.add_argument("--no-tracemalloc", action="store_true")
    parser.add_argument("--trim", action="store_true", help="malloc_trim(0) before each RSS sample")
    parser.add_argument("--out", default="/tmp/soak_profile.txt")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return child(args) if args.child else parent(args)


if __name__ == "__main__":
    sys.exit(main())
