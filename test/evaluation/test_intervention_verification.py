"""Predicted intervention effects against the simulator's do() (SCM scenarios), and the CLI around it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

scenario_mod = pytest.importorskip("causal_nodes.sim.scenario")

from causal_nodes.evaluation.interventions import VerificationConfig, verify_scenario  # noqa: E402
from causal_nodes.prioritization.lagged_sem import local_row_weights  # noqa: E402


def test_scm_demo_predictions_rank_and_sign_like_the_simulator() -> None:
    scenario = scenario_mod.load_scenario("scm_demo")
    cfg = VerificationConfig(episodes=2, futures=10, observe_steps=400, bootstrap=30)
    result = verify_scenario(scenario, "collision_risk", ["robot_linear_speed", "robot_angular_speed"], cfg)
    assert result["n"] >= 10
    assert result["kendall_tau"] >= 0.7
    assert result["sign_accuracy"] >= 0.85
    assert set(result["true_ancestors_of_target"]) >= {"robot_linear_speed", "human_robot_distance"}


def test_verification_rejects_unknown_names() -> None:
    scenario = scenario_mod.load_scenario("scm_demo")
    with pytest.raises(ValueError, match="known"):
        verify_scenario(scenario, "comfort", ["robot_linear_speed"], VerificationConfig(episodes=1))
    with pytest.raises(ValueError, match="ghost"):
        verify_scenario(scenario, "collision_risk", ["ghost"], VerificationConfig(episodes=1))


def test_cli_writes_the_metrics_json(tmp_path: Path) -> None:
    from causal_nodes.cli import main

    out = tmp_path / "eval.json"
    code = main([
        "eval-interventions", "--scenario", "scm_random_linear", "--episodes", "1", "--futures", "5",
        "--observe-steps", "300", "--bootstrap", "10", "--true-graph", "--json", str(out),
    ])
    assert code == 0
    data = json.loads(out.read_text())
    assert {"kendall_tau", "sign_accuracy", "n"} <= set(data)
    assert data["graph"] == "true" and data["n"] > 0
    assert data["kendall_tau"] >= 0.7


def test_local_row_weights_focus_on_the_current_state_or_recent_rows() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(201, 2))
    data[-1] = [3.0, 3.0]
    data[50] = [3.0, 3.0]  # row 51's previous state equals the last state
    w = local_row_weights(data, 1, "state", 0.2)
    assert w.shape == (200,)
    assert w[50] == pytest.approx(1.0, abs=1e-6) and np.argmax(w) == 50
    assert np.sum(w > 0) <= 41 and np.sum(w > 0) >= 30
    recent = local_row_weights(data, 1, "recent", 0.1)
    assert recent[-1] > recent[-10] > 0 and np.all(recent[:-21] == 0)
    assert local_row_weights(data, 1, "none", 0.3) is None
    with pytest.raises(ValueError, match="local weighting"):
        local_row_weights(data, 1, "kernel", 0.3)
    with pytest.raises(ValueError, match="span"):
        local_row_weights(data, 1, "state", 0.0)
