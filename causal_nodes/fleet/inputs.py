"""Which bags a fleet run covers: the paths given, with folders searched for bags.

A folder holding ``metadata.yaml`` is one rosbag2 bag; any other folder is searched recursively (in name order)
for such bag folders and for single ``.mcap`` / ``.db3`` files outside them. Hidden entries (a bag still being
written is a hidden ``.<name>.partial-*`` folder) are skipped. A path that does not exist or is not a bag is kept:
its task reports why it could not be read, next to the bags that could.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

BAG_FILE_SUFFIXES = (".mcap", ".db3")


def is_bag_folder(path: Path) -> bool:
    return path.is_dir() and (path / "metadata.yaml").is_file()


def _search(folder: Path) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if is_bag_folder(entry):
            found.append(entry)
        elif entry.is_dir():
            found.extend(_search(entry))
        elif entry.suffix in BAG_FILE_SUFFIXES:
            found.append(entry)
    return found


def find_bags(paths: Iterable[str | os.PathLike]) -> list[str]:
    """Bag paths in the order given (folders expanded); ValueError for a folder without any bag."""
    bags: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir() and not is_bag_folder(path):
            found = _search(path)
            if not found:
                raise ValueError(f"no bags under {path} (a bag is a folder with metadata.yaml, or a .mcap/.db3 file)")
            bags.extend(str(p) for p in found)
        else:
            bags.append(str(path))
    return list(dict.fromkeys(bags))
