"""Online discovery: a sliding window of variable frames and the decision of when and on what to run PCMCI.

The node owns the threads and the messages; this class owns the rules, so they can be tested without ROS:
which variables enter the window, when a window is worth a run (enough samples, new samples since the last run),
and how a failed run is reported (a status, never an exception into a callback).
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from causal_nodes.core.discovery import DiscoveryConfig, DiscoveryResult, InsufficientDataError, discover
from causal_nodes.core.window import SampleWindow, WindowConfig


@dataclass
class WindowJob:
    """A copy of the window taken for one discovery run (safe to use on another thread)."""

    names: List[str]
    stamps: np.ndarray
    data: np.ndarray
    taken_at: float


@dataclass
class DiscoveryOutcome:
    job: WindowJob
    result: Optional[DiscoveryResult]
    error: Optional[str] = None
    insufficient: bool = False

    @property
    def window_start(self) -> float:
        return float(self.job.stamps[0])

    @property
    def window_end(self) -> float:
        return float(self.job.stamps[-1])


class OnlineDiscovery:
    """Feeds frames into a :class:`SampleWindow` and cuts jobs for :func:`discover`.

    ``variables``: the names to use, in this order; empty = every name of the incoming frames, in their order.
    A frame lacking one of the configured names is rejected and counted (``missing_<name>``).
    """

    def __init__(self, window: WindowConfig, config: DiscoveryConfig, variables: Sequence[str] = (),
                 min_samples: Optional[int] = None) -> None:
        self.window = SampleWindow(window)
        self.config = config
        self.variables = list(variables)
        self.min_samples = max(min_samples or 0, config.min_samples())
        if self.min_samples > window.length:
            raise ValueError(f"window length {window.length} is shorter than the {self.min_samples} samples a run needs")
        self.rejected: Counter = Counter()
        self._samples_at_last_job = -1

    def add(self, stamp: float, names: Sequence[str], values: Sequence[float]) -> Optional[str]:
        if self.variables:
            index = {name: k for k, name in enumerate(names)}
            missing = [v for v in self.variables if v not in index]
            if missing:
                reason = f"missing_{missing[0]}"
                self.rejected[reason] += 1
                return reason
            values = [values[index[v]] for v in self.variables]
            names = self.variables
        return self.window.add(stamp, names, values)

    def ready(self) -> bool:
        """A run is due: enough samples, and new ones since the last job."""
        return self.window.fill >= self.min_samples and self.window.accepted != self._samples_at_last_job

    def take_job(self) -> WindowJob:
        names, stamps, data = self.window.snapshot()
        self._samples_at_last_job = self.window.accepted
        return WindowJob(names=names, stamps=stamps, data=data, taken_at=time.monotonic())

    def run(self, job: WindowJob) -> DiscoveryOutcome:
        """Runs the discovery on a job; errors become an outcome, not an exception."""
        try:
            return DiscoveryOutcome(job, discover(job.data, job.names, self.config))
        except InsufficientDataError as error:
            return DiscoveryOutcome(job, None, str(error), insufficient=True)
        except Exception as error:  # a failed run must not take the node down; it is reported instead
            return DiscoveryOutcome(job, None, f"{type(error).__name__}: {error}")

    def counters(self) -> dict:
        out = self.window.counters()
        out.update({f"rejected_{k}": v for k, v in self.rejected.items()})
        return out

    def fill_status(self) -> Tuple[bool, str]:
        """(enough samples?, a sentence for diagnostics)."""
        fill = self.window.fill
        if fill < self.min_samples:
            return False, f"waiting for samples: {fill}/{self.min_samples} in window"
        return True, f"window {fill}/{self.window.config.length}"
