"""Moving-block bootstrap expressed as row weights.

Why weights: resampling rows of a regression is the same as weighting each row by how many times it
was drawn, so all replicas can be fitted at once with batched weighted normal equations instead of
``B`` separate least-squares solves.  Blocks (not single rows) keep the serial dependence of a time
series inside each resample (Kuensch 1989).
"""

from __future__ import annotations

import math

import numpy as np


def default_block_length(n: int) -> int:
    """The usual ``n^(1/3)`` rule for the moving-block length (at least 1)."""
    return max(1, int(math.ceil(n ** (1.0 / 3.0))))


def block_bootstrap_weights(
    n: int, replicas: int, *, block_length: int | None = None, rng: np.random.Generator
) -> np.ndarray:
    """Counts ``(replicas, n)``: how often each of ``n`` rows appears in each moving-block resample.

    Each resample concatenates ``ceil(n / L)`` blocks of ``L`` consecutive rows with uniformly drawn
    starts and is cut to ``n`` rows, so every replica has total weight ``n``.
    """
    if n <= 0:
        raise ValueError(f"block bootstrap needs at least one row, got n={n}")
    if replicas < 0:
        raise ValueError(f"replicas must be >= 0, got {replicas}")
    length = default_block_length(n) if block_length is None else int(block_length)
    if length < 1:
        raise ValueError(f"block_length must be >= 1, got {block_length}")
    length = min(length, n)
    if replicas == 0:
        return np.zeros((0, n))
    blocks = int(math.ceil(n / length))
    starts = rng.integers(0, n - length + 1, size=(replicas, blocks))
    rows = (starts[:, :, None] + np.arange(length)[None, None, :]).reshape(replicas, -1)[:, :n]
    flat = (np.arange(replicas)[:, None] * n + rows).ravel()
    return np.bincount(flat, minlength=replicas * n).reshape(replicas, n).astype(float)
