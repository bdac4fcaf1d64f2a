"""Synthetic SCM scenarios: valid, stable, seeded -- and PCMCI (ParCorr) recovers their ground truth."""
from __future__ import annotations

import numpy as np
import pytest

from causal_nodes.discovery.discover import DiscoveryConfig, discover
from causal_nodes.evaluation.graph_metrics import score_links
from causal_nodes.sim import (
    SCMLink,
    SCMSimulator,
    SCMSpec,
    default_demo_scenario,
    make_scm_scenario,
    random_scm,
    run_scenario,
)

DEMO_CONFIG = DiscoveryConfig(method="pcmci", test="parcorr", tau_max=3, pc_alpha=0.2, alpha_level=0.01)


def _f1(scenario, seed: int, config: DiscoveryConfig = DEMO_CONFIG) -> float:
    series = run_scenario(scenario, seed=seed)
    result = discover(series.values, series.names, config)
    return score_links(result.links(), scenario.ground_truth())["f1"]


@pytest.mark.parametrize("seed", range(5))
def test_pcmci_recovers_the_demo_graph(seed: int) -> None:
    demo = default_demo_scenario()
    assert demo.steps == 600
    assert _f1(demo, seed) >= 0.9


def test_pcmci_recovers_random_linear_scms_on_average() -> None:
    scores = [_f1(make_scm_scenario(5, 3, 5, structure_seed=s, seed=s, samples=800), s) for s in range(6)]
    assert np.mean(scores) >= 0.9, scores


def test_random_scm_is_stable_seeded_and_acyclic_at_lag_zero() -> None:
    spec = random_scm(6, 2, 8, contemporaneous_fraction=0.5, seed=3)
    assert spec.is_stable()
    assert spec == random_scm(6, 2, 8, contemporaneous_fraction=0.5, seed=3)
    order = spec.contemporaneous_order()
    position = {spec.variables[i]: n for n, i in enumerate(order)}
    for link in spec.links:
        if link.lag == 0:
            assert position[link.source] < position[link.target]
    values = run_scenario(make_scm_scenario(6, 2, 8, contemporaneous_fraction=0.5, structure_seed=3), steps=2000).values
    assert np.all(np.isfinite(values)) and np.max(np.abs(values)) < 50


def test_linear_scm_follows_its_equation() -> None:
    spec = SCMSpec(("a", "b"), (SCMLink("a", "b", 2, 0.5), SCMLink("a", "a", 1, 0.3)), (1.0, 1.0),
                   offsets=(1.0, 0.0), scales=(2.0, 1.0), warmup_steps=0)
    sim = SCMSimulator(spec, seed=1)
    a_values, b_values = [], []
    for _ in range(50):
        sim.step()
        a, b = sim.values()
        a_values.append((a - 1.0) / 2.0)
        b_values.append(b)
    a_values, b_values = np.array(a_values), np.array(b_values)
    residual_b = b_values[2:] - 0.5 * a_values[:-2]
    residual_a = a_values[1:] - 0.3 * a_values[:-1]
    noise = np.random.default_rng(np.random.SeedSequence(1)).standard_normal((50, 2))
    np.testing.assert_allclose(residual_a, noise[1:, 0])
    np.testing.assert_allclose(residual_b, noise[2:, 1])
    names, values = sim.frame()
    assert names == ["a", "b"] and values == [float(v) for v in sim.values()]


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_variables=1), "n_variables"),
    (dict(max_lag=0), "max_lag"),
    (dict(function="sigmoid"), "function"),
    (dict(n_links=1000), "n_links"),
    (dict(contemporaneous_fraction=1.5), "contemporaneous_fraction"),
])
def test_random_scm_rejects_bad_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        random_scm(**kwargs)


def test_expected_do_effect_matches_the_average_simulated_effect() -> None:
    from causal_nodes.sim import Intervention, compare_intervention, expected_do_effect

    demo = default_demo_scenario()
    expected = expected_do_effect(demo.scm, "robot_linear_speed", 0.9, 8)
    assert expected["robot_linear_speed"] == pytest.approx([0.3] * 8)  # value - offset (the stationary mean)
    assert np.all(expected["robot_angular_speed"] == 0.0), "not a descendant"
    assert expected["human_robot_distance"][1] == pytest.approx(0.3 / 0.15 * -0.6 * 0.5)  # one lag, scales applied
    diffs = np.array([compare_intervention(demo, Intervention("robot_linear_speed", 0.9, 0.1, 0.9), seed=seed,
                                           steps=8).effect_matrix()[1:] for seed in range(200)])
    mean, se = diffs.mean(axis=0), diffs.std(axis=0) / np.sqrt(len(diffs))
    table = np.stack([expected[name] for name in demo.variables], axis=1)
    assert np.all(np.abs(mean - table) <= 5 * se + 1e-9)


def test_expected_do_effect_rejects_what_it_cannot_compute() -> None:
    from causal_nodes.sim import expected_do_effect, load_scenario

    with pytest.raises(ValueError, match="linear"):
        expected_do_effect(load_scenario("scm_random_nonlinear").scm, "x0", 1.0, 5)
    with pytest.raises(ValueError, match="unknown variable"):
        expected_do_effect(default_demo_scenario().scm, "mood", 1.0, 5)
