"""Real pedestrians as a bag: convert ETH/UCY trajectory files to ``/people`` PoseArrays (and optionally ``/odom``).

Why: the pipeline must be developed on real human motion, not only on simulated crowds; a bag is the form every
node already consumes (replayed with ``causal-nodes replay`` or read offline by ``bag2csv``).

Format (ETH/BIWI and UCY as distributed with Social-STGCNN/Trajectron++): whitespace-separated rows
``frame_id ped_id x y`` (x, y in metres in the scene's world frame); frame ids step by 10 per 0.4 s (2.5 Hz).

Bag contents, one message set per frame id present in the file, all with the frame's stamp:
* ``/people`` geometry_msgs/PoseArray — one pose per pedestrian, sorted by ped_id, yaw = heading of motion;
* ``/people/ids`` std_msgs/String — JSON list of the ped_ids in pose order (the tracker recovers ids online, this
  keeps the ground-truth identity for evaluation);
* with ``robot_ped``: that pedestrian is left out of ``/people`` and published as the robot, ``/odom``
  nav_msgs/Odometry (pose + body-frame twist), so the whole pipeline has a robot to relate people to.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from causal_nodes import eth_ucy
from causal_nodes.bags.errors import BagError
from causal_nodes.bags.paths import PathLike
from causal_nodes.bags.writer import BagWriter
from causal_nodes.eth_ucy import SECONDS_PER_FRAME_ID
from causal_nodes.geometry import yaw_to_quaternion

#: Default stamp of frame id 0 (a fixed, non-zero epoch so outputs are reproducible and sim time is "set").
DEFAULT_T0_S = 1_700_000_000.0

PEOPLE_TOPIC = "/people"
PEOPLE_IDS_TOPIC = "/people/ids"
ODOM_TOPIC = "/odom"


@dataclass(frozen=True)
class Track:
    """One pedestrian's observations, sorted by frame: frames (n,), xy (n, 2), yaw (n,), speed (n,), yaw rate (n,)."""

    ped_id: int
    frames: np.ndarray
    xy: np.ndarray
    yaw: np.ndarray
    speed: np.ndarray
    yaw_rate: np.ndarray


def read_eth_ucy(path: PathLike) -> np.ndarray:
    """Rows ``(frame_id, ped_id, x, y)`` as a float array (n, 4) (:func:`causal_nodes.eth_ucy.read_eth_ucy`);
    BagError naming file and line on bad input."""
    try:
        return eth_ucy.read_eth_ucy(path)
    except ValueError as error:
        raise BagError(str(error)) from None


def build_tracks(table: np.ndarray, seconds_per_frame_id: float = SECONDS_PER_FRAME_ID) -> dict[int, Track]:
    """Per-pedestrian tracks with heading of motion (central differences in time), speed and yaw rate.

    A pedestrian standing still has no direction of motion: its last known heading is kept (0 if it never moved).
    """
    tracks: dict[int, Track] = {}
    for ped in np.unique(table[:, 1]).astype(int):
        rows = table[table[:, 1] == ped]
        rows = rows[np.argsort(rows[:, 0])]
        frames = rows[:, 0].astype(np.int64)
        xy = rows[:, 2:4].copy()
        t = frames * seconds_per_frame_id
        if len(rows) >= 2:
            velocity = np.stack([np.gradient(xy[:, 0], t), np.gradient(xy[:, 1], t)], axis=1)
        else:
            velocity = np.zeros((1, 2))
        speed = np.hypot(velocity[:, 0], velocity[:, 1])
        yaw = np.arctan2(velocity[:, 1], velocity[:, 0])
        moving = speed > 1e-6
        last = 0.0
        if moving.any():
            last = float(yaw[np.argmax(moving)])  # before the first motion: face where it will walk
        for i in range(len(yaw)):
            if moving[i]:
                last = float(yaw[i])
            else:
                yaw[i] = last
        yaw_rate = np.gradient(np.unwrap(yaw), t) if len(rows) >= 2 else np.zeros(1)
        tracks[int(ped)] = Track(int(ped), frames, xy, yaw, speed, yaw_rate)
    return tracks


def _stamp(store, t_ns: int):
    sec, nanosec = divmod(int(t_ns), 1_000_000_000)
    return store.types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)


def _quaternion(store, yaw: float):
    x, y, z, w = yaw_to_quaternion(yaw)
    return store.types["geometry_msgs/msg/Quaternion"](x=x, y=y, z=z, w=w)


def _pose(store, x: float, y: float, yaw: float):
    point = store.types["geometry_msgs/msg/Point"](x=float(x), y=float(y), z=0.0)
    return store.types["geometry_msgs/msg/Pose"](position=point, orientation=_quaternion(store, yaw))


@dataclass(frozen=True)
class ConversionSummary:
    """What a conversion wrote."""

    bag: Path
    frames: int
    pedestrians: int
    robot_ped: int | None
    duration_s: float
    counts: dict[str, int]


def longest_track(tracks: dict[int, Track]) -> int:
    """The pedestrian observed in the most frames (ties: lowest id) — a sensible stand-in robot."""
    return max(sorted(tracks), key=lambda ped: len(tracks[ped].frames))


