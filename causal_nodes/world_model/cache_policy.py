"""Bookkeeping of the streaming attention cache: attention sinks + ring buffer (numpy only).

Each transformer layer keeps ``sinks + window`` key/value slots per person. The first ``sinks``
stream steps stay forever (attention sinks, StreamingLLM); later steps go round a ring of
``window`` slots. Positions never grow: a slot is described to the model by its *age bucket*
``min(step - written_step, window)``, so the last bucket means "an old sink". The same class drives
training, the ONNX runtime and rollouts, so the model sees exactly one cache policy everywhere.

Validity is per person: when a person's mask goes 0 → 1 (a new track in that slot) their history is
cleared, and when it goes 1 → 0 their history is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class StepPlan:
    """What one model step needs besides the observation (all float32/int64 numpy)."""

    past_valid: np.ndarray  # (B, P, C) float32: 1 where a cached slot may be attended
    past_age: np.ndarray  # (C,) int64 age bucket of each cached slot, before this step's write
    write_onehot: np.ndarray  # (C,) float32: the slot this step's keys/values are written to
    slot: int


class StreamingCachePolicy:
    """Slot assignment, ages and per-person validity for a batch of streams stepped in lockstep."""

    def __init__(self, sinks: int, window: int, batch: int, people: int) -> None:
        if sinks < 0 or window < 1:
            raise ValueError(f"need sinks >= 0 and window >= 1, got sinks={sinks}, window={window}")
        self.sinks, self.window = int(sinks), int(window)
        self.slots = self.sinks + self.window
        self.batch, self.people = int(batch), int(people)
        self.reset()

    def reset(self) -> None:
        self.step_index = 0
        self.written_step = np.full(self.slots, -1, dtype=np.int64)
        self.valid = np.zeros((self.batch, self.people, self.slots), dtype=bool)
        self.prev_mask = np.zeros((self.batch, self.people), dtype=bool)

    def slot_for(self, step_index: int) -> int:
        """Cache slot written by stream step ``step_index``."""
        if step_index < self.sinks:
            return step_index
        return self.sinks + (step_index - self.sinks) % self.window

    def ages(self, step_index: int, written_step: np.ndarray) -> np.ndarray:
        age = np.where(written_step >= 0, step_index - written_step, self.window)
        return np.minimum(age, self.window).astype(np.int64)

    def _check_mask(self, mask: np.ndarray) -> np.ndarray:
        mask = np.asarray(mask).astype(bool)
        if mask.shape != (self.batch, self.people):
            raise ValueError(f"mask must have shape {(self.batch, self.people)}, got {mask.shape}")
        return mask

    def plan(self, mask: np.ndarray) -> StepPlan:
        """Inputs for the next step given the current presence mask; does not change the state."""
        mask = self._check_mask(mask)
        slot = self.slot_for(self.step_index)
        valid = self.valid & (mask & self.prev_mask)[..., None]  # new/absent tracks see no history
        valid[..., slot] = False  # this slot's old content is evicted by the write
        onehot = np.zeros(self.slots, dtype=np.float32)
        onehot[slot] = 1.0
        return StepPlan(valid.astype(np.float32), self.ages(self.step_index, self.written_step), onehot, slot)

    def commit(self, mask: np.ndarray) -> None:
        """Advance the state after the step planned with the same mask has run."""
        mask = self._check_mask(mask)
        slot = self.slot_for(self.step_index)
        self.valid &= (mask & self.prev_mask)[..., None]
        self.valid[..., slot] = mask
        self.written_step[slot] = self.step_index
        self.prev_mask = mask
        # The counter is a Python int (no overflow); the model only sees bounded age buckets.
        self.step_index += 1

    def plan_read(self, mask: np.ndarray, steps_ahead: int = 0) -> StepPlan:
        """A read-only step ``steps_ahead`` steps after the next one: nothing is written or evicted.

        This is how a rollout's imagined steps see the cache (see :meth:`plan_rollout`); the runtime
        uses it to replay a rollout with the step graph (``write_onehot`` all zero, no commit).
        """
        mask = self._check_mask(mask)
        valid = self.valid & (mask & self.prev_mask)[..., None]
        ages = self.ages(self.step_index + int(steps_ahead), self.written_step)
        return StepPlan(valid.astype(np.float32), ages, np.zeros(self.slots, dtype=np.float32), -1)

    def plan_rollout(self, mask: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """Inputs for an unrolled rollout of ``horizon`` steps starting with the next step.

        Step 0 re-reads the latest observation: a live step, which writes its slot (evicting that
        slot's old content). The imagined steps 1..H-1 write nothing: they read the cache as step 0
        left it (step 0's own keys are handled inside the model as one extra entry of age h), so only
        the age buckets change. Returns ``(past_valid (B, P, C) float32, past_age (H, C) int64)``.
        The mask is held constant over the rollout; ``horizon <= window`` keeps step 0's age a bucket
        of its own.
        """
        if horizon > self.window:
            raise ValueError(f"rollout horizon {horizon} exceeds the cache window {self.window}")
        base = self.plan(mask)
        ages = np.stack([self.ages(self.step_index + h, self.written_step) for h in range(horizon)])
        return base.past_valid, ages
