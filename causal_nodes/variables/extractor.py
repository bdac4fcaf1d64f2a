"""Causal variables of a human–robot scene, resampled onto a fixed-rate time grid by message stamps.

Why resample: PCMCI's lags are counted in samples, so every variable must be observed on one regular grid.
Sensors publish at their own rates and with jitter; here each input stream is buffered with its stamps and read
at grid times ``k / rate_hz`` (linear interpolation between the two bracketing samples; zero-order hold up to
``max_input_age_s`` past the newest one). Only message stamps are used, never the wall clock, so a replayed bag
with ``use_sim_time`` gives the same frames as the live run.

A grid time is emitted once every sampled stream that feeds a configured variable has data at or after it, or
once any stream is ``max_input_age_s`` past it (then the late streams' variables are NaN). The goal is held (it
is an event, published once), so it never delays the grid.

Hostile stamps never make the grid grow without bound (:mod:`causal_nodes.variables.time_sanity`): a far-future
stamp is dropped until confirmed, a confirmed jump either way starts over, and a grid that would have to fill
more than ``max_gap_fill_s`` of silence at once restarts after the gap instead (every case counted by name).
A ``PoseArray`` with more than ``max_people`` people keeps the ``max_people`` nearest to the robot.
Variables, units (REP 103):

=====================  ======  ==========================================================================
human_speed            m/s     speed of the selected person (their own track's move over the last grid step)
human_heading_rate     rad/s   change of the person's direction of motion per second (0 below 0.05 m/s)
human_robot_distance   m       distance between the person and the robot
human_goal_distance    m       distance between the person and the last goal pose
robot_linear_speed     m/s     odometry twist.linear.x
robot_angular_speed    rad/s   odometry twist.angular.z
min_scan_range         m       smallest valid range of the laser scan
collision_risk         1/s     inverse time to collision: max(0, closing speed) / max(distance, 0.1 m)
image_motion           1       mean absolute difference of consecutive downscaled grey frames, in [0, 1]
imu_yaw_rate           rad/s   IMU angular_velocity.z (a second measurement of robot_angular_speed)
closing_speed          m/s     how fast the person-robot distance shrinks (negative while it grows)
human_approach_speed   m/s     the person's own share of it: their velocity towards the robot's position
human_bearing          rad     direction of the person in the robot frame (0 ahead, + to the left), (-pi, pi]
lateral_offset         m       the person's y in the robot frame (REP 103: + left of the robot's heading)
forward_offset         m       the person's x in the robot frame (+ ahead of the robot)
time_to_collision      s       distance / closing speed while closing, capped at 10 s (10 s when not closing)
robot_obstacle_clearance m     smallest scan range whose beam ends away (> 0.5 m) from every tracked person:
                               the nearest wall or object; the scan's range_max when it sees nothing but
                               people or nothing within range (REP 117: no return = no obstacle in range)
=====================  ======  ==========================================================================

Relative kinematics (the last block) exist because the mechanisms act through them: the robot slows for the
distance, turns away by the side a person is on, the person reacts to where the robot is relative to their own
motion. Signed robot-frame quantities keep what an unsigned speed or distance averages away (a linear test sees
"person on the left -> turn right", but not "person near -> turn"). ``imu_yaw_rate`` measures the same yaw rate as
odometry (r = 0.9996 in the simulator): configure one of the two, not both.
"""
from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from causal_nodes.geometry import wrap_angle
from causal_nodes.variables.time_sanity import DROP, RESET, ForwardJumpGuard, TimeRules, judge_step_back
from causal_nodes.variables.tracking import NearestNeighbourTracker

