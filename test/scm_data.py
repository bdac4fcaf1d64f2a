"""A small seeded linear lagged SCM for tests, with its ground truth (kept tiny on purpose).

Specified as an :class:`~causal_nodes.sim.scm.SCMSpec` and simulated by the simulator, so the tests use the same
SCM code as everything else.
"""
from __future__ import annotations

import numpy as np

from causal_nodes.sim.scm import SCMLink, SCMSpec, simulate_scm

NAMES = ["a", "b", "c", "d"]
TRUTH = {("a", "a", 1), ("b", "b", 1), ("c", "c", 1), ("a", "b", 1), ("b", "c", 2)}
SPEC = SCMSpec(
    variables=tuple(NAMES),
    links=(SCMLink("a", "a", 1, 0.5), SCMLink("b", "b", 1, 0.5), SCMLink("a", "b", 1, 0.7),
           SCMLink("c", "c", 1, 0.4), SCMLink("b", "c", 2, -0.6)),
    noise_std=(1.0,) * 4,
    warmup_steps=48,
)


def scm_samples(T: int, seed: int = 0) -> np.ndarray:
    return simulate_scm(SPEC, T, seed=seed)
