"""Fit a linear lagged structural equation model on a window, for many bootstrap replicas at once.

Model (parents from the discovered graph, intercept always included)::

    X_j(t) = c_j + sum_{(i, k) in pa(j)} A[k, j, i] * X_i(t - k) + e_j(t)

Every replica is a weighted least-squares fit with the row weights of a moving-block bootstrap
(replica 0 = the full window with unit weights = the point estimate), solved as batched normal
equations so that ~100 replicas cost a few milliseconds.  Rows with any NaN among the columns a
regression uses get weight 0 (NaN marks an unknown value in ``VariableFrame``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from causal_nodes.choices import Choice

from .graph import DirectedGraph

# Relative ridge added to the normal equations so that collinear or constant parents do not make the
# batched solve singular; small enough not to bias well-conditioned fits visibly.
_RIDGE = 1e-9


@dataclass
class LaggedSEM:
    """Coefficients of ``R`` fitted replicas of the lagged SEM.

    ``coef[r, k, j, i]`` is the effect of ``X_i(t - k)`` on ``X_j(t)``; ``intercept[r, j]``;
    ``residual_std[r, j]`` the residual standard deviation (used by the RL augmentation and for noise).
    """

    names: list[str]
    coef: np.ndarray
    intercept: np.ndarray
    residual_std: np.ndarray
    max_lag: int

    @property
    def replicas(self) -> int:
        return int(self.coef.shape[0])


def lagged_views(data: np.ndarray, max_lag: int) -> np.ndarray:
    """``(max_lag + 1, T - max_lag, N)``: view ``k`` holds ``X(t - k)`` for ``t = max_lag .. T-1``."""
    t_len = data.shape[0]
    return np.stack([data[max_lag - k : t_len - k] for k in range(max_lag + 1)])


def fit_lagged_sem(
    data: np.ndarray,
    names: Sequence[str],
    graph: DirectedGraph,
    weights: np.ndarray | None = None,
    row_weights: np.ndarray | None = None,
) -> LaggedSEM:
    """Fit the SEM of ``graph`` on ``data (T, N)``; ``weights (B, T - max_lag)`` adds bootstrap replicas.

    ``row_weights (T - max_lag,)`` multiplies every replica's weights (local fits, see ``local_row_weights``).
    Returns ``B + 1`` replicas: index 0 is the ordinary fit on all rows.
    """
    data = np.asarray(data, dtype=float)
    n_vars = len(names)
    max_lag = max(graph.max_lag, 1)
    n_rows = data.shape[0] - max_lag
    if n_rows < 2:
        raise ValueError(f"window of {data.shape[0]} samples is too short for lag {max_lag}")
    views = lagged_views(data, max_lag)
    row_w = np.ones((1, n_rows))
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        if weights.ndim != 2 or weights.shape[1] != n_rows:
            raise ValueError(f"weights must have shape (B, {n_rows}), got {weights.shape}")
        row_w = np.vstack([row_w, weights])
    if row_weights is not None:
        row_weights = np.asarray(row_weights, dtype=float)
        if row_weights.shape != (n_rows,) or np.any(row_weights < 0) or not np.all(np.isfinite(row_weights)):
            raise ValueError(f"row_weights must be {n_rows} finite values >= 0, got shape {row_weights.shape}")
        row_w = row_w * row_weights[None, :]
    reps = row_w.shape[0]
    coef = np.zeros((reps, max_lag + 1, n_vars, n_vars))
    intercept = np.zeros((reps, n_vars))
    resid_std = np.zeros((reps, n_vars))
    index = {n: i for i, n in enumerate(names)}
    for name, parents in graph.parents(names).items():
        j = index[name]
        y = views[0][:, j]
        cols = [np.ones(n_rows)] + [views[k][:, index[p]] for p, k in parents]
        z = np.stack(cols, axis=1)  # (n, p)
        ok = np.isfinite(y) & np.all(np.isfinite(z), axis=1)
        z = np.where(ok[:, None], z, 0.0)
        y = np.where(ok, y, 0.0)
        w = row_w * ok[None, :]  # (R, n)
        p_dim = z.shape[1]
        # All replicas' Gram matrices in one BLAS product: (R, n) @ (n, p*p) of the rows' outer products.
        outer = (z[:, :, None] * z[:, None, :]).reshape(n_rows, p_dim * p_dim)
        gram = (w @ outer).reshape(-1, p_dim, p_dim)
        rhs = w @ (z * y[:, None])
        scale = np.maximum(np.diagonal(gram, axis1=1, axis2=2).max(axis=1), 1.0)
        gram = gram + (_RIDGE * scale)[:, None, None] * np.eye(p_dim)[None]
        beta = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]  # (R, p)
        intercept[:, j] = beta[:, 0]
        for col, (p, k) in enumerate(parents, start=1):
            coef[:, k, j, index[p]] = beta[:, col]
        resid = y[None, :] - beta @ z.T
        dof = np.maximum(w.sum(axis=1) - z.shape[1], 1.0)
        resid_std[:, j] = np.sqrt((w * resid**2).sum(axis=1) / dof)
    return LaggedSEM(list(names), coef, intercept, resid_std, max_lag)


class LocalWeighting(Choice):
    """Which rows the SEM is fitted on: all alike (``none``), the newest (``recent``), or those whose state is
    nearest to the current one (``state``); see :func:`local_row_weights`."""

    NONE = "none"
    RECENT = "recent"
    STATE = "state"


def local_row_weights(
    data: np.ndarray, max_lag: int, mode: LocalWeighting | str, span: float, columns: Sequence[int] | None = None
) -> np.ndarray | None:
    """Row weights of a local (LOESS-style) fit around the current state, or None for a global fit.

    Why: a global linear SEM averages mechanisms that change with the situation (e.g. driving faster
    shortens the distance to a person ahead but lengthens it to one behind); a local fit around the
    current situation linearises there instead.  ``"recent"`` keeps the newest ``span`` fraction of the
    rows, ``"state"`` the ``span`` fraction whose previous state (the variables ``columns``, default all,
    standardised) is nearest to the window's last state; both with tricube weights ``(1 - (d / d_max)^3)^3``.
    """
    mode = LocalWeighting.parse(mode, "local weighting")
    if mode is LocalWeighting.NONE:
        return None
    if not 0.0 < span <= 1.0:
        raise ValueError(f"local span must be in (0, 1], got {span}")
    arr = np.asarray(data, dtype=float)
    n_rows = arr.shape[0] - max_lag
    if columns is not None:
        if len(columns) == 0:
            raise ValueError("local weighting needs at least one state column")
        arr = arr[:, list(columns)]
    if mode is LocalWeighting.RECENT:
        dist = np.arange(n_rows, 0, -1, dtype=float)  # age of the row's sample in steps, newest = 1
    else:
        prev = arr[max_lag - 1 : arr.shape[0] - 1]  # state at t - 1 of each row
        with np.errstate(all="ignore"):
            sd = np.nanstd(arr, axis=0)
        sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
        last = arr[-1]
        diff = np.where(np.isfinite(prev) & np.isfinite(last)[None, :], (prev - last[None, :]) / sd, 0.0)
        dist = np.sqrt(np.mean(diff**2, axis=1))
    k = max(int(np.ceil(span * n_rows)), min(n_rows, 20))
    radius = np.partition(dist, k - 1)[k - 1] if k < n_rows else dist.max()
    radius = radius * (1.0 + 1e-9) + 1e-12
    return np.clip(1.0 - (dist / radius) ** 3, 0.0, None) ** 3
