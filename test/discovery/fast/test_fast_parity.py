"""Parity of the fast PCMCI engine with tigramite (the oracle) on many random SCMs and edge cases."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

tigramite = pytest.importorskip("tigramite")
from tigramite.data_processing import DataFrame  # noqa: E402
from tigramite.independence_tests.parcorr import ParCorr  # noqa: E402
from tigramite_oracle import TOL, assert_same, tigramite_results  # noqa: E402

from causal_nodes.discovery.fast.lagged_moments import (  # noqa: E402
    KIND_DEGENERATE,
    KIND_NORMAL,
    KIND_ZERO,
    column_kinds,
    correlation_from_covariance,
    covariance_of_rows,
    lagged_rows,
)
from causal_nodes.discovery.fast.parcorr import LaggedParCorr, rowwise_partial_correlation  # noqa: E402
from causal_nodes.discovery.fast.pcmci import run_fast  # noqa: E402
from causal_nodes.sim.scm import random_linear_scm  # noqa: E402


def check(data: np.ndarray, test: str = "parcorr", **options) -> dict:
    expected = tigramite_results(data, test=test, **options)
    got = run_fast(data, test=test, **options)
    assert_same(expected, got)
    return got


def _random_cases(n_cases: int):
    """Deterministic spread over N, tau_max and all run options."""
    rng = np.random.default_rng(2024)
    cases = []
    for k in range(n_cases):
        n_vars = 2 + k % 7
        tau_max = k % 4
        pc_alpha = [0.05, 0.2, 0.5, None, 1.0, [0.1, 0.3]][k % 6]
        if pc_alpha is None and n_vars * (tau_max + 1) > 16:
            pc_alpha = 0.3
        options = dict(
            tau_min=int(rng.integers(0, 2)) if tau_max >= 1 else 0,
            tau_max=tau_max,
            pc_alpha=pc_alpha,
            alpha_level=[0.01, 0.05, 0.1, 0.2][k % 4],
            max_conds_dim=[None, None, 1, 2][int(rng.integers(0, 4))],
            max_combinations=[1, 1, 2, 3][int(rng.integers(0, 4))],
            fdr_method=["none", "fdr_bh"][k % 2],
        )
        if k % 5 == 4:
            options["max_conds_px"] = int(rng.integers(0, 3))
            options["max_conds_py"] = int(rng.integers(1, 4))
        test = "robust_parcorr" if k % 3 == 2 else "parcorr"
        n_time = int(rng.integers(120, 320))
        cases.append(pytest.param(n_vars, n_time, k, test, options, id=f"case{k}-N{n_vars}-tau{tau_max}-{test}"))
    return cases


@pytest.mark.parametrize("n_vars,n_time,seed,test,options", _random_cases(42))
def test_random_scm_parity(n_vars, n_time, seed, test, options):
    data = random_linear_scm(n_vars, n_time, max_lag=max(1, options["tau_max"]), density=0.35,
                             seed=seed)
    got = check(data, test=test, **options)
    assert got["conf_matrix"] is None


def test_dense_larger_system_parity():
    data = random_linear_scm(8, 300, max_lag=3, density=0.5, seed=7)
    got = check(data, tau_max=3, pc_alpha=0.2)
    assert (got["graph"] != "").sum() > 5  # a non-trivial graph was found


def test_constant_and_degenerate_columns():
    data = random_linear_scm(4, 250, max_lag=2, seed=3)
    data[:, 1] = 0.0        # std exactly 0 -> removed from tests
    data[:, 2] = 1.7        # all equal, but numpy std is a rounding residue
    data[:120, 3] = 2.0     # constant only in the early part
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kinds = column_kinds(lagged_rows(data, 2))
    assert KIND_ZERO in kinds and KIND_DEGENERATE in kinds
    for options in (dict(tau_max=2, pc_alpha=0.2), dict(tau_max=1, pc_alpha=1.0),
                    dict(tau_max=2, pc_alpha=None)):
        got = check(data, **options)
        assert np.all(got["val_matrix"][1, :, 1:] == 0.0) and np.all(got["p_matrix"][1, :, 1:] == 1.0)


def test_constant_parent_forced_by_link_assumptions():
    data = random_linear_scm(3, 200, max_lag=1, seed=11)
    data[:, 0] = 0.0
    links = {0: {(1, -1): "-?>"},
             1: {(0, -1): "-->", (1, -1): "-?>", (2, -1): "-?>"},
             2: {(0, -1): "-->", (1, -1): "-?>", (1, 0): "o?o"}}
    check(data, tau_max=1, pc_alpha=0.2, link_assumptions=links)


def test_near_collinear_variables_use_exact_least_squares():
    rng = np.random.default_rng(5)
    data = random_linear_scm(4, 300, max_lag=2, seed=5)
    data[:, 1] = data[:, 0] + 1e-5 * rng.normal(size=300)   # near-collinear pair
    data[:, 3] = data[:, 2]                                # exact duplicate
    check(data, tau_max=2, pc_alpha=0.3)
    check(data, tau_max=1, pc_alpha=0.05, test="robust_parcorr")


def test_oracle_falls_back_to_row_replay_for_ill_conditioned_sets():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(400, 3))
    data = np.column_stack([base, base[:, 0] + 1e-6 * rng.normal(size=400)])
    rows = lagged_rows(data, 0)
    kinds = column_kinds(rows)
    oracle = LaggedParCorr(rows, correlation_from_covariance(covariance_of_rows(rows), kinds), kinds, 4)
    # x=1, y=2 given {0, 3}: columns 0 and 3 are nearly identical.
    vals, pvals, _ = oracle.test(np.array([[0, 3, 1, 2]]))
    assert oracle.n_rowwise == 1
    expected = rowwise_partial_correlation(rows[[1, 2, 0, 3]].copy())
    assert vals[0] == expected
    cond = ParCorr(significance="analytic")
    cond.set_dataframe(DataFrame(data))
    val, pval = cond.run_test(X=[(1, 0)], Y=[(2, 0)], Z=[(0, 0), (3, 0)], tau_max=0)
    assert abs(vals[0] - val) <= TOL and abs(pvals[0] - pval) <= TOL
    # A well-conditioned test stays on the fast path.
    oracle.test(np.array([[0, 1, 2]]))
    assert oracle.n_rowwise == 1 and (kinds == KIND_NORMAL).all()


@pytest.mark.parametrize("test", ["parcorr", "robust_parcorr"])
def test_link_assumptions_parity(test):
    data = random_linear_scm(4, 260, max_lag=2, seed=21)
    links = {
        0: {(0, -1): "-?>", (1, -1): "-->", (2, -2): "-?>", (1, 0): "o?o"},
        1: {(1, -1): "-?>", (0, -2): "-?>", (3, -1): "-?>", (2, 0): "-?>"},
        2: {(2, -1): "-?>", (0, -1): "-?>", (3, 0): "o-o"},
        3: {(3, -2): "-?>", (1, -1): "-->", (0, 0): "<?-"},
    }
    check(data, test=test, tau_max=2, pc_alpha=0.2, link_assumptions=links)
    check(data, test=test, tau_max=2, pc_alpha=0.2, link_assumptions=links, fdr_method="fdr_bh",
          alpha_level=0.1)


def test_contemporaneous_only_and_tau_min():
    data = random_linear_scm(5, 300, max_lag=1, density=0.5, seed=9)
    got = check(data, tau_max=0, pc_alpha=0.2)
    assert got["graph"].shape == (5, 5, 1)
    check(data, tau_min=2, tau_max=3, pc_alpha=0.2)
    check(data, tau_min=1, tau_max=2, pc_alpha=0.2, fdr_method="fdr_bh")


def test_signal_offsets_and_scales():
    data = random_linear_scm(4, 300, max_lag=2, seed=13) * [1e-3, 1.0, 50.0, 1e4] + [1e5, -3.0, 0.0, 7e3]
    check(data, tau_max=2, pc_alpha=0.2)


@pytest.mark.parametrize("max_combinations", [2, 4, 10])
def test_many_condition_combinations(max_combinations):
    """Combination order depends on the parent-list length; exercised with dense parents."""
    data = random_linear_scm(5, 220, max_lag=2, density=0.5, seed=31)
    check(data, tau_max=2, pc_alpha=0.4, max_combinations=max_combinations, max_conds_dim=3)


@pytest.mark.parametrize("n_time,tau_max,n_vars", [(14, 3, 4), (9, 1, 5)])
def test_tiny_samples_with_nan_pvalues(n_time, tau_max, n_vars):
    """Fewer samples than conditions: tigramite's NaN p-values (dof < 1) must match."""
    data = random_linear_scm(n_vars, n_time, max_lag=2, density=0.5, seed=2)
    check(data, tau_max=tau_max, pc_alpha=0.5, fdr_method="fdr_bh")
    check(data, tau_max=tau_max, pc_alpha=None)