def eth_ucy_to_bag(source: PathLike, out: PathLike, frame_id: str = "world",
                   robot_ped: int | str | None = None,
                   storage: str = "mcap", t0_s: float = DEFAULT_T0_S,
                   seconds_per_frame_id: float = SECONDS_PER_FRAME_ID,
                   crop_to_robot: bool = False) -> ConversionSummary:
    """Convert one ETH/UCY file into a bag at ``out`` (atomically: nothing is left behind on error).

    ``robot_ped``: a ped_id, or ``"longest"`` for the longest-observed pedestrian, published as ``/odom``.
    ``crop_to_robot``: keep only the frames from the robot pedestrian's first to its last observation, so that
    every frame has a robot (the robot-relative variables are then defined throughout).
    """
    if not frame_id:
        raise BagError("the world frame id must not be empty")
    if not seconds_per_frame_id > 0:
        raise BagError(f"seconds per frame id must be > 0, got {seconds_per_frame_id}")
    table = read_eth_ucy(source)
    tracks = build_tracks(table, seconds_per_frame_id)
    if robot_ped == "longest":
        robot_ped = longest_track(tracks)
    elif isinstance(robot_ped, str):
        raise BagError(f"robot pedestrian must be an id or 'longest', got {robot_ped!r}")
    if robot_ped is not None and robot_ped not in tracks:
        raise BagError(f"--robot-ped {robot_ped} is not a pedestrian of {source} (ids {min(tracks)}..{max(tracks)})")
    if crop_to_robot:
        if robot_ped is None:
            raise BagError("cropping to the robot needs a robot pedestrian (--robot-ped)")
        robot_frames = tracks[robot_ped].frames
        table = table[(table[:, 0] >= robot_frames[0]) & (table[:, 0] <= robot_frames[-1])]
        tracks = build_tracks(table, seconds_per_frame_id)
    # (frame, ped) -> index into that ped's track, to assemble frames in ped order.
    frames = np.unique(table[:, 0]).astype(np.int64)
    by_frame: dict[int, list[tuple]] = {int(f): [] for f in frames}
    for ped in sorted(tracks):
        track = tracks[ped]
        for i, f in enumerate(track.frames):
            by_frame[int(f)].append((ped, i))

    with BagWriter(out, storage=storage) as bag:
        store = bag.typestore
        bag.add_topic(PEOPLE_TOPIC, "geometry_msgs/msg/PoseArray")
        bag.add_topic(PEOPLE_IDS_TOPIC, "std_msgs/msg/String")
        if robot_ped is not None:
            bag.add_topic(ODOM_TOPIC, "nav_msgs/msg/Odometry")
        bag.set_custom_data("source", Path(source).name)
        bag.set_custom_data("frame_id", frame_id)
        bag.set_custom_data("seconds_per_frame_id", repr(seconds_per_frame_id))
        bag.set_custom_data("robot_ped", "" if robot_ped is None else str(robot_ped))
        Header = store.types["std_msgs/msg/Header"]
        t0_ns = int(round(t0_s * 1e9))
        ns_per_frame_id = int(round(seconds_per_frame_id * 1e9))  # integer ns: stamps exact at any epoch
        for frame in by_frame:
            t_ns = t0_ns + frame * ns_per_frame_id
            header = Header(stamp=_stamp(store, t_ns), frame_id=frame_id)
            poses, ids = [], []
            for ped, i in by_frame[frame]:
                track = tracks[ped]
                if ped == robot_ped:
                    bag.write_message(ODOM_TOPIC, t_ns, _odometry(store, header, track, i))
                    continue
                poses.append(_pose(store, track.xy[i, 0], track.xy[i, 1], track.yaw[i]))
                ids.append(ped)
            bag.write_message(
                PEOPLE_TOPIC, t_ns, store.types["geometry_msgs/msg/PoseArray"](header=header, poses=poses)
            )
            bag.write_message(PEOPLE_IDS_TOPIC, t_ns, store.types["std_msgs/msg/String"](data=json.dumps(ids)))
        counts = dict(bag.counts)
    duration = float((frames[-1] - frames[0]) * seconds_per_frame_id)
    return ConversionSummary(Path(out), len(frames), len(tracks), robot_ped, duration, counts)


def _odometry(store, header, track: Track, i: int):
    """Odometry of a pedestrian acting as the robot: pose in the world frame, twist in its own (heading) frame."""
    vector3 = store.types["geometry_msgs/msg/Vector3"]
    twist = store.types["geometry_msgs/msg/Twist"](
        linear=vector3(x=float(track.speed[i]), y=0.0, z=0.0),
        angular=vector3(x=0.0, y=0.0, z=float(track.yaw_rate[i])),
    )
    return store.types["nav_msgs/msg/Odometry"](
        header=header,
        child_frame_id="base_link",
        pose=store.types["geometry_msgs/msg/PoseWithCovariance"](
            pose=_pose(store, track.xy[i, 0], track.xy[i, 1], track.yaw[i]), covariance=np.zeros(36)
        ),
        twist=store.types["geometry_msgs/msg/TwistWithCovariance"](twist=twist, covariance=np.zeros(36)),
    )


def iter_people_ids(bag_reader) -> Iterator[tuple]:
    """``(stamp_ns, [ped ids])`` from a converted bag's ``/people/ids`` topic (ground-truth identities)."""
    for message in bag_reader.messages([PEOPLE_IDS_TOPIC]):
        yield message.timestamp_ns, json.loads(bag_reader.deserialize(message).data)
