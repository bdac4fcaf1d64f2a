"""Online place memory (PlaceMemory): what it learns, that it stays bounded, and that it never sees the future."""
import os

import numpy as np
import pytest

from causal_nodes.world_model.place_memory import PlaceMemory, PlaceMemoryConfig

DT, H = 0.4, 12
K = np.arange(1, H + 1)[None, :, None]


def _turning_left(rng: np.random.Generator, n: int, heading: float = 0.4) -> tuple[np.ndarray, ...]:
    """People near (3, 3) (inside one 2 m cell) walking at 1.2 m/s in direction ``heading`` who all curve left by
    0.2 rad per step: origins (n, 2), velocities (n, 2), straight (CV) forecasts and true paths (n, H, 2)."""
    origin = np.array([3.0, 3.0]) + rng.uniform(-0.3, 0.3, (n, 2))
    angle = heading + rng.normal(0, 0.05, n)
    velocity = 1.2 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    straight = origin[:, None] + velocity[:, None] * DT * K
    turn = angle[:, None] + 0.2 * np.arange(1, H + 1)[None]
    truth = origin[:, None] + np.cumsum(1.2 * DT * np.stack([np.cos(turn), np.sin(turn)], axis=-1), axis=1)
    return origin, velocity, straight, truth


def _err(path: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(path - truth, axis=-1).mean())


def test_without_memory_the_forecast_is_exactly_the_old_one():
    rng = np.random.default_rng(0)
    memory = PlaceMemory(H, DT)
    origin, velocity, straight, _ = _turning_left(rng, 20)
    np.testing.assert_array_equal(memory.apply(origin, velocity, straight), straight)
    offset, evidence = memory.correction(origin, velocity)
    assert not offset.any() and not evidence.any() and memory.corrections == 0
    # a place learned elsewhere changes nothing here
    o2, v2, s2, t2 = _turning_left(rng, 20)
    memory.add_outcome(o2 + 50.0, v2, s2 + 50.0, t2 + 50.0)
    np.testing.assert_array_equal(memory.apply(origin, velocity, straight), straight)


def test_a_place_where_everyone_turns_left_corrects_a_straight_forecast():
    rng = np.random.default_rng(1)
    memory = PlaceMemory(H, DT, PlaceMemoryConfig(cell_size=2.0, n0=2.0, levels=1, speed_scaled=False))
    for _ in range(10):
        memory.add_outcome(*_turning_left(rng, 10))
    origin, velocity, straight, truth = _turning_left(rng, 30)
    corrected = memory.apply(origin, velocity, straight)
    assert _err(corrected, truth) < 0.1 * _err(straight, truth)
    assert memory.corrections == 30 and memory.cells == 1
    # learned in the walkers' heading frame: people walking the other way (another heading bin) are not corrected
    o2, v2, s2, _ = _turning_left(rng, 5, heading=0.4 + np.pi)
    np.testing.assert_array_equal(memory.apply(o2, v2, s2), s2)


def test_the_correction_is_shrunk_by_the_evidence():
    rng = np.random.default_rng(2)
    origin, velocity, straight, truth = _turning_left(rng, 1)
    residual = np.linalg.norm(truth - straight, axis=-1)
    for n0 in (1.0, 4.0):
        memory = PlaceMemory(H, DT, PlaceMemoryConfig(cell_size=2.0, n0=n0, levels=1, speed_scaled=False))
        memory.add_outcome(origin, velocity, straight, truth)  # one outcome: weight 1 / (1 + n0)
        offset, evidence = memory.correction(origin, velocity)
        assert evidence[0] == 1.0
        np.testing.assert_allclose(np.linalg.norm(offset[0], axis=-1), residual[0] / (1 + n0), rtol=1e-9)


