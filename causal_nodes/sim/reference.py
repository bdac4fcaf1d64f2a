"""The interventional reference: the lagged graph over the *observed* variables that do() in the simulator shows.

Why a second graph next to the mechanism truth (:mod:`causal_nodes.sim.mechanism_graph`): the mechanism truth is
read off the simulator's update order over summary variables of latent state (positions, headings, the robot's
place between its goals and the walls). A method that sees only the observed variables cannot recover it link by
link: latent state carries effects over several steps (a link at lag 2 or 3 where the mechanism has lag 1), and a
variable that is a function of others at the same instant has no effect of its own. The reference below is what a
correct method given exactly these variables should find, and each of its links is an experiment anyone can rerun.

Definition. ``X(t - tau) -> Y(t)`` is a reference link when changing X at step t0 by do(), with every *other*
observed variable held at its undisturbed value from t0 on until Y is read, changes Y at t0 + tau by more than the
noise band. Precisely, from one seed (both runs draw the same noise):

* **Actuators.** Each observed variable that measures a quantity of the state has an actuator, the state change
  that moves it (:data:`ACTUATORS`): the robot's speed or yaw rate; the subject's speed (scale the velocity) or
  heading rate (turn the velocity); the subject's place relative to the robot (move the person: distance
  radially, bearing around the robot, lateral/forward offset along the robot's axes); the distance to the goal
  (move the goal); the obstacle clearance (move robot, person and goal together off the nearest obstacle); the
  closing speed and the person's approach speed (add a radial component to the person's velocity; the approach
  speed is a velocity of the person, the closing speed also holds the robot's and is read after the positions).
  Variables that are computed from others at the same instant or are sensor readings (``min_scan_range``,
  ``collision_risk``, ``time_to_collision``, ``imu_yaw_rate``, ``image_motion``) have none: nothing in the world
  reads them, so they have no out-links.
* **Holding.** "Held at the undisturbed value" means the actuators of the other observed variables are solved
  (Newton, finite-difference Jacobian) so that all of them equal the baseline run again; latent state keeps
  whatever the change did to it. That is exactly how latent state makes observed links at longer lags.
* **Within a step** the velocities of step t are set first (robot and person: group ``velocity``), positions
  follow from them, then everything read off the positions (group ``position``), then the sensor-like functions
  (group ``function``). A lag-0 link goes from an earlier group to a later one: the variable is changed during
  its step (the new velocity moves the robot or the person) with its own group held, and a later group read.
  For a lagged link Y is read at t0 + tau with the observed variables of Y's earlier groups held at step t0 + tau.
* **Effect size.** ``r = mean_t0 |dY / delta| * sd(X) / sd_innovation(Y)``: the change of Y per small change of
  X, scaled to the range X takes in the run, in units of Y's one-step noise (the spread of Y over forks of the
  state one step earlier with fresh noise). Slopes are averaged as absolute values over many t0 and seeds, so an
  effect that flips sign with the phase of an encounter counts; one confined to rare states counts as often as
  it happens, and a switch that a small change can flip (a goal reached) counts as jump x how often it flips --
  the mean absolute slope does not depend on the size of delta, a mean square would.
* **Noise band.** A link needs ``r >= band`` (:data:`DEFAULT_BAND`); a non-link has ``r < band``. One experiment
  contributes at most :data:`CAP` to the mean, so a link needs its effect in at least one state in twenty. Exact
  zeros (no path at all) are the rule for non-links, because both runs share every noise draw.
* **Units** (:data:`UNITS`). The unit above (``noise``, kind ``interventional``) is the default and the one the
  #10 targets are stated against. For distance and bearing the one-step noise is 0.1-0.3 % of the variable's
  spread, so that reference links almost every input of the kinematics (41-59 % of the pairs), many by effects
  no window of data can show. The ``spread`` unit (kind ``interventional-spread``) measures the same experiments
  in units of Y's sd over the run: ``r_spread = mean_t0 |dY / delta| * sd(X) / sd(Y)``, a standardized effect
  (how much of Y's own range one sd of X moves it; for a linear ``Y = b X + e`` it is ``|corr(X, Y)|`` when X is
  Y's only cause). Its band, :data:`SPREAD_BAND` = 0.05, is what one 600-sample window can resolve: a
  correlation estimated from n = 600 samples has sd ``1 / sqrt(600) = 0.041``, so an effect below about one such
  sd is invisible to any method on one window; 0.05 is the lenient end (a two-sided 5 % test needs about 0.08),
  kept lenient so that the reference omits nothing a method could see. Its cap, :data:`SPREAD_CAP` = 1.0, keeps
  the "one state in twenty" rule (20 bands) and is the largest standardized effect a linear relation can have:
  a local slope beyond it is a switch (a goal reached), not a dependence a window can average. Both units come
  from one derivation (:meth:`EffectStatistics.effect_sizes`); ``r_spread = r_noise * noise_to_spread(Y)``
  wherever neither cap binds. Band and cap were fixed before any method was scored against the spread unit.

The lag-collapsed (summary) graph has ``X -> Y`` when any lag links them.

Derived references for the shipped scenarios are stored in ``sim/references/`` (``causal-nodes reference``
writes them); :func:`reference_for` reads one when its variables match, and derives otherwise.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .physical import PhysicalSimulator
from .truth_variables import state_variables

Link = tuple[str, str, int]

VELOCITY, POSITION, FUNCTION = 0, 1, 2
GROUP_NAMES = {VELOCITY: "velocity", POSITION: "position", FUNCTION: "function"}
DEFAULT_BAND = 1.0
"""Effect size a reference link needs: changing X by one standard deviation (of X over the run) moves Y by more
than one standard deviation of Y's one-step noise. Effects form a continuum (down to 1e-4 through latent state),
so the band is a statement, not a gap: it was fixed before any discovery method was scored against it."""
DEFAULT_DERIVATION_SEEDS = (101, 102, 103)
"""Seeds the stored references are derived from; benchmarks report on other seeds."""
REFERENCE_DIR = Path(__file__).resolve().parents[2] / "sim" / "references"
_DELTA = 1e-3
"""Size of the change made by do() (SI units of X): small, so dY / delta is the local slope."""
CAP = 20.0
"""Most one experiment contributes to an effect size (in bands): a link needs its effect in at least one state in
twenty, so a switch that a tiny change flips in a rare state (a goal reached: a jump of metres) cannot make a
link on its own. Fixed with the band, before any method was scored."""
SPREAD_BAND = 0.05
"""Band of the ``spread`` unit: one sd of X moves Y by 5 % of Y's sd (about one sd of a correlation estimated on a
600-sample window, 1 / sqrt(600) = 0.041; see the module docstring). Fixed before any method was scored."""
SPREAD_CAP = 1.0
"""Cap of the ``spread`` unit per experiment: 20 bands (one state in twenty, as :data:`CAP`), and the largest
standardized effect a linear dependence can have (|corr| <= 1); a larger local slope is a switch."""


@dataclass(frozen=True)
class EffectUnit:
    """What one unit of effect size is: Y's ``scale`` (``noise``: its one-step innovation sd; ``spread``: its sd over
    the run), with the band a link needs and the most one experiment contributes, in that unit."""

    name: str
    kind: str
    """The reference kind a graph in this unit carries (so no score can be mistaken for the other's)."""
    band: float
    cap: float


UNITS: dict[str, EffectUnit] = {
    "noise": EffectUnit("noise", "interventional", DEFAULT_BAND, CAP),
    "spread": EffectUnit("spread", "interventional-spread", SPREAD_BAND, SPREAD_CAP),
}
DEFAULT_UNIT = "noise"


def effect_unit(name: str) -> EffectUnit:
    """The unit ``name``; ValueError naming the known ones."""
    if name not in UNITS:
        raise ValueError(f"unknown effect unit {name!r}; known: {sorted(UNITS)}")
    return UNITS[name]


def unit_of_kind(kind: str) -> str | None:
    """The effect unit of a reference kind (``interventional`` -> ``noise``), None for other kinds (``scm``)."""
    return next((u.name for u in UNITS.values() if u.kind == kind), None)


_HOLD_TOLERANCE = 1e-4
"""A hold must bring every held variable back to within this fraction of its standard deviation."""
_MAX_FAILED = 0.9
"""Failed holds in more than this fraction of a variable's experiments mean it is a function of the others."""


# ---------------------------------------------------------------------------------------------- actuators
def _subject_velocity(sim: PhysicalSimulator) -> np.ndarray:
    return sim.velocities[sim.subject]


def _set_velocity(sim: PhysicalSimulator, value: np.ndarray) -> None:
    velocities = sim.velocities.copy()
    velocities[sim.subject] = value
    sim.velocities = velocities


def _move_person(sim: PhysicalSimulator, shift: np.ndarray) -> None:
    positions = sim.positions.copy()
    positions[sim.subject] = positions[sim.subject] + shift
    sim.positions = positions


def _robot_axes(sim: PhysicalSimulator) -> tuple[np.ndarray, np.ndarray]:
    yaw = float(sim.robot_pose[2])
    return np.array([math.cos(yaw), math.sin(yaw)]), np.array([-math.sin(yaw), math.cos(yaw)])


def _radial(sim: PhysicalSimulator) -> np.ndarray:
    rel = sim.positions[sim.subject] - sim.robot_pose[:2]
    return rel / max(float(np.hypot(*rel)), 1e-9)


def _speed(sim: PhysicalSimulator, a: float) -> None:
    v = _subject_velocity(sim)
    norm = float(np.hypot(*v))
    heading = v / norm if norm > 1e-9 else np.array([1.0, 0.0])
    _set_velocity(sim, heading * (norm + a))


def _turn(sim: PhysicalSimulator, a: float) -> None:
    angle = a * sim.dt
    c, s = math.cos(angle), math.sin(angle)
    v = _subject_velocity(sim)
    _set_velocity(sim, np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]]))


