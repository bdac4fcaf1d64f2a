"""Offline causal discovery on a CSV of variables (PCMCI / PCMCI+), the same code path as the discovery node.

The CSV has a header of variable names and optionally a first column `time`. Empty cells or `nan` mark a missing
value (a row of them is a missing sample; their count is printed). Prints the significant links and, with --json,
writes variables, graph ([i][j][tau] link strings), val_matrix, p_matrix and seconds. The table is limited to
--max-columns variables and --max-rows rows (a discovery's memory grows with the square of the columns).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from causal_nodes.discovery.discover import (
    ENGINES,
    FDR_METHODS,
    METHODS,
    TESTS,
    DiscoveryConfig,
    DiscoveryResult,
    discover,
)
from causal_nodes.variables.csv_io import MAX_COLUMNS, MAX_ROWS, read_variables_csv


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("csv", type=Path, help="CSV file: header of variable names, optional first column 'time'")
    add_discovery_options(parser)
    parser.add_argument("--json", type=Path, help="write the result as JSON to this file")
    parser.add_argument("--max-columns", type=int, default=MAX_COLUMNS,
                        help="refuse a CSV with more variable columns (default %(default)s)")
    parser.add_argument("--max-rows", type=int, default=MAX_ROWS,
                        help="refuse a CSV with more data rows (default %(default)s)")


def add_discovery_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that runs a discovery."""
    defaults = DiscoveryConfig()
    parser.add_argument(
        "--tau-max", type=int, default=defaults.tau_max, help="largest lag in samples (default %(default)s)"
    )
    parser.add_argument("--tau-min", type=int, default=defaults.tau_min, help="smallest lag (default %(default)s)")
    parser.add_argument(
        "--pc-alpha", type=float, default=defaults.pc_alpha, help="PC-stage significance (default %(default)s)"
    )
    parser.add_argument(
        "--alpha-level", type=float, default=defaults.alpha_level, help="MCI significance (default %(default)s)"
    )
    parser.add_argument("--method", choices=METHODS, default=defaults.method.value)
    parser.add_argument("--test", choices=TESTS, default=defaults.test.name)
    parser.add_argument("--engine", choices=ENGINES, default=defaults.engine.value,
                        help="auto: exact fast ParCorr engine where it applies, tigramite otherwise")
    parser.add_argument("--max-conds-dim", type=int, default=None)
    parser.add_argument("--max-combinations", type=int, default=defaults.max_combinations)
    parser.add_argument("--fdr-method", choices=FDR_METHODS, default=defaults.fdr_method.value)


def config_from_args(args: argparse.Namespace) -> DiscoveryConfig:
    return DiscoveryConfig(
        method=args.method, test=args.test, tau_min=args.tau_min, tau_max=args.tau_max, pc_alpha=args.pc_alpha,
        alpha_level=args.alpha_level, max_conds_dim=args.max_conds_dim, max_combinations=args.max_combinations,
        fdr_method=args.fdr_method, engine=args.engine,
    )


def format_links(result: DiscoveryResult) -> str:
    lines = [f"{len(result.variables)} variables, {result.sample_count} samples, {result.config.method}/"
             f"{result.config.test}, engine {result.engine} ({result.seconds:.3f} s)"]
    if result.dropped:
        lines.append(f"left out (constant): {', '.join(result.dropped)}")
    links = result.links()
    if not links:
        lines.append("no significant links")
    for link in sorted(links, key=lambda lk: (lk.target, lk.lag, lk.source)):
        lines.append(f"  {link.source}(t-{link.lag}) {link.link_type} {link.target}(t)   "
                     f"strength {link.strength:+.3f}  p {link.p_value:.2g}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.json is not None and args.json.is_dir():
        raise ValueError(f"--json {args.json} is a folder; give a file name")
    config = config_from_args(args)
    names, values, _ = read_variables_csv(args.csv, max_columns=args.max_columns, max_rows=args.max_rows)
    missing_rows = int(np.isnan(values).any(axis=1).sum())
    if missing_rows:
        empty = int(np.isnan(values).all(axis=1).sum())
        print(f"note: {missing_rows} of {len(values)} rows of {args.csv} have missing values ({empty} entirely "
              "empty); tigramite leaves out every test sample that touches one", file=sys.stderr)
    result = discover(values, names, config)
    print(format_links(result))
    if args.json:
        args.json.write_text(json.dumps(result.to_json(), indent=1))
    return 0
