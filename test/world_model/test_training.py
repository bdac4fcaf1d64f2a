"""Training pieces on synthetic ETH/UCY-style windows: samples, streaming loss, export → runtime."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch (training extra) not installed")
onnx = pytest.importorskip("onnx", reason="onnx not installed")

from causal_nodes.world_model.eth_ucy import Window  # noqa: E402
from causal_nodes.world_model.runtime import WorldModel  # noqa: E402
from training.dataset import make_batch  # noqa: E402
from training.export_onnx import export_all  # noqa: E402
from training.model import StreamingWorldModel, WorldModelConfig  # noqa: E402
from training.train_world_model import batch_loss  # noqa: E402


def _windows(n: int = 6) -> list:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        p0 = rng.uniform(-4, 4, size=(5, 2))
        v = rng.normal(scale=1.0, size=(5, 2))
        pos = p0[None] + v[None] * 0.4 * np.arange(20)[:, None, None]
        present = np.ones((20, 5), bool)
        present[:3, 4] = False  # one person appears late
        pos[~present] = np.nan
        out.append(Window(pos, present, "synthetic", 0.0))
    return out


def test_batches_use_a_robot_frame_and_trim_people():
    rng = np.random.default_rng(1)
    b = make_batch(_windows(), np.arange(6), rng, p_max=32, obs=8, horizon=12, dt=0.4, p_pedestrian_robot=1.0)
    assert b.people.shape[:3] == (6, 20, 4)  # a pedestrian became the robot: 4 people left, padding trimmed
    assert b.mask[:, :3].sum(axis=2).max() == 3 and b.mask[:, 5].sum(axis=1).min() == 4
    # the robot is a straight walker: its actions are constant speed, no turning
    assert np.allclose(b.action[:, :-1, 1], 0.0, atol=1e-4)
    np.testing.assert_allclose(b.robot_pose[:, 0], [[0, 0, 1, 0]] * 6, atol=1e-6)
    # straight walkers: every displacement target equals velocity × dt in the robot frame
    valid = b.target_valid & (b.people[..., 2:].any(axis=-1))
    np.testing.assert_allclose(b.target[valid], b.people[..., 2:][valid] * 0.4, atol=1e-4)


def test_streaming_loss_trains_and_export_runs_in_onnxruntime(tmp_path):
    torch.manual_seed(0)
    cfg = WorldModelConfig(p_max=8, window=6, horizon=4, k_max=4)  # small graphs: quick export
    model = StreamingWorldModel(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    wins = _windows()
    losses = []
    for it in range(3):
        b = make_batch(wins, np.arange(6), np.random.default_rng(0), cfg.p_max, 8, cfg.horizon, cfg.dt, 0.0)
        loss, nll, ade = batch_loss(model, b, 1.0)
        opt.zero_grad()
        loss.backward()
        if it == 0:
            # straight walkers: the model starts as constant velocity (zero head), so the error starts ~0
            assert float(ade) < 1e-3
        if it == 1:  # once the zero-initialised head has moved, the loss reaches every part of the model
            names = ("head.weight", "layers.0.age_k.weight", "layers.1.age_v.weight", "layers.0.self_bias",
                     "embed_in.weight")
            for name in names:
                grad = dict(model.named_parameters())[name].grad
                assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name
        opt.step()
        losses.append(float(loss))
    assert all(np.isfinite(losses))
    paths = export_all(model.eval(), tmp_path, "tiny", {"data": "synthetic"})
    graph = onnx.load(str(paths["rollout"])).graph
    assert {n.op_type for n in graph.node}.isdisjoint({"Loop", "Scan", "If", "NonZero", "ScatterND"})
    for value in list(graph.input) + list(graph.output):
        assert all(d.dim_value > 0 for d in value.type.tensor_type.shape.dim), value.name  # static shapes
    meta = json.loads(paths["metadata"].read_text())
    assert meta["opset"] <= 17 and meta["config"]["p_max"] == 8 and len(meta["step_model"]["sha256"]) == 64
    wm = WorldModel(paths["step"], backend="cpu")
    b = make_batch(wins, np.arange(1), rng, cfg.p_max, 8, cfg.horizon, cfg.dt, 0.0)
    for t in range(8):
        mean, _ = wm.step(b.people[0, t], b.mask[0, t], b.action[0, t, :2])
    assert np.isfinite(mean[b.mask[0, 7]]).all()


def test_simulator_windows_have_a_real_robot():
    pytest.importorskip("causal_nodes.sim", reason="simulator package not available")
    from training.sim_data import sim_windows

    wins = sim_windows(["crossing"], [0], length=20, dt=0.4, duration_s=12.0, stride=5)
    assert len(wins) >= 2 and wins[0].robot_pose.shape == (20, 3) and wins[0].robot_action.shape == (20, 2)
    b = make_batch(wins, np.arange(len(wins)), np.random.default_rng(0), 32, 8, 12, 0.4, p_pedestrian_robot=1.0)
    # the sim robot is used as is (never replaced by a pedestrian): people count is unchanged
    assert b.mask[:, 7].sum(axis=1).tolist() == [wins[0].positions.shape[1]] * len(wins)
    np.testing.assert_allclose(b.action[..., :2], np.stack([w.robot_action for w in wins]), atol=1e-5)
    assert (b.action[..., 2] == 1.0).all()  # people see the simulator's robot


def test_augmentations_mirror_reverse_scale_and_keep_a_real_robot():
    from training.dataset import Augment, augment_window

    win = _windows(1)[0]
    rng = np.random.default_rng(0)
    same = augment_window(win, rng, Augment())
    assert same is win  # nothing drawn: the window itself
    mirrored = augment_window(win, rng, Augment(mirror=1.0))
    np.testing.assert_array_equal(mirrored.positions[..., 1], -win.positions[..., 1])
    reversed_ = augment_window(win, rng, Augment(reverse=1.0))
    np.testing.assert_array_equal(reversed_.present, win.present[::-1])
    scaled = augment_window(win, rng, Augment(scale=1.0, scale_range=(2.0, 2.0)))
    np.testing.assert_allclose(scaled.positions, 2.0 * win.positions)
    pose = np.tile([1.0, 2.0, 0.5], (20, 1))
    action = np.tile([0.4, 0.3], (20, 1))
    robot = Window(win.positions, win.present, "sim", 0.0, robot_pose=pose, robot_action=action)
    kept = augment_window(robot, rng, Augment(reverse=1.0, scale=1.0))
    assert kept is robot  # a real robot cannot be reversed or rescaled
    flipped = augment_window(robot, rng, Augment(mirror=1.0))
    np.testing.assert_allclose(flipped.robot_pose[0], [1.0, -2.0, -0.5])
    np.testing.assert_allclose(flipped.robot_action[0], [0.4, -0.3])


def test_observation_noise_reaches_inputs_not_targets():
    from training.dataset import Augment

    wins = _windows(1)  # one sample: the same robot is drawn in both batches, only the noise differs
    kw = dict(p_max=8, obs=8, horizon=12, dt=0.4, p_pedestrian_robot=0.0)
    clean = make_batch(wins, np.arange(1), np.random.default_rng(3), **kw)
    noisy = make_batch(wins, np.arange(1), np.random.default_rng(3), **kw, aug=Augment(noise=1.0, noise_max=0.2))
    valid = clean.mask & noisy.mask
    assert np.abs(noisy.people[..., :2] - clean.people[..., :2])[valid].max() > 1e-3
    np.testing.assert_allclose(noisy.future, clean.future, atol=1e-5)  # truth stays clean
    # the target is the step from the *fed* position to the true next one, so the model learns to filter
    tv = clean.target_valid & noisy.target_valid
    np.testing.assert_allclose((noisy.people[:, :-1, :, :2] + noisy.target[:, :-1])[tv[:, :-1]],
                               (clean.people[:, :-1, :, :2] + clean.target[:, :-1])[tv[:, :-1]], atol=1e-4)


def test_batch_sampler_mixes_pools_by_share():
    from training.train_world_model import BatchSampler

    real, sim = _windows(6), _windows(5)
    sampler = BatchSampler(real, sim, batch=2, p_max=8, p_sim=0.25)
    rng = np.random.default_rng(0)
    draws = [sampler.draw(rng)[0] is sim for _ in range(400)]
    assert 0.18 < np.mean(draws) < 0.32
    only_real = BatchSampler(real, [], batch=2, p_max=8, p_sim=0.25)
    assert all(only_real.draw(rng)[0] is real for _ in range(20))


def test_shared_cache_rollout_equals_per_sample_rollout():
    """The inference layout (one cache read by all candidates) computes what training's per-sample caches do."""
    torch.manual_seed(0)
    cfg = WorldModelConfig(p_max=6, k_max=5)
    model = StreamingWorldModel(cfg).eval()
    torch.nn.init.normal_(model.head.weight, std=0.3)
    k_count, p, c = 5, 6, cfg.slots
    cache = torch.randn(cfg.layers, 1, p, c, cfg.d_model)
    valid = (torch.rand(1, p, c) > 0.3).float()
    mask = torch.tensor([[1.0, 1, 1, 0, 1, 1]])
    pose = torch.cat([torch.randn(k_count, 12, 2), torch.ones(k_count, 12, 1), torch.zeros(k_count, 12, 1)], -1)
    args = (torch.randn(1, p, 4), mask, cache, cache.clone(), valid, torch.randint(1, 13, (12, c)), pose,
            torch.randn(k_count, 12, 3), torch.zeros(k_count, 12, p, 2))
    with torch.no_grad():
        shared, _ = model.rollout(*args)
        per_sample, _ = model.rollout(args[0].expand(k_count, -1, -1), mask.expand(k_count, -1),
                                      cache.expand(-1, k_count, -1, -1, -1), cache.expand(-1, k_count, -1, -1, -1),
                                      valid.expand(k_count, -1, -1), *args[5:])
    present = mask[0].bool()
    assert torch.allclose(shared[:, present], per_sample[:, present], atol=1e-5)


