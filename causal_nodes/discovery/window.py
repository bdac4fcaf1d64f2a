"""A sliding window of stamped variable samples that refuses bad samples instead of corrupting the window.

Why a dedicated structure: a discovery over a window is only meaningful when samples are finite, on one time
axis and in order. Streams break those rules in practice (NaN from a failed sensor, duplicated messages, a bag
that loops back to its start, a frame stamped 2038, a frame of 10,000 variables), so every sample passes the checks
here; a rejected sample is counted by reason, never raised, so a node can report the counters on ``/diagnostics``
and carry on. The time rules are shared with the variables extractor (:mod:`causal_nodes.variables.time_sanity`).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from causal_nodes.variables.time_sanity import DROP, RESET, ForwardJumpGuard, TimeRules, judge_step_back


@dataclass(frozen=True)
class WindowConfig:
    length: int = 500
    """Samples kept (the oldest is dropped when a new one arrives at full length)."""
    time_jump_reset_s: float = 1.0
    """A stamp this far *behind* the newest sample means time restarted (a looping bag): the window is reset.
    Smaller steps back are treated as out-of-order samples and dropped."""
    max_forward_jump_s: float = 10.0
    """A stamp this far *ahead* of the newest sample is dropped as an outlier, unless the next ones confirm that
    time jumped (then the window is reset)."""
    max_variables: int = 50
    """Widest sample accepted; a wider one is rejected (the statistics grow with the square of the width)."""
    allow_missing: bool = False
    """Keep samples with NaN values (missing; inf is still rejected). Discovery needs complete samples; the
    prioritizer's SEM fit skips the rows that touch a missing value, so it keeps them and loses no time steps."""
    leave_out_after: int = 20
    """Frames in a row a variable may be missing from the frames before discovery leaves it out of the window
    (:class:`~causal_nodes.discovery.online.OnlineDiscovery`), keeping the others' samples; once it is back for as
    many frames in a row it returns, when enough frames with it have been collected for a run (the narrow window
    runs on meanwhile). 0 = never: frames without it are rejected. One
    missing from more than a third of the frames (flicker) is left out too, after proportionally more frames."""
    leave_out_nan_after: int = 0
    """The same for a variable present but NaN. 0 (default) = never: NaN is how a person out of view looks, and
    those frames are rejected while the window (and its pooled encounters) waits; a value suits a sensor that
    can die for good."""

    def __post_init__(self) -> None:
        if self.length < 2:
            raise ValueError(f"window length must be >= 2, got {self.length}")
        if self.max_variables < 1:
            raise ValueError(f"max_variables must be >= 1, got {self.max_variables}")
        if self.leave_out_after < 0 or self.leave_out_nan_after < 0:
            raise ValueError(f"leave_out_after and leave_out_nan_after must be >= 0, got {self.leave_out_after} "
                             f"and {self.leave_out_nan_after}")
        self.time_rules()

    def time_rules(self) -> TimeRules:
        return TimeRules(back_jump_reset_s=self.time_jump_reset_s, max_forward_jump_s=self.max_forward_jump_s)


