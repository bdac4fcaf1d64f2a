"""The ``causal-nodes`` command line.

Sub-commands are discovered from the modules of :mod:`causal_nodes.commands`, so each capability adds its command
in a file of its own. A command module provides a docstring (its first line is the help text),
``add_arguments(parser)`` and ``run(args) -> int``. The module name with ``_`` replaced by ``-`` is the command name.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from types import ModuleType

import causal_nodes.commands as commands_pkg


class CommandError(Exception):
    """A user-facing failure: printed as one line without a traceback, exit code 2."""


def _command_modules() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands_pkg.__name__}.{info.name}")
        if hasattr(module, "add_arguments") and hasattr(module, "run"):
            found[info.name.replace("_", "-")] = module
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="causal-nodes",
        description="Online causal perception for ROS 2: discovery, prioritization, world model, simulation, bags.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in _command_modules().items():
        doc = (module.__doc__ or name).strip()
        summary = doc.splitlines()[0]
        command_parser = sub.add_parser(
            name, help=summary, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        module.add_arguments(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (CommandError, ValueError, FileNotFoundError) as error:
        print(f"causal-nodes {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        # nothing more can be written: point stdout at /dev/null so the flush at exit does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
