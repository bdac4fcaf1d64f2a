"""The simulator's frames as transforms (what the sim node publishes on /tf and /tf_static, and what direct bag
writers add): the robot pose maps base_link into odom, each person frame sits at the person."""
from __future__ import annotations

import numpy as np
import pytest

from causal_nodes.sim import load_scenario
from causal_nodes.sim.frames import dynamic_transforms, static_transforms
from causal_nodes.variables.frames import TransformTree


def test_transforms_follow_the_simulator_state():
    scenario = load_scenario("corridor_passing")
    sim = scenario.make_simulator(0)
    for _ in range(20):
        sim.step()
    tree = TransformTree()
    tree.set_transforms(static_transforms(), static=True)
    tree.set_transforms(dynamic_transforms(sim, stamp=5.0))
    x, y, yaw = sim.robot_pose
    robot = tree.lookup("odom", "base_link", 5.0)
    assert robot.translation[:2] == pytest.approx((x, y)) and robot.yaw == pytest.approx(yaw)
    # the scan is cast from the robot's centre: base_laser's origin is the robot position
    assert tree.lookup("odom", "base_laser", 5.0).apply(np.zeros((1, 2))) == pytest.approx(np.array([[x, y]]))
    for i, position in enumerate(sim.positions):
        person = tree.lookup("odom", f"person_{i}", 5.0)
        assert person.translation[:2] == pytest.approx(tuple(position))
        heading = np.arctan2(sim.velocities[i, 1], sim.velocities[i, 0])
        assert person.yaw == pytest.approx(heading)
    assert len(dynamic_transforms(sim, stamp=5.0, people=False)) == 1