def test_size_stays_bounded_under_a_flood_of_distinct_places():
    memory = PlaceMemory(H, DT, PlaceMemoryConfig(cell_size=1.0, max_cells=500, levels=1))
    rng = np.random.default_rng(3)
    n = 100_000
    origin = np.stack([np.arange(n) * 1.0 + 0.5, np.zeros(n)], axis=1)  # 10^5 distinct cells
    velocity = np.tile([1.0, 0.0], (n, 1))
    straight = origin[:, None] + velocity[:, None] * DT * K
    truth = straight + rng.normal(0, 0.1, straight.shape)
    for chunk in range(0, n, 10_000):
        part = slice(chunk, chunk + 10_000)
        memory.add_outcome(origin[part], velocity[part], straight[part], truth[part])
    assert memory.cells == 500 and memory._sum.shape[0] == 500
    # the most recent places are kept (least recently updated evicted), the oldest are gone
    assert memory.correction(origin[-1:], velocity[-1:])[1][0] == 1.0
    assert memory.correction(origin[:1], velocity[:1])[1][0] == 0.0
    # the stream's pending forecasts are bounded per person and dropped for people no longer tracked
    for t in range(50):
        memory.record("a", t * DT, origin[0], velocity[0], straight[0])
    assert len(memory._pending["a"]) == H
    memory.forget_except(set())
    assert not memory._pending


def test_streamed_outcomes_count_only_once_observed():
    """record + observe_many: a forecast adds nothing until the person is seen at a forecast step's time, and then
    only that step (the prequential rule of the stream); a later frame never reaches back into earlier cells."""
    rng = np.random.default_rng(4)
    origin, velocity, straight, truth = _turning_left(rng, 1)
    memory = PlaceMemory(H, DT, PlaceMemoryConfig(cell_size=2.0, n0=1.0, levels=1))
    memory.record("p", 0.0, origin[0], velocity[0], straight[0])
    assert memory.points == 0 and memory.cells == 0
    for k in range(1, 4):  # three steps come true
        memory.observe_many(["p"], k * DT, truth[0, k - 1][None])
    assert memory.points == 3 and memory.cells == 1
    row = memory._rows[memory.keys(origin, velocity)[0][0]]
    assert (memory._count[row, :3] == 1).all() and not memory._count[row, 3:].any()  # steps 4..12: not yet seen
    offset, _ = memory.correction(origin, velocity)
    assert not offset[0, 3:].any() and np.abs(offset[0, :3]).sum() > 0
    memory.observe_many(["p"], 3.5 * DT, truth[0, 3][None])  # between steps: scores nothing
    assert memory.points == 3


def test_the_evaluation_adds_a_windows_outcome_only_after_its_last_predicted_frame(tmp_path):
    """In eval-trajectories the memory of a window holds exactly the outcomes of windows that ended before its
    last observed frame (same rule as the self-calibration); window 0..PRED scores with an empty memory."""
    from causal_nodes.evaluation.trajectories import OBS, PRED, evaluate_windows, start_indices
    from causal_nodes.world_model.eth_ucy import load_windows

    rows = []
    for f in range(60):  # four walkers who all turn at the same place, one after another
        for p in range(4):
            t = f - 10 * p
            if 0 <= t < 20:
                x, y = (0.5 * t, 0.0) if t < 10 else (4.5, 0.5 * (t - 9))
                rows.append(f"{f * 10:.1f}\t{p:.1f}\t{x:.3f}\t{y:.3f}\n")
    path = tmp_path / "corner.txt"
    path.write_text("".join(rows))
    windows = load_windows([path], OBS + PRED)
    starts = start_indices([path], windows)
    config = PlaceMemoryConfig(cell_size=1.0, n0=1.0)
    with pytest.raises(ValueError, match="starts"):
        evaluate_windows(None, windows, best_of=0, place_memory=config)
    full = evaluate_windows(None, windows, best_of=0, starts=starts, place_memory=config)
    assert full["cv_memory_ade"] < full["cv_ade"] and 0 < full["memory_coverage"] < 1
    early = [w for w, s in zip(windows, starts, strict=True) if s < PRED]
    first = evaluate_windows(None, early, best_of=0, starts=starts[:len(early)], place_memory=config)
    assert first["memory_coverage"] == 0.0 and first["cv_memory_ade"] == first["cv_ade"]