def test_export_with_person_buckets_matches_the_full_graph(tmp_path):
    torch.manual_seed(1)
    cfg = WorldModelConfig(p_max=8, k_max=4, sinks=1, window=4, horizon=4)  # small graphs: quick export
    model = StreamingWorldModel(cfg).eval()
    torch.nn.init.normal_(model.head.weight, std=0.3)
    paths = export_all(model, tmp_path, "b", {"data": "synthetic"}, buckets=(3, 5, 99))
    meta = json.loads(paths["metadata"].read_text())
    assert [b["people"] for b in meta["rollout_buckets"]] == [3, 5]  # 99 >= p_max: no bucket
    wm = WorldModel(paths["step"], backend="cpu")
    assert wm.buckets == (3, 5, 8)
    full = WorldModel(paths["step"], backend="cpu")
    full.buckets = (8,)  # the p_max graph only
    rng = np.random.default_rng(0)
    for _ in range(6):
        people = rng.normal(size=(6, 4))
        mask = np.array([True, False, True, True, False, True])  # 4 present in 6 rows -> bucket 5
        wm.step(people, mask, (0.2, 0.1))
        full.step(people, mask, (0.2, 0.1))
    acts = rng.normal(scale=0.5, size=(6, 4, 2))  # more than k_max: two graph calls
    got, want = wm.rollout(4, acts), full.rollout(4, acts)
    assert np.isnan(got[:, ~mask]).all() and np.isfinite(got[:, mask]).all()
    np.testing.assert_allclose(got[:, mask], want[:, mask], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[2], wm.predict_sequential(4, acts[2]), rtol=1e-5, atol=1e-4)


