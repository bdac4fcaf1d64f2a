"""The path type the bag tools accept: a string or a :class:`pathlib.Path` (CLI arguments and code alike)."""
from __future__ import annotations

from pathlib import Path

PathLike = str | Path
