"""Propagate sustained do()-interventions through the fitted lagged SEM, all replicas and scenarios at once.

A *scenario* clamps at most one variable ``v`` to a value per step, ``do(X_v(t) := u_t)`` for
``t = 1..H``; every other variable follows its structural equation (without noise: the model is linear,
so the expected path is the noise-free one).  With contemporaneous (lag-0) links the equations of one
step are solved jointly: writing ``D`` for the identity with the clamped row removed,

    (I - D A_0) x_t = D (c + sum_{k>=1} A_k x_{t-k}) + e_v u_t,

which is the graph-surgery definition of do() (the clamped variable's own equation is deleted).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .lagged_sem import LaggedSEM


def simulate_clamped(
    sem: LaggedSEM,
    history: np.ndarray,
    clamp_var: np.ndarray,
    clamp_values: np.ndarray,
    horizon: int,
    *,
    with_intercept: bool = True,
    post_step: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Expected paths ``(R, S, H, N)`` of ``S`` scenarios for every SEM replica.

    history: ``(K, N)``, ``(S, K, N)`` or ``(R, S, K, N)`` last ``K >= sem.max_lag`` states, oldest first.
    clamp_var: ``(S,)`` index of the clamped variable per scenario, ``-1`` for none.
    clamp_values: ``(R, S, H)`` or ``(S, H)`` values the clamped variable is set to at each step.
    with_intercept: ``False`` propagates *differences* from a baseline (linear model), where intercepts cancel.
    post_step: called with each solved step ``(R, S, N)``; returns it with some columns replaced by known
        mechanisms (see :mod:`.kinematics`); later steps read the replaced values.
    """
    reps, n_lag_plus, n_vars, _ = sem.coef.shape
    max_lag = n_lag_plus - 1
    clamp_var = np.asarray(clamp_var, dtype=int)
    n_scen = clamp_var.shape[0]
    hist = np.asarray(history, dtype=float)
    if hist.shape[-2] < max_lag:
        raise ValueError(f"history has {hist.shape[-2]} steps, the model needs {max_lag}")
    hist = np.broadcast_to(hist[..., -max_lag:, :], (reps, n_scen, max_lag, n_vars))
    values = np.broadcast_to(np.asarray(clamp_values, dtype=float), (reps, n_scen, horizon))

    keep = np.ones((n_scen, n_vars))
    onehot = np.zeros((n_scen, n_vars))
    clamped = clamp_var >= 0
    keep[np.nonzero(clamped)[0], clamp_var[clamped]] = 0.0
    onehot[np.nonzero(clamped)[0], clamp_var[clamped]] = 1.0

    # One solve matrix per distinct clamped variable, shared by its scenarios (skipped without lag-0 links).
    a0 = sem.coef[:, 0]
    contemporaneous = bool(np.any(a0 != 0.0))
    eye = np.eye(n_vars)
    groups: list[tuple[np.ndarray, np.ndarray]] = []
    if contemporaneous:
        for v in np.unique(clamp_var):
            mask = eye.copy()
            if v >= 0:
                mask[v, v] = 0.0
            inv_t = np.linalg.inv(eye[None] - mask[None] @ a0).transpose(0, 2, 1)
            groups.append((np.flatnonzero(clamp_var == v), inv_t))

    base = sem.intercept[:, None, :] if with_intercept else np.zeros((reps, 1, n_vars))
    # All lags in one batched product per step: [x_{t-1}, ..., x_{t-K}] @ [A_1^T; ...; A_K^T].
    stacked_t = np.concatenate([sem.coef[:, k].transpose(0, 2, 1) for k in range(1, max_lag + 1)], axis=1)
    # state[:, :, (k-1)*N : k*N] holds x_{t-k}; newest first.
    state = np.concatenate([hist[:, :, max_lag - k, :] for k in range(1, max_lag + 1)], axis=2)
    out = np.empty((reps, n_scen, horizon, n_vars))
    for h in range(horizon):
        drive = base + state @ stacked_t
        x = keep[None] * drive + onehot[None] * values[:, :, h, None]
        if contemporaneous:
            solved = np.empty_like(x)
            for idx, inv_t in groups:
                solved[:, idx] = x[:, idx] @ inv_t
            x = solved
        if post_step is not None:
            x = post_step(x)
        out[:, :, h] = x
        if max_lag > 1:
            state = np.concatenate([x, state[:, :, : (max_lag - 1) * n_vars]], axis=2)
        else:
            state = x
    return out
