"""The compiled kernels against the numpy path they replace: same values, same decisions, same fallbacks."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from causal_nodes.discovery.fast import kernels
from causal_nodes.discovery.fast.lagged_moments import lagged_rows
from causal_nodes.discovery.fast.parcorr import PIVOT_TOLERANCE, _partial_from_gram, analytic_pvalues
from causal_nodes.discovery.fast.pc1 import default_pc_candidates, run_pc_stable
from causal_nodes.discovery.fast.pcmci import _oracle_from_rows
from causal_nodes.sim.scm import random_linear_scm

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason=kernels.unavailable_reason() or "numba kernels off")


def _oracle(n_vars: int = 8, tau_max: int = 3, seed: int = 4, data: np.ndarray | None = None):
    if data is None:
        data = random_linear_scm(n_vars, 400, max_lag=min(3, tau_max), density=0.4, seed=seed)
    return _oracle_from_rows(lagged_rows(data, tau_max), "parcorr", data.shape[1])


def test_partial_correlations_match_the_batched_numpy_factorisation():
    oracle = _oracle()
    rng = np.random.default_rng(0)
    d = oracle.corr.shape[0]
    for width in (2, 3, 6, 12):
        cols = np.array([rng.choice(d, width, replace=False) for _ in range(200)])
        vals, pvals, good = kernels.partial_correlations(oracle.corr, cols, np.full(200, width), oracle.n_samples,
                                                         PIVOT_TOLERANCE)
        gram = oracle.corr[cols[:, :, None], cols[:, None, :]]
        expected, expected_good = (gram[:, 0, 1], np.ones(200, bool)) if width == 2 else _partial_from_gram(gram)
        assert np.array_equal(good, expected_good)
        np.testing.assert_allclose(vals, expected, rtol=0, atol=1e-13)
        np.testing.assert_array_equal(pvals, analytic_pvalues(vals, np.full(200, width), oracle.n_samples))


def test_ill_conditioned_tests_are_flagged_not_answered():
    data = random_linear_scm(4, 300, max_lag=1, seed=2)
    data[:, 3] = data[:, 0] + 1e-7 * np.random.default_rng(1).normal(size=300)
    oracle = _oracle(data=data, tau_max=1)
    cols = np.array([[0, 3, 1, 2], [0, 1, 2, 3], [1, 2, 0, 3]])
    _, _, good = kernels.partial_correlations(oracle.corr, cols, np.array([4, 4, 2]), oracle.n_samples,
                                              PIVOT_TOLERANCE)
    assert good.tolist() == [False, False, True]


def test_shared_prefix_gives_bitwise_the_full_factorisation():
    oracle = _oracle(n_vars=10, tau_max=2)
    rng = np.random.default_rng(3)
    size = 5
    zwork, work = np.empty((size + 2, size + 2)), np.empty((size + 2, size + 2))
    yrow, xrow = np.empty(size + 2), np.empty(size + 2)
    for _ in range(50):
        cols = rng.choice(oracle.corr.shape[0], size + 2, replace=False)
        prefix_pivot = kernels._factor_prefix(oracle.corr, cols, size, cols[-1], zwork, yrow)
        shared, pivot = kernels._partial_given_prefix(oracle.corr, cols, size, cols[-2], cols[-1], zwork, yrow, xrow)
        full, full_pivot = kernels._partial_from_corr(oracle.corr, cols, size + 2, work)
        assert shared == full and min(pivot, prefix_pivot) == full_pivot


def test_clear_decision_thresholds_agree_with_exact_pvalues():
    n_samples, max_dim = 120, 6
    alphas = np.array([0.01, 0.05, 0.2, 0.5, 1.0, 0.0])
    bands = kernels.clear_decision_thresholds(alphas, max_dim, n_samples)
    for s, alpha in enumerate(alphas):
        for k in range(max_dim + 1):
            low, high = bands[s, k]
            critical = 0.5 * (low + high)
            r = np.concatenate([np.linspace(0, 1, 2001), critical * (1 + np.linspace(-1e-4, 1e-4, 401))])
            r = r[(r <= low) | (r >= high)]
            dof = n_samples - 2 - k
            with np.errstate(all="ignore"):
                p = special.stdtr(dof, -np.abs(r * np.sqrt(dof / (1 - r * r)))) * 2
            p[np.abs(r) == 1] = 0.0
            np.testing.assert_array_equal(r >= high, p <= alpha, err_msg=f"alpha {alpha}, k {k}")
    assert (bands[4:, :, 0] == -1).all() and (bands[4:, :, 1] == 2).all()  # alpha 1 and 0: exact p decides


@pytest.mark.parametrize("pc_alpha", [0.2, [0.05, 0.3]])
def test_pc1_decisions_without_pvalues_are_the_same(pc_alpha):
    for seed in range(3):
        oracle = _oracle(n_vars=12, tau_max=3, seed=40 + seed)
        candidates = default_pc_candidates(12, 1, 3)
        with_p = run_pc_stable(oracle, candidates, 12, 1, 3, pc_alpha, None, 1, need_pvalues=True)
        without = run_pc_stable(oracle, candidates, 12, 1, 3, pc_alpha, None, 1, need_pvalues=False)
        assert with_p.parents == without.parents
        for j in range(12):
            a, s_a = with_p.sources[j]
            b, s_b = without.sources[j]
            np.testing.assert_array_equal(a.val_min[s_a], b.val_min[s_b])


def test_pc1_search_with_an_ill_conditioned_test_is_rerun_exactly():
    data = random_linear_scm(5, 300, max_lag=2, seed=8)
    data[:, 4] = data[:, 1] + 1e-6 * np.random.default_rng(0).normal(size=300)
    compiled = _oracle(data=data, tau_max=2)
    result = run_pc_stable(compiled, default_pc_candidates(5, 1, 2), 5, 1, 2, 0.2, None, 1)
    assert compiled.n_rowwise > 0
    plain = _oracle(data=data, tau_max=2)
    kernels_on = kernels.AVAILABLE
    try:
        kernels.AVAILABLE = False
        expected = run_pc_stable(plain, default_pc_candidates(5, 1, 2), 5, 1, 2, 0.2, None, 1)
    finally:
        kernels.AVAILABLE = kernels_on
    assert result.parents == expected.parents
