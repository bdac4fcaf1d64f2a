"""The robot-effect head (issue #16, fifth pass): base + robot_present × effect, the base frozen.

Checked through the exported graphs and the runtime: with robot_present 0 every output is bit-identical to the
base alone (so ETH/UCY accuracy cannot change), with 1 the head moves the forecasts; ONNX equals torch; training
the head never moves a base weight; the shipped model carries a trained head.
"""
import copy
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch (training extra) not installed")
pytest.importorskip("onnx", reason="onnx not installed")

from causal_nodes.world_model.eth_ucy import Window  # noqa: E402
from causal_nodes.world_model.runtime import WorldModel  # noqa: E402
from training.dataset import make_batch  # noqa: E402
from training.export_onnx import export_all  # noqa: E402
from training.model import StreamingWorldModel, WorldModelConfig  # noqa: E402
from training.train_effect_head import without_effect  # noqa: E402

SMALL = WorldModelConfig(p_max=8, window=6, horizon=4, k_max=4)


def _windows(n: int = 3) -> list:
    """Simulator-like windows: two people walking past a robot that drives forward."""
    t = np.arange(20)[:, None]
    out = []
    for i in range(n):
        pos = np.stack([np.concatenate([8.0 - 0.4 * t, -3.0 + 0.3 * t], 1),
                        np.concatenate([1.0 + 0.1 * t, 2.0 + 0.0 * t + 0.1 * i], 1)], axis=1)
        poses = np.concatenate([0.3 * t, 0.0 * t, 0.0 * t], 1)
        actions = np.concatenate([0.75 + 0.0 * t, 0.0 * t], 1)
        out.append(Window(pos, np.ones(pos.shape[:2], dtype=bool), f"sim:test:{i}", 0.0,
                          robot_pose=poses, robot_action=actions))
    return out


def _trained_like(seed: int = 0, context: bool = True, hidden: int = 32) -> StreamingWorldModel:
    """A model whose base head and robot-effect head are both non-zero (as after training)."""
    torch.manual_seed(seed)
    model = StreamingWorldModel(WorldModelConfig(**{**SMALL.to_dict(), "effect_context": context,
                                                    "effect_hidden": hidden}))
    with torch.no_grad():
        model.head.weight.normal_(0.0, 0.5)
        model.effect.net[-1].weight.normal_(0.0, 0.5)
        model.effect.net[-1].bias.normal_(0.0, 0.2)
    return model.eval()


def _run(step_path: Path, present: bool) -> tuple[np.ndarray, ...]:
    b = make_batch(_windows(), np.arange(1), np.random.default_rng(0), 8, 8, 4, 0.4, 1.0)
    wm = WorldModel(step_path, backend="cpu", robot_present=present)
    means = np.array([wm.step(b.people[0, t], b.mask[0, t], b.action[0, t, :2])[0] for t in range(8)])
    acts = np.array([[0.0, 0.0], [0.8, 0.2], [0.4, -0.3]])
    return means, wm.rollout(4, acts), wm.predict_sequential(4, (0.8, 0.2))


@pytest.mark.parametrize("context", [True, False])
def test_flag_0_is_bit_identical_to_the_base_and_flag_1_is_not(tmp_path, context):
    """Through export and the runtime (step graph, rollout graph, a person bucket, sequential steps), with a head
    that reads the base's final token (context) and one that reads the raw inputs only."""
    model = _trained_like(context=context)
    with_head = export_all(model, tmp_path / "head", "m", {"data": "synthetic"}, buckets=(4,))
    base = export_all(without_effect(model), tmp_path / "base", "m", {"data": "synthetic"}, buckets=(4,))
    for a, b in zip(_run(with_head["step"], False), _run(base["step"], False)):
        np.testing.assert_array_equal(a, b)
    ours, theirs = _run(with_head["step"], True), _run(base["step"], True)
    assert all(float(np.nanmax(np.abs(a - b))) > 1e-3 for a, b in zip(ours, theirs))
    # with the robot present, the rollout graph and the step graph still agree (the head is in both)
    np.testing.assert_allclose(ours[1][1], ours[2], atol=1e-4)


