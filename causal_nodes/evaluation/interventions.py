"""Check predicted intervention effects against the simulator's interventional truth.

Protocol per episode (seed): run the scenario observationally for ``warmup + observe`` steps; discover the
graph on the last ``observe`` samples; let :func:`prioritize` propose candidates ``do(X := v)`` with predicted
effects (``start="last"``: from the final state of the window); then, from an exact copy of the simulator at
that moment, apply each candidate for the next ``horizon`` steps and measure the target at step ``horizon``
minus the target of a copy without intervention.  The simulators draw their random numbers independently of
the state, so the two copies share every random draw (common random numbers) and differ only by the
intervention's effect; this is repeated for ``futures`` reseeded noise futures and averaged, which measures
the expected effect (what the model predicts) rather than one noisy realisation.  Predicted and real effects
are compared with Kendall's tau and sign agreement.

Sign accuracy is computed over pairs whose real effect is not negligible: ``|real| >= min_effect_fraction *
max |real|`` of the episode (a sign of a zero effect is noise, not a prediction to check).

Optional parts of the kinematic effect model, as the node has them: ``person_motion="world_model"`` with
``world_model`` (a step ONNX) streams every person and the robot through the world model during the window (at
the model's step, as the node does from ``/people`` and ``/odom``) and forecasts the subject with it;
``planned_commands`` gives the prioritizer the robot's plan, emulated as the commands the simulated robot's
controller executes over the horizon in a copy without intervention (noise future 0) -- what a local planner
that predicts its own controller publishes, as ``nav_msgs/Path``, to the node.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from causal_nodes.prioritization.kinematics import PlanarScene
from causal_nodes.prioritization.prioritizer import PrioritizerConfig, prioritize


@dataclass(frozen=True)
class VerificationConfig:
    horizon: int = 10
    observe_steps: int = 500
    warmup_steps: int = 50
    episodes: int = 3
    futures: int = 20
    seed: int = 0
    bootstrap: int = 50
    candidate_values: int = 5
    tau_max: int = 3
    pc_alpha: float | None = 0.2
    alpha_level: float = 0.01
    method: str = "pcmci"
    min_effect_fraction: float = 0.05
    use_true_graph: bool = False
    local_weighting: str = "none"
    local_span: float = 0.3
    effect_model: str = "linear"
    person_motion: str = "constant_velocity"
    world_model: str = ""
    """Step ONNX of the world model streamed during the window (``person_motion="world_model"``); '' = none."""
    planned_commands: bool = False

    def __post_init__(self) -> None:
        if self.person_motion == "world_model" and not self.world_model:
            raise ValueError("person_motion world_model needs world_model (the path of a world-model ONNX)")
        if self.episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {self.episodes}")
        if self.observe_steps < 20:
            raise ValueError(f"observe_steps must be >= 20, got {self.observe_steps}")
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {self.horizon}")


@dataclass
class EpisodeOutcome:
    seed: int
    links: int
    candidates: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kendall_tau: float = math.nan
    discovery_seconds: float = 0.0
    prioritize_seconds: float = 0.0


def read_sample(sim: Any, variables: Sequence[str]) -> np.ndarray:
    """Current values of ``variables`` from a physical or SCM simulator."""
    from causal_nodes.sim.scm import SCMSimulator

    if isinstance(sim, SCMSimulator):
        index = {n: i for i, n in enumerate(sim.variables)}
        values = sim.values()
        return np.array([values[index[v]] for v in variables], dtype=float)
    from causal_nodes.sim.truth_variables import state_variables

    state = state_variables(sim)
    return np.array([state[v] for v in variables], dtype=float)


def scene_of(sim: Any) -> PlanarScene | None:
    """The robot pose and subject person of a physical simulator now (None for an SCM simulator)."""
    if not hasattr(sim, "robot_pose"):
        return None
    i = sim.subject
    return PlanarScene(tuple(sim.robot_pose), tuple(sim.positions[i]), tuple(sim.velocities[i]), sim.dt)


def _fill_gaps(window: np.ndarray) -> np.ndarray:
    """Forward-fill NaN (e.g. image_motion before the second frame) so discovery gets finite data."""
    out = window.copy()
    for j in range(out.shape[1]):
        col = out[:, j]
        bad = ~np.isfinite(col)
        if bad.all():
            col[:] = 0.0
        elif bad.any():
            idx = np.where(~bad, np.arange(col.size), 0)
            np.maximum.accumulate(idx, out=idx)
            first = np.flatnonzero(~bad)[0]
            col[:] = col[idx]
            col[:first] = col[first]
    return out


def _discover_links(window: np.ndarray, names: list[str], cfg: VerificationConfig) -> tuple[list, float]:
    from causal_nodes.discovery.discover import DiscoveryConfig, discover

    result = discover(
        window,
        names,
        DiscoveryConfig(method=cfg.method, tau_max=cfg.tau_max, pc_alpha=cfg.pc_alpha, alpha_level=cfg.alpha_level),
    )
    return result.links(), result.seconds


def _reseed(sim: Any, seed: int) -> None:
    """Give every random generator of a simulator copy a fresh stream (a different noise future).

    Why: with a single future, the real effect contains that future's noise in the clamped variable's own path
    (its baseline is random, the model's is the expectation); averaging over several futures measures the
    expected interventional effect the model predicts.  Generators are found generically (any attribute that
    is a numpy Generator), so this does not depend on the simulator's private names.
    """
    seeds = np.random.SeedSequence(seed)
    generators = [k for k, v in sorted(vars(sim).items()) if isinstance(v, np.random.Generator)]
    for name, child in zip(generators, seeds.spawn(len(generators))):
        setattr(sim, name, np.random.default_rng(child))


def intervened_twin(
    sim: Any, variable: str | None, value: float, horizon: int, future: int,
    on_step: Callable[[Any], None] | None = None,
) -> Any:
    """A copy of ``sim`` on noise future ``future``, stepped ``horizon`` times under ``do(variable := value)``
    (``variable=None``: no intervention); ``on_step`` sees the copy after every step."""
    from causal_nodes.sim.interventions import Intervention

    twin = copy.deepcopy(sim)
    _reseed(twin, future)
    if variable is not None:
        k0 = twin.step_index
        window = dict(start=(k0 + 1) * twin.dt, end=(k0 + horizon + 1) * twin.dt)  # steps k0+1 .. k0+horizon
        twin.apply_intervention(Intervention(variable, value, **window))
    for _ in range(horizon):
        twin.step()
        if on_step is not None:
            on_step(twin)
    return twin


def _measure(
    sim: Any, variable: str | None, value: float, horizon: int, target_index: int, names: list[str], future: int
) -> float:
    return float(read_sample(intervened_twin(sim, variable, value, horizon, future), names)[target_index])


def observe_episode(scenario: Any, cfg: VerificationConfig, seed: int,
                    on_step: Callable[[Any], None] | None = None) -> tuple[Any, np.ndarray, list, float]:
    """Run the scenario observationally (warm-up, then the window) and get its graph.

    Returns the simulator at the end of the window, the window ``(observe_steps, N)`` (gaps forward-filled), the
    links (discovered, or the truth with ``use_true_graph``) and the discovery time in seconds. ``on_step`` sees
    the simulator after every step of the window.
    """
    names = list(scenario.variables)
    sim = scenario.make_simulator(seed)
    for _ in range(cfg.warmup_steps):
        sim.step()
    rows = []
    for _ in range(cfg.observe_steps):
        sim.step()
        rows.append(read_sample(sim, names))
        if on_step is not None:
            on_step(sim)
    window = _fill_gaps(np.array(rows))
    if cfg.use_true_graph:
        return sim, window, [(s, t, lag) for s, t, lag in scenario.ground_truth()], 0.0
    links, seconds = _discover_links(window, names, cfg)
    return sim, window, links, seconds


def planned_commands(sim: Any, horizon: int) -> np.ndarray:
    """The robot's commands ``(H, 2)`` over the next ``horizon`` steps in a copy without intervention (future 0):
    the plan of a local planner that knows its own controller."""
    commands: list[tuple[float, float]] = []
    intervened_twin(sim, None, 0.0, horizon, 0, on_step=lambda t: commands.append((t.robot_speed, t.robot_yaw_rate)))
    return np.array(commands)


class WorldModelFeed:
    """Streams a physical simulator's people and robot into the world model, as the prioritizer node does from
    ``/people`` and ``/odom`` (decimated to the model's step), and forecasts the subject at the window's end."""

    def __init__(self, model_path: str) -> None:
        from causal_nodes.prioritization.world_paths import WorldModelPaths

        self.world = WorldModelPaths(model_path, 12)

    def reset(self) -> None:
        self.world.stream.reset()
        self.world.pose = None

    def __call__(self, sim: Any) -> None:
        self.world.update(sim.time, [tuple(p) for p in sim.positions], tuple(float(v) for v in sim.robot_pose),
                          (float(sim.robot_speed), float(sim.robot_yaw_rate)), "odom")

    def forecast(self, scene: PlanarScene, stamp: float) -> Any:
        return self.world.person_forecast(scene.person_xy, stamp, scene.dt)


def run_episode(
    scenario: Any, target: str, actionable: Sequence[str], cfg: VerificationConfig, seed: int,
    feed: WorldModelFeed | None = None,
) -> EpisodeOutcome:
    names = list(scenario.variables)
    if feed is not None:
        feed.reset()
    sim, window, links, disc_s = observe_episode(scenario, cfg, seed, on_step=feed)
    pcfg = PrioritizerConfig(
        horizon=cfg.horizon, bootstrap=cfg.bootstrap, candidate_values=cfg.candidate_values, seed=seed, start="last",
        local_weighting=cfg.local_weighting, local_span=cfg.local_span, effect_model=cfg.effect_model,
        person_motion=cfg.person_motion,
    )
    scene = scene_of(sim)
    if scene is not None:
        forecast = feed.forecast(scene, sim.time) if feed is not None else None
        plan = planned_commands(sim, cfg.horizon) if cfg.planned_commands else None
        scene = replace(scene, person_forecast=forecast, planned_commands=plan)
    res = prioritize(window, names, links, target, list(actionable), pcfg, scene=scene)
    tgt = names.index(target)
    futures = [seed * 1000 + f for f in range(cfg.futures)]
    baseline = [_measure(sim, None, 0.0, cfg.horizon, tgt, names, f) for f in futures]
    out = EpisodeOutcome(seed, len(links), warnings=list(res.warnings), discovery_seconds=disc_s,
                         prioritize_seconds=res.seconds)
    for c in res.candidates:
        real = float(np.mean([
            _measure(sim, c.variable, c.value, cfg.horizon, tgt, names, f) - b for f, b in zip(futures, baseline)
        ]))
        out.candidates.append(dict(variable=c.variable, value=c.value, predicted=c.predicted_effect,
                                   predicted_std=c.predicted_effect_std, real=real, rank=c.rank))
    if len(out.candidates) >= 2:
        out.kendall_tau = float(kendalltau([c["predicted"] for c in out.candidates],
                                           [c["real"] for c in out.candidates])[0])
    return out


def summarize(episodes: list[EpisodeOutcome], min_effect_fraction: float) -> dict:
    """Pooled Kendall tau and sign accuracy over all episodes' candidates (see the module docstring)."""
    pred, real, sign_hits, sign_n = [], [], 0, 0
    for ep in episodes:
        if not ep.candidates:
            continue
        r = np.array([c["real"] for c in ep.candidates])
        p = np.array([c["predicted"] for c in ep.candidates])
        pred.extend(p.tolist())
        real.extend(r.tolist())
        keep = np.abs(r) >= min_effect_fraction * np.max(np.abs(r)) if np.any(r != 0) else np.zeros(r.size, bool)
        sign_hits += int(np.sum(np.sign(p[keep]) == np.sign(r[keep])))
        sign_n += int(keep.sum())
    taus = [ep.kendall_tau for ep in episodes if math.isfinite(ep.kendall_tau)]
    tau = float(kendalltau(pred, real)[0]) if len(pred) >= 2 else math.nan
    return {
        "kendall_tau": tau,
        "kendall_tau_per_episode_mean": float(np.mean(taus)) if taus else math.nan,
        "sign_accuracy": sign_hits / sign_n if sign_n else math.nan,
        "sign_n": sign_n,
        "n": len(pred),
        "mean_abs_error": float(np.mean(np.abs(np.array(pred) - np.array(real)))) if pred else math.nan,
    }


def verify_scenario(
    scenario: Any, target: str, actionable: Sequence[str], cfg: VerificationConfig = VerificationConfig()
) -> dict:
    """Run ``cfg.episodes`` episodes (seeds ``cfg.seed + k``) and summarise predicted vs. real effects."""
    names = list(scenario.variables)
    if target not in names:
        raise ValueError(f"target {target!r} is not a variable of scenario {scenario.name!r}; known: {names}")
    bad = [a for a in actionable if a not in names]
    if bad:
        raise ValueError(f"actionable {bad} not variables of scenario {scenario.name!r}; known: {names}")
    feed = WorldModelFeed(cfg.world_model) if cfg.world_model and scenario.kind == "physical" else None
    episodes = [run_episode(scenario, target, actionable, cfg, cfg.seed + k, feed) for k in range(cfg.episodes)]
    summary = summarize(episodes, cfg.min_effect_fraction)
    truth = scenario.ground_truth()
    summary.update(
        scenario=scenario.name,
        target=target,
        actionable=list(actionable),
        horizon=cfg.horizon,
        graph="true" if cfg.use_true_graph else "discovered",
        local_weighting=cfg.local_weighting,
        local_span=cfg.local_span,
        effect_model=cfg.effect_model,
        person_motion=cfg.person_motion,
        world_model=cfg.world_model,
        planned_commands=cfg.planned_commands,
        episodes=[
            dict(seed=e.seed, links=e.links, kendall_tau=e.kendall_tau, warnings=e.warnings,
                 discovery_seconds=e.discovery_seconds, prioritize_seconds=e.prioritize_seconds,
                 candidates=e.candidates)
            for e in episodes
        ],
        true_ancestors_of_target=sorted(ancestors_of(truth, target)),
    )
    return summary


def ancestors_of(links: Any, target: str) -> set[str]:
    parents: dict[str, set[str]] = {}
    for s, t, _lag in links:
        parents.setdefault(t, set()).add(s)
    out: set[str] = set()
    stack = [target]
    while stack:
        for p in parents.get(stack.pop(), ()):
            if p not in out:
                out.add(p)
                stack.append(p)
    out.discard(target)
    return out
