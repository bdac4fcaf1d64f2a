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


def test_uneven_steps_neither_invent_noise_nor_hide_it():
    """A stream's steps wander (a detector's varying rate, stamp jitter): a plain second difference of a clean track
    at 0.4 / 0.5 s steps saw the velocity and measured ~5 cm of noise, and a gap must not count at all."""
    rng = np.random.default_rng(4)
    n, steps = 100, 40
    for noise_sd in (0.0, 0.03):
        est = TrackNoiseEstimator(DT)
        spacing = rng.uniform(0.3, 0.55, steps)
        spacing[steps // 2] = 30.0  # the stream paused: no second difference across it
        pos, vel = np.zeros((n, 2)), rng.normal(0, 1.0, (n, 2))
        for t in range(steps):
            vel = vel + rng.normal(0, 0.5 * spacing[t], (n, 2))
            pos = pos + vel * spacing[t]
            seen = pos + rng.normal(0, noise_sd, (n, 2)) if noise_sd else pos
            for i in range(n):
                est.add_point(i, seen[i], spacing[t] if t else None)
        got = est.estimate()
        assert est.samples == n * 2 * (steps - 2 - 2), "two second differences per track are lost to the gap"
        if noise_sd:
            assert got.position_sd == pytest.approx(noise_sd, rel=0.15) and got.accel_sd == pytest.approx(0.5, rel=0.2)
        else:
            assert got.position_sd < 1e-6 and got.accel_sd == pytest.approx(0.5, rel=0.1)
    with pytest.raises(ValueError, match="dt must be > 0"):
        est.add_point(0, np.zeros(2), 0.0)


def test_the_whole_array_path_equals_the_streamed_filter_with_gaps_and_id_swaps():
    """Training and evaluation take velocities for whole arrays (``filtered_velocities``), the node one step at a
    time (``VelocityFilter``): they must be the same numbers, including where a track jumps to another person --
    the array path had no jump gate, so a clean tracker's id swap trained and scored a 10 m/s step."""
    rng = np.random.default_rng(6)
    truth, _ = _walkers(rng, 60, 40, accel_sd=0.5)
    truth[20:, :30] += 5.0  # every other track jumps 7 m at step 20: an id swap
    present = rng.random(truth.shape[:2]) > 0.15
    for noise in (TrackNoise(), TrackNoise(0.04, 0.5)):
        whole = filtered_velocities(np.where(present[..., None], truth, np.nan), present, DT, noise)
        stream, streamed = VelocityFilter(noise), np.zeros_like(truth)
        for t in range(truth.shape[0]):
            people = np.flatnonzero(present[t])
            streamed[t, people] = stream.step(list(people), truth[t, people], DT if t else None)
        np.testing.assert_allclose(whole, streamed, rtol=0, atol=1e-12)
        assert filtered_velocities(truth[:0], present[:0], DT, noise).shape == (0, 60, 2)  # no frames: no velocities
        jumped = present[20, :30] & present[19, :30]
        assert jumped.sum() > 15 and np.all(whole[20, :30][jumped] == 0.0), "the jump restarts the track"
        going_on = present[21, :30] & jumped
        assert np.all(np.hypot(*whole[21, :30][going_on].T) < 4.0), "and the next step is a walker's again"


def test_with_a_half_life_the_estimate_follows_a_new_tracker():
    """The robot's tracker changes (a new detector): without forgetting, the old noise weighs as long as it was seen."""
    rng = np.random.default_rng(7)
    truth, _ = _walkers(rng, 400, 30, accel_sd=0.5)
    keeps, forgets = TrackNoiseEstimator(DT), TrackNoiseEstimator(DT, half_life=2000)
    for i in range(truth.shape[1]):
        noise_sd = 0.05 if i < 200 else 0.0  # the first 200 people through a jittery tracker, then a clean one
        for est in (keeps, forgets):
            est.add_track(truth[:, i] + rng.normal(0, noise_sd, (30, 2)) * (noise_sd > 0))
        if i == 199:
            assert forgets.estimate().position_sd == pytest.approx(0.05, rel=0.15)
    assert forgets.estimate().position_sd < 0.01 < 0.03 < keeps.estimate().position_sd
    assert forgets.samples < keeps.samples
    with pytest.raises(ValueError, match="half_life must be 0"):
        TrackNoiseEstimator(DT, half_life=50)
