"""RL components: the social-navigation env, CIP's causal analysis, swap buffer and weighted entropy."""

from __future__ import annotations

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
pytest.importorskip("causal_nodes.sim.scenario")

from causal_nodes.evaluation.rl.cip import REWARD, causal_analysis, entropy_weights  # noqa: E402
from causal_nodes.evaluation.rl.env import OBS_NAMES, SocialNavEnv  # noqa: E402


def test_env_follows_the_gymnasium_api_and_rewards_progress() -> None:
    from gymnasium.utils.env_checker import check_env

    env = SocialNavEnv()
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (len(OBS_NAMES),) and np.isfinite(obs).all()
    assert obs[0] > 7.0  # the goal is ~8 m straight ahead
    total, info = 0.0, {}
    for _ in range(150):
        obs, reward, terminated, truncated, info = env.step(np.array([1.0, 0.0]))
        total += reward
        if terminated or truncated:
            break
    assert info["reached"] or info["collision"]
    if info["reached"]:
        assert total > 10.0  # 2 * ~7.6 m of progress + bonus - discomfort
    # Standing still earns nothing but discomfort.
    env.reset(seed=3)
    still = sum(env.step(np.array([-1.0, 0.0]))[1] for _ in range(20))
    assert still <= 0.0


def test_env_is_reproducible_per_seed() -> None:
    a, b = SocialNavEnv(), SocialNavEnv()
    oa, _ = a.reset(seed=11)
    ob, _ = b.reset(seed=11)
    np.testing.assert_array_equal(oa, ob)
    for _ in range(10):
        ra = a.step(np.array([0.5, 0.2]))
        rb = b.step(np.array([0.5, 0.2]))
        np.testing.assert_array_equal(ra[0], rb[0])
        assert ra[1] == rb[1]


def test_causal_analysis_finds_the_reward_drivers_and_the_distractor() -> None:
    """Synthetic factored MDP: reward = 2 * action_0 + s_0; s_1 is an independent AR(1) distractor."""
    rng = np.random.default_rng(0)
    t_len = 1500
    actions = rng.uniform(-1, 1, size=(t_len, 2))
    s = np.zeros((t_len, 3))
    for t in range(1, t_len):
        s[t, 0] = 0.7 * s[t - 1, 0] + 0.5 * actions[t - 1, 1] + rng.normal(scale=0.3)
        s[t, 1] = 0.9 * s[t - 1, 1] + rng.normal(scale=0.3)
        s[t, 2] = 0.5 * s[t - 1, 2] + 0.5 * s[t - 1, 0] + rng.normal(scale=0.3)
    rewards = 2.0 * actions[:, 0] + s[:, 0] + rng.normal(scale=0.1, size=t_len)
    ca = causal_analysis(s, actions, rewards, ["s0", "s1", "s2"], ["a0", "a1"], bootstrap=10)
    assert ("a0", REWARD, 0) in ca.links and ("s0", REWARD, 0) in ca.links
    assert ca.action_weights["a0"] > ca.action_weights["a1"] >= 0.0
    assert ca.state_weights["s0"] > ca.state_weights["s1"]
    assert ca.state_weights["s1"] == 0.0
    assert "s1" in ca.swappable  # not an ancestor of the reward (CIP's criterion)
    assert "s0" not in ca.swappable  # feeds the reward


def test_entropy_weights_have_mean_one_and_a_floor() -> None:
    w = entropy_weights([0.3, 0.0], floor=0.2)
    assert w.mean() == pytest.approx(1.0) and w[1] == pytest.approx(0.2) and w[0] == pytest.approx(1.8)
    assert np.allclose(entropy_weights([0.0, 0.0]), [1.0, 1.0])
    with pytest.raises(ValueError):
        entropy_weights([-1.0, 1.0])


def test_swap_buffer_exchanges_only_the_irrelevant_columns() -> None:
    pytest.importorskip("stable_baselines3")
    from causal_nodes.evaluation.rl.cip import make_swap_buffer_class

    buffer_cls = make_swap_buffer_class()
    obs_space = gym.spaces.Box(-np.inf, np.inf, shape=(4,), dtype=np.float32)
    act_space = gym.spaces.Box(-1, 1, shape=(2,), dtype=np.float32)
    buf = buffer_cls(64, obs_space, act_space, device="cpu", swap_columns=[3], swap_prob=1.0, swap_seed=0)
    for i in range(64):
        o = np.array([[i, i, i, 1000 + i]], dtype=np.float32)
        buf.add(o, o + 0.5, np.array([[i / 100, -i / 100]]), np.array([float(i)]), np.array([False]), [{}])
    batch = buf.sample(32)
    obs, nxt = batch.observations.numpy(), batch.next_observations.numpy()
    rows = obs[:, 0].astype(int)
    np.testing.assert_allclose(batch.rewards.numpy()[:, 0], rows)  # reward and action stay with their row
    np.testing.assert_allclose(batch.actions.numpy()[:, 0], rows / 100, atol=1e-6)
    np.testing.assert_allclose(obs[:, :3], nxt[:, :3] - 0.5)
    partner = obs[:, 3] - 1000
    np.testing.assert_allclose(nxt[:, 3] - 1000.5, partner)  # s and s' swapped with the same partner
    assert np.any(partner != rows) and buf.swapped == 32
    with pytest.raises(ValueError, match="out of range"):
        buffer_cls(8, obs_space, act_space, device="cpu", swap_columns=[7])


def test_weighted_entropy_changes_only_the_log_prob_weighting() -> None:
    pytest.importorskip("stable_baselines3")
    import torch
    from stable_baselines3 import SAC

    from causal_nodes.evaluation.rl.cip import apply_action_weights

    env = SocialNavEnv()
    model = SAC("MlpPolicy", env, learning_starts=10, policy_kwargs=dict(net_arch=[8]), seed=0)
    obs = torch.as_tensor(env.reset(seed=0)[0][None])
    mean, log_std, _ = model.actor.get_action_dist_params(obs)
    torch.manual_seed(0)
    _, plain = model.actor.action_dist.log_prob_from_params(mean, log_std)
    apply_action_weights(model, [1.0, 1.0])
    torch.manual_seed(0)
    _, unit = model.actor.action_dist.log_prob_from_params(mean, log_std)
    assert torch.allclose(plain, unit, atol=1e-5)
    apply_action_weights(model, [2.0, 0.0])
    torch.manual_seed(0)
    actions, weighted = model.actor.action_dist.log_prob_from_params(mean, log_std)
    assert not torch.allclose(plain, weighted)
    with pytest.raises(ValueError, match="weights"):
        apply_action_weights(model, [1.0, 1.0, 1.0])
