"""Causal prioritisation: weights of variables by their total causal effect on a target, and ranked
candidate interventions ``do(actionable := value)`` with predicted effects (after CIP, ICLR 2025).

Definitions (also in docs/prioritization.md):

* **Total effect over the horizon** of variable ``X`` on target ``Y``: the change of ``Y`` at step ``H``
  under the sustained shift ``do(X_t := X_t + 1)`` for ``t = 1..H``, relative to no intervention, in
  the fitted linear lagged SEM.  For a linear model this equals the sum of the impulse responses at lags
  ``0..H-1``, i.e. the effect summed over all causal paths and all lags within the horizon
  (``effect_at="mean"`` averages the change over steps ``1..H`` instead).
* **Predicted effect** of a candidate ``do(X := v)``: ``X`` held at ``v`` for ``H`` steps from the start
  state (the last samples of the window, or the window mean with ``start="mean"``), and the change of
  ``Y`` at step ``H`` (or averaged over the horizon) relative to the model's forecast without the
  intervention.
* **Uncertainty**: standard deviation over moving-block bootstrap refits of the SEM (seeded), estimated
  robustly as ``1.4826 * MAD`` (a few explosive refits of a near-integrating process must not dominate it).
* **Weights** (CIP-style): ``|total effect| * std(X) / std(Y)`` (effect of a one-standard-deviation
  change, unit-free so variables in different units compare), normalised to sum to 1; uniform if all zero.
* **Objective** for ranking candidates: lower confidence bound
  ``score = s * predicted_effect - risk_aversion * predicted_effect_std`` with ``s = +1`` for
  ``goal="maximize"`` and ``s = -1`` for ``goal="minimize"``; rank 1 = highest score.
* **Effect model**: ``"linear"`` propagates the SEM alone (differences, exact for a linear model);
  ``"kinematic"`` (with a :class:`~.kinematics.PlanarScene`) simulates the SEM with intercepts and lets the
  robot's commands move a unicycle, recomputing distance and collision risk from the geometry every step
  (:mod:`.kinematics`); total effects are then finite-difference slopes (shift 0.1 window-std).
* **Candidate set** (recall first, as in causal bandits: a missed edge can hide the best arm, an extra
  one only costs samples): actionable variables that are *possible* ancestors of the target (undirected
  lag-0 links counted both ways), each at ``candidate_values`` quantiles of its observed window range.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from causal_nodes.choices import Choice

from .bootstrap import block_bootstrap_weights
from .graph import DirectedGraph, UndirectedPolicy, ancestors, build_directed_graph
from .interventions import simulate_clamped
from .kinematics import (
    COMMANDS,
    GEOMETRIC,
    EffectModel,
    KinematicCoupling,
    PersonMotion,
    PlanarScene,
    kinematic_columns,
)
from .lagged_sem import LaggedSEM, LocalWeighting, fit_lagged_sem, local_row_weights


class Goal(Choice):
    """Whether the interventions should raise or lower the target."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


class EffectAt(Choice):
    """An effect is the target's change at the horizon's last step, or its mean over the horizon."""

    FINAL = "final"
    MEAN = "mean"


class Start(Choice):
    """The forecasts start from the window's last samples, or from its mean."""

    LAST = "last"
    MEAN = "mean"


class CandidateSpacing(Choice):
    """Candidate values evenly spaced over the observed range, or at the window's quantiles."""

    EVEN = "even"
    QUANTILE = "quantile"


