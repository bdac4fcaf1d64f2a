"""Clean shutdown under load: N times, start the pipeline (variables, discovery, prioritizer), feed it sensor data
until it publishes graphs, send SIGINT in the middle of the load, and count process exits that are not clean (a
signal such as SIGSEGV, a non-zero code, a traceback, `RCLError`, or no exit within the timeout).

Two process layouts: ``launch`` -- each node in its own process through its ``main()`` (``run_node``), as
``ros2 launch`` / ``ros2 run`` start them, all three signalled at once as launch does; ``run`` -- the three composed
in one ``causal-nodes run`` process. Issue #11 target: 0 unclean exits in 50 SIGINTs. ``--baseline REV`` runs the
same loop on the code of a git revision (before the fix: rclpy's signal handler, a multi-threaded executor) in the
same run, for comparison.

  nice -n 10 python benchmarks/bench_shutdown.py --runs 50 --baseline de0e1a5 --out benchmarks/results/shutdown.md
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test"))  # the hostile suite's sensor source

FAILURE_MARKS = ("Traceback", "RCLError", "Segmentation fault", "context is not valid", "core dumped")
PARAMS = """variables_node:
  ros__parameters:
    variables: [human_speed, human_robot_distance, robot_linear_speed, min_scan_range]
discovery_node:
  ros__parameters:
    window_length: 1000
    min_samples: 30
    update_period_s: 0.1
    tau_max: 5
    pc_alpha: 0.5
causal_prioritizer:
  ros__parameters:
    target: human_robot_distance
    bootstrap: 200
    effect_model: linear
