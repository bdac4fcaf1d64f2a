"""The world-model stream against hostile input: clocks that restart or jump, duplicated frames, absurd positions."""
import numpy as np
import pytest
from repo_paths import DEFAULT_MODEL

from causal_nodes.world_model.runtime import WorldModel
from causal_nodes.world_model.stream import StampRejected, WorldModelStream

DT = 0.4
ROBOT = (0.0, 0.0, 0.0)


@pytest.fixture(scope="module")
def model() -> WorldModel:
    if not DEFAULT_MODEL.is_file():
        pytest.skip(f"trained model not found at {DEFAULT_MODEL}")
    return WorldModel(DEFAULT_MODEL, backend="cpu")


def _walk(stream: WorldModelStream, stamps, x0: float = 2.0):
    """Two people walking +x at 1 m/s (positions from the stamp), one update per stamp."""
    return [stream.update(t, [0, 1], np.array([[x0 + (t % 100), 1.0], [x0 + (t % 100), -1.0]]), ROBOT, (0.0, 0.0))
            for t in stamps]


def test_a_looping_bag_starts_the_stream_over_instead_of_refusing_every_later_frame(model):
    stream = WorldModelStream(model, 6, calibrate=True)
    _walk(stream, DT * np.arange(30))
    assert stream.calibration.points > 0
    # the bag starts again from its first stamp: formerly every frame until the old newest stamp was refused
    again = _walk(stream, DT * np.arange(5))
    assert all(p is not None for p in again), "each frame of the new pass is a step"
    assert stream.time_resets == {"time_jumped_back": 1, "time_jumped_forward": 0}
    assert stream.last_stamp == pytest.approx(4 * DT) and stream.calibration.points < 5 * 2 * 6
    vel = again[-1].paths_world[0][1] - again[-1].paths_world[0][0]
    assert vel[0] == pytest.approx(DT, abs=0.15), "the velocity comes from the new pass, not across the jump"
    with pytest.raises(StampRejected, match="out_of_order") as refused:  # a small step back is refused, not a reset
        _walk(stream, [4 * DT - 0.5])
    assert refused.value.reason == "out_of_order" and stream.time_resets["time_jumped_back"] == 1


def test_a_far_future_stamp_is_dropped_and_a_real_jump_ahead_starts_over(model):
    stream = WorldModelStream(model, 6)
    _walk(stream, DT * np.arange(5))
    with pytest.raises(StampRejected, match="future_stamp"):
        _walk(stream, [1e9])  # one frame stamped decades ahead: formerly every later frame went "backwards"
    assert all(p is not None for p in _walk(stream, DT * np.arange(5, 10)))
    for k, t in enumerate(500.0 + DT * np.arange(3)):  # the clock really jumped: the third agreeing stamp resets
        if k < 2:
            with pytest.raises(StampRejected):
                _walk(stream, [t])
        else:
            assert _walk(stream, [t])[0] is not None
    assert stream.time_resets == {"time_jumped_back": 0, "time_jumped_forward": 1} and stream.model.steps == 1


def test_a_duplicated_frame_is_no_step_even_without_decimation(model):
    stream = WorldModelStream(model, 6, min_step_interval=0.0)
    first = _walk(stream, [0.0, DT])
    duplicate = _walk(stream, [DT])[0]
    assert duplicate is None and stream.model.steps == 2, "dt = 0 would restart every velocity at 0"
    after = _walk(stream, [2 * DT])[0]
    assert first[1] is not None and after.paths_world[0][-1, 0] > after.paths_world[0][0, 0] + 1.0


