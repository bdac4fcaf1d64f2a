"""Stable person → model-slot assignment for the fixed-size world model input.

The model has ``p_max`` person slots and treats a slot whose mask goes false → true as a new
person (its history is dropped). ``SlotAssigner`` keeps each tracked id in the same slot while
it stays among the ``p_max`` people nearest to the robot; beyond ``p_max`` the farthest are
dropped for that step. A freed slot stays empty for one step before reuse, so the model always
sees the 1 → 0 → 1 mask edge that separates two different people.
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


class SlotAssigner:
    def __init__(self, p_max: int) -> None:
        if p_max < 1:
            raise ValueError(f"p_max must be >= 1, got {p_max}")
        self.p_max = int(p_max)
        self.reset()

    def reset(self) -> None:
        self.slot_of: dict[Hashable, int] = {}

    def assign(self, ids: Sequence[Hashable], states: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Place this step's people into slots.

        ``ids``: N track ids (unique); ``states``: (N, 4) [x, y, vx, vy] in the robot frame.
        Returns ``(people (p_max, 4), mask (p_max,), slot_of_input (N,) with -1 for dropped)``.
        """
        states = np.asarray(states, dtype=np.float64)
        if states.ndim != 2 or states.shape[1] != 4 or states.shape[0] != len(ids):
            raise ValueError(f"states must be (len(ids)={len(ids)}, 4), got {states.shape}")
        if len(set(ids)) != len(ids):
            raise ValueError("track ids must be unique within a step")
        dist = np.hypot(states[:, 0], states[:, 1])
        keep = np.argsort(dist, kind="stable")[: self.p_max]
        kept_ids = {ids[i] for i in keep}
        freed = {sid: s for sid, s in self.slot_of.items() if sid not in kept_ids}
        for sid in freed:
            del self.slot_of[sid]
        busy = set(self.slot_of.values())
        reusable = sorted(set(range(self.p_max)) - busy - set(freed.values()))  # freed now: empty this step
        slot_of_input = np.full(len(ids), -1, dtype=np.int64)
        for i in keep:  # nearest first: they get slots first if slots are short this step
            sid = ids[i]
            if sid not in self.slot_of:
                if not reusable:
                    continue  # only just-freed slots left: this person waits one step
                self.slot_of[sid] = reusable.pop(0)
            slot_of_input[i] = self.slot_of[sid]
        people = np.zeros((self.p_max, 4))
        mask = np.zeros(self.p_max, dtype=bool)
        placed = slot_of_input >= 0
        people[slot_of_input[placed]] = states[placed]
        mask[slot_of_input[placed]] = True
        return people, mask, slot_of_input
