"""Seeded random linear lagged structural causal models (SCMs) for tests and benchmarks.

Why: parity tests and benchmarks of the PCMCI engines need reproducible
multivariate time series with known lagged and contemporaneous links, without
depending on tigramite's toy-model helpers at runtime.
"""
from __future__ import annotations

import numpy as np


def linear_scm_coefficients(n_vars: int, *, max_lag: int = 2, density: float = 0.3,
                            contemporaneous: bool = True, autocorrelation: float = 0.5,
                            seed: int | None = 0) -> np.ndarray:
    """The structure :func:`random_linear_scm` simulates with the same arguments: ``coeffs[k, j, i]`` is the
    effect of ``x_i(t-k)`` on ``x_j(t)`` (k = 0: contemporaneous), after the stability rescaling."""
    return _draw_coefficients(np.random.default_rng(seed), n_vars, max_lag, density, contemporaneous,
                              autocorrelation)


def _draw_coefficients(rng: np.random.Generator, n_vars: int, max_lag: int, density: float,
                       contemporaneous: bool, autocorrelation: float) -> np.ndarray:
    if n_vars < 1:
        raise ValueError(f"need n_vars >= 1, got {n_vars}")
    if max_lag < 1:
        raise ValueError(f"max_lag must be >= 1, got {max_lag}")
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    coeffs = np.zeros((max_lag + 1, n_vars, n_vars))  # coeffs[k, j, i]: effect of x_i(t-k) on x_j(t)
    for k in range(1, max_lag + 1):
        mask = rng.random((n_vars, n_vars)) < density
        coeffs[k][mask] = rng.uniform(0.2, 0.5, mask.sum()) * rng.choice([-1.0, 1.0], mask.sum())
    coeffs[1][np.diag_indices(n_vars)] = autocorrelation
    if contemporaneous:
        lower = np.tril(rng.random((n_vars, n_vars)) < density / 2, k=-1)
        coeffs[0][lower] = rng.uniform(0.3, 0.6, lower.sum()) * rng.choice([-1.0, 1.0], lower.sum())
    instant = np.linalg.inv(np.eye(n_vars) - coeffs[0])
    for _ in range(50):
        companion = np.zeros((n_vars * max_lag, n_vars * max_lag))
        for k in range(1, max_lag + 1):
            companion[:n_vars, (k - 1) * n_vars:k * n_vars] = instant @ coeffs[k]
        companion[n_vars:, :-n_vars] = np.eye(n_vars * (max_lag - 1))
        if np.max(np.abs(np.linalg.eigvals(companion))) < 0.95:
            break
        coeffs[1:] *= 0.8
    return coeffs


def random_linear_scm(n_vars: int, n_time: int, *, max_lag: int = 2, density: float = 0.3,
                      contemporaneous: bool = True, autocorrelation: float = 0.5,
                      seed: int | None = 0, burn_in: int = 200) -> np.ndarray:
    """Simulate ``x_t = A_0 x_t + sum_k A_k x_{t-k} + e_t`` with a stable random structure.

    Cross links are drawn with probability ``density`` at lags ``1..max_lag``
    (and at lag 0 from lower to higher index when ``contemporaneous``), each
    variable gets an own lag-1 coefficient ``autocorrelation``, and the lagged
    coefficients are rescaled until the process is stable
    (:func:`linear_scm_coefficients` returns that structure). Returns ``(n_time,
    n_vars)`` float64 with unit Gaussian innovations.
    """
    if n_vars < 1 or n_time < 1:
        raise ValueError(f"need n_vars >= 1 and n_time >= 1, got {n_vars}, {n_time}")
    rng = np.random.default_rng(seed)
    coeffs = _draw_coefficients(rng, n_vars, max_lag, density, contemporaneous, autocorrelation)
    instant = np.linalg.inv(np.eye(n_vars) - coeffs[0])  # x_t = instant @ (lagged part + e_t)
    total = n_time + burn_in
    noise = rng.normal(size=(total, n_vars))
    x = np.zeros((total, n_vars))
    for t in range(total):
        drive = noise[t].copy()
        for k in range(1, min(max_lag, t) + 1):
            drive += coeffs[k] @ x[t - k]
        x[t] = instant @ drive
    return x[burn_in:]