def test_a_person_at_an_absurd_distance_is_left_out_and_poisons_nobody(model):
    stream = WorldModelStream(model, 6, calibrate=True)
    for t in range(10):
        ids, people = [1], [[2.0 + DT * t, 0.0]]
        if t < 3:  # a detector glitch: someone at 1e20 m (finite, so not refused as NaN)
            ids, people = [0, 1], [[1e20, 1e20], [2.0 + DT * t, 0.0]]
        pred = stream.update(DT * t, ids, np.array(people), ROBOT, (0.0, 0.0))
        assert 0 not in pred.paths_world and pred.out_of_range == (1 if t < 3 else 0)
        assert np.isfinite(pred.paths_world[1]).all(), f"step {t}: the model's state turned NaN"
    assert np.isfinite(stream.calibration._error).all()
    with pytest.raises(ValueError, match="max_range_m"):
        WorldModelStream(model, 6, max_range_m=0.0)


def test_a_clean_tracker_at_uneven_steps_is_not_taken_for_a_noisy_one(model):
    stream = WorldModelStream(model, 6)
    rng = np.random.default_rng(0)
    start, vel = rng.uniform(-8, 8, (20, 2)), rng.uniform(-1.5, 1.5, (20, 2))
    t = 0.0
    for k in range(40):  # steps of 0.4 and 0.5 s in turn (formerly measured as 5 cm of tracker noise)
        stream.update(t, list(range(20)), start + vel * t, ROBOT, (0.0, 0.0), predict=False)
        t += 0.4 if k % 2 else 0.5
    assert stream.noise_estimator.samples >= 1000 and stream.track_noise.position_sd < 1e-6


def test_a_refused_frame_leaves_the_velocities_as_they_were(model):
    stream = WorldModelStream(model, 6)
    _walk(stream, [0.0, DT])
    with pytest.raises(ValueError, match="unique"):  # formerly refused by the slots after the filter had moved on
        stream.update(2 * DT, [0, 0], np.array([[50.0, 0.0], [50.0, 0.0]]), ROBOT, (0.0, 0.0))
    after = _walk(stream, [2 * DT])[0]
    step = after.paths_world[0][1] - after.paths_world[0][0]
    assert step[0] == pytest.approx(DT, abs=0.15), "the velocity is the walk's, not a jump to x = 50 m"


def test_without_ids_the_stream_keeps_identities_when_the_frame_order_changes(model):
    """A PoseArray's list positions are no identities: after someone leaves, everyone behind them moves up. Keyed by
    list position, 10 % reordered frames made the self-calibration damp the forecasts of people walking dead straight
    as hard as it can (0.9), scoring each forecast against another person's path."""
    rng = np.random.default_rng(0)
    by_position, tracked = (WorldModelStream(model, 12, calibrate=True) for _ in range(2))
    n = 12
    start = np.stack([np.linspace(-10, 10, n), rng.uniform(-6, 6, n)], 1)
    vel = rng.normal(0, 1.0, (n, 2))
    order = np.arange(n)
    for k in range(200):
        if rng.random() < 0.1:
            order = rng.permutation(n)
        seen = (start + vel * DT * k)[order]
        by_position.update(DT * k, list(range(n)), seen, ROBOT, (0.0, 0.0))
        pred = tracked.update(DT * k, None, seen, ROBOT, (0.0, 0.0))
    assert by_position.calibration.damping == 0.9
    assert tracked.calibration.points > 20000 and tracked.calibration.damping == 1.0
    assert len(tracked.tracker._position) == n
    # the paths come back by row: row r's path continues the person seen in row r
    for pid, row in pred.rows.items():
        person = order[row]
        step = pred.paths_world[pid][0] - seen[row]
        assert np.linalg.norm(step - vel[person] * DT) < 0.2


def test_a_many_pose_frame_is_cut_to_the_nearest_max_people(model):
    stream = WorldModelStream(model, 6, max_people=40)
    people = np.stack([np.arange(1, 501) * 0.5, np.zeros(500)], 1)[::-1]  # nearest last
    pred = stream.update(0.0, None, people, ROBOT, (0.0, 0.0))
    assert sorted(pred.rows.values()) == list(range(460, 500)) and len(pred.paths_world) == model.p_max
    assert pred.dropped == 500 - model.p_max and len(stream.tracker._position) == 40
    with pytest.raises(ValueError, match="max_people"):
        WorldModelStream(model, 6, max_people=0)
