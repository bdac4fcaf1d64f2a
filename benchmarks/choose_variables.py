"""How the default variable set was chosen: candidate sets scored on tuning seeds, never on the report seeds.

Run (about 20 minutes on a shared 2-core machine):

    python benchmarks/choose_variables.py --out benchmarks/results/choose_variables.md

For every candidate set and physical scenario, the interventional reference over that set is derived from seed
101 (``--stride`` steps between do() experiments), then PCMCI with ParCorr and with RobustParCorr (tau_max 3,
pc_alpha 0.2, alpha_level 0.01) runs on the tuning seeds' streams (600 samples) and is scored against it. The
set with the best mean of lag-level and lag-collapsed F1 over scenarios, seeds and both tests becomes the
default (``causal_nodes.variables.extractor.DEFAULT_VARIABLES``); ``benchmarks/bench_hri_discovery.py`` then
reports it on held-out seeds.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from causal_nodes.discovery.discover import DiscoveryConfig, discover  # noqa: E402
from causal_nodes.evaluation.discovery_scores import score_against, usable_columns  # noqa: E402
from causal_nodes.sim import load_scenario, run_scenario  # noqa: E402
from causal_nodes.sim.reference import derive_reference  # noqa: E402
from causal_nodes.variables.extractor import LEGACY_VARIABLES  # noqa: E402

ROBOT = ["robot_linear_speed", "robot_angular_speed"]
CANDIDATES = {
    "legacy": list(LEGACY_VARIABLES),
    "kinematic": ROBOT + ["human_speed", "human_robot_distance", "closing_speed", "lateral_offset",
                          "human_goal_distance", "robot_obstacle_clearance", "collision_risk"],
    "kinematic_bearing": ROBOT + ["human_speed", "human_robot_distance", "closing_speed", "human_bearing",
                                  "human_goal_distance", "robot_obstacle_clearance", "collision_risk"],
    "kinematic_heading_rate": ROBOT + ["human_speed", "human_heading_rate", "human_robot_distance", "lateral_offset",
                                       "human_goal_distance", "robot_obstacle_clearance", "collision_risk"],
    "kinematic_ttc": ROBOT + ["human_speed", "human_robot_distance", "closing_speed", "lateral_offset",
                              "human_goal_distance", "robot_obstacle_clearance", "time_to_collision"],
    "robot_frame": ROBOT + ["human_speed", "forward_offset", "lateral_offset", "closing_speed",
                            "human_goal_distance", "robot_obstacle_clearance"],
    "minimal": ROBOT + ["human_speed", "human_robot_distance", "closing_speed", "lateral_offset"],
    "approach": ROBOT + ["human_speed", "human_approach_speed", "human_robot_distance", "lateral_offset",
                         "human_goal_distance", "robot_obstacle_clearance"],
    "approach_bearing": ROBOT + ["human_speed", "human_approach_speed", "human_robot_distance", "human_bearing",
                                 "human_goal_distance", "robot_obstacle_clearance"],
    "approach_heading_rate": ROBOT + ["human_heading_rate", "human_approach_speed", "human_robot_distance",
                                      "lateral_offset", "human_goal_distance", "robot_obstacle_clearance"],
    "approach_minimal": ROBOT + ["human_speed", "human_approach_speed", "human_robot_distance", "lateral_offset"],
    "approach_robot_frame": ROBOT + ["human_speed", "human_approach_speed", "forward_offset", "lateral_offset",
                                     "human_goal_distance", "robot_obstacle_clearance"],
}
SCENARIOS = ("corridor_passing", "crossing", "overtaking", "approach_standing", "crowd")
TUNING_SEEDS = (11, 12, 13)
TESTS = ("parcorr", "robust_parcorr")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(CANDIDATES))
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(TUNING_SEEDS))
    parser.add_argument("--stride", type=int, default=15)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = []
    for set_name in args.sets:
        per_set = []
        for scenario_name in args.scenarios:
            scenario = load_scenario(scenario_name)
            started = time.perf_counter()
            reference = derive_reference(scenario, CANDIDATES[set_name], seeds=[101], stride=args.stride)
            derive_s = time.perf_counter() - started
            for test in TESTS:
                config = DiscoveryConfig(test=test)
                for seed in args.seeds:
                    series = run_scenario(scenario, seed=seed, variables=reference.variables)
                    usable = usable_columns(series.names, series.values)
                    result = discover(usable.values, usable.names, config)
                    score = score_against(result, reference.restricted(usable.names))
                    per_set.append((scenario_name, test, score["f1"], score["f1_summary"], len(reference.links)))
            mean = [r for r in per_set if r[0] == scenario_name]
            print(f"{set_name:>24s} {scenario_name:<18s} ref {len(reference.links):3d} links, "
                  f"F1 {np.mean([r[2] for r in mean]):.3f} summary {np.mean([r[3] for r in mean]):.3f} "
                  f"(derived in {derive_s:.0f} s)", flush=True)
        for test in TESTS:
            chosen = [r for r in per_set if r[1] == test]
            rows.append((set_name, test, np.mean([r[2] for r in chosen]), np.mean([r[3] for r in chosen]),
                         np.mean([r[4] for r in chosen])))
    lines = [f"Candidate variable sets, tuning seeds {list(args.seeds)}, scenarios {list(args.scenarios)}; "
             f"references from seed 101, stride {args.stride}. PCMCI tau_max 3, pc_alpha 0.2, alpha_level 0.01.", "",
             "| set | variables | test | F1 lag-level | F1 lag-collapsed | mean of both | reference links |",
             "|---|---|---|---:|---:|---:|---:|"]
    for set_name, test, f1, f1s, links in sorted(rows, key=lambda r: -(r[2] + r[3])):
        lines.append(f"| {set_name} | {len(CANDIDATES[set_name])} | {test} | {f1:.3f} | {f1s:.3f} | "
                     f"{(f1 + f1s) / 2:.3f} | {links:.0f} |")
    lines += ["", "Sets: " + "; ".join(f"`{k}` = {', '.join(v)}" for k, v in CANDIDATES.items() if k in args.sets),
              "", f"Command: `python benchmarks/choose_variables.py --stride {args.stride}"
              + (f" --out {args.out}`" if args.out else "`")]
    print("\n".join(lines))
    if args.out:
        args.out.write_text("# Choosing the default variables\n\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