def _around_robot(sim: PhysicalSimulator, a: float) -> None:
    rel = sim.positions[sim.subject] - sim.robot_pose[:2]
    c, s = math.cos(a), math.sin(a)
    _move_person(sim, np.array([c * rel[0] - s * rel[1], s * rel[0] + c * rel[1]]) - rel)


def _goal(sim: PhysicalSimulator, a: float) -> None:
    i = sim.subject
    index = sim._goal_index[i]
    goal = sim._goals[i, index]
    away = goal - sim.positions[i]
    direction = away / max(float(np.hypot(*away)), 1e-9)
    goals = sim._goals.copy()
    goals[i, index] = goal + a * direction
    sim._goals = goals


def _clearance(sim: PhysicalSimulator, a: float) -> None:
    """Move robot, subject and the subject's goal together, away from the nearest non-person scan return."""
    from causal_nodes.variables.extractor import PERSON_BEAM_RADIUS_M

    ranges = sim.scan_ranges
    if ranges is None:
        return
    heading = sim.scan_angles() + float(sim.robot_pose[2])
    ends = sim.robot_pose[:2] + ranges[:, None] * np.stack([np.cos(heading), np.sin(heading)], axis=1)
    gaps = np.hypot(ends[:, None, 0] - sim.positions[None, :, 0], ends[:, None, 1] - sim.positions[None, :, 1])
    keep = np.isfinite(ranges) & ~np.any(gaps < PERSON_BEAM_RADIUS_M, axis=1)
    if not keep.any():
        return
    beam = int(np.argmin(np.where(keep, ranges, np.inf)))
    away = -np.array([math.cos(heading[beam]), math.sin(heading[beam])])
    shift = a * away
    sim.robot_pose = sim.robot_pose + np.array([shift[0], shift[1], 0.0])
    _move_person(sim, shift)
    i, index = sim.subject, sim._goal_index[sim.subject]
    goals = sim._goals.copy()
    goals[i, index] = goals[i, index] + shift
    sim._goals = goals