def test_robust_parcorr_with_pc_alpha_selection():
    data = random_linear_scm(4, 200, max_lag=2, density=0.5, seed=2)
    data[:, 1] = np.exp(data[:, 1])  # non-Gaussian marginal
    check(data, test="robust_parcorr", tau_max=2, pc_alpha=None)


@pytest.mark.parametrize("a1,a2", [(1.9, -0.905), (1.98, -0.9801)])
def test_smooth_near_unit_root_signals(a1, a2):
    """Very smooth signals make lagged columns nearly collinear: most tests are replayed
    row-wise, in tigramite's order, so both directions of a lag-0 pair share one result."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(0)
    noise = rng.normal(size=(500, 4))
    data = np.column_stack([lfilter([1.0], [1.0, -a1, -a2], noise[:, k]) for k in range(4)])
    data[1:, 1] += 0.3 * data[:-1, 0]
    data[2:, 2] += 0.2 * data[:-2, 1]
    data = data[100:]
    check(data, tau_max=3, pc_alpha=0.2)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_tigramite_toy_model_parity(seed):
    """Processes from tigramite's own generator (cast to float64: tigramite computes float32
    input in float32, the fast engine always in float64)."""
    from tigramite.toymodels import structural_causal_processes as toys

    links, noises = toys.generate_structural_causal_process(
        N=5, L=6, max_lag=3, contemp_fraction=0.3, seed=seed, noise_seed=seed)
    data, nonstationary = toys.structural_causal_process(links, T=300, noises=noises, seed=seed)
    assert not nonstationary
    data = data.astype(np.float64)
    check(data, tau_max=3, pc_alpha=0.1)
    check(data, tau_max=3, pc_alpha=0.1, test="robust_parcorr")


def test_single_variable():
    data = random_linear_scm(1, 200, max_lag=2, seed=1)
    check(data, tau_max=2, pc_alpha=None, fdr_method="fdr_bh")
    check(data, tau_max=0)