@dataclass(frozen=True)
class PrioritizerConfig:
    """Parameters of :func:`prioritize` (validated on construction), and the one set of defaults: the
    prioritizer node's parameters, its params YAML and the README cite these.

    The choices accept their names as strings (params files, the CLI) and are stored as their enums.
    """

    horizon: int = 10
    goal: Goal = Goal.MAXIMIZE
    bootstrap: int = 100
    candidate_values: int = 5
    quantile_low: float = 0.05
    quantile_high: float = 0.95
    block_length: int | None = None
    risk_aversion: float = 1.0
    effect_at: EffectAt = EffectAt.FINAL
    start: Start = Start.LAST
    undirected: UndirectedPolicy = UndirectedPolicy.ORIENT
    local_weighting: LocalWeighting = LocalWeighting.STATE
    local_span: float = 0.3
    effect_model: EffectModel = EffectModel.KINEMATIC
    person_motion: PersonMotion = PersonMotion.CONSTANT_VELOCITY
    candidate_spacing: CandidateSpacing = CandidateSpacing.EVEN
    seed: int = 0

    def __post_init__(self) -> None:
        for name, kind in (("goal", Goal), ("effect_at", EffectAt), ("start", Start),
                           ("undirected", UndirectedPolicy), ("local_weighting", LocalWeighting),
                           ("effect_model", EffectModel), ("person_motion", PersonMotion),
                           ("candidate_spacing", CandidateSpacing)):
            object.__setattr__(self, name, kind.parse(getattr(self, name), name))
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1 step, got {self.horizon}")
        if self.bootstrap < 0:
            raise ValueError(f"bootstrap replicas must be >= 0, got {self.bootstrap}")
        if self.candidate_values < 1:
            raise ValueError(f"candidate_values must be >= 1, got {self.candidate_values}")
        if not 0.0 <= self.quantile_low <= self.quantile_high <= 1.0:
            raise ValueError(
                f"need 0 <= quantile_low <= quantile_high <= 1, got {self.quantile_low}, {self.quantile_high}"
            )
        if self.risk_aversion < 0:
            raise ValueError(f"risk_aversion must be >= 0, got {self.risk_aversion}")
        if not 0.0 < self.local_span <= 1.0:
            raise ValueError(f"local_span must be in (0, 1], got {self.local_span}")


@dataclass(frozen=True)
class Priority:
    variable: str
    actionable: bool
    total_effect: float
    total_effect_std: float
    weight: float
    is_ancestor: bool


@dataclass(frozen=True)
class Candidate:
    variable: str
    value: float
    predicted_effect: float
    predicted_effect_std: float
    score: float
    rank: int


@dataclass
class PrioritizationResult:
    target: str
    horizon: int
    goal: Goal
    priorities: list[Priority]
    candidates: list[Candidate]
    warnings: list[str] = field(default_factory=list)
    graph: DirectedGraph = field(default_factory=DirectedGraph)
    sem: LaggedSEM | None = None
    seconds: float = 0.0

    @property
    def empty_graph(self) -> bool:
        return not self.graph.edges


def _validate_inputs(
    data: np.ndarray, names: Sequence[str], target: str, actionable: Sequence[str]
) -> np.ndarray:
    arr = np.asarray(data, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"data must be a 2-D array (T, N), got shape {arr.shape}")
    if arr.shape[1] != len(names):
        raise ValueError(f"data has {arr.shape[1]} columns but {len(names)} names were given")
    if len(set(names)) != len(names):
        raise ValueError(f"variable names must be unique, got {list(names)}")
    known = sorted(names)
    if target not in names:
        raise ValueError(f"target {target!r} is not a variable of the window; known variables: {known}")
    unknown = [a for a in actionable if a not in names]
    if unknown:
        raise ValueError(f"actionable variable(s) {unknown} not in the window; known variables: {known}")
    if target in actionable:
        raise ValueError(f"target {target!r} cannot also be actionable")
    return arr


def _start_history(
    data: np.ndarray, max_lag: int, start: Start, warnings: list[str], names: Sequence[str]
) -> np.ndarray:
    """Start state of the forecasts: last ``max_lag`` rows (NaN → window mean) or the window mean."""
    with np.errstate(all="ignore"):
        means = np.nanmean(np.where(np.isfinite(data), data, np.nan), axis=0)
    missing = [n for n, m in zip(names, means) if not np.isfinite(m)]
    if missing:
        warnings.append(f"no finite samples of {missing} in the window; their start value is taken as 0")
    means = np.where(np.isfinite(means), means, 0.0)
    if start is Start.MEAN:
        return np.tile(means, (max_lag, 1))
    last = data[-max_lag:].copy()
    return np.where(np.isfinite(last), last, means[None, :])


def _candidate_grid(
    column: np.ndarray, count: int, low: float, high: float, spacing: CandidateSpacing = CandidateSpacing.EVEN
) -> np.ndarray:
    """Candidate values of one actionable variable within its ``[low, high]`` quantile range of the window.

    ``even``: equally spaced over the range (a robot chooses among actions it can take; quantiles bunch up where
    it spends its time, e.g. three candidates at a turn rate of ~0 that all do the same); ``quantile``: the
    window's quantiles.
    """
    finite = column[np.isfinite(column)]
    if finite.size == 0:
        return np.zeros(0)
    if spacing is CandidateSpacing.EVEN:
        grid = np.linspace(*np.quantile(finite, [low, high]), count)
    else:
        grid = np.quantile(finite, np.linspace(low, high, count))
    # Values closer than 0.1 % of the grid's span are one candidate (a nearly constant variable gives one).
    tol = 1e-3 * (grid[-1] - grid[0])
    keep = [grid[0]]
    for v in grid[1:]:
        if v - keep[-1] > tol:
            keep.append(v)
    return np.array(keep)