def test_bad_settings_are_refused():
    for bad in ({"cell_size": 0.0}, {"heading_bins": 0}, {"n0": -1.0}, {"max_cells": 0}, {"half_life": -1.0}):
        with pytest.raises(ValueError):
            PlaceMemoryConfig(**bad)
    with pytest.raises(ValueError):
        PlaceMemory(0, DT)


def test_a_place_seen_rarely_borrows_from_its_surroundings_with_levels():
    """levels > 1: a fine cell never seen gets the coarser cell's mean (shrunk) instead of nothing."""
    rng = np.random.default_rng(5)
    flat = PlaceMemory(H, DT, PlaceMemoryConfig(cell_size=0.25, n0=2.0, levels=1))
    nested = PlaceMemory(H, DT, PlaceMemoryConfig(cell_size=0.25, n0=2.0, levels=4))  # 0.25, 0.5, 1, 2 m cells
    for _ in range(10):
        outcome = _turning_left(rng, 10)
        flat.add_outcome(*outcome)
        nested.add_outcome(*outcome)
    origin, velocity, straight, truth = _turning_left(rng, 30)
    origin = origin + np.array([0.45, 0.45])  # inside the same 2 m cell, off the small cells seen
    assert _err(nested.apply(origin, velocity, straight), truth) < 0.5 * _err(flat.apply(origin, velocity, straight),
                                                                                truth)
    assert nested.cells > flat.cells


def test_streamed_outcomes_add_up_exactly_as_whole_ones():
    rng = np.random.default_rng(6)
    origin, velocity, straight, truth = _turning_left(rng, 3)
    config = PlaceMemoryConfig(cell_size=1.0, n0=1.0, levels=2)
    whole, streamed = PlaceMemory(H, DT, config), PlaceMemory(H, DT, config)
    whole.add_outcome(origin, velocity, straight, truth)
    for i in range(3):
        streamed.record(i, 10.0, origin[i], velocity[i], straight[i])
    for k in range(1, H + 1):
        streamed.observe_many([0, 1, 2], 10.0 + k * DT + 0.01, truth[:, k - 1])  # a little late: within tolerance
    assert streamed.points == whole.points == 3 * H
    np.testing.assert_allclose(streamed.correction(origin, velocity)[0], whole.correction(origin, velocity)[0])
    assert not any(streamed._pending.values()), "finished forecasts are dropped"


def _corner_walkers(t: int) -> tuple[list[str], np.ndarray]:
    """Ten people at a time walk +x at 1.2 m/s from x = -6 and turn left (+y) at x = 0; each lives 24 steps."""
    ids, points = [], []
    for i in range(10):
        age = (t + 2 * i) % 24
        ids.append(f"{i}-{(t + 2 * i) // 24}")
        d = 1.2 * DT * age
        points.append((-6 + min(d, 6.0), 0.3 * i + max(d - 6.0, 0.0)))
    return ids, np.array(points)