def test_nll_without_mean_trains_only_the_variance():
    """``nll_mean=False``: the teacher-forced NLL moves the log-variance head only; the mean follows ADE/FDE."""
    torch.manual_seed(0)
    cfg = WorldModelConfig(p_max=8, window=6, horizon=4, k_max=4)
    model = StreamingWorldModel(cfg)
    torch.nn.init.normal_(model.head.weight, std=0.1)
    b = make_batch(_windows(), np.arange(6), np.random.default_rng(0), cfg.p_max, 8, cfg.horizon, cfg.dt, 0.0)
    grads = {}
    for nll_mean in (True, False):
        model.zero_grad()
        loss, _, _ = batch_loss(model, b, 0.0, nll_mean=nll_mean)  # NLL only
        loss.backward()
        grads[nll_mean] = model.head.weight.grad.clone()  # rows 0-1: mean, rows 2-3: log-variance
    assert grads[True][:2].abs().sum() > 0 and grads[False][:2].abs().sum() == 0
    assert torch.allclose(grads[True][2:], grads[False][2:])


def test_tune_keeps_the_training_scenes_val_rows_out(tmp_path):
    from training.train_world_model import training_files

    for split in ("train", "val", "test"):
        for scene in ("hotel", "eth"):
            (tmp_path / scene / split).mkdir(parents=True)
            (tmp_path / scene / split / f"{scene}_{split}.txt").write_text("")
    assert [f.name for f in training_files(tmp_path, "hotel")] == ["hotel_train.txt", "hotel_val.txt"]
    assert [f.name for f in training_files(tmp_path, "hotel", tune=True)] == ["hotel_train.txt"]