def robust_std(replicas: np.ndarray) -> np.ndarray:
    """Standard deviation over bootstrap replicas (axis 0), estimated as ``1.4826 * MAD``.

    Why not the plain std: a near-integrating variable (a distance) makes a few bootstrap refits explosive
    over the horizon, and those few replicas would dominate a plain std by orders of magnitude; the MAD-based
    estimate equals the std for Gaussian spread and ignores such outliers.
    """
    med = np.median(replicas, axis=0)
    return 1.4826 * np.median(np.abs(replicas - med), axis=0)


def _cip_weights(
    arr: np.ndarray, columns: list[int], target_col: int, effects: np.ndarray, warnings: list[str], target: str
) -> np.ndarray:
    """``|effect| * std(X) / std(target)`` normalised to sum 1 (uniform, with a warning, when all are zero)."""
    with np.errstate(all="ignore"):
        sd = np.nanstd(arr, axis=0)
    sd = np.where(np.isfinite(sd), sd, 0.0)
    scale = sd[target_col] if sd[target_col] > 0 else 1.0
    standardized = np.abs(effects) * sd[columns] / scale
    total = standardized.sum()
    if total > 0:
        return standardized / total
    warnings.append(f"no variable has a nonzero effect on {target!r}; weights are uniform")
    return np.full(len(columns), 1.0 / len(columns)) if columns else standardized


def _rank_candidates(
    specs: list[tuple[str, float]], effects: np.ndarray, spread: np.ndarray, cfg: PrioritizerConfig
) -> list[Candidate]:
    """Rank by the lower confidence bound ``s * effect - risk_aversion * std`` (rank 1 = best)."""
    sign = 1.0 if cfg.goal is Goal.MAXIMIZE else -1.0
    rows = [
        (float(sign * e - cfg.risk_aversion * sd), a, v, float(e), float(sd))
        for (a, v), e, sd in zip(specs, effects, spread)
    ]
    scored = sorted(rows, key=lambda c: (-c[0], c[1], c[2]))
    return [Candidate(a, v, e, sd, score, rank) for rank, (score, a, v, e, sd) in enumerate(scored, start=1)]