def test_the_stream_learns_a_corner_and_bends_its_paths_and_a_time_jump_forgets_it():
    from repo_paths import DEFAULT_MODEL

    if not DEFAULT_MODEL.is_file():
        pytest.skip(f"trained model not found at {DEFAULT_MODEL}")
    from causal_nodes.world_model.runtime import WorldModel
    from causal_nodes.world_model.stream import WorldModelStream

    config = PlaceMemoryConfig(cell_size=1.0, n0=2.0, levels=2)
    remembering = WorldModelStream(WorldModel(DEFAULT_MODEL, backend="cpu"), H, place_memory=config)
    plain = WorldModelStream(WorldModel(DEFAULT_MODEL, backend="cpu"), H)
    robot = (0.0, -20.0, 0.0)
    for t in range(150):
        ids, points = _corner_walkers(t)
        bent = remembering.update(t * DT, ids, points, robot, (0.0, 0.0))
        straight = plain.update(t * DT, ids, points, robot, (0.0, 0.0))
    memory = remembering.place_memory
    assert plain.place_memory is None and memory is not None
    assert memory.points > 1000 and memory.corrections > 0 and 0 < memory.cells <= config.max_cells
    # walkers still before the corner: the memory's paths turn left (+y), the plain ones run on along +x
    before = [pid for pid, p in zip(ids, points, strict=True) if -4.0 < p[0] < -1.5]
    assert before
    rise = {name: np.mean([pred.paths_world[pid][-1, 1] - pred.paths_world[pid][0, 1] for pid in before])
            for name, pred in (("bent", bent), ("straight", straight))}
    assert rise["bent"] > rise["straight"] + 1.0, rise
    # a clock that jumps back starts the stream over: the memory describes the place and time it came from
    ids, points = _corner_walkers(0)
    remembering.update(0.0, ids, points, robot, (0.0, 0.0))
    assert remembering.place_memory is not None and remembering.place_memory.cells == 0


def test_with_a_half_life_old_places_fade_and_without_it_they_stay():
    rng = np.random.default_rng(7)
    forgetting = PlaceMemory(H, DT, PlaceMemoryConfig(cell_size=2.0, n0=2.0, levels=1, half_life=1000.0))
    lasting = PlaceMemory(H, DT, PlaceMemoryConfig(cell_size=2.0, n0=2.0, levels=1))
    corner = _turning_left(rng, 50)
    elsewhere = _turning_left(rng, 500)
    elsewhere = (elsewhere[0] + 40.0, elsewhere[1], elsewhere[2] + 40.0, elsewhere[3] + 40.0)  # 6000 steps elsewhere
    for memory in (forgetting, lasting):
        memory.add_outcome(*corner)
        assert memory.correction(*corner[:2])[1][0] == pytest.approx(50.0)
        memory.add_outcome(*elsewhere)
    assert lasting.correction(*corner[:2])[1][0] == pytest.approx(50.0)
    assert forgetting.correction(*corner[:2])[1][0] == pytest.approx(50.0 * 0.5 ** 6, rel=1e-6)


def test_a_saved_memory_loads_back_to_the_same_corrections_and_weight_scales_its_evidence(tmp_path):
    rng = np.random.default_rng(8)
    config = PlaceMemoryConfig(cell_size=2.0, n0=2.0, levels=2, half_life=5000.0)
    memory = PlaceMemory(H, DT, config)
    for _ in range(5):
        memory.add_outcome(*_turning_left(rng, 10))
    origin, velocity, straight, _ = _turning_left(rng, 7)
    memory.add_outcome(*_turning_left(rng, 10))  # decays the earlier outcomes: saved as they weigh now
    path = tmp_path / "corner.npz"
    assert memory.save(path, frame_id="map") > 0
    loaded = PlaceMemory(H, DT, config)
    assert loaded.load(path, frame_id="map") == memory.cells
    np.testing.assert_allclose(loaded.correction(origin, velocity)[0], memory.correction(origin, velocity)[0],
                               atol=1e-12)
    np.testing.assert_allclose(loaded.correction(origin, velocity)[1], memory.correction(origin, velocity)[1])
    light = PlaceMemory(H, DT, config)
    light.load(path, weight=0.1)  # an earlier visit weighs a tenth: the same mean, a tenth of the evidence
    np.testing.assert_allclose(light.correction(origin, velocity)[1], 0.1 * memory.correction(origin, velocity)[1])
    # beyond max_cells the cells with the most evidence are kept
    small = PlaceMemory(H, DT, PlaceMemoryConfig(cell_size=2.0, n0=2.0, levels=2, half_life=5000.0, max_cells=1))
    assert small.load(path) == 1 and small.cells == 1


