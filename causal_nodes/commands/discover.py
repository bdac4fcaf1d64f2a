"""Offline causal discovery on a CSV of variables (PCMCI / PCMCI+ / LPCMCI), the same code path as the node.

The CSV has a header of variable names and optionally a first column `time`. Prints the significant links and,
with --json, writes variables, graph ([i][j][tau] link strings), val_matrix, p_matrix and seconds.
Empty cells or `nan` mark a missing value (a row of them is a missing sample; their count is printed). The table
is limited to --max-columns variables and --max-rows rows (a discovery's memory grows with the square of the
columns).

What tigramite users give besides the samples:
  --mask FILE|COLUMN     samples not to test on (nonzero = masked), as tigramite's mask with --mask-type
                         (x, y, z letters; default y). FILE: a CSV with the same variable columns (or one column
                         for whole rows); COLUMN: a column of this CSV masking whole rows (then not a variable).
  --datasets COLUMN      runs of equal labels in COLUMN are separate datasets (tigramite's multiple-datasets
                         mode); blank lines in the CSV separate datasets as well.
  --context VAR          regime labels (or, with --context-bins, a variable cut into regimes): every test runs
                         within regimes (test rcot).

Examples:
  causal-nodes discover walker.csv --tau-max 2 --mask walker_mask.csv --mask-type y
  causal-nodes discover encounters.csv --test rcot --datasets person --context forward_offset --context-bins -1.5,1.5
  causal-nodes discover rivers.csv --method lpcmci --tau-max 2 --alpha-level 0.01
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from causal_nodes.discovery.discover import (
    ENGINES,
    FDR_METHODS,
    METHOD_DEFAULT_PC_ALPHA,
    METHODS,
    TESTS,
    DiscoveryConfig,
    DiscoveryResult,
    discover,
)
from causal_nodes.discovery.independence_tests import ci_test, parse_test_options
from causal_nodes.discovery.samples import Samples
from causal_nodes.variables.csv_io import MAX_COLUMNS, MAX_ROWS, read_datasets_csv, read_variables_csv


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("csv", type=Path, help="CSV file: header of variable names, optional first column 'time'")
    add_discovery_options(parser)
    parser.add_argument("--mask", metavar="FILE|COLUMN",
                        help="samples not to test on: a CSV of 0/1 per variable (or per row), or a column of this CSV")
    parser.add_argument("--datasets", metavar="COLUMN",
                        help="column whose runs of equal labels are separate datasets (blank lines separate too)")
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
        "--pc-alpha", type=float, default=METHOD_DEFAULT_PC_ALPHA,
        help="significance of the PC stages (default: the method's, as tigramite: pcmci 0.2, pcmciplus 0.01)"
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
    parser.add_argument("--test-option", action="append", default=[], metavar="KEY=VALUE",
                        help="an option of the test (repeatable), e.g. rcot's n_features=3 or null=robust")
    parser.add_argument("--context", default="", metavar="VAR",
                        help="variable of regime labels: tests run within regimes (test rcot); not a graph node")
    parser.add_argument("--context-bins", default="", metavar="E1,E2,..",
                        help="increasing edges cutting a continuous --context variable into regimes")
    parser.add_argument("--mask-type", default=defaults.mask_type,
                        help="with a mask: x, y, z letters, as tigramite's mask_type (default %(default)s)")


def config_from_args(args: argparse.Namespace) -> DiscoveryConfig:
    try:
        bins = tuple(float(edge) for edge in args.context_bins.split(",") if edge.strip())
    except ValueError:
        raise ValueError(f"--context-bins {args.context_bins!r}: expected numbers separated by commas") from None
    return DiscoveryConfig(
        method=args.method, test=ci_test(args.test, parse_test_options(args.test_option)), tau_min=args.tau_min,
        tau_max=args.tau_max, pc_alpha=args.pc_alpha, alpha_level=args.alpha_level,
        max_conds_dim=args.max_conds_dim, max_combinations=args.max_combinations, fdr_method=args.fdr_method,
        engine=args.engine, context=args.context, context_bins=bins, mask_type=args.mask_type,
    )


def format_links(result: DiscoveryResult) -> str:
    lines = [f"{len(result.variables)} variables, {result.sample_count} samples"
             + (f" in {result.datasets} datasets" if result.datasets > 1 else "")
             + f", {result.config.method}/{result.config.test}, engine {result.engine} ({result.seconds:.3f} s)"]
    if result.config.context:
        lines.append(f"tests within the regimes of {result.config.context}")
    if result.dropped:
        lines.append(f"left out: {result.dropped_text()}")
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
    samples = read_samples(args.csv, args.mask, args.datasets, args.max_columns, args.max_rows)
    _note_gaps(args.csv, samples)
    result = discover(samples, samples.names, config)
    print(format_links(result))
    if args.json:
        args.json.write_text(json.dumps(result.to_json(), indent=1))
    return 0


def read_samples(path: Path, mask: str | None = None, datasets: str | None = None, max_columns: int = MAX_COLUMNS,
                 max_rows: int = MAX_ROWS) -> Samples:
    """The CSV's samples, with a mask (a file, or a column of the CSV) and dataset labels (a column, or blank
    separator lines). Columns used as mask or dataset labels are not variables."""
    names, values, _, blank_runs = read_datasets_csv(path, max_columns, max_rows)
    samples = Samples(values, names, datasets=blank_runs if blank_runs[-1:].any() else None)
    if datasets:
        labels, samples = samples.with_column(datasets)
        if np.isnan(labels).any():
            raise ValueError(f"{path}: dataset column {datasets!r} has empty cells")
        # a blank separator line still separates, even between equal labels
        samples.datasets = labels if samples.datasets is None else labels * (blank_runs.max() + 1) + blank_runs
    if mask:
        if Path(mask).is_file():
            samples.mask = _mask_file(Path(mask), samples)
        elif mask in samples.names:
            column, samples = samples.with_column(mask)
            samples.mask = np.repeat((np.nan_to_num(column, nan=1.0) != 0)[:, None], len(samples.names), axis=1)
        else:
            raise ValueError(f"--mask {mask!r} is neither a file nor a column of {path} ({', '.join(samples.names)})")
    return samples


def _note_gaps(path: Path, samples: Samples) -> None:
    """Says what the user may not expect (never silent): missing samples, and blank lines that split datasets."""
    values = np.asarray(samples.array, dtype=float)
    missing_rows = int(np.isnan(values).any(axis=1).sum())
    if missing_rows:
        empty = int(np.isnan(values).all(axis=1).sum())
        print(f"note: {missing_rows} of {len(values)} rows of {path} have missing values ({empty} entirely empty); "
              "tigramite leaves out every test sample that touches one", file=sys.stderr)
    if samples.datasets is not None:
        count = len(np.unique(samples.datasets))
        print(f"note: {path} holds {count} datasets (blank lines or --datasets); lags never cross from one to the "
              "next", file=sys.stderr)


def _mask_file(path: Path, samples: Samples) -> np.ndarray:
    names, values, _ = read_variables_csv(path) if _columns_in(path) > 1 else _one_column(path)
    if len(values) != len(samples.array):
        raise ValueError(f"{path}: {len(values)} mask rows for {len(samples.array)} samples")
    if np.isnan(values).any():
        raise ValueError(f"{path}: the mask has empty cells")
    if len(names) == 1:
        return np.repeat((values != 0), len(samples.names), axis=1)
    missing = [name for name in samples.names if name not in names]
    if missing:
        raise ValueError(f"{path}: no mask column for {missing}")
    return np.column_stack([values[:, names.index(name)] != 0 for name in samples.names])


def _columns_in(path: Path) -> int:
    with path.open(newline="") as handle:
        header = next(csv.reader(handle), [])
    return len([cell for cell in header if cell.strip().lower() != "time"])


def _one_column(path: Path) -> tuple[list[str], np.ndarray, None]:
    """A mask file with one column (whole rows), which the variables reader refuses (it needs two)."""
    with path.open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row and row[0].strip()]
    column = rows[0][-1].strip()
    try:
        return [column], np.array([[float(row[-1])] for row in rows[1:]]), None
    except ValueError:
        raise ValueError(f"{path}: mask values must be numbers (0 = use, nonzero = masked)") from None