def test_onnx_equals_torch_with_the_head(tmp_path):
    """The rollout graph's positions equal the torch rollout's with robot_present 1 (same inputs)."""
    import onnxruntime as ort

    from causal_nodes.world_model.metadata import ROLLOUT_INPUTS, ROLLOUT_OUTPUTS
    from training.export_onnx import _export, _Rollout, example_rollout_inputs

    model = _trained_like(1)
    inputs = list(example_rollout_inputs(model, 4))
    rng = torch.Generator().manual_seed(0)
    inputs[0] = torch.randn(1, 4, 4, generator=rng)
    inputs[7] = torch.rand(SMALL.k_max, SMALL.horizon, 3, generator=rng)
    inputs[7][..., 2] = 1.0
    path = tmp_path / "r.onnx"
    _export(_Rollout(model), tuple(inputs), ROLLOUT_INPUTS, ROLLOUT_OUTPUTS, path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {n: t.numpy() for n, t in zip(ROLLOUT_INPUTS, inputs)})[0]
    with torch.no_grad():
        want = model.rollout(*inputs)[0].numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
    with torch.no_grad():
        base = without_effect(model).rollout(*inputs)[0].numpy()
    assert np.abs(want - base).max() > 1e-2


def test_the_effect_is_bounded_and_an_untrained_head_is_zero():
    model = _trained_like()
    with torch.no_grad():
        model.effect.net[-1].weight.mul_(1e4)
        raw, context = torch.randn(500, 7) * 1e3, torch.randn(500, SMALL.d_model) * 1e3
        out = model.effect(raw, model.inv_scale[:7], context)
    assert float(out.abs().max()) <= model.effect.bound + 1e-6
    fresh = StreamingWorldModel(SMALL)
    assert not fresh.has_effect and model.has_effect
    with torch.no_grad():
        assert (fresh.effect(raw, fresh.inv_scale[:7], context) == 0).all()


def test_the_context_head_reads_the_base_token_and_the_plain_one_does_not():
    model, plain = _trained_like(context=True), _trained_like(context=False, hidden=16)
    assert model.effect.net[0].in_features == 7 + SMALL.d_model and plain.effect.net[0].in_features == 7
    raw = torch.randn(50, 7)
    c1, c2 = torch.randn(50, SMALL.d_model), torch.randn(50, SMALL.d_model)
    with torch.no_grad():
        assert not torch.equal(model.effect(raw, model.inv_scale[:7], c1), model.effect(raw, model.inv_scale[:7], c2))
        assert torch.equal(plain.effect(raw, plain.inv_scale[:7], c1), plain.effect(raw, plain.inv_scale[:7], c2))


@pytest.mark.parametrize("context", [True, False])
def test_checkpoints_reload_with_the_heads_shape(tmp_path, context):
    """load_checkpoint rebuilds the head's width and inputs from the weights when the config lacks them (a .pt
    written before those options), and the reloaded model predicts the same."""
    from training.export_onnx import load_checkpoint

    model = _trained_like(context=context, hidden=16)
    config = {k: v for k, v in model.cfg.to_dict().items() if not k.startswith("effect_")}
    torch.save({"config": config, "state_dict": model.state_dict()}, tmp_path / "m.pt")
    other = load_checkpoint(tmp_path / "m.pt")
    assert (other.cfg.effect_context, other.cfg.effect_hidden) == (context, 16)
    raw, token = torch.randn(20, 7), torch.randn(20, SMALL.d_model)
    with torch.no_grad():
        assert torch.equal(other.effect(raw, other.inv_scale[:7], token), model.effect(raw, model.inv_scale[:7], token))


def test_effect_scale_keeps_that_share_of_the_head_and_survives_a_checkpoint(tmp_path):
    """effect_scale multiplies the head's output (and its bound) exactly; it is saved and reloaded with the config,
    and a base checkpoint without the key loads with the whole head (scale 1)."""
    from training.export_onnx import load_checkpoint

    model = _trained_like()
    scaled = copy.deepcopy(model)
    scaled.cfg = WorldModelConfig(**{**model.cfg.to_dict(), "effect_scale": 0.25})
    scaled.effect.bound = model.effect.bound * 0.25
    raw, token = torch.randn(40, 7), torch.randn(40, SMALL.d_model)
    with torch.no_grad():
        full, part = model.effect(raw, model.inv_scale[:7], token), scaled.effect(raw, scaled.inv_scale[:7], token)
    assert float(full.abs().max()) > 1e-3
    torch.testing.assert_close(part, 0.25 * full, rtol=1e-6, atol=1e-7)
    torch.save({"config": scaled.cfg.to_dict(), "state_dict": scaled.state_dict()}, tmp_path / "s.pt")
    again = load_checkpoint(tmp_path / "s.pt")
    assert again.cfg.effect_scale == 0.25 and again.effect.bound == scaled.effect.bound
    config = {k: v for k, v in model.cfg.to_dict().items() if k != "effect_scale"}
    torch.save({"config": config, "state_dict": model.state_dict()}, tmp_path / "m.pt")
    assert load_checkpoint(tmp_path / "m.pt").effect.bound == model.effect.bound


