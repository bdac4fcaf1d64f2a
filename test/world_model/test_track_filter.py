"""The tracker-noise estimate and the velocity filter behind the world model's input velocities."""
import numpy as np
import pytest

from causal_nodes.world_model.track_filter import TrackNoise, TrackNoiseEstimator, VelocityFilter, filtered_velocities

DT = 0.4


def _walkers(rng: np.random.Generator, n: int, steps: int, accel_sd: float) -> tuple[np.ndarray, np.ndarray]:
    """True positions and velocities (steps, n, 2) of people with white acceleration (velocity first, then position)."""
    vel = np.cumsum(rng.normal(0, accel_sd * DT, (steps, n, 2)), axis=0) + rng.normal(0, 1.0, (1, n, 2))
    return np.cumsum(vel * DT, axis=0), vel


def test_the_estimator_recovers_the_tracker_noise_and_the_acceleration():
    rng = np.random.default_rng(0)
    truth, _ = _walkers(rng, 200, 40, accel_sd=0.5)
    est = TrackNoiseEstimator(DT)
    for i in range(truth.shape[1]):
        est.add_track(truth[:, i] + rng.normal(0, 0.03, (40, 2)))
    noise = est.estimate()
    assert noise.position_sd == pytest.approx(0.03, rel=0.1) and noise.accel_sd == pytest.approx(0.5, rel=0.15)


def test_a_clean_tracker_measures_no_noise_and_keeps_backward_differences_exactly():
    rng = np.random.default_rng(1)
    truth, _ = _walkers(rng, 100, 30, accel_sd=0.5)
    est = TrackNoiseEstimator(DT)
    for i in range(truth.shape[1]):
        est.add_track(truth[:, i])
    assert est.estimate().position_sd < 0.004  # sampling error only
    present = rng.random(truth.shape[:2]) > 0.2  # tracks with gaps
    vel = filtered_velocities(truth, present, DT, TrackNoise())
    both = present[1:] & present[:-1]
    expected = np.zeros_like(truth)
    expected[1:][both] = (truth[1:][both] - truth[:-1][both]) / DT
    np.testing.assert_array_equal(vel, expected)


def test_too_few_samples_mean_no_smoothing():
    est = TrackNoiseEstimator(DT)
    est.add_track(np.random.default_rng(2).normal(0, 0.05, (20, 2)).cumsum(axis=0))
    assert not est.estimate().smooths and est.samples == 36


def test_the_filter_cuts_the_velocity_error_of_a_noisy_tracker_by_at_least_40_percent():
    rng = np.random.default_rng(3)
    truth, true_vel = _walkers(rng, 300, 20, accel_sd=0.3)
    measured = truth + rng.normal(0, 0.05, truth.shape)
    present = np.ones(truth.shape[:2], dtype=bool)
    raw = filtered_velocities(measured, present, DT, TrackNoise())
    smooth = filtered_velocities(measured, present, DT, TrackNoise(0.05, 0.3))
    raw_err = np.abs(raw[-5:] - true_vel[-5:]).mean()
    assert np.abs(smooth[-5:] - true_vel[-5:]).mean() < 0.6 * raw_err


def test_streaming_one_point_at_a_time_equals_the_whole_track():
    rng = np.random.default_rng(4)
    tracks = rng.normal(0, 0.1, (25, 3, 2)).cumsum(axis=0)
    whole, streamed = TrackNoiseEstimator(DT, min_samples=10), TrackNoiseEstimator(DT, min_samples=10)
    for i in range(3):
        whole.add_track(tracks[:, i])
    for t in range(25):
        for i in range(3):
            streamed.add_point(i, tracks[t, i])
    a, b = streamed.estimate(), whole.estimate()
    assert streamed.samples == whole.samples and a.smooths
    assert (a.position_sd, a.accel_sd) == pytest.approx((b.position_sd, b.accel_sd), rel=1e-12)
    # a person who leaves starts a new track when they come back: no second difference across the gap
    streamed.forget_except({0, 1})
    streamed.add_point(2, np.array([100.0, 100.0]))
    assert streamed.samples == whole.samples


def test_a_person_who_comes_back_starts_with_zero_velocity():
    f = VelocityFilter(TrackNoise(0.05, 0.5))
    f.step(["a"], np.array([[0.0, 0.0]]), None)
    assert np.abs(f.step(["a"], np.array([[0.4, 0.0]]), DT)[0, 0] - 1.0) < 0.3
    f.step([], np.zeros((0, 2)), DT)
    np.testing.assert_array_equal(f.step(["a"], np.array([[5.0, 0.0]]), DT), [[0.0, 0.0]])


def test_the_estimator_rejects_a_bad_step():
    with pytest.raises(ValueError, match="dt must be > 0"):
        TrackNoiseEstimator(0.0)


def test_an_id_swap_restarts_the_track_instead_of_inflating_the_noise_estimate():
    rng = np.random.default_rng(5)
    truth, _ = _walkers(rng, 100, 30, accel_sd=0.5)
    clean, swapped = TrackNoiseEstimator(DT), TrackNoiseEstimator(DT)
    for t in range(30):
        for i in range(100):
            clean.add_point(i, truth[t, i])
            j = (i + 50) % 100 if t == 15 else i  # at step 15 every id shows another person, once
            swapped.add_point(i, truth[t, j])
    assert swapped.estimate().position_sd < 0.01 and clean.estimate().position_sd < 0.01
    f = VelocityFilter(TrackNoise(0.05, 0.5))
    for t in range(10):
        f.step(["a"], np.array([[0.4 * t, 0.0]]), DT if t else None)
    np.testing.assert_array_equal(f.step(["a"], np.array([[20.0, 5.0]]), DT), [[0.0, 0.0]])