def test_a_bad_memory_file_is_refused_clearly_and_leaves_the_memory_empty(tmp_path):
    from causal_nodes.world_model.place_memory import PlaceMemoryFileError

    rng = np.random.default_rng(9)
    config = PlaceMemoryConfig(cell_size=2.0, n0=2.0, levels=1)
    memory = PlaceMemory(H, DT, config)
    memory.add_outcome(*_turning_left(rng, 10))
    good = tmp_path / "good.npz"
    memory.save(good, frame_id="map")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(good.read_bytes()[:100])
    nan = tmp_path / "nan.npz"
    with np.load(good) as data:
        arrays = dict(data)
    arrays["sum"][0, 0, 0] = np.nan
    np.savez(nan, **arrays)
    cases = {"missing": (tmp_path / "none.npz", {}, "No such file"), "corrupt": (corrupt, {}, "not a readable"),
             "nan": (nan, {}, "non-finite"), "oversized": (good, {"max_bytes": 10}, "over the 10"),
             "frame": (good, {"frame_id": "odom"}, "frame 'map'")}
    for name, (path, kwargs, message) in cases.items():
        target = PlaceMemory(H, DT, config)
        target.add_outcome(*_turning_left(rng, 3))
        with pytest.raises(PlaceMemoryFileError, match=message):
            target.load(path, **kwargs)
        assert target.cells == 0, name  # refused: nothing half-loaded, nothing stale
    foreign = PlaceMemory(H, DT, PlaceMemoryConfig(cell_size=1.0, n0=2.0, levels=1))  # other cells: meaningless
    with pytest.raises(PlaceMemoryFileError, match="cell_size"):
        foreign.load(good)
    with pytest.raises(PlaceMemoryFileError, match="horizon"):
        PlaceMemory(8, DT, config).load(good)
    with pytest.raises(ValueError, match="weight"):
        PlaceMemory(H, DT, config).load(good, weight=0.0)


def _corner_file(path, walkers: int = 4, x0: float = 0.0) -> None:
    """ETH/UCY-format walkers who all turn left at the same place (x0 + 4.5, 0), one after another."""
    rows = []
    for f in range(10 * walkers + 20):
        for p in range(walkers):
            t = f - 10 * p
            if 0 <= t < 20:
                x, y = (0.5 * t, 0.0) if t < 10 else (4.5, 0.5 * (t - 9))
                rows.append(f"{f * 10:.1f}\t{p:.1f}\t{x + x0:.3f}\t{y:.3f}\n")
    path.write_text("".join(rows))


def test_a_memory_shared_by_recordings_of_one_place_starts_the_second_one_knowing_the_corner(tmp_path):
    """memory_keys: the second recording of a place is corrected from its first window on when the memory is carried
    over; scored=False windows (a seed) teach without being scored, and seed_weight scales what they taught."""
    from causal_nodes.evaluation.trajectories import OBS, PRED, evaluate_windows, start_indices
    from causal_nodes.world_model.eth_ucy import load_windows

    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    _corner_file(first)
    _corner_file(second)
    files = [first, second]
    windows = load_windows(files, OBS + PRED)
    starts = start_indices(files, windows)
    config = PlaceMemoryConfig(cell_size=1.0, n0=1.0)
    n_first = sum(w.source == "a.txt" for w in windows)
    common = {"best_of": 0, "starts": starts, "place_memory": config}
    per_file = evaluate_windows(None, windows, **common)
    carried = evaluate_windows(None, windows, memory_keys=["place"] * len(windows), **common)
    assert carried["cv_memory_ade"] < per_file["cv_memory_ade"] and carried["memory_coverage"] > per_file[
        "memory_coverage"]
    scored = [w.source == "b.txt" for w in windows]
    seeded = evaluate_windows(None, windows, memory_keys=["place"] * len(windows), scored=scored, **common)
    alone = evaluate_windows(None, windows[n_first:], best_of=0, starts=starts[n_first:], place_memory=config)
    assert seeded["targets"] == alone["targets"] and seeded["cv_ade"] == pytest.approx(alone["cv_ade"])
    assert seeded["cv_memory_ade"] < alone["cv_memory_ade"] and seeded["memory_coverage"] == 1.0
    light = evaluate_windows(None, windows, memory_keys=["place"] * len(windows), scored=scored, seed_weight=0.01,
                             **common)
    assert seeded["cv_memory_ade"] < light["cv_memory_ade"] <= alone["cv_memory_ade"] + 1e-9
    with pytest.raises(ValueError, match="one entry per window"):
        evaluate_windows(None, windows, memory_keys=["place"], **common)
    with pytest.raises(ValueError, match="need a model"):
        evaluate_windows(None, windows, blend=np.ones(PRED), **common)


