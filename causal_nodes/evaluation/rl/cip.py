"""CIP components (Causal Information Prioritization, ICLR 2025) on top of stable-baselines3 SAC.

1. **Causal analysis** (:func:`causal_analysis`): from transitions of a random policy, discover the lagged graph
   over state factors, action dimensions and the reward (PCMCI via :mod:`causal_nodes.discovery.discover`) and run
   the prioritizer with ``target="reward"``: weights of state factors and of action dimensions by their total
   causal effect on the reward, plus the set of state factors that are causally *disconnected* from the reward.
2. **Counterfactual augmentation** (:class:`CounterfactualSwapBuffer`): in a factored MDP a factor that neither
   influences the reward (nor the factors that do) nor is influenced by them can be exchanged between two
   transitions and the result is still a valid transition.  The buffer swaps those factors (in ``s`` and ``s'``
   together) between random pairs of a sampled batch, for a fraction ``swap_prob`` of it.  Swapped factors are
   those that are not ancestors of the reward in the oriented discovered graph (CIP's criterion).  A stricter
   criterion (no possible ancestor among the reward's possible ancestors either) is the textbook condition,
   but on random-policy data PCMCI finds spurious lag-0 links between slow AR distractors and trending
   geometric factors, which left nothing to swap in 2 of 3 seeds.
3. **Causally weighted exploration** (:func:`apply_action_weights`): CIP's causality-aware empowerment
   prioritises exploring the action dimensions with high causal influence on the reward.  Here the SAC entropy
   term is weighted per action dimension, ``log pi(a|s) = sum_d w_d log pi_d(a_d|s)`` with ``mean(w) = 1``, so
   dimensions with more causal influence get a larger entropy bonus (a simplification of CIP's empowerment
   term, documented in docs/prioritization.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from causal_nodes.prioritization import PrioritizerConfig, ancestors, build_directed_graph, prioritize
from causal_nodes.prioritization.graph import normalize_link

REWARD = "reward"


@dataclass
class CausalAnalysis:
    """What the causal analysis found: weights (sum 1 over state+action names) and the swappable factors."""

    names: list[str]
    state_weights: dict[str, float]
    action_weights: dict[str, float]
    swappable: list[str]
    links: list[tuple[str, str, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def collect_random_transitions(env: Any, steps: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observations ``(T, S)``, actions ``(T, A)`` and rewards ``(T,)`` of a uniformly random policy.

    Row t holds ``s_t, a_t, r_t`` (reward of taking a_t in s_t); episodes are concatenated.
    """
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    rows_s, rows_a, rows_r = [], [], []
    for _ in range(steps):
        action = env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        rows_s.append(np.asarray(obs, dtype=float))
        rows_a.append(np.asarray(action, dtype=float))
        rows_r.append(float(reward))
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
    return np.array(rows_s), np.array(rows_a), np.array(rows_r)


def causal_analysis(
    observations: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    state_names: Sequence[str],
    action_names: Sequence[str],
    *,
    tau_max: int = 1,
    alpha_level: float = 0.001,
    bootstrap: int = 30,
    horizon: int = 10,
    seed: int = 0,
) -> CausalAnalysis:
    """Discover the graph over (state, action, reward) and derive CIP weights and the swappable factors.

    Weights are total effects on the reward averaged over ``horizon`` steps of a sustained shift, so delayed
    effects count (steering changes the reward only through the heading, a few steps later).
    """
    from causal_nodes.discovery.discover import DiscoveryConfig, discover

    names = list(state_names) + list(action_names) + [REWARD]
    data = np.column_stack([observations, actions, rewards])
    if data.shape[1] != len(names):
        raise ValueError(f"data has {data.shape[1]} columns for {len(names)} names")
    result = discover(data, names, DiscoveryConfig(method="pcmci", tau_min=0, tau_max=tau_max,
                                                   alpha_level=alpha_level))
    links = result.links()
    keys = [normalize_link(link)[:3] for link in links]
    kept = result.variables
    res = prioritize(data[:, [names.index(v) for v in kept]], kept, links, REWARD,
                     [a for a in action_names if a in kept],
                     PrioritizerConfig(horizon=horizon, bootstrap=bootstrap, seed=seed, effect_at="mean",
                                       local_weighting="none", effect_model="linear"))
    weights = {p.variable: p.weight for p in res.priorities}
    # Swappable (CIP's criterion): state factors that are not ancestors of the reward in the oriented graph.
    graph = build_directed_graph(links, kept, target=REWARD, actionable=[a for a in action_names if a in kept])
    relevant = ancestors(graph, REWARD)
    swappable = [s for s in state_names if s in kept and s not in relevant]
    return CausalAnalysis(
        names=names,
        state_weights={s: weights.get(s, 0.0) for s in state_names},
        action_weights={a: weights.get(a, 0.0) for a in action_names},
        swappable=swappable,
        links=keys,
        warnings=list(res.warnings),
    )


