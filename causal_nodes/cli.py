"""The ``causal-nodes`` command line.

Sub-commands are discovered from the modules of :mod:`causal_nodes.commands`, so each capability adds its command
in a file of its own. A command module provides a docstring (its first line is the help text),
``add_arguments(parser)`` and ``run(args) -> int``. The module name with ``_`` replaced by ``-`` is the command name.

Every user error ends the same way: one line on stderr, ``causal-nodes <command>: error: <what, naming the file or
option>``, and exit code 2 (argparse's own errors included; a float option must be a finite number).
"""
from __future__ import annotations

import argparse
import importlib
import math
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


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (naming the option) and exit code 2, like every other user error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def finite_float(text: str) -> float:
    """A float option: NaN and inf are refused (``record --duration nan`` would record forever)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _finite_floats(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if action.type is float:
            action.type = finite_float


def describe_error(error: BaseException) -> str:
    """One line for a user error; an OSError names its file (``Is a directory: out/``)."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.strerror}: {error.filename}"
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0] if isinstance(error, OSError) else " ".join(text.split("\n"))


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
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
        _finite_floats(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # a usage error (already printed as one line) or --help
        return stop.code if isinstance(stop.code, int) else 2
    try:
        return int(args._run(args) or 0)
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        # nothing more can be written: point stdout at /dev/null so the flush at exit does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CommandError, ValueError, OSError) as error:  # FileNotFoundError, IsADirectoryError, PermissionError
        print(f"causal-nodes {args.command}: error: {describe_error(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