ALL_VARIABLES: tuple[str, ...] = (
    "human_speed",
    "human_heading_rate",
    "human_robot_distance",
    "human_goal_distance",
    "robot_linear_speed",
    "robot_angular_speed",
    "min_scan_range",
    "collision_risk",
    "image_motion",
    "imu_yaw_rate",
    "closing_speed",
    "human_approach_speed",
    "human_bearing",
    "lateral_offset",
    "forward_offset",
    "time_to_collision",
    "robot_obstacle_clearance",
)
LEGACY_VARIABLES: tuple[str, ...] = ALL_VARIABLES[:8]
"""The default variables until issue #10: kept as a named set so the old pipeline can be compared with the new."""
DEFAULT_VARIABLES: tuple[str, ...] = (
    "robot_linear_speed",
    "robot_angular_speed",
    "human_speed",
    "human_approach_speed",
    "human_robot_distance",
    "human_bearing",
    "human_goal_distance",
    "robot_obstacle_clearance",
)
"""Chosen by measurement (``benchmarks/choose_variables.py``, tuning seeds): the relative kinematics of the person
in the robot frame plus the robot's speeds and clearance. No variable is a function of the others at one instant
(those -- collision risk, time to collision, the scan minimum -- add links that are no effects), and the
person's state relative to the robot is nearly complete, so little latent state spreads links over lags."""

# Which input stream each variable reads; a grid time waits only for the streams of configured variables.
_STREAMS_OF: dict[str, tuple[str, ...]] = {
    "human_speed": ("people",),
    "human_heading_rate": ("people",),
    "human_robot_distance": ("people", "odom"),
    "human_goal_distance": ("people", "goal"),
    "robot_linear_speed": ("odom",),
    "robot_angular_speed": ("odom",),
    "min_scan_range": ("scan",),
    "collision_risk": ("people", "odom"),
    "image_motion": ("image",),
    "imu_yaw_rate": ("imu",),
    "closing_speed": ("people", "odom"),
    "human_approach_speed": ("people", "odom"),
    "human_bearing": ("people", "odom"),
    "lateral_offset": ("people", "odom"),
    "forward_offset": ("people", "odom"),
    "time_to_collision": ("people", "odom"),
    "robot_obstacle_clearance": ("scan", "odom"),
}
_HELD_STREAMS = frozenset({"goal"})
_HEADING_MIN_SPEED = 0.05  # m/s: below this the direction of motion is noise
_RISK_MIN_DISTANCE = 0.1  # m
TTC_MAX_S = 10.0
"""time_to_collision when the gap is not closing, and its cap [s]: a bounded variable suits the tests."""
PERSON_BEAM_RADIUS_M = 0.5
"""A scan beam ending this close to a tracked person saw that person, not an obstacle (robot_obstacle_clearance)."""
_RELATIVE = ("closing_speed", "human_approach_speed", "human_bearing", "lateral_offset", "forward_offset",
             "time_to_collision")


@dataclass(frozen=True)
class VariableConfig:
    rate_hz: float = 10.0
    variables: tuple[str, ...] = DEFAULT_VARIABLES
    person: str = "nearest"
    """``nearest`` (to the robot, re-chosen at every grid time) or a track id (as a string)."""
    max_input_age_s: float = 0.5
    time_jump_reset_s: float = 1.0
    tracker_gate_m: float = 1.0
    track_timeout_s: float = 1.0
    image_size: tuple[int, int] = (64, 48)
    max_forward_jump_s: float = 10.0
    """A stamp this far ahead of every input so far is dropped, until confirmed by more (then: start over)."""
    max_gap_fill_s: float = 2.0
    """A silence of every input longer than this is not filled with frames: the grid restarts after it."""
    max_people: int = 50
    """People used per message: the nearest to the robot (the tracker is quadratic in their number)."""

    def __post_init__(self) -> None:
        unknown = [v for v in self.variables if v not in ALL_VARIABLES]
        if unknown:
            raise ValueError(f"unknown variable(s) {unknown}; known: {list(ALL_VARIABLES)}")
        if not self.variables:
            raise ValueError("variables: at least one variable must be configured")
        if len(set(self.variables)) != len(self.variables):
            raise ValueError(f"variables: each variable once, got {list(self.variables)}")
        if not 0.1 <= self.rate_hz <= 1000.0:
            raise ValueError(f"rate_hz must be in [0.1, 1000], got {self.rate_hz}")
        if not self.max_input_age_s > 0:
            raise ValueError(f"max_input_age_s must be > 0, got {self.max_input_age_s}")
        if self.person != "nearest" and not self.person.strip().lstrip("-").isdigit():
            raise ValueError(f"person must be 'nearest' or an integer track id, got {self.person!r}")
        if not (self.tracker_gate_m > 0 and self.track_timeout_s > 0):
            raise ValueError(f"tracker_gate_m and track_timeout_s must be > 0, got {self.tracker_gate_m}, "
                             f"{self.track_timeout_s}")
        if not self.max_gap_fill_s > 0:
            raise ValueError(f"max_gap_fill_s must be > 0, got {self.max_gap_fill_s}")
        if self.max_people < 1:
            raise ValueError(f"max_people must be >= 1, got {self.max_people}")
        self.time_rules()  # validates the jump limits

    def time_rules(self) -> TimeRules:
        return TimeRules(back_jump_reset_s=self.time_jump_reset_s, max_forward_jump_s=self.max_forward_jump_s)

    def streams(self) -> tuple[str, ...]:
        needed = {s for v in self.variables for s in _STREAMS_OF[v]}
        return tuple(sorted(needed))


