"""Simulate a scenario straight into a rosbag2 bag: the topics a recorded simulator-node run has, without DDS.

Why: fleet-scale analysis (``causal-nodes fleet``) and its benchmarks need many hours of robot logs with a known
causal ground truth. Running the simulator node under a recorder goes at most as fast as DDS delivers; writing the
messages directly is limited only by the simulator and the serializer, and nothing can be lost on the way.

Message times in the bag are the message stamps (a recorder would store receive times a little later). The bag's
``metadata.yaml`` ``custom_data`` records the scenario, seed, steps, grid period and interventions, so analysis
tools can group bags by them (``causal-nodes fleet --group-by scenario``).
"""
from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

from causal_nodes.bags.message_fields import MessageBuilder
from causal_nodes.bags.writer import BagWriter

from .interventions import Intervention
from .scenario import Scenario, load_scenario
from .topic_messages import LATCHED_TOPICS, SimMessages

#: Queue depths the simulator node offers (sensor outputs 10, VariableFrame streams 1000, latched graphs 1).
_DEPTHS = {"/causal/variables": 1000, "/sim/true_variables": 1000, "/tf": 100}


def _offered_qos(topic: str) -> Qos:
    """The QoS profile the simulator node's publisher of ``topic`` offers (stored for ``ros2 bag play``)."""
    latched = topic in LATCHED_TOPICS
    return Qos(history=QosHistory.KEEP_LAST, depth=1 if latched else _DEPTHS.get(topic, 10),
               reliability=QosReliability.RELIABLE,
               durability=QosDurability.TRANSIENT_LOCAL if latched else QosDurability.VOLATILE,
               deadline=QosTime(0, 0), lifespan=QosTime(0, 0), liveliness=QosLiveliness.AUTOMATIC,
               liveliness_lease_duration=QosTime(0, 0), avoid_ros_namespace_conventions=False)


@dataclass
class SimBag:
    """What was written: the bag, the number of grid steps and the messages per topic."""

    path: Path
    scenario: str
    seed: int
    steps: int
    dt: float
    counts: dict[str, int]

    @property
    def message_count(self) -> int:
        return sum(self.counts.values())

    @property
    def duration_s(self) -> float:
        return self.steps * self.dt


def write_scenario_bag(scenario: Scenario | str, out: str | Path, *, seed: int | None = None,
                       steps: int | None = None, interventions: Iterable[Intervention] = (), camera: bool = False,
                       true_variables: bool = True, storage: str = "mcap", time_offset_s: float = 1.0,
                       overwrite: bool = False) -> SimBag:
    """Run ``scenario`` for ``steps`` grid steps (default: its duration) and write every state into bag ``out``.

    ``camera=False`` leaves ``/camera/image_raw`` out, and with it the ``image_motion`` variable (a sink, so the
    ground truth of the other variables does not change), as the simulator node does with ``publish_camera:=false``.
    The bag is written atomically (:class:`~causal_nodes.bags.writer.BagWriter`): on an error nothing is left.
    """
    scenario = copy.deepcopy(load_scenario(scenario) if isinstance(scenario, str) else scenario)
    if scenario.physical is not None and not camera:
        scenario.physical.camera.enabled = False
        scenario.variables = [v for v in scenario.variables if v != "image_motion"]
    steps = scenario.steps if steps is None else int(steps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    seed = scenario.seed if seed is None else int(seed)
    items = list(interventions)
    sim = scenario.make_simulator(seed)
    for intervention in items:
        sim.apply_intervention(intervention)
    messages = SimMessages(scenario, sim, time_offset_s=time_offset_s, camera=camera, true_variables=true_variables)
    topics = messages.topics()
    with BagWriter(out, storage=storage, overwrite=overwrite) as bag:
        builder = MessageBuilder(bag.typestore)
        for topic, msgtype in topics.items():
            bag.add_topic(topic, msgtype, offered_qos=[_offered_qos(topic)])
        for key, value in (("scenario", scenario.name), ("kind", scenario.kind), ("seed", seed),
                           ("steps", steps), ("dt", scenario.dt), ("time_offset_s", time_offset_s),
                           ("interventions", "; ".join(_describe(iv) for iv in items)),
                           ("generator", "causal-nodes simulate --bag")):
            bag.set_custom_data(key, str(value))

        def write(topic: str, fields: dict) -> None:
            bag.write_message(topic, int(round(messages.stamp_s * 1e9)), builder.build(topics[topic], fields))

        write("/sim/ground_truth", messages.ground_truth())
        write("/tf_static", messages.static_frames())
        for k in range(steps + 1):
            if k:
                sim.step()
            for topic, fields in messages.step():
                write(topic, fields)
        counts = dict(bag.counts)
    return SimBag(Path(out), scenario.name, seed, steps, scenario.dt, counts)


def _describe(intervention: Intervention) -> str:
    end = "" if intervention.end is None else f":{intervention.end:g}"
    return f"{intervention.variable}={intervention.value}@{intervention.start:g}{end}"