def test_robot_present_flag_per_window_kind():
    """Virtual robot 0, pedestrian-as-robot 1; robot_flag=False feeds 0 everywhere (the models before the flag)."""
    wins = _windows()
    kw = dict(p_max=32, obs=8, horizon=12, dt=0.4)
    walker = make_batch(wins, np.arange(6), np.random.default_rng(1), p_pedestrian_robot=1.0, **kw)
    virtual = make_batch(wins, np.arange(6), np.random.default_rng(1), p_pedestrian_robot=0.0, **kw)
    off = make_batch(wins, np.arange(6), np.random.default_rng(1), p_pedestrian_robot=1.0, robot_flag=False, **kw)
    assert walker.action.shape == (6, 20, 3)
    assert (walker.action[..., 2] == 1.0).all() and (virtual.action[..., 2] == 0.0).all()
    assert (off.action[..., 2] == 0.0).all()
    # the flag draws no random numbers: the same samples either way
    np.testing.assert_array_equal(off.people, walker.people)
    np.testing.assert_array_equal(off.action[..., :2], walker.action[..., :2])


def _flag_model(flag_weight: float, seed: int = 0) -> StreamingWorldModel:
    torch.manual_seed(seed)
    model = StreamingWorldModel(WorldModelConfig(p_max=8, window=6, horizon=4, k_max=4))
    with torch.no_grad():  # a head that is not zero (a trained model), and the flag column of the input layer
        model.head.weight.normal_(0.0, 0.5)
        model.embed_in.weight[:, 7] = flag_weight * torch.linspace(-1.0, 1.0, model.cfg.d_model)
    return model.eval()


def test_an_untrained_flag_weight_leaves_the_model_as_before():
    """A new model starts with the flag column at zero, the other initial weights drawn as for the 7-input model,
    and weights of a 7-input model load with the column zero."""
    torch.manual_seed(3)
    model = StreamingWorldModel(WorldModelConfig(p_max=8, window=6, horizon=4, k_max=4))
    assert model.embed_in.weight.shape[1] == 8 and (model.embed_in.weight[:, 7] == 0).all()
    torch.manual_seed(3)
    reference = torch.nn.Linear(7, 32)  # the first draw of the 7-input model
    torch.testing.assert_close(model.embed_in.weight[:, :7], reference.weight)
    old = {k: v for k, v in model.state_dict().items()}
    old["embed_in.weight"] = old["embed_in.weight"][:, :7].clone()
    other = StreamingWorldModel(WorldModelConfig(p_max=8, window=6, horizon=4, k_max=4))
    other.load_state_dict(old)
    torch.testing.assert_close(other.embed_in.weight, model.embed_in.weight)


@pytest.mark.parametrize("flag_weight", [0.0, 2.0])
def test_flipping_robot_present_changes_a_trained_flag_only(tmp_path, flag_weight):
    """Through export and the runtime: step means and rollouts differ between robot_present true and false for a
    model whose flag weight is trained (not zero), and are identical for a flag weight of zero."""
    model = _flag_model(flag_weight)
    paths = export_all(model, tmp_path, "flag", {"data": "synthetic"})
    b = make_batch(_windows(), np.arange(1), np.random.default_rng(0), 8, 8, 4, 0.4, 1.0)
    out = {}
    for present in (True, False):
        wm = WorldModel(paths["step"], backend="cpu", robot_present=present)
        means = [wm.step(b.people[0, t], b.mask[0, t], b.action[0, t, :2])[0] for t in range(8)]
        out[present] = (np.array(means), wm.rollout(4, np.array([[0.0, 0.0], [0.8, 0.2]])),
                        wm.predict_sequential(4, (0.8, 0.2)))
    diffs = [float(np.nanmax(np.abs(a - c))) for a, c in zip(out[True], out[False])]
    if flag_weight == 0.0:
        assert diffs == [0.0, 0.0, 0.0]
    else:
        assert min(diffs) > 1e-4, diffs
    # the rollout graph and the step graph agree with the flag set (same cache policy, same inputs)
    np.testing.assert_allclose(out[True][1][1], out[True][2], atol=1e-4)


def test_training_reaches_the_flag_weight():
    """One loss gradient on a batch with a perceived robot moves the flag column; one with the flag off does not."""
    model = StreamingWorldModel(WorldModelConfig(p_max=8, window=6, horizon=4, k_max=4))
    with torch.no_grad():
        model.head.weight.normal_(0.0, 0.5)
    for flag, moved in ((True, True), (False, False)):
        b = make_batch(_windows(), np.arange(6), np.random.default_rng(0), 8, 8, 4, 0.4, 1.0, robot_flag=flag)
        model.zero_grad()
        batch_loss(model, b, 1.0)[0].backward()
        grad = model.embed_in.weight.grad[:, 7]
        assert bool(grad.abs().sum() > 0) is moved