@dataclass
class VariableSample:
    stamp: float
    names: list[str]
    values: list[float]
    subject_id: str = ""
    subject_xy: tuple[float, float] | None = None
    """Position of the subject at ``stamp`` (None without one), so consumers need not choose a person again."""


class _Stream:
    """Stamped samples of one input, bounded to a few seconds, interpolated at grid times."""

    def __init__(self, horizon_s: float) -> None:
        self.horizon_s = horizon_s
        self.stamps: deque[float] = deque()
        self.values: deque[np.ndarray] = deque()

    def newest(self) -> float | None:
        return self.stamps[-1] if self.stamps else None

    def push(self, stamp: float, value: np.ndarray) -> None:
        self.stamps.append(stamp)
        self.values.append(value)
        while self.stamps and self.stamps[0] < stamp - self.horizon_s:
            self.stamps.popleft()
            self.values.popleft()

    def at(self, t: float, max_age: float, angle_index: int | None = None) -> np.ndarray | None:
        if not self.stamps or t < self.stamps[0] - 1e-9:
            return None
        if t >= self.stamps[-1]:
            return self.values[-1] if t - self.stamps[-1] <= max_age else None
        stamps = self.stamps
        k = int(np.searchsorted(np.fromiter(stamps, float, len(stamps)), t, side="right"))
        t0, t1 = stamps[k - 1], stamps[k]
        v0, v1 = self.values[k - 1], self.values[k]
        if t1 - t0 > 2 * max_age:  # a gap: hold the older sample only briefly
            return v0 if t - t0 <= max_age else None
        w = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
        out = v0 + w * (v1 - v0)
        if angle_index is not None:
            out = out.copy()
            out[angle_index] = v0[angle_index] + w * wrap_angle(v1[angle_index] - v0[angle_index])
        return out

    def clear(self) -> None:
        self.stamps.clear()
        self.values.clear()


