"""Robot-interaction windows from the project's social-force simulator (``causal_nodes.sim``).

ETH/UCY has no robot, so the response of people *to a robot* is only learnt indirectly there (a
pedestrian plays the robot). The simulator has a real differential-drive robot and robot-aware
people, so its episodes add windows where the robot frame and actions are the robot's own. The
robot alternates between its goal controller and random velocity commands held for 2–4 s, so
the model sees people react to many different actions. Sampled at the model's dt (0.4 s).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from causal_nodes.geometry import wrap_angle
from causal_nodes.world_model.eth_ucy import Window

SCENARIOS = ("crossing", "corridor_passing", "crowd", "overtaking", "approach_standing")


def simulate_episode(scenario: str, seed: int, duration_s: float, dt: float) -> tuple:
    """(positions (T, N, 2), robot poses (T, 3), robot actions (T, 2)) sampled every ``dt``."""
    from causal_nodes.sim import load_scenario

    sc = load_scenario(scenario)
    sim = sc.make_simulator(seed)
    every = max(1, int(round(dt / sim.dt)))
    rng = np.random.default_rng(seed + 7919)
    command, hold = None, 0
    pos, poses = [], []
    for k in range(int(round(duration_s / sim.dt)) + 1):
        if k % every == 0:
            pos.append(sim.positions.copy())
            poses.append(sim.robot_pose.copy())
        if hold <= 0:
            command = (rng.uniform(0.0, 1.0), rng.uniform(-0.8, 0.8)) if rng.random() < 0.5 else None
            hold = int(rng.uniform(2.0, 4.0) / sim.dt)
        if command is not None:
            sim.set_command(*command)
        hold -= 1
        sim.step()
    pos, poses = np.array(pos), np.array(poses)
    step = np.diff(poses[:, :2], axis=0)
    c, s = np.cos(poses[:-1, 2]), np.sin(poses[:-1, 2])
    actions = np.zeros((len(poses), 2))
    actions[:-1, 0] = (step[:, 0] * c + step[:, 1] * s) / dt
    actions[:-1, 1] = wrap_angle(np.diff(poses[:, 2])) / dt
    actions[-1] = actions[-2]
    return pos, poses, actions


def sim_windows(scenarios: Sequence[str], seeds: Sequence[int], length: int, dt: float,
                duration_s: float = 60.0, stride: int = 2) -> list[Window]:
    out: list[Window] = []
    for name in scenarios:
        for seed in seeds:
            pos, poses, actions = simulate_episode(name, int(seed), duration_s, dt)
            present = np.ones(pos.shape[:2], dtype=bool)
            for start in range(0, len(pos) - length + 1, stride):
                sl = slice(start, start + length)
                out.append(Window(pos[sl], present[sl], f"sim:{name}:{seed}", float(start),
                                  robot_pose=poses[sl], robot_action=actions[sl]))
    return out
