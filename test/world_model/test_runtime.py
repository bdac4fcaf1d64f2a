"""ONNX runtime of the streaming world model: validation, streaming state, rollouts, parity, backends."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from repo_paths import DEFAULT_MODEL

from causal_nodes.world_model.backends import BackendUnavailable, open_runners
from causal_nodes.world_model.runtime import WorldModel

MODEL = DEFAULT_MODEL


@pytest.fixture(scope="module")
def model_path() -> Path:
    if not MODEL.is_file():
        pytest.skip(f"trained model not found at {MODEL} (train with python -m training.train_world_model)")
    return MODEL


@pytest.fixture()
def wm(model_path) -> WorldModel:
    return WorldModel(model_path, backend="cpu")


def _walkers(n: int, t: int) -> np.ndarray:
    """n people walking straight at 1 m/s, seen by a static robot, step t → (n, 4)."""
    y = np.linspace(-3, 3, n)
    x = 4.0 - 0.4 * t + 0.3 * np.arange(n)
    return np.stack([x, y, -np.ones(n), np.zeros(n)], axis=1)


def _copy_model(src: Path, dst: Path) -> Path:
    meta = json.loads(src.with_suffix(".json").read_text())
    files = [meta["step_model"]["file"], meta["rollout_model"]["file"], src.with_suffix(".json").name]
    for name in files + [b["file"] for b in meta.get("rollout_buckets", [])]:
        shutil.copy(src.parent / name, dst / name)
    return dst / src.name


def test_validation_errors_are_clear(model_path, tmp_path):
    with pytest.raises(ValueError, match="not found"):
        WorldModel(tmp_path / "nothing.onnx")
    path = _copy_model(model_path, tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256"):
        WorldModel(path, backend="cpu")


def test_format_2_files_are_refused_with_the_upgrade_commands(model_path, tmp_path):
    """/2 graphs take a 2-column action (no robot_present): refused at start-up, naming the re-export and
    retrain commands, never fed a wrong input."""
    path = _copy_model(model_path, tmp_path)
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    assert meta["format"] == "causal_nodes.world_model/4"
    assert meta["step_model"]["inputs"][2] == {"name": "action", "shape": [1, 3], "dtype": "tensor(float)"}
    meta["format"] = "causal_nodes.world_model/2"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="robot_present") as err:
        WorldModel(path, backend="cpu")
    assert f"python -m training.export_onnx {path.with_suffix('')}.pt" in str(err.value)
    assert "python -m training.train_world_model" in str(err.value)


def test_format_3_files_are_refused_with_the_head_commands(model_path, tmp_path):
    """/3 graphs have the same inputs but no robot-effect head: robot_present means something else in them, so
    they are refused, naming the re-export (all-zero head, same predictions) and the head's training command."""
    path = _copy_model(model_path, tmp_path)
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["format"] = "causal_nodes.world_model/3"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="robot-effect head") as err:
        WorldModel(path, backend="cpu")
    stem = path.with_suffix("")
    assert f"python -m training.export_onnx {stem}.pt" in str(err.value)
    assert f"python -m training.train_effect_head --base {stem}.pt" in str(err.value)


def test_the_shipped_models_flag_switches_the_robot_effect_head_only(model_path):
    """The shipped base weights were trained before the flag (flag weight 0), so robot_present only switches the
    robot-effect head: a model with a trained head (metadata ``training.robot_effect``, the default model) predicts
    differently with the flag on, one without (the LOO and sim models, all-zero head) exactly the same."""
    meta = json.loads(model_path.with_suffix(".json").read_text())
    trained = "robot_effect" in meta.get("training", {})
    wm = {present: WorldModel(model_path, backend="cpu", robot_present=present) for present in (True, False)}
    acts = np.array([[0.0, 0.0], [0.8, 0.0]])
    gaps = []
    for t in range(6):
        means = [m.step(_walkers(3, t), robot_action=(0.4, 0.1))[0] for m in wm.values()]
        gaps.append(float(np.abs(means[0] - means[1]).max()))
    gaps.append(float(np.abs(wm[True].rollout(12, acts) - wm[False].rollout(12, acts)).max()))
    if trained:
        assert max(gaps) > 0.01, gaps
    else:
        assert max(gaps) == 0.0, gaps


def test_metadata_mismatch_is_rejected(model_path, tmp_path):
    path = _copy_model(model_path, tmp_path)
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["step_model"]["inputs"][0]["shape"] = [1, 7, 4]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="does not match metadata"):
        WorldModel(path, backend="cpu")
    meta["step_model"]["inputs"][0]["name"] = "persons"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="must have inputs"):
        WorldModel(path, backend="cpu")
    meta_path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        WorldModel(path, backend="cpu")
    meta_path.unlink()
    with pytest.raises(ValueError, match="metadata JSON not found"):
        WorldModel(path, backend="cpu")


