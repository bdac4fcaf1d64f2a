"""What every hostile test checks besides its own assertions: the nodes it ran stayed alive, and this process's
memory stayed bounded (its peak resident memory, which also catches a spike between two probes)."""
from __future__ import annotations

import pytest
from hostile_tools import peak_rss_mb

PEAK_GROWTH_LIMIT_MB = 250.0
"""Far above what any test here needs (tens of MB), far below what the unfixed faults took (1-37 GB)."""


@pytest.fixture
def ros(ros):
    """The shared rclpy harness; afterwards, its executor must still be spinning (no callback took it down)."""
    yield ros
    assert ros.spin_error is None and ros._thread.is_alive(), f"the nodes' executor died: {ros.spin_error!r}"


@pytest.fixture(autouse=True)
def bounded_memory():
    before = peak_rss_mb()
    yield
    growth = peak_rss_mb() - before
    assert growth < PEAK_GROWTH_LIMIT_MB, f"peak memory grew by {growth:.0f} MB during the test"
