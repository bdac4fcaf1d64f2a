"""Online prioritization: the prioritizer's window, aligned to the graph's, the scene, and when a run is due.

The node owns messages, parameters and timers; this class owns the rules, so they are tested without ROS:

* **One window, the graph's.** Frames go into a :class:`~causal_nodes.discovery.window.SampleWindow` (the same
  checks and counters as discovery's, NaN kept as missing). A run fits the SEM on the frames whose stamps lie in
  the graph's ``[window_start, window_end]``: the span the graph was discovered on, so the model's parents and its
  coefficients describe the same data. The window only has to be at least as long as discovery's. A graph
  without a span (``sample_count`` 0, e.g. the simulator's ground truth) uses the newest frames.
* **When a run is due.** A graph waits until the frames up to its ``window_end`` have arrived; it runs when its
  span holds :func:`~causal_nodes.discovery.discover.min_samples_for` the graph's largest lag, the rule
  discovery uses, and is reported as too short otherwise.
* **The scene.** The robot pose (odometry) and the *subject* of the frames (the person the variables node chose
  and sent with each frame) at the span's last stamp; see :class:`.scene_tracker.SceneTracker`.
* **The optional world model** (:class:`.world_paths.WorldModelPaths`) is streamed with the people and the
  robot's odometry, and predicts the people's paths under each robot-command candidate; with
  ``person_motion="world_model"`` it is also the kinematic model's forecast of the subject (seeing every person).
* **The robot's plan** (optional, :meth:`OnlinePrioritizer.add_plan`, e.g. a local planner's ``nav_msgs/Path``):
  its commands on the variable grid replace the SEM's forecast of the robot's own commands, as long as the plan
  still covers the graph's window end.

Swapping the effect model: ``run`` is :func:`~.prioritizer.prioritize` unless another function with its
signature is given (e.g. one whose person forecast comes from a world model); it receives the window, the graph's
links, the target and actionable variables, the :class:`PrioritizerConfig` and the scene.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from causal_nodes.discovery.discover import min_samples_for
from causal_nodes.discovery.window import SampleWindow, WindowConfig

from .kinematics import EffectModel, PersonMotion, PlanarScene, commands_from_poses
from .prioritizer import PrioritizationResult, PrioritizerConfig, prioritize
from .scene_tracker import SceneTracker
from .world_paths import WorldModelPaths

STAMP_TOLERANCE_S = 1e-6
"""Stamps this close are the same sample (a stamp goes through builtin_interfaces/Time between the nodes)."""


@dataclass(frozen=True)
class GraphWindow:
    """What the prioritizer needs of a discovered graph: its links and the span of samples it came from."""

    variables: list[str]
    links: list[tuple[str, str, int, str]]
    tau_max: int
    window_start: float
    window_end: float
    sample_count: int

    @property
    def has_span(self) -> bool:
        return self.sample_count > 0 and self.window_end >= self.window_start

    def max_lag(self) -> int:
        return max([int(link[2]) for link in self.links] + [int(self.tau_max), 1])

    def min_samples(self) -> int:
        return min_samples_for(self.max_lag())


@dataclass(frozen=True)
class OnlinePrioritizerConfig:
    """The prioritizer node's settings besides :func:`prioritize`'s own (``prioritizer``); the defaults are the
    node's and the README's."""

    target: str = "human_robot_distance"
    actionable: tuple[str, ...] = ("robot_linear_speed", "robot_angular_speed")
    window_size: int = 500
    """Frames kept; at least discovery's window, so a graph's whole span is here."""
    time_jump_reset_s: float = 1.0
    scene_history_s: float = 10.0
    """Odometry and subject positions kept: the scene is looked up at the graph's window end, which is behind
    the newest odometry by the discovery's latency."""
    plan_timeout_s: float = 2.0
    """A plan is used while its last pose is at most this much older than the graph's window end [s]."""
    prioritizer: PrioritizerConfig = field(default_factory=PrioritizerConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "actionable", tuple(self.actionable))
        if not self.target:
            raise ValueError("target must name a variable")
        if self.window_size < 20:
            raise ValueError(f"window_size must be >= 20 frames, got {self.window_size}")
        if not self.plan_timeout_s >= 0:
            raise ValueError(f"plan_timeout_s must be >= 0, got {self.plan_timeout_s}")