def test_streaming_state_stays_bounded(wm):
    shape = wm.cache_shape
    for t in range(300):
        mean, var = wm.step(_walkers(5, t % 20), robot_action=(0.3, 0.0))
        assert wm.cache_shape == shape
    assert wm.steps == 300
    assert np.isfinite(mean).all() and (var > 0).all()
    assert wm._policy.valid.shape == (1, wm.p_max, wm.sinks + wm.window)
    # walking straight at 1 m/s towards -x: the next displacement is about -0.4 m in x
    assert np.all(np.abs(mean[:, 0] + 0.4) < 0.15)


def test_no_people_is_fine(wm):
    mean, var = wm.step(np.zeros((0, 4)))
    assert mean.shape == (0, 2) and var.shape == (0, 2)
    mean, var = wm.step(np.zeros((3, 4)), mask=[False, False, False])
    assert np.isnan(mean).all()
    assert wm.rollout(5, np.zeros((2, 2))).shape == (2, 3, 5, 2)


def test_person_reappearing_in_a_slot_starts_fresh(model_path):
    a, b = WorldModel(model_path, backend="cpu"), WorldModel(model_path, backend="cpu")
    other = np.array([[3.0, 1.0, 0.5, -0.2]])
    for t in range(10):  # stream a: someone walks in slot 0; stream b: slot 0 empty
        a.step(np.array([[2.0 - 0.4 * t, -1.0, -1.0, 0.0]]), mask=[True])
        b.step(np.zeros((1, 4)), mask=[False])
    a.step(np.zeros((1, 4)), mask=[False])
    b.step(np.zeros((1, 4)), mask=[False])
    ma, _ = a.step(other)
    mb, _ = b.step(other)
    np.testing.assert_allclose(ma, mb, atol=1e-5)


def test_rollout_leaves_live_state_and_matches_sequential(model_path):
    a, b = WorldModel(model_path, backend="cpu"), WorldModel(model_path, backend="cpu")
    for t in range(6):
        a.step(_walkers(4, t), robot_action=(0.5, 0.1))
        b.step(_walkers(4, t), robot_action=(0.5, 0.1))
    acts = np.array([[0.0, 0.0], [0.8, 0.0], [0.5, 0.5]])
    pos = a.rollout(12, acts)
    assert pos.shape == (3, 4, 12, 2)
    seq = a.predict_sequential(12, acts[2])
    np.testing.assert_allclose(pos[2], seq, atol=1e-4)
    np.testing.assert_allclose(a.rollout(12, np.repeat(acts[:, None], 12, axis=1)), pos, atol=1e-6)
    ma, _ = a.step(_walkers(4, 6))
    mb, _ = b.step(_walkers(4, 6))
    np.testing.assert_array_equal(ma, mb)  # the rollouts did not touch a's live state
    big = a.rollout(3, np.zeros((a.k_max + 5, 2)))
    assert big.shape == (a.k_max + 5, 4, 3, 2)
    np.testing.assert_allclose(big[0], big[-1], atol=1e-6)


