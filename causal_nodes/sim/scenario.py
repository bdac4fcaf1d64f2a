"""Scenario files: what to simulate, for how long, and the ground-truth graph over the pipeline variables.

Scenarios are YAML files in ``sim/scenarios/`` (``load_scenario("corridor_passing")``) or anywhere on disk
(``load_scenario("/path/to/file.yaml")``). Two kinds exist:

* ``kind: physical`` -- people (social force) and a robot. Two graphs: the *mechanism truth* read off the update
  order (:mod:`causal_nodes.sim.mechanism_graph`, over summary variables of latent state) and the *interventional
  reference* over the observed variables, derived by do() in the simulator (:mod:`causal_nodes.sim.reference`):
  what a correct method given only those variables should recover, and what discovery is scored against;
* ``kind: scm`` -- a synthetic structural causal model whose samples are the variables themselves; the graph is
  its list of links (mechanism truth and reference coincide).

Every field is checked; a bad one raises ``ValueError`` naming it (e.g. ``robot.controller.speed_policy``).
"""
from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from causal_nodes.resources import resource_dirs
from causal_nodes.variables.extractor import DEFAULT_VARIABLES

from .config import (
    HEADING_POLICIES,
    SPEED_POLICIES,
    CameraParams,
    ControllerParams,
    CrowdSpec,
    ImuParams,
    PersonSpec,
    PhysicalConfig,
    RobotSpec,
    ScanParams,
    SocialForceParams,
)
from .mechanism_graph import physical_ground_truth
from .physical import PhysicalSimulator
from .scm import FUNCTIONS, SCMLink, SCMSimulator, SCMSpec, random_scm
from .truth_variables import sensed_variables

Link = tuple[str, str, int]
KINDS = ("physical", "scm")
DEFAULT_DEMO_SCENARIO = "scm_demo"


@dataclass
class Scenario:
    """A loaded, validated scenario. ``variables`` are the names of the samples :func:`run_scenario` returns."""

    name: str
    kind: str
    dt: float
    duration_s: float
    seed: int
    variables: list[str]
    description: str = ""
    physical: PhysicalConfig | None = None
    scm: SCMSpec | None = None
    source: Path | None = None

    @property
    def steps(self) -> int:
        """Number of grid steps in ``duration_s``."""
        return int(round(self.duration_s / self.dt))

    def mechanism_truth(self, variables: Sequence[str] | None = None) -> set[Link]:
        """The mechanism-level structure as ``(source, target, lag)``: source(t - lag) -> target(t).

        For physical scenarios it summarises latent state (positions, headings) by the variable it drives, so it
        is exact only when every variable that causes another is among ``variables`` (default: the scenario's);
        observational discovery is scored against :meth:`reference` instead.
        """
        if self.scm is not None:
            return self.scm.ground_truth()
        assert self.physical is not None
        return physical_ground_truth(self.physical, self.variables if variables is None else variables)

    def ground_truth(self) -> set[Link]:
        """The mechanism truth over ``variables`` (the name it had before the interventional reference)."""
        return self.mechanism_truth()

    def reference(self, variables: Sequence[str] | None = None, tau_max: int = 3, unit: str = "noise"):
        """The graph discovery over ``variables`` (default: the scenario's) is scored against.

        SCM scenarios: their own links (kind ``scm``). Physical scenarios: the interventional reference (kind
        ``interventional``; with ``unit="spread"`` the one whose band is in units of Y's spread, kind
        ``interventional-spread``), read from ``sim/references/`` when it was derived for these variables, else
        derived now (about a minute; see :mod:`causal_nodes.sim.reference`).
        """
        from .reference import reference_for

        return reference_for(self, list(self.variables if variables is None else variables), tau_max, unit)

    def make_simulator(self, seed: int | None = None) -> PhysicalSimulator | SCMSimulator:
        """A fresh simulator at t = 0 (``seed`` defaults to the scenario's)."""
        seed = self.seed if seed is None else int(seed)
        if self.scm is not None:
            return SCMSimulator(self.scm, self.dt, seed)
        assert self.physical is not None
        return PhysicalSimulator(self.physical, seed)


