"""Public API of the fast PCMCI engine: hand-over reasons, input validation, result format."""
from __future__ import annotations

import numpy as np
import pytest

from causal_nodes.discovery.fast.link_assumptions import normalize_link_assumptions, reverse_link
from causal_nodes.discovery.fast.pcmci import run_fast, unsupported_reason
from causal_nodes.sim.scm import random_linear_scm


def test_supported_configurations_have_no_reason():
    assert unsupported_reason(method="pcmci", test="parcorr") is None
    assert unsupported_reason(method="PCMCI", test="robust_parcorr", tau_max=3, pc_alpha=None,
                              fdr_method="fdr_bh", significance="analytic",
                              link_assumptions=None, max_conds_px=2) is None
    assert unsupported_reason(method="pcmciplus", test="parcorr", tau_max=2, pc_alpha=[0.01, 0.05],
                              contemp_collider_rule="conservative", conflict_resolution=False,
                              reset_lagged_links=True, max_conds_px_lagged=1) is None


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(method="pcmciplus", test="parcorr", alpha_level=0.05), "alpha_level"),
    (dict(method="pcmci", test="parcorr", contemp_collider_rule="majority"), "contemp_collider_rule"),
    (dict(method="lpcmci", test="parcorr"), "lpcmci"),
    (dict(method="pcmci", test="cmiknn"), "cmiknn"),
    (dict(method="pcmci", test="gpdc"), "gpdc"),
    (dict(method="pcmci", test="parcorr", significance="shuffle_test"), "shuffle_test"),
    (dict(method="pcmci", test="parcorr", fdr_method="bonferroni"), "bonferroni"),
    (dict(method="pcmci", test="parcorr", mask=np.zeros((3, 3))), "mask"),
    (dict(method="pcmci", test="parcorr", cut_off="max_lag"), "cut_off"),
])
def test_unsupported_configurations_explain_why(kwargs, fragment):
    reason = unsupported_reason(**kwargs)
    assert isinstance(reason, str) and fragment in reason


def test_run_fast_rejects_what_it_cannot_do_exactly():
    data = random_linear_scm(3, 100, seed=0)
    with pytest.raises(ValueError, match="lpcmci"):
        run_fast(data, method="lpcmci")
    with pytest.raises(ValueError, match="alpha_level"):
        run_fast(data, method="pcmciplus", alpha_level=0.05)
    with pytest.raises(ValueError, match="contemp_collider_rule"):
        run_fast(data, method="pcmciplus", contemp_collider_rule="vote")
    with pytest.raises(ValueError, match="cmiknn"):
        run_fast(data, test="cmiknn")


@pytest.mark.parametrize("bad,fragment", [
    (np.zeros(10), "2-D"),
    (np.full((50, 2), np.nan), "NaN"),
    (np.array([[1.0, np.inf]] * 50), "NaN or inf"),
    (np.zeros((4, 2)), "2\\*tau_max"),
    (np.array([["a", "b"]] * 20), "numeric"),
])
def test_bad_data_raises_value_error(bad, fragment):
    with pytest.raises(ValueError, match=fragment):
        run_fast(bad, tau_max=2)


def test_bad_options_raise_value_error():
    data = random_linear_scm(3, 120, seed=1)
    with pytest.raises(ValueError, match="tau_min"):
        run_fast(data, tau_min=2, tau_max=1)
    with pytest.raises(ValueError, match="pc_alpha"):
        run_fast(data, pc_alpha=1.5)
    with pytest.raises(ValueError, match="max_combinations"):
        run_fast(data, max_combinations=0)
    with pytest.raises(ValueError, match="condition dimension"):
        run_fast(data, max_conds_dim=-1)
    with pytest.raises(ValueError, match="link_assumptions"):
        run_fast(data, link_assumptions={0: {(1, -1): "-?>"}})
    with pytest.raises(ValueError, match="cycle"):
        run_fast(data, link_assumptions={0: {(1, 0): "-->"}, 1: {(2, 0): "-->"},
                                         2: {(0, 0): "-->"}})
    with pytest.raises(ValueError, match="Inconsistent"):
        run_fast(data, link_assumptions={0: {(1, 0): "-->"}, 1: {(0, 0): "-->"}, 2: {}})


def test_result_format_matches_tigramite_conventions():
    data = random_linear_scm(3, 200, seed=2)
    res = run_fast(data, tau_max=2)
    assert set(res) == {"graph", "val_matrix", "p_matrix", "conf_matrix"}
    assert res["graph"].shape == (3, 3, 3) and res["graph"].dtype == np.dtype("<U3")
    assert res["val_matrix"].dtype == np.float64 and res["p_matrix"].shape == (3, 3, 3)
    assert res["conf_matrix"] is None
    assert set(np.unique(res["graph"])) <= {"", "-->", "<--", "o-o"}
    # lag-0 entries are symmetric, diagonal lag-0 untested
    np.testing.assert_array_equal(res["p_matrix"][:, :, 0], res["p_matrix"][:, :, 0].T)
    assert np.all(res["p_matrix"][range(3), range(3), 0] == 1.0)


def test_link_assumption_normalisation():
    assert reverse_link("-?>") == "<?-" and reverse_link("o-o") == "o-o"
    links = normalize_link_assumptions({0: {(1, 0): "-->", (1, -2): "<--"}, 1: {}}, 2, 0, 2)
    assert links[1][(0, 0)] == "<--"          # reverse lag-0 link added
    assert links[0][(1, -2)] == "-->"         # lagged links oriented forward in time
    default = normalize_link_assumptions(None, 2, 1, 2)
    assert list(default[0]) == [(0, -1), (0, -2), (1, -1), (1, -2)]