class VariableExtractor:
    """Turns stamped inputs into :class:`VariableSample` frames on the grid (see module docstring).

    Inputs go through ``add_*``; ``poll()`` returns the frames completed since the last call. Every ``add_*``
    returns ``None`` if the input was used, else the reason it was dropped (counted in :attr:`dropped`).
    """

    def __init__(self, config: VariableConfig) -> None:
        self.config = config
        self.period = 1.0 / config.rate_hz
        horizon = max(5.0, 4 * config.max_input_age_s)
        self._streams: dict[str, _Stream] = {name: _Stream(horizon) for name in _STREAMS_OF_ALL}
        self._tracker = NearestNeighbourTracker(gate_m=config.tracker_gate_m, timeout_s=config.track_timeout_s)
        self._track_streams: dict[int, _Stream] = {}
        self._grid_start = math.inf
        """Time of the first grid frame since the grid (re)started: no speed or turn across a start or a gap."""
        self._previous_image: np.ndarray | None = None
        # Valid beams of the recent scans (robot_obstacle_clearance only); bounded by count and by age.
        self._scans: deque[tuple[float, np.ndarray, np.ndarray, float]] = deque(maxlen=256)
        self._seen: set[str] = set()
        self._first_input = math.inf
        self._next_k: int | None = None
        self._newest_input = -math.inf
        self._time_rules = config.time_rules()
        self._forward_guard = ForwardJumpGuard(self._time_rules)
        self._gaps: deque[tuple[float, float]] = deque(maxlen=1000)
        """Silences of every input ahead of the grid: (last held time, first new stamp)."""
        self.dropped: Counter = Counter()
        self.reset_reasons: Counter = Counter()
        self.frames_emitted = 0
        self.frames_skipped = 0
        """Grid times left out after a gap longer than ``max_gap_fill_s`` (never synthesised)."""
        self.missing_run: dict[str, int] = dict.fromkeys(config.variables, 0)
        """Per variable: frames in a row, up to the newest, in which it was NaN (names what blocks a window)."""
        self.missing_total: Counter = Counter()

    @property
    def resets(self) -> int:
        return sum(self.reset_reasons.values())

    # ---- inputs -------------------------------------------------------------------------------------------
    def add_odometry(self, stamp: float, x: float, y: float, yaw: float, v: float, w: float) -> str | None:
        return self._push("odom", stamp, (x, y, yaw, v, w))

    def add_people(self, stamp: float, positions_xy: np.ndarray) -> str | None:
        xy = np.asarray(positions_xy, dtype=np.float64).reshape(-1, 2)
        problem = self._check(stamp, xy, "people")
        if problem:
            return problem
        if len(xy) > self.config.max_people:
            xy = self._nearest_people(stamp, xy)
        self._streams["people"].push(stamp, np.zeros(1))
        for track_id, position in self._tracker.update(stamp, xy).items():
            stream = self._track_streams.setdefault(track_id, _Stream(self._streams["people"].horizon_s))
            stream.push(stamp, position)
        for gone in [t for t in self._track_streams if not self._tracker.is_alive(t, stamp)]:
            del self._track_streams[gone]
        return None

    def add_scan(
        self, stamp: float, ranges: Sequence[float] | np.ndarray, range_min: float, range_max: float,
        angle_min: float = -math.pi, angle_increment: float | None = None,
    ) -> str | None:
        """A laser scan in the robot frame (beam i at ``angle_min + i * angle_increment``; default: a full circle
        from -pi). Only the smallest valid range is kept, and, for ``robot_obstacle_clearance``, the valid beams."""
        r = np.asarray(ranges, dtype=np.float64)
        ok = np.isfinite(r) & (r >= range_min) & (r <= range_max)
        if not ok.any():
            if "robot_obstacle_clearance" in self.config.variables and math.isfinite(range_max) and (
                    not self._scans or stamp > self._scans[-1][0]):
                # No return anywhere: no obstacle within range_max. In an open space (no walls) the clearance is
                # then range_max rather than NaN, which would make every frame incomplete and starve discovery.
                self._scans.append((stamp, r[:0], r[:0], float(range_max)))
            return self._count("scan_without_valid_range")
        verdict = self._push("scan", stamp, (float(r[ok].min()),))
        if verdict is None and "robot_obstacle_clearance" in self.config.variables:
            if angle_increment is None:
                angle_increment = 2.0 * math.pi / r.size
            angles = angle_min + angle_increment * np.arange(r.size)
            self._scans.append((stamp, angles[ok], r[ok], float(range_max)))
            while len(self._scans) > 2 and self._scans[1][0] < stamp - 2.0 * self.config.max_input_age_s - 1.0:
                self._scans.popleft()
        return verdict

    def add_goal(self, stamp: float, x: float, y: float) -> str | None:
        return self._push("goal", stamp, (x, y))

    def add_image(self, stamp: float, gray: np.ndarray) -> str | None:
        import cv2

        image = np.asarray(gray)
        if image.ndim != 2 or image.size == 0:
            return self._count("image_not_2d")
        scale = 65535.0 if image.dtype == np.uint16 else 255.0
        small = np.asarray(
            cv2.resize(image.astype(np.float32), self.config.image_size, interpolation=cv2.INTER_AREA), np.float32
        ) / np.float32(scale)
        previous, self._previous_image = self._previous_image, small
        if previous is None or previous.shape != small.shape:
            return None
        return self._push("image", stamp, (float(np.mean(np.abs(small - previous))),))

    def add_imu(self, stamp: float, yaw_rate: float) -> str | None:
        return self._push("imu", stamp, (yaw_rate,))

    # ---- output -------------------------------------------------------------------------------------------
    def poll(self) -> list[VariableSample]:
        """Frames for every grid time that is complete (all needed streams reached it, or it timed out)."""
        # A goal is an event (published once, held until replaced), not a sampled signal: it does not gate the grid.
        needed = [self._streams[s] for s in self.config.streams() if s not in _HELD_STREAMS]
        if self._next_k is None:
            firsts = [s.stamps[0] for s in needed if s.stamps]
            if not firsts:
                return []
            start = max(firsts)
            if len(firsts) < len(needed) and self._newest_input < start + self.config.max_input_age_s:
                return []  # some stream has not spoken yet: give it max_input_age_s before starting without it
            self._next_k = math.ceil(start / self.period - 1e-9)
            self._grid_start = self._next_k * self.period
        frames: list[VariableSample] = []
        while True:
            self._skip_gap()
            t = self._next_k * self.period
            reached = all((newest := s.newest()) is not None and newest >= t for s in needed)
            if not reached and self._newest_input < t + self.config.max_input_age_s:
                break
            frames.append(self._frame(t))
            self._next_k += 1
        self.frames_emitted += len(frames)
        for frame in frames:
            self._note_missing(frame)
        return frames

    def counters(self) -> dict[str, int]:
        out = {"frames": self.frames_emitted, "resets": self.resets, "tracks": len(self._track_streams),
               "frames_skipped_gap": self.frames_skipped}
        out.update({f"reset_{k}": v for k, v in self.reset_reasons.items()})
        out.update({f"dropped_{k}": v for k, v in self.dropped.items()})
        out.update({f"nan_{k}": v for k, v in self.missing_total.items()})
        if self._next_k is not None:  # the grid has started: what is missing now was never published
            out.update({f"left_out_never_published_{name}": 1 for name in self.left_out()})
        return out

    def blocking_variables(self, min_frames: int = 1) -> list[str]:
        """Variables NaN in at least the last ``min_frames`` frames, longest first (what a window waits for)."""
        runs = [(run, name) for name, run in self.missing_run.items() if run >= min_frames]
        return [name for _, name in sorted(runs, key=lambda item: -item[0])]

    def inputs_of(self, variable: str) -> tuple[str, ...]:
        """The input streams a variable reads (odom, people, scan, goal, image, imu)."""
        return _STREAMS_OF[variable]

    # ---- internals ----------------------------------------------------------------------------------------
    def _skip_gap(self) -> None:
        """Never fill a silence of every input longer than ``max_gap_fill_s``: the grid restarts after it."""
        assert self._next_k is not None
        while self._gaps:
            start, end = self._gaps[0]
            if self._next_k * self.period < start:
                return  # the gap is still ahead of the grid
            self._gaps.popleft()
            restart_k = math.ceil(end / self.period - 1e-9)
            if restart_k > self._next_k:
                self.frames_skipped += restart_k - self._next_k
                self.reset_reasons["gap_too_long"] += 1
                self._next_k = restart_k
                self._grid_start = restart_k * self.period  # a speed or turn across the gap would be meaningless

    def _note_missing(self, frame: VariableSample) -> None:
        for name, value in zip(frame.names, frame.values):
            if math.isfinite(value):
                self.missing_run[name] = 0
            else:
                self.missing_run[name] = self.missing_run.get(name, 0) + 1
                self.missing_total[name] += 1

    def _nearest_people(self, stamp: float, xy: np.ndarray) -> np.ndarray:
        """The ``max_people`` rows nearest the robot (at its last known position); the rest is counted."""
        odom = self._streams["odom"].at(stamp, math.inf)
        reference = odom[:2] if odom is not None else np.zeros(2)
        keep = self.config.max_people
        nearest = np.argpartition(np.hypot(*(xy - reference).T), keep - 1)[:keep]
        self.dropped["people_beyond_max_people"] += len(xy) - keep
        return xy[np.sort(nearest)]

    def _frame(self, t: float) -> VariableSample:
        age = self.config.max_input_age_s
        odom = self._streams["odom"].at(t, age, angle_index=2)
        goal = self._streams["goal"].at(t, math.inf)
        subject, person_xy = self._select_person(t, odom)
        person_v = heading_rate = None
        if subject is not None and (person_v := self._track_velocity(subject, t)) is not None:
            heading = _heading(person_v)
            last_heading = _heading(self._track_velocity(subject, t - self.period))
            heading_rate = 0.0 if heading is None or last_heading is None else (
                wrap_angle(heading - last_heading) / self.period)
        relative = None
        if person_xy is not None and person_v is not None and odom is not None:
            relative = relative_kinematics(person_xy, person_v, odom[:2], float(odom[2]), float(odom[3]))
        names = self.published_variables()
        values: list[float] = []
        for name in names:
            if name in _RELATIVE:
                values.append(math.nan if relative is None else relative[name])
            elif name == "robot_obstacle_clearance":
                values.append(self._clearance(t, odom))
            else:
                values.append(self._value(name, t, odom, goal, person_xy, person_v, heading_rate))
        if subject is None or person_xy is None:
            return VariableSample(t, names, values)
        return VariableSample(t, names, values, str(subject), (float(person_xy[0]), float(person_xy[1])))

    def _track_velocity(self, track: int, t: float) -> np.ndarray | None:
        """A person's velocity over the grid step ending at ``t``, from their own track. Not from the frame in which
        they were last the subject: a person who is the nearest again after someone else was would get the whole
        way since then as one step (measured: 11.1 m/s for a person walking at 0.3 m/s), and a person newly the
        nearest would have no speed (a NaN frame at every change of the nearest person)."""
        stream = self._track_streams.get(track)
        if stream is None or t - self.period < self._grid_start - 1e-9:
            return None
        age = self.config.max_input_age_s
        now, before = stream.at(t, age), stream.at(t - self.period, age)
        return None if now is None or before is None else (now - before) / self.period

    def published_variables(self) -> list[str]:
        """The configured variables whose input streams have all been published (since the last reset).

        A variable whose topic never appeared (no /scan on this robot, no goal given) is left out of the frames
        rather than sent as NaN forever, which would make every frame useless to the discovery; it joins the
        frames from the first message of its stream on. :meth:`left_out` names the others.
        """
        missing = set(self.left_out())
        return [v for v in self.config.variables if v not in missing]

    def left_out(self) -> list[str]:
        """Configured variables not in the frames because an input stream of theirs was never published.

        Decided once the inputs have run ``2 * max_input_age_s`` past the first one: until then a stream that
        is merely slower to start gives NaN, so the start of a run does not change the frames' variables.
        """
        if self._newest_input - self._first_input <= 2.0 * self.config.max_input_age_s:
            return []
        return [v for v in self.config.variables if not all(s in self._seen for s in _STREAMS_OF[v])]

    def _value(self, name, t, odom, goal, person_xy, person_v, heading_rate) -> float:
        nan = float("nan")
        if name == "human_speed":
            return nan if person_v is None else float(np.hypot(*person_v))
        if name == "human_heading_rate":
            return nan if heading_rate is None else float(heading_rate)
        if name == "human_robot_distance":
            return nan if person_xy is None or odom is None else float(np.hypot(*(person_xy - odom[:2])))
        if name == "human_goal_distance":
            return nan if person_xy is None or goal is None else float(np.hypot(*(person_xy - goal)))
        if name == "robot_linear_speed":
            return nan if odom is None else float(odom[3])
        if name == "robot_angular_speed":
            return nan if odom is None else float(odom[4])
        if name == "collision_risk":
            if person_xy is None or person_v is None or odom is None:
                return nan
            return collision_risk(
                person_xy, person_v, odom[:2], odom[3] * np.array([math.cos(odom[2]), math.sin(odom[2])])
            )
        stream = {"min_scan_range": "scan", "image_motion": "image", "imu_yaw_rate": "imu"}[name]
        sample = self._streams[stream].at(t, self.config.max_input_age_s)
        return nan if sample is None else float(sample[0])

    def _clearance(self, t: float, odom: np.ndarray | None) -> float:
        """robot_obstacle_clearance from the newest scan at or before ``t`` (held at most max_input_age_s)."""
        scan = next((item for item in reversed(self._scans) if item[0] <= t + 1e-9), None)
        if scan is None or odom is None or t - scan[0] > self.config.max_input_age_s:
            return math.nan
        people = [p for p in (s.at(t, self.config.max_input_age_s) for s in self._track_streams.values())
                  if p is not None]
        return obstacle_clearance(scan[2], scan[1], odom[:3], np.array(people).reshape(-1, 2), range_max=scan[3])

    def _select_person(self, t: float, odom: np.ndarray | None) -> tuple[int | None, np.ndarray | None]:
        age = self.config.max_input_age_s
        looked_up = {tid: s.at(t, age) for tid, s in self._track_streams.items()}
        positions = {tid: p for tid, p in looked_up.items() if p is not None}
        if not positions:
            return None, None
        if self.config.person != "nearest":
            wanted = int(self.config.person)  # validated by VariableConfig
            return (wanted, positions[wanted]) if wanted in positions else (None, None)
        reference = odom[:2] if odom is not None else np.zeros(2)
        subject = min(positions, key=lambda tid: float(np.hypot(*(positions[tid] - reference))))
        return subject, positions[subject]

    def _push(self, stream: str, stamp: float, values: tuple[float, ...]) -> str | None:
        row = np.asarray(values, dtype=np.float64)
        problem = self._check(stamp, row, stream)
        if problem:
            return problem
        self._streams[stream].push(stamp, row)
        return None

    def _check(self, stamp: float, values: np.ndarray, stream: str) -> str | None:
        """Order is checked per stream (streams have their own latency); a jump ahead against all inputs."""
        if not math.isfinite(stamp):
            return self._count(f"{stream}_non_finite_stamp")
        if not np.all(np.isfinite(values)):
            return self._count(f"{stream}_non_finite_value")
        verdict = judge_step_back(self._streams[stream].newest(), stamp, self._time_rules)
        if verdict.action == DROP:
            return self._count(f"{stream}_{verdict.reason}")
        if verdict.action != RESET:
            newest = self._newest_input if math.isfinite(self._newest_input) else None
            verdict = self._forward_guard.judge(newest, stamp)
            if verdict.action == DROP:
                return self._count(f"{stream}_{verdict.reason}")
        if verdict.action == RESET:
            self._reset(verdict.reason)
        elif stamp - self._newest_input > self.config.max_gap_fill_s:  # every input was silent: a gap
            self._gaps.append((self._newest_input + self.config.max_input_age_s, stamp))
        self._newest_input = max(self._newest_input, stamp)
        self._first_input = min(self._first_input, stamp)
        self._seen.add(stream)
        return None

    def reset(self) -> None:
        """Start over: forget every input and track (a ``~/reset`` service request)."""
        self._reset("requested")

    def _reset(self, reason: str) -> None:
        """Time jumped (a looping bag, a restarted simulator, a clock that jumped ahead), or a reset was requested:
        start over on the new time axis."""
        for stream in self._streams.values():
            stream.clear()
        self._track_streams.clear()
        self._grid_start = math.inf
        self._previous_image = None
        self._scans.clear()
        self._seen.clear()
        self._first_input = math.inf
        self._tracker.reset()
        self._next_k = None
        self._newest_input = -math.inf
        self._gaps.clear()
        self._forward_guard.clear()
        self.reset_reasons[reason] += 1

    def _count(self, reason: str) -> str:
        self.dropped[reason] += 1
        return reason


