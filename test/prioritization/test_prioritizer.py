"""Tests of the ROS-free prioritizer against a seeded linear SCM with a do() implemented here.

The SCM below is independent of the code under test: it is simulated step by step in plain Python, and an
intervention replaces one variable's equation by a constant.  Running it twice from the same seed (with and
without the intervention) gives the true interventional effect, which the prioritizer must predict.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau

from causal_nodes.prioritization import (
    PrioritizerConfig,
    ancestors,
    build_directed_graph,
    prioritize,
)
from causal_nodes.prioritization.bootstrap import block_bootstrap_weights


def linear_config(**options) -> PrioritizerConfig:
    """The global linear SEM these tests check against the SCM (the node's default is the kinematic, local fit)."""
    return PrioritizerConfig(effect_model="linear", local_weighting="none", **options)


NAMES = ["u", "a", "b", "y", "z"]
NOISE = 0.5
# (source, target, lag) -> coefficient; "u" and "a" are actionable, "y" the target, "z" a child of y.
TRUE_LINKS = {
    ("u", "u", 1): 0.5,
    ("a", "a", 1): 0.6,
    ("u", "a", 0): 0.5,
    ("b", "b", 1): 0.4,
    ("a", "b", 1): 0.8,
    ("y", "y", 1): 0.3,
    ("b", "y", 1): 1.0,
    ("a", "y", 0): -0.5,
    ("z", "z", 1): 0.5,
    ("y", "z", 0): 0.7,
}
ORDER = ["u", "a", "b", "y", "z"]  # a causal order of the lag-0 links


def scm_step(prev: np.ndarray, noise: np.ndarray, do: tuple[str, float] | None) -> np.ndarray:
    x = dict.fromkeys(NAMES, 0.0)
    for name in ORDER:
        if do is not None and do[0] == name:
            x[name] = do[1]
            continue
        value = noise[NAMES.index(name)]
        for (s, t, lag), c in TRUE_LINKS.items():
            if t == name:
                value += c * (x[s] if lag == 0 else prev[NAMES.index(s)])
        x[name] = value
    return np.array([x[n] for n in NAMES])


def scm_run(steps: int, seed: int, start: np.ndarray | None = None, do: tuple[str, float] | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    prev = np.zeros(len(NAMES)) if start is None else start
    out = []
    for _ in range(steps):
        prev = scm_step(prev, rng.normal(scale=NOISE, size=len(NAMES)), do)
        out.append(prev)
    return np.array(out)


def true_effect(window: np.ndarray, variable: str, value: float, horizon: int, seeds: int = 200) -> float:
    """Mean change of y at step H under do(variable := value) from the window's last state (common noise)."""
    diffs = [
        scm_run(horizon, 1000 + s, window[-1], (variable, value))[-1, 3] - scm_run(horizon, 1000 + s, window[-1])[-1, 3]
        for s in range(seeds)
    ]
    return float(np.mean(diffs))


@pytest.fixture(scope="module")
def window() -> np.ndarray:
    return scm_run(500, seed=7)


def test_predicted_effects_match_simulated_interventions(window: np.ndarray) -> None:
    cfg = linear_config(horizon=8, bootstrap=50)
    res = prioritize(window, NAMES, list(TRUE_LINKS), "y", ["u", "a"], cfg)
    assert len(res.candidates) == 10
    predicted = [c.predicted_effect for c in res.candidates]
    real = [true_effect(window, c.variable, c.value, 8) for c in res.candidates]
    tau, _ = kendalltau(predicted, real)
    assert tau >= 0.85
    big = [(p, r) for p, r in zip(predicted, real) if abs(r) > 0.2]
    assert big and all(np.sign(p) == np.sign(r) for p, r in big)
    assert np.max(np.abs(np.array(predicted) - np.array(real))) < 0.25
    # Ranks follow the documented lower-confidence-bound objective.
    assert [c.rank for c in res.candidates] == list(range(1, 11))
    scores = [c.predicted_effect - cfg.risk_aversion * c.predicted_effect_std for c in res.candidates]
    assert scores == sorted(scores, reverse=True)


def test_total_effect_is_step_response_through_all_paths(window: np.ndarray) -> None:
    horizon = 6
    res = prioritize(window, NAMES, list(TRUE_LINKS), "y", ["u", "a"], linear_config(horizon=horizon, bootstrap=30))
    by_name = {p.variable: p for p in res.priorities}
    # Truth for a sustained unit shift of a (paths a->y at lag 0, a->b->y at lags >= 2, autolinks).
    db, dy = 0.0, 0.0
    da_prev = 0.0
    for _ in range(horizon):
        db, dy = 0.4 * db + 0.8 * da_prev, 0.3 * dy + 1.0 * db - 0.5 * 1.0
        da_prev = 1.0
    assert by_name["a"].total_effect == pytest.approx(dy, abs=3 * by_name["a"].total_effect_std + 0.05)
    assert by_name["a"].total_effect_std > 0
    # z is a child of y: no causal effect, not an ancestor, zero weight.
    assert by_name["z"].total_effect == 0.0 and not by_name["z"].is_ancestor and by_name["z"].weight == 0.0
    assert all(by_name[n].is_ancestor for n in ("u", "a", "b"))
    assert sum(p.weight for p in res.priorities) == pytest.approx(1.0)
    weights = [p.weight for p in res.priorities]
    assert weights == sorted(weights, reverse=True)
    assert "y" not in by_name


def test_strongest_driver_ranks_first() -> None:
    rng = np.random.default_rng(3)
    t_len = 400
    x = rng.normal(size=(t_len, 4))
    for t in range(1, t_len):
        x[t, 3] += 2.0 * x[t - 1, 0] + 0.3 * x[t - 1, 1] + 0.5 * x[t - 1, 3]
    names = ["strong", "weak", "noise", "target"]
    links = [("strong", "target", 1), ("weak", "target", 1), ("target", "target", 1)]
    res = prioritize(x, names, links, "target", ["strong", "weak"], linear_config(bootstrap=20))
    assert res.priorities[0].variable == "strong"
    assert res.candidates[0].variable == "strong"
    assert res.candidates[0].value > np.median(x[:, 0])  # maximizing: push the positive driver up
    lowest = prioritize(x, names, links, "target", ["strong", "weak"], linear_config(bootstrap=20, goal="minimize"))
    assert lowest.candidates[0].variable == "strong" and lowest.candidates[0].value < np.median(x[:, 0])
    noise = next(p for p in res.priorities if p.variable == "noise")
    assert noise.weight == 0.0 and not noise.is_ancestor


def test_unknown_target_or_actionable_lists_known_variables(window: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"target 'nope'.*known variables.*'u'"):
        prioritize(window, NAMES, list(TRUE_LINKS), "nope", ["a"])
    with pytest.raises(ValueError, match=r"actionable.*'ghost'.*known variables"):
        prioritize(window, NAMES, list(TRUE_LINKS), "y", ["a", "ghost"])
    with pytest.raises(ValueError, match="unknown variable 'q'"):
        prioritize(window, NAMES, [("q", "y", 1)], "y", ["a"])
    with pytest.raises(ValueError, match="columns"):
        prioritize(window[:, :3], NAMES, list(TRUE_LINKS), "y", ["a"])
    with pytest.raises(ValueError, match="goal"):
        PrioritizerConfig(goal="best")


def test_empty_graph_gives_no_interventions_and_a_warning(window: np.ndarray) -> None:
    res = prioritize(window, NAMES, [], "y", ["u", "a"], linear_config())
    assert res.empty_graph and res.candidates == []
    assert any("empty causal graph" in w for w in res.warnings)
    assert sum(p.weight for p in res.priorities) == pytest.approx(1.0)


def test_actionable_without_path_to_target_gets_no_candidates(window: np.ndarray) -> None:
    res = prioritize(window, NAMES, list(TRUE_LINKS), "y", ["z"], linear_config())
    assert res.candidates == []
    assert any("no actionable variable" in w for w in res.warnings)


def test_undirected_links_are_oriented_by_documented_rule_and_recorded() -> None:
    names = ["act", "m", "t", "w"]
    links = [("m", "act", 0, "o-o"), ("m", "t", 0, "o-o"), ("w", "m", 0, "x-x"), ("t", "w", 0, "<->")]
    g = build_directed_graph(links, names, target="t", actionable=["act"])
    edges = {(e.source, e.target) for e in g.edges}
    assert ("act", "m") in edges  # rule 1: actionable is the cause
    assert ("m", "t") in edges  # rule 2: the target is the effect
    assert ("m", "w") in edges  # rule 3: the name listed first is the cause
    assert len(g.oriented) == 3 and g.ignored == [("t", "w", 0, "<->")]
    assert ancestors(g, "t") == {"act", "m"}
    ignored = build_directed_graph(links, names, target="t", actionable=["act"], undirected="ignore")
    assert ignored.edges == [] and len(ignored.ignored) == 4
    # Possible ancestors (recall first) still see through the undirected links.
    assert ancestors(ignored, "t", include_undirected=True) == {"act", "m", "w"}


def test_orientation_never_closes_a_contemporaneous_cycle() -> None:
    names = ["a", "b", "c"]
    links = [("a", "b", 0, "-->"), ("b", "c", 0, "-->"), ("a", "c", 0, "o-o")]
    g = build_directed_graph(links, names, target="a")  # rule 2 would say c -> a, closing a->b->c->a
    edges = {(e.source, e.target) for e in g.edges}
    assert ("a", "c") in edges and ("c", "a") not in edges


def test_bootstrap_is_seeded_and_handles_nan(window: np.ndarray) -> None:
    holey = window.copy()
    holey[::17, 2] = np.nan
    cfg = linear_config(bootstrap=25, seed=5)
    r1 = prioritize(holey, NAMES, list(TRUE_LINKS), "y", ["a"], cfg)
    r2 = prioritize(holey, NAMES, list(TRUE_LINKS), "y", ["a"], cfg)
    assert [c.predicted_effect_std for c in r1.candidates] == [c.predicted_effect_std for c in r2.candidates]
    assert all(np.isfinite(c.predicted_effect) and c.predicted_effect_std > 0 for c in r1.candidates)


def test_block_bootstrap_weights_keep_total_and_blocks() -> None:
    w = block_bootstrap_weights(100, 40, block_length=10, rng=np.random.default_rng(0))
    assert w.shape == (40, 100)
    assert np.all(w.sum(axis=1) == 100)
    assert np.all(w >= 0) and not np.all(w == 1)
    with pytest.raises(ValueError):
        block_bootstrap_weights(0, 3, rng=np.random.default_rng(0))


def test_robust_std_ignores_a_few_explosive_replicas() -> None:
    from causal_nodes.prioritization.prioritizer import robust_std

    rng = np.random.default_rng(1)
    reps = rng.normal(scale=0.5, size=(400, 3))
    assert np.allclose(robust_std(reps), 0.5, atol=0.06)
    reps[:5] = 1e4  # a few diverging refits
    assert np.all(robust_std(reps) < 0.6) and np.all(reps.std(axis=0) > 100)