@dataclass
class PrioritizerOutcome:
    """One run: the result, or why there is none (an error never leaves :meth:`OnlinePrioritizer.run`)."""

    graph: GraphWindow
    result: PrioritizationResult | None
    error: str | None = None
    samples: int = 0
    span: tuple[float, float] = (float("nan"), float("nan"))
    scene: PlanarScene | None = None
    failed: bool = False
    """True for an unexpected exception (a bug or bad data), False for a configuration problem or a short span."""

    def status(self) -> tuple[int, str, dict[str, Any]]:
        """``(level, message, values)`` for ``/diagnostics`` (levels of diagnostic_msgs: 0 OK, 1 WARN, 2 ERROR):
        an error is an ERROR, but a span too short is a WARN (it passes); a result with warnings is a WARN."""
        values: dict[str, Any] = {"window_samples": self.samples, "span_start": self.span[0],
                                  "span_end": self.span[1], "graph_samples": self.graph.sample_count,
                                  "graph_links": len(self.graph.links)}
        result = self.result
        if result is None:
            short = not self.failed and self.samples < self.graph.min_samples()
            return (1 if short else 2), self.error or "no result", values
        top = result.candidates[0] if result.candidates else None
        best = f", best do({top.variable}={top.value:.3g})" if top else ""
        message = "; ".join(result.warnings) or f"{len(result.candidates)} interventions for {result.target}{best}"
        values.update(oriented_links=", ".join(f"{s}->{t}" for s, t, _, _ in result.graph.oriented),
                      ignored_links=", ".join(f"{s} {k} {t} (lag {lag})" for s, t, lag, k in result.graph.ignored),
                      compute_ms=f"{1e3 * result.seconds:.2f}")
        return (1 if result.warnings else 0), message, values


Prioritize = Callable[..., PrioritizationResult]


