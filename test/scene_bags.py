"""A small recorded scene with known motion, written as a bag, shared by the offline and the live bag tests."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from causal_nodes.bags import BagWriter

T0 = 200.0  # s
RATE = 20.0  # Hz of the recorded inputs


def _header(store, t: float, frame: str = "odom"):
    sec, nanosec = divmod(int(round(t * 1e9)), 10**9)
    return store.types["std_msgs/msg/Header"](
        stamp=store.types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec), frame_id=frame)


def _pose(store, x: float, y: float):
    return store.types["geometry_msgs/msg/Pose"](
        position=store.types["geometry_msgs/msg/Point"](x=x, y=y, z=0.0),
        orientation=store.types["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0))


def write_scene(path: Path, seconds: float = 4.0, people_type: str = "geometry_msgs/msg/PoseArray") -> None:
    """Robot drives +x at 0.5 m/s from the origin; one person walks +x at 1.0 m/s along y = 2; goal at (10, 2);
    a laser sees a wall 3 m away. All inputs at 20 Hz, stamped like a live robot."""
    with BagWriter(path) as bag:
        store = bag.typestore
        bag.add_topic("/odom", "nav_msgs/msg/Odometry")
        bag.add_topic("/people", people_type)
        bag.add_topic("/goal_pose", "geometry_msgs/msg/PoseStamped")
        bag.add_topic("/scan", "sensor_msgs/msg/LaserScan")
        vec = store.types["geometry_msgs/msg/Vector3"]
        for k in range(int(seconds * RATE)):
            t = T0 + k / RATE
            t_ns = int(round(t * 1e9))
            odom = store.types["nav_msgs/msg/Odometry"](
                header=_header(store, t), child_frame_id="base_link",
                pose=store.types["geometry_msgs/msg/PoseWithCovariance"](pose=_pose(store, 0.5 * (t - T0), 0.0),
                                                                          covariance=np.zeros(36)),
                twist=store.types["geometry_msgs/msg/TwistWithCovariance"](
                    twist=store.types["geometry_msgs/msg/Twist"](linear=vec(x=0.5, y=0.0, z=0.0),
                                                                  angular=vec(x=0.0, y=0.0, z=0.1)),
                    covariance=np.zeros(36)))
            bag.write_message("/odom", t_ns, odom)
            if people_type == "geometry_msgs/msg/PoseArray":
                people = store.types["geometry_msgs/msg/PoseArray"](header=_header(store, t),
                                                                    poses=[_pose(store, 1.0 * (t - T0), 2.0)])
            else:
                people = store.types["std_msgs/msg/String"](data="not people")
            bag.write_message("/people", t_ns + 1000, people)
            bag.write_message("/scan", t_ns + 2000, store.types["sensor_msgs/msg/LaserScan"](
                header=_header(store, t, "base_laser"), angle_min=-1.0, angle_max=1.0, angle_increment=1.0,
                time_increment=0.0, scan_time=0.05, range_min=0.1, range_max=10.0,
                ranges=np.array([3.0, 0.01, float("inf")], dtype=np.float32), intensities=np.zeros(0, np.float32)))
            if k == 0:
                bag.write_message("/goal_pose", t_ns, store.types["geometry_msgs/msg/PoseStamped"](
                    header=_header(store, t), pose=_pose(store, 10.0, 2.0)))


def read_csv(path: Path):
    with path.open() as handle:
        rows = list(csv.reader(handle))
    return rows[0], np.array([[float(v) for v in row] for row in rows[1:]])
