"""Nodes in one process, each spun by its own executor thread: ``causal-nodes run``, every node's ``main()``, the demo.

Why: ``ros2 launch`` is not everywhere (containers, CI, a laptop with only the wheels); composing the same node
classes in one process gives the same topic graph over DDS with one command.

Why this shape, for a clean shutdown (50 Ctrl-Cs in a row, no segfault, no ``RCLError``):

* rclpy's own signal handlers are off; Ctrl-C / SIGTERM set a flag (:class:`StopOnSignals`), so the context
  stays valid until the nodes are gone (rclpy's handler shuts the context down under running callbacks, and a
  ``destroy_node`` after that raises ``RCLError: context is not valid``);
* each node has a single-threaded executor on a thread of its own (a node's callbacks are serialised anyway:
  they share its default callback group), so stopping is *join the threads, then destroy the nodes, then shut
  the context down*: nothing is destroyed while a callback of another thread still uses it (the segfault);
* a callback that raises is logged and counted (:attr:`Composition.callback_errors`); it never stops its node.
"""
from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from causal_nodes.bags.stop_signals import StopOnSignals

NodeFactory = Callable[..., Node]


def node_factories() -> dict[str, NodeFactory]:
    """Node name -> class, imported lazily so a missing optional dependency only disables its node."""

    def lazy(module: str, cls: str) -> NodeFactory:
        def make(**kwargs) -> Node:
            import importlib

            return getattr(importlib.import_module(f"causal_nodes.nodes.{module}"), cls)(**kwargs)

        return make

    return {
        "sim": lazy("sim_node", "SimNode"),
        "variables": lazy("variables_node", "VariablesNode"),
        "discovery": lazy("discovery_node", "DiscoveryNode"),
        "prioritizer": lazy("prioritizer_node", "PrioritizerNode"),
        "world_model": lazy("world_model_node", "WorldModelNode"),
    }


class Composition:
    """An rclpy context and its nodes, each spinning on its own thread; closes everything in order on exit.

    Used as a context manager in the main thread it also turns Ctrl-C / SIGTERM into :attr:`stop` (set), which
    :meth:`spin_forever` and :meth:`spin_until` return on.
    """

    def __init__(self, ros_args: Sequence[str] | None = None, threads: int | None = None) -> None:
        from rclpy.impl.implementation_singleton import rclpy_implementation
        from rclpy.signals import SignalHandlerOptions

        del threads  # one executor thread per node (kept for callers of the former multi-threaded executor)
        self.context = rclpy.Context()
        try:
            rclpy.init(args=list(ros_args) if ros_args else None, context=self.context,
                       signal_handler_options=SignalHandlerOptions.NO)
        except rclpy_implementation.RCLError as error:  # e.g. a params file rcl cannot parse
            raise ValueError(f"cannot start ROS: {str(error).strip().splitlines()[0]}") from None
        self.nodes: list[Node] = []
        self.callback_errors: Counter = Counter()
        self._signals = StopOnSignals()
        self.stop = self._signals.event
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []

    def add(self, factory: NodeFactory, **kwargs) -> Node:
        """Creates a node in this context and starts spinning it. A node that fails to start is destroyed."""
        node = factory(context=self.context, **kwargs)
        self.nodes.append(node)
        executor = SingleThreadedExecutor(context=self.context)
        executor.add_node(node)
        thread = threading.Thread(target=self._spin, args=(node, executor), name=f"spin-{node.get_name()}",
                                  daemon=True)
        self._threads.append(thread)
        thread.start()
        return node

    def _spin(self, node: Node, executor: SingleThreadedExecutor) -> None:
        try:
            while not self._closing.is_set() and self.context.ok():
                try:
                    executor.spin_once(timeout_sec=0.05)
                except (ExternalShutdownException, KeyboardInterrupt):
                    break
                except Exception as error:  # a failing callback is reported; the node keeps running
                    name = node.get_name()
                    self.callback_errors[name] += 1
                    if self.callback_errors[name] <= 5 or self.callback_errors[name] % 100 == 0:
                        print(f"{name}: callback failed ({self.callback_errors[name]} so far): "
                              f"{type(error).__name__}: {error}", file=sys.stderr)
        finally:
            executor.shutdown(timeout_sec=0)

    def spin_until(self, done: Callable[[], bool], timeout_s: float) -> bool:
        """Waits (the nodes spin on their threads) until ``done()``, the timeout, or a stop signal."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self.stop.is_set() and self.context.ok():
            if done():
                return True
            time.sleep(0.02)
        return done()

    def spin_forever(self) -> None:
        """Until Ctrl-C / SIGTERM (or :attr:`stop` set by the caller)."""
        while not self.stop.is_set() and self.context.ok():
            self.stop.wait(0.2)

    def close(self) -> None:
        """Stop spinning, join the executor threads, destroy the nodes (newest first), shut the context down."""
        self._closing.set()
        for thread in self._threads:
            thread.join(timeout=10.0)
        for node in reversed(self.nodes):
            try:
                node.destroy_node()
            except Exception as error:  # destroying must go on for the others
                print(f"{node.get_name()}: destroy failed: {type(error).__name__}: {error}", file=sys.stderr)
        self.nodes.clear()
        if self.context.ok():
            rclpy.shutdown(context=self.context)

    def __enter__(self) -> Composition:
        self._signals.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.close()
        finally:
            self._signals.__exit__()
