"""Where the package's data lives: trained models, simulator scenarios, params files, message definitions.

The data sits beside the code, not inside the Python package, because ROS installs it into the package's share
folder (``share/causal_nodes/...``, see ``setup.py``'s ``data_files``). So there are three layouts to serve:

* a **source checkout** (``pip install -e``, ``bin/run-tests``, a colcon ``--symlink-install``): the folders are
  the repository's own, next to ``causal_nodes/``;
* a **colcon install**: the ament index names the share folder (``ament_index_python``);
* a **pip install** into a prefix: ``<sys.prefix>/share/causal_nodes``.

:func:`share_dirs` lists the candidates in that order (the checkout first: the data beside the running code is the
version that matches it), and :func:`find_resource` returns the first that holds a path, with an error that names
every folder it tried. No module reaches for ``Path(__file__).parents[...]`` itself.
"""
from __future__ import annotations

import sys
from pathlib import Path

PACKAGE = "causal_nodes"
_CHECKOUT = Path(__file__).resolve().parents[1]


def source_checkout() -> Path | None:
    """The repository root when this package runs from a source checkout (it has the package's package.xml)."""
    return _CHECKOUT if (_CHECKOUT / "package.xml").is_file() and (_CHECKOUT / "setup.py").is_file() else None


def ament_share(package: str = PACKAGE) -> Path | None:
    """``share/<package>`` of a colcon install, when the ament index knows the package."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:  # no ROS 2 environment
        return None
    try:
        return Path(get_package_share_directory(package))
    except (PackageNotFoundError, ValueError, OSError):  # not installed, or no AMENT_PREFIX_PATH at all
        return None


def share_dirs() -> list[Path]:
    """Folders that may hold the package's data, most specific first (see the module docstring)."""
    found = [source_checkout(), ament_share(), Path(sys.prefix) / "share" / PACKAGE]
    unique: list[Path] = []
    for folder in found:
        if folder is not None and folder not in unique:
            unique.append(folder)
    return unique


def resource_dirs(*parts: str) -> list[Path]:
    """``share_dir/parts...`` for every share folder that has it (e.g. every ``sim/scenarios``)."""
    return [folder.joinpath(*parts) for folder in share_dirs() if folder.joinpath(*parts).exists()]


def find_resource(*parts: str) -> Path:
    """The first ``share_dir/parts...`` that exists; FileNotFoundError listing the folders tried."""
    for folder in share_dirs():
        candidate = folder.joinpath(*parts)
        if candidate.exists():
            return candidate
    tried = ", ".join(str(folder.joinpath(*parts)) for folder in share_dirs())
    raise FileNotFoundError(f"{'/'.join(parts)} is not installed; looked in: {tried}")


def message_definition_dirs() -> list[Path]:
    """Folders holding ``<pkg>/msg/<Name>.msg``: the checkout's ``interfaces`` folder (causal_msgs from source);
    installed message packages are found through the ament prefixes by the bag type store."""
    checkout = source_checkout()
    return [checkout / "interfaces"] if checkout is not None and (checkout / "interfaces").is_dir() else []