def test_per_step_shrinkage_and_gain_scale_the_correction_as_documented():
    rng = np.random.default_rng(10)
    origin, velocity, straight, truth = _turning_left(rng, 1)
    base = PlaceMemory(H, DT, PlaceMemoryConfig(cell_size=2.0, n0=4.0, levels=1, speed_scaled=False))
    sloped = PlaceMemory(H, DT, PlaceMemoryConfig(cell_size=2.0, n0=4.0, levels=1, speed_scaled=False,
                                                  n0_slope=1.0, gain=1.5))
    for memory in (base, sloped):
        memory.add_outcome(origin, velocity, straight, truth)  # one outcome per step
    k = np.arange(1, H + 1)
    ratio = np.linalg.norm(sloped.correction(origin, velocity)[0][0], axis=-1) / np.linalg.norm(
        base.correction(origin, velocity)[0][0], axis=-1)
    np.testing.assert_allclose(ratio, 1.5 * (1 + 4.0) / (1 + 4.0 * H / k), rtol=1e-9)  # n0 * (H / k) at step k
    with pytest.raises(ValueError, match="gain"):
        PlaceMemoryConfig(gain=-1.0)


def _saved_arrays(tmp_path, rng: np.random.Generator) -> tuple[PlaceMemoryConfig, dict]:
    """A small memory's saved arrays (meta, keys, sum, count) to tamper with."""
    config = PlaceMemoryConfig(cell_size=2.0, n0=2.0, levels=1)
    memory = PlaceMemory(H, DT, config)
    memory.add_outcome(*_turning_left(rng, 10))
    memory.add_outcome(*(a + 10.0 for a in _turning_left(rng, 10)))  # two cells
    memory.save(tmp_path / "good.npz", frame_id="map")
    with np.load(tmp_path / "good.npz") as data:
        return config, dict(data)


def test_a_memory_file_of_wrong_dtypes_is_refused_clearly_and_never_breaks_a_later_save(tmp_path):
    """A valid npz can hold strings, complex numbers, 0-d or unsigned arrays (no pickle needed). Formerly a string
    ``sum`` or a 0-d ``keys`` raised TypeError out of load (the node died at start), a complex ``sum`` was loaded with
    its imaginary part dropped, and uint64 keys beyond int64 were loaded and made the next save raise OverflowError."""
    from causal_nodes.world_model.place_memory import PlaceMemoryFileError

    config, arrays = _saved_arrays(tmp_path, np.random.default_rng(11))
    huge = arrays["keys"].astype(np.uint64)
    huge[0, 1] = 2 ** 63 + 5
    cases = {"string sum": {"sum": arrays["sum"].astype(str)}, "string count": {"count": arrays["count"].astype(str)},
             "0-d keys": {"keys": np.array(5)}, "complex sum": {"sum": arrays["sum"] + 1j},
             "uint64 keys beyond int64": {"keys": huge},
             "level beyond the geometry": {"keys": arrays["keys"] + np.array([3, 0, 0, 0])},
             "object keys (a pickle)": {"keys": arrays["keys"].astype(object)}}
    for name, change in cases.items():
        path = tmp_path / "bad.npz"
        np.savez(path, **{**arrays, **change})
        memory = PlaceMemory(H, DT, config)
        with pytest.raises(PlaceMemoryFileError, match="malformed|object arrays"):
            memory.load(path)
        assert memory.cells == 0, name
        memory.save(tmp_path / "out.npz")  # never left in a state a save cannot write
    ok = tmp_path / "unsigned.npz"  # unsigned keys that fit are fine
    np.savez(ok, **{**arrays, "keys": np.abs(arrays["keys"]).astype(np.uint64)})
    assert PlaceMemory(H, DT, config).load(ok) == 2


