"""The random-feature CI test: false-positive rate on independent data, power where ParCorr is blind, the cached
path equal to tigramite's per-test path, regimes, and what it says when it cannot run."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats
from tigramite.data_processing import DataFrame
from tigramite.pcmci import PCMCI

from causal_nodes.discovery.rcot import (
    INDEPENDENT,
    RCoT,
    RCoTOptions,
    TooFewSamplesError,
    conditional_test,
    normal_scores,
    residual_scores,
)

SHAPES = (lambda z: np.tanh(1.5 * z), lambda z: np.maximum(z - 0.3, 0.0), lambda z: z * z / 2, np.sin,
          lambda z: 1 / (1 + np.exp(-5 * z)), lambda z: np.abs(z - 0.2))


def nonlinear_null(rng: np.random.Generator, n: int, dz: int, heteroscedastic: bool):
    """X and Y both nonlinear (additive) in Z, with noise independent given Z: X _|_ Y | Z holds."""
    z = rng.normal(size=(n, dz))

    def f() -> np.ndarray:
        return sum((rng.normal() * SHAPES[rng.integers(len(SHAPES))](z[:, j]) for j in range(dz)), np.zeros(n))

    scale = 0.3 + np.abs(z[:, 0]) if heteroscedastic and dz else 0.5
    return (f() + scale * rng.normal(size=n))[:, None], (f() + scale * rng.standard_t(5, size=n))[:, None], z


@pytest.mark.parametrize("null", ["wilks", "robust"])
def test_false_positive_rate_is_calibrated_at_alpha_005(null):
    options = RCoTOptions(null=null)
    rates = {}
    for n in (200, 600):
        for dz in (0, 2, 4):
            for hetero in (False, True):
                rng = np.random.default_rng(1000 * n + 10 * dz + hetero)
                p = [conditional_test(*nonlinear_null(rng, n, dz, hetero), options).p_value for _ in range(120)]
                rates[(n, dz, hetero)] = np.mean(np.array(p) <= 0.05)
    pooled = np.mean(list(rates.values()))  # 1440 draws: sd 0.006
    assert abs(pooled - 0.05) <= 0.02, rates
    assert max(rates.values()) <= 0.13, rates  # no single setting far off (120 draws: sd 0.02)


def test_false_positive_rate_at_other_levels():
    rng = np.random.default_rng(3)
    p = np.array([conditional_test(rng.normal(size=(300, 1)), rng.exponential(size=(300, 1)),
                                   np.zeros((300, 0))).p_value for _ in range(500)])
    # Bonferroni over two statistics: at most alpha, close to it at small alpha (sd at 500 draws: 0.004-0.013)
    for alpha in (0.01, 0.05, 0.1):
        assert 0.4 * alpha <= np.mean(p <= alpha) <= alpha + 0.03


def test_finds_non_monotone_dependence_that_partial_correlation_misses():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(500, 1))
    x = rng.normal(size=(500, 1))
    y = np.sin(z) + 0.8 * (x * x - 1) + 0.5 * rng.normal(size=(500, 1))
    assert conditional_test(x, y, z).p_value < 1e-6
    design = np.column_stack([np.ones(500), z])
    rx = x[:, 0] - design @ np.linalg.lstsq(design, x[:, 0], rcond=None)[0]
    ry = y[:, 0] - design @ np.linalg.lstsq(design, y[:, 0], rcond=None)[0]
    assert stats.pearsonr(rx, ry).pvalue > 0.05  # a linear test sees nothing


def test_keeps_partial_correlation_power_on_a_weak_linear_link():
    rng = np.random.default_rng(6)
    hits_rcot = hits_linear = 0
    for _ in range(100):
        x = rng.normal(size=(300, 1))
        y = 0.2 * x + rng.normal(size=(300, 1))
        hits_rcot += conditional_test(x, y, np.zeros((300, 0))).p_value <= 0.05
        hits_linear += stats.pearsonr(x[:, 0], y[:, 0]).pvalue <= 0.05
    assert hits_rcot >= 0.8 * hits_linear  # the Bonferroni of score and feature statistics costs little


def test_stratified_test_finds_an_effect_whose_sign_flips_between_regimes():
    rng = np.random.default_rng(7)
    n = 600
    regime = (np.arange(n) // 60) % 2
    x = rng.normal(size=(n, 1))
    y = np.where(regime[:, None] == 1, 0.4, -0.4) * x + rng.normal(size=(n, 1))
    z = np.zeros((n, 0))
    assert stats.pearsonr(x[:, 0], y[:, 0]).pvalue > 0.05  # pooled, the linear effect cancels
    pooled, stratified = conditional_test(x, y, z).p_value, conditional_test(x, y, z, regimes=regime).p_value
    assert stratified < 1e-9 and stratified < 1e-3 * pooled


def test_stratified_null_is_calibrated():
    rng = np.random.default_rng(8)
    p = []
    for _ in range(250):
        regime = rng.integers(0, 3, size=450)
        x, y, z = nonlinear_null(rng, 450, 2, heteroscedastic=False)
        x = x + regime[:, None]  # regimes shift the levels; still X _|_ Y | Z within each regime
        y = y - 2 * regime[:, None]
        p.append(conditional_test(x, y, z, regimes=regime).p_value)
    assert 0.02 <= np.mean(np.array(p) <= 0.05) <= 0.08  # 250 draws: sd 0.014


def test_too_few_samples_and_nothing_to_test_are_reported():
    rng = np.random.default_rng(9)
    with pytest.raises(TooFewSamplesError, match="too few samples for a test with 35 regression basis columns"):
        conditional_test(rng.normal(size=(30, 1)), rng.normal(size=(30, 1)), rng.normal(size=(30, 5)))
    z = rng.normal(size=(200, 1))
    assert conditional_test(2 * z, rng.normal(size=(200, 1)), z) == INDEPENDENT  # X fully explained by Z


def test_scores():
    column = np.array([[3.0], [1.0], [2.0], [2.0]])
    scores = normal_scores(column)[:, 0]
    assert scores[1] < scores[2] == scores[3] < scores[0]
    np.testing.assert_allclose(residual_scores(np.array([[0.3], [-1.0], [2.0]]))[:, 0],
                               stats.norm.ppf([0.5, 1 / 6, 5 / 6]))


def _series(seed: int, n: int = 400) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(n, 4))
    for t in range(1, n):
        data[t, 1] += np.tanh(2 * data[t - 1, 0]) + 0.4 * data[t - 1, 1]
        data[t, 2] += 0.8 * data[t - 1, 1] ** 2 - 0.5
        data[t, 3] += 0.3 * data[t - 1, 3]
    return data


def _pcmci(frame: DataFrame, test: RCoT) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PCMCI(dataframe=frame, cond_ind_test=test, verbosity=0).run_pcmci(tau_max=2, pc_alpha=0.2,
                                                                                 alpha_level=0.01)


def test_cached_path_equals_tigramites_per_test_path():
    data = _series(10)
    cached = _pcmci(DataFrame(data), RCoT())
    per_test = _pcmci(DataFrame(data, missing_flag=-9.9e30), RCoT())  # a missing flag forces the generic path
    np.testing.assert_allclose(cached["p_matrix"], per_test["p_matrix"], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(cached["graph"], per_test["graph"])
    graph = cached["graph"]
    assert graph[0, 1, 1] == "-->" and graph[1, 2, 1] == "-->"  # tanh and square links found
    assert graph[1, 2, 1] == "-->" and cached["p_matrix"][1, 2, 1] < 1e-6


def test_cached_path_stacks_multiple_datasets_like_tigramite():
    datasets = {k: _series(20 + k, 150) for k in range(3)}
    cached = _pcmci(DataFrame(datasets, analysis_mode="multiple"), RCoT())
    per_test = _pcmci(DataFrame(datasets, analysis_mode="multiple", missing_flag=-9.9e30), RCoT())
    np.testing.assert_allclose(cached["p_matrix"], per_test["p_matrix"], rtol=1e-9, atol=1e-12)


def test_tigramite_interface_rejects_what_it_cannot_do():
    with pytest.raises(ValueError, match="analytic significance only"):
        RCoT(significance="shuffle_test")
    test = RCoT()
    test.set_dataframe(DataFrame(_series(30, 100)))
    with pytest.raises(ValueError, match=r"outside variables 0..3, lags 0..-2"):
        test.run_test([(0, -3)], [(1, 0)], tau_max=1)
    with pytest.raises(NotImplementedError, match="pc_alpha as a number"):
        test.get_model_selection_criterion(1, [(0, -1)])
    with pytest.raises(ValueError, match="null must be one of"):
        RCoTOptions(null="lpb4")


def test_rank_deficient_features_drop_their_empty_directions():
    rng = np.random.default_rng(31)
    x = rng.integers(0, 2, size=(300, 1)).astype(float)  # two values: its cosine features are collinear with it
    y = x + rng.normal(size=(300, 1))
    none = np.zeros((300, 0))
    outcome = conditional_test(x, y, none)
    assert outcome.p_value < 1e-6 and outcome.dof == 3  # one direction of X's features is left, times Y's three


def test_tied_values_do_not_make_scores_follow_time():
    # two independent variables that mostly repeat a value: ordering ties by position would correlate them
    rng = np.random.default_rng(32)
    p = []
    for _ in range(200):
        x = np.where(rng.random((300, 1)) < 0.7, 0.0, rng.normal(size=(300, 1)))
        y = np.where(rng.random((300, 1)) < 0.7, 0.0, rng.normal(size=(300, 1)))
        p.append(conditional_test(x, y, np.zeros((300, 0))).p_value)
    assert np.mean(np.array(p) <= 0.05) <= 0.08
    np.testing.assert_allclose(residual_scores(np.array([[1.0], [0.0], [0.0], [2.0]]))[:, 0],
                               normal_scores(np.array([[1.0], [0.0], [0.0], [2.0]]))[:, 0])