def prioritize(
    data: np.ndarray,
    names: Sequence[str],
    links: Iterable[Any],
    target: str,
    actionable: Sequence[str] = (),
    config: PrioritizerConfig | None = None,
    scene: PlanarScene | None = None,
) -> PrioritizationResult:
    """Rank variables and candidate interventions by their causal effect on ``target``.

    data: window ``(T, N)`` of the variables ``names`` (NaN = unknown); links: lagged links of the
    discovered graph (tuples ``(source, target, lag[, link_type])`` or Link/CausalLink objects).
    scene: robot pose and person position at the newest sample, for ``effect_model="kinematic"``.
    Raises ValueError on unknown target/actionable names (listing the known variables).
    """
    t0 = time.perf_counter()
    cfg = config or PrioritizerConfig()
    names = list(names)
    actionable = list(dict.fromkeys(actionable))
    arr = _validate_inputs(data, names, target, actionable)
    warnings: list[str] = []
    graph = build_directed_graph(links, names, target=target, actionable=actionable, undirected=cfg.undirected)
    anc = ancestors(graph, target)
    possible = ancestors(graph, target, include_undirected=True)
    kinematic = cfg.effect_model is EffectModel.KINEMATIC and _kinematics_usable(scene, names, warnings)
    if kinematic and (possible | anc | {target}) & set(GEOMETRIC):
        # Known mechanism, whatever discovery found: the commands move the robot, which changes the geometry.
        anc, possible = anc | set(COMMANDS), possible | set(COMMANDS)
    others = [n for n in names if n != target]
    idx = {n: i for i, n in enumerate(names)}
    tgt = idx[target]

    if not graph.edges:
        warnings.append("empty causal graph: no effects can be predicted, no interventions proposed")
        uniform = 1.0 / len(others) if others else 0.0
        prios = [Priority(n, n in actionable, 0.0, 0.0, uniform, False) for n in others]
        return PrioritizationResult(
            target, cfg.horizon, cfg.goal, prios, [], warnings, graph, None, time.perf_counter() - t0
        )

    max_lag = max(graph.max_lag, 1)
    n_rows = arr.shape[0] - max_lag
    if n_rows < 3:
        raise ValueError(f"window of {arr.shape[0]} samples is too short for the graph's max lag {max_lag}")
    rng = np.random.default_rng(cfg.seed)
    boot_w = block_bootstrap_weights(n_rows, cfg.bootstrap, block_length=cfg.block_length, rng=rng)
    # The situation a local fit is centred on: the target and its possible ancestors (the causally relevant
    # state), so unrelated variables do not dilute the neighbourhood.
    relevant_cols = sorted(idx[n] for n in possible | {target})
    local_w = local_row_weights(arr, max_lag, cfg.local_weighting, cfg.local_span, relevant_cols)
    sem = fit_lagged_sem(arr, names, graph, boot_w, local_w)
    history = _start_history(arr, max_lag, cfg.start, warnings, names)
    horizon = cfg.horizon

    reps = sem.replicas
    limits = _command_limits(arr, [idx[c] for c in COMMANDS]) if kinematic else None
    forecast = kinematic and cfg.person_motion is PersonMotion.WORLD_MODEL
    if forecast and (scene is None or scene.person_forecast is None):
        warnings.append("person_motion world_model without a world-model forecast of the person: constant velocity")
        forecast = False

    def coupling(scenarios: int, person_paths: np.ndarray | None = None) -> KinematicCoupling:
        assert scene is not None  # kinematic implies a scene (_kinematics_usable)
        return KinematicCoupling(scene, names, reps, scenarios, limits, cfg.person_motion, person_paths, horizon)

    # Scenarios: a shift of every non-target variable (total effects), then the candidate grid.
    cand_specs: list[tuple[str, float]] = []
    for a in actionable:
        if a not in possible:
            continue
        for v in _candidate_grid(arr[:, idx[a]], cfg.candidate_values, cfg.quantile_low, cfg.quantile_high,
                                   cfg.candidate_spacing):
            cand_specs.append((a, float(v)))
    if actionable and not cand_specs:
        warnings.append(f"no actionable variable is a (possible) ancestor of {target!r}: no interventions proposed")
    clamp_var = np.array([idx[n] for n in others] + [idx[a] for a, _ in cand_specs], dtype=int)
    if kinematic:
        runs = _kinematic_run(sem, history, clamp_var, cand_specs, arr, horizon, coupling)
        if forecast:
            # The person's path depends on what the robot does: forecast it per scenario under the commands the
            # first pass drove (the plan, the clamped value, the SEM's forecast of the rest), then simulate again.
            assert scene is not None and scene.person_forecast is not None
            commands = np.concatenate([_commands(runs[0], idx), _commands(runs[1], idx)])
            paths = np.asarray(scene.person_forecast(commands), dtype=float)
            if paths.shape != commands.shape or not np.isfinite(paths).all():
                raise ValueError(f"person forecast returned {paths.shape} (finite: {np.isfinite(paths).all()}), "
                                 f"expected finite {commands.shape}")
            runs = _kinematic_run(sem, history, clamp_var, cand_specs, arr, horizon,
                                  lambda n: coupling(n, paths[:1] if n == 1 else paths[1:]))
        baseline, scenario_paths = runs
        diffs = _kinematic_differences(baseline, scenario_paths, clamp_var, cand_specs, arr, tgt)
    else:
        baseline = simulate_clamped(sem, history, np.array([-1]), np.zeros((1, horizon)), horizon)[:, 0]
        diffs = _linear_differences(sem, baseline, clamp_var, cand_specs, len(names), idx, tgt, horizon)
    effects = diffs[:, :, -1] if cfg.effect_at is EffectAt.FINAL else diffs.mean(axis=2)
    point = effects[0]
    spread = robust_std(effects[1:]) if reps > 2 else np.zeros_like(point)

    n_o = len(others)
    weights = _cip_weights(arr, [idx[n] for n in others], tgt, point[:n_o], warnings, target)
    prios = [
        Priority(n, n in actionable, float(point[i]), float(spread[i]), float(weights[i]), n in anc)
        for i, n in enumerate(others)
    ]
    prios.sort(key=lambda p: (-p.weight, p.variable))
    cands = _rank_candidates(cand_specs, point[n_o:], spread[n_o:], cfg)
    return PrioritizationResult(
        target, horizon, cfg.goal, prios, cands, warnings, graph, sem, time.perf_counter() - t0
    )