"""


def export_revision(rev: str, into: Path) -> Path:
    """The ``causal_nodes`` package of git revision ``rev``, unpacked into ``into`` (for PYTHONPATH)."""
    into.mkdir(parents=True, exist_ok=True)
    archive = into / "rev.tar"
    subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(archive), rev, "causal_nodes"],
                   check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


LAYOUTS = {
    "launch": [["-m", "causal_nodes.nodes.variables_node"], ["-m", "causal_nodes.nodes.discovery_node"],
               ["-m", "causal_nodes.nodes.prioritizer_node"]],
    "run": [["-m", "causal_nodes", "run"]],
}


def one_run(ros, sensors, graphs, code_root: Path | None, params: Path, layout: str, load_s: float,
            timeout_s: float) -> list[dict]:
    """One start - load - SIGINT cycle; an outcome per process."""
    env = dict(os.environ)
    if code_root is not None:
        env["PYTHONPATH"] = f"{code_root}{os.pathsep}{env.get('PYTHONPATH', '')}"
    graphs.clear()
    processes = []
    for command in LAYOUTS[layout]:
        args = command + (["--params", str(params)] if layout == "run" else ["--ros-args", "--params-file", str(params)])
        processes.append(subprocess.Popen([sys.executable, *args], env=env, cwd=params.parent,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    outcomes = [{"process": " ".join(c[1:2]).split(".")[-1]} for c in LAYOUTS[layout]]
    try:
        ros.spin_until(lambda: sensors.scan.get_subscription_count() > 0, 60)
        t = 1000.0 + random.random() * 1000
        deadline = time.monotonic() + 60
        while not graphs and time.monotonic() < deadline and all(p.poll() is None for p in processes):
            t = sensors.run(ros, t, 0.5, wall_dt=0.005)
        graphs_seen = len(graphs)
        load_until = time.monotonic() + random.uniform(0.2, load_s)  # SIGINT at a random moment of the load
        while time.monotonic() < load_until:
            t = sensors.run(ros, t, 0.1, wall_dt=0.005)
        stop_sent = time.monotonic()
        for process in processes:
            process.send_signal(signal.SIGINT)
        sensors.run(ros, t, 0.2, wall_dt=0.005)  # keep the input coming while they shut down
        for process, outcome in zip(processes, outcomes):
            try:
                _, err = process.communicate(timeout=max(1.0, timeout_s - (time.monotonic() - stop_sent)))
                outcome["code"] = process.returncode
            except subprocess.TimeoutExpired:
                process.kill()
                _, err = process.communicate()
                outcome["code"] = "timeout"
            outcome["shutdown_s"] = time.monotonic() - stop_sent
            outcome["marks"] = [mark for mark in FAILURE_MARKS if mark in err]
            outcome["clean"] = outcome["code"] == 0 and not outcome["marks"]
            outcome["graphs_before_sigint"] = graphs_seen
            outcome["stderr_tail"] = err.strip().splitlines()[-1] if err.strip() else ""
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return outcomes


def describe(code) -> str:
    if isinstance(code, int) and code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit {code}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="SIGINT cycles per layout and code version")
    parser.add_argument("--layouts", nargs="+", choices=sorted(LAYOUTS), default=["launch", "run"])
    parser.add_argument("--baseline", default=None, metavar="REV", help="also run the code of this git revision")
    parser.add_argument("--baseline-runs", type=int, default=None, help="SIGINT cycles of the baseline (default --runs)")
    parser.add_argument("--load-s", type=float, default=2.0, help="longest load after the first graph [s]")
    parser.add_argument("--timeout-s", type=float, default=30.0, help="longest wait for an exit after SIGINT [s]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write a Markdown report here")
    args = parser.parse_args()
    random.seed(args.seed)
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(120, 200)))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

    from conftest import RosHarness
    from hostile_tools import Sensors

    from causal_msgs.msg import CausalGraph
    from causal_nodes.nodes.common import LATCHED_QOS

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_shutdown_") as tmp:
        tmp_path = Path(tmp)
        params = tmp_path / "params.yaml"
        params.write_text(PARAMS)
        variants: list[tuple[str, Path | None, int]] = [("this tree", None, args.runs)]
        if args.baseline:
            variants.insert(0, (f"baseline {args.baseline}", export_revision(args.baseline, tmp_path / "baseline"),
                                args.baseline_runs or args.runs))
        ros = RosHarness()
        try:
            io = ros.node("bench_shutdown_load")
            sensors = Sensors(io, seed=args.seed)
            graphs: list = []
            io.create_subscription(CausalGraph, "/causal/graph", graphs.append, LATCHED_QOS)
            for name, root, runs in variants:
                for layout in args.layouts:
                    outcomes = []
                    for k in range(runs):
                        cycle = one_run(ros, sensors, graphs, root, params, layout, args.load_s, args.timeout_s)
                        outcomes += cycle
                        bad = [f"{o['process']}: {describe(o['code'])} {o['marks']} {o['stderr_tail'][:100]}"
                               for o in cycle if not o["clean"]]
                        print(f"{name} / {layout} run {k + 1}/{runs}: "
                              f"{'clean' if not bad else 'UNCLEAN ' + '; '.join(bad)}, graphs "
                              f"{cycle[0]['graphs_before_sigint']}, shutdown "
                              f"{max(o['shutdown_s'] for o in cycle):.2f} s", flush=True)
                    codes = Counter(describe(o["code"]) for o in outcomes)
                    marks = Counter(mark for o in outcomes for mark in o["marks"])
                    shutdown = sorted(o["shutdown_s"] for o in outcomes)
                    rows.append((name, layout, runs, len(outcomes), sum(not o["clean"] for o in outcomes),
                                 dict(codes), dict(marks), shutdown[len(shutdown) // 2], shutdown[-1],
                                 sum(o["graphs_before_sigint"] > 0 for o in outcomes)))
        finally:
            ros.close()
    lines = [
        "| code | layout | SIGINT cycles | process exits | unclean | exit codes | stderr marks | median shutdown s "
        "| max shutdown s | exits after graphs |",
        "|---|---|---:|---:|---:|---|---|---:|---:|---:|",
    ]
    for name, layout, runs, exits, unclean, codes, marks, median, worst, loaded in rows:
        lines.append(f"| {name} | {layout} | {runs} | {exits} | {unclean} | {codes} | {marks or '-'} | {median:.2f} "
                     f"| {worst:.2f} | {loaded} |")
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(
            "# Clean shutdown under load (issue #11)\n\n"
            f"`{' '.join(['python', 'benchmarks/bench_shutdown.py'] + sys.argv[1:])}`\n\n"
            "Each SIGINT cycle: the three nodes (variables, discovery, prioritizer) as three `main()` processes "
            "(`launch`, as `ros2 launch` starts them) or one `causal-nodes run` process (`run`); sensor input at "
            "~600 messages/s until graphs come, SIGINT at a random moment of up to "
            f"{args.load_s} s of further load. Unclean: killed by a signal, non-zero exit, a traceback, `RCLError`, "
            "or no exit within the timeout. Shared 2-core machine.\n\n" + report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