def entropy_weights(action_weights: Sequence[float], floor: float = 0.2) -> np.ndarray:
    """Per-dimension entropy weights with mean 1: ``floor`` of uniform mixed with the causal weights.

    The floor keeps every dimension explorable (a weight of 0 would remove its entropy bonus entirely).
    """
    w = np.asarray(action_weights, dtype=float)
    if w.ndim != 1 or w.size == 0 or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError(f"action weights must be a non-empty vector of finite values >= 0, got {action_weights}")
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"floor must be in [0, 1], got {floor}")
    share = w / w.sum() if w.sum() > 0 else np.full(w.size, 1.0 / w.size)
    mixed = floor / w.size + (1.0 - floor) * share
    return mixed * w.size


def _sb3() -> Any:
    import stable_baselines3.common.buffers as buffers
    import stable_baselines3.common.distributions as distributions

    return buffers, distributions


def make_swap_buffer_class() -> type:
    """The replay buffer class (built lazily so this module imports without stable-baselines3/torch)."""
    buffers, _ = _sb3()

    class CounterfactualSwapBuffer(buffers.ReplayBuffer):
        """Replay buffer whose samples exchange reward-irrelevant state factors between random pairs."""

        def __init__(self, *args: Any, swap_columns: Sequence[int] = (), swap_prob: float = 0.5,
                     swap_seed: int = 0, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if not 0.0 <= swap_prob <= 1.0:
                raise ValueError(f"swap_prob must be in [0, 1], got {swap_prob}")
            obs_dim = int(np.prod(self.obs_shape))
            bad = [c for c in swap_columns if not 0 <= int(c) < obs_dim]
            if bad:
                raise ValueError(f"swap_columns {bad} out of range for {obs_dim} observation dimensions")
            self.swap_columns = np.asarray(list(swap_columns), dtype=int)
            self.swap_prob = float(swap_prob)
            self._swap_rng = np.random.default_rng(swap_seed)
            self.swapped = 0

        def _get_samples(self, batch_inds: np.ndarray, env: Any | None = None) -> Any:
            samples = super()._get_samples(batch_inds, env)
            n = samples.observations.shape[0]
            if self.swap_columns.size == 0 or self.swap_prob == 0.0 or n < 2:
                return samples
            chosen = np.flatnonzero(self._swap_rng.random(n) < self.swap_prob)
            if chosen.size == 0:
                return samples
            partners = self._swap_rng.integers(0, n, size=chosen.size)
            obs, next_obs = samples.observations.clone(), samples.next_observations.clone()
            rows = self.to_torch(chosen).long()[:, None]
            src = self.to_torch(partners).long()[:, None]
            cols = self.to_torch(self.swap_columns).long()[None, :]
            obs[rows, cols] = samples.observations[src, cols]
            next_obs[rows, cols] = samples.next_observations[src, cols]
            self.swapped += int(chosen.size)
            return samples._replace(observations=obs, next_observations=next_obs)

    return CounterfactualSwapBuffer


def apply_action_weights(model: Any, weights: Sequence[float]) -> None:
    """Make an SB3 SAC model's log-probabilities (hence its entropy bonus) weighted per action dimension."""
    import torch as th

    _, distributions = _sb3()
    w = th.as_tensor(np.asarray(weights, dtype=np.float32), device=model.device)
    actor = model.actor
    dist = actor.action_dist
    if not isinstance(dist, distributions.SquashedDiagGaussianDistribution):
        raise ValueError(f"expected SAC's squashed Gaussian policy, got {type(dist).__name__}")
    if w.numel() != dist.action_dim:
        raise ValueError(f"{w.numel()} weights for {dist.action_dim} action dimensions")

    def weighted_log_prob(actions: Any, gaussian_actions: Any = None) -> Any:
        if gaussian_actions is None:
            gaussian_actions = distributions.TanhBijector.inverse(actions)
        per_dim = dist.distribution.log_prob(gaussian_actions) - th.log(1 - actions**2 + dist.epsilon)
        return (per_dim * w).sum(dim=1)

    dist.log_prob = weighted_log_prob  # instance attribute: only this model's actor changes
