"""World-model node: people + odometry + commands in, predicted people trajectories out.

Thin rclpy wrapper around :class:`causal_nodes.world_model.stream.WorldModelStream`.

Subscribes (sensor-data QoS, best effort):
- ``/people`` (geometry_msgs/PoseArray, world frame e.g. ``odom``; identities are kept across messages by
  nearest-neighbour association, since a pose's place in the array changes whenever someone before it leaves),
- ``/odom`` (nav_msgs/Odometry; the robot pose in the same frame, and the fallback action),
- ``/cmd_vel`` (geometry_msgs/Twist; the action the robot applies, preferred over odom's twist).
Publishes:
- ``/world_model/markers`` (visualization_msgs/MarkerArray): one line strip per person,
- ``/world_model/paths/p<i>`` (nav_msgs/Path): the predicted path of the person at pose i of the latest message,
- ``/diagnostics`` (diagnostic_msgs/DiagnosticArray): backend, steps, latency, bad-message counts.
"""
from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path

from geometry_msgs.msg import Point, PoseArray, PoseStamped, Twist
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
from rclpy.node import Node
from visualization_msgs.msg import Marker, MarkerArray

from causal_nodes.geometry import quaternion_to_yaw
from causal_nodes.nodes.common import (
    ERROR,
    OK,
    SENSOR_QOS,
    WARN,
    DiagnosticsPublisher,
    declare,
    run_node,
    stamp_seconds,
    wall_timer,
)
from causal_nodes.resources import find_resource, share_dirs
from causal_nodes.variables.time_sanity import FUTURE_STAMP, NON_FINITE_STAMP, OUT_OF_ORDER, TimeRules
from causal_nodes.world_model.backends import BACKENDS
from causal_nodes.world_model.place_memory import PlaceMemory, PlaceMemoryConfig, PlaceMemoryFileError
from causal_nodes.world_model.runtime import WorldModel
from causal_nodes.world_model.stream import MAX_RANGE_M, StampRejected, WorldModelStream
from causal_nodes.world_model.track_filter import MIN_SECOND_DIFFERENCES, TrackNoise


def default_model_path() -> str:
    """The shipped ``models/world_model.onnx`` (source checkout or installed share folder); if none is found, the
    first place looked, so the start-up error names a path."""
    try:
        return str(find_resource("models", "world_model.onnx"))
    except FileNotFoundError:
        return str(share_dirs()[0] / "models" / "world_model.onnx")


class WorldModelNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("world_model", **kwargs)
        model_path = declare(self, "model_path", "", "step ONNX of the world model (metadata JSON beside it); "
                             "'' = the model shipped with the package") or default_model_path()
        backend = declare(self, "backend", "auto", "inference backend", choices=BACKENDS)
        fp16 = declare(self, "fp16", False, "fp16 engines (TensorRT backends only)")
        horizon = declare(self, "horizon", 12, "predicted steps per person (model dt each)", int_range=(1, 12))
        interval = declare(
            self,
            "min_step_interval",
            -1.0,
            "min seconds between model steps; -1 = 0.9 × the model's dt (faster /people frames are skipped)",
            float_range=(-1.0, 10.0),
        )
        cache_dir = declare(self, "engine_cache_dir", "", "TensorRT engine cache folder ('' = beside the model)")
        noise_m = declare(self, "track_position_noise_m", -1.0,
                          "sd of the people tracker's position noise (m) for the velocity filter; -1 = estimate it "
                          "online from the tracks, 0 = a clean tracker (plain backward differences)",
                          float_range=(-1.0, 5.0))
        accel = declare(self, "walk_accel_sd", 0.6, "sd of people's acceleration (m/s^2), used with a fixed "
                        "track_position_noise_m > 0", float_range=(0.001, 20.0))
        noise_half_life = declare(self, "track_noise_half_life", 0.0, "second differences of the people's tracks "
                                  "after which one weighs half in the online estimate of the tracker's noise (-1 "
                                  "track_position_noise_m); 0 = never forget (one tracker), else at least "
                                  f"{MIN_SECOND_DIFFERENCES}, e.g. 20000 (~4 min with 20 people) when the tracker "
                                  "changes", float_range=(0.0, 1e9))
        if 0 < noise_half_life < MIN_SECOND_DIFFERENCES:
            self.get_logger().warning(f"track_noise_half_life {noise_half_life} is below the "
                                      f"{MIN_SECOND_DIFFERENCES} second differences an estimate needs: using "
                                      f"{MIN_SECOND_DIFFERENCES}")
            noise_half_life = float(MIN_SECOND_DIFFERENCES)
        calibrate = declare(self, "self_calibrate", True, "damp the published paths as the realized paths of earlier "
                            "forecasts call for (people here slow down or turn within the horizon); "
                            "no change until 1000 forecast steps were scored")
        half_life = declare(self, "calibration_half_life", 0.0, "scored forecast steps after which an outcome weighs "
                            "half in the self-calibration; 0 = never forget (one place), e.g. 50000 (~2-3 min in a "
                            "20-person crowd) for a robot moving between places", float_range=(0.0, 1e9))
        defaults = PlaceMemoryConfig()
        place_memory = declare(self, "place_memory", True, "correct the published paths by how people who were at "
                               "the same place, heading the same way, then moved compared with their forecasts "
                               "(learned online in the /people frame; reset with the self-calibration)")
        place_config = PlaceMemoryConfig(
            cell_size=declare(self, "place_memory_cell_m", defaults.cell_size, "edge of the place memory's finest "
                              "grid cell in the /people frame [m]", float_range=(0.05, 1000.0)),
            levels=declare(self, "place_memory_levels", defaults.levels, "resolutions of the place memory (cells of "
                           "cell_m * 2^j); a rarely seen cell borrows from the coarser one", int_range=(1, 8)),
            heading_bins=declare(self, "place_memory_heading_bins", defaults.heading_bins, "walking directions told "
                                 "apart per cell", int_range=(1, 64)),
            min_speed=declare(self, "place_memory_min_speed", defaults.min_speed, "people slower than this share "
                              "one heading bin per cell [m/s]", float_range=(0.001, 5.0)),
            n0=declare(self, "place_memory_n0", defaults.n0, "shrinkage: a cell's mean residual is applied with "
                       "weight n / (n + n0), n its outcomes", float_range=(0.0, 1e6)),
            speed_scaled=declare(self, "place_memory_speed_scaled", defaults.speed_scaled, "store residuals per m/s "
                                 "of the person's speed"),
            max_cells=declare(self, "place_memory_max_cells", defaults.max_cells, "cells kept (each 12 x 3 floats); "
                              "beyond, the least recently updated one is evicted", int_range=(1, 1000000)),
            half_life=declare(self, "place_memory_half_life", defaults.half_life, "scored forecast steps after which "
                              "an outcome weighs half in the place memory; 0 = never forget", float_range=(0.0, 1e9)),
            n0_slope=declare(self, "place_memory_n0_slope", defaults.n0_slope, "per-step shrinkage: step k of the "
                             "horizon H uses n0 * (H / k)^slope (0 = one n0; > 0 shrinks the early steps more)",
                             float_range=(-4.0, 4.0)),
            gain=declare(self, "place_memory_gain", defaults.gain, "the place memory's correction is multiplied by "
                         "this (1 = as estimated)", float_range=(0.0, 4.0)))
        memory_file = declare(self, "place_memory_file", "", "a saved place memory (.npz) loaded at start (an earlier "
                              "visit of this place, in the /people frame) and written at shutdown and every "
                              "place_memory_save_period_s; '' = none")
        memory_weight = declare(self, "place_memory_file_weight", 0.1, "weight of each outcome of the loaded memory "
                                "against those seen now (chosen on ETH/UCY val rows: 1 hurt, 0.1 did not)",
                                float_range=(0.001, 1.0))
        self.memory_save = declare(self, "place_memory_save", True, "write the place memory to place_memory_file "
                                   "(never over a file that failed to load)")
        save_period = declare(self, "place_memory_save_period_s", 300.0, "seconds between writes of the place memory "
                              "file while running (0 = only at shutdown)", float_range=(0.0, 86400.0))
        max_file_mb = declare(self, "place_memory_max_file_mb", 64.0, "a larger place memory file is refused [MB]",
                              float_range=(0.001, 4096.0))
        largest = PlaceMemory.largest_file_bytes(place_config.max_cells, horizon)
        # a node that saves must not write files its next start refuses
        if memory_file and place_memory and self.memory_save and largest > max_file_mb * 1e6:
            raise ValueError(f"{self.get_name()}: parameter place_memory_max_file_mb={max_file_mb} is below the "
                             f"{largest / 1e6:.1f} MB a file of place_memory_max_cells={place_config.max_cells} "
                             "cells can take: the next start would refuse the file it saved")
        rules = TimeRules(
            back_jump_reset_s=declare(self, "time_jump_reset_s", 1.0, "a /people stamp this far behind the newest "
                                      "starts the model over (looping bag, restarted simulator) [s]",
                                      float_range=(0.001, 3600.0)),
            max_forward_jump_s=declare(self, "max_forward_jump_s", 10.0, "a /people stamp this far ahead of the "
                                       "newest is dropped; 3 in a row start the model over [s]",
                                       float_range=(0.01, 1e6)))
        max_people = declare(self, "max_people", 100, "people per /people message taken in: the nearest to the "
                             "robot (the model has 32 slots)", int_range=(1, 10000))
        gate = declare(self, "tracker_gate_m", 1.0, "largest move of a person between two /people messages still "
                       "taken as the same person [m]", float_range=(0.01, 100.0))
        max_range = declare(self, "max_person_range_m", MAX_RANGE_M, "people farther than this from the robot are "
                            "not fed to the model (an absurd detection would turn its float32 state into NaN) [m]",
                            float_range=(1.0, 1e6))
        self.max_path_topics = declare(self, "max_path_topics", 100, "per-person nav_msgs/Path topics "
                                       "world_model/paths/p<i> exist for i < this; people at higher PoseArray indices "
                                       "get markers only (each topic is a DDS writer kept for the node's life)",
                                       int_range=(0, 10000))
        robot_present = declare(self, "robot_present", True, "the people can see this robot (a robot among people: "
                                "true); false only for a virtual robot that merely defines a frame (e.g. replaying "
                                "a people-only dataset), as in the ETH/UCY evaluation")
        self.model = WorldModel(model_path, backend=backend, fp16=fp16, engine_cache_dir=cache_dir or None,
                                robot_present=robot_present)
        self.memory_file = Path(memory_file).expanduser() if memory_file and place_memory else None
        self.last_error = ""
        self.memory_counts = {"place_memory_file_errors": 0, "place_memory_saves": 0, "place_memory_loaded_cells": 0,
                              "place_memory_frame_changes": 0}
        self.memory_file_seen = self.memory_file_state()
        self.memory_save_lock = threading.Lock()  # the shutdown save waits for a periodic one still running
        start = self.load_place_memory(place_config, horizon, memory_weight, int(max_file_mb * 1e6))
        self.check_memory_folder()
        self.stream = WorldModelStream(self.model, horizon, None if interval < 0 else interval,
                                       None if noise_m < 0 else TrackNoise(noise_m, accel), calibrate, rules,
                                       max_range, max_people, gate, half_life, noise_half_life,
                                       place_config if place_memory else None, start)
        self.people_frame = ""
        for reason in self.model.fallback_reasons:
            self.get_logger().info(f"backend fallback: {reason}")
        self.get_logger().info(f"world model {Path(model_path).name} on backend {self.model.backend}")
        self.counts = {"frames": 0, "steps": 0, "bad_people": 0, "bad_odom": 0, "bad_cmd_vel": 0,
                       "no_odom_yet": 0, "frame_mismatch": 0, "dropped_beyond_p_max": 0, "dropped_out_of_range": 0,
                       OUT_OF_ORDER: 0, FUTURE_STAMP: 0, NON_FINITE_STAMP: 0, "paths_beyond_max_path_topics": 0}
        self.latency_ms = float("nan")
        self.odom: Odometry | None = None
        self.cmd: Twist | None = None
        self.create_subscription(PoseArray, "people", self.on_people, SENSOR_QOS)
        self.create_subscription(Odometry, "odom", self.on_odom, SENSOR_QOS)
        self.create_subscription(Twist, "cmd_vel", self.on_cmd_vel, SENSOR_QOS)
        self.markers_pub = self.create_publisher(MarkerArray, "world_model/markers", 10)
        self.path_pubs: dict[int, object] = {}
        self.diag = DiagnosticsPublisher(self)
        # Steady clock: with use_sim_time and a paused bag (or no /clock yet) the node's clock stands still, and
        # neither the diagnostics nor the save against a crash may wait for it.
        wall_timer(self, 1.0, self.publish_diagnostics)
        if self.memory_file is not None and save_period > 0:
            wall_timer(self, save_period, self.save_place_memory)

    # -- place memory file --------------------------------------------------------------------------
    def load_place_memory(self, config: PlaceMemoryConfig, horizon: int, weight: float,
                          max_bytes: int) -> PlaceMemory | None:
        """The memory saved in ``place_memory_file`` (None: no file yet, or refused: then counted, logged, never
        overwritten, and the memory starts empty)."""
        if self.memory_file is None or not self.memory_file.exists():
            if self.memory_file is not None:
                self.get_logger().info(f"place memory file {self.memory_file} does not exist yet: starting empty")
            return None
        memory = PlaceMemory(horizon, self.model.dt, config)
        try:
            self.memory_counts["place_memory_loaded_cells"] = memory.load(self.memory_file, weight=weight,
                                                                          max_bytes=max_bytes)
        except PlaceMemoryFileError as exc:
            self.refuse_memory_file(str(exc))
            return None
        self.get_logger().info(f"place memory: {memory.cells} cells loaded from {self.memory_file} "
                               f"(frame {memory.frame_id!r}, weight {weight})")
        return memory

    def check_memory_folder(self) -> None:
        """A file that will be saved but cannot be written is reported now: else its first failed save came
        place_memory_save_period_s in, or only at shutdown, when /diagnostics is gone (the memory still runs, and
        each save tries again: the folder may appear)."""
        if self.memory_file is None or not self.memory_save:
            return
        folder = Path(os.path.realpath(self.memory_file)).parent  # where save writes (through a symlink)
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            self.memory_counts["place_memory_file_errors"] += 1
            self.last_error = (f"place memory file {self.memory_file} cannot be written: {folder} is not a writable "
                               "folder")
            self.get_logger().error(self.last_error)

    def refuse_memory_file(self, reason: str) -> None:
        self.memory_counts["place_memory_file_errors"] += 1
        self.memory_counts["place_memory_loaded_cells"] = 0
        self.last_error = f"{reason}; the place memory starts empty and the file is left as it is"
        self.get_logger().error(self.last_error)
        self.memory_save = False

    def check_memory_frame(self, frame_id: str) -> None:
        """The loaded memory must be in the frame /people is in: else its cells are another place's. So must what
        was learned since: when /people moves to another named frame, the memory starts over from the file (counted
        as place_memory_frame_changes)."""
        start = self.stream.place_memory_start
        if frame_id and start is not None and start.frame_id and start.frame_id != frame_id:
            self.stream.drop_place_memory_start()
            self.refuse_memory_file(f"place memory file {self.memory_file} is in frame {start.frame_id!r}, /people "
                                    f"in {frame_id!r}")
        elif frame_id and self.people_frame and self.stream.place_memory is not None:
            self.stream.restart_place_memory()
            self.memory_counts["place_memory_frame_changes"] += 1
            self.get_logger().warning(f"/people moved from frame {self.people_frame!r} to {frame_id!r}: the place "
                                      "memory learned so far is dropped")
        self.people_frame = frame_id or self.people_frame

    def memory_file_state(self) -> tuple[int, int, int, int] | None:
        """The place memory file as it is now (device, inode, size, modification time; None: no file, or none that
        can be looked at: the save then tries and its error is counted)."""
        if self.memory_file is None:
            return None
        try:
            st = os.stat(self.memory_file)
        except OSError:
            return None
        return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns

    def save_place_memory(self) -> None:
        """Writes the place memory to its file, unless nothing was scored since the start, and never over a file
        another writer changed since this node read or last wrote it (a second node sharing the file, a file
        replaced by hand: formerly overwritten without a word each period; now refused, counted, saving stops)."""
        with self.memory_save_lock:
            self._save_place_memory()

    def _save_place_memory(self) -> None:
        memory = self.stream.place_memory
        if self.memory_file is None or memory is None or not self.memory_save:
            return
        if memory.points == 0:  # nothing scored since the load: the file holds it all, and writing it back would
            return  # weigh its outcomes by place_memory_file_weight once more at every restart
        try:
            if self.memory_file_state() != self.memory_file_seen:
                self.memory_save = False
                raise OSError(f"{self.memory_file} was changed by another writer since this node read or wrote it: "
                              "left as it is, no more saves")
            # the frame /people named, else the loaded file's (a save must not lose the frame check)
            memory.save(self.memory_file, frame_id=self.people_frame or memory.frame_id)
            self.memory_file_seen = self.memory_file_state()
            self.memory_counts["place_memory_saves"] += 1
        except OSError as exc:
            self.memory_counts["place_memory_file_errors"] += 1
            self.last_error = f"place memory not saved to {self.memory_file}: {exc}"
            self.get_logger().error(self.last_error)

    def destroy_node(self) -> None:
        self.save_place_memory()
        super().destroy_node()

    # -- inputs -------------------------------------------------------------------------------
    def on_odom(self, msg: Odometry) -> None:
        p, v = msg.pose.pose.position, msg.twist.twist
        yaw = quaternion_to_yaw(msg.pose.pose.orientation)
        if not all(math.isfinite(x) for x in (p.x, p.y, v.linear.x, v.angular.z, yaw)):
            self.counts["bad_odom"] += 1
            return
        self.odom = msg

    def on_cmd_vel(self, msg: Twist) -> None:
        if not (math.isfinite(msg.linear.x) and math.isfinite(msg.angular.z)):
            self.counts["bad_cmd_vel"] += 1
            return
        self.cmd = msg

    def on_people(self, msg: PoseArray) -> None:
        self.counts["frames"] += 1
        if self.odom is None:
            self.counts["no_odom_yet"] += 1
            return
        if msg.header.frame_id and self.odom.header.frame_id and msg.header.frame_id != self.odom.header.frame_id:
            self.counts["frame_mismatch"] += 1
            self.last_error = f"/people in {msg.header.frame_id!r} but /odom in {self.odom.header.frame_id!r}"
            return
        if msg.header.frame_id != self.people_frame:
            self.check_memory_frame(msg.header.frame_id)
        o = self.odom.pose.pose
        pose = (o.position.x, o.position.y, quaternion_to_yaw(o.orientation))
        twist = self.cmd if self.cmd is not None else self.odom.twist.twist
        action = (twist.linear.x, twist.angular.z)
        people = [(p.position.x, p.position.y) for p in msg.poses]
        t0 = time.perf_counter()
        try:
            pred = self.stream.update(stamp_seconds(msg.header.stamp), None, people, pose, action)
        except StampRejected as exc:
            self.counts[exc.reason] = self.counts.get(exc.reason, 0) + 1
            self.last_error = str(exc)
            return
        except ValueError as exc:
            self.counts["bad_people"] += 1
            self.last_error = str(exc)
            return
        if pred is None:
            return
        self.latency_ms = (time.perf_counter() - t0) * 1e3
        self.counts["steps"] += 1
        self.counts["dropped_beyond_p_max"] += pred.dropped
        self.counts["dropped_out_of_range"] += pred.out_of_range
        self.publish_predictions(msg.header, {pred.rows[pid]: path for pid, path in pred.paths_world.items()})

    # -- outputs ------------------------------------------------------------------------------
    def publish_predictions(self, header, paths) -> None:
        """``paths``: {index of the person in the /people message: world-frame path (H, 2)}."""
        markers = MarkerArray()
        markers.markers.append(Marker(header=header, ns="world_model", action=Marker.DELETEALL))
        for pid, path in paths.items():
            m = Marker(header=header, ns="world_model", id=int(pid), type=Marker.LINE_STRIP, action=Marker.ADD)
            m.scale.x = 0.05
            m.color.r, m.color.g, m.color.b, m.color.a = 0.9, 0.4, 0.1, 0.9
            m.pose.orientation.w = 1.0
            m.points = [Point(x=float(x), y=float(y), z=0.0) for x, y in path]
            markers.markers.append(m)
            if pid >= self.max_path_topics:
                self.counts["paths_beyond_max_path_topics"] += 1
                continue
            out = PathMsg(header=header)
            for x, y in path:
                ps = PoseStamped(header=header)
                ps.pose.position.x, ps.pose.position.y = float(x), float(y)
                ps.pose.orientation.w = 1.0
                out.poses.append(ps)
            if pid not in self.path_pubs:
                self.path_pubs[pid] = self.create_publisher(PathMsg, f"world_model/paths/p{int(pid)}", 10)
            self.path_pubs[pid].publish(out)
        self.markers_pub.publish(markers)

    def publish_diagnostics(self) -> None:
        bad = (
            self.counts["bad_people"]
            + self.counts["bad_odom"]
            + self.counts["bad_cmd_vel"]
            + self.counts["frame_mismatch"]
            + self.counts[OUT_OF_ORDER] + self.counts[FUTURE_STAMP] + self.counts[NON_FINITE_STAMP]
            + self.memory_counts["place_memory_file_errors"]
        )
        level = OK if bad == 0 else WARN
        if self.counts["frames"] > 0 and self.counts["steps"] == 0 and bad > 0:
            level = ERROR
        message = "ok" if level == OK else (self.last_error or "bad messages received")
        noise = self.stream.track_noise
        memory = self.stream.place_memory
        self.diag.publish(level, message, {"backend": self.model.backend, "latency_ms_last": self.latency_ms,
                                           "robot_present": self.model.robot_present,
                                           "model_steps": self.model.steps, **self.counts, **self.stream.time_resets,
                                           "track_position_noise_m": noise.position_sd,
                                           "walk_accel_sd": noise.accel_sd,
                                           "track_noise_samples": self.stream.noise_estimator.samples,
                                           "forecast_damping": self.stream.calibration.damping,
                                           "calibration_points": self.stream.calibration.points,
                                           "place_memory_cells": memory.cells if memory is not None else 0,
                                           "place_memory_corrections": memory.corrections if memory is not None else 0,
                                           "place_memory_points": memory.points if memory is not None else 0,
                                           **self.memory_counts})


def main(args=None) -> None:
    run_node(WorldModelNode, args)


if __name__ == "__main__":
    main()
