"""Shared test set-up: an isolated DDS domain per test session, and helpers to run real rclpy nodes.

Each pytest session picks its own ROS_DOMAIN_ID and keeps discovery on this host, so concurrent test runs on
one machine (developers, CI) do not hear each other's topics. An exported ROS_DOMAIN_ID is kept: two sessions with
the same one do hear each other (``demo`` then refuses to start, naming the other publishers; issue #10).
"""
from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator

import pytest

os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 100)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")


class RosHarness:
    """An rclpy context whose executor spins on a background thread.

    Nodes added here run at once; tests wait for results with :meth:`spin_until` (a poll, the executor does the
    work), so a test thread that is busy asserting never starves a subscription queue.
    """

    def __init__(self) -> None:
        import threading

        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        # One executor thread: a multi-threaded executor here stalled the simulator node's timer now and then
        # (1 run in 4 of test_sim_node, callbacks stuck for > 10 s with nothing else running).
        self.executor = SingleThreadedExecutor(context=self.context)
        self.nodes: list[object] = []
        self.spin_error: BaseException | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        # spin_once in a loop, stopped by close() between two waits: Jazzy's rclpy (7.1) lets Executor.shutdown()
        # from another thread clear the executor's guard condition while spin() builds its next wait set
        # (AttributeError: 'NoneType' object has no attribute 'handle' on this thread)
        try:
            while not self._stopping.is_set() and self.context.ok():
                self.executor.spin_once(timeout_sec=0.05)
        except (ExternalShutdownException, RuntimeError) as error:
            self.spin_error = error  # shut down by close(), or a real failure that spin_until reports

    def add(self, node):
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def node(self, name: str):
        return self.add(self.rclpy.create_node(name, context=self.context))

    def spin_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            if self.spin_error is not None or not self._thread.is_alive():
                raise RuntimeError(f"the test executor stopped spinning: {self.spin_error!r}")
            time.sleep(0.02)
        return predicate()

    def spin_for(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        self.executor.shutdown()
        for node in self.nodes:
            node.destroy_node()
        self.rclpy.shutdown(context=self.context)


@pytest.fixture
def ros() -> Iterator[RosHarness]:
    pytest.importorskip("rclpy")
    harness = RosHarness()
    try:
        yield harness
    finally:
        harness.close()
