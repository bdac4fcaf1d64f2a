"""The world-model node over real rclpy: /people + /odom in, predicted paths/markers/diagnostics out."""
from __future__ import annotations

import os
import random

os.environ["ROS_DOMAIN_ID"] = str(random.randint(1, 100))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"

import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytestmark = pytest.mark.ros  # real rclpy nodes over DDS

rclpy = pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import Pose, PoseArray  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from nav_msgs.msg import Path as PathMsg  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from repo_paths import DEFAULT_MODEL  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from causal_nodes.nodes.common import SENSOR_QOS  # noqa: E402

MODEL = DEFAULT_MODEL


@pytest.fixture()
def harness():
    if not MODEL.is_file():
        pytest.skip(f"trained model not found at {MODEL}")
    from causal_nodes.nodes.world_model_node import WorldModelNode

    rclpy.init()
    node = WorldModelNode(parameter_overrides=[Parameter("model_path", value=str(MODEL)),
                                               Parameter("backend", value="cpu"), Parameter("horizon", value=8)])
    peer = rclpy.create_node("world_model_test_peer")
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    ex.add_node(peer)
    got = {"markers": [], "path": [], "diag": []}
    peer.create_subscription(MarkerArray, "/world_model/markers", got["markers"].append, 10)
    peer.create_subscription(PathMsg, "/world_model/paths/p0", got["path"].append, 10)
    peer.create_subscription(DiagnosticArray, "/diagnostics", got["diag"].append, 10)
    pubs = {"people": peer.create_publisher(PoseArray, "/people", SENSOR_QOS),
            "odom": peer.create_publisher(Odometry, "/odom", SENSOR_QOS)}

    def spin_until(done, timeout=15.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ex.spin_once(timeout_sec=0.02)
            if done():
                return True
        return False

    yield node, pubs, got, spin_until
    ex.shutdown()
    node.destroy_node()
    peer.destroy_node()
    rclpy.shutdown()


def _people(t: int, nan: bool = False) -> PoseArray:
    msg = PoseArray()
    msg.header.frame_id = "odom"
    stamp = 100.0 + 0.4 * t
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(stamp), int(round((stamp % 1) * 1e9))
    for _i, (x0, y0, vx) in enumerate([(5.0, 1.0, -1.0), (3.0, -2.0, 0.5)]):
        p = Pose()
        p.position.x = float("nan") if nan else x0 + vx * 0.4 * t
        p.position.y = y0
        p.orientation.w = 1.0
        msg.poses.append(p)
    return msg


def _odom() -> Odometry:
    msg = Odometry()
    msg.header.frame_id = "odom"
    msg.pose.pose.position.x = 1.0
    msg.pose.pose.orientation.z, msg.pose.pose.orientation.w = math.sin(0.25), math.cos(0.25)  # yaw 0.5 rad
    msg.twist.twist.linear.x = 0.3
    return msg


def _status(node, got) -> dict | None:
    for arr in reversed(got["diag"]):
        for st in arr.status:
            if st.name == node.get_name():
                return {kv.key: kv.value for kv in st.values}
    return None


def test_node_measures_a_jittery_trackers_noise_and_reports_it(harness):
    node, pubs, got, spin_until = harness
    assert spin_until(lambda: pubs["people"].get_subscription_count() > 0 and pubs["odom"].get_subscription_count() > 0)
    rng = np.random.default_rng(0)
    start = rng.uniform(-8, 8, (25, 2))
    for t in range(12):
        pubs["odom"].publish(_odom())
        spin_until(lambda: node.odom is not None, timeout=2.0)
        msg = _people(t)
        msg.poses = []
        for x, y in start + np.array([0.5 * 0.4 * t, 0.0]) + rng.normal(0, 0.05, (25, 2)):  # 5 cm tracker noise
            pose = Pose()
            pose.position.x, pose.position.y, pose.orientation.w = float(x), float(y), 1.0
            msg.poses.append(pose)
        pubs["people"].publish(msg)
        spin_until(lambda t=t: node.counts["frames"] > t, timeout=2.0)
    assert node.counts["steps"] == 12, node.counts
    assert spin_until(lambda: (_status(node, got) or {}).get("model_steps") == "12", timeout=5.0)
    status = _status(node, got)
    assert float(status["track_position_noise_m"]) == pytest.approx(0.05, rel=0.3), status
    assert int(status["track_noise_samples"]) == 25 * 10 * 2
    # self-calibration (on by default) scored each forecast step that came true: horizon 8, 12 steps, so the
    # forecasts of steps 0-3 had all 8 steps scored and those of steps 4-10 had 7 ... 1
    assert int(status["calibration_points"]) == 25 * (4 * 8 + 28) and 0.9 <= float(status["forecast_damping"]) <= 1.0


def test_node_predicts_paths_for_each_person(harness):
    node, pubs, got, spin_until = harness
    assert spin_until(lambda: pubs["people"].get_subscription_count() > 0 and pubs["odom"].get_subscription_count() > 0)
    for t in range(6):
        pubs["odom"].publish(_odom())
        spin_until(lambda: node.odom is not None, timeout=2.0)
        pubs["people"].publish(_people(t))
        spin_until(lambda t=t: node.counts["frames"] > t, timeout=2.0)
    assert spin_until(lambda: len(got["path"]) >= 3 and len(got["markers"]) >= 3)
    path = got["path"][-1]
    assert path.header.frame_id == "odom" and len(path.poses) == 8
    # person 0 walks towards -x at 1 m/s: the predicted path continues that way, in the world frame
    xs = [p.pose.position.x for p in path.poses]
    # The path is predicted from the frame its header names (the newest path may lag the newest frame under load).
    stamp = path.header.stamp.sec + path.header.stamp.nanosec * 1e-9
    last_seen = 5.0 - (stamp - 100.0)
    assert xs[-1] < xs[0] < last_seen + 0.2 and abs(path.poses[-1].pose.position.y - 1.0) < 1.0
    strips = [m for m in got["markers"][-1].markers if m.type == m.LINE_STRIP]
    assert len(strips) == 2 and len(strips[0].points) == 8
    pubs["people"].publish(_people(7, nan=True))
    assert spin_until(lambda: node.counts["bad_people"] == 1, timeout=5.0)

    def status():
        return _status(node, got)

    assert spin_until(lambda: status() is not None and status().get("bad_people") == "1", timeout=5.0)
    assert status()["backend"] == "cpu" and int(status()["steps"]) >= 3


def test_node_starts_over_when_the_bag_loops_and_leaves_out_an_absurd_detection(harness):
    node, pubs, got, spin_until = harness
    assert spin_until(lambda: pubs["people"].get_subscription_count() > 0 and pubs["odom"].get_subscription_count() > 0)
    sent = 0
    for t in [*range(6), *range(4)]:  # the bag plays twice: its stamps start again from 100 s
        pubs["odom"].publish(_odom())
        spin_until(lambda: node.odom is not None, timeout=2.0)
        msg = _people(t)
        if t == 2:
            far = Pose()
            far.position.x, far.position.y, far.orientation.w = 1e20, 1e20, 1.0
            msg.poses.append(far)
        pubs["people"].publish(msg)
        sent += 1
        spin_until(lambda sent=sent: node.counts["frames"] >= sent, timeout=2.0)
    # formerly every frame of the second pass was refused as "time went backwards"
    assert node.counts["steps"] == 10 and node.counts["bad_people"] == 0, node.counts
    assert node.counts["dropped_out_of_range"] == 2, node.counts
    assert spin_until(lambda: (_status(node, got) or {}).get("time_jumped_back") == "1", timeout=5.0)
    assert spin_until(lambda: len(got["path"]) >= 10)
    assert all(math.isfinite(p.pose.position.x) for p in got["path"][-1].poses)


def test_node_creates_path_topics_only_below_max_path_topics(harness):
    node, pubs, got, spin_until = harness
    assert spin_until(lambda: pubs["people"].get_subscription_count() > 0 and pubs["odom"].get_subscription_count() > 0)
    for t in range(3):  # a detector glitch: 300 poses, the nearest 200 at indices 100..299
        pubs["odom"].publish(_odom())
        spin_until(lambda: node.odom is not None, timeout=2.0)
        msg = _people(t)
        msg.poses = []
        for i in range(300):
            pose = Pose()
            pose.position.x = 1.0 + (20.0 + 0.1 * i if i < 100 else 0.01 * i)
            pose.orientation.w = 1.0
            msg.poses.append(pose)
        pubs["people"].publish(msg)
        spin_until(lambda t=t: node.counts["frames"] > t, timeout=5.0)
    assert node.counts["steps"] == 3, node.counts
    # formerly every slotted index got a topic (a DDS writer) for good; the markers still show everyone slotted
    assert not node.path_pubs and node.counts["paths_beyond_max_path_topics"] == 3 * node.model.p_max
    assert spin_until(lambda: len(got["markers"]) >= 3)
    assert len(got["markers"][-1].markers) == 1 + node.model.p_max


def test_node_keeps_identities_when_the_pose_order_changes(harness):
    node, pubs, got, spin_until = harness
    assert spin_until(lambda: pubs["people"].get_subscription_count() > 0 and pubs["odom"].get_subscription_count() > 0)
    for t in range(7):  # the two people swap places in the array every other message
        pubs["odom"].publish(_odom())
        spin_until(lambda: node.odom is not None, timeout=2.0)
        msg = _people(t)
        if t % 2:
            msg.poses = msg.poses[::-1]
        pubs["people"].publish(msg)
        spin_until(lambda t=t: node.counts["frames"] > t, timeout=2.0)
    assert node.counts["steps"] == 7, node.counts
    def last(path):  # t = 6 (102.4 s): pose 0 is person 0 again
        return path.header.stamp.sec == 102 and path.header.stamp.nanosec > 300_000_000

    assert spin_until(lambda: any(last(p) for p in got["path"]), timeout=5.0)
    path = [p for p in got["path"] if last(p)][-1]
    xs = np.array([p.pose.position.x for p in path.poses])
    ys = np.array([p.pose.position.y for p in path.poses])
    # person 0 walks -x at 1 m/s from x = 2.6: keyed by array place, the velocity was the 3.6 m between the two people
    assert abs(xs[0] - (2.6 - 0.4)) < 0.2 and np.all(np.abs(np.diff(xs) + 0.4) < 0.2) and np.all(np.abs(ys - 1.0) < 0.5)


def test_track_noise_half_life_reaches_the_estimate_and_a_too_small_one_is_raised():
    """The parameter must reach the estimator (a robot whose tracker changes), and a half-life shorter than the
    second differences an estimate needs would never give one: it is raised to that, with a warning."""
    if not MODEL.is_file():
        pytest.skip(f"trained model not found at {MODEL}")
    from causal_nodes.nodes.world_model_node import WorldModelNode
    from causal_nodes.world_model.track_filter import MIN_SECOND_DIFFERENCES

    rclpy.init()
    try:
        for asked, used in ((0.0, 0.0), (50.0, float(MIN_SECOND_DIFFERENCES)), (20000.0, 20000.0)):
            node = WorldModelNode(parameter_overrides=[Parameter("model_path", value=str(MODEL)),
                                                       Parameter("backend", value="cpu"),
                                                       Parameter("track_noise_half_life", value=asked)])
            assert node.stream.noise_estimator.half_life == used
            node.destroy_node()
    finally:
        rclpy.shutdown()


def test_robot_present_parameter_reaches_the_model():
    """robot_present (default true: people see the robot the node runs on) is fed to the model with every step."""
    if not MODEL.is_file():
        pytest.skip(f"trained model not found at {MODEL}")
    from causal_nodes.nodes.world_model_node import WorldModelNode

    rclpy.init()
    try:
        for overrides, expected in (([], True), ([Parameter("robot_present", value=False)], False)):
            node = WorldModelNode(parameter_overrides=[Parameter("model_path", value=str(MODEL)),
                                                       Parameter("backend", value="cpu"), *overrides])
            assert node.model.robot_present is expected
            assert node.model._action((0.3, 0.0))[0, 2] == float(expected)
            node.destroy_node()
    finally:
        rclpy.shutdown()


def test_place_memory_parameters_reach_the_stream_and_its_diagnostics():
    """On by default with the config's defaults, off gives no memory at all; every size given as a parameter is the
    stream's memory's, and /diagnostics carries its counters."""
    if not MODEL.is_file():
        pytest.skip(f"trained model not found at {MODEL}")
    from causal_nodes.nodes.world_model_node import WorldModelNode
    from causal_nodes.world_model.place_memory import PlaceMemoryConfig

    rclpy.init()
    try:
        base = [Parameter("model_path", value=str(MODEL)), Parameter("backend", value="cpu")]
        node = WorldModelNode(parameter_overrides=base)
        assert node.stream.place_memory is not None and node.stream.place_memory.config == PlaceMemoryConfig()
        node.destroy_node()
        node = WorldModelNode(parameter_overrides=base + [Parameter("place_memory", value=False)])
        assert node.stream.place_memory is None
        node.destroy_node()
        node = WorldModelNode(parameter_overrides=base + [
            Parameter("place_memory", value=True), Parameter("place_memory_cell_m", value=1.5),
            Parameter("place_memory_levels", value=3), Parameter("place_memory_heading_bins", value=6),
            Parameter("place_memory_n0", value=7.0), Parameter("place_memory_max_cells", value=123),
            Parameter("place_memory_half_life", value=5000.0), Parameter("place_memory_speed_scaled", value=False)])
        memory = node.stream.place_memory
        assert memory is not None
        c = memory.config
        assert (c.cell_size, c.levels, c.heading_bins, c.n0, c.max_cells, c.half_life, c.speed_scaled) == (
            1.5, 3, 6, 7.0, 123, 5000.0, False)
        assert memory._sum.shape[0] == 123
        sent = []
        node.diag.publish = lambda level, message, values: sent.append(values)
        node.publish_diagnostics()
        assert sent[-1]["place_memory_cells"] == 0 and "place_memory_corrections" in sent[-1]
        node.destroy_node()
        with pytest.raises(ValueError, match="place_memory_levels"):
            WorldModelNode(parameter_overrides=base + [Parameter("place_memory_levels", value=0)])
    finally:
        rclpy.shutdown()


def test_place_memory_file_is_saved_at_shutdown_loaded_at_start_and_a_bad_one_is_refused_and_kept(tmp_path):
    """A robot's memory of a place survives a restart: the node learns over DDS, writes the file when it is
    destroyed, and the next node starts from it (weighed by place_memory_file_weight). A corrupt file or one in
    another frame is refused on /diagnostics, the memory starts empty, and the file is never overwritten."""
    if not MODEL.is_file():
        pytest.skip(f"trained model not found at {MODEL}")
    from causal_nodes.nodes.world_model_node import WorldModelNode
    from causal_nodes.world_model.place_memory import PlaceMemory

    memory_file = tmp_path / "place.npz"
    base = [Parameter("model_path", value=str(MODEL)), Parameter("backend", value="cpu"),
            Parameter("horizon", value=8), Parameter("place_memory_file", value=str(memory_file))]
    rclpy.init()
    try:
        node = WorldModelNode(parameter_overrides=base)
        assert node.stream.place_memory is not None and node.stream.place_memory.cells == 0
        peer = rclpy.create_node("world_model_memory_peer")
        ex = SingleThreadedExecutor()
        ex.add_node(node)
        ex.add_node(peer)
        people = peer.create_publisher(PoseArray, "/people", SENSOR_QOS)
        odom = peer.create_publisher(Odometry, "/odom", SENSOR_QOS)

        def spin_until(done, timeout=10.0):
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                ex.spin_once(timeout_sec=0.02)
                if done():
                    return True
            return False

        assert spin_until(lambda: people.get_subscription_count() > 0 and odom.get_subscription_count() > 0)
        for t in range(16):
            odom.publish(_odom())
            spin_until(lambda: node.odom is not None, timeout=2.0)
            people.publish(_people(t))
            spin_until(lambda t=t: node.counts["frames"] > t, timeout=2.0)
        learned = node.stream.place_memory
        assert node.counts["steps"] >= 12 and learned.cells > 0 and learned.points > 0
        ex.shutdown()
        peer.destroy_node()
        node.destroy_node()  # saves
        assert memory_file.is_file() and node.memory_counts["place_memory_saves"] == 1
        check = PlaceMemory(8, node.model.dt, learned.config)
        assert check.load(memory_file, frame_id="odom") == learned.cells

        again = WorldModelNode(parameter_overrides=base + [Parameter("place_memory_file_weight", value=0.5)])
        start = again.stream.place_memory
        assert start.cells == learned.cells and again.memory_counts["place_memory_loaded_cells"] == learned.cells
        origin, velocity = np.array([[3.0, 1.0]]), np.array([[-1.0, 0.0]])
        np.testing.assert_allclose(start.correction(origin, velocity)[1], 0.5 * check.correction(origin, velocity)[1])
        again.check_memory_frame("map")  # /people in another frame: the loaded cells are another place's
        assert again.stream.place_memory.cells == 0 and again.memory_counts["place_memory_file_errors"] == 1
        saved = memory_file.read_bytes()
        again.destroy_node()
        assert memory_file.read_bytes() == saved  # refused: not overwritten

        memory_file.write_bytes(b"PK\x03\x04 not a memory")
        broken = WorldModelNode(parameter_overrides=base)
        assert broken.stream.place_memory.cells == 0 and broken.memory_counts["place_memory_file_errors"] == 1
        sent = []
        broken.diag.publish = lambda level, message, values: sent.append((level, message, values))
        broken.publish_diagnostics()
        level, message, values = sent[-1]
        assert level != 0 and "not a readable memory" in message and values["place_memory_file_errors"] == 1
        broken.destroy_node()
        assert memory_file.read_bytes() == b"PK\x03\x04 not a memory"
    finally:
        rclpy.shutdown()


def _memory_node(tmp_path, *overrides):
    """A world-model node (horizon 8) whose place memory file is ``tmp_path / 'place.npz'`` unless overridden."""
    from causal_nodes.nodes.world_model_node import WorldModelNode

    return WorldModelNode(parameter_overrides=[
        Parameter("model_path", value=str(MODEL)), Parameter("backend", value="cpu"), Parameter("horizon", value=8),
        Parameter("place_memory_file", value=str(tmp_path / "place.npz")), *overrides])


def _walkers(n: int = 10) -> tuple[np.ndarray, ...]:
    """n walkers near (3, 1) heading +x whose true paths drift left: origins, velocities, forecasts, truths."""
    origin = np.array([3.0, 1.0]) + np.linspace(-0.2, 0.2, n)[:, None]
    velocity = np.tile([1.0, 0.0], (n, 1))
    k = np.arange(1, 9)[None, :, None]
    forecast = origin[:, None] + velocity[:, None] * 0.4 * k
    return origin, velocity, forecast, forecast + np.array([0.0, 0.05]) * k


def test_a_restart_that_scored_nothing_leaves_the_memory_file_as_it_was_and_a_save_keeps_its_frame(tmp_path):
    """Each start weighs the loaded outcomes by place_memory_file_weight; formerly every shutdown wrote them back so,
    so a robot restarted three times where nobody walked kept 0.1^3 of its memory's evidence. And a save made while
    /people named no frame wrote the file with none, so a later start in another frame no longer refused it."""
    if not MODEL.is_file():
        pytest.skip(f"trained model not found at {MODEL}")
    from causal_nodes.world_model.place_memory import PlaceMemory, PlaceMemoryConfig, PlaceMemoryFileError

    memory_file = tmp_path / "place.npz"
    rclpy.init()
    try:
        node = _memory_node(tmp_path)
        dt = node.model.dt
        node.destroy_node()
        earlier = PlaceMemory(8, dt, PlaceMemoryConfig())
        earlier.add_outcome(*_walkers())
        earlier.save(memory_file, frame_id="odom")
        saved = memory_file.read_bytes()
        for _ in range(3):  # three restarts, nobody seen
            node = _memory_node(tmp_path)
            assert node.memory_counts["place_memory_loaded_cells"] == earlier.cells
            node.destroy_node()
            assert node.memory_counts["place_memory_file_errors"] == 0
        assert memory_file.read_bytes() == saved
        node = _memory_node(tmp_path)
        node.stream.place_memory.add_outcome(*_walkers())  # outcomes scored, /people without a frame name
        node.destroy_node()
        assert node.memory_counts["place_memory_saves"] == 1 and memory_file.read_bytes() != saved
        with pytest.raises(PlaceMemoryFileError, match="frame 'odom'"):
            PlaceMemory(8, dt, PlaceMemoryConfig()).load(memory_file, frame_id="map")
    finally:
        rclpy.shutdown()


def test_a_people_frame_change_restarts_the_place_memory_and_is_counted(harness):
    """The memory's cells are places in the /people frame: formerly, when /people (and /odom) moved from odom to map,
    the cells learned in odom went on correcting paths in map (another place there) and were saved as map's."""
    node, pubs, got, spin_until = harness
    assert spin_until(lambda: pubs["people"].get_subscription_count() > 0 and pubs["odom"].get_subscription_count() > 0)
    for t in range(13):
        frame = "odom" if t < 12 else "map"
        odom = _odom()
        odom.header.frame_id = frame
        pubs["odom"].publish(odom)
        spin_until(lambda frame=frame: node.odom is not None and node.odom.header.frame_id == frame, timeout=2.0)
        msg = _people(t)
        msg.header.frame_id = frame
        if t == 12:
            assert node.stream.place_memory.cells > 0  # learned in odom
        pubs["people"].publish(msg)
        spin_until(lambda t=t: node.counts["frames"] > t, timeout=2.0)
    assert node.counts["steps"] == 13, node.counts
    assert node.stream.place_memory.cells == 0 and node.people_frame == "map"
    assert spin_until(lambda: (_status(node, got) or {}).get("place_memory_frame_changes") == "1", timeout=5.0)


def test_a_memory_file_that_cannot_be_written_is_reported_at_start_and_a_limit_it_would_break_is_refused(tmp_path):
    """A file in a missing folder (or under a plain file) formerly showed its error only when the first save failed,
    300 s in or at shutdown when /diagnostics is gone, so a day's memory was lost silently. And a place_memory_max_cells
    whose file would exceed place_memory_max_file_mb made the node write files its next start refused."""
    if not MODEL.is_file():
        pytest.skip(f"trained model not found at {MODEL}")
    (tmp_path / "plain").write_text("")
    rclpy.init()
    try:
        for folder in ("missing", "plain"):
            node = _memory_node(tmp_path, Parameter("place_memory_file", value=str(tmp_path / folder / "p.npz")))
            assert node.memory_counts["place_memory_file_errors"] == 1 and "cannot be written" in node.last_error
            sent = []
            node.diag.publish = lambda level, message, values, sent=sent: sent.append((level, message))
            node.publish_diagnostics()
            assert sent[-1][0] != 0 and "cannot be written" in sent[-1][1]
            assert node.stream.place_memory is not None  # the memory still runs
            node.destroy_node()
        with pytest.raises(ValueError, match="place_memory_max_file_mb"):
            _memory_node(tmp_path, Parameter("place_memory_max_cells", value=1_000_000))
        _memory_node(tmp_path, Parameter("place_memory_max_cells", value=1_000_000),
                     Parameter("place_memory_max_file_mb", value=400.0)).destroy_node()
        _memory_node(tmp_path, Parameter("place_memory_max_cells", value=1_000_000),  # no file: no limit to break
                     Parameter("place_memory_file", value="")).destroy_node()
    finally:
        rclpy.shutdown()


def test_place_memory_min_speed_zero_is_refused_at_start():
    """0 was in the parameter's range and gave a person standing still NaN place-memory corrections (NaN paths)."""
    if not MODEL.is_file():
        pytest.skip(f"trained model not found at {MODEL}")
    from causal_nodes.nodes.world_model_node import WorldModelNode

    rclpy.init()
    try:
        with pytest.raises(ValueError, match="place_memory_min_speed"):
            WorldModelNode(parameter_overrides=[Parameter("model_path", value=str(MODEL)),
                                                Parameter("backend", value="cpu"),
                                                Parameter("place_memory_min_speed", value=0.0)])
    finally:
        rclpy.shutdown()


def test_with_sim_time_standing_still_the_memory_is_still_saved_periodically_and_diagnostics_keep_coming(tmp_path):
    """use_sim_time with a paused bag (or no /clock yet): the periodic save, there against a crash, and /diagnostics
    ran on the node's clock, so neither came at all (the other nodes' diagnostics use the steady clock)."""
    if not MODEL.is_file():
        pytest.skip(f"trained model not found at {MODEL}")
    rclpy.init()
    try:
        node = _memory_node(tmp_path, Parameter("use_sim_time", value=True),
                            Parameter("place_memory_save_period_s", value=0.3))
        node.stream.place_memory.add_outcome(*_walkers())
        sent = []
        node.diag.publish = lambda level, message, values: sent.append(values)
        ex = SingleThreadedExecutor()
        ex.add_node(node)
        end = time.monotonic() + 3.0
        while time.monotonic() < end and not (sent and node.memory_counts["place_memory_saves"] >= 2):
            ex.spin_once(timeout_sec=0.05)
        ex.shutdown()
        assert node.memory_counts["place_memory_saves"] >= 2 and (tmp_path / "place.npz").is_file()
        assert sent and sent[-1]["place_memory_saves"] >= 1
        node.destroy_node()
    finally:
        rclpy.shutdown()


def test_a_memory_file_another_writer_changed_is_never_overwritten(tmp_path):
    """Two nodes sharing one file, or a file replaced while the node runs: formerly each save overwrote the other
    writer's file without a word (the two nodes' memories alternated in it, period after period). Now the node that
    finds the file changed since it read or last wrote it leaves it as it is, counts the error and stops saving."""
    if not MODEL.is_file():
        pytest.skip(f"trained model not found at {MODEL}")
    from causal_nodes.world_model.place_memory import PlaceMemory, PlaceMemoryConfig

    memory_file = tmp_path / "place.npz"
    rclpy.init()
    try:
        first, second = _memory_node(tmp_path), _memory_node(tmp_path)
        origin, velocity, forecast, truth = _walkers()
        first.stream.place_memory.add_outcome(origin, velocity, forecast, truth)
        second.stream.place_memory.add_outcome(origin + 20.0, velocity, forecast + 20.0, truth + 20.0)
        first.save_place_memory()
        first_bytes = memory_file.read_bytes()
        second.save_place_memory()  # the file appeared after the second node started: another writer's
        assert memory_file.read_bytes() == first_bytes
        assert second.memory_counts["place_memory_file_errors"] == 1 and "another writer" in second.last_error
        first.save_place_memory()  # its own file: saved again
        assert first.memory_counts["place_memory_saves"] == 2 and first.memory_counts["place_memory_file_errors"] == 0
        replaced = PlaceMemory(8, first.model.dt, PlaceMemoryConfig())  # replaced by hand while running
        replaced.add_outcome(origin - 20.0, velocity, forecast - 20.0, truth - 20.0)
        replaced.save(memory_file, frame_id="odom")
        by_hand = memory_file.read_bytes()
        first.destroy_node()
        second.destroy_node()
        assert memory_file.read_bytes() == by_hand and first.memory_counts["place_memory_file_errors"] == 1
        assert second.memory_counts["place_memory_saves"] == 0
    finally:
        rclpy.shutdown()
