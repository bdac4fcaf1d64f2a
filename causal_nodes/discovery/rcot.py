"""A randomized kernel conditional-independence test in the style of RCoT, fast enough for a live PCMCI window.

Why: partial correlation misses nonlinear effects, and tigramite's nonlinear tests (GPDC, CMIknn) take minutes
per window. RCoT (Strobl, Zhang & Visweswaran 2019) replaces a kernel test's n x n Gram matrices by a few random
Fourier features (Rahimi & Recht 2007) and tests a cross-covariance of features. This test keeps that idea and
changes what is needed for PCMCI at sensor rate; each change was measured (``docs/nonlinear_tests.md``):

1. **Regression on Z, additive.** X and Y are regressed on a Fourier basis of each condition,
   ``[z, cos(k u / s), sin(k u / s)]`` for k = 1..``frequencies``, with ``u`` the condition's normal score
   ``Phi^-1((rank - 1/2) / n)`` and ``z`` its standardised value (an additive kernel ridge regression; RCoT draws
   joint features of Z instead). Additive, because then the covariance of every lagged node's basis, computed
   once per window, answers the regression of every test of the run -- the idea of the exact ParCorr engine's
   lagged moments. The residuals' local scale is regressed on the same basis and divided out (location-scale
   residuals): otherwise residuals whose spread both depend on Z look dependent.
2. **Independence of the residuals.** Each scaled residual ``r`` gets features ``[r, sqrt(2) cos(k v / s + b_k)]``
   for k = 1..``n_features``, ``v`` its normal score (phases ``b_k`` from ``seed``). The statistic is Wilks' lambda
   of the canonical correlations ``rho_i`` between X's and Y's features, ``Lambda = prod(1 - rho_i^2)``.
   Why residuals and not RCoT's partial covariance of the *features* of X and Y: a nonlinear function of X is not
   additive in Z even when X is, so additively residualised features stay dependent under the null (measured:
   15-20 % false positives at alpha = 0.05 with two conditions). Why harmonic frequencies ``k / s`` and not RCoT's
   draws ``w ~ N(0, 1/s^2)``: a small draw makes a cosine nearly linear, and the whitened remainder is a
   heavy-tailed polynomial that over-rejects (7-10 % at alpha = 0.05 without conditions). Why standardised values
   and not normal scores for the linear terms: ranks lose what the physical variables carry in their values
   (AUROC on the simulator 0.64 with ranks, 0.73 with values, like RobustParCorr vs ParCorr).
3. **Null distributions.** For the features: ``wilks`` (default), Bartlett's chi-square
   ``-(n - 1 - p_z - (p_x + p_y + 1)/2) ln Lambda ~ chi2(p_x p_y)`` (``p_z`` basis columns account for the
   residuals' lost degrees of freedom), or ``robust``, RCoT's normalised chi-square ``(n - 1 - p_z) c^T S^-1 c``
   with ``c`` the mean and ``S`` the covariance of the feature products (fourth moments). A second statistic is
   the partial correlation of the plain (unscaled) residuals with the fourth-moment null, which keeps ParCorr's
   power on linear links and stays valid when the noise is heteroscedastic. The p-value is Bonferroni's
   ``min(1, 2 min(p_features, p_linear))``.

``context``: a discrete regime label per sample (e.g. an encounter phase). Each test is then *stratified*: each
regime is regressed and tested on its own samples, and chi-squares and degrees of freedom add up (the likelihood
ratio of regime-specific models). A dependence whose sign flips between regimes, invisible in a pooled window,
is then found. Regimes with too few samples for their degrees of freedom are skipped.

:class:`RCoT` plugs this into tigramite as a ``CondIndTest``, so PCMCI, PCMCI+, LPCMCI and tigramite's other
methods can use it. Without a mask or missing values, its :meth:`RCoT.run_test` answers from features and
covariances cached for the whole run; otherwise tigramite builds each test's samples and the same statistic is
computed on them. Calibration and power: ``test/discovery/test_rcot.py``, ``benchmarks/bench_rcot.py``.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg, special, stats
from tigramite.independence_tests.independence_tests_base import CondIndTest

from causal_nodes.discovery.samples import InsufficientDataError

NULLS = ("wilks", "robust")
LINEAR_TERMS = ("raw", "ranks")
_potrf, _potrs = linalg.lapack.dpotrf, linalg.lapack.dpotrs

RIDGE = 1e-8
"""Added to the diagonal of the basis covariance (features have variance ~0.5-1): near-duplicates stay solvable."""
RANK_TOLERANCE = 1e-9
"""A direction with less than this variance (relative) is taken as fully explained and dropped."""
SCALE_FLOOR = 0.1
"""The fitted local residual variance is kept above this share of the mean (a poor fit cannot divide by ~0)."""
MIN_RESIDUAL_DOF = 5.0
"""A (regime's) test needs at least this many residual degrees of freedom after Bartlett's factor."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def normal_scores(columns: np.ndarray) -> np.ndarray:
    """Rank-based normal scores of each column of ``(n, m)``; ties share their mean rank."""
    n = columns.shape[0]
    ranks = stats.rankdata(columns, axis=0)
    return special.ndtri((ranks - 0.5) / n)


@functools.lru_cache(maxsize=16)
def _score_table(n: int) -> np.ndarray:
    return special.ndtri((np.arange(n) + 0.5) / n)


def residual_scores(columns: np.ndarray) -> np.ndarray:
    """:func:`normal_scores` by one argsort per column, which this needs twice per test; columns with ties (a
    residual of a variable that often repeats a value, with nothing to regress on) go the slower way, since
    breaking ties by order would make their scores follow time."""
    n = columns.shape[0]
    order = np.argsort(columns, axis=0)
    out = np.empty_like(columns)
    np.put_along_axis(out, order, _score_table(n)[:, None], axis=0)
    tied = np.any(np.diff(np.take_along_axis(columns, order, axis=0), axis=0) == 0, axis=0)
    if tied.any():
        out[:, tied] = normal_scores(columns[:, tied])
    return out


@dataclass(frozen=True)
class RCoTOptions:
    """The test's settings; defaults chosen on calibration and power runs (``benchmarks/bench_rcot.py``)."""

    n_features: int = 2
    """Cosine features per residual, besides its score (0: a rank-based partial correlation)."""
    frequencies: int = 3
    """Harmonics per condition node in the regression basis (basis: score + cos and sin of each)."""
    bandwidth: float = 1.0
    """Kernel width ``s`` in normal-score units: frequencies are ``k / s``."""
    seed: int = 0
    """Seed of the feature phases (fixed, so repeated runs give the same p-values)."""
    null: str = "wilks"
    linear: str = "raw"
    """The linear term of every node and residual: ``raw`` (standardised values, ParCorr's scale) or ``ranks``
    (normal scores, RobustParCorr's); the cosines always act on normal scores."""

    def __post_init__(self) -> None:
        _require(self.n_features >= 0, f"n_features must be >= 0, got {self.n_features}")
        _require(self.frequencies >= 0, f"frequencies must be >= 0, got {self.frequencies}")
        _require(self.bandwidth > 0, f"bandwidth must be > 0, got {self.bandwidth}")
        _require(self.null in NULLS, f"null must be one of {NULLS}, got {self.null!r}")
        _require(self.linear in LINEAR_TERMS, f"linear must be one of {LINEAR_TERMS}, got {self.linear!r}")

    @functools.cached_property
    def _basis_w(self) -> np.ndarray:
        return np.arange(1, self.frequencies + 1) / self.bandwidth

    @functools.cached_property
    def _feature_w(self) -> np.ndarray:
        return np.arange(1, self.n_features + 1) / self.bandwidth

    @functools.cached_property
    def _feature_b(self) -> np.ndarray:
        """Phases drawn once per options object, not once per test."""
        return np.random.default_rng(self.seed).uniform(0.0, 2 * math.pi, self.n_features)

    @property
    def basis_width(self) -> int:
        return 1 + 2 * self.frequencies

    def linear_term(self, columns: np.ndarray, scores: np.ndarray | None = None) -> np.ndarray:
        """The nodes' linear term: standardised raw columns or their normal scores (computed if not given)."""
        if self.linear == "ranks":
            return residual_scores(columns) if scores is None else scores
        centred = columns - columns.mean(axis=0)
        return centred / np.maximum(centred.std(axis=0), 1e-300)

    def basis(self, columns: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """``(n, m)`` raw columns and their normal scores -> ``(n, m * basis_width)`` regression basis, node by
        node: the linear term first, then cosines and sines of the scores."""
        n, m = scores.shape
        phase = scores[:, :, None] * self._basis_w
        out = np.concatenate([self.linear_term(columns, scores)[:, :, None], np.cos(phase), np.sin(phase)], axis=2)
        return out.reshape(n, m * self.basis_width)

    def features(self, resid: np.ndarray) -> np.ndarray:
        """``(n, m)`` residuals -> ``(n, m * (1 + n_features))`` test features, node by node: the linear term,
        then cosines of the residuals' normal scores."""
        n, m = resid.shape
        scores = residual_scores(resid)
        cosines = math.sqrt(2.0) * np.cos(scores[:, :, None] * self._feature_w + self._feature_b)
        out = np.concatenate([self.linear_term(resid, scores)[:, :, None], cosines], axis=2)
        return out.reshape(n, m * (1 + self.n_features))


@dataclass(frozen=True)
class TestOutcome:
    """``value``: sqrt(1 - Lambda) of all features, in [0, 1] (|rank correlation| of the residuals without
    cosine features); ``dof`` 0 = nothing testable (X or Y fully explained by Z)."""

    value: float
    p_value: float
    statistic: float
    dof: int


INDEPENDENT = TestOutcome(0.0, 1.0, 0.0, 0)


@dataclass(frozen=True)
class Part:
    """Chi-square pieces of one statistic on one regime's ``n`` samples."""

    log_lambda: float
    statistic: float
    dof: int
    n: int


class TooFewSamplesError(InsufficientDataError):
    """No regime has enough samples for the test's degrees of freedom."""


def _whitener(cov: np.ndarray) -> np.ndarray:
    """``W`` with ``W^T cov W = I`` on the directions that carry variance (the others are dropped)."""
    if cov.shape == (1, 1):
        value = float(cov[0, 0])
        return np.ones((1, 1)) / math.sqrt(value) if value > RANK_TOLERANCE else np.zeros((1, 0))
    values, vectors = np.linalg.eigh(cov)
    keep = values > RANK_TOLERANCE * max(1.0, float(values.max(initial=0.0)))
    return vectors[:, keep] / np.sqrt(values[keep])


def _log_lambda(rho: np.ndarray) -> float:
    return float(np.sum(np.log1p(-np.minimum(rho * rho, 1.0 - 1e-15))))


def residuals(targets: np.ndarray, basis: np.ndarray, gram: np.ndarray | None = None,
              cross: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Residuals of centred ``targets`` (n, t) regressed on a centred ``basis`` (n, p), and the same divided by
    their local scale (the squared residuals regressed on the basis).

    ``gram`` = basis^T basis / n and ``cross`` = basis^T targets / n may come from a cache. Columns fully
    explained by the basis come back as zeros (nothing left to test).
    """
    n, p = basis.shape
    if p == 0:
        return targets, targets
    gram = basis.T @ basis / n if gram is None else gram
    cross = basis.T @ targets / n if cross is None else cross
    chol, info = _potrf(gram + RIDGE * np.eye(p), lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"regression basis covariance is not positive definite (LAPACK info {info})")

    def solve(rhs: np.ndarray) -> np.ndarray:
        return _potrs(chol, rhs, lower=1)[0]

    resid = targets - basis @ solve(cross)
    power = resid * resid
    mean = power.mean(axis=0)
    explained = mean <= RANK_TOLERANCE * np.maximum(np.mean(targets * targets, axis=0), 1e-300)
    resid[:, explained] = 0.0
    scaled = resid.copy()
    if not explained.all():
        centred = power - mean
        local = mean + basis @ solve(basis.T @ centred / n)
        ok = ~explained
        scaled[:, ok] /= np.sqrt(np.maximum(local[:, ok], SCALE_FLOOR * mean[ok]))
    return resid, scaled


def _wilks(cov: np.ndarray, p_x: int, n: int, p_z: int) -> Part | None:
    """Bartlett's chi-square from the covariance of ``[X, Y]`` features (``p_x`` of X's)."""
    p_y = cov.shape[0] - p_x
    log_lambda = _log_lambda_by_cholesky(cov, p_x)
    if log_lambda is None:  # rank-deficient features: drop the empty directions, then canonical correlations
        wx, wy = _whitener(cov[:p_x, :p_x]), _whitener(cov[p_x:, p_x:])
        cross = cov[:p_x, p_x:]
        p_x, p_y = wx.shape[1], wy.shape[1]
        if p_x == 0 or p_y == 0:
            return Part(0.0, 0.0, 0, n)
        log_lambda = _log_lambda(np.linalg.svd(wx.T @ cross @ wy, compute_uv=False))
    factor = n - 1 - p_z - (p_x + p_y + 1) / 2.0
    if factor < MIN_RESIDUAL_DOF:
        return None
    return Part(log_lambda, -factor * log_lambda, p_x * p_y, n)


def _log_lambda_by_cholesky(cov: np.ndarray, p_x: int) -> float | None:
    """``ln det(S_yy|x) - ln det(S_yy)`` from two Cholesky factors; None when a pivot is (nearly) zero.

    LAPACK's potrf directly: numpy's cholesky costs more in checks than in arithmetic at these sizes."""
    if cov.shape == (2, 2):
        denominator = cov[0, 0] * cov[1, 1]
        if denominator <= RANK_TOLERANCE * RANK_TOLERANCE:
            return None
        return math.log1p(-min(cov[0, 1] * cov[0, 1] / denominator, 1.0 - 1e-15))
    joint_factor, info = _potrf(cov, lower=1)
    alone_factor, info_alone = _potrf(cov[p_x:, p_x:], lower=1)
    if info or info_alone:
        return None
    joint, alone = np.diagonal(joint_factor) ** 2, np.diagonal(alone_factor) ** 2
    if np.min(joint / np.diagonal(cov)) <= RANK_TOLERANCE:
        return None
    return min(0.0, float(np.sum(np.log(joint[p_x:])) - np.sum(np.log(alone))))


def _robust(fx: np.ndarray, fy: np.ndarray, n: int, p_z: int) -> Part | None:
    wx, wy = _whitener(fx.T @ fx / n), _whitener(fy.T @ fy / n)
    if wx.shape[1] == 0 or wy.shape[1] == 0:
        return Part(0.0, 0.0, 0, n)
    factor = n - 1 - p_z
    if factor < MIN_RESIDUAL_DOF:
        return None
    x, y = fx @ wx, fy @ wy
    products = (x[:, :, None] * y[:, None, :]).reshape(n, -1)
    mean = products.mean(axis=0)
    centred = products - mean
    w = _whitener(centred.T @ centred / n)
    rho = np.linalg.svd(x.T @ y / n, compute_uv=False)
    return Part(_log_lambda(rho), factor * float(np.sum((mean @ w) ** 2)), w.shape[1], n)


def _robust_pair(x: np.ndarray, y: np.ndarray, n: int, p_z: int) -> Part | None:
    """:func:`_robust` for one X and one Y column, in closed form: ``c^2 / var(x y)`` does not depend on the
    scales of x and y, so no whitening is needed."""
    factor = n - 1 - p_z
    if factor < MIN_RESIDUAL_DOF:
        return None
    products = x * y
    c = float(products.mean())
    spread = float(np.mean((products - c) ** 2))
    power = float(np.dot(x, x) * np.dot(y, y)) / (n * n)
    if spread <= 0.0 or power <= 0.0:
        return Part(0.0, 0.0, 0, n)
    return Part(math.log1p(-min(c * c / power, 1.0 - 1e-15)), factor * c * c / spread, 1, n)


def residual_parts(resid: np.ndarray, scaled: np.ndarray, n_x: int, p_z: int,
                   options: RCoTOptions) -> tuple[Part, Part] | None:
    """The two chi-square parts of the dependence between residual columns ``[:n_x]`` (X's) and ``[n_x:]`` (Y's):

    * all features of the location-scale residuals ``scaled``, with the configured null;
    * the linear term of the plain residuals ``resid`` -- ParCorr's partial correlation, but given the additive
      Fourier regression on Z -- with the heteroscedasticity-consistent (fourth-moment) null, since these residuals
      keep their local scale.

    Columns that are all zero (fully explained) are left out. None: too few samples.
    """
    n = len(resid)
    live = np.any(resid != 0.0, axis=0)
    live_x, live_y = int(live[:n_x].sum()), int(live[n_x:].sum())
    if live_x == 0 or live_y == 0:
        return Part(0.0, 0.0, 0, n), Part(0.0, 0.0, 0, n)
    feats = options.features(scaled[:, live])
    feats -= feats.mean(axis=0)
    p_x = live_x * (1 + options.n_features)
    if options.null == "robust":
        full = _robust(feats[:, :p_x], feats[:, p_x:], n, p_z)
    else:
        full = _wilks(feats.T @ feats / n, p_x, n, p_z)
    linear_term = options.linear_term(resid[:, live])
    linear_term -= linear_term.mean(axis=0)
    if live_x == 1 and live_y == 1:
        linear = _robust_pair(linear_term[:, 0], linear_term[:, 1], n, p_z)
    else:
        linear = _robust(linear_term[:, :live_x], linear_term[:, live_x:], n, p_z)
    if full is None or linear is None:
        return None
    return full, linear


def combine(parts: Sequence[tuple[Part, Part]]) -> TestOutcome:
    """One outcome from per-regime (all features, linear term) parts: chi-squares and dof add over regimes; the
    p-value is Bonferroni's ``min(1, 2 min(p_features, p_linear))``. Why two statistics: the feature statistic
    spends degrees of freedom on shapes a monotone link does not need (measured: it alone has 0.2-0.3 power where
    a linear test has ~0.7), and the linear one is blind to the rest."""
    outcomes = []
    for pieces in zip(*parts):
        used = [p for p in pieces if p.dof > 0]
        if not used:
            outcomes.append(INDEPENDENT)
            continue
        statistic = sum(p.statistic for p in used)
        dof = sum(p.dof for p in used)
        log_lambda = sum(p.log_lambda * p.n for p in used) / sum(p.n for p in used)
        value = math.sqrt(max(0.0, -math.expm1(log_lambda)))
        outcomes.append(TestOutcome(value, float(special.chdtrc(dof, statistic)), statistic, dof))
    full, linear = outcomes
    if full.dof == 0:
        return linear
    return TestOutcome(full.value, min(1.0, 2.0 * min(full.p_value, linear.p_value)), full.statistic, full.dof)


def _too_few(p_z: int, regimes: int) -> TooFewSamplesError:
    where = f" in every one of {regimes} regimes" if regimes > 1 else ""
    return TooFewSamplesError(f"too few samples{where} for a test with {p_z} regression basis columns")


Block = tuple[np.ndarray, np.ndarray, "np.ndarray | None", "np.ndarray | None"]
"""One regime's centred targets (X's scores, then Y's), centred basis of Z, and optionally the cached
``basis^T basis / n`` and ``basis^T targets / n``."""


def test_blocks(blocks: Sequence[Block], n_x: int, options: RCoTOptions) -> TestOutcome:
    """The stratified test over regime blocks (one block: the plain test). Raises :class:`TooFewSamplesError`."""
    parts = []
    p_z = blocks[0][1].shape[1] if blocks else 0
    for targets, basis, gram, cross in blocks:
        if len(targets) - 1 - p_z < MIN_RESIDUAL_DOF:
            continue  # the regression alone would use up the samples
        resid, scaled = residuals(targets, basis, gram, cross)
        result = residual_parts(resid, scaled, n_x, p_z, options)
        if result is not None:
            parts.append(result)
    if not parts:
        raise _too_few(p_z, len(blocks))
    return combine(parts)


def _regime_rows(labels: np.ndarray | None, n: int) -> list[np.ndarray]:
    if labels is None:
        return [np.arange(n)]
    return [np.flatnonzero(labels == label) for label in np.unique(labels)]


def conditional_test(x: np.ndarray, y: np.ndarray, z: np.ndarray, options: RCoTOptions = RCoTOptions(),
                     regimes: np.ndarray | None = None) -> TestOutcome:
    """X _|_ Y | Z on raw samples ``(n, d_x)``, ``(n, d_y)``, ``(n, d_z)`` (``d_z`` may be 0).

    ``regimes``: optional label per sample; the test is then stratified (see the module docstring). Normal
    scores are taken over all samples, the regressions within each regime.
    Raises :class:`TooFewSamplesError` when no regime has enough samples.
    """
    xy = np.column_stack([x, y])
    scores = options.linear_term(xy, normal_scores(xy))
    basis = options.basis(z, normal_scores(z)) if z.shape[1] else np.zeros((len(x), 0))
    blocks: list[Block] = []
    for rows in _regime_rows(regimes, len(x)):
        targets, zb = scores[rows], basis[rows]
        blocks.append((targets - targets.mean(axis=0), zb - zb.mean(axis=0), None, None))
    return test_blocks(blocks, x.shape[1], options)


class RCoT(CondIndTest):
    """tigramite ``CondIndTest`` running this module's test.

    ``options``: :class:`RCoTOptions`. ``context``: optional variable index of a discrete regime label (read at
    the tested sample's time, lag 0) that stratifies every test; keep that variable out of the links (e.g. with
    ``link_assumptions``), it is a label, not a process. Significance is analytic only.
    """

    def __init__(self, options: RCoTOptions = RCoTOptions(), context: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("significance", "analytic")
        if kwargs["significance"] != "analytic":
            raise ValueError("RCoT has analytic significance only")
        self._measure = "rcot"
        self.two_sided = False
        self.residual_based = False
        self.options = options
        self.context = context
        self._table: _LaggedBasis | None = None
        self._table_key: tuple | None = None
        self._results: dict[tuple, TestOutcome] = {}
        self._pending: dict[float, float] = {}
        super().__init__(**kwargs)

    @property
    def measure(self) -> str:
        return self._measure

    def set_dataframe(self, dataframe: Any) -> None:
        super().set_dataframe(dataframe)
        self._table = None
        self._table_key = None
        self._results = {}

    # ---- the cached path: one basis covariance per run ----------------------------------------------------
    def run_test(self, X: list, Y: list, Z: list | None = None, tau_max: int = 0, cut_off: str = "2xtau_max",
                 alpha_or_thres: float | None = None) -> tuple:
        table = self._cached_table(tau_max, cut_off)
        if table is None:
            return super().run_test(X, Y, Z, tau_max=tau_max, cut_off=cut_off, alpha_or_thres=alpha_or_thres)
        X, Y = list(X), list(Y)
        Z = [node for node in dict.fromkeys(Z or []) if node not in X and node not in Y]
        for node in X + Y + Z:
            table.check(node)
        X, Y, Z = (table.varying(nodes) for nodes in (X, Y, Z))
        if not X or not Y:
            outcome = INDEPENDENT
        else:
            key = (frozenset((tuple(sorted(X)), tuple(sorted(Y)))), tuple(sorted(Z)))
            if key not in self._results:
                self._results[key] = table.test(X, Y, Z, self.options)
            outcome = self._results[key]
        if alpha_or_thres is None:
            return outcome.value, outcome.p_value
        return outcome.value, outcome.p_value, bool(outcome.dof > 0 and outcome.p_value <= alpha_or_thres)

    def _cached_table(self, tau_max: int, cut_off: str) -> _LaggedBasis | None:
        frame = self.dataframe
        if (frame is None or cut_off != "2xtau_max" or frame.mask is not None or frame.missing_flag is not None
                or getattr(frame, "bootstrap", None) is not None):
            return None
        key = (id(frame), tau_max)
        if self._table_key != key:
            self._table = _LaggedBasis.build(frame, tau_max, self.options, self.context)
            self._table_key = key
            self._results = {}
        return self._table

    # ---- tigramite's generic path (masks, missing values, other cut-offs) --------------------------------
    def get_dependence_measure(self, array: np.ndarray, xyz: np.ndarray, data_type: Any = None) -> float:
        """Value of the test on tigramite's ``(dim, n)`` array; its p-value is kept for the significance call."""
        regimes = array[xyz == 3][0] if self.context is not None and np.any(xyz == 3) else None
        outcome = conditional_test(array[xyz == 0].T, array[xyz == 1].T, array[xyz == 2].T, self.options, regimes)
        self._pending = {outcome.value: outcome.p_value}
        return outcome.value

    def get_analytic_significance(self, value: float, T: int, dim: int, xyz: np.ndarray) -> float:
        if value not in self._pending:
            raise RuntimeError("RCoT computes its p-value with the value: call get_dependence_measure first")
        return self._pending.pop(value)

    def _get_array(self, X: list, Y: list, Z: list, tau_max: int = 0, cut_off: str = "2xtau_max",
                   remove_constant_data: bool = False, verbosity: int = 0) -> tuple:
        """tigramite's array, with the context label as an extra row (code 3) when the test is stratified."""
        if self.context is None:
            return super()._get_array(X, Y, Z, tau_max, cut_off, remove_constant_data, verbosity)
        array, xyz, XYZ, types = self.dataframe.construct_array(
            X=X, Y=Y, Z=Z, extraZ=[(self.context, 0)], tau_max=tau_max, mask_type=self.mask_type,
            return_cleaned_xyz=True, do_checks=True, remove_overlaps=True, cut_off=cut_off, verbosity=verbosity)
        XYZ = tuple(XYZ[:3])
        if not remove_constant_data:
            return array, xyz, XYZ, types
        constant = set(np.flatnonzero((array.std(axis=1) == 0.0) & (xyz != 3)).tolist())
        kept = [row for row in range(len(xyz)) if row not in constant]
        nonzero = tuple([node for node, row in zip(nodes, np.flatnonzero(xyz == code)) if row not in constant]
                        for code, nodes in enumerate(XYZ))
        return array, xyz, XYZ, types, array[kept], xyz[kept], nonzero, None

    def get_model_selection_criterion(self, j: int, parents: list, tau_max: int = 0) -> float:
        raise NotImplementedError("RCoT has no model-selection score: give pc_alpha as a number")


class _LaggedBasis:
    """Scores and regression basis of every lagged node ``(var, -lag)``, lag 0..2 tau_max, on tigramite's
    reference samples (all datasets stacked), with each regime's centred basis and its covariance."""

    def __init__(self, basis: np.ndarray, constant: np.ndarray, n_vars: int, max_lag: int, width: int,
                 regimes: np.ndarray | None) -> None:
        self.constant = constant
        self.n_vars = n_vars
        self.max_lag = max_lag
        self.width = width
        self.blocks = []
        for rows in _regime_rows(regimes, len(basis)):
            centred = basis[rows] - basis[rows].mean(axis=0)
            self.blocks.append((centred, centred.T @ centred / len(rows)))

    @classmethod
    def build(cls, frame: Any, tau_max: int, options: RCoTOptions, context: int | None) -> _LaggedBasis:
        max_lag = 2 * tau_max
        stacks, labels = [], []
        for key, values in frame.values.items():
            refs = np.asarray(frame.reference_points) - frame.time_offsets[key]
            refs = np.sort(refs[(refs >= max_lag) & (refs < frame.T[key])])
            if len(refs):
                stacks.append(np.concatenate([values[refs - lag] for lag in range(max_lag + 1)], axis=1))
                labels.append(values[refs, context] if context is not None else refs)
        if not stacks:
            raise TooFewSamplesError(f"no samples left after cutting off 2 * tau_max = {max_lag}")
        columns = np.concatenate(stacks, axis=0)  # column lag * n_vars + var
        basis = options.basis(columns, normal_scores(columns))
        regimes = np.concatenate(labels) if context is not None else None
        return cls(basis, columns.std(axis=0) == 0.0, frame.Ndata, max_lag, options.basis_width, regimes)

    def column(self, node: tuple[int, int]) -> int:
        return -node[1] * self.n_vars + node[0]

    def check(self, node: tuple[int, int]) -> None:
        var, lag = node
        if not (0 <= var < self.n_vars and -self.max_lag <= lag <= 0):
            raise ValueError(f"node {node} is outside variables 0..{self.n_vars - 1}, lags 0..-{self.max_lag}")

    def varying(self, nodes: list) -> list:
        return [node for node in nodes if not self.constant[self.column(node)]]

    def test(self, X: list, Y: list, Z: list, options: RCoTOptions) -> TestOutcome:
        width = self.width
        z_cols = (np.array([self.column(node) for node in Z], dtype=np.intp)[:, None] * width
                  + np.arange(width)).ravel()
        t_cols = np.array([width * self.column(node) for node in X + Y], dtype=np.intp)
        blocks: list[Block] = []
        for centred, cov in self.blocks:
            rows = cov[z_cols]
            blocks.append((centred[:, t_cols], centred[:, z_cols], rows[:, z_cols], rows[:, t_cols]))
        return test_blocks(blocks, len(X), options)
