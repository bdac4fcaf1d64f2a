"""The physical simulator's mechanisms: social force, robot kinematics and controller, sensors, variables."""
from __future__ import annotations

import math

import numpy as np
import pytest

from causal_nodes.sim import PhysicalSimulator, load_scenario, state_variables
from causal_nodes.sim.config import (
    ControllerParams,
    ImuParams,
    PersonSpec,
    PhysicalConfig,
    RobotSpec,
    ScanParams,
    SocialForceParams,
)
from causal_nodes.sim.geometry import fan_circle_distances, ray_circle_distances, ray_segment_distances


def _world(people, walls=(), robot_start=(-50.0, -50.0, 0.0), robot_goals=((-50.0, -50.0),), noise=0.0,
           controller=None, **robot_kwargs) -> PhysicalConfig:
    robot_kwargs.setdefault("linear_noise_std", 0.0)
    robot_kwargs.setdefault("angular_noise_std", 0.0)
    return PhysicalConfig(
        dt=0.1, walls=np.array(walls, dtype=float).reshape(-1, 4),
        robot=RobotSpec(start=robot_start, goals=list(robot_goals), controller=controller or ControllerParams(),
                        **robot_kwargs),
        people=list(people), social_force=SocialForceParams(noise_std=noise),
        scan=ScanParams(noise_std=0.0), imu=ImuParams(gyro_noise_std=0.0, accel_noise_std=0.0))


def test_lone_person_walks_to_goal_at_desired_speed() -> None:
    sim = PhysicalSimulator(_world([PersonSpec(start=(0.0, 0.0), goals=[(10.0, 0.0)], desired_speed=1.2)]))
    for _ in range(40):
        sim.step()
    assert math.hypot(*sim.velocities[0]) == pytest.approx(1.2, abs=0.02)
    for _ in range(100):
        sim.step()
    assert np.linalg.norm(sim.positions[0] - (10.0, 0.0)) < 0.5


def test_people_heading_at_each_other_do_not_collide() -> None:
    people = [PersonSpec(start=(-5.0, 0.0), goals=[(5.0, 0.0)]), PersonSpec(start=(5.0, 0.05), goals=[(-5.0, 0.05)])]
    sim = PhysicalSimulator(_world(people))
    closest = np.inf
    for _ in range(120):
        sim.step()
        closest = min(closest, float(np.linalg.norm(sim.positions[0] - sim.positions[1])))
    assert closest > 0.5, "two 0.3 m people overlapped much"
    assert sim.positions[0, 0] > 3.0 and sim.positions[1, 0] < -3.0, "both got past each other"


def test_walls_keep_people_inside_a_corridor() -> None:
    walls = [(-10.0, -1.0, 10.0, -1.0), (-10.0, 1.0, 10.0, 1.0)]
    sim = PhysicalSimulator(_world([PersonSpec(start=(-8.0, 0.0), goals=[(8.0, 3.0)])], walls=walls))
    for _ in range(150):
        sim.step()
        assert abs(sim.positions[0, 1]) < 1.0 - 0.1


def test_robot_respects_its_limits_and_slows_near_people() -> None:
    ctrl = ControllerParams(preferred_speed=1.0, slow_distance=3.0, stop_distance=1.0)
    person = PersonSpec(start=(0.0, 0.0), goals=[(0.0, 0.0)], desired_speed=0.0, robot_aware=False)
    config = _world([person], robot_start=(-8.0, 0.0, 0.0),
                    robot_goals=[(8.0, 0.0)], controller=ctrl)
    sim = PhysicalSimulator(config)
    previous = 0.0
    for _ in range(200):
        sim.step()
        assert 0.0 <= sim.robot_speed <= config.robot.max_linear_speed + 1e-12
        assert abs(sim.robot_speed - previous) <= config.robot.max_linear_accel * sim.dt + 1e-9
        previous = sim.robot_speed
    assert sim.robot_speed < 0.05
    assert 1.0 <= np.linalg.norm(sim.robot_pose[:2] - sim.positions[0]) < 1.3, "stopped at the stop distance"


