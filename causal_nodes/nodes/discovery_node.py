"""Discovery node: sliding-window PCMCI over ``/causal/variables``, publishing the causal graph and its views.

Subscribes ``/causal/variables`` (causal_msgs/VariableFrame). Every ``update_period_s`` (if new samples came)
it copies the window and runs the discovery on a worker thread, so the executor keeps taking frames while
PCMCI runs; a tick that finds the worker busy is counted as a skipped update. Publishes
``/causal/graph`` (causal_msgs/CausalGraph, transient local), ``/causal/graph_markers``
(visualization_msgs/MarkerArray, transient local), ``/causal/graph_image`` (sensor_msgs/Image, rgb8) and
``/diagnostics`` (window fill, latency, rejected frames and window resets by reason, skipped updates, frames
received / expected / lost by their ``sequence``, the variables that block the window; STALE when no frame came
for ``stale_after_s``).

Services (std_srvs/Trigger): ``~/reset`` empties the window (the next graph waits for ``min_samples`` new
samples); ``~/discover_now`` runs a discovery on the current window at once and answers with the published graph's
size, or why there is none (too few samples, a run already going).

Every parameter applies at runtime (:meth:`OnlineDiscovery.reconfigure`; the next graph reflects it) or the
change is rejected with the reason; none is silently ignored.
"""
from __future__ import annotations

import gc
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from geometry_msgs.msg import Point
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import ColorRGBA
from std_srvs.srv import Trigger
from visualization_msgs.msg import Marker, MarkerArray

from causal_msgs.msg import CausalGraph, CausalLink, VariableFrame
from causal_nodes.discovery.discover import ENGINES, METHOD_DEFAULT_PC_ALPHA, METHODS, TESTS, DiscoveryConfig
from causal_nodes.discovery.graph_layout import circle_layout, link_style, render_graph_image
from causal_nodes.discovery.independence_tests import ci_test, parse_test_options
from causal_nodes.discovery.online import DiscoveryOutcome, OnlineDiscovery
from causal_nodes.discovery.window import WindowConfig
from causal_nodes.nodes.common import (
    ERROR,
    LATCHED_QOS,
    OK,
    STREAM_QOS,
    WARN,
    DiagnosticsPublisher,
    declare,
    input_health,
    monotonic,
    on_parameter_change,
    parameter_values,
    run_node,
    stamp_seconds,
    to_time_msg,
    wall_timer,
)
from causal_nodes.variables.stream_health import InputMonitor

MARKER_NAMESPACE = "causal_graph"


DISCOVERY_PARAMETERS = ("method", "test", "test_options", "engine", "tau_min", "tau_max", "pc_alpha", "alpha_level",
                        "max_conds_dim", "max_combinations", "context", "context_bins")
WINDOW_PARAMETERS = ("window_length", "time_jump_reset_s", "max_forward_jump_s", "max_variables", "leave_out_after",
                     "leave_out_nan_after")


class DiscoveryNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("discovery_node", **kwargs)
        self._worker: ThreadPoolExecutor | None = None
        declare(self, "method", "pcmci", "PCMCI variant", choices=METHODS)
        declare(self, "test", "parcorr", "Conditional independence test", choices=TESTS)
        declare(self, "test_options", [""], "Options of the test, 'KEY=VALUE' (e.g. n_features=3)")
        declare(self, "engine", "auto", "auto = exact fast ParCorr engine where it applies, else tigramite",
                choices=ENGINES)
        declare(self, "tau_min", 0, "Smallest lag [samples]", int_range=(0, 50))
        declare(self, "tau_max", 3, "Largest lag [samples]", int_range=(0, 50))
        declare(self, "pc_alpha", METHOD_DEFAULT_PC_ALPHA, "Significance of the PC stages; 0 = the method's default "
                "as in tigramite (pcmci 0.2, pcmciplus 0.01)", float_range=(0.0, 0.9999))
        declare(self, "alpha_level", 0.01, "Significance of a link in the final graph", float_range=(0.0001, 0.9999))
        declare(self, "max_conds_dim", -1, "Largest condition set in the PC stage (-1 = unlimited)",
                int_range=(-1, 100))
        declare(self, "max_combinations", 1, "Condition combinations tested per size", int_range=(1, 100))
        declare(self, "context", "", "Variable of regime labels: tests run within regimes (test rcot)")
        declare(self, "context_bins", "", "Increasing edges 'E1,E2,..' cutting a continuous context into regimes")
        declare(self, "window_length", 300, "Samples in the sliding window", int_range=(20, 100000))
        declare(self, "time_jump_reset_s", 1.0,
                "A stamp this far behind the newest resets the window (looping bag) [s]", float_range=(0.001, 3600.0))
        declare(self, "max_forward_jump_s", 10.0,
                "A stamp this far ahead of the newest is dropped; 3 in a row reset the window [s]",
                float_range=(0.01, 1e6))
        declare(self, "max_variables", 50, "Widest frame taken into the window; wider ones are dropped and counted",
                int_range=(2, 1000))
        declare(self, "variables", [""], "Variables to use, in order ([''] = all in the frames)")
        declare(self, "leave_out_after", 20, "Frames in a row a variable may be missing from the frames before it is "
                "left out of the window (the others' samples kept); 0 = never, frames without it are rejected",
                int_range=(0, 100000))
        declare(self, "leave_out_nan_after", 0, "The same for a variable that is NaN; 0 = never (NaN is a person "
                "out of view: those frames wait, the window keeps its encounters)", int_range=(0, 100000))
        declare(self, "min_samples", 50, "Fewest samples before a graph is computed", int_range=(10, 100000))
        declare(self, "pool_encounters", False, "Pool encounters (subject changes, gaps) as separate datasets")
        declare(self, "encounter_gap_s", 1.0, "A gap this long starts a new encounter [s]",
                float_range=(0.001, 3600.0))
        self.marker_frame = declare(self, "marker_frame", "base_link", "Frame the graph markers are drawn in")
        self.marker_height = declare(self, "marker_height", 2.0, "Height of the graph above the frame origin [m]",
                                     float_range=(-100.0, 100.0))
        self.marker_radius = declare(self, "marker_radius", 1.0, "Radius of the variables' circle [m]",
                                     float_range=(0.1, 100.0))
        self.publish_image = declare(self, "publish_image", True, "Publish the rendered graph image")
        self.update_period_s = declare(self, "update_period_s", 1.0, "Time between discoveries [s, node clock]",
                                       float_range=(0.01, 3600.0))
        self.stale_after_s = declare(self, "stale_after_s", 5.0,
                                     "No frame for this long: STALE on /diagnostics [s, wall clock]",
                                     float_range=(0.1, 3600.0))
        try:
            config, window, variables = self._settings({})
            self.online = OnlineDiscovery(window, config, variables=variables,
                                          min_samples=self.get_parameter("min_samples").value,
                                          pool_encounters=self.get_parameter("pool_encounters").value,
                                          encounter_gap_s=self.get_parameter("encounter_gap_s").value)
        except ValueError as error:  # checked at start-up, not at the first frame
            raise ValueError(f"{self.get_name()}: parameter {error}") from None

        self._lock = threading.Lock()  # guards the window between the frame callback and the timer
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pcmci")
        self._worker.submit(self._prepare_engine)
        self._running: Future | None = None
        self.skipped_updates = 0
        self.graphs_published = 0
        self.frames_received = 0
        self.inputs = InputMonitor(["frames"], self.stale_after_s, monotonic())
        self._resets_reported = 0
        self._returns_reported = 0
        self._last_outcome: DiscoveryOutcome | None = None
        self._last_latency_s = float("nan")

        self.graph_pub = self.create_publisher(CausalGraph, "causal/graph", LATCHED_QOS)
        self.marker_pub = self.create_publisher(MarkerArray, "causal/graph_markers", LATCHED_QOS)
        self.image_pub = self.create_publisher(Image, "causal/graph_image", LATCHED_QOS)
        self.diagnostics = DiagnosticsPublisher(self)
        self.create_subscription(VariableFrame, "causal/variables", self._on_frame, STREAM_QOS)
        # Services share the node's executor thread (one per node, see composition.py): a ~/discover_now waits for
        # its run, and the frames meanwhile wait in their queue (depth 1000).
        services = MutuallyExclusiveCallbackGroup()
        self.create_service(Trigger, "~/reset", self._on_reset, callback_group=services)
        self.create_service(Trigger, "~/discover_now", self._on_discover_now, callback_group=services)
        self._tick_timer = self.create_timer(self.update_period_s, self._on_tick)
        wall_timer(self, 1.0, self._publish_diagnostics)
        on_parameter_change(self, self._apply_parameters)

    # ---- parameters -----------------------------------------------------------------------------------------
    def _settings(self, changes: dict[str, Any]) -> tuple[DiscoveryConfig, WindowConfig, list[str]]:
        """The discovery and window settings from the parameters with ``changes`` applied (ValueError if bad)."""
        d = parameter_values(self, DISCOVERY_PARAMETERS, changes)
        d["max_conds_dim"] = _none_if_negative(d["max_conds_dim"])
        d["test"] = ci_test(d["test"], parse_test_options([item for item in d.pop("test_options") if item]))
        d["context_bins"] = _floats(d["context_bins"])
        w = parameter_values(self, WINDOW_PARAMETERS, changes)
        window = WindowConfig(length=w["window_length"], time_jump_reset_s=w["time_jump_reset_s"],
                              max_forward_jump_s=w["max_forward_jump_s"], max_variables=w["max_variables"],
                              leave_out_after=w["leave_out_after"], leave_out_nan_after=w["leave_out_nan_after"])
        variables = [v for v in parameter_values(self, ["variables"], changes)["variables"] if v]
        return DiscoveryConfig(**d), window, variables

    def _apply_parameters(self, changes: dict[str, Any]) -> None:
        config, window, variables = self._settings(changes)
        InputMonitor((), changes.get("stale_after_s", self.stale_after_s), 0.0)  # validates
        with self._lock:
            self.online.reconfigure(config, window, changes.get("min_samples"), variables)
            self.online.pool_encounters = changes.get("pool_encounters", self.online.pool_encounters)
            self.online.encounter_gap_s = changes.get("encounter_gap_s", self.online.encounter_gap_s)
        for name in ("marker_frame", "marker_height", "marker_radius", "publish_image", "stale_after_s"):
            if name in changes:
                setattr(self, name, changes[name])
        self.inputs.stale_after_s = self.stale_after_s
        if "update_period_s" in changes and changes["update_period_s"] != self.update_period_s:
            self.update_period_s = changes["update_period_s"]
            self.destroy_timer(self._tick_timer)
            self._tick_timer = self.create_timer(self.update_period_s, self._on_tick)

    def _prepare_engine(self) -> None:
        """Loads (or compiles, the first time on a machine) the fast engine's kernels before the first window is
        full, then freezes the start-up heap: modules and compiled code are never garbage, and a full garbage
        collection that had to scan them would add ~100 ms to whichever 10 Hz update triggers it."""
        self.online.warm_up()
        gc.freeze()

    # ---- callbacks ------------------------------------------------------------------------------------------
    def _on_frame(self, msg: VariableFrame) -> None:
        self.frames_received += 1
        self.inputs.arrived("frames", monotonic(), int(msg.sequence))
        with self._lock:
            self.online.add(stamp_seconds(msg.header.stamp), list(msg.names), list(msg.values), msg.subject_id)
            resets = sum(self.online.window.resets.values())
            returns, returned, fill = self.online.returns, self.online.last_returned, self.online.window.fill
        if returns != self._returns_reported:
            self._returns_reported = returns
            self.get_logger().info(f"back in the window: {', '.join(returned)} (switched to the {fill} newest frames "
                                   "that carry it)")
        if resets != self._resets_reported:
            self._resets_reported = resets
            self.get_logger().warning("window reset: " + ", ".join(
                f"{k} x{v}" for k, v in self.online.window.resets.items()), throttle_duration_sec=2.0)

    def _on_tick(self) -> None:
        if self._running is not None and not self._running.done():
            self.skipped_updates += 1
            return
        with self._lock:
            if not self.online.ready():
                return
            job = self.online.take_job()
        self._running = self._worker.submit(self._run_and_publish, job)

    def _run_and_publish(self, job) -> None:
        outcome = self.online.run(job)
        self._last_outcome = outcome
        if outcome.result is None:
            return
        self.graph_pub.publish(self.graph_message(outcome))
        self.marker_pub.publish(self.marker_message(outcome))
        if self.publish_image:
            self.image_pub.publish(self.image_message(outcome))
        self.graphs_published += 1
        self._last_latency_s = time.monotonic() - job.taken_at

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._lock:
            dropped = self.online.reset("requested")
        response.success, response.message = True, f"window emptied ({dropped} samples dropped)"
        self.get_logger().info(response.message)
        return response

    def _on_discover_now(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self._running is not None and not self._running.done():
            response.success, response.message = False, "a discovery is running; its graph follows on causal/graph"
            return response
        with self._lock:
            enough, sentence = self.online.fill_status()
            if not enough:
                response.success, response.message = False, f"no graph: {sentence}"
                return response
            job = self.online.take_job()
        self._running = self._worker.submit(self._run_and_publish, job)
        self._running.result()
        outcome = self._last_outcome
        if outcome is None or outcome.result is None:
            response.success = False
            response.message = f"no graph: {outcome.error if outcome is not None else 'the run did not finish'}"
        else:
            result = outcome.result
            response.success = True
            response.message = (f"graph published: {len(result.links())} links, {result.sample_count} samples, "
                                f"{result.seconds * 1e3:.0f} ms ({result.engine})")
        return response

    def _publish_diagnostics(self) -> None:
        level, message, counters = self.status()
        self.diagnostics.publish(level, message, counters)

    def status(self) -> tuple[int, str, dict[str, Any]]:
        """(level, sentence, counters) for /diagnostics."""
        with self._lock:
            counters = self.online.counters()
            enough, sentence = self.online.fill_status()
        counters.update(frames_received=self.frames_received, graphs_published=self.graphs_published,
                        skipped_updates=self.skipped_updates, latency_s=self._last_latency_s)
        counters.update(self.inputs.counters())
        level, message = (OK, sentence) if enough else (WARN, f"no graph: {sentence}")
        if self.online.blocking() or self.online.left_out:
            level = max(level, WARN)
        outcome = self._last_outcome
        if outcome is not None:
            if outcome.result is not None:
                counters.update(compute_time_s=outcome.result.seconds, engine=outcome.result.engine,
                                links=len(outcome.result.links()), datasets=outcome.result.datasets)
                if outcome.result.dropped:
                    level = max(level, WARN)
                    message += f"; left out: {outcome.result.dropped_text()}"
            else:
                level = WARN if outcome.insufficient else ERROR
                message += f"; last run failed: {outcome.error}"
        level, message = input_health(level, message, self.inputs, {"frames": "/causal/variables"})
        return level, message, counters

    # ---- message conversion ---------------------------------------------------------------------------------
    def graph_message(self, outcome: DiscoveryOutcome) -> CausalGraph:
        result = outcome.result
        config = result.config
        msg = CausalGraph(
            variables=list(result.variables), tau_min=config.tau_min, tau_max=config.tau_max,
            method=config.method.value, test=config.test.name, engine=str(result.engine),
            pc_alpha=float(config.pc_alpha) if config.pc_alpha is not None else float("nan"),
            alpha_level=config.alpha_level, window_start=to_time_msg(outcome.window_start),
            window_end=to_time_msg(outcome.window_end), sample_count=result.sample_count,
            compute_time=result.seconds,
            links=[CausalLink(source=link.source, target=link.target, lag=link.lag, link_type=link.link_type,
                              strength=link.strength, p_value=link.p_value) for link in result.links()],
        )
        msg.header.stamp = to_time_msg(outcome.window_end)
        msg.header.frame_id = self.marker_frame
        return msg

    def marker_message(self, outcome: DiscoveryOutcome) -> MarkerArray:
        result = outcome.result
        stamp = to_time_msg(outcome.window_end)
        layout = circle_layout(result.variables, self.marker_radius)
        markers: list[Marker] = [Marker(action=Marker.DELETEALL, ns=MARKER_NAMESPACE)]

        def marker(kind: int, marker_id: int) -> Marker:
            m = Marker(type=kind, action=Marker.ADD, ns=MARKER_NAMESPACE, id=marker_id)
            m.header.frame_id = self.marker_frame
            m.header.stamp = stamp
            m.pose.orientation.w = 1.0
            return m

        def point(name: str, dz: float = 0.0) -> Point:
            x, y = layout[name]
            return Point(x=x, y=y, z=self.marker_height + dz)

        next_id = 0
        for name in result.variables:
            sphere = marker(Marker.SPHERE, next_id)
            sphere.pose.position = point(name)
            sphere.scale.x = sphere.scale.y = sphere.scale.z = 0.15 * self.marker_radius
            sphere.color = ColorRGBA(r=0.3, g=0.3, b=0.3, a=1.0)
            label = marker(Marker.TEXT_VIEW_FACING, next_id + 1)
            label.pose.position = point(name, 0.15 * self.marker_radius)
            label.scale.z = 0.08 * self.marker_radius
            label.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
            label.text = name
            markers += [sphere, label]
            next_id += 2
        for link in result.links():
            style = link_style(link)
            color = ColorRGBA(r=style.color[0], g=style.color[1], b=style.color[2], a=style.color[3])
            arrow = marker(Marker.ARROW, next_id)
            start, end = point(link.source), point(link.target)
            if link.source == link.target:  # autodependency: a short upward arrow above the variable
                end = point(link.target, 0.3 * self.marker_radius)
                start = point(link.source, 0.1 * self.marker_radius)
            arrow.points = [start, end]
            arrow.scale.x = 0.03 * self.marker_radius * (0.5 + 2 * style.width)
            arrow.scale.y = 2.5 * arrow.scale.x
            arrow.scale.z = 3.0 * arrow.scale.x
            arrow.color = color
            text = marker(Marker.TEXT_VIEW_FACING, next_id + 1)
            text.pose.position = Point(x=(start.x * 2 + end.x) / 3, y=(start.y * 2 + end.y) / 3,
                                       z=(start.z * 2 + end.z) / 3 + 0.05)
            text.scale.z = 0.06 * self.marker_radius
            text.color = color
            text.text = f"lag {link.lag} ({link.strength:+.2f})"
            markers += [arrow, text]
            next_id += 2
        return MarkerArray(markers=markers)

    def image_message(self, outcome: DiscoveryOutcome) -> Image:
        result = outcome.result
        pixels = render_graph_image(result.variables, result.links(),
                                    title=f"{result.config.method} {result.config.test} n={result.sample_count}")
        msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding="rgb8", is_bigendian=0,
                    step=pixels.shape[1] * 3, data=pixels.tobytes())
        msg.header.stamp = to_time_msg(outcome.window_end)
        msg.header.frame_id = self.marker_frame
        return msg

    def destroy_node(self) -> None:
        if self._worker is not None:  # None when the constructor failed (a bad parameter) before making it
            self._worker.shutdown(wait=True, cancel_futures=True)
        super().destroy_node()


def _none_if_negative(value: int) -> int | None:
    return None if value < 0 else value


def _floats(text: str) -> tuple[float, ...]:
    """'E1,E2,..' -> floats; ValueError naming the text (the node then refuses to start)."""
    try:
        return tuple(float(item) for item in text.split(",") if item.strip())
    except ValueError:
        raise ValueError(f"expected numbers separated by commas, got {text!r}") from None


def main(args=None) -> None:
    run_node(DiscoveryNode, args)


if __name__ == "__main__":
    main()
