"""The prioritizer node over real rclpy: graph + variable frames in, priorities/interventions/diagnostics out."""

from __future__ import annotations

import os
import random

os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytestmark = pytest.mark.ros  # real rclpy nodes over DDS

rclpy = pytest.importorskip("rclpy")
causal_msgs = pytest.importorskip("causal_msgs.msg")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from geometry_msgs.msg import Point  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from repo_paths import MODELS  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from causal_msgs.msg import CausalGraph, CausalLink, CausalPriorities, InterventionArray, VariableFrame  # noqa: E402
from causal_nodes.nodes.common import LATCHED_QOS, STREAM_QOS, to_time_msg  # noqa: E402
from causal_nodes.nodes.prioritizer_node import STATUS_NAME, PrioritizerNode  # noqa: E402

NAMES = ["robot_linear_speed", "robot_angular_speed", "human_speed", "human_robot_distance"]
TARGET = "human_robot_distance"


def make_data(steps: int = 300, seed: int = 1) -> np.ndarray:
    """Distance is driven strongly by linear speed (+), weakly by angular speed (-); human_speed is noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=0.3, size=(steps, 4))
    for t in range(1, steps):
        x[t, 0] += 0.5 * x[t - 1, 0]
        x[t, 3] += 0.6 * x[t - 1, 3] + 1.5 * x[t - 1, 0] - 0.2 * x[t - 1, 1]
    return x


LINKS = [
    ("robot_linear_speed", "robot_linear_speed", 1),
    ("robot_linear_speed", TARGET, 1),
    ("robot_angular_speed", TARGET, 1),
    (TARGET, TARGET, 1),
]


class Harness:
    def __init__(self, **params: object) -> None:
        overrides = [Parameter(k, value=v) for k, v in params.items()]
        self.node = PrioritizerNode(parameter_overrides=overrides)
        self.peer = rclpy.create_node("prioritizer_test_peer")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.executor.add_node(self.peer)
        self.got: dict[str, list] = {"priorities": [], "interventions": [], "markers": [], "diag": []}
        for msg_type, topic, key in (
            (CausalPriorities, "/causal/priorities", "priorities"),
            (InterventionArray, "/causal/interventions", "interventions"),
            (MarkerArray, "/causal/intervention_markers", "markers"),
        ):
            self.peer.create_subscription(msg_type, topic, self.got[key].append, LATCHED_QOS)
        self.peer.create_subscription(DiagnosticArray, "/diagnostics", self.got["diag"].append, 50)
        self.pub_graph = self.peer.create_publisher(CausalGraph, "/causal/graph", LATCHED_QOS)
        self.pub_frames = self.peer.create_publisher(VariableFrame, "/causal/variables", STREAM_QOS)

    def spin_until(self, done: Callable[[], bool], timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.02)
            if done():
                return True
        return False

    def send_frames(self, data: np.ndarray, subject_xy: tuple[float, float] = (3.0, 0.0)) -> None:
        """Frames 0.1 s apart from t = 0 (the subject standing at ``subject_xy``); the graph then spans them."""
        assert self.spin_until(lambda: self.pub_frames.get_subscription_count() > 0)
        for k, row in enumerate(data):
            msg = VariableFrame(names=NAMES, values=[float(v) for v in row], subject_id="p0",
                                subject_position=Point(x=subject_xy[0], y=subject_xy[1]))
            msg.header.stamp = to_time_msg(0.1 * k)
            self.pub_frames.publish(msg)
            self.executor.spin_once(timeout_sec=0.0)
        self.spin_until(lambda: self.node.online.window.fill >= len(data), timeout=5.0)
        self.frames_sent = len(data)

    def send_graph(self, links: list) -> None:
        msg = CausalGraph(variables=NAMES, tau_min=0, tau_max=1, method="pcmci", test="parcorr",
                          window_start=to_time_msg(0.0), window_end=to_time_msg(0.1 * (self.frames_sent - 1)),
                          sample_count=self.frames_sent)
        msg.links = [CausalLink(source=s, target=t, lag=lag, link_type="-->") for s, t, lag in links]
        self.pub_graph.publish(msg)

    def scene_publishers(self) -> tuple:
        """Publishers of /odom and /people (matched to the node when it listens) and an odometry message at the
        origin, facing +x."""
        from geometry_msgs.msg import PoseArray
        from nav_msgs.msg import Odometry

        from causal_nodes.nodes.common import SENSOR_QOS

        pub_odom = self.peer.create_publisher(Odometry, "/odom", SENSOR_QOS)
        pub_people = self.peer.create_publisher(PoseArray, "/people", SENSOR_QOS)
        people_wanted = self.node.online.world is not None
        assert self.spin_until(
            lambda: pub_odom.get_subscription_count() > 0
            and (pub_people.get_subscription_count() > 0 or not people_wanted)
        )
        odom = Odometry()
        odom.header.frame_id = "odom"
        odom.pose.pose.orientation.w = 1.0
        return pub_odom, pub_people, odom

    def last_status(self) -> DiagnosticStatus | None:
        for arr in reversed(self.got["diag"]):
            for st in arr.status:
                if st.name == STATUS_NAME:
                    return st
        return None

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.peer.destroy_node()


@pytest.fixture()
def ros():
    rclpy.init()
    harnesses: list[Harness] = []
    yield lambda **p: harnesses.append(Harness(**p)) or harnesses[-1]
    for h in harnesses:
        h.close()
    rclpy.shutdown()


def test_priorities_and_interventions_rank_the_known_driver_first(ros) -> None:
    h = ros(target=TARGET, actionable=["robot_linear_speed", "robot_angular_speed"], bootstrap=30, horizon=5,
            effect_model="linear")
    h.send_frames(make_data())
    h.send_graph(LINKS)
    assert h.spin_until(lambda: h.got["priorities"] and h.got["interventions"] and h.got["markers"])
    pri = h.got["priorities"][-1]
    assert pri.target == TARGET and pri.horizon == 5
    assert pri.priorities[0].variable == "robot_linear_speed" and pri.priorities[0].actionable
    assert pri.priorities[0].total_effect > 0 and pri.priorities[0].is_ancestor
    assert sum(p.weight for p in pri.priorities) == pytest.approx(1.0)
    noise = next(p for p in pri.priorities if p.variable == "human_speed")
    assert noise.weight == 0.0 and not noise.is_ancestor
    arr = h.got["interventions"][-1]
    assert [c.rank for c in arr.candidates] == list(range(1, len(arr.candidates) + 1))
    best = arr.candidates[0]
    assert best.variable == "robot_linear_speed" and best.predicted_effect > 0 and best.predicted_effect_std > 0
    assert all(len(c.predicted_paths) == 0 for c in arr.candidates)
    texts = [m.text for m in h.got["markers"][-1].markers if m.text]
    assert len(texts) == 3 and "robot_linear_speed" in texts[0]
    assert h.spin_until(lambda: h.last_status() is not None and h.last_status().level == DiagnosticStatus.OK)
    keys = {kv.key for kv in h.last_status().values}
    assert "latency_ms_last" in keys


def _publish_odometry(h: Harness) -> None:
    """Odometry at the origin facing +x, stamped at the start of the frames."""
    pub_odom, _, odom = h.scene_publishers()
    for _ in range(2):
        pub_odom.publish(odom)
        h.spin_until(lambda: False, timeout=0.05)
    assert h.spin_until(lambda: h.node.online.robot_pose is not None)


def test_kinematic_effects_use_the_robot_pose_from_odom_and_the_frames_subject(ros) -> None:
    h = ros(target=TARGET, bootstrap=10, horizon=10)
    assert h.node.get_parameter("effect_model").value == "kinematic"
    _publish_odometry(h)
    h.send_frames(make_data(200), subject_xy=(3.0, 0.0))  # the subject stands 3 m ahead
    h.send_graph(LINKS)
    assert h.spin_until(lambda: bool(h.got["interventions"]))
    speed = sorted((c for c in h.got["interventions"][-1].candidates if c.variable == "robot_linear_speed"),
                   key=lambda c: c.value)
    effects = [c.predicted_effect for c in speed]
    assert len(effects) >= 3 and effects == sorted(effects, reverse=True)  # driving faster = closer
    assert h.got["interventions"][-1].candidates[0].variable == "robot_linear_speed"
    assert h.got["interventions"][-1].candidates[0].value == speed[0].value  # maximize distance: slowest
    assert h.spin_until(lambda: h.last_status() is not None and h.last_status().level == DiagnosticStatus.OK)


def test_a_planners_path_replaces_the_sems_forecast_of_the_robots_commands(ros) -> None:
    """A nav_msgs/Path on plan_topic drives the kinematic model: a plan that stands still makes the free command
    zero, so do(angular) candidates leave a subject straight ahead where the plan leaves it; a NaN plan is counted,
    the previous plan kept."""
    from geometry_msgs.msg import PoseStamped
    from nav_msgs.msg import Path as PathMsg

    h = ros(target=TARGET, bootstrap=10, horizon=10, plan_topic="/plan")
    pub_plan = h.peer.create_publisher(PathMsg, "/plan", STREAM_QOS)
    assert h.spin_until(lambda: pub_plan.get_subscription_count() > 0)
    _publish_odometry(h)

    def plan(x_step: float) -> PathMsg:
        msg = PathMsg()
        msg.header.frame_id = "odom"
        msg.header.stamp = to_time_msg(19.9)  # the window's end: frames 0..199 are 0.1 s apart
        for k in range(12):  # no pose stamps: plan_dt apart from the header's
            pose = PoseStamped()
            pose.pose.position.x = x_step * k
            pose.pose.orientation.w = 1.0
            msg.poses.append(pose)
        return msg

    pub_plan.publish(plan(0.0))  # standing still for 1.1 s
    assert h.spin_until(lambda: "12 poses" in h.node.online.counters()["plan"])
    bad = plan(0.0)
    bad.poses[3].pose.position.x = float("nan")
    pub_plan.publish(bad)
    assert h.spin_until(lambda: h.node._bad_messages == 1)
    assert "12 poses up to 21.000 s" in h.node.online.counters()["plan"]  # the good plan is kept
    in_map = plan(1.0)
    in_map.header.frame_id = "map"  # a global planner's plan: not in the odometry's frame
    pub_plan.publish(in_map)
    assert h.spin_until(lambda: h.node._bad_messages == 2), "a plan in another frame is refused and counted"
    assert "12 poses up to 21.000 s" in h.node.online.counters()["plan"]
    h.send_frames(make_data(200), subject_xy=(3.0, 0.0))
    h.send_graph(LINKS)
    assert h.spin_until(lambda: bool(h.got["interventions"]))
    turn = [c for c in h.got["interventions"][-1].candidates if c.variable == "robot_angular_speed"]
    speed = [c for c in h.got["interventions"][-1].candidates if c.variable == "robot_linear_speed"]
    assert turn and speed
    # the plan keeps the robot standing, so turning in place leaves the distance as it is (to the SEM's other
    # parents' noise: the distance's own forecast is replaced by the geometry)
    assert max(abs(c.predicted_effect) for c in turn) < 1e-6
    assert max(abs(c.predicted_effect) for c in speed) > 0.01  # driving changes it


def test_kinematic_without_odometry_warns_and_uses_the_linear_sem(ros) -> None:
    h = ros(target=TARGET, bootstrap=10)
    h.send_frames(make_data(60))
    h.send_graph(LINKS)
    assert h.spin_until(lambda: bool(h.got["interventions"]) and h.got["interventions"][-1].candidates)
    assert h.spin_until(lambda: h.last_status() is not None and h.last_status().level == DiagnosticStatus.WARN)
    assert "linear SEM used" in h.last_status().message


def test_unknown_target_is_an_error_diagnostic_listing_known_variables(ros) -> None:
    h = ros(target="comfort", bootstrap=10)
    h.send_frames(make_data(60))
    h.send_graph(LINKS)
    assert h.spin_until(lambda: h.last_status() is not None and h.last_status().level == DiagnosticStatus.ERROR)
    msg = h.last_status().message
    assert "comfort" in msg and "human_robot_distance" in msg and "robot_linear_speed" in msg
    assert h.got["priorities"] == []


def test_empty_graph_is_a_warning_and_clears_interventions(ros) -> None:
    h = ros(target=TARGET, bootstrap=10)
    h.send_frames(make_data(60))
    h.send_graph([])
    assert h.spin_until(lambda: bool(h.got["interventions"]))
    assert h.got["interventions"][-1].candidates == []
    assert h.spin_until(lambda: h.last_status() is not None and h.last_status().level == DiagnosticStatus.WARN)
    assert "empty causal graph" in h.last_status().message


def test_invalid_goal_parameter_is_rejected(ros) -> None:
    h = ros(target=TARGET)
    result = h.node.set_parameters([Parameter("goal", value="best")])[0]
    assert not result.successful and "goal" in result.reason
    assert h.node.get_parameter("goal").value == "maximize"


def _world_model_file():

    root = MODELS
    for p in [root / "world_model.onnx", *sorted(root.glob("world_model*.onnx"))]:
        if p.is_file() and not p.stem.endswith("_rollout") and p.with_suffix(".json").is_file():
            return p
    return None


def test_world_model_fills_predicted_paths_for_robot_action_candidates(ros) -> None:
    model = _world_model_file()
    if model is None:
        pytest.skip("no trained world model under models/")
    from geometry_msgs.msg import Pose, PoseArray

    h = ros(target=TARGET, bootstrap=10, world_model_path=str(model), world_model_horizon=5)
    assert h.node.online.world is not None, h.node.world_error
    pub_odom, pub_people, odom = h.scene_publishers()
    odom.twist.twist.linear.x = 0.5
    for k in range(6):  # two people walking, one frame per 0.4 s (the model's step)
        pub_odom.publish(odom)
        h.executor.spin_once(timeout_sec=0.01)
        msg = PoseArray()
        msg.header.frame_id = "odom"
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(k * 400_000_000, 1_000_000_000)
        for x0, y0, vy in ((3.0, -2.0, 1.0), (5.0, 1.0, -0.5)):
            pose = Pose()
            pose.position.x, pose.position.y = x0, y0 + vy * 0.4 * k
            pose.orientation.w = 1.0
            msg.poses.append(pose)
        pub_people.publish(msg)
        h.spin_until(lambda: False, timeout=0.05)
    assert h.spin_until(lambda: h.node.online.world.pose is not None), h.node.online.world.error
    h.send_frames(make_data(120))
    h.send_graph(LINKS)
    assert h.spin_until(lambda: bool(h.got["interventions"]))
    cands = h.got["interventions"][-1].candidates
    speed = [c for c in cands if c.variable == "robot_linear_speed"]
    assert speed and all(len(c.predicted_paths) == 2 for c in speed)
    path = speed[0].predicted_paths[0]
    assert path.header.frame_id == "odom" and len(path.poses) == 5
    assert all(np.isfinite(p.pose.position.x) for p in path.poses)


def test_missing_world_model_is_reported_not_fatal(ros) -> None:
    h = ros(target=TARGET, bootstrap=10, world_model_path="/nonexistent/world_model.onnx")
    assert h.node.online.world is None and "not loaded" in h.node.world_error
    h.send_frames(make_data(60))
    h.send_graph(LINKS)
    assert h.spin_until(lambda: bool(h.got["interventions"]))
    assert all(len(c.predicted_paths) == 0 for c in h.got["interventions"][-1].candidates)
    assert h.spin_until(lambda: h.last_status() is not None
                        and any(kv.key == "world_model_error" for kv in h.last_status().values))


def test_params_file_and_node_share_the_config_dataclasses_defaults() -> None:
    """One set of defaults: the node declares the config dataclasses' values and the params YAML says the same."""
    import yaml
    from repo_paths import REPO_ROOT

    from causal_nodes.nodes.prioritizer_node import PARAMETERS
    from causal_nodes.prioritization import OnlinePrioritizerConfig

    config = yaml.safe_load((REPO_ROOT / "config" / "prioritizer.yaml").read_text())
    given = config[f"/**/{STATUS_NAME}"]["ros__parameters"]
    declared = {name: default for name, (default, _, _) in PARAMETERS.items()}
    assert given == declared
    defaults = OnlinePrioritizerConfig()
    assert (declared["effect_model"], declared["local_weighting"]) == ("kinematic", "state")
    assert declared["window_size"] == defaults.window_size and declared["horizon"] == defaults.prioritizer.horizon