def _command_limits(arr: np.ndarray, columns: list[int]) -> np.ndarray | None:
    """``[[min, max], ...]`` of the command columns in the window; None (no clipping) if one was never observed."""
    finite = [arr[np.isfinite(arr[:, c]), c] for c in columns]
    if any(col.size == 0 for col in finite):
        return None
    return np.array([[col.min(), col.max()] for col in finite])


def _kinematics_usable(scene: PlanarScene | None, names: Sequence[str], warnings: list[str]) -> bool:
    """Whether the kinematic effect model can run; if not, say why (the linear SEM is used instead)."""
    missing = kinematic_columns(names)
    if missing:
        warnings.append(f"kinematic effect model needs {missing}: linear SEM used")
        return False
    if scene is None:
        warnings.append("kinematic effect model without a scene (robot pose, person position): linear SEM used")
        return False
    return True


def _linear_differences(
    sem: LaggedSEM, baseline: np.ndarray, clamp_var: np.ndarray, cand_specs: list[tuple[str, float]],
    n_vars: int, idx: dict[str, int], tgt: int, horizon: int,
) -> np.ndarray:
    """Target differences ``(R, S, H)`` from the baseline: unit steps, then candidates (linear: exact)."""
    n_units = clamp_var.size - len(cand_specs)
    values = np.ones((sem.replicas, clamp_var.size, horizon))
    for s, (a, v) in enumerate(cand_specs, start=n_units):
        values[:, s] = v - baseline[:, :, idx[a]]
    return simulate_clamped(
        sem, np.zeros((max(sem.max_lag, 1), n_vars)), clamp_var, values, horizon, with_intercept=False
    )[..., tgt]


def _unit_shifts(arr: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Finite-difference shift per variable: a tenth of its window std (a local slope of the nonlinear geometry
    near the current situation), 1 unit for a constant variable."""
    with np.errstate(all="ignore"):
        sd = np.nanstd(arr, axis=0)
    return np.where(np.isfinite(sd) & (sd > 0), 0.1 * sd, 1.0)[columns]


def _kinematic_run(
    sem: LaggedSEM, history: np.ndarray, clamp_var: np.ndarray, cand_specs: list[tuple[str, float]],
    arr: np.ndarray, horizon: int, coupling: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Absolute paths in the hybrid (nonlinear) model: the baseline ``(R, H, N)`` and every scenario
    ``(R, S, H, N)`` (unit shifts of the non-target variables on top of the baseline, then the candidates)."""
    baseline = simulate_clamped(sem, history, np.array([-1]), np.zeros((1, horizon)), horizon,
                                post_step=coupling(1))[:, 0]
    n_units = clamp_var.size - len(cand_specs)
    shift = _unit_shifts(arr, clamp_var[:n_units])
    values = np.empty((sem.replicas, clamp_var.size, horizon))
    values[:, :n_units] = np.moveaxis(baseline[:, :, clamp_var[:n_units]], 2, 1) + shift[None, :, None]
    values[:, n_units:] = np.array([v for _, v in cand_specs])[None, :, None]
    step = coupling(clamp_var.size)
    step.protect(clamp_var)
    return baseline, simulate_clamped(sem, history, clamp_var, values, horizon, post_step=step)


def _commands(paths: np.ndarray, idx: dict[str, int]) -> np.ndarray:
    """The robot's (linear, angular) commands ``(S, H, 2)`` of the point fit (replica 0) of paths ``(R, [S,] H, N)``."""
    point = paths[0] if paths.ndim == 4 else paths[:1]
    return np.stack([point[..., idx[COMMANDS[0]]], point[..., idx[COMMANDS[1]]]], axis=-1)


def _kinematic_differences(
    baseline: np.ndarray, scenario_paths: np.ndarray, clamp_var: np.ndarray, cand_specs: list[tuple[str, float]],
    arr: np.ndarray, tgt: int,
) -> np.ndarray:
    """Target differences ``(R, S, H)`` from the baseline; unit shifts divided by their shift (total effects)."""
    n_units = clamp_var.size - len(cand_specs)
    diffs = scenario_paths[..., tgt] - baseline[:, None, :, tgt]
    diffs[:, :n_units] /= _unit_shifts(arr, clamp_var[:n_units])[None, :, None]
    return diffs
