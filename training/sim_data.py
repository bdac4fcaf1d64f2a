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


class RandomCommands:
    """The robot's random driving in the training episodes: every 2-4 s, with probability 1/2 a new command
    (0-1 m/s, ±0.8 rad/s) and otherwise the scenario's own controller. Seeded from the episode's seed, so an
    episode and its counterfactual twin drive the robot identically."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed + 7919)
        self.command: tuple[float, float] | None = None
        self.hold = 0

    def apply(self, sim) -> None:
        """Sets this simulator step's command (call once per step, before ``sim.step()``)."""
        if self.hold <= 0:
            rng = self.rng
            self.command = (rng.uniform(0.0, 1.0), rng.uniform(-0.8, 0.8)) if rng.random() < 0.5 else None
            self.hold = int(rng.uniform(2.0, 4.0) / sim.dt)
        if self.command is not None:
            sim.set_command(*self.command)
        self.hold -= 1


def simulate_episode(scenario: str, seed: int, duration_s: float, dt: float, robot_aware: bool = True) -> tuple:
    """(positions (T, N, 2), robot poses (T, 3), robot actions (T, 2)) sampled every ``dt``. ``robot_aware=False``
    makes every person ignore the robot (no person-robot force): the same episodes without the robot's effect."""
    from causal_nodes.sim import load_scenario

    sc = load_scenario(scenario)
    sim = sc.make_simulator(seed)
    if not robot_aware:
        sim.robot_aware[:] = False
    every = max(1, int(round(dt / sim.dt)))
    commands = RandomCommands(seed)
    pos, poses = [], []
    for k in range(int(round(duration_s / sim.dt)) + 1):
        if k % every == 0:
            pos.append(sim.positions.copy())
            poses.append(sim.robot_pose.copy())
        commands.apply(sim)
        sim.step()
    pos, poses = np.array(pos), np.array(poses)
    return pos, poses, _actions(poses, dt)


def sim_windows(scenarios: Sequence[str], seeds: Sequence[int], length: int, dt: float,
                duration_s: float = 60.0, stride: int = 2, robot_aware: bool = True) -> list[Window]:
    out: list[Window] = []
    for name in scenarios:
        for seed in seeds:
            pos, poses, actions = simulate_episode(name, int(seed), duration_s, dt, robot_aware)
            present = np.ones(pos.shape[:2], dtype=bool)
            for start in range(0, len(pos) - length + 1, stride):
                sl = slice(start, start + length)
                out.append(Window(pos[sl], present[sl], f"sim:{name}:{seed}", float(start),
                                  robot_pose=poses[sl], robot_action=actions[sl]))
    return out


def counterfactual_windows(scenarios: Sequence[str], seeds: Sequence[int], obs: int, horizon: int, dt: float,
                           duration_s: float = 60.0, stride: int = 2) -> tuple[list[Window], list[Window]]:
    """Pairs of windows that differ only in whether the people see the robot *during the forecast*.

    Each episode runs as in :func:`sim_windows` (people aware of the robot). At every window's last observed step
    the simulator is forked; in the fork nobody sees the robot from then on, the robot replays the speeds it drove
    in the episode (``do()`` on its speeds, so it moves exactly the same) and every random draw is the episode's.
    Returns (factual, counterfactual) lists: the same history, and futures with and without the robot's effect.
    Their difference over the horizon is the simulator's causal effect of the robot on the people, which is what the
    robot-effect head is trained on: unlike the factual paths alone, it holds nothing of how the simulator's people
    differ from real ones (goal seeking, walls, ...). Sensors are switched off (they draw from their own streams and
    no person reads them).
    """
    from causal_nodes.sim import load_scenario
    from causal_nodes.sim.interventions import Intervention

    length = obs + horizon
    factual: list[Window] = []
    counterfactual: list[Window] = []
    for name in scenarios:
        for seed in seeds:
            sc = load_scenario(name)
            sc.physical.scan.enabled = False
            sc.physical.camera.enabled = False
            sim = sc.make_simulator(int(seed))
            every = max(1, int(round(dt / sim.dt)))
            commands = RandomCommands(int(seed))
            pos, poses, speeds, forks = [], [], [], {}
            total = int(round(duration_s / sim.dt)) + 1
            for k in range(total):
                if k % every == 0:
                    j = len(pos)
                    pos.append(sim.positions.copy())
                    poses.append(sim.robot_pose.copy())
                    if j >= obs - 1 and (j - obs + 1) % stride == 0:
                        forks[j] = sim.fork()  # the state at a window's last observed step
                commands.apply(sim)
                sim.step()
                speeds.append((sim.robot_speed, sim.robot_yaw_rate))
            pos_a, poses_a = np.array(pos), np.array(poses)
            actions = _actions(poses_a, dt)
            present = np.ones(pos_a.shape[:2], dtype=bool)
            for j, twin in forks.items():
                start = j - obs + 1
                if start + length > len(pos_a):
                    continue
                twin.robot_aware[:] = False
                k0 = twin.step_index
                for i in range(horizon * every):
                    v, w = speeds[k0 + i]
                    t0, t1 = (k0 + i + 1) * twin.dt, (k0 + i + 2) * twin.dt
                    twin.interventions.add(Intervention("robot_linear_speed", v, t0, t1))
                    twin.interventions.add(Intervention("robot_angular_speed", w, t0, t1))
                fut = []
                for i in range(horizon * every):
                    twin.step()
                    if (i + 1) % every == 0:
                        fut.append(twin.positions.copy())
                sl = slice(start, start + length)
                cf = pos_a[sl].copy()
                cf[obs:] = np.array(fut)
                src = f"sim:{name}:{seed}"
                factual.append(Window(pos_a[sl], present[sl], src, float(start), robot_pose=poses_a[sl],
                                      robot_action=actions[sl]))
                counterfactual.append(Window(cf, present[sl], src + ":unaware", float(start), robot_pose=poses_a[sl],
                                             robot_action=actions[sl]))
    return factual, counterfactual


def _actions(poses: np.ndarray, dt: float) -> np.ndarray:
    """Unicycle actions (T, 2) [linear, angular] between consecutive robot poses (T, 3); the last repeats."""
    step = np.diff(poses[:, :2], axis=0)
    c, s = np.cos(poses[:-1, 2]), np.sin(poses[:-1, 2])
    actions = np.zeros((len(poses), 2))
    actions[:-1, 0] = (step[:, 0] * c + step[:, 1] * s) / dt
    actions[:-1, 1] = wrap_angle(np.diff(poses[:, 2])) / dt
    actions[-1] = actions[-2]
    return actions
