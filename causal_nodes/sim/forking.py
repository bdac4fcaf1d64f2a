"""Branching a simulator at its current state, for comparing futures with and without an intervention."""
from __future__ import annotations

import copy
from typing import TypeVar

import numpy as np

T = TypeVar("T", bound="Forkable")


class Forkable:
    """Adds :meth:`fork`; subclasses list their random generators in ``_noise_streams``."""

    _noise_streams: tuple[str, ...] = ()

    def fork(self: T, noise_seed: int | None = None) -> T:
        """An independent copy at the current state (interventions included).

        Without ``noise_seed`` the copy draws the same noise as the original would, so copy and original stay
        identical until one of them is intervened on; with it, every random stream is re-drawn from that seed --
        a different future, as when averaging an interventional effect over several futures.
        """
        twin = copy.deepcopy(self)
        if noise_seed is not None:
            children = np.random.SeedSequence(int(noise_seed)).spawn(len(self._noise_streams))
            for name, child in zip(self._noise_streams, children):
                setattr(twin, name, np.random.default_rng(child))
        return twin
