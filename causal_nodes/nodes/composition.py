"""Several nodes in one process on one multi-threaded executor: ``causal-nodes run`` and the demo.

Why: ``ros2 launch`` is not everywhere (containers, CI, a laptop with only the wheels); composing the same node
classes in one process gives the same topic graph over DDS with one command.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node

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
    """An rclpy context, its executor and the nodes added to it; closes everything on exit."""

    def __init__(self, ros_args: Sequence[str] | None = None, threads: int = 4) -> None:
        self.context = rclpy.Context()
        rclpy.init(args=list(ros_args) if ros_args else None, context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=threads, context=self.context)
        self.nodes: list[Node] = []

    def add(self, factory: NodeFactory, **kwargs) -> Node:
        node = factory(context=self.context, **kwargs)
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def spin_until(self, done: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.context.ok():
            if done():
                return True
            self.executor.spin_once(timeout_sec=0.05)
        return done()

    def spin_forever(self) -> None:
        try:
            while self.context.ok():
                self.executor.spin_once(timeout_sec=0.1)
        except KeyboardInterrupt:
            pass

    def __enter__(self) -> Composition:
        return self

    def __exit__(self, *exc) -> None:
        self.executor.shutdown()
        for node in reversed(self.nodes):
            node.destroy_node()
        if self.context.ok():
            rclpy.shutdown(context=self.context)
