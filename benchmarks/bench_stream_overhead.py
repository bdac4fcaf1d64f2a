"""What the world-model node's velocity filter, self-calibration and place memory cost per step, beside the plain
stream.

    OMP_NUM_THREADS=1 python benchmarks/bench_stream_overhead.py --out benchmarks/results/stream_overhead.md

One ``WorldModelStream.update`` per model step (0.4 s) with 20 people walking with 2 cm of tracker noise, a 12-step
forecast each step (the node's work per /people message), one ORT thread. Three settings, interleaved step by step
in one run on the same frames, so the shared machine's load hits all alike (four settings):

* ``plain``: backward-difference velocities, no calibration (the stream before issue #16's third pass);
* ``filter``: velocities filtered for the tracker noise measured online;
* ``filter + calibration``: and forecasts damped from their realized errors;
* ``filter + calibration + place memory``: and corrected by the place memory (the node's defaults);
* ``... + memory loaded from a file, per-step shrinkage``: the same started from a saved memory of this place (the
  node's ``place_memory_file``, weight 0.1) with ``n0_slope`` 1 and ``gain`` 1.25 (issue #16, fifth pass): every
  cell is known from the first step, so the correction does its full work throughout.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from causal_nodes.world_model.place_memory import PlaceMemory, PlaceMemoryConfig  # noqa: E402
from causal_nodes.world_model.runtime import WorldModel  # noqa: E402
from causal_nodes.world_model.stream import WorldModelStream  # noqa: E402
from causal_nodes.world_model.track_filter import TrackNoise  # noqa: E402

PEOPLE, STEPS, WARM_UP, DT = 20, 600, 100, 0.4


def frames(seed: int = 0) -> list[np.ndarray]:
    """People crossing a 12 m square at their own constant velocity, re-entering on the other side."""
    rng = np.random.default_rng(seed)
    start, velocity = rng.uniform(-6, 6, (PEOPLE, 2)), rng.normal(0, 0.8, (PEOPLE, 2))
    return [(start + velocity * DT * t + 6) % 12 - 6 + rng.normal(0, 0.02, (PEOPLE, 2)) for t in range(STEPS)]


def loaded_memory_stream(model: Path) -> WorldModelStream:
    """A stream with the place memory started from a file saved by a stream that watched the same people before."""
    config = PlaceMemoryConfig(n0_slope=1.0, gain=1.25)
    before = WorldModelStream(WorldModel(model, backend="cpu"), 12, calibrate=True, place_memory=config)
    for t, people in enumerate(frames(seed=1)[:WARM_UP]):
        before.update(DT * t, None, people, (0.0, 0.0, 0.0), (0.3, 0.0))
    assert before.place_memory is not None
    with tempfile.TemporaryDirectory() as folder:
        before.place_memory.save(Path(folder) / "place.npz")
        start = PlaceMemory(12, DT, config)
        start.load(Path(folder) / "place.npz", weight=0.1)
    return WorldModelStream(WorldModel(model, backend="cpu"), 12, calibrate=True, place_memory=config,
                            place_memory_start=start)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=ROOT / "models" / "world_model.onnx")
    p.add_argument("--out", type=Path, default=None, help="markdown report")
    args = p.parse_args(argv)
    settings = {"plain": dict(track_noise=TrackNoise(), calibrate=False),
                "filter": dict(calibrate=False), "filter + calibration": dict(calibrate=True),
                "filter + calibration + place memory": dict(calibrate=True, place_memory=PlaceMemoryConfig())}
    streams = {name: WorldModelStream(WorldModel(args.model, backend="cpu"), 12, **kw) for name, kw in settings.items()}
    streams["... + memory loaded from a file, per-step shrinkage"] = loaded_memory_stream(args.model)
    times: dict[str, list[float]] = {name: [] for name in streams}
    for t, people in enumerate(frames()):
        for name, stream in streams.items():
            t0 = time.perf_counter()
            stream.update(DT * t, None, people, (0.0, 0.0, 0.0), (0.3, 0.0))
            times[name].append((time.perf_counter() - t0) * 1e3)
    rows = []
    for name, ms in times.items():
        kept = ms[WARM_UP:]
        rows.append(f"| {name} | {statistics.median(kept):.2f} | {np.percentile(kept, 90):.2f} |")
    text = ("# World-model stream: cost of the velocity filter, self-calibration and place memory\n\n"
            "`OMP_NUM_THREADS=1 python benchmarks/bench_stream_overhead.py`\n\n"
            f"{PEOPLE} people, {STEPS - WARM_UP} steps after {WARM_UP} warm-up steps, a 12-step forecast per step, "
            "one thread, shared machine (wall clock).\n\n"
            "| setting | median ms per step | p90 ms |\n|---|---:|---:|\n"
            + "\n".join(rows) + "\n")
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
