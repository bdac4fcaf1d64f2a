"""The simulator's own answer to the robot-response probe (issue #16, fifth pass).

:func:`causal_nodes.evaluation.trajectories.robot_response_probe` asks a model how a person walking head-on at the
robot moves with the robot standing vs driving towards them. Here the same scene runs through the simulator's
people model (``causal_nodes.sim``, the social force the world model's robot-effect head learns from): the person
walks at 1 m/s for the 8 observed steps while the robot stands, then the run forks and the robot stands or drives
at ``speed`` (``do()`` on its speed: no controller, no acceleration limit, as the probe's actions). The figures are
those of the probe on the simulated paths, so a model's probe compares with them directly: how far a model that
learned the simulator's people faithfully should go.
"""
from __future__ import annotations

import numpy as np

from causal_nodes.evaluation.trajectories import DT, OBS, PRED, PROBE_START, PROBE_WALK, probe_metrics
from causal_nodes.sim.config import CameraParams, PersonSpec, PhysicalConfig, RobotSpec, ScanParams, SocialForceParams
from causal_nodes.sim.interventions import Intervention
from causal_nodes.sim.physical import PhysicalSimulator

SIM_DT = 0.1  # the physical scenarios' grid


def _probe_scene(social_force: SocialForceParams, seed: int) -> PhysicalSimulator:
    """The probe person walking at the standing robot (robot at the origin facing +x, REP 103), no sensors."""
    config = PhysicalConfig(
        dt=SIM_DT, walls=np.zeros((0, 4)),
        robot=RobotSpec(start=(0.0, 0.0, 0.0), goals=[(0.0, 0.0)], linear_noise_std=0.0, angular_noise_std=0.0),
        people=[PersonSpec(start=PROBE_START, goals=[(PROBE_START[0] - 100.0, PROBE_START[1])],
                           desired_speed=PROBE_WALK)],
        social_force=social_force, scan=ScanParams(enabled=False), camera=CameraParams(enabled=False))
    sim = PhysicalSimulator(config, seed)
    sim.velocities[:] = (-PROBE_WALK, 0.0)  # already walking when first observed, as in the probe
    sim.apply_intervention(Intervention("robot_linear_speed", 0.0))
    sim.apply_intervention(Intervention("robot_angular_speed", 0.0))
    return sim


def simulated_probe_paths(speed: float = 0.8, noise_std: float = 0.0, seed: int = 0,
                          social_force: SocialForceParams | None = None) -> np.ndarray:
    """The simulated probe person's paths (2, H, 2) with the robot standing (0) and driving at ``speed`` (1), in
    the robot frame at the fork (as :func:`causal_nodes.evaluation.trajectories.robot_response_paths`); both
    branches share the noise draw ``seed`` of the simulator's random force (``noise_std``)."""
    params = SocialForceParams(**{**(social_force or SocialForceParams()).__dict__, "noise_std": noise_std})
    every = int(round(DT / SIM_DT))
    sim = _probe_scene(params, seed)
    for _ in range((OBS - 1) * every):
        sim.step()
    paths = []
    for v in (0.0, speed):
        branch = sim.fork()
        branch.apply_intervention(Intervention("robot_linear_speed", v, branch.time))
        path = []
        for k in range(PRED * every):
            branch.step()
            if (k + 1) % every == 0:
                path.append(branch.positions[0].copy())
        paths.append(path)
    return np.array(paths)


def simulated_robot_response(speed: float = 0.8, seeds: int = 20,
                             social_force: SocialForceParams | None = None) -> dict[str, float]:
    """The probe's figures on the simulator's paths: noise-free (``*`` keys) and the mean over ``seeds`` noise
    draws of the simulator's random force (``mean_*``; both branches of one draw share its noise)."""
    social_force = social_force or SocialForceParams()
    runs = [probe_metrics(simulated_probe_paths(speed, noise, seed, social_force), speed)
            for noise, seed in [(0.0, 0)] + [(social_force.noise_std, s) for s in range(seeds)]]
    out = dict(runs[0])
    if seeds:
        out.update({f"mean_{k}": float(np.mean([r[k] for r in runs[1:]])) for k in runs[0]})
    return out