def _add(attribute: str) -> Callable[[PhysicalSimulator, float], None]:
    def actuate(sim: PhysicalSimulator, a: float) -> None:
        setattr(sim, attribute, getattr(sim, attribute) + a)

    return actuate


@dataclass(frozen=True)
class Actuator:
    group: int
    apply: Callable[[PhysicalSimulator, float], None]
    what: str


ACTUATORS: dict[str, Actuator] = {
    "robot_linear_speed": Actuator(VELOCITY, _add("robot_speed"), "the robot's speed"),
    "robot_angular_speed": Actuator(VELOCITY, _add("robot_yaw_rate"), "the robot's yaw rate"),
    "human_speed": Actuator(VELOCITY, _speed, "the subject's speed (direction kept)"),
    "human_heading_rate": Actuator(VELOCITY, _turn, "the subject's velocity, turned by a * dt"),
    "human_robot_distance": Actuator(POSITION, lambda sim, a: _move_person(sim, a * _radial(sim)),
                                     "the subject, moved away from the robot"),
    "human_bearing": Actuator(POSITION, _around_robot, "the subject, moved around the robot"),
    "lateral_offset": Actuator(POSITION, lambda sim, a: _move_person(sim, a * _robot_axes(sim)[1]),
                               "the subject, moved along the robot's y axis"),
    "forward_offset": Actuator(POSITION, lambda sim, a: _move_person(sim, a * _robot_axes(sim)[0]),
                               "the subject, moved along the robot's x axis"),
    "human_goal_distance": Actuator(POSITION, _goal, "the subject's goal, moved away from the subject"),
    "robot_obstacle_clearance": Actuator(POSITION, _clearance,
                                         "robot, subject and goal, moved together off the nearest obstacle"),
    "closing_speed": Actuator(POSITION, lambda sim, a: _set_velocity(sim, _subject_velocity(sim) - a * _radial(sim)),
                              "the subject's velocity towards the robot (read after positions)"),
    "human_approach_speed": Actuator(VELOCITY,
                                     lambda sim, a: _set_velocity(sim, _subject_velocity(sim) - a * _radial(sim)),
                                     "the subject's velocity towards the robot"),
}
"""Observed variables with a state they measure; every other variable is a function (group ``function``)."""

