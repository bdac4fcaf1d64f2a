"""Turn Ctrl-C / SIGTERM into a flag, so recording and replay end by finishing their bag rather than by a traceback.

Why not rclpy's handler: it shuts the context down from inside the signal, and the recorder still has to close the
bag (write its index and metadata, rename it into place) afterwards; a flag polled by the loop lets it do so.
"""
from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any


class StopOnSignals:
    """Context manager: while active, SIGINT/SIGTERM set :attr:`event` instead of interrupting.

    Outside the main thread (where Python cannot install handlers) it is a plain event that callers may set.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.event = threading.Event()
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.received = signum
        self.event.set()

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    def is_set(self) -> bool:
        return self.event.is_set()
