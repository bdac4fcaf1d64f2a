"""The main job: a built-in scenario with a known causal graph, run through the real node graph over DDS.

The simulator node publishes the scenario on real topics, the variables and discovery nodes compute the causal
graph online, the prioritizer ranks what drives the target, and a recorder writes an MCAP bag. At the end the
discovered graph is printed beside the scenario's reference graph (physical scenarios: the interventional
reference over the observed variables, docs/simulator.md) with precision / recall / F1 lag-level and
lag-collapsed, and the output folder gets graph.json, graph.png, summary.json and bag/.

Why the run holds up on a loaded machine: the simulator runs ahead of the variables node by at most
``max_lead_s`` of sim time (flow control). Without it, on a busy 2-core machine at 20x real time, the
variables node's input topics arrived up to 1.1 s of sim time apart (measured), more than the 0.5 s it waits for
a late input, so frames went out with NaN robot variables and the discovery window, which refuses such frames,
starved ("no causal graph was published"). The lead is measured on the variables node's frames, which wait for
every sampled input, so a topic that is late by any amount of wall time slows the run but never makes a NaN
frame (test/nodes/test_sim_node.py); the one NaN frame left is the first, where a person has no velocity yet.
The one wall-clock rule: before the first frame the simulator waits at most 1 s (a run without a variables node
must not stall), so a first frame later than that costs about one NaN frame (measured with /scan held back 1.5 s).

Why it refuses to start beside another pipeline in its ROS domain: a second simulator's /odom, /people, /scan are
indistinguishable from this run's, and mixed they gave 540 NaN frames of 1528 (docs/robustness.md); its
simulator's frames would also steer this run's flow control. Publishers of the run's topics found after 1 s of
discovery are refused in one line; one that appears later is named in summary.json (``foreign_publishers``).

The discovery and prioritizer windows hold at most --window samples, so a long run costs the same per graph as a
short one. Ctrl-C stops the run early and still writes the outputs of the newest graph (summary.json says
"interrupted": true; exit code 130).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import time
from collections import deque
from pathlib import Path

from causal_nodes.discovery.presets import PresetUnfit, preset_for
from causal_nodes.evaluation.discovery_scores import guess_line, guess_scores, score_against
from causal_nodes.evaluation.graph_metrics import score_links

DEMO_SCENARIO = "corridor_passing"
MAX_LEAD_S = 0.3
"""Sim time the simulator may run ahead of the variables node: below its max_input_age_s (0.5 s)."""
DEFAULT_WINDOW = 2000  # samples: a bounded window for long runs
RECORDED_TOPICS = ["/clock", "/causal/variables", "/causal/graph", "/sim/ground_truth", "/causal/priorities",
                   "/causal/interventions", "/people", "/odom", "/scan", "/goal_pose", "/tf", "/tf_static"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default %(default)s)")
    parser.add_argument("--scenario", default=DEMO_SCENARIO,
                        help="scenario name or YAML (default %(default)s; scm_demo is the synthetic SCM stream)")
    parser.add_argument("--duration", type=float, default=None, help="simulated seconds (default: the scenario's)")
    parser.add_argument("--speed", type=float, default=20.0,
                        help="simulated seconds per wall-clock second (default %(default)s)")
    parser.add_argument("--tau-max", type=int, default=3,
                        help="lags of the reference the graph is scored on (and of the general preset's discovery)")
    parser.add_argument("--discovery", choices=("auto", "hri", "general"), default="auto",
                        help="discovery preset (causal_nodes/discovery/presets.py): hri = rcot within approach / "
                             "leave regimes, tau_max 1 (the best measured on human-robot scenarios); general = "
                             "ParCorr, tau_max --tau-max; auto (default) = hri for physical scenarios, else general")
    parser.add_argument("--target", default=None,
                        help="prioritizer target (default: collision_risk if present, else human_robot_distance)")
    parser.add_argument("--seed", type=int, default=-1, help="simulator seed (-1 = the scenario's)")
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW,
                        help="most samples in the discovery and prioritizer windows (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    from rclpy.parameter import Parameter

    from causal_msgs.msg import CausalGraph, CausalPriorities, InterventionArray
    from causal_nodes.cli import CommandError
    from causal_nodes.nodes.common import LATCHED_QOS
    from causal_nodes.nodes.composition import Composition, node_factories
    from causal_nodes.nodes.recorder_node import RecorderNode
    from causal_nodes.sim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    duration = args.duration or scenario.duration_s
    if duration <= 0 or args.speed <= 0:
        raise CommandError(f"--duration ({duration}) and --speed ({args.speed}) must be > 0")
    if args.window < 20:
        raise CommandError(f"--window must be >= 20 samples, got {args.window}")
    steps = int(round(duration / scenario.dt))
    window = max(min(steps, args.window), 20)
    reference = scenario.reference(tau_max=args.tau_max)  # physical: stored in sim/references/ (else derived)
    for name, why in reference.left_out.items():
        print(f"WARN: {name} left out: {why} in this scenario")
    variables = list(reference.variables)
    try:
        settings = preset_for(args.discovery, scenario.kind, scenario.name)
    except PresetUnfit as error:
        raise CommandError(f"--discovery {error}") from None
    discovery_parameters = {"tau_max": args.tau_max, **settings.parameters}
    truth = reference.links
    target = args.target or next((v for v in ("collision_risk", "time_to_collision", "human_robot_distance")
                                  if v in variables), variables[-1])
    actionable = [v for v in ("robot_linear_speed", "robot_angular_speed") if v in variables]
    args.out.mkdir(parents=True, exist_ok=True)
    bag_dir = args.out / "bag"
    if bag_dir.exists():
        shutil.rmtree(bag_dir)

    def p(**values) -> list[Parameter]:
        return [Parameter(k, value=v) for k, v in values.items()]

    factories = node_factories()
    graphs: deque[CausalGraph] = deque(maxlen=2)  # the newest ones only: a long run keeps nothing else
    priorities: deque[CausalPriorities] = deque(maxlen=2)
    interventions: deque[InterventionArray] = deque(maxlen=2)
    started = time.monotonic()
    print(f"scenario {scenario.name} ({scenario.kind}): {len(variables)} variables, {steps} steps of "
          f"{scenario.dt} s, {len(truth)} links in the {reference.kind} reference; discovery preset "
          f"{settings.name} ({', '.join(f'{k} {v}' for k, v in discovery_parameters.items())})")
    with Composition() as ros:
        observer = ros.add(lambda **kw: __import__("rclpy").create_node("demo_observer", **kw))
        # Another pipeline in this ROS domain (a second demo, a simulator, a bag replay) would feed this run's nodes
        # and they its own: refused before any node of this run exists (measured: 540 NaN frames of 1528).
        ros.spin_until(lambda: False, 1.0)  # time to discover the other processes' publishers
        ours = {"/causal/graph": 1, "/causal/variables": int(scenario.kind == "physical")}
        sim_topics = SIM_TOPICS[scenario.kind]
        if foreign := _foreign_publishers(observer, {**dict.fromkeys(ours, 0), **dict.fromkeys(sim_topics, 0)}):
            raise CommandError(f"other publishers on {_describe(foreign)} in ROS_DOMAIN_ID "
                               f"{os.environ.get('ROS_DOMAIN_ID', '0')}: their messages would mix with this run's "
                               "(another demo, simulator or bag replay?); stop them or export another ROS_DOMAIN_ID")
        recorder = ros.add(RecorderNode, bag=str(bag_dir), topics=RECORDED_TOPICS, storage="mcap")
        # (lambdas: rclpy inspects a callback's signature, which a deque's builtin append does not have)
        observer.create_subscription(CausalGraph, "/causal/graph", lambda m: graphs.append(m), LATCHED_QOS)
        observer.create_subscription(CausalPriorities, "/causal/priorities", lambda m: priorities.append(m),
                                     LATCHED_QOS)
        observer.create_subscription(InterventionArray, "/causal/interventions", lambda m: interventions.append(m),
                                     LATCHED_QOS)
        discovery = ros.add(factories["discovery"], parameter_overrides=p(
            window_length=window, min_samples=min(window, 100), update_period_s=0.5, variables=variables,
            **discovery_parameters))
        prioritizer = None
        if actionable and target in variables:
            prioritizer = ros.add(factories["prioritizer"], parameter_overrides=p(
                target=target, actionable=actionable, window_size=window, bootstrap=50,
                goal="maximize" if target == "human_robot_distance" else "minimize",
                # SCM variables are abstract (no poses on /odom, /people): their effects come from the SEM alone.
                effect_model="kinematic" if scenario.kind == "physical" else "linear",
                plan_topic="/local_plan" if scenario.kind == "physical" else ""))  # the sim node's robot plan
        if scenario.kind == "physical":
            # the person the reference describes (the scenario's subject), not whoever is nearest to the robot
            ros.add(factories["variables"], parameter_overrides=p(variables=variables + list(settings.extra_variables),
                                                                  person=scenario.physical.person_parameter()))
        ros.spin_until(lambda: False, 1.0)  # let discovery match publishers and subscribers before data flows
        sim = ros.add(factories["sim"], parameter_overrides=p(
            scenario=str(scenario.source or scenario.name), duration_s=duration + sim_offset(),
            real_time_factor=args.speed, seed=args.seed, publish_camera="image_motion" in variables,
            start_delay_s=1.0,  # the recorder subscribes once it sees the sim's publishers: the first frames too
            max_lead_s=MAX_LEAD_S))
        _run_to_the_end(ros, sim)
        final_stamp = sim.sim.time + sim_offset() - scenario.dt
        ros.spin_until(lambda: _covers(graphs, final_stamp, scenario.dt), 120)
        ros.spin_until(lambda: bool(priorities) and _stamp(priorities[-1]) >= _stamp(graphs[-1]) - 1e-6, 10)
        foreign = _foreign_publishers(observer, {**ours, **dict.fromkeys(sim_topics, 1)})
        for topic, others in sim.foreign_publishers.items():  # seen by the simulator during the run
            foreign[topic] = max(others, foreign.get(topic, 0))
        summary_bag = recorder.finish()
        diag = discovery.online.counters()
        plan = prioritizer.online.counters()["plan"] if prioritizer is not None else "no prioritizer"
        interrupted = ros.stop.is_set()
    if foreign:
        print(f"WARN: other publishers on {_describe(foreign)} during the run: their messages mixed with this "
              "run's, so its frames and scores are not this scenario's alone")
    if not graphs:
        if interrupted:
            (args.out / "summary.json").write_text(json.dumps(
                {"interrupted": True, "graphs": 0, "scenario": scenario.name, "bag": str(summary_bag.bag),
                 "bag_messages": summary_bag.message_count, "window": diag,
                 "foreign_publishers": foreign}, indent=1, default=_json_default))
            print(f"\ninterrupted before the first graph; wrote {args.out}/summary.json and bag/")
            return 130
        raise CommandError("no causal graph was published; see the discovery node's diagnostics")
    graph = graphs[-1]
    links = [(link.source, link.target, link.lag, link.link_type) for link in graph.links]
    scores = score_against(links, reference)
    if scenario.kind == "physical":
        scores["f1_mechanism"] = score_links(links, scenario.mechanism_truth(variables))["f1"]
    _print_comparison(graph, truth)
    print(f"\nagainst the {reference.kind} reference ({len(truth)} links): precision {scores['precision']:.3f}  "
          f"recall {scores['recall']:.3f}  F1 {scores['f1']:.3f}  (tp {scores['tp']}, fp {scores['fp']}, "
          f"fn {scores['fn']}); lag-collapsed F1 {scores['f1_summary']:.3f}")
    # robot_plan: the plan the prioritizer used last
    scores.update(guess_scores(reference), robot_plan=plan, discovery_preset=settings.name)
    print(guess_line(scores))
    if priorities:
        _print_priorities(priorities[-1], interventions[-1] if interventions else None)
    scores["foreign_publishers"] = foreign
    _write_outputs(args.out, graph, truth, scores, scenario, summary_bag, diag, time.monotonic() - started,
                   interrupted)
    print(f"\n{'interrupted: ' if interrupted else ''}wrote {args.out}/graph.json, graph.png, summary.json and bag/ "
          f"({summary_bag.message_count} messages)")
    return 130 if interrupted else 0


STALL_S = 60.0
"""Wall seconds without any simulator progress after which the demo stops waiting for the run to finish."""


def _run_to_the_end(ros, sim) -> None:
    """Spins until the simulator finished, however slowly a loaded machine lets it go (flow control paces it to
    the pipeline), giving up only when it made no progress for STALL_S."""
    last, last_change = sim.sim.time, time.monotonic()
    while not sim.finished and time.monotonic() - last_change < STALL_S and not ros.stop.is_set():
        ros.spin_until(lambda: sim.finished, 1.0)
        if sim.sim.time != last:
            last, last_change = sim.sim.time, time.monotonic()
    if not sim.finished and not ros.stop.is_set():
        print(f"WARN: the simulator made no progress for {STALL_S:.0f} s; scoring the run up to "
              f"{sim.sim.time:.1f} s of sim time")


SIM_TOPICS = {"physical": ["/clock", "/people", "/odom", "/scan", "/imu", "/goal_pose"],
              "scm": ["/clock", "/causal/variables"]}
"""The simulator node's state topics (one publisher each: the simulator)."""


