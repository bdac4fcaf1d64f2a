"""The simulated robot's plan: the controller's own future from the current state, the simulator untouched."""
from __future__ import annotations

import numpy as np
import pytest

from causal_nodes.sim import load_scenario
from causal_nodes.sim.plan import robot_plan


def _running(name: str, steps: int):
    sim = load_scenario(name).make_simulator(4)
    for _ in range(steps):
        sim.step()
    return sim


def test_the_plan_starts_at_the_robot_and_leaves_the_simulator_as_it_was() -> None:
    sim = _running("crowd", 40)
    before = (sim.time, sim.robot_pose.copy(), sim.positions.copy(), sim.scan_ranges.copy())
    plan = robot_plan(sim, 30, noise_seed=1)
    assert plan.poses.shape == (31, 3) and np.allclose(np.diff(plan.times), sim.dt)
    assert plan.times[0] == sim.time and np.array_equal(plan.poses[0], before[1])
    assert sim.time == before[0] and np.array_equal(sim.robot_pose, before[1])
    assert np.array_equal(sim.positions, before[2]) and np.array_equal(sim.scan_ranges, before[3])
    assert sim.config.scan.enabled and sim.config.camera.enabled, "only the fork's sensors are off"


def test_the_robot_drives_where_its_plan_said_up_to_the_noise_to_come() -> None:
    sim = _running("corridor_passing", 20)
    plan = robot_plan(sim, 30, noise_seed=2)
    for _ in range(30):
        sim.step()
    assert np.hypot(*(plan.poses[-1, :2] - sim.robot_pose[:2])) < 0.2
    assert np.hypot(*(plan.poses[-1, :2] - plan.poses[0, :2])) > 0.5, "the plan moves (the robot drives)"


def test_a_plan_needs_a_horizon() -> None:
    with pytest.raises(ValueError, match="horizon_steps must be >= 1"):
        robot_plan(_running("corridor_passing", 1), 0, noise_seed=0)
