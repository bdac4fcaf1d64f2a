"""Causal graphs over a fleet of bags on Dask: per-bag window graphs, fleet consensus, group differences, changes.

Each bag is one task: the bag2csv extraction, sliding-window discovery (the discovery node's window and PCMCI),
a pooled graph and, with --prioritize, the prioritizer's best intervention per window. --scheduler local (default)
starts a LocalCluster sized to the machine, tcp://HOST:PORT uses a running Dask scheduler, none runs serially.
A bag that cannot be read is reported with its reason; the others complete.

  causal-nodes fleet bags/ --json fleet.json --report fleet.html
  causal-nodes fleet bags/ --scheduler tcp://10.0.0.5:8786 --json fleet.json --group-by site --metadata sites.csv
  causal-nodes fleet run1 run2 --scheduler none --window 300 --stride 50 --prioritize human_robot_distance --json f.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from causal_nodes.commands.bag2csv import add_extraction_options
from causal_nodes.commands.discover import add_discovery_options, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bags", nargs="+", metavar="BAG_OR_DIR", help="bags (folders or .mcap/.db3 files) or "
                        "folders searched recursively for bags")
    parser.add_argument("--scheduler", default="local",
                        help="none (serial, in-process), local (LocalCluster, default) or a Dask scheduler address "
                             "tcp://HOST:PORT")
    parser.add_argument("--workers", type=int, default=None,
                        help="LocalCluster worker processes (default: the machine's CPU count)")
    parser.add_argument("--dashboard-address", default="127.0.0.1:8787",
                        help="LocalCluster dashboard address (default %(default)s; 'none' for no dashboard)")
    parser.add_argument("--json", type=Path, required=True, help="write the summary JSON here")
    parser.add_argument("--tables", type=Path, default=None,
                        help="folder for the Parquet tables (default: next to --json, <name>_tables)")
    parser.add_argument("--report", type=Path, default=None, help="write an HTML report here")
    parser.add_argument("--compact-json", action="store_true",
                        help="window counts instead of window graphs in the JSON (they stay in the Parquet tables)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    extraction = parser.add_argument_group("extraction (as bag2csv)")
    extraction.add_argument("--source", choices=("auto", "sensors", "frames"), default="auto",
                            help="sensors: extract from the input topics; frames: the bag's /causal/variables; "
                                 "auto (default): sensors when the bag has them, else frames")
    add_extraction_options(extraction)

    windows = parser.add_argument_group("sliding windows (samples of the variable grid)")
    windows.add_argument("--window", type=int, default=300, help="window length (default %(default)s)")
    windows.add_argument("--stride", type=int, default=100, help="samples between window graphs (default %(default)s)")
    windows.add_argument("--min-samples", type=int, default=None,
                         help="fewest samples for a window graph (default: the window length, full windows only)")
    windows.add_argument("--no-pooled", action="store_true", help="skip the pooled graph over each whole bag")
    add_discovery_options(parser)

    from causal_nodes.prioritization.online import OnlinePrioritizerConfig
    from causal_nodes.prioritization.prioritizer import Goal

    prioritizer_defaults = OnlinePrioritizerConfig()
    prioritization = parser.add_argument_group("prioritization (per window, linear SEM)")
    prioritization.add_argument("--prioritize", metavar="TARGET", default=None,
                                help="rank interventions on TARGET in every window graph")
    prioritization.add_argument("--actionable", nargs="+", default=list(prioritizer_defaults.actionable))
    prioritization.add_argument("--goal", choices=Goal.names(), default=prioritizer_defaults.prioritizer.goal.value)
    prioritization.add_argument("--horizon", type=int, default=10, help="steps (default %(default)s)")
    prioritization.add_argument("--prioritize-bootstrap", type=int, default=20,
                                help="bootstrap refits per window (default %(default)s)")

    fleet = parser.add_argument_group("fleet aggregation")
    fleet.add_argument("--threshold", type=float, default=0.5,
                       help="a link holds in the fleet when in at least this fraction of bags (default %(default)s)")
    fleet.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates over bags (default 1000)")
    fleet.add_argument("--level", type=float, default=0.95, help="bootstrap interval level (default 0.95)")
    fleet.add_argument("--group-by", metavar="KEY", default=None,
                       help="compare groups of bags by this metadata key (site, robot, scenario, dir, …)")
    fleet.add_argument("--metadata", type=Path, default=None,
                       help="CSV with a column 'bag' (path or name) and one column per metadata key")
    fleet.add_argument("--path-pattern", default=None, metavar="REGEX",
                       help="metadata from the bag path by named groups, e.g. '(?P<site>[^/]+)/(?P<robot>[^/]+)/'")
    fleet.add_argument("--permutations", type=int, default=1000, help="permutation test size (default 1000)")
    fleet.add_argument("--alpha", type=float, default=0.05, help="false discovery rate for group differences")
    fleet.add_argument("--change-threshold", type=float, default=0.5,
                       help="Jaccard distance between consecutive window graphs that marks a change point")
    fleet.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and permutation tests")


def _fleet_config(args: argparse.Namespace):
    from causal_nodes.bags.to_csv import parse_topic_overrides
    from causal_nodes.fleet import ExtractionOptions, FleetConfig, PrioritizationOptions, WindowOptions
    from causal_nodes.prioritization import PrioritizerConfig

    prioritization = None
    if args.prioritize:
        prioritization = PrioritizationOptions(
            target=args.prioritize, actionable=tuple(args.actionable),
            config=PrioritizerConfig(horizon=args.horizon, goal=args.goal, bootstrap=args.prioritize_bootstrap,
                                     effect_model="linear", local_weighting="none"))
    return FleetConfig(
        extraction=ExtractionOptions(source=args.source, rate_hz=args.rate_hz, person=args.person,
                                     variables=tuple(args.variables) if args.variables else None,
                                     topics=tuple(parse_topic_overrides(args.topic).items())),
        window=WindowOptions(length=args.window, stride=args.stride, min_samples=args.min_samples),
        discovery=config_from_args(args), prioritization=prioritization, pooled=not args.no_pooled)


def run(args: argparse.Namespace) -> int:
    from causal_nodes.fleet import find_bags, run_fleet
    from causal_nodes.fleet.metadata import compile_path_pattern, read_metadata_csv
    from causal_nodes.fleet.report import write_report
    from causal_nodes.fleet.runner import validate_scheduler
    from causal_nodes.fleet.summary import AggregationOptions, aggregate, write_summary
    from causal_nodes.fleet.tables import write_tables

    config = _fleet_config(args)
    scheduler = validate_scheduler(args.scheduler)
    options = AggregationOptions(threshold=args.threshold, bootstrap=args.bootstrap, level=args.level,
                                 group_by=args.group_by, permutations=args.permutations, alpha=args.alpha,
                                 change_threshold=args.change_threshold, seed=args.seed)
    table = read_metadata_csv(args.metadata) if args.metadata else None
    pattern = compile_path_pattern(args.path_pattern)
    if not args.json.parent.is_dir():
        raise ValueError(f"output folder {args.json.parent} does not exist")
    bags = find_bags(args.bags)
    dashboard = None if args.dashboard_address.lower() == "none" else args.dashboard_address
    run_result = run_fleet(bags, config, scheduler=scheduler, workers=args.workers,
                           progress=not args.no_progress and sys.stderr.isatty(), dashboard_address=dashboard)
    analysis = aggregate(run_result, config, options, table, pattern)
    write_summary(analysis, args.json, windows=not args.compact_json)
    tables = args.tables or args.json.with_name(f"{args.json.stem}_tables")
    write_tables(analysis, tables)
    if args.report:
        write_report(analysis, args.report)
    _print_summary(analysis, args, tables)
    return 0 if any(r.ok for r in run_result.results) else 1


def _print_summary(analysis, args: argparse.Namespace, tables: Path) -> None:
    from causal_nodes.fleet.consensus import link_label

    results = analysis.results
    failed = [r for r in results if not r.ok]
    print(f"{len(results) - len(failed)}/{len(results)} bags analysed ({analysis.robot_hours:.2f} robot hours, "
          f"{analysis.consensus.windows} windows) in {analysis.run.wall_s:.1f} s on {analysis.run.scheduler}")
    for result in failed:
        print(f"  FAILED {result.bag}: {result.error}")
    holding = analysis.consensus.holding()
    print(f"consensus: {len(holding)} link(s) in >= {analysis.consensus.threshold:.0%} of bags")
    for link in holding[:20]:
        print(f"  {link_label(link.key):55s} {link.frequency:5.2f} [{link.frequency_low:.2f}, "
              f"{link.frequency_high:.2f}]  windows {link.window_frequency:.2f}")
    if analysis.groups is not None:
        print(f"groups by {analysis.groups.key}: {analysis.groups.group_names}; "
              f"{len(analysis.groups.differing())} link(s) differ (q <= {analysis.groups.alpha})")
    print(f"change points: {len(analysis.change_points)}")
    print(f"wrote {args.json}, {tables}/" + (f", {args.report}" if args.report else ""))
