"""A small seeded linear lagged SCM for tests, with its ground truth (kept tiny on purpose)."""
from __future__ import annotations

import numpy as np

NAMES = ["a", "b", "c", "d"]
TRUTH = {("a", "a", 1), ("b", "b", 1), ("c", "c", 1), ("a", "b", 1), ("b", "c", 2)}


def scm_samples(T: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros((T + 50, 4))
    for t in range(2, T + 50):
        x[t, 0] = 0.5 * x[t - 1, 0] + rng.normal()
        x[t, 1] = 0.5 * x[t - 1, 1] + 0.7 * x[t - 1, 0] + rng.normal()
        x[t, 2] = 0.4 * x[t - 1, 2] - 0.6 * x[t - 2, 1] + rng.normal()
        x[t, 3] = rng.normal()
    return x[50:]