def test_actuator_noise_keeps_the_limits_and_breaks_determinism() -> None:
    """The executed speeds miss the command by noise (so they are no function of their inputs) within limits."""
    ctrl = ControllerParams(preferred_speed=0.6, speed_policy="constant")
    config = _world([PersonSpec(start=(30.0, 30.0), goals=[(30.0, 30.0)], desired_speed=0.0)],
                    robot_start=(-8.0, 0.0, 0.0), robot_goals=[(8.0, 0.0)], controller=ctrl,
                    linear_noise_std=0.02, angular_noise_std=0.05)
    sim = PhysicalSimulator(config, seed=3)
    speeds, previous = [], 0.0
    for _ in range(120):
        sim.step()
        assert 0.0 <= sim.robot_speed <= config.robot.max_linear_speed
        assert abs(sim.robot_speed - previous) <= config.robot.max_linear_accel * sim.dt + 1e-9
        speeds.append(sim.robot_speed)
        previous = sim.robot_speed
    cruise = np.array(speeds[40:])
    assert 0.01 < float(np.std(cruise)) < 0.05 and abs(float(np.mean(cruise)) - 0.6) < 0.02
    assert float(np.mean(np.diff(cruise) == 0.0)) < 0.05, "the speed changes at every step"
    quiet = PhysicalSimulator(_world([PersonSpec(start=(30.0, 30.0), goals=[(30.0, 30.0)], desired_speed=0.0)],
                                     robot_start=(-8.0, 0.0, 0.0), robot_goals=[(8.0, 0.0)], controller=ctrl), seed=3)
    for _ in range(120):
        quiet.step()
    assert quiet.robot_speed == pytest.approx(0.6, abs=1e-9)


def test_command_excitation_is_bounded_logged_and_zero_where_the_robot_must_stop() -> None:
    ctrl = ControllerParams(preferred_speed=0.6, slow_distance=3.0, stop_distance=1.0, excitation_linear=0.1,
                            excitation_angular=0.2, excitation_hold_s=0.3)
    person = PersonSpec(start=(0.0, 0.0), goals=[(0.0, 0.0)], desired_speed=0.0, robot_aware=False)
    sim = PhysicalSimulator(_world([person], robot_start=(-8.0, 0.0, 0.0), robot_goals=[(8.0, 0.0)],
                                   controller=ctrl), seed=1)
    dithers = []
    for _ in range(150):
        sim.step()
        linear, angular = sim.command_dither
        assert abs(linear) <= 0.1 and abs(angular) <= 0.2
        distance = float(np.linalg.norm(sim.robot_pose[:2] - sim.positions[0]))
        dithers.append((linear, angular, distance))
    values = np.array(dithers)
    assert np.std(values[:30, 0]) > 0.02 and np.std(values[:30, 1]) > 0.05, "it excites while the way is free"
    assert len(set(np.round(values[:30, 0], 12))) <= 30 // 3 + 1, "each value is held for excitation_hold_s"
    # scaled by the speed policy: (distance - stop) / (slow - stop) of the amplitude, 0 at the stop distance
    near = values[-20:]
    assert np.max(np.abs(near[:, 0])) <= 0.1 * max(0.0, (np.max(near[:, 2]) - 1.0) / 2.0) + 1e-12
    assert 0.9 <= values[-1, 2] < 1.3


def test_external_command_overrides_the_controller_for_its_timeout() -> None:
    scenario = load_scenario("corridor_passing")
    sim = scenario.make_simulator()
    for _ in range(20):
        sim.step()
    sim.set_command(0.0, 0.5)
    for _ in range(5):
        sim.step()
    # the drive tracks the command up to its actuator noise (0.05 rad/s std)
    assert sim.robot_yaw_rate == pytest.approx(0.5, abs=4 * sim.config.robot.angular_noise_std)
    assert sim.robot_speed < 0.5
    for _ in range(20):
        sim.step()
    assert sim.robot_speed > 0.3, "the controller took over again after the timeout"
    with pytest.raises(ValueError, match="finite"):
        sim.set_command(float("inf"), 0.0)


