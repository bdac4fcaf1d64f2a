"""The kinematic effect model: unicycle + geometry inside the learned SEM, the scene tracker, and the
verification on a physical scenario where the linear SEM alone failed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from causal_nodes.prioritization import PrioritizerConfig, prioritize
from causal_nodes.prioritization.kinematics import KinematicCoupling, PlanarScene
from causal_nodes.prioritization.scene_tracker import SceneTracker

NAMES = ["robot_linear_speed", "robot_angular_speed", "human_robot_distance", "collision_risk"]
V, W, D, R = range(4)


def test_coupling_integrates_the_unicycle_and_recomputes_distance_and_risk() -> None:
    scene = PlanarScene((0.0, 0.0, 0.0), (5.0, 0.0), (0.0, 0.0), dt=0.1)
    step = KinematicCoupling(scene, NAMES, replicas=1, scenarios=1)
    x = np.zeros((1, 1, 4))
    x[..., V] = 1.0  # 1 m/s straight at a person standing 5 m ahead
    for _ in range(10):
        out = step(x)
    assert out[0, 0, D] == pytest.approx(4.0)
    assert out[0, 0, R] == pytest.approx(1.0 / 4.0)  # closing 1 m/s over 4 m


def test_coupling_turns_the_robot_and_moves_the_person_at_constant_velocity() -> None:
    scene = PlanarScene((0.0, 0.0, 0.0), (0.0, 0.0), (0.0, 1.0), dt=0.5)
    step = KinematicCoupling(scene, NAMES, replicas=1, scenarios=1)
    x = np.zeros((1, 1, 4))
    x[..., V], x[..., W] = 1.0, math.pi  # half a turn per step at 0.5 s: yaw pi/2 after the first step
    out = step(x)
    # robot moved 0.5 m along +y (yaw pi/2), person too (1 m/s along +y): distance stays 0
    assert out[0, 0, D] == pytest.approx(0.0, abs=1e-12)
    assert out[0, 0, R] == 0.0


def test_clamped_columns_are_kept_and_forecast_commands_are_clipped() -> None:
    scene = PlanarScene((0.0, 0.0, 0.0), (5.0, 0.0), (0.0, 0.0), dt=0.1)
    step = KinematicCoupling(scene, NAMES, 1, 2, command_limits=np.array([[0.0, 0.5], [-1.0, 1.0]]))
    step.protect(np.array([D, -1]))  # scenario 0: do(distance := ...), scenario 1: no intervention
    x = np.zeros((1, 2, 4))
    x[..., V] = 3.0  # a forecast far above anything observed
    x[..., D] = 9.0
    out = step(x)
    assert out[0, 0, D] == 9.0  # do() replaces the mechanism, also a known one
    assert out[0, 1, D] == pytest.approx(5.0 - 0.05)  # speed clipped to 0.5 m/s


def test_scene_validation_rejects_non_finite_values() -> None:
    with pytest.raises(ValueError, match="robot_pose"):
        PlanarScene((0.0, math.nan, 0.0), (1.0, 0.0), (0.0, 0.0), 0.1)
    with pytest.raises(ValueError, match="dt"):
        PlanarScene((0.0, 0.0, 0.0), (1.0, 0.0), (0.0, 0.0), 0.0)


def _robot_window(seed: int = 0, steps: int = 400) -> np.ndarray:
    """A robot whose speed wanders and a distance that integrates it (only the data for the SEM's behaviour)."""
    rng = np.random.default_rng(seed)
    data = np.zeros((steps, 4))
    for t in range(1, steps):
        data[t, V] = np.clip(0.8 * data[t - 1, V] + 0.1 + rng.normal(0, 0.1), 0.0, 1.0)
        data[t, W] = 0.5 * data[t - 1, W] + rng.normal(0, 0.2)
        data[t, D] = 3.0 + rng.normal(0, 0.3)
        data[t, R] = max(0.0, rng.normal(0.2, 0.1))
    return data


LINKS = [(NAMES[V], NAMES[V], 1), (NAMES[W], NAMES[W], 1), (NAMES[V], NAMES[D], 1), (NAMES[D], NAMES[D], 1)]


@pytest.mark.parametrize("person_x, sign", [(3.0, -1.0), (-3.0, 1.0)])
def test_the_effect_of_speed_on_distance_follows_the_bearing(person_x: float, sign: float) -> None:
    """Ahead: faster = closer; behind: faster = farther. One learned linear equation cannot say both."""
    scene = PlanarScene((0.0, 0.0, 0.0), (person_x, 0.0), (0.0, 0.0), dt=0.1)
    cfg = PrioritizerConfig(horizon=10, bootstrap=20, effect_model="kinematic", local_weighting="none")
    res = prioritize(_robot_window(), NAMES, LINKS, NAMES[D], [NAMES[V], NAMES[W]], cfg, scene=scene)
    assert not res.warnings
    speed = sorted((c for c in res.candidates if c.variable == NAMES[V]), key=lambda c: c.value)
    assert len(speed) >= 3
    effects = np.array([c.predicted_effect for c in speed])
    assert np.all(sign * np.diff(effects) > 0)  # monotone in the commanded speed, direction by the bearing
    prio = next(p for p in res.priorities if p.variable == NAMES[V])
    assert sign * prio.total_effect > 0 and prio.is_ancestor
    assert sign * prio.total_effect == pytest.approx(1.0, rel=0.15)  # ~ 1 s x 1 m/s per m/s, in a straight line


def test_kinematic_without_a_scene_falls_back_to_the_linear_sem_and_says_so() -> None:
    data = _robot_window()
    cfg = PrioritizerConfig(horizon=5, bootstrap=0, effect_model="kinematic", local_weighting="none")
    res = prioritize(data, NAMES, LINKS, NAMES[D], [NAMES[V]], cfg)
    linear = prioritize(data, NAMES, LINKS, NAMES[D], [NAMES[V]],
                        PrioritizerConfig(horizon=5, bootstrap=0, effect_model="linear", local_weighting="none"))
    assert any("linear SEM used" in w for w in res.warnings)
    assert [c.predicted_effect for c in res.candidates] == pytest.approx(
        [c.predicted_effect for c in linear.candidates]
    )


def test_kinematic_needs_both_commands() -> None:
    names = NAMES[:1] + NAMES[2:]
    data = _robot_window()[:, [0, 2, 3]]
    scene = PlanarScene((0.0, 0.0, 0.0), (3.0, 0.0), (0.0, 0.0), dt=0.1)
    res = prioritize(data, names, [(names[0], names[1], 1)], names[1], [names[0]],
                     PrioritizerConfig(bootstrap=0, effect_model="kinematic", local_weighting="none"), scene=scene)
    assert any("robot_angular_speed" in w for w in res.warnings)


def test_scene_tracker_follows_the_frames_subject_and_its_velocity_from_stamps() -> None:
    tracker = SceneTracker(velocity_window_s=0.3)
    assert tracker.scene(0.1) is None
    tracker.update_odometry(10.0, 0.0, 0.0, 0.3)
    for k in range(6):  # the subject "7" walks +x at 1 m/s from (2, 0), as the variables node reports it
        tracker.update_subject(10.0 + 0.1 * k, "7", (2.0 + 0.1 * k, 0.0))
    scene = tracker.scene(0.1)
    assert scene is not None
    assert scene.robot_pose == (0.0, 0.0, 0.3) and scene.person_xy == pytest.approx((2.5, 0.0))
    assert scene.person_velocity == pytest.approx((1.0, 0.0))
    with pytest.raises(ValueError):
        tracker.update_subject(math.nan, "7", (0.0, 0.0))


def test_scene_tracker_never_mixes_two_subjects_and_has_no_person_without_one() -> None:
    tracker = SceneTracker(velocity_window_s=0.3)
    tracker.update_odometry(0.0, 0.0, 0.0, 0.0)
    for k in range(5):
        tracker.update_subject(0.1 * k, "1", (1.0 + 0.1 * k, 0.0))
    tracker.update_subject(0.5, "2", (5.0, 5.0))  # the variables node switched to another person
    scene = tracker.scene(0.1)
    assert scene.person_xy == (5.0, 5.0) and scene.person_velocity == (0.0, 0.0)  # no velocity from a jump
    tracker.update_subject(0.6, "", (math.nan, math.nan))  # nobody in view
    assert tracker.scene(0.1) is None
    tracker.update_subject(0.7, "2", (math.nan, 0.0))  # a subject without a position is no person either
    assert tracker.scene(0.1) is None
    assert tracker.scene(0.1, at=0.55).person_xy == (5.0, 5.0)


def test_scene_tracker_looks_the_scene_up_at_the_window_stamp() -> None:
    tracker = SceneTracker()
    for k in range(10):
        t = 0.1 * k
        tracker.update_odometry(t, 0.5 * t, 0.0, 0.0)
        tracker.update_subject(t, "0", (3.0 - t, 0.0))
    at = tracker.scene(0.1, at=0.45)  # the graph's window ends before the newest messages
    assert at is not None
    assert at.robot_pose[0] == pytest.approx(0.2) and at.person_xy[0] == pytest.approx(2.6)
    assert at.person_velocity == pytest.approx((-1.0, 0.0))
    assert tracker.scene(0.1, at=-1.0) is None  # nothing that old: no scene (the linear SEM is used)
    tracker.update_odometry(0.0, 9.0, 9.0, 0.0)  # time jumped back (looping bag): history restarts
    assert tracker.scene(0.1).robot_pose[:2] == (9.0, 9.0)


def test_kinematic_effects_rank_like_the_simulator_on_a_physical_scenario() -> None:
    """overtaking: with the linear SEM alone the published tau was 0.40; the kinematic model must rank well."""
    scenario_mod = pytest.importorskip("causal_nodes.sim.scenario")
    from causal_nodes.evaluation.interventions import VerificationConfig, verify_scenario

    cfg = VerificationConfig(episodes=2, futures=5, bootstrap=10, local_weighting="state", effect_model="kinematic")
    result = verify_scenario(scenario_mod.load_scenario("overtaking"), "human_robot_distance",
                             ["robot_linear_speed", "robot_angular_speed"], cfg)
    assert result["n"] >= 10
    assert result["kendall_tau"] >= 0.7
    assert result["sign_accuracy"] >= 0.9


def test_a_planned_path_becomes_commands_the_unicycle_replays() -> None:
    from causal_nodes.prioritization.kinematics import commands_from_poses

    t = np.arange(0.0, 2.01, 0.25)  # a plan every 0.25 s: an arc of 2 m radius at 0.5 m/s
    yaw = 0.25 * t
    poses = np.stack([2.0 * np.sin(yaw), 2.0 * (1 - np.cos(yaw)), yaw], axis=1)
    commands = commands_from_poses(t, poses, start=0.5, dt=0.1, steps=10)
    assert commands.shape == (10, 2)
    np.testing.assert_allclose(commands[:, 1], 0.25, atol=1e-9)
    np.testing.assert_allclose(commands[:, 0], 0.5, rtol=0.01)  # chord of the resampled arc
    scene = PlanarScene(tuple(np.interp(0.5, t, poses[:, k]) for k in range(3)), (9.0, 9.0), (0.0, 0.0), dt=0.1,
                        planned_commands=commands)
    step = KinematicCoupling(scene, NAMES, replicas=1, scenarios=1, horizon=10)
    x = np.zeros((1, 1, 4))  # the SEM forecasts a standing robot: the plan overrides it
    for _ in range(10):
        out = step(x)
    end = np.array([np.interp(1.5, t, poses[:, k]) for k in range(2)])
    assert out[0, 0, D] == pytest.approx(float(np.hypot(*(np.array([9.0, 9.0]) - end))), abs=1e-2)
    held = commands_from_poses(t, poses, start=3.0, dt=0.1, steps=3)  # after the plan's end: standing still
    np.testing.assert_allclose(held, 0.0, atol=1e-12)
    for bad in ((t[::-1], poses[::-1]), (t, poses[:, :2]), (np.array([]), np.zeros((0, 3)))):
        with pytest.raises(ValueError):
            commands_from_poses(*bad, start=0.0, dt=0.1, steps=3)


def test_person_paths_replace_the_persons_motion_and_protected_commands_ignore_the_plan() -> None:
    scene = PlanarScene((0.0, 0.0, 0.0), (4.0, 0.0), (-1.0, 0.0), dt=0.1, planned_commands=np.full((5, 2), 0.0))
    paths = np.stack([np.stack([4.0 + 0.5 * np.arange(1, 6), np.zeros(5)], 1),  # walks away
                      np.stack([np.full(5, 4.0), np.zeros(5)], 1)])  # stands
    step = KinematicCoupling(scene, NAMES, replicas=2, scenarios=2, person_paths=paths, horizon=5)
    step.protect(np.array([V, -1]))  # scenario 0: do(robot_linear_speed := 1)
    x = np.zeros((2, 2, 4))
    x[..., V] = 1.0
    for _ in range(5):
        out = step(x)
    assert out[0, 0, D] == pytest.approx(6.5 - 0.5)  # person at 6.5 m, the clamped robot drove 0.5 m
    assert out[0, 1, D] == pytest.approx(4.0)  # the plan (standing) replaced the SEM's 1 m/s
    assert out[0, 0, R] == 0.0  # moving apart: no collision risk
    with pytest.raises(ValueError, match="person_paths"):
        KinematicCoupling(scene, NAMES, 1, 3, person_paths=paths)


def test_world_model_person_motion_forecasts_each_scenario_under_its_commands() -> None:
    """The forecast gets every scenario's commands (plan, clamped value); a forecast equal to constant velocity
    reproduces the constant-velocity effects, one that reacts to the robot changes them."""
    plan = np.tile([0.3, 0.0], (10, 1))
    received = []

    def constant_velocity(commands: np.ndarray) -> np.ndarray:
        received.append(commands.copy())
        steps = np.arange(1, commands.shape[1] + 1)[None, :, None]
        return np.array([3.0, 0.0])[None, None] + np.array([-0.5, 0.0])[None, None] * 0.1 * steps + 0 * commands

    kw = dict(horizon=10, bootstrap=5, effect_model="kinematic", local_weighting="none")
    cv_scene = PlanarScene((0.0, 0.0, 0.0), (3.0, 0.0), (-0.5, 0.0), dt=0.1, planned_commands=plan)
    args = (_robot_window(), NAMES, LINKS, NAMES[D], [NAMES[V], NAMES[W]])
    reference = prioritize(*args, PrioritizerConfig(**kw), scene=cv_scene)
    from dataclasses import replace

    forecast = prioritize(*args, PrioritizerConfig(person_motion="world_model", **kw),
                          scene=replace(cv_scene, person_forecast=constant_velocity))
    assert not forecast.warnings
    assert [c.predicted_effect for c in forecast.candidates] == pytest.approx(
        [c.predicted_effect for c in reference.candidates], abs=1e-9)
    commands = received[-1]  # baseline, then one row per scenario (unit shifts of 3 variables, candidates)
    np.testing.assert_allclose(commands[0], plan)
    speed = [c for c in forecast.candidates if c.variable == NAMES[V]]
    rows = commands[1 + 3:]  # the candidates, speed first, in ascending order
    np.testing.assert_allclose(rows[: len(speed), :, 0], np.sort([c.value for c in speed])[:, None] * np.ones(10))
    np.testing.assert_allclose(rows[: len(speed), :, 1], 0.0)  # the other command follows the plan
    np.testing.assert_allclose(rows[len(speed):, :, 0], 0.3)

    def backs_off(commands: np.ndarray) -> np.ndarray:  # the person keeps 3 m from a robot driving at them
        return constant_velocity(commands) + np.cumsum(commands[..., :1] * 0.1, axis=1) * np.array([1.0, 0.0])

    reacting = prioritize(*args, PrioritizerConfig(person_motion="world_model", **kw),
                          scene=replace(cv_scene, person_forecast=backs_off))
    speed_effects = {round(c.value, 6): c.predicted_effect for c in reacting.candidates if c.variable == NAMES[V]}
    assert max(abs(e) for e in speed_effects.values()) < 1e-6  # the distance no longer depends on the speed
    missing = prioritize(*args, PrioritizerConfig(person_motion="world_model", **kw), scene=cv_scene)
    assert any("world-model forecast" in w for w in missing.warnings)