# ---------------------------------------------------------------------------------------------- loading
def scenario_dirs() -> list[Path]:
    """Where scenario names are looked up: $CAUSAL_NODES_SCENARIO_PATH, then the package's ``sim/scenarios``
    (source checkout, ament share folder, pip prefix: :mod:`causal_nodes.resources`)."""
    dirs = [Path(p) for p in os.environ.get("CAUSAL_NODES_SCENARIO_PATH", "").split(os.pathsep) if p]
    return [d for d in dirs if d.is_dir()] + resource_dirs("sim", "scenarios")


def list_scenarios() -> list[str]:
    """Names of the scenarios found in :func:`scenario_dirs` (first one wins on duplicates)."""
    names: list[str] = []
    for directory in scenario_dirs():
        for path in sorted(directory.glob("*.yaml")):
            if path.stem not in names:
                names.append(path.stem)
    return names


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a scenario by name (see :func:`list_scenarios`) or from a YAML file path."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") or path.exists()):
        found = [d / f"{name_or_path}.yaml" for d in scenario_dirs() if (d / f"{name_or_path}.yaml").is_file()]
        if not found:
            raise ValueError(f"unknown scenario {name_or_path!r}; known: {list_scenarios()}")
        path = found[0]
    if not path.is_file():
        raise ValueError(f"scenario file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"scenario file {path} is not valid YAML: {exc}") from exc
    scenario = scenario_from_dict(data, default_name=path.stem)
    scenario.source = path
    return scenario


def default_demo_scenario() -> Scenario:
    """The SCM scenario of the lead's demo: pipeline-named variables, strong lagged links (PCMCI finds them)."""
    return load_scenario(DEFAULT_DEMO_SCENARIO)


def make_scm_scenario(n_variables: int = 5, max_lag: int = 3, n_links: int = 5, *, function: str = "linear",
                      contemporaneous_fraction: float = 0.0, structure_seed: int = 0, seed: int = 0,
                      samples: int = 600, dt: float = 0.1, names: Sequence[str] | None = None) -> Scenario:
    """A scenario of the random SCM family (see :func:`causal_nodes.sim.scm.random_scm`)."""
    spec = random_scm(n_variables, max_lag, n_links, contemporaneous_fraction=contemporaneous_fraction,
                      function=function, seed=structure_seed, names=names)
    return Scenario(name=f"scm_random_{n_variables}v_{max_lag}l_{function}_{structure_seed}", kind="scm", dt=dt,
                    duration_s=samples * dt, seed=seed, variables=list(spec.variables), scm=spec,
                    description="random SCM")


# ---------------------------------------------------------------------------------------------- validation
class _Fields:
    """Reads one mapping of the file, naming the dotted field in every error and rejecting unknown keys."""

    def __init__(self, data: Any, path: str, scenario: str) -> None:
        self.scenario = scenario
        self.path = path
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.fail(path or "<top level>", f"must be a mapping, got {type(data).__name__}")
        self.data: dict[str, Any] = data

    def fail(self, field: str, problem: str) -> None:
        raise ValueError(f"scenario {self.scenario!r}: field '{field}' {problem}")

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def reject_unknown(self, allowed: Sequence[str]) -> None:
        for key in self.data:
            if key not in allowed:
                self.fail(self.name(str(key)), f"is not a known field (known: {sorted(allowed)})")

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def sub(self, key: str) -> _Fields:
        return _Fields(self.data.get(key), self.name(key), self.scenario)

    def number(self, key: str, default: float | None = None, *, minimum: float | None = None,
               positive: bool = False) -> float:
        if not self.has(key):
            if default is None:
                self.fail(self.name(key), "is required")
            return float(default)  # type: ignore[arg-type]
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(self.name(key), f"must be a finite number, got {value!r}")
        if positive and not value > 0:
            self.fail(self.name(key), f"must be > 0, got {value}")
        if minimum is not None and value < minimum:
            self.fail(self.name(key), f"must be >= {minimum}, got {value}")
        return float(value)

    def integer(self, key: str, default: int | None = None, *, minimum: int | None = None) -> int:
        if not self.has(key):
            if default is None:
                self.fail(self.name(key), "is required")
            return int(default)  # type: ignore[arg-type]
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(self.name(key), f"must be an integer, got {value!r}")
        if minimum is not None and value < minimum:
            self.fail(self.name(key), f"must be >= {minimum}, got {value}")
        return int(value)

    def boolean(self, key: str, default: bool) -> bool:
        if not self.has(key):
            return default
        if not isinstance(self.data[key], bool):
            self.fail(self.name(key), f"must be true or false, got {self.data[key]!r}")
        return bool(self.data[key])

    def choice(self, key: str, options: Sequence[str], default: str | None = None) -> str:
        if not self.has(key):
            if default is None:
                self.fail(self.name(key), f"is required (one of {list(options)})")
            return str(default)
        if self.data[key] not in options:
            self.fail(self.name(key), f"must be one of {list(options)}, got {self.data[key]!r}")
        return str(self.data[key])

    def vector(self, key: str, length: int, default: Sequence[float] | None = None) -> tuple[float, ...]:
        if not self.has(key):
            if default is None:
                self.fail(self.name(key), f"is required (a list of {length} numbers)")
            return tuple(float(v) for v in default)  # type: ignore[union-attr]
        return _vector(self.data[key], length, self.name(key), self)

    def points(self, key: str, length: int, *, required: bool = True) -> list[tuple[float, ...]]:
        if not self.has(key):
            if required:
                self.fail(self.name(key), f"is required (a list of [{', '.join(['n'] * length)}] entries)")
            return []
        items = self.data[key]
        if not isinstance(items, list):
            self.fail(self.name(key), f"must be a list, got {items!r}")
        return [_vector(item, length, f"{self.name(key)}[{i}]", self) for i, item in enumerate(items)]

    def fill(self, defaults: Any, skip: Sequence[str] = ()) -> Any:
        """A copy of the dataclass ``defaults`` with the scalar fields present here replaced, each typed by its
        default value (``skip`` lists fields the caller reads itself; unknown keys are rejected)."""
        names = [f.name for f in dataclasses.fields(defaults)]
        self.reject_unknown(names)
        values: dict[str, Any] = {}
        for name in names:
            if name in skip or not self.has(name):
                continue
            default = getattr(defaults, name)
            if isinstance(default, bool):
                values[name] = self.boolean(name, default)
            elif isinstance(default, int):
                values[name] = self.integer(name, default, minimum=1)
            elif isinstance(default, float):
                values[name] = self.number(name, default)
            elif isinstance(default, tuple):
                values[name] = self.vector(name, len(default))
        return dataclasses.replace(defaults, **values)


def _vector(value: Any, length: int, field: str, reader: _Fields) -> tuple[float, ...]:
    if (not isinstance(value, (list, tuple)) or len(value) != length
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in value)):
        reader.fail(field, f"must be a list of {length} finite numbers, got {value!r}")
    return tuple(float(v) for v in value)


