"""Gymnasium environment: a robot reaches a goal while a person crosses its path (physical simulator).

Why this environment: it is the smallest social-navigation task where the reward has a clear causal structure
(progress depends on the robot's speed and heading, discomfort on the robot-person geometry) and where some
observed state factors do not matter for the reward at all (two ``distractor`` factors, independent AR(1)
processes standing for reward-irrelevant sensor features such as background motion). That is the setting in
which CIP's counterfactual augmentation (swapping reward-irrelevant factors between transitions) can help.

Observation (robot frame, REP 103: x forward, y left), named in :data:`OBS_NAMES`; action in ``[-1, 1]^2``:
``linear = (a0 + 1) / 2 * max_linear_speed``, ``angular = a1 * max_angular_speed`` sent as a velocity command
(acceleration limits apply).  Reward per step::

    progress_gain * (d_goal(t-1) - d_goal(t))                       # progress towards the goal [m]
  - discomfort_gain * max(0, 1 - d_person / comfort_distance)^2      # too close to the person
  - collision_penalty  (and the episode ends)  if centres closer than the two radii
  + goal_bonus        (and the episode ends)  within goal_tolerance of the goal
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

OBS_NAMES = [
    "goal_x",
    "goal_y",
    "robot_speed",
    "robot_yaw_rate",
    "person_x",
    "person_y",
    "person_vx",
    "person_vy",
    "distractor_1",
    "distractor_2",
]
ACTION_NAMES = ["cmd_linear", "cmd_angular"]


@dataclass(frozen=True)
class NavTaskConfig:
    max_steps: int = 150
    progress_gain: float = 2.0
    discomfort_gain: float = 1.0
    comfort_distance: float = 1.5
    collision_penalty: float = 5.0
    goal_bonus: float = 5.0
    goal_tolerance: float = 0.4
    distractor_rho: float = 0.95
    distractor_std: float = 1.0


def _scenario_dict(rng: np.random.Generator) -> dict:
    """Open space, robot from (-4, 0) to (4, 0), a person crossing from below at a random place and speed."""
    px = float(rng.uniform(-1.5, 1.5))
    py = float(rng.uniform(-5.0, -3.0))
    return {
        "name": "rl_crossing",
        "kind": "physical",
        "dt": 0.1,
        "duration_s": 30.0,
        "seed": 0,
        # an ideal drive (no actuator noise): the RL study's results were measured on it
        "robot": {"start": [-4.0, 0.0, 0.0], "goals": [[4.0, 0.0]], "linear_noise_std": 0.0, "angular_noise_std": 0.0},
        "people": [
            {"start": [px, py], "goals": [[px, -py]], "desired_speed": float(rng.uniform(0.8, 1.3))}
        ],
        "sensors": {"scan": {"enabled": False}, "camera": {"enabled": False}},
    }


class SocialNavEnv(gym.Env):
    """Reach the goal, keep a comfortable distance from the crossing person, do not collide."""

    metadata = {"render_modes": []}

    def __init__(self, task: NavTaskConfig = NavTaskConfig()) -> None:
        super().__init__()
        self.task = task
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(len(OBS_NAMES),), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._sim: Any = None
        self._steps = 0
        self._distractors = np.zeros(2)
        self._goal_dist = 0.0

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        from causal_nodes.sim.scenario import scenario_from_dict

        scenario = scenario_from_dict(_scenario_dict(self.np_random))
        self._sim = scenario.make_simulator(int(self.np_random.integers(0, 2**31 - 1)))
        self._steps = 0
        self._distractors = self.np_random.normal(size=2) * self.task.distractor_std
        self._goal_dist = self._distance_to_goal()
        return self._observe(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._sim is None:
            raise RuntimeError("call reset() before step()")
        a = np.clip(np.asarray(action, dtype=float).reshape(2), -1.0, 1.0)
        robot = self._sim.config.robot
        self._sim.set_command((a[0] + 1.0) * 0.5 * robot.max_linear_speed, a[1] * robot.max_angular_speed)
        self._sim.step()
        self._steps += 1
        rho, sd = self.task.distractor_rho, self.task.distractor_std
        self._distractors = rho * self._distractors + math.sqrt(1 - rho * rho) * sd * self.np_random.normal(size=2)

        goal_dist = self._distance_to_goal()
        person_dist = self._person_distance()
        progress = self._goal_dist - goal_dist
        self._goal_dist = goal_dist
        discomfort = max(0.0, 1.0 - person_dist / self.task.comfort_distance) ** 2
        reward = self.task.progress_gain * progress - self.task.discomfort_gain * discomfort
        collided = person_dist < robot.radius + float(self._sim.radii[self._sim.subject])
        reached = goal_dist < self.task.goal_tolerance
        if collided:
            reward -= self.task.collision_penalty
        if reached:
            reward += self.task.goal_bonus
        terminated = bool(collided or reached)
        truncated = self._steps >= self.task.max_steps
        info = {"progress": progress, "discomfort": discomfort, "collision": collided, "reached": reached}
        return self._observe(), float(reward), terminated, truncated, info

    # ------------------------------------------------------------------ helpers
    def _distance_to_goal(self) -> float:
        goal = self._sim.robot_goal
        x, y, _ = self._sim.robot_pose
        return math.hypot(goal[0] - x, goal[1] - y)

    def _person_distance(self) -> float:
        p = self._sim.positions[self._sim.subject]
        x, y, _ = self._sim.robot_pose
        return math.hypot(p[0] - x, p[1] - y)

    def _observe(self) -> np.ndarray:
        sim = self._sim
        x, y, yaw = sim.robot_pose
        c, s = math.cos(yaw), math.sin(yaw)

        def to_robot(vx: float, vy: float) -> tuple[float, float]:
            return c * vx + s * vy, -s * vx + c * vy

        goal = sim.robot_goal
        gx, gy = to_robot(goal[0] - x, goal[1] - y)
        p = sim.positions[sim.subject]
        v = sim.velocities[sim.subject]
        px, py = to_robot(p[0] - x, p[1] - y)
        pvx, pvy = to_robot(v[0], v[1])
        obs = [gx, gy, sim.robot_speed, sim.robot_yaw_rate, px, py, pvx, pvy, *self._distractors]
        return np.asarray(obs, dtype=np.float32)
