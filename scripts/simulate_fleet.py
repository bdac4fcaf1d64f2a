#!/usr/bin/env python3
"""Generate a synthetic robot fleet: N simulator bags across scenarios and seeds, plus a metadata CSV.

Bag i runs scenario i mod len(scenarios) with seed first_seed + i, robot r<i mod robots>, site site_<scenario>;
written as OUT/<scenario>/seed_<seed> straight from the simulator (no DDS), with OUT/fleet.csv (bag, scenario,
seed, robot, site) for `causal-nodes fleet --metadata`. Existing bags are kept, so a run can be resumed.
See causal_nodes/sim/synthetic_fleet.py.

  python scripts/simulate_fleet.py --out /tmp/fleet --bags 50 --duration-s 600 --jobs 2
  causal-nodes fleet /tmp/fleet --metadata /tmp/fleet/fleet.csv --group-by site --json fleet.json --report fleet.html
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from causal_nodes.sim.synthetic_fleet import DEFAULT_SCENARIOS, METADATA_FILE, fleet_plan, write_fleet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="fleet folder (created)")
    parser.add_argument("--bags", type=int, default=20, help="number of bags (default %(default)s)")
    parser.add_argument("--scenarios", nargs="+", default=list(DEFAULT_SCENARIOS))
    parser.add_argument("--duration-s", type=float, default=600.0,
                        help="sim time per bag (default 600 s; 0 = each scenario's own duration)")
    parser.add_argument("--first-seed", type=int, default=1000, help="seed of the first bag (default %(default)s)")
    parser.add_argument("--robots", type=int, default=5, help="robots the bags are spread over (default 5)")
    parser.add_argument("--jobs", type=int, default=1, help="processes writing bags in parallel (default 1)")
    args = parser.parse_args(argv)
    try:
        plan = fleet_plan(args.out, args.bags, args.scenarios, args.first_seed, args.robots)
    except ValueError as error:
        parser.error(str(error))
    started = time.perf_counter()
    cpu = write_fleet(args.out, plan, args.duration_s, max(args.jobs, 1))
    print(f"{len(plan)} bags in {args.out} ({time.perf_counter() - started:.1f} s wall, {cpu:.1f} s CPU in the "
          f"writers); metadata: {args.out / METADATA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