_TOP_FIELDS = ("name", "description", "kind", "dt", "duration_s", "seed", "variables", "subject", "walls", "robot",
               "people", "crowd", "social_force", "sensors", "scm")


def scenario_from_dict(data: Any, default_name: str = "scenario") -> Scenario:
    """Build and validate a scenario from the mapping a YAML file holds."""
    name = data.get("name", default_name) if isinstance(data, dict) else default_name
    top = _Fields(data, "", str(name))
    top.reject_unknown(_TOP_FIELDS)
    kind = top.choice("kind", KINDS)
    dt = top.number("dt", 0.1, positive=True)
    duration = top.number("duration_s", 60.0, positive=True)
    seed = top.integer("seed", 0, minimum=0)
    description = str(top.data.get("description", "") or "")
    if kind == "scm":
        for key in ("walls", "robot", "people", "crowd", "social_force", "sensors", "subject"):
            if top.has(key):
                top.fail(key, "is only allowed in physical scenarios")
        spec = _parse_scm(top.sub("scm"))
        variables = _parse_variables(top, list(spec.variables))
        if variables != list(spec.variables):
            top.fail("variables", "of an scm scenario must equal scm.variables (or be left out)")
        return Scenario(str(name), kind, dt, duration, seed, variables, description, scm=spec)
    if top.has("scm"):
        top.fail("scm", "is only allowed in scm scenarios")
    config = _parse_physical(top, dt)
    available = sensed_variables(config)
    # Any subset may be observed: the interventional reference is derived for the variables given (latent causes
    # then show as links at longer lags); the mechanism truth restricted to a subset misses paths through the rest.
    variables = _parse_variables(top, available, [v for v in DEFAULT_VARIABLES if v in available])
    return Scenario(str(name), kind, dt, duration, seed, variables, description, physical=config)


