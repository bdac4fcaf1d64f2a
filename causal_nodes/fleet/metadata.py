"""Metadata of each bag (site, robot, scenario, …) for grouping: from the bag, its path, and a user's CSV.

Sources, later ones overriding earlier ones for the same key:

1. built in: ``name`` (the bag's file or folder name) and ``dir`` (the folder it lies in);
2. the bag's own ``metadata.yaml`` ``custom_data`` (``causal-nodes simulate --bag`` writes ``scenario``, ``seed``…);
3. named groups of a regular expression searched in the bag path
   (``--path-pattern '(?P<site>[^/]+)/(?P<robot>r\\d+)'``);
4. a CSV with a column ``bag`` (the path as given, its absolute form, or the bag's name) and one column per key.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from .bag_analysis import BagResult

MetadataTable = dict[str, dict[str, str]]


def read_metadata_csv(path: str | Path) -> MetadataTable:
    """``bag -> {key: value}`` from a CSV whose header has a ``bag`` column (ValueError naming what is wrong)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"metadata file {path} does not exist")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "bag" not in [name.strip() for name in reader.fieldnames]:
            raise ValueError(f"metadata file {path}: the header needs a column 'bag' (got {reader.fieldnames})")
        table: MetadataTable = {}
        for line, row in enumerate(reader, start=2):
            clean = {str(k).strip(): str(v or "").strip() for k, v in row.items() if k is not None}
            bag = clean.pop("bag")
            if not bag:
                raise ValueError(f"metadata file {path}, line {line}: empty 'bag' cell")
            if bag in table:
                raise ValueError(f"metadata file {path}, line {line}: bag {bag!r} listed twice")
            table[bag] = clean
    return table


def compile_path_pattern(pattern: str | None) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise ValueError(f"--path-pattern {pattern!r} is not a valid regular expression: {error}") from None
    if not compiled.groupindex:
        raise ValueError(f"--path-pattern {pattern!r} has no named group, e.g. (?P<site>[^/]+)")
    return compiled


def bag_metadata(result: BagResult, table: Mapping[str, Mapping[str, str]] | None = None,
                 pattern: re.Pattern[str] | None = None) -> dict[str, str]:
    path = Path(result.bag)
    meta = {"name": path.name, "dir": path.parent.name}
    meta.update(result.metadata)
    if pattern is not None:
        match = pattern.search(path.as_posix())
        if match:
            meta.update({k: v for k, v in match.groupdict().items() if v is not None})
    if table:
        for candidate in (result.bag, str(path.resolve()), path.name):
            if candidate in table:
                meta.update(table[candidate])
                break
    return meta


def metadata_of(results: Sequence[BagResult], table: Mapping[str, Mapping[str, str]] | None = None,
                pattern: re.Pattern[str] | None = None) -> list[dict[str, str]]:
    """The merged metadata of every bag, in order."""
    return [bag_metadata(result, table, pattern) for result in results]
