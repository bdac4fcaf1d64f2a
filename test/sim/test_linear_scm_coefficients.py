"""The seeded lagged SCM used by parity tests and benchmarks: its published structure is the one it simulates."""
from __future__ import annotations

import numpy as np

from causal_nodes.sim.scm import linear_scm_coefficients, random_linear_scm


def test_coefficients_are_the_simulated_structure():
    kwargs = dict(max_lag=2, density=0.4, contemporaneous=False, seed=17)
    coeffs = linear_scm_coefficients(4, **kwargs)
    data = random_linear_scm(4, 20000, **kwargs)
    # Least squares of x(t) on x(t-1), x(t-2) recovers A_1, A_2 (unit innovations, long series).
    design = np.hstack([data[1:-1], data[:-2]])
    fitted = np.linalg.lstsq(design, data[2:], rcond=None)[0].T
    np.testing.assert_allclose(fitted[:, :4], coeffs[1], atol=0.03)
    np.testing.assert_allclose(fitted[:, 4:], coeffs[2], atol=0.03)
    assert np.count_nonzero(coeffs[1:]) > 4  # cross links were drawn, not just the autocorrelation


def test_contemporaneous_links_point_from_lower_to_higher_index():
    coeffs = linear_scm_coefficients(6, max_lag=1, density=0.8, seed=3)
    assert np.count_nonzero(coeffs[0]) > 0 and not np.triu(coeffs[0]).any()