_STREAMS_OF_ALL = ("people", "odom", "goal", "scan", "image", "imu")


def _heading(velocity: np.ndarray | None) -> float | None:
    """Direction of motion [rad], None when unknown or below _HEADING_MIN_SPEED (then it is noise)."""
    if velocity is None or float(np.hypot(*velocity)) < _HEADING_MIN_SPEED:
        return None
    return math.atan2(velocity[1], velocity[0])


def collision_risk(person_xy: np.ndarray, person_v: np.ndarray, robot_xy: np.ndarray, robot_v: np.ndarray) -> float:
    """Inverse time to collision [1/s]: how fast the gap closes relative to its size (0 when it opens)."""
    relative = np.asarray(person_xy, float) - np.asarray(robot_xy, float)
    distance = float(np.hypot(*relative))
    if distance <= 0.0:
        return 0.0  # coincident positions: no direction to close along
    closing = -float(np.dot(relative, np.asarray(person_v, float) - np.asarray(robot_v, float))) / distance
    return max(0.0, closing) / max(distance, _RISK_MIN_DISTANCE)


def relative_kinematics(person_xy: np.ndarray, person_v: np.ndarray, robot_xy: np.ndarray, robot_yaw: float,
                        robot_speed: float) -> dict[str, float]:
    """The person relative to a unicycle robot, in the robot frame (REP 103: x forward, y left).

    closing_speed = -d|r|/dt for r = person - robot (positive while approaching); human_approach_speed = the
    person's velocity along -r/|r| (the robot's motion left out, so it is a quantity of the person alone);
    time_to_collision = |r| / closing_speed while closing (capped at TTC_MAX_S, which it also is while not closing).
    """
    rel = np.asarray(person_xy, float) - np.asarray(robot_xy, float)
    c, s = math.cos(robot_yaw), math.sin(robot_yaw)
    forward = c * rel[0] + s * rel[1]
    lateral = -s * rel[0] + c * rel[1]
    distance = math.hypot(forward, lateral)
    relative_v = np.asarray(person_v, float) - robot_speed * np.array([c, s])
    closing = -float(np.dot(rel, relative_v)) / distance if distance > 0.0 else 0.0
    approach = -float(np.dot(rel, np.asarray(person_v, float))) / distance if distance > 0.0 else 0.0
    ttc = min(TTC_MAX_S, distance / closing) if closing > 0.0 else TTC_MAX_S
    return {"closing_speed": closing, "human_approach_speed": approach, "human_bearing": math.atan2(lateral, forward),
            "lateral_offset": lateral, "forward_offset": forward, "time_to_collision": ttc}