def test_the_size_limit_bounds_the_arrays_read_not_only_the_bytes_of_the_file(tmp_path):
    """max_bytes must bound what loading takes in memory: formerly a compressed npz of 50,000 cells (about 16 MB of
    arrays in a file of some 40 KB) passed a 1 MB limit, and so would a zip bomb of gigabytes."""
    from causal_nodes.world_model.place_memory import PlaceMemoryFileError

    config, arrays = _saved_arrays(tmp_path, np.random.default_rng(12))
    n = 50_000
    keys = np.zeros((n, 4), dtype=np.int64)
    keys[:, 1] = np.arange(n)
    bomb = tmp_path / "bomb.npz"
    np.savez_compressed(bomb, meta=arrays["meta"], keys=keys, sum=np.zeros((n, H, 2)), count=np.ones((n, H)))
    assert bomb.stat().st_size < 1_000_000
    memory = PlaceMemory(H, DT, config)
    with pytest.raises(PlaceMemoryFileError, match=r"arrays of 16\d{6} bytes, over the 1000000 "):
        memory.load(bomb, max_bytes=1_000_000)
    assert memory.cells == 0
    assert memory.load(bomb, max_bytes=20_000_000) == config.max_cells  # within the limit it loads


def test_a_memory_path_that_is_not_a_regular_file_is_refused_at_once(tmp_path):
    """A FIFO at the path formerly blocked load forever (the node never started); a folder is refused too."""
    import threading

    from causal_nodes.world_model.place_memory import PlaceMemoryFileError

    fifo = tmp_path / "place.npz"
    os.mkfifo(fifo)
    outcome = []

    def load(path):
        try:
            PlaceMemory(H, DT).load(path)
        except PlaceMemoryFileError as exc:
            outcome.append(str(exc))

    worker = threading.Thread(target=load, args=(fifo,), daemon=True)
    worker.start()
    worker.join(timeout=5.0)
    if worker.is_alive():  # unblock the reader before failing
        with open(fifo, "wb"):
            pass
        worker.join(timeout=5.0)
    assert outcome and "not a regular file" in outcome[0], outcome
    load(tmp_path)
    assert "not a regular file" in outcome[-1]


def test_two_writers_of_one_memory_file_never_corrupt_it_and_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    """Two nodes sharing one file (or the periodic save still running at shutdown) formerly wrote the same temporary
    ``<file>.tmp``: the second truncated it under the first, whose rename then published a mixed file and whose own
    rename failed. Each write now has its own temporary file; a failed write removes it; a symlink is written
    through (formerly replaced by a plain file, leaving the file it named stale)."""
    rng = np.random.default_rng(13)
    config = PlaceMemoryConfig(cell_size=2.0, n0=2.0, levels=1)
    first, second = PlaceMemory(H, DT, config), PlaceMemory(H, DT, config)
    first.add_outcome(*_turning_left(rng, 10))
    for shift in (0.0, 10.0, 20.0):
        second.add_outcome(*(a + shift for a in _turning_left(rng, 10)))
    path = tmp_path / "shared.npz"
    savez = np.savez

    def interleaved(file, **arrays):  # the second writer runs while the first is half-way through its write
        file.write(b"PK")
        if not interleaved.done:
            interleaved.done = True
            second.save(path, frame_id="map")
        file.seek(0)
        savez(file, **arrays)

    interleaved.done = False
    monkeypatch.setattr(np, "savez", interleaved)
    first.save(path, frame_id="map")  # formerly FileNotFoundError here, and a corrupt file
    monkeypatch.setattr(np, "savez", savez)
    assert PlaceMemory(H, DT, config).load(path, frame_id="map") == first.cells
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.npz"]

    def failing(file, **arrays):
        file.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", failing)
    with pytest.raises(OSError, match="No space"):
        second.save(path)
    monkeypatch.setattr(np, "savez", savez)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.npz"]  # no temporary file left
    assert PlaceMemory(H, DT, config).load(path) == first.cells  # the old file, whole

    link = tmp_path / "current.npz"
    link.symlink_to(path)
    second.save(link, frame_id="map")
    assert link.is_symlink() and PlaceMemory(H, DT, config).load(path) == second.cells


