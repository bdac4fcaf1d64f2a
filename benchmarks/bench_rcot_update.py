"""One rcot graph update, old path beside new: CPU seconds per PCMCI run and whether the results are identical.

Run (one core; about two minutes on an idle core):

    python benchmarks/bench_rcot_update.py --out benchmarks/results/rcot_update.md

The pipeline is the HRI benchmark's best (``bench_hri_discovery.py``, ``new_rcot_phases``): PCMCI with the
``rcot`` test within the approach / leave regimes of ``closing_speed`` (``context_bins=0``), tau_max 3,
pc_alpha 0.2, alpha_level 0.01, on 600-sample windows of the physical scenarios, held-out seeds 500-504. Each
window runs twice in this process, alternating which path goes first:

* ``old``: each test regresses its X and Y on Z afresh (``RCoT(shared_residuals=False)``, the path before the
  shared residuals);
* ``new``: residual features shared per node, conditioning set and regime (the default).

Both on the N = 8 default variables and on N = 12 (the default ones plus ``human_heading_rate``,
``lateral_offset``, ``forward_offset``, ``time_to_collision``). Reported: CPU seconds of the discovery call
(process time, BLAS and numba on one thread), whether the graphs are equal, and the largest difference of any
p-value and test value between the two paths; for N = 8 also the lag-level / lag-collapsed F1 against the
interventional reference (equal graphs give equal F1).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from causal_nodes.discovery.discover import DiscoveryConfig, discover  # noqa: E402
from causal_nodes.discovery.rcot import RCoT  # noqa: E402
from causal_nodes.evaluation.discovery_scores import score_against, usable_columns  # noqa: E402
from causal_nodes.sim import load_scenario, run_scenario  # noqa: E402
from causal_nodes.variables.extractor import DEFAULT_VARIABLES  # noqa: E402

PHYSICAL = ("corridor_passing", "crossing", "overtaking", "approach_standing", "crowd")
REPORT_SEEDS = (500, 501, 502, 503, 504)
CONTEXT = "closing_speed"
VARIABLE_SETS = {
    8: list(DEFAULT_VARIABLES),
    12: list(DEFAULT_VARIABLES) + ["human_heading_rate", "lateral_offset", "forward_offset", "time_to_collision"],
}
CONFIG = DiscoveryConfig(test="rcot", tau_max=3, pc_alpha=0.2, alpha_level=0.01, context=CONTEXT,
                         context_bins=(0.0,))


def timed(values: np.ndarray, names: list[str], shared: bool):
    RCoT.shared_residuals = shared
    try:
        started = time.process_time()
        result = discover(values, names, CONFIG)
        return result, time.process_time() - started
    finally:
        RCoT.shared_residuals = True


def run(scenarios, seeds, sizes) -> list[dict]:
    rows = []
    warm = np.random.default_rng(0).normal(size=(600, 3))
    warm[:, -1] = np.sign(warm[:, -1])
    for shared in (False, True):  # imports and caches outside the timed runs
        timed(warm, ["a", "b", CONTEXT], shared)
    for size in sizes:
        for scenario_name in scenarios:
            scenario = load_scenario(scenario_name)
            for k, seed in enumerate(seeds):
                series = run_scenario(scenario, seed=seed, variables=VARIABLE_SETS[size] + [CONTEXT])
                usable = usable_columns(list(series.names), series.values)
                order = (False, True) if k % 2 == 0 else (True, False)
                out = {shared: timed(usable.values, usable.names, shared) for shared in order}
                (old, old_s), (new, new_s) = out[False], out[True]
                row = dict(size=size, scenario=scenario_name, seed=seed, n=len(new.variables), old_s=old_s,
                           new_s=new_s, same_graph=bool(np.array_equal(old.graph, new.graph)),
                           dp=float(np.nanmax(np.abs(old.p_matrix - new.p_matrix))),
                           dv=float(np.nanmax(np.abs(old.val_matrix - new.val_matrix))))
                if size == 8:
                    score = score_against(new, scenario.reference(new.variables, tau_max=CONFIG.tau_max))
                    row.update(f1=score["f1"], f1_summary=score["f1_summary"])
                rows.append(row)
                print(f"N={row['n']:>2d} {scenario_name:<18s} seed {seed}: old {old_s:.3f} s, new {new_s:.3f} s, "
                      f"same graph {row['same_graph']}, max |dp| {row['dp']:.1e}", flush=True)
    return rows


def report(rows: list[dict], command: str) -> list[str]:
    lines = ["# rcot graph update: per-test path (old) vs shared residual features (new)", "",
             f"Command: `{command}`", "",
             f"{platform.machine()}, Python {platform.python_version()}, one thread; both paths on the same "
             "windows in one run (alternating which goes first); the machine was shared with other jobs, so "
             "compare the two columns, not runs. Pipeline: PCMCI + rcot within the regimes of closing_speed "
             "(context_bins 0), tau_max 3, pc_alpha 0.2, alpha_level 0.01, 600-sample windows, held-out seeds.", "",
             "| N | scenario | windows | old CPU s median / max | new CPU s median / max | speed-up (median "
             "of ratios) | graphs equal | max \\|p old - p new\\| | max \\|value diff\\| | F1 lag-level / "
             "lag-collapsed |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size in sorted({r["size"] for r in rows}):
        sized = [r for r in rows if r["size"] == size]
        groups = [(s, [r for r in sized if r["scenario"] == s]) for s in dict.fromkeys(r["scenario"] for r in sized)]
        for name, group in groups + [("**all**", sized)]:
            old, new = np.array([r["old_s"] for r in group]), np.array([r["new_s"] for r in group])
            n_values = sorted({r["n"] for r in group})
            f1 = (f"{np.mean([r['f1'] for r in group]):.3f} / {np.mean([r['f1_summary'] for r in group]):.3f}"
                  if "f1" in group[0] else "")
            lines.append(
                f"| {'/'.join(map(str, n_values))} | {name} | {len(group)} | {np.median(old):.3f} / {old.max():.3f} "
                f"| {np.median(new):.3f} / {new.max():.3f} | {np.median(old / new):.2f}x | "
                f"{sum(r['same_graph'] for r in group)}/{len(group)} | {max(r['dp'] for r in group):.1e} | "
                f"{max(r['dv'] for r in group):.1e} | {f1} |")
    lines += ["", "N is the number of graph variables after unusable ones are left out (the context is a regime "
              "label, not a node). Target (issue #10): <= 1 s CPU per graph update at N <= 12."]
    for size in sorted({r["size"] for r in rows}):
        worst = max(r["new_s"] for r in rows if r["size"] == size)
        lines.append(f"- N = {size}: slowest new update {worst:.2f} CPU s "
                     f"({'met' if worst <= 1.0 else 'MISSED'}, <= 1 s)")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(REPORT_SEEDS))
    parser.add_argument("--scenarios", nargs="+", default=list(PHYSICAL))
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(VARIABLE_SETS), choices=sorted(VARIABLE_SETS))
    parser.add_argument("--out", type=Path, help="write the markdown report here")
    args = parser.parse_args()
    rows = run(args.scenarios, args.seeds, args.sizes)
    command = "python benchmarks/bench_rcot_update.py " + " ".join(sys.argv[1:])
    text = "\n".join(report(rows, command.strip())) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
