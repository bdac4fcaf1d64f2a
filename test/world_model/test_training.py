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
            for name in ("head.weight", "layers.0.age_k.weight", "layers.1.age_v.weight", "layers.0.qkv_s.weight"):
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
        mean, _ = wm.step(b.people[0, t], b.mask[0, t], b.action[0, t])
    assert np.isfinite(mean[b.mask[0, 7]]).all()


def test_simulator_windows_have_a_real_robot():
    pytest.importorskip("causal_nodes.sim", reason="simulator package not available")
    from training.sim_data import sim_windows

    wins = sim_windows(["crossing"], [0], length=20, dt=0.4, duration_s=12.0, stride=5)
    assert len(wins) >= 2 and wins[0].robot_pose.shape == (20, 3) and wins[0].robot_action.shape == (20, 2)
    b = make_batch(wins, np.arange(len(wins)), np.random.default_rng(0), 32, 8, 12, 0.4, p_pedestrian_robot=1.0)
    # the sim robot is used as is (never replaced by a pedestrian): people count is unchanged
    assert b.mask[:, 7].sum(axis=1).tolist() == [wins[0].positions.shape[1]] * len(wins)
    np.testing.assert_allclose(b.action, np.stack([w.robot_action for w in wins]), atol=1e-5)
