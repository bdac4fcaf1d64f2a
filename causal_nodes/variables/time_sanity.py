"""Rules for the next stamp on a time axis: accept it, drop it (counted), or start the axis over (reset).

Why a module of its own: the variables extractor (per input stream) and the discovery window (per frame stream)
face the same hostile stamps, and must answer them the same way:

* a small step back (jitter, a duplicated message) is dropped;
* a large step back (a looping bag, a restarted simulator, a robot clock that restarts at 1970) starts over;
* a large step *forward* (one ``/scan`` stamped 2038, a clock that jumps ahead) is never followed blindly: anything
  that fills the time in between (grid frames, window samples) would grow without bound. A far-future stamp is
  dropped as an outlier until ``confirmations`` far-future stamps in a row agree with each other; then the clock
  really jumped, and the axis starts over at the new time.

The answers are plain strings, so callers count them by name and report them on ``/diagnostics``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

ACCEPT = "accept"
DROP = "drop"
RESET = "reset"

NON_FINITE_STAMP = "non_finite_stamp"
DUPLICATE_STAMP = "duplicate_stamp"
OUT_OF_ORDER = "out_of_order"
FUTURE_STAMP = "future_stamp"
JUMPED_BACK = "time_jumped_back"
JUMPED_FORWARD = "time_jumped_forward"


@dataclass(frozen=True)
class TimeRules:
    """How far a stamp may move before it is treated as a new time axis (seconds)."""

    back_jump_reset_s: float = 1.0
    """A stamp this far *behind* the newest one means time restarted: reset. Smaller steps back are dropped."""
    max_forward_jump_s: float = 10.0
    """A stamp more than this *ahead* of the newest one is an outlier (dropped) until confirmed (then: reset)."""
    confirmations: int = 3
    """Far-future stamps in a row, within ``max_forward_jump_s`` of each other, that confirm a forward jump."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.back_jump_reset_s) and self.back_jump_reset_s > 0):
            raise ValueError(f"time_jump_reset_s must be > 0, got {self.back_jump_reset_s}")
        if not (math.isfinite(self.max_forward_jump_s) and self.max_forward_jump_s > 0):
            raise ValueError(f"max_forward_jump_s must be > 0, got {self.max_forward_jump_s}")
        if self.confirmations < 1:
            raise ValueError(f"confirmations must be >= 1, got {self.confirmations}")


@dataclass(frozen=True)
class Verdict:
    action: str
    """ACCEPT, DROP or RESET (start the axis over with this stamp as its first)."""
    reason: str = ""


_ACCEPTED = Verdict(ACCEPT)


def judge_step_back(newest: float | None, stamp: float, rules: TimeRules) -> Verdict:
    """The verdict on ``stamp`` against the newest stamp of the same stream (order and backward jumps only)."""
    if not math.isfinite(stamp):
        return Verdict(DROP, NON_FINITE_STAMP)
    if newest is None or stamp > newest:
        return _ACCEPTED
    if newest - stamp >= rules.back_jump_reset_s:
        return Verdict(RESET, JUMPED_BACK)
    return Verdict(DROP, DUPLICATE_STAMP if stamp == newest else OUT_OF_ORDER)


class ForwardJumpGuard:
    """Tells a far-future outlier from a clock that really jumped ahead (see the module docstring)."""

    def __init__(self, rules: TimeRules) -> None:
        self.rules = rules
        self._pending: list[float] = []

    def judge(self, newest: float | None, stamp: float) -> Verdict:
        """The verdict on ``stamp`` against the newest accepted stamp of the axis (``None``: axis not started)."""
        if newest is None or stamp - newest <= self.rules.max_forward_jump_s:
            self._pending.clear()  # an ordinary stamp in between: the far-future ones were outliers
            return _ACCEPTED
        if self._pending and abs(stamp - self._pending[-1]) > self.rules.max_forward_jump_s:
            self._pending.clear()  # far ahead, but not where the previous outlier was: not the same new clock
        self._pending.append(stamp)
        if len(self._pending) >= self.rules.confirmations:
            self._pending.clear()
            return Verdict(RESET, JUMPED_FORWARD)
        return Verdict(DROP, FUTURE_STAMP)

    def clear(self) -> None:
        self._pending.clear()
