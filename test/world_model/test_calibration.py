"""Self-calibration of forecasts (HorizonDamping) from realized paths, alone and inside the node's stream."""
import numpy as np
import pytest
from repo_paths import DEFAULT_MODEL

from causal_nodes.world_model.calibration import HorizonDamping, damping_gains

DT, H = 0.4, 12


def _slowing_people(rng: np.random.Generator, n: int, decay: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origins (n, 2), constant-velocity forecasts (n, H, 2) and true paths of people whose speed decays per step."""
    origin = rng.uniform(-5, 5, (n, 2))
    step = rng.normal(0, 0.5, (n, 2))
    k = np.arange(1, H + 1)[None, :, None]
    cv = origin[:, None] + step[:, None] * k
    truth = origin[:, None] + step[:, None] * np.cumsum(decay ** np.arange(H))[None, :, None]
    return origin, cv, truth


def test_gains_turn_constant_velocity_into_a_damped_velocity():
    g = damping_gains(0.9, 3)
    np.testing.assert_allclose(g * np.arange(1, 4), [1.0, 1.9, 1.9 + 0.81])
    np.testing.assert_array_equal(damping_gains(1.0, 5), np.ones(5))


def test_people_who_slow_down_teach_the_damping_and_people_who_do_not_leave_it_at_one():
    rng = np.random.default_rng(0)
    slowing, steady = HorizonDamping(H, DT), HorizonDamping(H, DT)
    for _ in range(20):
        slowing.add_outcome(*_slowing_people(rng, 10, 0.96))
        steady.add_outcome(*_slowing_people(rng, 10, 1.0))
    assert slowing.damping == 0.96 and steady.damping == 1.0
    origin, cv, truth = _slowing_people(rng, 50, 0.96)
    err = lambda p: np.linalg.norm(p - truth, axis=-1).mean()  # noqa: E731
    assert err(slowing.apply(origin, cv)) < 0.05 * err(cv)
    np.testing.assert_array_equal(steady.apply(origin, cv), cv)


def test_with_a_half_life_the_calibration_follows_a_new_place_and_without_it_keeps_the_old():
    rng = np.random.default_rng(7)
    forgetting, lasting = HorizonDamping(H, DT, half_life_points=2000), HorizonDamping(H, DT)
    for _ in range(100):  # a place where people slow down: 12 000 scored steps
        for cal in (forgetting, lasting):
            cal.add_outcome(*_slowing_people(np.random.default_rng(rng.integers(1 << 30)), 10, 0.93))
    assert forgetting.damping == lasting.damping == 0.93
    for _ in range(30):  # then one where they keep their pace: 3600 steps
        for cal in (forgetting, lasting):
            cal.add_outcome(*_slowing_people(np.random.default_rng(rng.integers(1 << 30)), 10, 1.0))
    assert forgetting.damping == 1.0 and lasting.damping < 1.0
    with pytest.raises(ValueError, match="half_life_points"):
        HorizonDamping(H, DT, half_life_points=-1)


def test_nothing_changes_before_enough_outcomes():
    rng = np.random.default_rng(1)
    cal = HorizonDamping(H, DT, min_points=1000)
    cal.add_outcome(*_slowing_people(rng, 80, 0.9))  # 960 scored steps
    assert cal.points == 960 and cal.damping == 1.0
    cal.add_outcome(*_slowing_people(rng, 4, 0.9))
    assert cal.damping == 0.9


def test_streamed_observations_score_exactly_as_whole_outcomes():
    rng = np.random.default_rng(2)
    origin, cv, truth = _slowing_people(rng, 3, 0.95)
    whole, streamed = HorizonDamping(H, DT, min_points=1), HorizonDamping(H, DT, min_points=1)
    whole.add_outcome(origin, cv, truth)
    for i in range(3):
        streamed.record(i, 10.0, origin[i], cv[i])
    for k in range(1, H + 1):
        for i in range(3):
            streamed.observe(i, 10.0 + k * DT + 0.01, truth[i, k - 1])  # a little late: within tolerance
    assert streamed.points == whole.points == 36
    np.testing.assert_allclose(streamed._error, whole._error)
    assert not any(streamed._pending.values()), "finished forecasts are dropped"


def test_pending_forecasts_stay_bounded():
    cal = HorizonDamping(H, DT)
    for t in range(500):
        cal.record("a", t * DT, np.zeros(2), np.zeros((H, 2)))
        cal.record(f"gone{t}", t * DT, np.zeros(2), np.zeros((H, 2)))
        cal.forget_except({"a"})
    assert len(cal._pending) == 1 and len(cal._pending["a"]) == H


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        HorizonDamping(0, DT)


def test_the_stream_damps_its_paths_once_people_keep_stopping_short():
    if not DEFAULT_MODEL.is_file():
        pytest.skip(f"trained model not found at {DEFAULT_MODEL}")
    from causal_nodes.world_model.runtime import WorldModel
    from causal_nodes.world_model.stream import WorldModelStream

    calibrated = WorldModelStream(WorldModel(DEFAULT_MODEL, backend="cpu"), H, calibrate=True)
    plain = WorldModelStream(WorldModel(DEFAULT_MODEL, backend="cpu"), H)
    robot = (0.0, -20.0, 0.0)
    # 10 people at a time start at 1.2 m/s in +x and slow by a fifth per step (stopping within ~3 s); each lives
    # 20 steps, then a new person takes the row: every forecast overshoots
    for t in range(200):
        ids, points = [], []
        for i in range(10):
            age = (t + 3 * i) % 20
            ids.append(f"{i}-{(t + 3 * i) // 20}")
            points.append((-8 + 1.2 * DT * (1 - 0.8**age) / 0.2, 2.0 * i - 9))
        damped = calibrated.update(t * DT, ids, np.array(points), robot, (0.0, 0.0))
        undamped = plain.update(t * DT, ids, np.array(points), robot, (0.0, 0.0))
    assert calibrated.calibration.points >= 1000 and calibrated.calibration.damping < 1.0
    assert plain.calibration.points == 0, "off unless asked for"
    reach = {name: np.mean([np.linalg.norm(path[-1] - path[0]) for path in pred.paths_world.values()])
             for name, pred in (("damped", damped), ("undamped", undamped))}
    assert reach["damped"] < 0.9 * reach["undamped"], reach


def test_a_forecast_that_is_not_finite_is_skipped_instead_of_poisoning_the_choice_for_good():
    cal = HorizonDamping(H, DT, min_points=10)
    bad = np.full((1, H, 2), np.nan)
    cal.add_outcome(np.zeros((1, 2)), bad, np.zeros((1, H, 2)))
    cal.record("a", 0.0, np.zeros(2), bad[0])
    cal.observe("a", DT, np.zeros(2))
    assert cal.points == 0 and np.isfinite(cal._error).all()
    # then people who slow down still teach a damping below 1
    k = np.arange(1, H + 1)
    straight = np.stack([k * 1.0, 0 * k], -1)[None].repeat(5, 0)
    slowing = np.stack([np.cumsum(0.9**k), 0 * k], -1)[None].repeat(5, 0)
    cal.add_outcome(np.zeros((5, 2)), straight, slowing)
    assert cal.points == 5 * H and cal.damping < 1.0


def test_a_frame_of_people_scores_in_one_batch_exactly_as_one_by_one():
    rng = np.random.default_rng(3)
    batch, single = HorizonDamping(H, DT), HorizonDamping(H, DT)
    for t in range(3 * H):
        seen = rng.normal(0, 3, (6, 2))
        batch.observe_many(list(range(6)), t * DT, seen)
        for i in range(6):
            single.observe(i, t * DT, seen[i])
        forecasts = seen[:, None] + rng.normal(0, 1, (6, H, 2)).cumsum(axis=1)
        for cal in (batch, single):
            for i in range(6):
                cal.record(i, t * DT, seen[i], forecasts[i])
    assert batch.points == single.points > 0
    np.testing.assert_allclose(batch._error, single._error)