def test_a_person_standing_still_or_a_file_of_absurd_numbers_never_makes_a_correction_non_finite(tmp_path):
    """min_speed 0 (allowed) gave a person standing exactly still a heading and a residual scale of 0/0: NaN in the
    cell, in every correction from it and in the saved file (which the next start refused). And finite numbers in
    a file (sum 1e308) overflowed to inf in the corrections, so in the published paths."""
    from causal_nodes.world_model.place_memory import PlaceMemoryFileError

    with pytest.raises(ValueError, match="min_speed > 0"):
        PlaceMemoryConfig(min_speed=0.0)
    origin = np.array([[1.0, 1.0], [1.2, 1.1]])
    velocity = np.array([[0.0, 0.0], [1.0, 0.0]])  # one stands still, one walks
    path = origin[:, None] + velocity[:, None] * DT * K
    for speed_scaled in (True, False):
        memory = PlaceMemory(H, DT, PlaceMemoryConfig(min_speed=0.001, levels=1, speed_scaled=speed_scaled))
        memory.add_outcome(origin, velocity, path, path + 0.1)
        memory.record_many(["a", "b"], 0.0, origin, velocity, path)
        memory.observe_many(["a", "b"], DT, origin + 0.1)
        assert np.isfinite(memory._sum).all() and np.isfinite(memory.correction(origin, velocity)[0]).all()
    config, arrays = _saved_arrays(tmp_path, np.random.default_rng(14))
    for name, change in {"sum": arrays["sum"] + 1.7e308, "count": arrays["count"] + 1e13}.items():
        np.savez(tmp_path / "absurd.npz", **{**arrays, name: change})
        memory = PlaceMemory(H, DT, config)
        with pytest.raises(PlaceMemoryFileError, match="malformed"):
            memory.load(tmp_path / "absurd.npz")


def test_a_save_removes_the_temporary_files_of_saves_killed_long_ago_and_leaves_recent_ones(tmp_path):
    """A process killed mid-save leaves ``.<name>.<hex>.tmp`` behind; a robot killed every day would fill its disk
    with them. A later save deletes those older than an hour and leaves younger ones (another writer's save in
    progress) and other files alone."""
    config = PlaceMemoryConfig(cell_size=2.0, n0=2.0, levels=1)
    memory = PlaceMemory(H, DT, config)
    memory.add_outcome(*_turning_left(np.random.default_rng(3), 10))
    path = tmp_path / "place.npz"
    old, young = tmp_path / ".place.npz.0a1b.tmp", tmp_path / ".place.npz.2c3d.tmp"
    other = tmp_path / ".other.npz.4e5f.tmp"
    for f in (old, young, other):
        f.write_bytes(b"half a file")
    os.utime(old, (0, os.path.getmtime(old) - 2 * 3600))
    os.utime(other, (0, os.path.getmtime(other) - 2 * 3600))
    memory.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.npz.4e5f.tmp", ".place.npz.2c3d.tmp", "place.npz"]
    assert PlaceMemory(H, DT, config).load(path) == memory.cells