def obstacle_clearance(ranges: np.ndarray, angles: np.ndarray, robot_pose: np.ndarray, people_xy: np.ndarray,
                       exclusion_m: float = PERSON_BEAM_RADIUS_M, range_max: float = math.nan) -> float:
    """Smallest finite range among beams that do not end within ``exclusion_m`` of a person.

    When no such beam exists the scan saw no obstacle within its range: the result is ``range_max`` (NaN when
    not given). Why not NaN: in an open space every frame would then miss the variable and the discovery window,
    which takes complete frames only, would never fill. A constant clearance is left out by the discovery instead.
    ``angles`` are in the robot frame, ``robot_pose`` is (x, y, yaw) and ``people_xy`` (P, 2) in the world frame.
    """
    r = np.asarray(ranges, float)
    keep = np.isfinite(r)
    if people_xy.size and keep.any():
        heading = np.asarray(angles, float) + float(robot_pose[2])
        reach = np.where(keep, r, 0.0)
        ends = np.stack([robot_pose[0] + reach * np.cos(heading), robot_pose[1] + reach * np.sin(heading)], axis=1)
        gaps = np.hypot(ends[:, None, 0] - people_xy[None, :, 0], ends[:, None, 1] - people_xy[None, :, 1])
        keep &= ~np.any(gaps < exclusion_m, axis=1)
    if keep.any():
        return float(r[keep].min())
    return float(range_max) if math.isfinite(range_max) else math.nan  # a scan claiming range_max inf: unknown