class SampleWindow:
    """Ring buffer of ``(stamp, values)`` for a fixed list of variable names.

    ``add`` returns ``None`` when the sample was accepted, otherwise the reason it was not (also counted in
    :attr:`rejected`). A change of the variable list, or a jump in time, resets the window (counted in
    :attr:`resets`) and the sample then starts the new window. A sample with a NaN is rejected, and the
    variables that were NaN in every sample since the last accepted one are :meth:`blocking` the window.
    """

    def __init__(self, config: WindowConfig) -> None:
        self.config = config
        self._forward_guard = ForwardJumpGuard(config.time_rules())
        self.missing_run: dict[str, int] = {}
        """Per variable: samples in a row, up to the newest, rejected because it was NaN."""
        self.names: list[str] = []
        self._values = np.empty((config.length, 0))
        self._stamps = np.empty(config.length)
        self._labels = np.full(config.length, "", dtype=object)
        self._start = 0
        self._count = 0
        self._clock: float | None = None
        """Newest stamp of a frame rejected for its values (nobody in view) that kept to the window's clock."""
        self.accepted = 0
        self.rejected: Counter = Counter()
        self.resets: Counter = Counter()

    @property
    def fill(self) -> int:
        return self._count

    @property
    def full(self) -> bool:
        return self._count == self.config.length

    def newest_stamp(self) -> float | None:
        return None if self._count == 0 else float(self._stamps[(self._start + self._count - 1) % self.config.length])

    def oldest_stamp(self) -> float | None:
        return None if self._count == 0 else float(self._stamps[self._start])

    def clear(self) -> None:
        self._start = 0
        self._count = 0
        self._clock = None
        self._forward_guard.clear()

    def add(self, stamp: float, names: Sequence[str], values: Sequence[float], label: str = "") -> str | None:
        """``label``: who or what the sample is about (e.g. the subject person), kept beside it."""
        if len(names) != len(values):
            return self._reject("names_values_length_mismatch")
        if len(names) > self.config.max_variables:
            return self._reject("too_many_variables")
        if not names:  # nothing to learn from, and a window of no variables breaks the statistics sized by it
            return self._reject("no_variables")
        if not np.isfinite(stamp):
            return self._reject("non_finite_stamp")
        row = np.asarray(values, dtype=np.float64)
        if np.isinf(row).any() or (not self.config.allow_missing and np.isnan(row).any()):
            self._note_missing(names, row)
            self._follow_clock(stamp)
            return self._reject("non_finite_value")
        newest = self.newest_stamp() if list(names) == self.names else None
        verdict = judge_step_back(newest, stamp, self.config.time_rules())
        if verdict.action == DROP:
            return self._reject("out_of_order_stamp" if verdict.reason == "out_of_order" else verdict.reason)
        if verdict.action != RESET:
            verdict = self._forward_guard.judge(self._clock_reference(), stamp)
            if verdict.action == DROP:
                return self._reject(verdict.reason)
        if list(names) != self.names:
            if self._count:
                self.resets["variables_changed"] += 1
            self._set_names(names)
        elif verdict.action == RESET:
            self.resets[verdict.reason] += 1
            self.clear()
        if any(self.missing_run.values()):
            self.missing_run = dict.fromkeys(self.names, 0)
        self._append(stamp, row, label)
        self.accepted += 1
        return None

    def blocking(self) -> dict[str, int]:
        """Variables NaN in every sample since the last accepted one: name -> samples rejected in a row."""
        return {name: run for name, run in self.missing_run.items() if run > 0}

    def reconfigure(self, config: WindowConfig) -> None:
        """New settings at runtime, keeping the newest samples (as many as the new length holds)."""
        length = config.length
        stamps, values, labels = self.stamps()[-length:], self.array()[-length:], self.labels()[-length:]
        self.config = config
        self._forward_guard = ForwardJumpGuard(config.time_rules())
        if len(self.names) > config.max_variables:
            self.resets["variables_changed"] += 1
            self.names = []
        self._values = np.empty((length, len(self.names)))
        self._stamps = np.empty(length)
        self._labels = np.full(length, "", dtype=object)
        self.clear()
        if self.names:
            for stamp, row, label in zip(stamps, values, labels):
                self._append(float(stamp), row, label)

    def drop_variables(self, names: Sequence[str]) -> list[str]:
        """Removes the columns of ``names``, keeping every sample of the other variables (a variable that went
        missing costs the window nothing else). Returns the names actually removed."""
        keep = [k for k, name in enumerate(self.names) if name not in set(names)]
        removed = [name for name in self.names if name in set(names)]
        if not removed:
            return []
        stamps, values, labels = self.stamps(), self.array()[:, keep], self.labels()
        self.names = [self.names[k] for k in keep]
        self._values = np.empty((self.config.length, len(self.names)))
        self._start = self._count = 0
        for stamp, row, label in zip(stamps, values, labels):
            self._append(float(stamp), row, label)
        self.missing_run = {name: run for name, run in self.missing_run.items() if name in self.names}
        return removed

    def replace_samples(self, names: Sequence[str], stamps: Sequence[float], rows: np.ndarray,
                        labels: Sequence[str]) -> None:
        """Puts these samples (oldest first, at most ``length`` kept) in place of the window's, with these variables:
        a wider window built from frames already taken (not counted again as accepted, nor as a reset)."""
        self._set_names(names)
        for stamp, row, label in zip(stamps, np.asarray(rows, dtype=np.float64).reshape(len(stamps), len(names)),
                                     labels):
            self._append(float(stamp), row, label)
        self.missing_run = {}

    def array(self) -> np.ndarray:
        """The window's samples, oldest first, as a (fill, N) copy."""
        return self._ordered(self._values)

    def stamps(self) -> np.ndarray:
        return self._ordered(self._stamps)

    def labels(self) -> list[str]:
        """The samples' labels, oldest first."""
        return list(self._ordered(self._labels))

    def counters(self) -> dict[str, int]:
        out = {"accepted": self.accepted, "fill": self._count}
        out.update({f"rejected_{k}": v for k, v in self.rejected.items()})
        out.update({f"reset_{k}": v for k, v in self.resets.items()})
        return out

    def snapshot(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Names, stamps and values copied together, for a discovery running on another thread."""
        return list(self.names), self.stamps(), self.array()

    def _clock_reference(self) -> float | None:
        """Where the stream's clock stands: the newest accepted sample, or a newer frame rejected for its values.

        Why: a forward jump is judged against the stream, not only the accepted samples; otherwise frames that
        are NaN for longer than ``max_forward_jump_s`` (nobody in view) would make the next person's first samples
        "future" outliers and then reset the window, losing the encounters pooled before them.
        """
        newest = self.newest_stamp()
        if newest is None or self._clock is None:
            return newest
        return max(newest, self._clock)

    def _follow_clock(self, stamp: float) -> None:
        reference = self._clock_reference()
        if reference is not None and 0 < stamp - reference <= self.config.max_forward_jump_s:
            self._clock = stamp

    def _note_missing(self, names: Sequence[str], row: np.ndarray) -> None:
        if set(self.missing_run) != set(names):
            self.missing_run = dict.fromkeys(names, 0)  # bounded by max_variables: only this frame's names
        for name, value in zip(names, row):
            self.missing_run[name] = 0 if np.isfinite(value) else self.missing_run[name] + 1

    def _set_names(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self._values = np.empty((self.config.length, len(self.names)))
        self.clear()

    def _append(self, stamp: float, row: np.ndarray, label: str) -> None:
        length = self.config.length
        if self._count < length:
            index = (self._start + self._count) % length
            self._count += 1
        else:
            index = self._start
            self._start = (self._start + 1) % length
        self._values[index] = row
        self._stamps[index] = stamp
        self._labels[index] = label

    def _ordered(self, buffer: np.ndarray) -> np.ndarray:
        idx = (self._start + np.arange(self._count)) % self.config.length
        return buffer[idx].copy()

    def _reject(self, reason: str) -> str:
        self.rejected[reason] += 1
        return reason
