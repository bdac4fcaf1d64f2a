"""PCMCI+ on the fast engine against tigramite's ``run_pcmciplus`` (the oracle): graphs mark for mark (``-->``,
``o-o``, ``x-x``), values, p-values, separating sets and ambiguous triples, over random contemporaneous SCMs,
every option and the exactness edge cases."""
from __future__ import annotations

import numpy as np
import pytest

tigramite = pytest.importorskip("tigramite")
from tigramite_oracle import assert_same, tigramite_results  # noqa: E402

from causal_nodes.discovery.fast import kernels  # noqa: E402
from causal_nodes.discovery.fast.pcmci import StreamingPCMCI, run_fast, run_fast_with_diagnostics  # noqa: E402
from causal_nodes.sim.scm import random_linear_scm  # noqa: E402


def _plain(sepsets: dict) -> dict:
    return {((int(i), int(lag)), int(j)): sorted((int(k), int(t)) for k, t in nodes)
            for ((i, lag), j), nodes in sepsets.items()}


def check(data: np.ndarray, test: str = "parcorr", **options) -> dict:
    expected = tigramite_results(data, method="pcmciplus", test=test, **options)
    got = run_fast(data, method="pcmciplus", test=test, **options)
    assert_same(expected, got)
    assert _plain(got["sepsets"]) == _plain(expected["sepsets"])
    assert [((int(i), int(t)), int(k), int(j)) for (i, t), k, j in expected["ambiguous_triples"]] == \
        got["ambiguous_triples"]
    assert got.get("optimal_alpha") == expected.get("optimal_alpha")
    assert got["conf_matrix"] is None
    return got


def _random_cases(n_cases: int):
    """Deterministic spread over N, tau_max, densities and every run_pcmciplus option."""
    rng = np.random.default_rng(77)
    cases = []
    for k in range(n_cases):
        n_vars = 3 + k % 5
        tau_max = k % 4
        options = dict(
            tau_max=tau_max,
            pc_alpha=[0.01, 0.05, 0.2, 0.4][k % 4],
            contemp_collider_rule=["majority", "conservative", "none"][k % 3],
            conflict_resolution=bool(k % 5),
            reset_lagged_links=k % 4 == 3,
            fdr_method=["none", "fdr_bh"][k % 2],
        )
        if k % 6 == 5:
            options.update(max_conds_dim=int(rng.integers(0, 3)), max_combinations=int(rng.integers(1, 4)))
        if k % 7 == 6:
            options.update(max_conds_py=int(rng.integers(0, 3)), max_conds_px=int(rng.integers(0, 3)),
                           max_conds_px_lagged=int(rng.integers(0, 2)))
        test = "robust_parcorr" if k % 4 == 1 else "parcorr"
        density = [0.3, 0.5, 0.8][k % 3]
        cases.append(pytest.param(n_vars, int(rng.integers(120, 300)), 500 + k, density, test, options,
                                  id=f"case{k}-N{n_vars}-tau{tau_max}-{test}"))
    return cases


@pytest.mark.parametrize("n_vars,n_time,seed,density,test,options", _random_cases(24))
def test_random_contemporaneous_scm_parity(n_vars, n_time, seed, density, test, options):
    data = random_linear_scm(n_vars, n_time, max_lag=max(1, options["tau_max"]), density=density, seed=seed)
    check(data, test=test, **options)


def test_conflicts_circles_and_ambiguous_triples_match():
    """Dense contemporaneous structure at a loose pc_alpha: tigramite marks conflicts (x-x), leaves circles
    (o-o) and finds ambiguous triples -- all reproduced."""
    marks: set[str] = set()
    ambiguous = 0
    for seed in range(1000, 1012):
        data = random_linear_scm(4 + seed % 3, 150, max_lag=1, density=0.7, seed=seed)
        got = check(data, tau_max=1, pc_alpha=0.1)
        marks |= set(np.unique(got["graph"]).tolist())
        ambiguous += len(got["ambiguous_triples"])
    assert {"x-x", "o-o", "-->", "<--"} <= marks and ambiguous > 0


def test_defaults_are_tigramites():
    """No pc_alpha given: both use run_pcmciplus' 0.01 (and majority rule, conflict resolution)."""
    data = random_linear_scm(5, 300, max_lag=2, density=0.4, seed=4)
    check(data, tau_max=2)
    loose = run_fast(data, method="pcmciplus", tau_max=2, pc_alpha=0.2)
    default = run_fast(data, method="pcmciplus", tau_max=2)
    assert (default["graph"] != "").sum() <= (loose["graph"] != "").sum()