class OnlinePrioritizer:
    def __init__(self, config: OnlinePrioritizerConfig, run: Prioritize = prioritize,
                 world: WorldModelPaths | None = None, world_error: str = "") -> None:
        """``world``: the optional world model; ``world_error``: why it could not be loaded (reported)."""
        self.config = config
        self.window = SampleWindow(WindowConfig(length=config.window_size, time_jump_reset_s=config.time_jump_reset_s,
                                                allow_missing=True))
        self.scene_tracker = SceneTracker(history_s=config.scene_history_s)
        self.robot_pose: tuple[float, float, float] | None = None
        self.robot_command: tuple[float, float] | None = None
        """Newest odometry pose and (linear, angular) twist: where world-model rollouts start, and their action."""
        self.world = world
        self._world_error = world_error
        self._prioritize = run
        self._graph: GraphWindow | None = None
        self._pending = False
        self._plan: tuple[np.ndarray, np.ndarray] | None = None  # (stamps (M,), poses (M, 3)) of the newest plan

    # ---- inputs -----------------------------------------------------------------------------------------------
    def reconfigure(self, config: OnlinePrioritizerConfig) -> None:
        """New settings; a new window length starts a new window."""
        if (config.window_size, config.time_jump_reset_s) != (self.config.window_size, self.config.time_jump_reset_s):
            self.window = SampleWindow(WindowConfig(length=config.window_size,
                                                    time_jump_reset_s=config.time_jump_reset_s, allow_missing=True))
        self.config = config

    def add_frame(self, stamp: float, names: Sequence[str], values: Sequence[float], subject_id: str = "",
                  subject_xy: tuple[float, float] | None = None) -> str | None:
        """A variable frame and its subject; returns why the frame was rejected (counted), or None."""
        verdict = self.window.add(stamp, names, values)
        if verdict is None:
            self.scene_tracker.update_subject(stamp, subject_id, subject_xy)
        return verdict

    def add_odometry(self, stamp: float, x: float, y: float, yaw: float, linear: float, angular: float) -> None:
        """Robot pose and twist; ValueError on non-finite values."""
        if not all(np.isfinite([linear, angular])):
            raise ValueError(f"odometry twist must be finite, got {linear}, {angular}")
        self.scene_tracker.update_odometry(stamp, x, y, yaw)
        self.robot_pose = (float(x), float(y), float(yaw))
        self.robot_command = (float(linear), float(angular))

    def add_people(self, stamp: float, people_xy: Sequence[Sequence[float]], frame_id: str) -> None:
        """People detected at ``stamp``, for the world model (nothing without one, or before odometry); ValueError
        on input the model rejects."""
        if self.world is None or self.robot_pose is None or self.robot_command is None:
            return
        self.world.update(stamp, people_xy, self.robot_pose, self.robot_command, frame_id)

    def add_plan(self, stamps: Sequence[float], poses: Sequence[Sequence[float]]) -> None:
        """The robot's newest plan: poses ``(x, y, yaw)`` in the odometry frame at increasing ``stamps``; replaces
        the previous one. ValueError on a plan that is empty, not finite or not increasing (the old one is kept)."""
        t, p = np.asarray(stamps, dtype=float).reshape(-1), np.asarray(poses, dtype=float)
        commands_from_poses(t, p, float(t[0]) if t.size else 0.0, 0.1, 1)  # validates
        self._plan = (t, p)

    def predicted_paths(self, candidates: Sequence[Any]) -> list[list[np.ndarray]]:
        """Per candidate, the people's predicted ``(H, 2)`` paths (empty lists without a world model)."""
        if self.world is None:
            return [[] for _ in candidates]
        return self.world.paths(candidates, self.robot_command)

    def set_graph(self, graph: GraphWindow) -> None:
        self._graph = graph
        self._pending = True

    # ---- decisions --------------------------------------------------------------------------------------------
    def ready(self) -> bool:
        """A graph waits and the frames up to its window end are here."""
        if not self._pending or self._graph is None or self.window.fill == 0:
            return False
        newest = self.window.newest_stamp()
        assert newest is not None
        graph = self._graph
        if graph.has_span:
            return newest >= graph.window_end - STAMP_TOLERANCE_S
        return self.window.fill >= graph.min_samples()

    def waiting_reason(self) -> str:
        graph = self._graph
        if graph is None:
            return "waiting for a causal graph"
        if graph.has_span:
            return (f"graph received, waiting for the frames up to its window end {graph.window_end:.3f} s "
                    f"(newest frame {self.window.newest_stamp() or float('nan'):.3f} s)")
        return f"graph received, waiting for {graph.min_samples()} variable frames (have {self.window.fill})"

    def run(self) -> PrioritizerOutcome:
        """Prioritizes on the graph's span; problems become an outcome with an error, never an exception."""
        graph = self._graph
        if graph is None:
            raise RuntimeError("run() before a graph was set")
        self._pending = False
        names, stamps, data = self._span(graph)
        outcome = PrioritizerOutcome(graph, None, samples=len(stamps))
        if len(stamps):
            outcome.span = (float(stamps[0]), float(stamps[-1]))
        if len(stamps) < graph.min_samples():
            outcome.error = (f"the graph's window holds {len(stamps)} frames here, fewer than the "
                             f"{graph.min_samples()} its lag {graph.max_lag()} needs")
            return outcome
        cfg = self.config
        if cfg.prioritizer.effect_model is EffectModel.KINEMATIC:
            outcome.scene = self.scene_tracker.scene(grid_period(stamps), at=float(stamps[-1]))
            if outcome.scene is not None:
                outcome.scene = self._with_forecasts(outcome.scene, float(stamps[-1]))
        try:
            outcome.result = self._prioritize(data, names, graph.links, cfg.target, list(cfg.actionable),
                                              cfg.prioritizer, scene=outcome.scene)
        except ValueError as exc:  # unknown target/actionable/variable, too short window: say why
            outcome.error = str(exc)
        except Exception as exc:  # a failed run must not take the node down; it is reported instead
            outcome.error, outcome.failed = f"prioritization failed: {type(exc).__name__}: {exc}", True
        return outcome

    def _with_forecasts(self, scene: PlanarScene, stamp: float) -> PlanarScene:
        """The scene with the world model's forecast of the subject (``person_motion="world_model"``) and the robot's
        planned commands on the grid from ``stamp`` (a plan made after ``stamp`` is taken from its start)."""
        cfg = self.config
        forecast = None
        if cfg.prioritizer.person_motion is PersonMotion.WORLD_MODEL and self.world is not None:
            forecast = self.world.person_forecast(scene.person_xy, stamp, scene.dt)
        plan = None
        if self._plan is not None and self._plan[0][-1] >= stamp - cfg.plan_timeout_s:
            t, poses = self._plan
            plan = commands_from_poses(t, poses, max(stamp, float(t[0])), scene.dt, cfg.prioritizer.horizon)
        return replace(scene, person_forecast=forecast, planned_commands=plan)

    def counters(self) -> dict[str, Any]:
        """The window's counters (frames, rejections and resets by reason) and the world model's state."""
        out: dict[str, Any] = {"window_frames": self.window.fill, "plan": "none" if self._plan is None else
                               f"{len(self._plan[0])} poses up to {self._plan[0][-1]:.3f} s"}
        out.update({f"window_{k}": v for k, v in self.window.counters().items() if k.startswith("re")})
        if self.world is not None or self._world_error:
            out["world_model"] = "loaded" if self.world is not None else "off"
        error = self._world_error or (self.world.error if self.world is not None else "")
        if error:
            out["world_model_error"] = error
        return out

    def _span(self, graph: GraphWindow) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The frames of the graph's span (or the newest ones), with a NaN column for a graph variable the frames
        lack (prioritize names it in its error)."""
        stamps, data = self.window.stamps(), self.window.array()
        if graph.has_span:
            low, high = graph.window_start - STAMP_TOLERANCE_S, graph.window_end + STAMP_TOLERANCE_S
            keep = (stamps >= low) & (stamps <= high)
            stamps, data = stamps[keep], data[keep]
        names = list(self.window.names)
        extra = [v for v in graph.variables if v not in names]
        if extra:
            data = np.hstack([data, np.full((data.shape[0], len(extra)), np.nan)])
        return names + extra, stamps, data


def grid_period(stamps: np.ndarray, default: float = 0.1) -> float:
    """Period of the variable grid: the median step between stamps (``default`` until two are seen)."""
    steps = np.diff(np.asarray(stamps, dtype=float))
    steps = steps[steps > 0]
    return float(np.median(steps)) if steps.size else default
