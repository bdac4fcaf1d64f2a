"""Check that a model with a robot-effect head forecasts, with ``robot_present`` 0, exactly what other graphs do.

    git show main:models/world_model.onnx > OLD/world_model.onnx   # (and the rollout graphs: same file names)
    python benchmarks/check_flag0_identity.py --new models --old OLD [--old OLD2] [--json out.json]

Every graph of the default model (step, p_max rollout, person buckets) of ``--new`` and of each ``--old`` folder
gets the same random inputs (declared shapes, several draws) with the action's ``robot_present`` column 0, and
every output must be bit-identical; with the column 1 the largest difference is reported (the head's effect, zero
when both lack a trained head). Raw ONNX Runtime sessions, so graphs of an older metadata format (``/3``, refused
by the runtime) compare too. Exit status 1 when a flag-0 output differs.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_world_model import raw_session  # noqa: E402

GRAPHS = ("world_model.onnx", "world_model_rollout.onnx", "world_model_rollout_p8.onnx",
          "world_model_rollout_p16.onnx", "world_model_rollout_p20.onnx")


def outputs(path: Path, seed: int, flag: float) -> list[np.ndarray]:
    sess, feeds = raw_session(path, np.random.default_rng(seed))
    for name in ("action", "actions"):
        if name in feeds:
            feeds[name][..., 2] = flag
    return sess.run(None, feeds)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--new", type=Path, default=ROOT / "models")
    ap.add_argument("--old", type=Path, action="append", required=True)
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    rows, ok = [], True
    for old in args.old:
        for graph in GRAPHS:
            if not (args.new / graph).is_file() or not (old / graph).is_file():
                continue
            same0, diff1 = True, 0.0
            for seed in range(args.draws):
                a0, b0 = outputs(args.new / graph, seed, 0.0), outputs(old / graph, seed, 0.0)
                same0 &= all(np.array_equal(x, y) for x, y in zip(a0, b0))
                a1, b1 = outputs(args.new / graph, seed, 1.0), outputs(old / graph, seed, 1.0)
                diff1 = max(diff1, float(np.abs(a1[0] - b1[0]).max()))
            ok &= same0
            rows.append({"old": str(old), "graph": graph, "flag0_bit_identical": bool(same0),
                         "flag1_max_abs_difference_first_output": diff1})
            print(f"{graph:32s} vs {old}: flag 0 {'bit-identical' if same0 else 'DIFFERENT'}, "
                  f"flag 1 max |diff| {diff1:.4f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