def _parse_variables(top: _Fields, available: list[str], default: list[str] | None = None) -> list[str]:
    if not top.has("variables"):
        return available if default is None else default
    chosen = top.data["variables"]
    if not isinstance(chosen, list) or not chosen or any(v not in available for v in chosen) \
            or len(set(chosen)) != len(chosen):
        top.fail("variables", f"must be a non-empty list of distinct names from {available}, got {chosen!r}")
    return [str(v) for v in chosen]


def _parse_physical(top: _Fields, dt: float) -> PhysicalConfig:
    walls = np.array(top.points("walls", 4, required=False), dtype=float).reshape(-1, 4)
    robot = _parse_robot(top.sub("robot"))
    people = []
    if top.has("people"):
        if not isinstance(top.data["people"], list):
            top.fail("people", "must be a list of people")
        for i, item in enumerate(top.data["people"]):
            people.append(_parse_person(_Fields(item, f"people[{i}]", top.scenario)))
    crowd = _parse_crowd(top.sub("crowd")) if top.has("crowd") else None
    total = len(people) + (crowd.count if crowd else 0)
    if total == 0:
        top.fail("people", "or 'crowd' must define at least one person")
    subject = top.integer("subject", 0, minimum=0)
    if subject >= total:
        top.fail("subject", f"must index one of the {total} people, got {subject}")
    social = top.sub("social_force").fill(SocialForceParams())
    for key in ("relaxation_time", "person_range", "robot_range", "wall_range", "arrival_radius"):
        if not getattr(social, key) > 0:
            top.fail(f"social_force.{key}", f"must be > 0, got {getattr(social, key)}")
    sensors = top.sub("sensors")
    sensors.reject_unknown(["scan", "camera", "imu"])
    scan = sensors.sub("scan").fill(ScanParams())
    if not (scan.range_max > scan.range_min >= 0 and scan.angle_max > scan.angle_min):
        top.fail("sensors.scan", "needs range_max > range_min >= 0 and angle_max > angle_min")
    camera = sensors.sub("camera").fill(CameraParams())
    imu = sensors.sub("imu").fill(ImuParams())
    return PhysicalConfig(dt=dt, walls=walls, robot=robot, people=people, crowd=crowd, social_force=social,
                          scan=scan, camera=camera, imu=imu, subject=subject)


def _parse_robot(fields: _Fields) -> RobotSpec:
    if not fields.data:
        fields.fail("robot", "is required in a physical scenario")
    controller = fields.sub("controller")
    ctrl = controller.fill(ControllerParams(), skip=("speed_policy", "heading_policy"))
    ctrl.speed_policy = controller.choice("speed_policy", SPEED_POLICIES, ctrl.speed_policy)
    ctrl.heading_policy = controller.choice("heading_policy", HEADING_POLICIES, ctrl.heading_policy)
    if not ctrl.slow_distance > ctrl.stop_distance >= 0:
        controller.fail(controller.name("slow_distance"), "must be greater than stop_distance (>= 0)")
    goals = fields.points("goals", 2)
    if not goals:
        fields.fail(fields.name("goals"), "needs at least one goal")
    robot = RobotSpec(start=fields.vector("start", 3), goals=goals, controller=ctrl)
    robot = fields.fill(robot, skip=("start", "goals", "controller"))
    if not robot.max_linear_speed >= robot.min_linear_speed:
        fields.fail(fields.name("max_linear_speed"), "must be >= min_linear_speed")
    for key in ("linear_noise_std", "angular_noise_std"):
        if getattr(robot, key) < 0.0:
            fields.fail(fields.name(key), f"must be >= 0, got {getattr(robot, key)}")
    for key in ("excitation_linear", "excitation_angular"):
        if getattr(ctrl, key) < 0.0:
            controller.fail(controller.name(key), f"must be >= 0, got {getattr(ctrl, key)}")
    if not ctrl.excitation_hold_s > 0.0:
        controller.fail(controller.name("excitation_hold_s"), f"must be > 0, got {ctrl.excitation_hold_s}")
    return robot


