"""OnlinePrioritizer without ROS: the graph's own window, when a run is due, the frames' subject, a swapped model."""
from __future__ import annotations

import math

import numpy as np
import pytest

from causal_nodes.prioritization import PrioritizerConfig, prioritize
from causal_nodes.prioritization.online import GraphWindow, OnlinePrioritizer, OnlinePrioritizerConfig

NAMES = ["robot_linear_speed", "robot_angular_speed", "human_speed", "human_robot_distance"]
TARGET = "human_robot_distance"
LINKS = [("robot_linear_speed", "robot_linear_speed", 1, "-->"), ("robot_linear_speed", TARGET, 1, "-->"),
         ("robot_angular_speed", TARGET, 1, "-->"), (TARGET, TARGET, 1, "-->")]
LINEAR = PrioritizerConfig(bootstrap=20, horizon=5, effect_model="linear", local_weighting="none")


def make_data(steps: int, seed: int = 1, gain_change_at: int | None = None) -> np.ndarray:
    """Distance driven by linear speed; from ``gain_change_at`` on the gain flips (a window that must not leak)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=0.3, size=(steps, 4))
    for t in range(1, steps):
        gain = -1.5 if gain_change_at is not None and t >= gain_change_at else 1.5
        x[t, 0] += 0.5 * x[t - 1, 0]
        x[t, 3] += 0.6 * x[t - 1, 3] + gain * x[t - 1, 0] - 0.2 * x[t - 1, 1]
    return x


def feed(online: OnlinePrioritizer, data: np.ndarray, start: float = 0.0, subject: str = "") -> None:
    for k, row in enumerate(data):
        online.add_frame(start + 0.1 * k, NAMES, row, subject, (3.0, 0.0) if subject else None)


def graph(start: float, end: float, samples: int, links=LINKS) -> GraphWindow:
    return GraphWindow(NAMES, list(links), tau_max=1, window_start=start, window_end=end, sample_count=samples)


def test_the_sem_is_fitted_on_the_graphs_window_not_on_newer_frames() -> None:
    online = OnlinePrioritizer(OnlinePrioritizerConfig(target=TARGET, window_size=500, prioritizer=LINEAR))
    data = make_data(400, gain_change_at=250)
    feed(online, data)
    online.set_graph(graph(5.0, 24.9, 200))  # frames 50..249: before the gain flips
    assert online.ready()
    outcome = online.run()
    assert outcome.error is None and outcome.samples == 200 and outcome.span == pytest.approx((5.0, 24.9))
    expected = prioritize(data[50:250], NAMES, LINKS, TARGET, ["robot_linear_speed", "robot_angular_speed"], LINEAR)
    assert [(c.variable, c.value, c.predicted_effect) for c in outcome.result.candidates] == [
        (c.variable, c.value, c.predicted_effect) for c in expected.candidates]
    newest = prioritize(data[200:], NAMES, LINKS, TARGET, ["robot_linear_speed"], LINEAR)  # the newest frames
    speed = next(p for p in outcome.result.priorities if p.variable == "robot_linear_speed")
    assert speed.total_effect > 0 > next(p.total_effect for p in newest.priorities if p.variable == speed.variable)
    assert not online.ready()  # one run per graph


def test_a_graph_waits_for_the_frames_up_to_its_window_end() -> None:
    online = OnlinePrioritizer(OnlinePrioritizerConfig(target=TARGET, prioritizer=LINEAR))
    assert not online.ready() and "waiting for a causal graph" in online.waiting_reason()
    data = make_data(120)
    feed(online, data[:100])
    online.set_graph(graph(0.0, 11.9, 120))
    assert not online.ready() and "window end 11.900" in online.waiting_reason()
    feed(online, data[100:], start=10.0)
    assert online.ready() and online.run().samples == 120


def test_a_span_too_short_for_the_graphs_lags_is_a_warning_not_a_run() -> None:
    online = OnlinePrioritizer(OnlinePrioritizerConfig(target=TARGET, prioritizer=LINEAR))
    feed(online, make_data(100))
    long_lag = [*LINKS, ("human_speed", TARGET, 8, "-->")]  # min samples 2 * 8 + 10 = 26
    online.set_graph(graph(7.6, 9.9, 24, long_lag))
    outcome = online.run()
    assert outcome.result is None and "fewer than the 26" in outcome.error
    level, message, values = outcome.status()
    assert level == 1 and values["window_samples"] == 24


def test_a_graph_without_a_span_uses_the_newest_frames_after_min_samples() -> None:
    online = OnlinePrioritizer(OnlinePrioritizerConfig(target=TARGET, window_size=50, prioritizer=LINEAR))
    feed(online, make_data(11))
    online.set_graph(graph(0.0, 0.0, 0))  # e.g. the simulator's ground truth: no window
    assert not online.ready() and "waiting for 12 variable frames" in online.waiting_reason()
    feed(online, make_data(80), start=2.0)
    assert online.ready() and online.run().samples == 50


def test_unknown_target_is_an_error_status_naming_the_known_variables() -> None:
    online = OnlinePrioritizer(OnlinePrioritizerConfig(target="comfort", prioritizer=LINEAR))
    feed(online, make_data(60))
    online.set_graph(graph(0.0, 5.9, 60))
    level, message, _ = online.run().status()
    assert level == 2 and "comfort" in message and "robot_linear_speed" in message


def test_frames_keep_missing_values_but_reject_inf_and_count_it() -> None:
    online = OnlinePrioritizer(OnlinePrioritizerConfig(target=TARGET, prioritizer=LINEAR))
    assert online.add_frame(0.0, NAMES, [0.1, math.nan, 0.2, 1.0]) is None
    assert online.add_frame(0.1, NAMES, [0.1, math.inf, 0.2, 1.0]) == "non_finite_value"
    assert online.add_frame(0.1, NAMES, [0.1, 0.0, 0.2, 1.0]) is None
    assert online.add_frame(0.1, NAMES, [0.1, 0.0, 0.2, 1.0]) == "duplicate_stamp"
    counters = online.counters()
    assert counters["window_frames"] == 2 and counters["window_rejected_non_finite_value"] == 1


def test_the_kinematic_model_starts_from_odometry_and_the_frames_subject() -> None:
    kinematic = PrioritizerConfig(bootstrap=10, horizon=10, local_weighting="none")
    assert kinematic.effect_model == "kinematic"  # the default, as in the node
    online = OnlinePrioritizer(OnlinePrioritizerConfig(target=TARGET, prioritizer=kinematic))
    online.add_odometry(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    feed(online, make_data(200), subject="4")  # the subject stands 3 m ahead of the robot
    online.set_graph(graph(0.0, 19.9, 200))
    outcome = online.run()
    assert outcome.scene is not None and outcome.scene.person_xy == (3.0, 0.0)
    assert not outcome.result.warnings
    speed = sorted((c for c in outcome.result.candidates if c.variable == "robot_linear_speed"), key=lambda c: c.value)
    effects = [c.predicted_effect for c in speed]
    assert len(effects) >= 3 and effects == sorted(effects, reverse=True)  # driving faster = closer

    no_subject = OnlinePrioritizer(OnlinePrioritizerConfig(target=TARGET, prioritizer=kinematic))
    no_subject.add_odometry(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    feed(no_subject, make_data(200))
    no_subject.set_graph(graph(0.0, 19.9, 200))
    fallback = no_subject.run()
    assert fallback.scene is None and any("linear SEM used" in w for w in fallback.result.warnings)
    with pytest.raises(ValueError):
        online.add_odometry(1.0, 0.0, 0.0, 0.0, math.nan, 0.0)


def test_the_effect_model_can_be_swapped() -> None:
    seen = {}

    def run(data, names, links, target, actionable, config, scene=None):
        seen.update(rows=data.shape[0], links=links, config=config)
        return prioritize(data, names, links, target, actionable, config, scene=scene)

    online = OnlinePrioritizer(OnlinePrioritizerConfig(target=TARGET, prioritizer=LINEAR), run=run)
    feed(online, make_data(80))
    online.set_graph(graph(2.0, 7.9, 60))
    assert online.run().result is not None
    assert seen == {"rows": 60, "links": LINKS, "config": LINEAR}


def test_reconfigure_keeps_the_window_unless_its_length_changes() -> None:
    online = OnlinePrioritizer(OnlinePrioritizerConfig(target=TARGET, prioritizer=LINEAR))
    feed(online, make_data(30))
    online.reconfigure(OnlinePrioritizerConfig(target="human_speed", prioritizer=LINEAR))
    assert online.window.fill == 30 and online.config.target == "human_speed"
    online.reconfigure(OnlinePrioritizerConfig(target="human_speed", window_size=100, prioritizer=LINEAR))
    assert online.window.fill == 0 and online.window.config.length == 100
