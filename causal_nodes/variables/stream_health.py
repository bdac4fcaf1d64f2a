"""Whether a node's inputs are alive: arrivals, losses revealed by sequence numbers, and silence.

Why: a node that counts only what it received says OK while its input is gone (a sensor unplugged, a bag paused)
or while a third of its frames die in a full queue. Every input is followed here by name, so ``/diagnostics``
can say *received / expected / lost* per topic and go STALE when an input has been silent longer than a limit.

Times are whatever clock the caller passes (the nodes use a monotonic wall clock: silence is about the process
and the wires, not about bag time, which stands still exactly when something is wrong).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass
class StreamHealth:
    """Arrivals on one input. ``sequence`` (when the messages carry one) reveals losses and restarts."""

    received: int = 0
    lost: int = 0
    """Messages that never arrived: skipped sequence numbers."""
    restarts: int = 0
    """The sequence went back: the publisher restarted (or a bag looped)."""
    last_arrival: float | None = None
    numbered: bool = False
    """Whether the messages carry sequence numbers (so ``expected`` and ``lost`` mean something)."""
    _last_sequence: int | None = None

    def arrived(self, now: float, sequence: int | None = None) -> int:
        """Counts one arrival; returns how many messages were lost just before it."""
        self.received += 1
        self.last_arrival = now
        if sequence is None:
            return 0
        gap = 0
        if self._last_sequence is not None:
            if sequence > self._last_sequence:
                gap = sequence - self._last_sequence - 1
                self.lost += gap
            elif sequence or self._last_sequence:  # 0 after 0: a publisher that does not number its messages
                self.restarts += 1
        self._last_sequence = sequence
        self.numbered = self.numbered or sequence > 0
        return gap



    @property
    def expected(self) -> int:
        return self.received + self.lost


class InputMonitor:
    """The health of a node's named inputs; an input silent for longer than ``stale_after_s`` is stale.

    ``events``: inputs that are published once and held (a goal pose): never stale.
    """

    def __init__(self, names: Iterable[str], stale_after_s: float, started: float, events: Iterable[str] = ()) -> None:
        if not stale_after_s > 0:
            raise ValueError(f"stale_after_s must be > 0, got {stale_after_s}")
        self.stale_after_s = stale_after_s
        self.started = started
        self.events = frozenset(events)
        self.streams: dict[str, StreamHealth] = {name: StreamHealth() for name in names}

    def arrived(self, name: str, now: float, sequence: int | None = None) -> int:
        return self.streams[name].arrived(now, sequence)

    def silent_for(self, name: str, now: float) -> float:
        """Seconds since the input's last message (since the monitor started when none came)."""
        last = self.streams[name].last_arrival
        return now - (self.started if last is None else last)

    def stale(self, now: float) -> list[str]:
        """Inputs (events aside) silent for longer than ``stale_after_s``, in the order they were named."""
        return [name for name in self.streams
                if name not in self.events and self.silent_for(name, now) > self.stale_after_s]

    def describe_stale(self, now: float, topics: dict[str, str] | None = None) -> str:
        """'no /scan for 12.0 s, no /odom ever' for the stale inputs (``topics`` maps input names to topics)."""
        parts = []
        for name in self.stale(now):
            label = (topics or {}).get(name, name)
            if self.streams[name].last_arrival is None:
                parts.append(f"no {label} since start ({self.silent_for(name, now):.1f} s)")
            else:
                parts.append(f"no {label} for {self.silent_for(name, now):.1f} s")
        return ", ".join(parts)

    def counters(self) -> dict[str, int]:
        """``received_<input>`` for every input; ``expected_``/``lost_``/``restarts_`` where sequences exist."""
        out: dict[str, int] = {}
        for name, health in self.streams.items():
            out[f"received_{name}"] = health.received
            if health.numbered:
                out[f"expected_{name}"] = health.expected
                out[f"lost_{name}"] = health.lost
                out[f"restarts_{name}"] = health.restarts
        return out
