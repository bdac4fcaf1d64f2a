"""GPU check of the world model: every backend against ONNX Runtime CPU on the same stream, with latencies.

    python benchmarks/gpu_check.py [--model models/world_model.onnx] [--out benchmarks/results/gpu]
                                   [--backends cuda,tensorrt,tensorrt-fp16,trt-native,trt-native-fp16]

Run by ``benchmarks/gpu_check.sh`` (which skips with the reason where there is no NVIDIA GPU). For each backend:
open the model (for TensorRT: build the engine from the shipped ONNX, timed, then open it again from the
engine cache, timed), feed the same 20-person stream as the CPU reference, and compare the per-step means,
the KV cache and a 32-candidate rollout (robot_present true, and again false) with the CPU's (largest absolute
difference, metres); then time one
step and one 32 x 12 rollout (median of ``--repeats``). A backend that cannot run here (library or provider
missing) is reported with the reason, not failed; a parity error above the tolerance (fp32 1e-3 m, fp16
5e-2 m) fails the check (exit code 1). Writes ``gpu_check.json`` and ``gpu_check.md`` to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from causal_nodes.world_model.backends import BackendUnavailable  # noqa: E402
from causal_nodes.world_model.runtime import WorldModel  # noqa: E402

BACKENDS = {  # name -> (runtime backend, fp16)
    "cpu": ("cpu", False),
    "cuda": ("cuda", False),
    "tensorrt": ("tensorrt", False),
    "tensorrt-fp16": ("tensorrt", True),
    "trt-native": ("trt-native", False),
    "trt-native-fp16": ("trt-native", True),
}
TOLERANCE_M = {False: 1e-3, True: 5e-2}


def stream(n: int, steps: int, seed: int = 0) -> list[np.ndarray]:
    """People walking past a robot, robot frame [x, y, vx, vy]."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(-6, 6, size=(n, 2))
    vel = rng.normal(scale=0.8, size=(n, 2))
    return [np.concatenate([start + vel * 0.4 * t, vel], axis=1) for t in range(steps)]


def run_stream(wm: WorldModel, frames: list[np.ndarray], actions: np.ndarray) -> dict[str, np.ndarray]:
    """Stream and roll out with robot_present true (a robot people see, the node's default); the rollout is
    repeated with false (a virtual robot) so that both values of that input are compared between backends."""
    wm.reset()
    wm.robot_present = True
    means = [wm.step(f, robot_action=(0.3, 0.05))[0] for f in frames]
    out = {"means": np.array(means), "cache": np.asarray(wm._k), "rollout": wm.rollout(12, actions)}
    wm.robot_present = False
    out["rollout_virtual_robot"] = wm.rollout(12, actions)
    wm.robot_present = True
    return out


def timed(fn, repeats: int) -> float:
    fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return float(np.median(out)) * 1e3


def check_backend(name: str, model: Path, cache_dir: Path, ref: dict, frames, actions, repeats: int) -> dict:
    backend, fp16 = BACKENDS[name]
    row: dict = {"backend": name, "fp16": fp16}
    t0 = time.perf_counter()
    try:
        wm = WorldModel(model, backend=backend, fp16=fp16, engine_cache_dir=cache_dir / name)
    except (BackendUnavailable, ImportError, RuntimeError) as exc:
        return {**row, "status": "unavailable", "reason": str(exc)}
    row["open_s"] = time.perf_counter() - t0  # TensorRT: includes building the engines
    if backend in ("tensorrt", "trt-native"):
        t0 = time.perf_counter()
        wm = WorldModel(model, backend=backend, fp16=fp16, engine_cache_dir=cache_dir / name)
        row["open_cached_s"] = time.perf_counter() - t0
    out = run_stream(wm, frames, actions)
    diffs = {k: float(np.nanmax(np.abs(out[k] - ref[k]))) for k in ("means", "rollout", "rollout_virtual_robot")}
    diffs["cache"] = float(np.max(np.abs(out["cache"] - ref["cache"])))
    row["max_abs_diff"] = diffs
    row["tolerance_m"] = TOLERANCE_M[fp16]
    row["parity"] = bool(diffs["means"] <= row["tolerance_m"]
                         and max(diffs["rollout"], diffs["rollout_virtual_robot"]) <= 12 * row["tolerance_m"])
    row["step_ms"] = timed(lambda: wm.step(frames[-1], robot_action=(0.3, 0.05)), repeats)
    row["rollout_ms"] = timed(lambda: wm.rollout(12, actions), repeats)
    row["status"] = "ok" if row["parity"] else "parity failed"
    return row


def gpu_name() -> str:
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return ""
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "world_model.onnx")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu")
    ap.add_argument("--backends", default="cuda,tensorrt,tensorrt-fp16,trt-native,trt-native-fp16")
    ap.add_argument("--people", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args(argv)
    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in names if b not in BACKENDS]
    if unknown:
        ap.error(f"unknown backends {unknown}; choose from {sorted(BACKENDS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    frames = stream(args.people, 16)
    actions = np.stack([np.linspace(0.0, 1.0, 32), np.linspace(-0.6, 0.6, 32)], axis=1)
    cpu = WorldModel(args.model, backend="cpu")
    ref = run_stream(cpu, frames, actions)
    rows = [{"backend": "cpu (reference)", "fp16": False, "status": "ok",
             "step_ms": timed(lambda: cpu.step(frames[-1], robot_action=(0.3, 0.05)), args.repeats),
             "rollout_ms": timed(lambda: cpu.rollout(12, actions), args.repeats)}]
    rows += [check_backend(n, args.model, args.out / "engines", ref, frames, actions, args.repeats) for n in names]
    report = {"model": str(args.model), "gpu": gpu_name(), "host": platform.node(), "people": args.people,
              "candidates": len(actions), "backends": rows}
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [f"World model GPU check — `{args.model.name}`, {args.people} people, {len(actions)} candidates x 12 steps; "
             f"GPU: {report['gpu'] or 'none found'}", "",
             "| backend | status | open s (cached) | step ms | rollout ms | max diff means / rollout m |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        opened = f"{r['open_s']:.1f} ({r.get('open_cached_s', float('nan')):.1f})" if "open_s" in r else ""
        diff = r.get("max_abs_diff")
        lines.append(f"| {r['backend']} | {r['status']}{': ' + r['reason'][:80] if 'reason' in r else ''} | {opened} | "
                     f"{r.get('step_ms', float('nan')):.3f} | {r.get('rollout_ms', float('nan')):.3f} | "
                     + (f"{diff['means']:.2e} / {max(diff['rollout'], diff['rollout_virtual_robot']):.2e}"
                        if diff else "") + " |")
    (args.out / "gpu_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 1 if any(r["status"] == "parity failed" for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