def test_the_scale_rule_takes_the_largest_share_that_loses_no_accuracy():
    from training.scale_effect_head import no_worse

    base = {"all_base_ade": 1.0, "all_base_fde": 2.0, "near_base_ade": 1.0, "near_base_fde": 2.0}
    assert no_worse({**base, "all_model_ade": 1.0, "all_model_fde": 1.9, "near_model_ade": 0.99, "near_model_fde": 2.0})
    assert not no_worse({**base, "all_model_ade": 0.9, "all_model_fde": 1.9, "near_model_ade": 0.9,
                         "near_model_fde": 2.001})


def test_weights_without_a_head_load_with_an_all_zero_head():
    model = _trained_like()
    old = {k: v for k, v in model.state_dict().items() if not k.startswith("effect.")}
    other = StreamingWorldModel(SMALL)
    other.load_state_dict(old)
    assert not other.has_effect
    assert all((p == 0).all() for p in other.effect.parameters())


def test_effect_training_moves_the_head_only(tmp_path):
    """Two iterations of train_effect_head on simulator episodes: every base weight stays bit-identical, the head
    learns, and the export carries the training record."""
    pytest.importorskip("causal_nodes.sim", reason="simulator package not available")
    import argparse

    from training.train_effect_head import add_arguments, train

    base = _trained_like()
    with torch.no_grad():
        for p in base.effect.parameters():
            p.zero_()
    ckpt = tmp_path / "base.pt"
    torch.save({"config": base.cfg.to_dict(), "state_dict": base.state_dict()}, ckpt)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--base", str(ckpt), "--iterations", "2", "--sim-seeds", "1", "--batch", "4"])
    model = train(args)["model"]
    before = dict(base.named_parameters())
    for name, p in model.named_parameters():
        if name.startswith("effect."):
            continue
        assert torch.equal(p, before[name]), name
    assert model.has_effect


def test_the_simulator_answers_the_probe():
    """The simulator's people (the head's teacher) move clearly differently when the robot drives at them, and not
    at all between two standing branches."""
    pytest.importorskip("causal_nodes.sim", reason="simulator package not available")
    from causal_nodes.evaluation.probe_truth import simulated_robot_response

    truth = simulated_robot_response(seeds=2)
    assert truth["path_difference_m"] > 0.10 and truth["mean_path_difference_m"] > 0.10
    assert truth["min_distance_drive_m"] < truth["min_distance_stand_m"]
    assert simulated_robot_response(speed=0.0, seeds=0)["path_difference_m"] == 0.0


def test_counterfactual_windows_differ_only_by_the_robots_effect():
    """Same history; the future differs only where people see the robot. In crossing the pedestrian ignores the
    robot anyway, so the counterfactual (robot replayed by do() on its speeds, same noise) is exactly the episode:
    the replay is exact. The factual windows are those of sim_windows (sensors off changes no person)."""
    pytest.importorskip("causal_nodes.sim", reason="simulator package not available")
    from training.sim_data import counterfactual_windows, sim_windows

    for scenario, differs in (("crossing", False), ("corridor_passing", True)):
        factual, counter = counterfactual_windows([scenario], [10000], 8, 12, 0.4, duration_s=20.0)
        reference = sim_windows([scenario], [10000], 20, 0.4, duration_s=20.0)
        assert len(factual) == len(counter) == len(reference) > 0
        for f, c, r in zip(factual, counter, reference):
            np.testing.assert_array_equal(f.positions, r.positions)
            np.testing.assert_array_equal(f.positions[:8], c.positions[:8])
            np.testing.assert_array_equal(f.robot_pose, c.robot_pose)
        gap = max(float(np.abs(f.positions - c.positions).max()) for f, c in zip(factual, counter))
        assert (gap > 0.01) if differs else gap == 0.0


