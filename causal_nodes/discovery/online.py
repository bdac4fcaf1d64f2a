"""Online discovery: a sliding window of variable frames and the decision of when and on what to run PCMCI.

The node owns the threads and the messages; this class owns the rules, so they can be tested without ROS:
which variables enter the window, when a window is worth a run (enough samples, new samples since the last run),
how a failed run is reported (a status, never an exception into a callback), and how a change of the settings at
runtime applies (:meth:`OnlineDiscovery.reconfigure`: checked in full first, then applied at once, so the next
graph reflects it).
"""
from __future__ import annotations

import bisect
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from causal_nodes.discovery.discover import (
    DiscoveryConfig,
    DiscoveryResult,
    Engine,
    InsufficientDataError,
    discover,
    fast_unsupported_reason,
)
from causal_nodes.discovery.samples import Samples
from causal_nodes.discovery.window import SampleWindow, WindowConfig


def encounters(stamps: np.ndarray, subjects: Sequence[str], gap_s: float) -> np.ndarray:
    """Encounter number per sample: it increases when the subject changes or the stamps jump by more than
    ``gap_s`` (the person was out of sight, the episode ended)."""
    stamps = np.asarray(stamps, dtype=np.float64)
    if len(stamps) == 0:
        return np.zeros(0, dtype=np.int64)
    subject = np.asarray(subjects, dtype=object)
    starts = (np.diff(stamps) > gap_s) | (subject[1:] != subject[:-1])
    return np.concatenate([[0], np.cumsum(starts)]).astype(np.int64)


@dataclass
class WindowJob:
    """A copy of the window taken for one discovery run (safe to use on another thread)."""

    names: list[str]
    stamps: np.ndarray
    data: np.ndarray
    taken_at: float
    statistics: Any | None = None
    """The fast engine's streaming statistics of this window, when kept (see :class:`OnlineDiscovery`)."""
    config: DiscoveryConfig | None = None
    """The settings when the job was cut (a reconfiguration meanwhile applies to the next job)."""
    datasets: np.ndarray | None = None
    """Encounter number per sample when encounters are pooled as separate datasets (see :class:`OnlineDiscovery`)."""
    left_out: dict[str, str] = field(default_factory=dict)
    """Variables left out of the window when the job was cut, and why (reported with the graph)."""


