"""The process shell shared by the bag nodes (recorder, replay): their own rclpy context, signals and errors.

Why shared: recording and replaying must both end cleanly on Ctrl-C/SIGTERM (a bag closed, not truncated), so
rclpy's own signal handlers are off and :class:`~causal_nodes.bags.stop_signals.StopOnSignals` decides; and both
report a :class:`~causal_nodes.bags.errors.BagError` as one line with exit code 2, whether it comes from the
command line (``causal-nodes record/replay``) or from ``ros2 run``.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import rclpy
from rclpy.node import Node

from causal_nodes.bags.errors import BagError

N = TypeVar("N", bound=Node)


@contextmanager
def bag_context(args: list[str] | None = None) -> Iterator[None]:
    """rclpy initialised without its signal handlers, shut down on exit."""
    from rclpy.signals import SignalHandlerOptions

    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    try:
        yield
    finally:
        if rclpy.ok():
            rclpy.shutdown()


def run_bag_node(label: str, args: list[str] | None, make_node: Callable[[], N], work: Callable[[N], None]) -> None:
    """``main()`` of a bag node: make it, run ``work`` on it, destroy it; a BagError exits with code 2."""
    failed = False
    with bag_context(args):
        node = None
        try:
            node = make_node()
            work(node)
        except BagError as error:
            print(f"{label}: error: {error}", file=sys.stderr)
            failed = True
        finally:
            if node is not None:
                node.destroy_node()
    if failed:
        sys.exit(2)