def _parse_person(fields: _Fields) -> PersonSpec:
    start = fields.vector("start", 2)
    goals = [tuple(g) for g in fields.points("goals", 2, required=False)] or [start]
    person = fields.fill(PersonSpec(start=start, goals=goals), skip=("start", "goals"))
    if person.desired_speed < 0 or not person.radius > 0:
        fields.fail(fields.name("desired_speed"), "must be >= 0 (and radius > 0)")
    return person


def _parse_crowd(fields: _Fields) -> CrowdSpec:
    crowd = CrowdSpec(count=fields.integer("count", minimum=1), region=fields.vector("region", 4))
    crowd = fields.fill(crowd, skip=("count", "region"))
    x0, y0, x1, y1 = crowd.region
    if not (x1 > x0 and y1 > y0):
        fields.fail(fields.name("region"), f"must be [xmin, ymin, xmax, ymax] with max > min, got {crowd.region}")
    if not 0 <= crowd.desired_speed[0] <= crowd.desired_speed[1]:
        fields.fail(
            fields.name("desired_speed"), f"must be [low, high] with 0 <= low <= high, got {crowd.desired_speed}"
        )
    return crowd


def _parse_scm(fields: _Fields) -> SCMSpec:
    if not fields.data:
        fields.fail("scm", "is required in an scm scenario")
    if fields.has("random"):
        fields.reject_unknown(["random"])
        rnd = fields.sub("random")
        rnd.reject_unknown(["n_variables", "max_lag", "n_links", "contemporaneous_fraction", "function", "seed",
                            "names"])
        names = rnd.data.get("names")
        try:
            return random_scm(rnd.integer("n_variables", 5, minimum=2), rnd.integer("max_lag", 3, minimum=1),
                              rnd.integer("n_links", 5, minimum=0),
                              contemporaneous_fraction=rnd.number("contemporaneous_fraction", 0.0, minimum=0.0),
                              function=rnd.choice("function", sorted(FUNCTIONS), "linear"),
                              seed=rnd.integer("seed", 0, minimum=0), names=names)
        except ValueError as exc:
            fields.fail("scm.random", f"is invalid: {exc}")
    fields.reject_unknown(["variables", "links", "noise_std", "offsets", "scales", "function", "warmup_steps"])
    variables = fields.data.get("variables")
    if not isinstance(variables, list) or not variables or not all(isinstance(v, str) for v in variables):
        fields.fail("scm.variables", f"must be a non-empty list of names, got {variables!r}")
    n = len(variables)
    default_function = fields.choice("function", sorted(FUNCTIONS), "linear")
    links = []
    raw_links = fields.data.get("links") or []
    if not isinstance(raw_links, list):
        fields.fail("scm.links", "must be a list of [source, target, lag, coefficient(, function)]")
    for i, item in enumerate(raw_links):
        ok = (isinstance(item, list) and len(item) in (4, 5) and isinstance(item[0], str) and isinstance(item[1], str)
              and isinstance(item[2], int) and not isinstance(item[2], bool)
              and isinstance(item[3], (int, float)) and not isinstance(item[3], bool))
        if not ok:
            fields.fail(f"scm.links[{i}]", f"must be [source, target, lag, coefficient(, function)], got {item!r}")
        links.append(
            SCMLink(item[0], item[1], item[2], float(item[3]), item[4] if len(item) == 5 else default_function)
        )
    per_variable = {}
    for key, default in (("noise_std", 1.0), ("offsets", 0.0), ("scales", 1.0)):
        value = fields.data.get(key, default)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value] * n
        per_variable[key] = tuple(_vector(value, n, f"scm.{key}", fields))
    try:
        return SCMSpec(tuple(variables), tuple(links), per_variable["noise_std"], per_variable["offsets"],
                       per_variable["scales"], fields.integer("warmup_steps", 100, minimum=0))
    except ValueError as exc:
        fields.fail("scm", f"is invalid: {exc}")
    raise AssertionError("unreachable")
