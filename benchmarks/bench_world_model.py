"""Benchmark the world-model runtime (ONNX Runtime CPU, one thread): step latency, constant cost on
an endless stream, batched rollouts vs a loop of single steps.

    python benchmarks/bench_world_model.py [--model models/world_model.onnx] [--out benchmarks/results/world_model.md]

Wall-clock and process CPU time are both reported: the development machine is shared, so CPU time
is the steadier measure of the work itself.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from causal_nodes.world_model.runtime import WorldModel  # noqa: E402


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def people_at(t: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n people milling around the robot; positions change every step."""
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False) + 0.01 * t
    r = 2.0 + np.sin(0.05 * t + np.arange(n))
    p = np.stack([r * np.cos(ang), r * np.sin(ang), -np.sin(ang), np.cos(ang)], axis=1)
    return p + rng.normal(scale=0.01, size=p.shape)


def timed(fn, repeats: int) -> tuple:
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return float(np.median(walls)) * 1e3, float(np.percentile(walls, 90)) * 1e3, float(np.median(cpus)) * 1e3


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "world_model.onnx")
    ap.add_argument("--people", type=int, default=20)
    ap.add_argument("--stream-steps", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    wm = WorldModel(args.model, backend="cpu", threads=1)
    n = args.people
    rows = []

    # 1. one step, 20 people
    t = [0]

    def one_step():
        wm.step(people_at(t[0], n, rng), robot_action=(0.4, 0.1))
        t[0] += 1

    for _ in range(50):
        one_step()
    med, p90, cpu = timed(one_step, 500)
    rows.append((f"step, {n} people", med, p90, cpu))

    # 2. endless stream: cost and memory at step 100 vs step N
    wm.reset()
    t[0] = 0
    samples = {}
    checkpoints = {100: None, args.stream_steps: None}
    for step in range(1, args.stream_steps + 1):
        if step in (100 - 50, args.stream_steps - 50):
            target = step + 50
            med, p90, cpu = timed(one_step, 100)
            samples[target] = (med, p90, cpu, rss_mb())
            continue
        if any(s - 50 <= step < s + 50 for s in checkpoints if s in samples):
            continue
        one_step()
    a, b = samples[100], samples[args.stream_steps]
    rows.append(("step @ stream step 100", *a[:3]))
    rows.append((f"step @ stream step {args.stream_steps}", *b[:3]))

    # 3. rollouts: 32 candidates × 12 steps, batched graph vs looping single steps
    acts = rng.normal(scale=0.4, size=(32, 12, 2))
    wm.rollout(12, acts)
    med, p90, cpu = timed(lambda: wm.rollout(12, acts), 20)
    rows.append((f"rollout 32×12, {n} people (one batched call)", med, p90, cpu))
    med, p90, cpu = timed(lambda: [wm.predict_sequential(12, acts[k]) for k in range(32)], 3)
    rows.append((f"rollout 32×12, {n} people (loop of 384 step calls)", med, p90, cpu))

    wm2 = WorldModel(args.model, backend="cpu", threads=2)
    for k in range(8):
        wm2.step(people_at(k, n, rng), robot_action=(0.4, 0.1))
    wm2.rollout(12, acts)
    med, p90, cpu = timed(lambda: wm2.rollout(12, acts), 20)
    rows.append((f"rollout 32×12, {n} people (one batched call, 2 threads)", med, p90, cpu))

    lines = [f"World model runtime benchmark — `{args.model.name}`, ONNX Runtime CPU EP, 1 thread, "
             f"{platform.processor() or platform.machine()}, Python {platform.python_version()}", "",
             "| case | wall median ms | wall p90 ms | CPU median ms |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {m:.3f} | {p:.3f} | {c:.3f} |" for name, m, p, c in rows]
    lines += [
        "",
        f"Endless stream: CPU per step at step {args.stream_steps} / step 100 = {b[2] / a[2]:.3f}; "
        f"RSS {a[3]:.1f} MB → {b[3]:.1f} MB ({100 * (b[3] - a[3]) / a[3]:+.2f} %); cache shape {wm.cache_shape} fixed.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