def test_a_short_training_moves_the_probe_the_simulators_way(tmp_path):
    """A short train_effect_head run on the shipped ETH/UCY base (one simulator seed per scenario; the head in
    models/world_model.pt is replaced by a fresh one): the probe's
    person, who with the base alone walks the same path whether the robot stands or drives at them, now moves
    differently (> 0.1 m), and at the horizon in the direction the simulator's people move (they pass the driving
    robot earlier: further along their walk), while the robot-free forecast stays the base's."""
    pytest.importorskip("causal_nodes.sim", reason="simulator package not available")
    import argparse

    from causal_nodes.evaluation.probe_truth import simulated_probe_paths
    from causal_nodes.evaluation.trajectories import robot_response_paths
    from training.train_effect_head import add_arguments, train

    base_pt = Path(__file__).resolve().parents[2] / "models" / "world_model.pt"
    if not base_pt.is_file():
        pytest.skip("models/world_model.pt not found")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--base", str(base_pt), "--iterations", "300", "--sim-seeds", "1", "--batch", "16",
                              "--lr", "1e-2", "--loss", "squared", "--no-context", "--sim-cache", str(tmp_path)])
    model = train(args)["model"]
    graphs = {name: export_all(m, tmp_path / name, "m", {"data": "test"})["step"]
              for name, m in (("head", model), ("base", without_effect(model)))}
    change = {}
    for name, path in graphs.items():
        paths = robot_response_paths(WorldModel(path, backend="cpu"))
        change[name] = paths[1] - paths[0]
    truth = simulated_probe_paths()
    truth = truth[1] - truth[0]
    assert np.linalg.norm(change["base"], axis=-1).max() < 0.03
    assert np.linalg.norm(change["head"], axis=-1).max() > 0.10
    last, want = change["head"][-1], truth[-1]
    assert float(last @ want) / (np.linalg.norm(last) * np.linalg.norm(want)) > 0.7
    for a, b in zip(_run(graphs["head"], False), _run(graphs["base"], False)):  # robot-free: the base's
        np.testing.assert_array_equal(a, b)


def test_the_shipped_models_heads_and_their_flag_0_forecasts_are_the_bases(tmp_path):
    """models/world_model.* (default: the head at the validated share, effect_scale 0.2) and world_model_robot.*
    (the whole head): both trained (probe >= 0.10 m, recorded and measured; the whole head reacts more) and, with
    robot_present 0, every forecast of their graphs (step, rollout buckets, sequential steps) is exactly that of the
    same weights with an all-zero head, i.e. of the ETH/UCY base."""
    import json

    from causal_nodes.evaluation.trajectories import robot_response_probe
    from training.export_onnx import load_checkpoint

    models = Path(__file__).resolve().parents[2] / "models"
    names = ("world_model", "world_model_robot")
    if not all((models / f"{n}.pt").is_file() and (models / f"{n}.onnx").is_file() for n in names):
        pytest.skip("shipped models not found")
    probes = {}
    for name in names:
        meta = json.loads((models / f"{name}.json").read_text())
        assert "robot_effect" in meta["training"] and load_checkpoint(models / f"{name}.pt").has_effect
        probes[name] = robot_response_probe(WorldModel(models / f"{name}.onnx", backend="cpu"))["path_difference_m"]
        assert meta["metrics"]["robot_response_probe"]["path_difference_m"] == pytest.approx(probes[name], abs=1e-6)
        assert probes[name] >= 0.10
    assert probes["world_model_robot"] > 2 * probes["world_model"]
    assert load_checkpoint(models / "world_model.pt").cfg.effect_scale == 0.2
    meta = json.loads((models / "world_model.json").read_text())
    buckets = tuple(b["people"] for b in meta["rollout_buckets"])  # the same graphs, so the same arithmetic
    base = export_all(without_effect(load_checkpoint(models / "world_model.pt")), tmp_path, "base",
                      {"data": "test"}, buckets=buckets)["step"]
    runs = [_run(models / f"{name}.onnx", False) for name in names] + [_run(base, False)]
    for a, b, c in zip(*runs):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