def test_ray_casting_against_walls_and_circles() -> None:
    origin = np.zeros(2)
    directions = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    walls = np.array([[3.0, -1.0, 3.0, 1.0]])
    np.testing.assert_allclose(ray_segment_distances(origin, directions, walls), [3.0, np.inf, np.inf])
    circles = ray_circle_distances(origin, directions, np.array([[0.0, 2.0]]), np.array([0.5]))
    np.testing.assert_allclose(circles, [np.inf, 1.5, np.inf])


@pytest.mark.parametrize("first, increment, beams", [(-math.pi, 2 * math.pi / 360, 360), (-1.0, 0.01, 150)])
def test_fan_casting_equals_casting_every_ray(first: float, increment: float, beams: int) -> None:
    rng = np.random.default_rng(5)
    directions = np.stack(
        [np.cos(first + increment * np.arange(beams)), np.sin(first + increment * np.arange(beams))], 1
    )
    for _ in range(50):
        n = int(rng.integers(1, 25))
        centers, radii, origin = rng.uniform(-6, 6, (n, 2)), rng.uniform(0.1, 0.6, n), rng.uniform(-1, 1, 2)
        expected = ray_circle_distances(origin, directions, centers, radii)
        got = fan_circle_distances(origin, first, increment, beams, centers, radii)
        np.testing.assert_array_equal(np.isfinite(got), np.isfinite(expected))
        np.testing.assert_allclose(got[np.isfinite(got)], expected[np.isfinite(expected)], atol=1e-9)


def test_scan_camera_imu_and_variables_observe_the_state() -> None:
    walls = [(4.0, -5.0, 4.0, 5.0)]
    config = _world([PersonSpec(start=(0.0, 2.0), goals=[(0.0, 2.0)], desired_speed=0.0)], walls=walls,
                    robot_start=(0.0, 0.0, 0.0), robot_goals=[(0.0, 0.0)])
    sim = PhysicalSimulator(config)
    angles = sim.scan_angles()
    ranges = sim.scan_ranges
    assert ranges[np.argmin(np.abs(angles))] == pytest.approx(4.0)
    assert ranges[np.argmin(np.abs(angles - math.pi / 2))] == pytest.approx(1.7)
    assert sim.image.shape == (120, 160, 3) and sim.image.dtype == np.uint8
    u, v = sim.world_to_image(np.array([[0.0, 2.0]]))[0]
    assert u < 80 and abs(v - 60) < 1, "a person to the left appears left of the centre"
    assert tuple(sim.image[int(round(v)), int(round(u))]) != (128, 128, 128)
    sim.set_command(0.0, 0.4)
    for _ in range(3):
        sim.step()
    assert sim.imu.yaw_rate == pytest.approx(sim.robot_yaw_rate)
    values = state_variables(sim)
    assert values["robot_angular_speed"] == pytest.approx(sim.robot_yaw_rate)
    assert values["human_robot_distance"] == pytest.approx(np.linalg.norm(sim.positions[0] - sim.robot_pose[:2]))
    assert values["min_scan_range"] == pytest.approx(1.7, abs=0.02)
    assert values["image_motion"] > 0.0, "the robot turned, so the view changed"


def test_human_speed_equals_the_finite_difference_of_positions() -> None:
    sim = load_scenario("corridor_passing").make_simulator()
    for _ in range(30):
        before = sim.positions[0].copy()
        sim.step()
        values = state_variables(sim)
        assert values["human_speed"] == pytest.approx(np.linalg.norm(sim.positions[0] - before) / sim.dt)
        rel = sim.positions[0] - sim.robot_pose[:2]
        assert values["human_robot_distance"] == pytest.approx(np.linalg.norm(rel))


def test_crowd_keeps_ids_and_runs_many_people() -> None:
    sim = load_scenario("crowd").make_simulator()
    assert sim.person_count == 10
    start = sim.positions.copy()
    sim.step()
    assert np.all(np.linalg.norm(sim.positions - start, axis=1) < 0.3), "row i stays person i between steps"
