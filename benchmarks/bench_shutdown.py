"""Clean shutdown under load: N times, start `causal-nodes run` (variables, discovery, prioritizer), feed it sensor
data until it publishes graphs, send SIGINT in the middle of the load, and count exits that are not clean (a signal
such as SIGSEGV, a non-zero code, a traceback, `RCLError`, or no exit within the timeout).

Issue #11 target: 0 unclean exits in 50. ``--baseline REV`` runs the same loop on the code of a git revision
(before the fix: rclpy's signal handler and one multi-threaded executor) in the same run, for comparison.

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
    window_length: 100
    min_samples: 30
    update_period_s: 0.2
    tau_max: 1
causal_prioritizer:
  ros__parameters:
    target: human_robot_distance
    bootstrap: 10
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


def one_run(ros, sensors, graphs, code_root: Path | None, params: Path, load_s: float, timeout_s: float) -> dict:
    env = dict(os.environ)
    if code_root is not None:
        env["PYTHONPATH"] = f"{code_root}{os.pathsep}{env.get('PYTHONPATH', '')}"
    graphs.clear()
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "causal_nodes", "run", "--params", str(params)], env=env,
                               cwd=params.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    outcome = {"ready": False}
    try:
        outcome["ready"] = ros.spin_until(lambda: sensors.odom.get_subscription_count() > 0, 60)
        t = 1000.0 + random.random() * 1000
        deadline = time.monotonic() + 60
        while not graphs and time.monotonic() < deadline and process.poll() is None:
            t = sensors.run(ros, t, 0.5, wall_dt=0.005)
        outcome["graphs_before_sigint"] = len(graphs)
        load_until = time.monotonic() + random.uniform(0.2, load_s)  # SIGINT at a random moment of the load
        while time.monotonic() < load_until:
            t = sensors.run(ros, t, 0.1, wall_dt=0.005)
        stop_sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        sensors.run(ros, t, 0.2, wall_dt=0.005)  # keep the input coming while it shuts down
        try:
            _, err = process.communicate(timeout=timeout_s)
            outcome["code"] = process.returncode
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
            outcome["code"] = "timeout"
        outcome["shutdown_s"] = time.monotonic() - stop_sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    outcome["marks"] = [mark for mark in FAILURE_MARKS if mark in err]
    outcome["clean"] = outcome["code"] == 0 and not outcome["marks"]
    outcome["wall_s"] = time.monotonic() - started
    outcome["stderr_tail"] = err.strip().splitlines()[-1] if err.strip() else ""
    return outcome


def describe(code) -> str:
    if isinstance(code, int) and code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit {code}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--baseline", default=None, metavar="REV", help="also run the code of this git revision")
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
        variants: list[tuple[str, Path | None]] = [("this tree", None)]
        if args.baseline:
            variants.insert(0, (f"baseline {args.baseline}", export_revision(args.baseline, tmp_path / "baseline")))
        ros = RosHarness()
        try:
            io = ros.node("bench_shutdown_load")
            sensors = Sensors(io, seed=args.seed)
            graphs: list = []
            io.create_subscription(CausalGraph, "/causal/graph", graphs.append, LATCHED_QOS)
            for name, root in variants:
                outcomes = []
                for k in range(args.runs):
                    outcome = one_run(ros, sensors, graphs, root, params, args.load_s, args.timeout_s)
                    outcomes.append(outcome)
                    status = "clean" if outcome["clean"] else f"UNCLEAN ({describe(outcome['code'])}, " \
                        f"{outcome['marks']}: {outcome['stderr_tail'][:120]})"
                    print(f"{name} run {k + 1}/{args.runs}: {status}, graphs {outcome['graphs_before_sigint']}, "
                          f"shutdown {outcome['shutdown_s']:.2f} s", flush=True)
                codes = Counter(describe(o["code"]) for o in outcomes)
                marks = Counter(mark for o in outcomes for mark in o["marks"])
                shutdown = sorted(o["shutdown_s"] for o in outcomes)
                rows.append((name, len(outcomes), sum(not o["clean"] for o in outcomes), dict(codes), dict(marks),
                             shutdown[len(shutdown) // 2], shutdown[-1],
                             sum(o["graphs_before_sigint"] > 0 for o in outcomes)))
        finally:
            ros.close()
    lines = [
        "| code | runs | unclean exits | exit codes | stderr marks | median shutdown s | max shutdown s | runs with graphs |",
        "|---|---:|---:|---|---|---:|---:|---:|",
    ]
    for name, runs, unclean, codes, marks, median, worst, loaded in rows:
        lines.append(f"| {name} | {runs} | {unclean} | {codes} | {marks or '-'} | {median:.2f} | {worst:.2f} | "
                     f"{loaded} |")
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(
            "# Clean shutdown under load (issue #11)\n\n"
            f"`{' '.join(['python', 'benchmarks/bench_shutdown.py'] + sys.argv[1:])}`\n\n"
            "Each run: `causal-nodes run` (variables, discovery, prioritizer) in a child process, sensor input at "
            "~200 messages/s until graphs come, SIGINT at a random moment of up to "
            f"{args.load_s} s of further load. Unclean: killed by a signal, non-zero exit, a traceback, `RCLError`, "
            "or no exit within the timeout. Shared 2-core machine.\n\n" + report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