@pytest.mark.parametrize("pc_alpha", [None, [0.05, 0.2, 0.01]])
def test_pc_alpha_selection(pc_alpha):
    data = random_linear_scm(4, 220, max_lag=2, density=0.5, seed=12)
    got = check(data, tau_max=2, pc_alpha=pc_alpha)
    assert got["optimal_alpha"] in (pc_alpha or [0.001, 0.005, 0.01, 0.025, 0.05])


@pytest.mark.parametrize("test", ["parcorr", "robust_parcorr"])
def test_link_assumptions(test):
    data = random_linear_scm(4, 260, max_lag=2, density=0.5, seed=21)
    links = {
        0: {(0, -1): "-?>", (1, -1): "-->", (2, -2): "-?>", (1, 0): "o?o", (3, 0): "o?o"},
        1: {(1, -1): "-?>", (0, -2): "-?>", (3, -1): "-?>", (2, 0): "-?>"},
        2: {(2, -1): "-?>", (0, -1): "-?>", (3, 0): "o-o"},
        3: {(3, -2): "-?>", (1, -1): "-->"},
    }
    check(data, test=test, tau_max=2, pc_alpha=0.2, link_assumptions=links)
    check(data, test=test, tau_max=2, pc_alpha=0.05, link_assumptions=links, fdr_method="fdr_bh")


def test_near_collinear_and_duplicated_variables_replay_exactly():
    rng = np.random.default_rng(5)
    data = random_linear_scm(4, 300, max_lag=2, density=0.4, seed=5)
    data[:, 1] = data[:, 0] + 1e-5 * rng.normal(size=300)
    data[:, 3] = data[:, 2]
    check(data, tau_max=2, pc_alpha=0.2)
    _, info = run_fast_with_diagnostics(data, method="pcmciplus", tau_max=2, pc_alpha=0.2)
    assert info["n_rowwise"] > 0


def test_constant_and_degenerate_columns():
    data = random_linear_scm(4, 250, max_lag=2, density=0.5, seed=3)
    data[:, 1] = 0.0
    data[:, 2] = 1.7        # all equal, numpy's std is a rounding residue: replayed in tigramite's order
    data[:120, 3] = 2.0
    check(data, tau_max=2, pc_alpha=0.2)
    check(data, tau_max=1, pc_alpha=0.5, contemp_collider_rule="conservative")


@pytest.mark.parametrize("seed", [3, 4])
def test_tigramite_toy_model(seed):
    from tigramite.toymodels import structural_causal_processes as toys

    links, noises = toys.generate_structural_causal_process(
        N=5, L=7, max_lag=2, contemp_fraction=0.5, seed=seed, noise_seed=seed)
    data, nonstationary = toys.structural_causal_process(links, T=300, noises=noises, seed=seed)
    assert not nonstationary
    check(data.astype(np.float64), tau_max=2, pc_alpha=0.05)


def test_contemporaneous_only_and_single_variable():
    data = random_linear_scm(5, 200, max_lag=1, density=0.6, seed=8)
    check(data, tau_max=0, pc_alpha=0.1)
    check(random_linear_scm(1, 150, seed=1), tau_max=2, pc_alpha=0.1)


def test_compiled_and_numpy_paths_agree(monkeypatch):
    """The numba kernels and the numpy fallback give the same PCMCI and PCMCI+ results."""
    if not kernels.AVAILABLE:
        pytest.skip(kernels.unavailable_reason())
    data = random_linear_scm(8, 400, max_lag=3, density=0.4, seed=42)
    compiled = [run_fast(data, tau_max=3), run_fast(data, method="pcmciplus", tau_max=3, pc_alpha=0.05)]
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    plain = [run_fast(data, tau_max=3), run_fast(data, method="pcmciplus", tau_max=3, pc_alpha=0.05)]
    for a, b in zip(compiled, plain):
        np.testing.assert_array_equal(a["graph"], b["graph"])
        np.testing.assert_allclose(a["val_matrix"], b["val_matrix"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(a["p_matrix"], b["p_matrix"], rtol=0, atol=1e-12)


def test_streaming_pcmciplus_equals_batch():
    data = random_linear_scm(5, 400, max_lag=2, density=0.5, seed=6)
    stream = StreamingPCMCI(5, window=200, tau_max=2)
    for t, row in enumerate(data):
        stream.push(row)
        if t in (199, 260, 399):
            got = stream.run(method="pcmciplus", pc_alpha=0.05)
            expected = run_fast(stream.window_data(), method="pcmciplus", tau_max=2, pc_alpha=0.05)
            np.testing.assert_array_equal(got["graph"], expected["graph"])
            np.testing.assert_allclose(got["p_matrix"], expected["p_matrix"], rtol=0, atol=1e-10)