_UNSUPPORTED = ("image_motion",)


def group_of(name: str) -> int:
    return ACTUATORS[name].group if name in ACTUATORS else FUNCTION


# ---------------------------------------------------------------------------------------------- state handling
_STATE = ("robot_pose", "prev_robot_pose", "robot_speed", "robot_yaw_rate", "positions", "prev_positions",
          "velocities", "prev_velocities", "_goals", "scan_ranges", "imu")


def _save(sim: PhysicalSimulator) -> dict:
    return {name: getattr(sim, name) for name in _STATE}


def _load(sim: PhysicalSimulator, state: dict) -> None:
    for name, value in state.items():
        setattr(sim, name, value)


def _observe(sim: PhysicalSimulator, names: Sequence[str]) -> np.ndarray:
    values = state_variables(sim)
    return np.array([values[name] for name in names], dtype=float)


class HoldFailed(RuntimeError):
    """The actuators could not bring the held variables back (dependent variables, or a non-smooth state)."""


_SCAN_VARIABLES = frozenset({"min_scan_range", "robot_obstacle_clearance"})


def _solve(sim: PhysicalSimulator, names: Sequence[str], actuated: Sequence[str], targets: np.ndarray,
           scales: np.ndarray, reintegrate: bool, iterations: int = 8, tolerance: float = 1e-7) -> float:
    """Newton (chord) steps on the actuators of ``actuated`` until ``names`` equal ``targets``; the residual.

    ``names`` are the variables to control (a subset of ``actuated``'s, same order); residuals are relative to
    ``scales``. With ``reintegrate`` the positions of the step follow every edit (velocity changes made "during" it).
    The Jacobian (finite differences) is recomputed only when a step fails to shrink the residual tenfold.
    """
    if not len(names):
        return 0.0
    scan = bool(_SCAN_VARIABLES & set(names))

    def evaluate() -> np.ndarray:
        if reintegrate:
            sim.reintegrate(scan)
        else:
            sim.refresh_observations(scan)
        return _observe(sim, names)

    def jacobian(current: np.ndarray) -> np.ndarray:
        base = _save(sim)
        columns = np.empty((len(names), len(actuated)))
        for j, name in enumerate(actuated):
            step = 1e-6 * scales[list(names).index(name)] if name in names else 1e-6
            ACTUATORS[name].apply(sim, step)
            columns[:, j] = (evaluate() - current) / step
            _load(sim, base)
        return columns / scales[:, None]

    current = evaluate()
    residual = float(np.max(np.abs((targets - current) / scales)))
    scaled = None
    for _ in range(iterations):
        if residual < tolerance:
            break
        if scaled is None:
            scaled = jacobian(current)
        update = np.linalg.lstsq(scaled, (targets - current) / scales, rcond=None)[0]
        for name, amount in zip(actuated, update):
            ACTUATORS[name].apply(sim, float(amount))
        current = evaluate()
        previous, residual = residual, float(np.max(np.abs((targets - current) / scales)))
        if not residual < 0.1 * previous:
            scaled = None
    if reintegrate:
        sim.reintegrate()
    else:
        sim.refresh_observations()
    if not np.isfinite(residual):
        raise HoldFailed(f"holding {list(names)} gave non-finite values")
    return residual