def _foreign_publishers(node, ours: dict[str, int]) -> dict[str, int]:
    """Topic -> publishers beyond this run's own ``ours[topic]`` (another pipeline in the same ROS domain)."""
    counts = {topic: node.count_publishers(topic) - own for topic, own in ours.items()}
    return {topic: n for topic, n in counts.items() if n > 0}


def _describe(foreign: dict[str, int]) -> str:
    return ", ".join(f"{topic} ({n})" for topic, n in sorted(foreign.items()))


def sim_offset() -> float:
    """The simulator node starts its clock at 1 s (ROS reads time 0 as unset); durations include it."""
    return 1.0


def _stamp(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def _covers(graphs: list, final_stamp: float, dt: float) -> bool:
    return bool(graphs) and _stamp(graphs[-1]) >= final_stamp - dt / 2


def _print_comparison(graph, truth) -> None:
    found = {(link.source, link.target, link.lag): link for link in graph.links}
    keys = sorted(set(found) | set(truth), key=lambda k: (k[1], k[2], k[0]))
    print(f"\n{'link':<58}{'truth':>7}{'found':>7}{'strength':>10}")
    for key in keys:
        link = found.get(key)
        mark = link.link_type if link else ""
        strength = f"{link.strength:+.3f}" if link else ""
        print(
            f"{key[0]}(t-{key[2]}) -> {key[1]}(t)".ljust(58)
            + f"{'yes' if key in truth else '':>7}{mark:>7}{strength:>10}"
        )


def _print_priorities(priorities, interventions) -> None:
    print(f"\ncausal drivers of {priorities.target} (total effect over {priorities.horizon} steps):")
    for p in priorities.priorities[:5]:
        flag = " (actionable)" if p.actionable else ""
        print(
            f"  {p.variable:<24} effect {p.total_effect:+.4f} ± {p.total_effect_std:.4f}  weight {p.weight:.2f}{flag}"
        )
    if interventions and interventions.candidates:
        best = interventions.candidates[0]
        print(f"best intervention: do({best.variable} = {best.value:.3f}) -> predicted change of "
              f"{interventions.target} {best.predicted_effect:+.4f} ± {best.predicted_effect_std:.4f}")


def _write_outputs(out: Path, graph, truth, scores: dict, scenario, bag, diagnostics: dict, seconds: float,
                   interrupted: bool = False) -> None:
    from causal_nodes.discovery.discover import Link
    from causal_nodes.discovery.graph_layout import render_graph_image

    links = [
        Link(link.source, link.target, link.lag, link.link_type, link.strength, link.p_value) for link in graph.links
    ]
    (out / "graph.json").write_text(json.dumps({
        "variables": list(graph.variables),
        "links": [{"source": link.source, "target": link.target, "lag": link.lag, "link_type": link.link_type,
                   "strength": link.strength, "p_value": link.p_value} for link in links],
        "ground_truth": [list(k) for k in sorted(truth)],
        "reference": scores.get("reference"),
        "method": graph.method, "test": graph.test, "engine": graph.engine, "tau_max": graph.tau_max,
        "pc_alpha": graph.pc_alpha, "alpha_level": graph.alpha_level, "sample_count": graph.sample_count,
        "compute_time_s": graph.compute_time,
    }, indent=1))
    import cv2

    image = render_graph_image(list(graph.variables), links, size=640,
                               title=f"{scenario.name}: F1 {scores['f1']:.2f} ({graph.sample_count} samples)")
    cv2.imwrite(str(out / "graph.png"), image[:, :, ::-1])
    summary = dict(scores)
    summary.update(scenario=scenario.name, samples=graph.sample_count, links_found=len(links),
                   links_true=len(truth), engine=graph.engine, discovery_seconds=graph.compute_time,
                   wall_seconds=round(seconds, 2), bag=str(bag.bag), bag_messages=bag.message_count,
                   window=diagnostics, interrupted=interrupted)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=_json_default))


def _json_default(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)
