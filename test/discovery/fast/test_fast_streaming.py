"""StreamingPCMCI: equals batch PCMCI on every window, and stays exact over 10^6 samples."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.signal import lfilter
from tigramite_oracle import assert_same

from causal_nodes.discovery.fast.lagged_moments import SlidingLaggedMoments, covariance_of_rows, lagged_rows
from causal_nodes.discovery.fast.pcmci import StreamingPCMCI, run_fast
from causal_nodes.sim.scm import random_linear_scm


@pytest.mark.parametrize("block,recompute_every", [(1, None), (7, 0), (256, 25)])
def test_sliding_covariance_matches_two_pass_on_every_window(block, recompute_every):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(160, 3)) * [1.0, 10.0, 0.1] + [100.0, -5.0, 0.0]
    moments = SlidingLaggedMoments(3, window=30, tau_max=2, recompute_every=recompute_every,
                                   block=block)
    checked = 0
    for t, row in enumerate(data):
        moments.push(row)
        window = data[max(0, t + 1 - 30):t + 1]
        np.testing.assert_array_equal(moments.samples(), window)
        if moments.n_ref >= 1:
            expected = covariance_of_rows(lagged_rows(window, 2))
            scale = np.sqrt(np.outer(np.diag(expected), np.diag(expected))) + 1e-300
            assert np.max(np.abs(moments.covariance() - expected) / scale) < 1e-10
            checked += 1
    assert checked == 160 - 4


@pytest.mark.parametrize("test", ["parcorr", "robust_parcorr"])
def test_streaming_equals_batch_on_every_window(test):
    data = random_linear_scm(3, 140, max_lag=2, density=0.5, seed=4)
    stream = StreamingPCMCI(3, window=50, tau_max=2, block=16)
    options = dict(test=test, tau_max=2, pc_alpha=0.2, alpha_level=0.05)
    n_windows = 0
    for t, row in enumerate(data):
        stream.push(row)
        if t + 1 < 12:
            continue
        window = data[max(0, t + 1 - 50):t + 1]
        np.testing.assert_array_equal(stream.window_data(), window)
        assert_same(run_fast(window, **options), stream.run(**options))
        n_windows += 1
    assert n_windows == 140 - 11


def test_streaming_matches_tigramite_on_sampled_windows():
    pytest.importorskip("tigramite")
    from tigramite.data_processing import DataFrame
    from tigramite.independence_tests.parcorr import ParCorr
    from tigramite.pcmci import PCMCI

    data = random_linear_scm(4, 400, max_lag=2, density=0.4, seed=8) + 20.0
    stream = StreamingPCMCI(4, window=150, tau_max=2)
    for t, row in enumerate(data):
        stream.push(row)
        if (t + 1) in (150, 233, 400):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = PCMCI(DataFrame(data[t + 1 - 150:t + 1]), ParCorr(significance="analytic"),
                                 verbosity=0).run_pcmci(tau_max=2, pc_alpha=0.2, fdr_method="fdr_bh")
            assert_same(expected, stream.run(tau_max=2, pc_alpha=0.2, fdr_method="fdr_bh"))


def test_million_samples_without_drift():
    """10^6 pushes with the periodic recompute disabled: add/remove rounding must not drift."""
    n_total, window = 1_000_000, 400
    noise = np.random.default_rng(42).normal(size=(n_total, 2))
    # x0 -> x1 at lag 1, both autocorrelated, far from zero so that cancellation
    # in S2/n - m m^T would show.
    x0 = lfilter([1.0], [1.0, -0.6], noise[:, 0])
    x1 = lfilter([1.0], [1.0, -0.3], noise[:, 1] + 0.5 * np.concatenate([[0.0], x0[:-1]]))
    data = np.column_stack([x0 + 1000.0, x1 - 250.0])
    stream = StreamingPCMCI(2, window=window, tau_max=1, recompute_every=0)
    checks = 0
    for t in range(n_total):
        stream.push(data[t])
        if t + 1 in (window, n_total // 2, n_total):
            window_data = data[t + 1 - window:t + 1]
            np.testing.assert_array_equal(stream.window_data(), window_data)
            got = stream.run(tau_max=1, pc_alpha=0.2)
            assert_same(run_fast(window_data, tau_max=1, pc_alpha=0.2), got)
            assert got["graph"][0, 1, 1] == "-->"  # the true lagged coupling is found
            checks += 1
    assert checks == 3


def test_run_rejects_other_tau_max_and_short_windows():
    stream = StreamingPCMCI(2, window=20, tau_max=2)
    with pytest.raises(ValueError, match="need more than"):
        stream.run(tau_max=2)
    for row in np.random.default_rng(0).normal(size=(10, 2)):
        stream.push(row)
    with pytest.raises(ValueError, match="tau_max=2"):
        stream.run(tau_max=1)
    with pytest.raises(ValueError, match="shape"):
        stream.push(np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        stream.push(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="window"):
        StreamingPCMCI(2, window=4, tau_max=2)
