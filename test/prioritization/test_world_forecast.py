"""The world model as the kinematic model's person forecast: matching the subject, commands per scenario on the
variable grid, interpolation back to the grid, and the robot's plan in the online prioritizer."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch (training extra) not installed: no model to export")
pytest.importorskip("onnx", reason="onnx not installed")

from causal_nodes.prioritization import PrioritizerConfig  # noqa: E402
from causal_nodes.prioritization.online import OnlinePrioritizer, OnlinePrioritizerConfig  # noqa: E402
from causal_nodes.prioritization.world_paths import WorldModelPaths, subject_forecast  # noqa: E402
from training.export_onnx import export_all  # noqa: E402
from training.model import StreamingWorldModel, WorldModelConfig  # noqa: E402


@pytest.fixture(scope="module")
def cv_model(tmp_path_factory) -> str:
    """A freshly initialised model: its head is zero, so it predicts exactly constant velocity."""
    torch.manual_seed(0)
    model = StreamingWorldModel(WorldModelConfig(p_max=4, sinks=1, window=4, horizon=4, k_max=4)).eval()
    out = tmp_path_factory.mktemp("cv_model")
    return str(export_all(model, out, "cv", {"data": "none: untrained, constant velocity"})["step"])


def walkers(t: float) -> list[tuple[float, float]]:
    """Two people: one walks along +x at 1 m/s, one stands."""
    return [(1.0 * t, 2.0), (5.0, -1.0)]


def test_the_subject_is_forecast_at_the_grid_times_under_each_scenario(cv_model) -> None:
    world = WorldModelPaths(cv_model, 4)
    for k in range(8):  # the model steps every 0.4 s; the last step at 2.8 s
        world.update(0.4 * k, walkers(0.4 * k), (0.0, 0.0, 0.0), (0.0, 0.0), "odom")
    forecast = world.person_forecast((2.75, 2.0), stamp=2.75, grid_dt=0.1)  # the grid lags 0.05 s behind
    assert forecast is not None
    commands = np.zeros((3, 10, 2))
    commands[1, :, 0] = 1.0  # the robot drives; a constant-velocity model does not care
    paths = forecast(commands)
    times = 2.75 + 0.1 * np.arange(1, 11)
    np.testing.assert_allclose(paths[:, :, 0], np.broadcast_to(times, (3, 10)), atol=1e-4)
    np.testing.assert_allclose(paths[:, :, 1], 2.0, atol=1e-4)
    ahead = world.person_forecast((2.9, 2.0), stamp=2.9, grid_dt=0.1)(commands[:1])  # grid ahead of the model
    np.testing.assert_allclose(ahead[0, :, 0], 2.9 + 0.1 * np.arange(1, 11), atol=1e-4)
    assert world.person_forecast((20.0, 20.0), stamp=2.8, grid_dt=0.1) is None  # nobody there
    with pytest.raises(ValueError, match="commands"):
        forecast(np.zeros((2, 10)))


def test_people_listed_in_another_order_each_time_are_forecast_as_if_in_one_order(cv_model) -> None:
    """/people carries no ids: before, a person's place in the message was their identity, so the walker listed
    second every other frame got the stander's history (velocities from one to the other)."""
    steady, shuffled = WorldModelPaths(cv_model, 4), WorldModelPaths(cv_model, 4)
    for k in range(8):
        people = walkers(0.4 * k)
        steady.update(0.4 * k, people, (0.0, 0.0, 0.0), (0.0, 0.0), "odom")
        shuffled.update(0.4 * k, people[::-1] if k % 2 else people, (0.0, 0.0, 0.0), (0.0, 0.0), "odom")
    commands = np.zeros((1, 10, 2))
    expected = steady.person_forecast((2.8, 2.0), stamp=2.8, grid_dt=0.1)(commands)
    np.testing.assert_allclose(shuffled.person_forecast((2.8, 2.0), stamp=2.8, grid_dt=0.1)(commands), expected)
    np.testing.assert_allclose(expected[0, :, 0], 2.8 + 0.1 * np.arange(1, 11), atol=1e-4)


def test_forecast_needs_a_stepped_model(cv_model) -> None:
    world = WorldModelPaths(cv_model, 4)
    assert world.person_forecast((0.0, 2.0), stamp=0.0, grid_dt=0.1) is None
    assert subject_forecast(world.stream.model, world.stream, (0, 0, 0), (0.0, 2.0), 0.0, 0.1) is None


def test_online_prioritizer_hands_the_forecast_and_the_plan_to_the_model(cv_model) -> None:
    seen = {}

    def run(data, names, links, target, actionable, config, scene=None):
        seen["scene"] = scene
        raise ValueError("stop here")

    cfg = OnlinePrioritizerConfig(target="human_robot_distance",
                                  prioritizer=PrioritizerConfig(person_motion="world_model", horizon=5, bootstrap=0))
    online = OnlinePrioritizer(cfg, run=run, world=WorldModelPaths(cv_model, 4))
    names = ["robot_linear_speed", "robot_angular_speed", "human_robot_distance"]
    for k in range(30):
        t = 0.1 * k
        online.add_odometry(t, 0.0, 0.0, 0.0, 0.0, 0.0)
        online.add_people(t, walkers(t), "odom")
        online.add_frame(t, names, [0.0, 0.0, 2.0 + 0.01 * k], "0", walkers(t)[0])
    plan_t = np.array([2.0, 2.5, 3.0, 3.5])
    online.add_plan(plan_t, np.stack([0.5 * (plan_t - 2.0), np.zeros(4), np.zeros(4)], axis=1))
    from causal_nodes.prioritization.online import GraphWindow

    online.set_graph(GraphWindow(names, [(names[0], names[2], 1, "-->")], 1, 0.0, 2.9, 30))
    outcome = online.run()
    assert "stop here" in outcome.error
    scene = seen["scene"]
    assert scene.person_forecast is not None
    np.testing.assert_allclose(scene.planned_commands, [[0.5, 0.0]] * 5, atol=1e-9)
    assert scene.person_forecast(np.zeros((1, 5, 2))).shape == (1, 5, 2)
    with pytest.raises(ValueError):
        online.add_plan([1.0, 0.5], [[0, 0, 0], [1, 0, 0]])  # not increasing: the old plan stays
    assert "4 poses" in online.counters()["plan"]
    online.add_plan([0.0, 0.5], [[0, 0, 0], [1, 0, 0]])  # ends 2.4 s before the window end: stale, not used
    online.set_graph(GraphWindow(names, [(names[0], names[2], 1, "-->")], 1, 0.0, 2.9, 30))
    online.run()
    assert seen["scene"].planned_commands is None