@dataclass
class DiscoveryOutcome:
    job: WindowJob
    result: DiscoveryResult | None
    error: str | None = None
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
    A frame lacking one of the configured names is rejected and counted (``missing_<name>``) -- except the
    context: frames without it (a producer that does not compute it, a topic that never came) are taken without
    it, and the runs then test without its regimes, the context named on the outcome (WARN on /diagnostics).

    Where the fast engine applies, the window's lagged second moments are also kept up to date sample by sample
    (:class:`~causal_nodes.discovery.fast.pcmci.StreamingPCMCI`, O(d^2) per sample), so a run costs only its tests;
    a job carries a copy of them. The result is the same as a batch run on the window (tested).

    ``pool_encounters``: the window's samples are split into encounters -- a new one starts when the subject
    changes or after a gap of more than ``encounter_gap_s`` -- and pooled as separate datasets (tigramite's
    multiple-datasets mode), so no lagged link is measured across the seam between two people or episodes.
    The configured context variable, if any, joins the window's variables.
    """

    def __init__(self, window: WindowConfig, config: DiscoveryConfig, variables: Sequence[str] = (),
                 min_samples: int | None = None, pool_encounters: bool = False,
                 encounter_gap_s: float = 1.0) -> None:
        self.window = SampleWindow(window)
        self.config = config
        self.variables = list(variables)
        if config.context and self.variables and config.context not in self.variables:
            self.variables.append(config.context)
        if not encounter_gap_s > 0:
            raise ValueError(f"encounter_gap_s must be > 0, got {encounter_gap_s}")
        self.pool_encounters = pool_encounters
        self.encounter_gap_s = encounter_gap_s
        self._min_samples_wanted = min_samples or 0
        self.min_samples = _min_samples(config, self._min_samples_wanted, window.length)
        if len(self.variables) > window.max_variables:
            raise ValueError(f"variables: {len(self.variables)} configured, max_variables is {window.max_variables}")
        self.rejected: Counter = Counter()
        self.taken_in_after_hold = 0
        """Frames first counted as rejected (a listed variable missing or NaN), then taken in once it was left out."""
        self._missing_run: dict[str, int] = {}
        """Variables of the window missing or non-finite in the newest frames: name -> frames in a row."""
        self.left_out: dict[str, str] = {}
        """Variables left out of the window (missing or non-finite in ``leave_out_after`` frames in a row) -> why."""
        self._gone_run: dict[str, float] = {}
        """Variables of the window missing from the frames (not NaN: absent): name -> +1 per frame without it, -1/2
        per frame with it (never below 0). It reaches ``leave_out_after`` after as many frames in a row without it,
        or later when the variable is missing from more than a third of the frames: one in every other frame
        would otherwise reject half the frames for ever and leave the window unevenly sampled."""
        self._back_run: dict[str, int] = {}
        """Left-out variables present and finite again: name -> frames in a row."""
        self._back_after: dict[str, int] = {}
        """Left-out variables -> good frames in a row before they may return: the rule's own count (a variable left
        out for NaN needs ``leave_out_nan_after``), so a few good frames from a dying sensor do not take it back."""
        self._held: deque = deque()
        """Frames rejected in a row for a variable that may yet be left out; taken in without it when it is:
        (frame number, stamp, names, values, subject)."""
        self._frames_seen = 0
        """Frames numbered as they arrive, so that a left-out variable's run of good frames (``_back_run``) tells
        which of the frames kept for its return carry it."""
        self._returning: deque = deque()
        """The newest frames taken into the window while a left-out variable is back, kept whole (frame number,
        stamp, names, values, subject): a returning variable's window is built from them once they are enough for
        a run, while the narrow window runs on. At most the window's length; empty while no left-out variable is
        back. Every frame in it carries the window's variables."""
        self._returning_resets = 0
        self.returns = 0
        """Windows switched to take returning variables back in."""
        self.last_returned: list[str] = []
        self.reconfigurations = 0
        self._samples_at_last_job = -1
        self.streaming = _streams(config)
        self._stream: Any | None = None
        self._stream_resets = -1

    def reconfigure(self, config: DiscoveryConfig | None = None, window: WindowConfig | None = None,
                    min_samples: int | None = None, variables: Sequence[str] | None = None) -> None:
        """Applies new settings (``None`` = keep): all are checked first (ValueError naming the problem, nothing
        changed), then applied together. The window keeps its newest samples unless the variables change (then
        it starts over); the streaming statistics are rebuilt from the window."""
        config = config or self.config
        window = window or self.window.config
        wanted = self._min_samples_wanted if min_samples is None else min_samples
        new_min = _min_samples(config, wanted, window.length)
        if variables is not None and config.context and variables and config.context not in variables:
            variables = [*variables, config.context]
        if variables is not None and len(variables) > window.max_variables:
            raise ValueError(f"variables: {len(variables)} configured, max_variables is {window.max_variables}")
        if window != self.window.config:
            self.window.reconfigure(window)
        self._returning.clear()  # kept under the old settings (a shorter window, another min_samples): start again
        if variables is not None and list(variables) != self.variables:
            self.variables = list(variables)
            self.left_out, self._back_run, self._back_after, self._missing_run, self._gone_run = {}, {}, {}, {}, {}
            self._held = deque()
            if self.window.fill:
                self.window.resets["variables_changed"] += 1
            self.window.clear()
        self.config, self._min_samples_wanted, self.min_samples = config, wanted, new_min
        self.streaming = _streams(config)
        self._restream()
        self._samples_at_last_job = -1  # the next tick runs with the new settings even without new samples
        self.reconfigurations += 1

    def add(self, stamp: float, names: Sequence[str], values: Sequence[float], subject: str = "") -> str | None:
        """Takes one frame into the window; returns None, or why it was not taken (counted).

        A listed variable missing from the frames for ``leave_out_after`` frames in a row (NaN, listed or not:
        ``leave_out_nan_after``) is left out of the window, which keeps the other variables' samples, including
        those of the frames held back meanwhile. When it is back, the narrow window runs on while the frames that
        carry it are kept aside; once it has been back for ``leave_out_after`` good frames in a row and they number
        ``min_samples``, the window switches to them, the variable in (it is dropped again if the variable goes
        before). The context (regime label) is left out at once when the frames
        lack it: a run without regimes beats no run. Without listed variables, a variable the frames no longer
        carry leaves the window at once, the others' samples kept (the producer chose the frames' variables)."""
        if (len(names) != len(values) or len(names) > self.window.config.max_variables or not names
                or not np.isfinite(stamp)):
            return self.window.add(stamp, names, values)  # rejected and counted there
        index = {name: k for k, name in enumerate(names)}
        self._frames_seen += 1
        self._follow_absences(names, values, index)
        verdict = self._take(self._frames_seen, stamp, names, values, subject, index)
        config = self.window.config
        if verdict is None:
            self._held.clear()
            self._take_back_returned()
        elif ((verdict.startswith("missing_") and config.leave_out_after)
              or (verdict == "non_finite_value" and config.leave_out_nan_after)):
            self._held.append((self._frames_seen, stamp, list(names), list(values), subject))
            while len(self._held) > max(config.leave_out_after, config.leave_out_nan_after):
                self._held.popleft()
        self._forget_useless_returning()
        return verdict

    def _expected(self, frame_names: Sequence[str]) -> list[str]:
        """The variables a frame should carry: the configured ones, else the frame's own (the producer chooses them:
        a variable it no longer sends is never "missing", and a wholly new set of names starts a new window)."""
        return [v for v in (self.variables or frame_names) if v not in self.left_out]

    def _take(self, frame: int, stamp: float, names: Sequence[str], values: Sequence[float], subject: str,
              index: dict[str, int]) -> str | None:
        missing = [v for v in self._expected(names) if v not in index]
        if missing:
            reason = f"missing_{missing[0]}"
            self.rejected[reason] += 1
            return reason
        used = [v for v in (self.variables or names) if v in index and v not in self.left_out]
        row = [values[index[v]] for v in used]
        verdict = self.window.add(stamp, used, row, subject)
        if verdict is None and self.streaming:
            self._follow_window(row)
        if verdict is None and self.left_out:
            self._keep_for_return(frame, stamp, names, values, subject)
        return verdict

    def _keep_for_return(self, frame: int, stamp: float, names: Sequence[str], values: Sequence[float],
                         subject: str) -> None:
        resets = sum(self.window.resets.values())
        if resets != self._returning_resets:  # the window started over: frames from before it must not return
            self._returning.clear()
            self._returning_resets = resets
        self._returning.append((frame, stamp, tuple(names), tuple(values), subject))
        while len(self._returning) > self.window.config.length:
            self._returning.popleft()

    def _forget_useless_returning(self) -> None:
        """Drops the kept frames older than every left-out variable's run of good frames: none can return with them
        (a variable that went again before its switch takes its frames with it; none lost from the window)."""
        first = self._frames_seen - max((self._back_run.get(v, 0) for v in self.left_out), default=0)
        while self._returning and self._returning[0][0] <= first:
            self._returning.popleft()

    def _returning_count(self, run: int) -> int:
        """Kept frames among the newest ``run`` frames (those of a variable back for ``run`` frames in a row)."""
        return len(self._returning) - bisect.bisect_right(self._returning, self._frames_seen - run,
                                                          key=lambda kept: kept[0])

    def _take_back_returned(self) -> None:
        """Switches the window to the frames kept for the variables back long enough, with them in, once those
        frames are enough for a run: the window's newest samples, widened (variables back for fewer frames wait
        on; the frames kept are the window's, so nothing is counted twice)."""
        ready = [v for v in self.left_out if self._back_run[v] >= self._back_after[v]
                 and self._returning_count(self._back_run[v]) >= self.min_samples]
        if not ready:
            return
        run = min(self._back_run[v] for v in ready)
        frames = [kept for kept in self._returning if kept[0] > self._frames_seen - run]
        for name in ready:
            del self.left_out[name], self._back_run[name], self._back_after[name]
        names = [v for v in (self.variables or frames[-1][2]) if v not in self.left_out]
        rows = [[dict(zip(kept[2], kept[3]))[v] for v in names] for kept in frames]
        self.window.replace_samples(names, [kept[1] for kept in frames], np.asarray(rows, dtype=np.float64),
                                    [kept[4] for kept in frames])
        self._returning = deque(frames)  # they carry the widened window's variables: later returns build on them
        self.returns += 1
        self.last_returned = ready
        self._restream()
        self._samples_at_last_job = -1

    def _follow_absences(self, names: Sequence[str], values: Sequence[float], index: dict[str, int]) -> None:
        """Counts runs of absent (missing or NaN) variables and of left-out ones back; leaves out and takes back
        in accordingly."""
        def finite(name: str) -> bool:
            return name in index and bool(np.isfinite(values[index[name]]))

        config = self.window.config
        if not self.variables:  # "every variable of the frames": one the frames no longer carry just leaves
            gone = [v for v in self.window.names if v not in index]
            if gone and len(gone) < len(self.window.names):
                self.window.drop_variables(gone)
                self._stream = None
            for name in [v for v in self.left_out if v not in index]:  # bounded by the frames' names, never grows
                del self.left_out[name], self._back_run[name], self._back_after[name]
        expected = self._expected(names)
        self._missing_run = {v: self._missing_run.get(v, 0) + 1 if not finite(v) else 0 for v in expected}
        self._gone_run = {v: self._gone_run.get(v, 0) + 1 if v not in index else max(0, self._gone_run.get(v, 0) - 0.5)
                          for v in expected}
        leaving, back_after = {}, {}
        for v in expected:
            if v not in index and ((config.leave_out_after and self._gone_run[v] >= config.leave_out_after)
                                   or v == self.config.context):
                run = self._missing_run[v]
                leaving[v] = (f"not in the frames ({run} in a row)" if run >= self._gone_run[v] else
                              "not in more than a third of the frames")
                back_after[v] = max(1, config.leave_out_after)
            elif v in index and config.leave_out_nan_after and self._missing_run[v] >= config.leave_out_nan_after:
                leaving[v] = f"NaN in {self._missing_run[v]} frames in a row"
                back_after[v] = config.leave_out_nan_after
        for name in list(self.left_out):
            self._back_run[name] = self._back_run.get(name, 0) + 1 if finite(name) else 0
        if len(leaving) == len(expected):  # none would be left: the frames wait (rejected, named) instead
            leaving = {}
        if leaving:
            self.left_out.update(leaving)
            self._back_after.update(back_after)
            for name in leaving:
                self._missing_run.pop(name, None)
                self._gone_run.pop(name, None)
                self._back_run[name] = 0
            self.window.drop_variables(list(leaving))
            self._stream = None  # the streaming statistics are rebuilt from the narrower window
            held, self._held = list(self._held), deque()
            for frame in held:  # the frames held back for them
                self._replay(*frame)

    def _replay(self, frame: int, stamp: float, names: list[str], values: list[float], subject: str) -> None:
        """Takes in a frame held back for a variable now left out -- or holds it back again, not counted twice, when
        it still waits for another one (two variables leaving a few frames apart lose no frame between them)."""
        index = {name: k for k, name in enumerate(names)}
        expected = self._expected(names)
        config = self.window.config
        if ((config.leave_out_after and any(v not in index for v in expected))
                or (config.leave_out_nan_after and not all(np.isfinite(values[index[v]]) for v in expected
                                                           if v in index))):
            self._held.append((frame, stamp, names, values, subject))
        elif self._take(frame, stamp, names, values, subject, index) is None:
            self.taken_in_after_hold += 1

    def warm_up(self) -> float:
        """Compiles (first use on a machine: seconds) or loads the fast engine's kernels now, so that the first
        window is not delayed by it; call it off the callback thread. Returns the seconds it took."""
        if not self.streaming:
            return 0.0
        from causal_nodes.discovery.fast.kernels import warm_up

        return warm_up()

    def _follow_window(self, values: Sequence[float]) -> None:
        """Keeps the streaming statistics equal to the window: push, or rebuild after a window reset."""
        from causal_nodes.discovery.fast.pcmci import StreamingPCMCI

        resets = sum(self.window.resets.values())
        if self._stream is None or resets != self._stream_resets or self._stream.window != self.window.config.length:
            self._stream = StreamingPCMCI(len(self.window.names), self.window.config.length, self.config.tau_max)
            self._stream.extend(self.window.array())
            self._stream_resets = resets
        else:
            self._stream.push(np.asarray(values, dtype=np.float64))

    def _restream(self) -> None:
        """Rebuilds the streaming statistics from the window as it now is (or none, until it has samples)."""
        self._stream = None
        if self.streaming and self.window.fill:
            self._follow_window(self.window.array()[-1])

    def reset(self, reason: str = "requested") -> int:
        """Empties the window (counted as a reset for ``reason``); the next run waits for ``min_samples`` new samples.
        Returns how many samples were dropped."""
        dropped = self.window.fill
        self.window.clear()
        self._held.clear()  # frames from before the reset must not be replayed into the emptied window
        self._returning.clear()  # nor come back with a returning variable
        self.window.resets[reason] += 1  # also makes the streaming statistics start again from the empty window
        self._samples_at_last_job = -1
        return dropped

    def ready(self) -> bool:
        """A run is due: enough samples, and new ones since the last job."""
        return self.window.fill >= self.min_samples and self.window.accepted != self._samples_at_last_job

    def take_job(self) -> WindowJob:
        names, stamps, data = self.window.snapshot()
        self._samples_at_last_job = self.window.accepted
        statistics = None
        if self._stream is not None and self._stream.n_samples > 2 * self.config.tau_max:
            statistics = self._stream.snapshot(self.config.test.name)
        datasets = encounters(stamps, self.window.labels(), self.encounter_gap_s) if self.pool_encounters else None
        return WindowJob(names=names, stamps=stamps, data=data, taken_at=time.monotonic(), statistics=statistics,
                         config=self.config, datasets=datasets, left_out=dict(self.left_out))

    def run(self, job: WindowJob) -> DiscoveryOutcome:
        """Runs the discovery on a job; errors become an outcome, not an exception. Variables left out of the
        window are named among the result's dropped ones."""
        outcome = self._run(job)
        if outcome.result is not None:
            for name, why in job.left_out.items():
                if name not in outcome.result.dropped:
                    outcome.result.dropped.append(name)
                    outcome.result.drop_reasons[name] = f"left out of the window: {why}"
        return outcome

    def _run(self, job: WindowJob) -> DiscoveryOutcome:
        try:
            config = job.config or self.config
            if config.context and config.context not in job.names:
                return self._run_without_context(job, config)
            if job.datasets is not None and job.datasets[-1] > 0:
                samples = Samples(job.data, list(job.names), datasets=job.datasets)
                return DiscoveryOutcome(job, discover(samples, job.names, config))
            return DiscoveryOutcome(job, discover(job.data, job.names, config, job.statistics))
        except InsufficientDataError as error:
            return DiscoveryOutcome(job, None, str(error), insufficient=True)
        except Exception as error:  # a failed run must not take the node down; it is reported instead
            return DiscoveryOutcome(job, None, f"{type(error).__name__}: {error}")

    def _run_without_context(self, job: WindowJob, config: DiscoveryConfig) -> DiscoveryOutcome:
        """The frames lack the context: the same run without its regimes (a pooled test), the context named among
        the variables left out, rather than no graph at all."""
        context = config.context
        outcome = self._run(replace(job, config=replace(config, context="", context_bins=())))
        if outcome.result is not None and context not in outcome.result.dropped:
            outcome.result.dropped.append(context)
            outcome.result.drop_reasons[context] = "the context, not in the frames: tests ran without its regimes"
        elif outcome.error is not None:
            outcome.error += f" (context {context} not in the frames: ran without its regimes)"
        return outcome

    def counters(self) -> dict:
        out = self.window.counters()
        out.update({f"rejected_{k}": v for k, v in self.rejected.items()})
        out["taken_in_after_hold"] = self.taken_in_after_hold  # of the rejected ones: not lost after all
        out["reconfigurations"] = self.reconfigurations
        out["variable_returned_switches"] = self.returns  # windows switched to take left-out variables back in
        out["returning_frames_kept"] = len(self._returning)
        return out

    def blocking(self) -> dict[str, int]:
        """Variables that kept the newest frames out of the window: name -> frames in a row (NaN or missing)."""
        blocked = {**self.window.blocking(), **self._missing_run}
        return {name: run for name, run in blocked.items() if run > 0}

    def fill_status(self) -> tuple[bool, str]:
        """(enough samples?, a sentence for diagnostics naming what blocks the window, if anything does, and the
        variables left out of it)."""
        fill = self.window.fill
        blocked = self.blocking()
        blocked_note = ""
        if blocked:
            worst = sorted(blocked.items(), key=lambda item: -item[1])
            blocked_note = "; newest frames rejected, no value for " + ", ".join(
                f"{name} ({count} frames in a row)" for name, count in worst[:3])
        if self.left_out:
            shown = [f"{name} ({why})" for name, why in list(self.left_out.items())[:5]]
            more = f" and {len(self.left_out) - 5} more" if len(self.left_out) > 5 else ""
            blocked_note += "; left out: " + ", ".join(shown) + more
        back = [(name, self._returning_count(run)) for name, run in self._back_run.items() if run > 0]
        if back:
            blocked_note += "; returning: " + ", ".join(
                f"{name} ({count}/{self.min_samples} samples)" for name, count in back[:5])
        if fill < self.min_samples:
            return False, f"waiting for samples: {fill}/{self.min_samples} in window{blocked_note}"
        return True, f"window {fill}/{self.window.config.length}{blocked_note}"


def _min_samples(config: DiscoveryConfig, wanted: int, window_length: int) -> int:
    needed = max(wanted, config.min_samples())
    if needed > window_length:
        raise ValueError(f"window_length {window_length} is shorter than the {needed} samples a run needs "
                         f"(min_samples {wanted}, tau_max {config.tau_max})")
    return needed


def _streams(config: DiscoveryConfig) -> bool:
    return config.engine is not Engine.TIGRAMITE and fast_unsupported_reason(config) is None