def test_rollout_samples_are_seeded(wm):
    for t in range(8):
        wm.step(_walkers(3, t))
    s1 = wm.rollout(12, np.zeros((4, 2)), sample=True, rng=np.random.default_rng(1))
    s2 = wm.rollout(12, np.zeros((4, 2)), sample=True, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(s1, s2)
    assert np.abs(s1[0] - s1[1]).max() > 0


def test_bad_inputs_raise(wm):
    with pytest.raises(ValueError, match="shape"):
        wm.step(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="p_max"):
        wm.step(np.zeros((wm.p_max + 1, 4)))
    with pytest.raises(ValueError, match="NaN"):
        wm.step(np.full((1, 4), np.nan))
    with pytest.raises(ValueError, match="robot_action"):
        wm.step(np.zeros((1, 4)), robot_action=(1.0,))
    with pytest.raises(ValueError, match="at least one step"):
        wm.rollout(3, np.zeros((1, 2)))
    wm.step(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="horizon"):
        wm.rollout(wm.horizon_max + 1, np.zeros((1, 2)))
    with pytest.raises(ValueError, match="candidate_actions"):
        wm.rollout(3, np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="unknown backend"):
        WorldModel(MODEL, backend="tpu")


def test_onnx_matches_pytorch(model_path):
    torch = pytest.importorskip("torch", reason="torch (training extra) not installed")
    from causal_nodes.world_model.cache_policy import StreamingCachePolicy
    from training.export_onnx import load_checkpoint

    ckpt = model_path.with_suffix(".pt")
    if not ckpt.is_file():
        pytest.skip(f"no checkpoint {ckpt}")
    net = load_checkpoint(ckpt)
    wm = WorldModel(model_path, backend="cpu")
    cfg = net.cfg
    pol = StreamingCachePolicy(cfg.sinks, cfg.window, 1, cfg.p_max)
    k = v = torch.zeros(cfg.layers, 1, cfg.p_max, cfg.slots, cfg.d_model)
    rng = np.random.default_rng(0)
    for t in range(cfg.slots + 6):  # past the ring wrap-around
        n = 3 + t % 4
        ppl = rng.normal(size=(n, 4))
        mask = np.ones(n, bool)
        mask[0] = t % 5 != 0
        action = rng.normal(size=2) * 0.3
        mean, var = wm.step(ppl, mask, action)
        full = np.zeros((1, cfg.p_max, 4), np.float32)
        full[0, :n][mask] = ppl[mask]
        fm = np.zeros((1, cfg.p_max), bool)
        fm[0, :n] = mask
        plan = pol.plan(fm)
        with torch.no_grad():
            tm, tl, k, v = net.step(torch.from_numpy(full), torch.from_numpy(fm.astype(np.float32)),
                                    torch.tensor([[*action, 1.0]], dtype=torch.float32), k, v,
                                    torch.from_numpy(plan.past_valid), torch.from_numpy(plan.past_age),
                                    torch.from_numpy(plan.write_onehot))
        pol.commit(fm)
        np.testing.assert_allclose(mean[mask], tm.numpy()[0, :n][mask], atol=1e-4)
        np.testing.assert_allclose(var[mask], np.exp(tl.numpy()[0, :n][mask]), rtol=1e-3)
    np.testing.assert_allclose(wm._k, k.numpy(), atol=1e-4)


def test_auto_backend_reports_fallback_reasons(model_path):
    used, runners, reasons = open_runners([model_path], "auto")
    assert used in ("tensorrt", "trt-native", "cuda", "cpu") and len(runners) == 1
    if used == "cpu":
        assert len(reasons) == 3 and all(":" in r for r in reasons)


@pytest.mark.parametrize("backend", ["cuda", "tensorrt"])
def test_ort_gpu_backends(model_path, backend, tmp_path):
    import onnxruntime as ort

    ep = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}[backend]
    if ep not in ort.get_available_providers():
        pytest.skip(f"onnxruntime here has no {ep}")
    try:
        gpu = WorldModel(model_path, backend=backend, engine_cache_dir=tmp_path)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    cpu = WorldModel(model_path, backend="cpu")
    for t in range(5):
        mg, _ = gpu.step(_walkers(4, t))
        mc, _ = cpu.step(_walkers(4, t))
    np.testing.assert_allclose(mg, mc, atol=1e-3)


def test_native_tensorrt_engine(model_path, tmp_path):
    pytest.importorskip("tensorrt", reason="tensorrt Python package not installed")
    try:
        gpu = WorldModel(model_path, backend="trt-native", engine_cache_dir=tmp_path)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    assert list(tmp_path.glob("*.engine"))  # engine cached, keyed by sha256 + GPU + TRT version
    cpu = WorldModel(model_path, backend="cpu")
    for t in range(5):
        mg, _ = gpu.step(_walkers(4, t))
        mc, _ = cpu.step(_walkers(4, t))
    np.testing.assert_allclose(mg, mc, atol=1e-3)
    again = WorldModel(model_path, backend="trt-native", engine_cache_dir=tmp_path)  # loads the cache
    assert again.backend == "trt-native"


def test_stream_adapter_decimates_and_returns_world_frame_paths(model_path):
    from causal_nodes.world_model.stream import WorldModelStream

    stream = WorldModelStream(WorldModel(model_path, backend="cpu"), horizon=6)
    pose = (2.0, 1.0, np.pi / 2)  # robot faces world +y
    preds = []
    for k in range(10):
        t = 0.2 * k  # frames at 5 Hz: every other one is skipped (model dt 0.4 s)
        people = np.array([[2.0 + 1.0 * t, 4.0], [0.0, 3.0 - 0.5 * t]])
        preds.append(stream.update(t, ["a", "b"], people, pose, (0.0, 0.0)))
    stepped = [p for p in preds if p is not None]
    assert len(stepped) == 5 and stream.model.steps == 5
    path_a = stepped[-1].paths_world["a"]
    assert path_a.shape == (6, 2)
    assert path_a[-1, 0] > path_a[0, 0] > 2.0 + 1.6  # keeps walking along world +x
    assert abs(path_a[-1, 1] - 4.0) < 0.5
    with pytest.raises(ValueError, match="out_of_order"):  # a small step back (1 s or more starts over)
        stream.update(1.5, ["a"], np.zeros((1, 2)), pose, (0.0, 0.0))
    with pytest.raises(ValueError, match="non-finite"):
        stream.update(5.0, ["a"], np.array([[np.nan, 0.0]]), pose, (0.0, 0.0))