# ---------------------------------------------------------------------------------------------- the experiments
@dataclass
class EffectStatistics:
    """The do() readings (slopes dY/dX per lag) and the one-step noise of every Y, over t0 and seeds."""

    names: list[str]
    tau_max: int
    readings: list = field(default_factory=list)
    innovation_var: list = field(default_factory=list)
    values: list = field(default_factory=list)
    attempted: int = 0
    failed: dict = field(default_factory=dict)
    """Experiments dropped per changed variable because a hold did not converge."""
    failed_fraction: dict = field(default_factory=dict)

    def add(self, x: int, tau: int, slopes: np.ndarray, mask: np.ndarray) -> None:
        self.readings.append((x, tau, np.where(mask, slopes, np.nan)))

    def noise_to_spread(self) -> np.ndarray:
        """Per variable, its one-step noise sd over its sd in the runs: how small the band is in units of the
        variable's own range (about 0.001 for a distance, 0.05-0.3 for a speed)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.target_scale("noise") / self.target_scale("spread")

    def target_scale(self, unit: str = DEFAULT_UNIT) -> np.ndarray:
        """Per variable, the sd that one unit of effect on it is (``noise``: one-step innovation; ``spread``: run)."""
        effect_unit(unit)
        if unit == "spread":
            return np.nanstd(np.asarray(self.values), axis=0)
        return np.sqrt(np.nanmean(np.asarray(self.innovation_var), axis=0))

    def effect_sizes(self, cap: float | None = None, unit: str = DEFAULT_UNIT) -> np.ndarray:
        """``r[x, y, tau]`` in ``unit`` (see the module docstring), each experiment capped at ``cap`` (default: the
        unit's); NaN where no experiment ran."""
        cap = effect_unit(unit).cap if cap is None else cap
        n = len(self.names)
        spread = np.nanstd(np.asarray(self.values), axis=0)
        scale = self.target_scale(unit)
        total = np.zeros((n, n, self.tau_max + 1))
        counts = np.zeros((n, n, self.tau_max + 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            for x, tau, slopes in self.readings:
                standardized = np.abs(slopes) * spread[x] / scale
                standardized = np.where(np.abs(slopes) > 0, standardized, 0.0)  # 0 effect on a noiseless Y is 0
                good = np.isfinite(slopes)
                total[x, good, tau] += np.minimum(standardized[good], cap)
                counts[x, good, tau] += 1
            return np.where(counts > 0, total / counts, np.nan)


def _experiment(base: PhysicalSimulator, baseline: np.ndarray, names: list[str], x: int, tau_max: int,
                scales: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """do(X) at the base state's step and its effect on every variable at lags 0..tau_max (see module doc).

    Returns ``(lag, slopes, mask)`` per reading; raises :class:`HoldFailed` when a hold does not converge (the
    caller then drops the whole experiment).
    """
    groups = np.array([group_of(n) for n in names])
    actuated = [n for n in names if n in ACTUATORS]
    group = groups[x]
    idx = {n: i for i, n in enumerate(names)}
    readings: list[tuple[int, np.ndarray, np.ndarray]] = []

    def hold(sim: PhysicalSimulator, row: np.ndarray, chosen: list[str], reintegrate: bool) -> None:
        residual = _solve(sim, chosen, chosen, np.array([row[idx[n]] for n in chosen]),
                          scales[[idx[n] for n in chosen]], reintegrate)
        if residual > _HOLD_TOLERANCE:
            raise HoldFailed(f"hold of {chosen} left a relative residual of {residual:.2g}")

    def read(sim: PhysicalSimulator, tau: int, row: np.ndarray, mask: np.ndarray) -> None:
        readings.append((tau, (_observe(sim, names) - row) / _DELTA, mask))

    goal = baseline[0].copy()
    goal[x] += _DELTA
    # lag 0: change X during its step (a velocity moves the robot or person) with its own group held; later
    # groups are read
    twin = base.fork()
    hold(twin, goal, [n for n in actuated if groups[idx[n]] == group], reintegrate=group == VELOCITY)
    read(twin, 0, baseline[0], groups > group)
    # lags >= 1: then every other observed variable of step t0 is held too (latent state keeps the change);
    # the same at every later step until Y is read
    hold(twin, goal, actuated, reintegrate=False)
    velocity = [n for n in actuated if groups[idx[n]] == VELOCITY]
    for tau in range(1, tau_max + 1):
        twin.step()
        row = baseline[tau]
        read(twin, tau, row, groups == VELOCITY)  # velocities of step t come from the state of t - 1 only
        hold(twin, row, velocity, reintegrate=True)
        read(twin, tau, row, groups == POSITION)
        hold(twin, row, actuated, reintegrate=False)
        read(twin, tau, row, groups == FUNCTION)
    return readings


def derive_effects(scenario, variables: Sequence[str], seeds: Iterable[int], *, tau_max: int = 3,
                   stride: int = 10, forks: int = 4, warmup: int = 5,
                   progress: Callable[[str], None] | None = None) -> EffectStatistics:
    """Runs the do() experiments of the module docstring every ``stride`` steps of each seed's run."""
    import copy

    names = list(variables)
    unsupported = [n for n in names if n in _UNSUPPORTED]
    if unsupported:
        raise ValueError(f"the interventional reference does not support {unsupported} (a rendered image)")
    config = copy.deepcopy(scenario.physical)
    if config is None:
        raise ValueError(f"scenario {scenario.name!r} is not physical: its reference is its own SCM graph")
    config.camera.enabled = False
    stats = EffectStatistics(names, tau_max)
    for seed in seeds:
        sim = PhysicalSimulator(config, seed=int(seed))
        record = []
        saved: dict[int, PhysicalSimulator] = {}
        starts = set(range(warmup, scenario.steps - tau_max, stride))
        for k in range(scenario.steps + 1):
            if k + 1 in starts:
                saved[k] = sim.fork()
            if k in starts:
                saved[k] = sim.fork()
            record.append(_observe(sim, names))
            if k < scenario.steps:
                sim.step()
        values = np.array(record)
        stats.values.extend(values[warmup:])
        scales = np.nanstd(values[warmup:], axis=0)
        scales = np.where(np.isfinite(scales) & (scales > 0), scales, 1.0)
        for t0 in sorted(starts):
            draws = []
            for j in range(forks):
                twin = saved[t0 - 1].fork(noise_seed=1_000_003 * int(seed) + 7919 * t0 + j)
                twin.step()
                draws.append(_observe(twin, names))
            stats.innovation_var.append(np.var(np.array(draws), axis=0, ddof=1))
            window = values[t0:t0 + tau_max + 1]
            if not np.all(np.isfinite(window)):
                continue
            for x, name in enumerate(names):
                if name not in ACTUATORS:
                    continue
                stats.attempted += 1
                try:
                    readings = _experiment(saved[t0], window, names, x, tau_max, scales)
                except HoldFailed:
                    stats.failed[name] = stats.failed.get(name, 0) + 1
                    continue
                for tau, slopes, mask in readings:
                    stats.add(x, tau, slopes, mask)
        if progress:
            progress(f"seed {seed}: {len(starts)} experiments x {sum(n in ACTUATORS for n in names)} variables")
    per_variable = stats.attempted / max(1, sum(n in ACTUATORS for n in names))
    bad = {n: k for n, k in stats.failed.items() if k > _MAX_FAILED * per_variable}
    stats.failed_fraction = {n: k / per_variable for n, k in stats.failed.items()}
    if bad:
        raise ValueError(f"do() could not hold the other variables while changing {sorted(bad)} in most states: "
                         f"among {names} some are functions of the others at one instant (e.g. distance, bearing "
                         "and lateral offset; speed, heading rate and closing speed); leave one of them out")
    return stats


# ---------------------------------------------------------------------------------------------- the graph
@dataclass
class ReferenceGraph:
    """A graph discovery is scored against; ``kind`` says where it comes from (``scm``, ``interventional`` in the
    noise unit, ``interventional-spread`` in the spread unit: :data:`UNITS`)."""

    kind: str
    variables: list[str]
    tau_max: int
    links: set[Link]
    effects: dict[Link, float] = field(default_factory=dict)
    band: float | None = None
    left_out: dict[str, str] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)
    scenario: str = ""
    failed_holds: dict[str, float] = field(default_factory=dict)
    """Fraction of the do() experiments on a variable dropped because the others could not be held."""

    @property
    def unit(self) -> str | None:
        """The effect unit of an interventional reference (``noise``, ``spread``); None for an SCM's."""
        return unit_of_kind(self.kind)

    def summary(self) -> set[tuple[str, str]]:
        """The lag-collapsed graph: X -> Y when any lag links them."""
        return {(s, t) for s, t, _ in self.links}

    def restricted(self, variables: Sequence[str], tau_max: int | None = None) -> ReferenceGraph:
        keep = set(variables)
        tau = self.tau_max if tau_max is None else min(tau_max, self.tau_max)
        links = {link for link in self.links if link[0] in keep and link[1] in keep and link[2] <= tau}
        return ReferenceGraph(self.kind, [v for v in self.variables if v in keep], tau, links,
                              {k: v for k, v in self.effects.items() if k[0] in keep and k[1] in keep and k[2] <= tau},
                              self.band, dict(self.left_out),
                              list(self.seeds), self.scenario, dict(self.failed_holds))

    def to_json(self) -> dict:
        return {
            "scenario": self.scenario, "kind": self.kind, "variables": self.variables, "tau_max": self.tau_max,
            "band": self.band, "seeds": self.seeds, "left_out": self.left_out,
            "failed_holds": {k: round(v, 4) for k, v in self.failed_holds.items()},
            "links": [list(link) for link in sorted(self.links)],
            "effects": [[s, t, lag, round(float(r), 6)] for (s, t, lag), r in sorted(self.effects.items())],
        }

    @classmethod
    def from_json(cls, data: dict) -> ReferenceGraph:
        return cls(kind=data["kind"], variables=list(data["variables"]), tau_max=int(data["tau_max"]),
                   links={(s, t, int(lag)) for s, t, lag in data["links"]},
                   effects={(s, t, int(lag)): float(r) for s, t, lag, r in data.get("effects", [])},
                   band=data.get("band"), left_out=dict(data.get("left_out", {})), seeds=list(data.get("seeds", [])),
                   scenario=data.get("scenario", ""), failed_holds=dict(data.get("failed_holds", {})))


def graph_from_effects(stats: EffectStatistics, band: float | None = None,
                       unit: str = DEFAULT_UNIT) -> tuple[set[Link], dict[Link, float]]:
    """The links whose effect size in ``unit`` reaches ``band`` (default: the unit's), and every nonzero effect."""
    band = effect_unit(unit).band if band is None else band
    r = stats.effect_sizes(unit=unit)
    links: set[Link] = set()
    effects: dict[Link, float] = {}
    for x, source in enumerate(stats.names):
        for y, target in enumerate(stats.names):
            for tau in range(stats.tau_max + 1):
                value = r[x, y, tau]
                if not np.isfinite(value) and not np.isinf(value):
                    continue
                if tau == 0 and x == y:
                    continue
                if value > 0:
                    effects[(source, target, tau)] = float(value)
                if value >= band:
                    links.add((source, target, tau))
    return links, effects


def observable_variables(scenario, variables: Sequence[str], seed: int) -> tuple[list[str], dict[str, str]]:
    """The variables a run of the scenario defines (never NaN after the first steps, not constant) and why the
    others are left out, as the live pipeline leaves them out of a window."""
    from .experiments import run_scenario

    series = run_scenario(scenario, seed=seed, variables=list(variables))
    kept, left_out = [], {}
    for i, name in enumerate(series.names):
        column = series.values[5:, i]
        if not np.all(np.isfinite(column)):
            left_out[name] = f"missing in {int((~np.isfinite(column)).sum())} of {len(column)} steps"
        elif float(np.nanstd(column)) == 0.0:
            left_out[name] = "constant"
        else:
            kept.append(name)
    return kept, left_out


def derive_references(scenario, variables: Sequence[str], *, units: Sequence[str] = (DEFAULT_UNIT,),
                      seeds: Sequence[int] = DEFAULT_DERIVATION_SEEDS, tau_max: int = 3,
                      bands: dict[str, float] | None = None, stride: int = 10,
                      progress: Callable[[str], None] | None = None) -> dict[str, ReferenceGraph]:
    """The reference in each of ``units`` from ONE run of the do() experiments (``bands``: per unit, default the
    unit's own band)."""
    for unit in units:
        effect_unit(unit)
    kept, left_out = observable_variables(scenario, variables, int(seeds[0]))
    stats = derive_effects(scenario, kept, seeds, tau_max=tau_max, stride=stride, progress=progress)
    references = {}
    for unit in units:
        band = (bands or {}).get(unit, UNITS[unit].band)
        links, effects = graph_from_effects(stats, band, unit)
        references[unit] = ReferenceGraph(UNITS[unit].kind, kept, tau_max, links, effects, band, dict(left_out),
                                          [int(s) for s in seeds], scenario.name, dict(stats.failed_fraction))
    return references


def derive_reference(scenario, variables: Sequence[str], *, seeds: Sequence[int] = DEFAULT_DERIVATION_SEEDS,
                     tau_max: int = 3, band: float | None = None, stride: int = 10, unit: str = DEFAULT_UNIT,
                     progress: Callable[[str], None] | None = None) -> ReferenceGraph:
    """The reference in one ``unit`` (band default: the unit's); see :func:`derive_references`."""
    return derive_references(scenario, variables, units=(unit,), seeds=seeds, tau_max=tau_max,
                             bands=None if band is None else {unit: band}, stride=stride, progress=progress)[unit]


def stored_path(scenario_name: str, variables: Sequence[str], unit: str = DEFAULT_UNIT) -> Path:
    """``<scenario>[.legacy|.<tag>][.<unit>].json``: the noise unit (the default) has no unit suffix."""
    from causal_nodes.variables.extractor import DEFAULT_VARIABLES, LEGACY_VARIABLES

    suffix = "" if effect_unit(unit).name == DEFAULT_UNIT else f".{unit}"
    if list(variables) == list(LEGACY_VARIABLES):
        return REFERENCE_DIR / f"{scenario_name}.legacy{suffix}.json"
    if list(variables) == list(DEFAULT_VARIABLES):
        return REFERENCE_DIR / f"{scenario_name}{suffix}.json"
    tag = abs(hash(tuple(variables))) % 10**8
    return REFERENCE_DIR / f"{scenario_name}.{tag}{suffix}.json"


def load_stored(scenario_name: str, variables: Sequence[str], unit: str = DEFAULT_UNIT) -> ReferenceGraph | None:
    """A stored reference in ``unit`` for exactly these variables (in any stored file of the scenario), or None.

    "These variables" are the ones it was requested for or, failing that, the ones it kept: a derivation over
    exactly its kept variables keeps them all and runs the same experiments (scoring passes the usable columns,
    e.g. the default set less the clearance of a scene without walls)."""
    wanted, kind = list(variables), effect_unit(unit).kind
    if not REFERENCE_DIR.is_dir():
        return None
    stored = [json.loads(path.read_text()) for path in sorted(REFERENCE_DIR.glob(f"{scenario_name}.*json"))]
    stored = [data for data in stored if data.get("scenario") == scenario_name and data.get("kind") == kind]
    for key in ("requested", "variables"):
        for data in stored:
            if data.get(key, data["variables"]) == wanted:
                return ReferenceGraph.from_json(data)
    return None


def reference_for(scenario, variables: list[str], tau_max: int = 3, unit: str = DEFAULT_UNIT) -> ReferenceGraph:
    """The reference over ``variables`` for discovery with lags up to ``tau_max`` in effect ``unit`` (physical
    scenarios only; see Scenario.reference)."""
    effect_unit(unit)
    if scenario.scm is not None:
        truth = {link for link in scenario.scm.ground_truth() if link[0] in variables and link[1] in variables}
        return ReferenceGraph("scm", list(variables), max(tau_max, scenario.scm.max_lag), truth,
                              scenario=scenario.name)
    key = (scenario.name, str(scenario.source), tuple(variables))
    stored = _DERIVED.get((*key, unit)) or load_stored(scenario.name, variables, unit)
    if stored is None or stored.tau_max < tau_max:
        # derived once per process, in every unit at once: scoring many runs must not derive it each time
        derived = derive_references(scenario, variables, units=tuple(UNITS), tau_max=tau_max)
        _DERIVED.update({(*key, name): graph for name, graph in derived.items()})
        stored = derived[unit]
    return stored.restricted(stored.variables, tau_max)


_DERIVED: dict[tuple, ReferenceGraph] = {}


@dataclass
class Confirmation:
    """A stored reference re-tested by fresh do() experiments on other seeds (:func:`confirm_reference`)."""

    seeds: list[int]
    factor: float
    weak: list[tuple[Link, float]]
    """Reference links whose fresh effect is below band / factor."""
    strong: list[tuple[Link, float]]
    """Non-links whose fresh effect is at least band x factor."""
    marginal: list[tuple[Link, float]]
    """Reference links and non-links whose fresh effect is within a factor of the band (either side)."""
    candidates: int
    link_spread_effects: list[tuple[Link, float]] = field(default_factory=list)
    """Each reference link's fresh effect in the ``spread`` unit (units of the target's sd over the run: how much
    of Y's range one sd of X moves), whatever the reference's own unit."""

    @property
    def confirmed(self) -> bool:
        return not self.weak and not self.strong


def confirm_reference(scenario, stored: ReferenceGraph, seeds: Sequence[int], *, factor: float = 2.0,
                      stride: int = 20) -> Confirmation:
    """Re-derive the effect sizes of ``stored``'s candidates on ``seeds`` (none of its derivation seeds) and list the
    links do() no longer shows and the non-links it now shows, each beyond a ``factor`` around the band.

    Why a factor: an effect near the band is a statement about a continuum (see :data:`DEFAULT_BAND`), and a fresh
    seed samples other states; a link at 1.1 bands that measures 0.9 is not refuted, one at 0.4 is.
    """
    if set(seeds) & set(stored.seeds):
        raise ValueError(f"confirmation seeds {sorted(set(seeds) & set(stored.seeds))} derived the reference")
    if stored.band is None or stored.unit is None:
        raise ValueError("the reference has no band (not an interventional reference)")
    stats = derive_effects(scenario, stored.variables, list(seeds), tau_max=stored.tau_max, stride=stride)
    r = stats.effect_sizes(unit=stored.unit)
    index = {v: i for i, v in enumerate(stored.variables)}
    band = float(stored.band)
    weak, strong, marginal = [], [], []
    candidates = 0
    for s in stored.variables:
        for t in stored.variables:
            for lag in range(stored.tau_max + 1):
                if lag == 0 and s == t:
                    continue
                candidates += 1
                value = float(r[index[s], index[t], lag])
                link = (s, t, lag)
                if link in stored.links and not value >= band / factor:
                    weak.append((link, value))
                elif link not in stored.links and value >= band * factor:
                    strong.append((link, value))
                if band / factor <= value < band * factor:
                    marginal.append((link, value))
    in_spread = stats.effect_sizes(unit="spread")
    spread_effects = [((s, t, lag), float(in_spread[index[s], index[t], lag])) for s, t, lag in sorted(stored.links)]
    return Confirmation(list(seeds), factor, weak, strong, marginal, candidates, spread_effects)


def write_reference(reference: ReferenceGraph, requested: Sequence[str], path: Path | None = None) -> Path:
    path = path or stored_path(reference.scenario, requested, reference.unit or DEFAULT_UNIT)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = reference.to_json()
    data["requested"] = list(requested)
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path
