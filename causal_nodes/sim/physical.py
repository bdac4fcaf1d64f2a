"""The physical human-robot simulator: a social-force crowd, a differential-drive robot and its sensors.

One call of :meth:`PhysicalSimulator.step` advances the world by one period ``dt`` of the variable grid (10 Hz by
default), so the lag of every mechanism on that grid can be read off the update order (documented in
``sim/README.md``):

1. the robot controller and the social forces read the state of step ``t - 1`` only;
2. velocities of step ``t`` are set (interventions on speeds replace them here);
3. positions of step ``t`` follow from the new velocities (semi-implicit Euler, so the finite difference of
   positions on the grid *is* the velocity);
4. the sensors (scan, camera, IMU) observe the state of step ``t``.

Randomness comes from independent streams (people, scan, IMU) that draw the same amount every step whatever the
state is, so runs from one seed with and without an intervention differ only where the intervention's effects
reach.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from causal_nodes.geometry import wrap_angle

from .config import PhysicalConfig
from .forking import Forkable
from .geometry import closest_points_on_segments, fan_circle_distances, ray_segment_distances
from .interventions import PHYSICAL_INTERVENABLE, Intervention, InterventionSchedule

_HUMAN_VARIABLES = ("human_speed", "human_goal")


@dataclass
class ImuReading:
    """Gyro and accelerometer of the robot in its base frame (REP 103: x forward, z up)."""

    yaw_rate: float
    linear_acceleration_x: float
    linear_acceleration_y: float


class PhysicalSimulator(Forkable):
    """Deterministic (per seed) simulator of people and one robot on a fixed time grid."""

    _noise_streams = ("_people_rng", "_scan_rng", "_imu_rng", "_robot_rng")

    def __init__(self, config: PhysicalConfig, seed: int = 0) -> None:
        self.config = config
        self.dt = float(config.dt)
        # Children 0-3 are unchanged by spawning a fifth: adding the robot stream kept every earlier seed's people,
        # scan and IMU noise as they were.
        init_seq, people_seq, scan_seq, imu_seq, robot_seq = np.random.SeedSequence(int(seed)).spawn(5)
        self._people_rng = np.random.default_rng(people_seq)
        self._scan_rng = np.random.default_rng(scan_seq)
        self._imu_rng = np.random.default_rng(imu_seq)
        self._robot_rng = np.random.default_rng(robot_seq)
        self._build_people(np.random.default_rng(init_seq))
        robot = config.robot
        self.robot_pose = np.array(robot.start, dtype=float)  # x, y, yaw
        self.prev_robot_pose = self.robot_pose.copy()
        self.robot_speed = 0.0
        self.robot_yaw_rate = 0.0
        self._robot_prev_speed = 0.0
        self._robot_goals = np.array(robot.goals, dtype=float)
        self._robot_goal_index = 0
        self._dither_draw = np.zeros(2)
        self.command_dither = (0.0, 0.0)
        """The excitation added to the controller's command at this step (linear m/s, angular rad/s): known
        interventions on the robot, logged here and published by the sim node."""
        self.step_index = 0
        self.interventions = InterventionSchedule()
        self._command: tuple[float, float, int] | None = None
        if not 0 <= config.subject < self.person_count:
            raise ValueError(f"subject must index one of the {self.person_count} people, got {config.subject}")
        self.subject = config.subject
        self.scan_ranges: np.ndarray | None = None
        self.image: np.ndarray | None = None
        self.prev_image: np.ndarray | None = None
        self.imu = ImuReading(0.0, 0.0, 0.0)
        self._scan_noise = np.zeros(config.scan.beams)
        self._imu_noise = np.zeros(3)
        self._observe()

    # ------------------------------------------------------------------ construction
    def _build_people(self, rng: np.random.Generator) -> None:
        starts: list[tuple[float, float]] = []
        goals: list[list[tuple[float, float]]] = []
        speeds: list[float] = []
        radii: list[float] = []
        aware: list[bool] = []
        for person in self.config.people:
            starts.append(tuple(person.start))
            goals.append([tuple(g) for g in person.goals])
            speeds.append(person.desired_speed)
            radii.append(person.radius)
            aware.append(person.robot_aware)
        crowd = self.config.crowd
        if crowd is not None:
            x0, y0, x1, y1 = crowd.region
            for _ in range(crowd.count):
                points = rng.uniform((x0, y0), (x1, y1), size=(crowd.goals_per_person + 1, 2))
                starts.append(tuple(points[0]))
                goals.append([tuple(p) for p in points[1:]])
                speeds.append(float(rng.uniform(*crowd.desired_speed)))
                radii.append(crowd.radius)
                aware.append(crowd.robot_aware)
        n = len(starts)
        self.person_count = n
        self.positions = np.array(starts, dtype=float).reshape(n, 2)
        self.prev_positions = self.positions.copy()
        self.velocities = np.zeros((n, 2))
        self.prev_velocities = np.zeros((n, 2))
        max_goals = max((len(g) for g in goals), default=1)
        self._goals = np.zeros((n, max_goals, 2))
        for i, person_goals in enumerate(goals):
            padded = person_goals + [person_goals[-1]] * (max_goals - len(person_goals))
            self._goals[i] = padded
        self._goal_counts = np.array([len(g) for g in goals], dtype=int)
        self._goal_index = np.zeros(n, dtype=int)
        self.desired_speeds = np.array(speeds, dtype=float)
        self.radii = np.array(radii, dtype=float)
        self.robot_aware = np.array(aware, dtype=bool)
        sf = self.config.social_force
        self._radius_sums = self.radii[:, None] + self.radii[None, :]
        self._max_speeds = np.minimum(sf.max_speed, np.maximum(sf.max_speed_factor * self.desired_speeds, 0.5))

    # ------------------------------------------------------------------ public API
    @property
    def time(self) -> float:
        """Simulated time [s] of the current state."""
        return self.step_index * self.dt

    def apply_intervention(self, intervention: Intervention) -> None:
        """Schedule ``do(variable = value)`` for ``start <= t < end`` (see :mod:`causal_nodes.sim.interventions`)."""
        if intervention.variable not in PHYSICAL_INTERVENABLE:
            raise ValueError(f"cannot intervene on {intervention.variable!r} in a physical scenario; "
                             f"choose one of {sorted(PHYSICAL_INTERVENABLE)}")
        if intervention.variable in _HUMAN_VARIABLES:
            person = self.subject if intervention.person is None else intervention.person
            if person >= self.person_count:
                raise ValueError(f"Intervention.person {person} is out of range (there are {self.person_count} people)")
            intervention = Intervention(intervention.variable, intervention.value, intervention.start,
                                        intervention.end, person)
        self.interventions.add(intervention)

    def set_command(self, linear: float, angular: float) -> None:
        """External velocity command (a /cmd_vel Twist): it replaces the controller for ``command_timeout`` s."""
        if not (math.isfinite(linear) and math.isfinite(angular)):
            raise ValueError(f"command must be finite, got linear={linear}, angular={angular}")
        hold_steps = max(1, int(round(self.config.robot.command_timeout / self.dt)))
        self._command = (float(linear), float(angular), self.step_index + hold_steps)

    def person_goals(self) -> np.ndarray:
        """Each person's current goal ``(N, 2)``, with goal interventions applied."""
        goals = self._goals[np.arange(self.person_count), self._goal_index].copy()
        for iv in self.interventions.active("human_goal", self.step_index, self.dt):
            goals[iv.person] = iv.value
        return goals

    @property
    def robot_goal(self) -> np.ndarray:
        return self._robot_goals[self._robot_goal_index]

    def step(self) -> None:
        """Advance the world by one grid period."""
        k = self.step_index + 1
        goals = self._goals_at(k)
        linear_cmd, angular_cmd = self._robot_command(k)
        person_accel = self._social_forces(goals)  # reads people and robot at t-1
        self.prev_robot_pose, self.prev_positions = self.robot_pose, self.positions
        self._set_robot_velocity(k, linear_cmd, angular_cmd)
        self._set_people_velocity(k, person_accel, goals)
        self.step_index = k
        self._integrate()
        self._observe()

    def reintegrate(self, scan: bool = True) -> None:
        """Recompute this step's positions from the previous ones and the (edited) velocities, then the sensors.

        For state edits between steps (the interventional reference): an edited velocity then moves the robot or
        the person during this step exactly as if the mechanism had produced it. Noise draws are reused.
        """
        self._integrate()
        self.refresh_observations(scan)

    def refresh_observations(self, scan: bool = True) -> None:
        """The sensors of the current (edited) state with this step's noise draws, without drawing new ones
        (``scan=False`` skips the ray casting, the costly part, when no scan reading is needed)."""
        self._sense(new_frame=False, scan=scan)

    # ------------------------------------------------------------------ robot
    def _robot_command(self, k: int) -> tuple[float, float]:
        draws = self._robot_rng.random(2)  # drawn every step, whatever the state (see the module docstring)
        if self._command is not None and k <= self._command[2]:
            self.command_dither = (0.0, 0.0)
            return self._command[0], self._command[1]
        linear, angular, factor = self._controller()
        self._update_dither(k, draws, factor)
        return linear + self.command_dither[0], angular + self.command_dither[1]

    def _update_dither(self, k: int, draws: np.ndarray, safety: float) -> None:
        """Safe command excitation: a small random offset, redrawn every ``excitation_hold_s`` and bounded.

        The linear part is scaled by the speed policy's factor, so it is zero where the policy stops the robot
        for a person and can never push the robot towards someone it should stop for.
        """
        ctrl = self.config.robot.controller
        if ctrl.excitation_linear <= 0.0 and ctrl.excitation_angular <= 0.0:
            return
        hold = max(1, int(round(ctrl.excitation_hold_s / self.dt)))
        if k % hold == 1 or hold == 1:
            self._dither_draw = (2.0 * draws - 1.0) * (ctrl.excitation_linear, ctrl.excitation_angular)
        linear, angular = self._dither_draw
        self.command_dither = (float(linear) * safety, float(angular))

    def _controller(self) -> tuple[float, float, float]:
        """Goal seeking with the scenario's speed and heading policies, on the state of step t-1.

        Returns the linear and angular command and the speed policy's factor (0 = stop for a person, 1 = free).
        """
        ctrl = self.config.robot.controller
        x, y, yaw = self.robot_pose
        goal = self._robot_goals[self._robot_goal_index]
        if math.hypot(goal[0] - x, goal[1] - y) < ctrl.goal_tolerance and len(self._robot_goals) > 1:
            self._robot_goal_index = (self._robot_goal_index + 1) % len(self._robot_goals)
            goal = self._robot_goals[self._robot_goal_index]
        to_goal = math.hypot(goal[0] - x, goal[1] - y)
        heading_error = wrap_angle(math.atan2(goal[1] - y, goal[0] - x) - yaw)
        angular = ctrl.heading_gain * heading_error
        nearest, bearing = self._nearest_person()
        if ctrl.heading_policy == "avoid" and nearest < ctrl.avoid_distance and abs(bearing) < math.pi / 2:
            turn_away = -1.0 if bearing >= 0.0 else 1.0
            angular += turn_away * ctrl.avoid_gain * (ctrl.avoid_distance - nearest) / ctrl.avoid_distance
        factor = 1.0
        if ctrl.speed_policy == "slow_near_people":
            factor = min(1.0, max(0.0, (nearest - ctrl.stop_distance) / (ctrl.slow_distance - ctrl.stop_distance)))
        linear = (ctrl.preferred_speed * max(0.0, math.cos(heading_error))
                  * min(1.0, to_goal / ctrl.arrival_radius) * factor)
        return linear, angular, factor

    def _nearest_person(self) -> tuple[float, float]:
        """Centre distance to the nearest person and its bearing in the robot frame (inf, 0 with nobody)."""
        if self.person_count == 0:
            return math.inf, 0.0
        rel = self.positions - self.robot_pose[:2]
        dist = np.hypot(rel[:, 0], rel[:, 1])
        i = int(np.argmin(dist))
        bearing = wrap_angle(math.atan2(rel[i, 1], rel[i, 0]) - float(self.robot_pose[2]))
        return float(dist[i]), bearing

    def _set_robot_velocity(self, k: int, linear_cmd: float, angular_cmd: float) -> None:
        """Speeds of step t: actuator noise, acceleration limits from the speeds of t-1, speed limits, do()."""
        robot = self.config.robot
        dt = self.dt
        noise = self._robot_rng.standard_normal(2)  # drawn every step, whatever the state
        self._robot_prev_speed = self.robot_speed
        # the drive tracks the command with an error (the noise), within its acceleration and speed limits
        linear_cmd += robot.linear_noise_std * float(noise[0])
        angular_cmd += robot.angular_noise_std * float(noise[1])
        v = self.robot_speed + _clamp(linear_cmd - self.robot_speed, robot.max_linear_accel * dt)
        v = min(max(v, robot.min_linear_speed), robot.max_linear_speed)
        w = self.robot_yaw_rate + _clamp(angular_cmd - self.robot_yaw_rate, robot.max_angular_accel * dt)
        w = _clamp(w, robot.max_angular_speed)
        forced_v = self.interventions.value("robot_linear_speed", k, dt)
        forced_w = self.interventions.value("robot_angular_speed", k, dt)
        self.robot_speed = float(forced_v) if forced_v is not None else v
        self.robot_yaw_rate = float(forced_w) if forced_w is not None else w

    def _integrate(self) -> None:
        """Poses of the current step from those of the step before and the current velocities."""
        k, dt = self.step_index, self.dt
        if k == 0:
            return
        forced_yaw = self.interventions.value("robot_heading", k, dt)
        previous = self.prev_robot_pose
        if forced_yaw is not None:
            yaw = wrap_angle(float(forced_yaw))
            self.robot_yaw_rate = 0.0
        else:
            yaw = wrap_angle(float(previous[2]) + self.robot_yaw_rate * dt)
        v = self.robot_speed
        self.robot_pose = np.array([previous[0] + v * math.cos(yaw) * dt, previous[1] + v * math.sin(yaw) * dt, yaw])
        self.positions = self.prev_positions + self.velocities * dt

    # ------------------------------------------------------------------ people
    def _goals_at(self, k: int) -> np.ndarray:
        """Current goals for step k: cycle to the next waypoint on arrival, then apply goal interventions."""
        n = self.person_count
        if n == 0:
            return np.zeros((0, 2))
        rows = np.arange(n)
        current = self._goals[rows, self._goal_index]
        reached = np.hypot(*(current - self.positions).T) < self.config.social_force.goal_tolerance
        advance = reached & (self._goal_counts > 1)
        self._goal_index = np.where(advance, (self._goal_index + 1) % self._goal_counts, self._goal_index)
        goals = self._goals[rows, self._goal_index].copy()
        for iv in self.interventions.active("human_goal", k, self.dt):
            goals[iv.person] = iv.value
        return goals

    def _social_forces(self, goals: np.ndarray) -> np.ndarray:
        """Acceleration of every person from the state of step t-1 (``(N, 2)``), noise included."""
        sf = self.config.social_force
        n = self.person_count
        noise = self._people_rng.standard_normal((n, 2)) * sf.noise_std  # drawn every step, whatever the state
        if n == 0:
            return noise
        pos, vel = self.positions, self.velocities
        to_goal = goals - pos
        goal_dist = np.hypot(to_goal[:, 0], to_goal[:, 1])
        direction = to_goal / np.maximum(goal_dist, 1e-9)[:, None]
        desired = self.desired_speeds * np.minimum(1.0, goal_dist / sf.arrival_radius)
        accel = (desired[:, None] * direction - vel) / sf.relaxation_time + noise

        lam = sf.anisotropy
        if n > 1:
            # Pairwise terms on (N, N) arrays of x and y separately: far less memory traffic than (N, N, 2).
            x, y = pos[:, 0], pos[:, 1]
            dx = x[:, None] - x[None, :]
            dy = y[:, None] - y[None, :]
            dist = np.sqrt(dx * dx + dy * dy)
            np.fill_diagonal(dist, np.inf)  # no self-force: exp(-inf) = 0 and 1/inf = 0 below
            inv = 1.0 / dist
            scale = np.exp((self._radius_sums - dist) / sf.person_range)
            scale *= inv
            # anisotropy: cos(phi) between the person's heading and the direction to the other person
            cos_phi = direction[:, 0:1] * dx
            cos_phi += direction[:, 1:2] * dy
            cos_phi *= -inv
            scale *= lam + (1.0 - lam) * 0.5 * (1.0 + cos_phi)
            scale *= sf.person_strength
            accel[:, 0] += np.einsum("ij,ij->i", scale, dx)
            accel[:, 1] += np.einsum("ij,ij->i", scale, dy)
        rel = pos - self.robot_pose[:2]
        rdist = np.hypot(rel[:, 0], rel[:, 1])
        raway = rel / np.maximum(rdist, 1e-9)[:, None]
        rmag = sf.robot_strength * np.exp((self.radii + self.config.robot.radius - rdist) / sf.robot_range)
        cos_phi = -np.sum(direction * raway, axis=1)
        rmag *= lam + (1.0 - lam) * 0.5 * (1.0 + cos_phi)
        accel += np.where(self.robot_aware, rmag, 0.0)[:, None] * raway
        walls = self.config.walls
        if walls.shape[0]:
            wdiff = pos[:, None, :] - closest_points_on_segments(pos, walls)
            wdist = np.hypot(wdiff[..., 0], wdiff[..., 1])
            waway = wdiff / np.maximum(wdist, 1e-9)[..., None]
            wmag = sf.wall_strength * np.exp((self.radii[:, None] - wdist) / sf.wall_range)
            accel += np.sum(wmag[..., None] * waway, axis=1)
        return accel

    def _set_people_velocity(self, k: int, accel: np.ndarray, goals: np.ndarray) -> None:
        vel = self.velocities + accel * self.dt
        speed = np.hypot(vel[:, 0], vel[:, 1])
        scale = np.where(speed > self._max_speeds, self._max_speeds / np.maximum(speed, 1e-12), 1.0)
        vel = vel * scale[:, None]
        for iv in self.interventions.active("human_speed", k, self.dt):
            i = iv.person
            norm = math.hypot(vel[i, 0], vel[i, 1])
            if norm > 1e-9:
                heading = vel[i] / norm
            else:  # standing still: move towards the goal (or along +x when already there)
                to_goal = goals[i] - self.positions[i]
                length = math.hypot(to_goal[0], to_goal[1])
                heading = to_goal / length if length > 1e-9 else np.array([1.0, 0.0])
            vel[i] = float(iv.value) * heading
        self.prev_velocities = self.velocities
        self.velocities = vel

    # ------------------------------------------------------------------ sensors
    def _observe(self) -> None:
        """Draw this step's sensor noise (always the same amount) and observe the state."""
        self._scan_noise = self._scan_rng.standard_normal(self.config.scan.beams) * self.config.scan.noise_std
        self._imu_noise = self._imu_rng.standard_normal(3)
        self._sense(new_frame=True)

    def _sense(self, new_frame: bool, scan: bool = True) -> None:
        if self.config.scan.enabled and scan:
            self.scan_ranges = self._cast_scan()
        if self.config.camera.enabled:
            if new_frame:
                self.prev_image = self.image
            self.image = self.render_camera()
        imu = self.config.imu
        noise = self._imu_noise
        self.imu = ImuReading(
            yaw_rate=self.robot_yaw_rate + imu.gyro_noise_std * float(noise[0]),
            linear_acceleration_x=(self.robot_speed - self._robot_prev_speed) / self.dt
            + imu.accel_noise_std * float(noise[1]),
            linear_acceleration_y=self.robot_speed * self.robot_yaw_rate + imu.accel_noise_std * float(noise[2]),
        )

    def scan_angles(self) -> np.ndarray:
        """Beam angles in the laser (= robot) frame, from angle_min to angle_max inclusive."""
        scan = self.config.scan
        return np.linspace(scan.angle_min, scan.angle_max, scan.beams)

    def _cast_scan(self) -> np.ndarray:
        scan = self.config.scan
        noise = self._scan_noise
        angles = self.scan_angles() + self.robot_pose[2]
        directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        origin = self.robot_pose[:2]
        increment = (scan.angle_max - scan.angle_min) / max(scan.beams - 1, 1)
        people = fan_circle_distances(origin, float(self.robot_pose[2]) + scan.angle_min, increment, scan.beams,
                                      self.positions, self.radii)
        true = np.minimum(ray_segment_distances(origin, directions, self.config.walls), people)
        ranges = np.maximum(true + noise, scan.range_min)
        return np.where(true <= scan.range_max, ranges, np.inf)

    def world_to_image(self, points: np.ndarray) -> np.ndarray:
        """Pixel coordinates (u, v) of world points in the robot-centred top-down view (heading up)."""
        cam = self.config.camera
        x, y, yaw = self.robot_pose
        rel = np.atleast_2d(points) - (x, y)
        c, s = math.cos(yaw), math.sin(yaw)
        forward = c * rel[:, 0] + s * rel[:, 1]
        left = -s * rel[:, 0] + c * rel[:, 1]
        return np.stack([cam.width / 2.0 - left * cam.pixels_per_meter,
                         cam.height / 2.0 - forward * cam.pixels_per_meter], axis=1)

    def render_camera(self) -> np.ndarray:
        """An rgb8 top-down image around the robot: grey floor, black walls, coloured people, white robot."""
        cam = self.config.camera
        image = np.full((cam.height, cam.width, 3), 128, dtype=np.uint8)
        shift = 4
        scale = float(1 << shift)
        self._draw_floor_grid(image, shift)
        walls = self.config.walls
        if walls.shape[0]:
            ends = np.round(self.world_to_image(walls.reshape(-1, 2)) * scale).astype(np.int64).reshape(-1, 4)
            for u1, v1, u2, v2 in ends:
                cv2.line(image, (int(u1), int(v1)), (int(u2), int(v2)), (0, 0, 0), 2, cv2.LINE_AA, shift)
        if self.person_count:
            centres = np.round(self.world_to_image(self.positions) * scale).astype(np.int64)
            radii = np.round(self.radii * cam.pixels_per_meter * scale).astype(np.int64)
            for i, ((u, v), r) in enumerate(zip(centres, radii)):
                colour = _PERSON_COLOURS[i % len(_PERSON_COLOURS)]
                cv2.circle(image, (int(u), int(v)), int(r), colour, -1, cv2.LINE_AA, shift)
        half = self.config.robot.radius * cam.pixels_per_meter
        cu, cv_ = cam.width / 2.0, cam.height / 2.0
        triangle = np.array(
            [[cu, cv_ - half], [cu - half * 0.8, cv_ + half * 0.8], [cu + half * 0.8, cv_ + half * 0.8]]
        )
        cv2.fillPoly(image, [np.round(triangle * scale).astype(np.int32)], (255, 255, 255), cv2.LINE_AA, shift)
        return image


    def _draw_floor_grid(self, image: np.ndarray, shift: int) -> None:
        """Light lines every metre of the world frame, so the robot's own motion shows in the image."""
        cam = self.config.camera
        reach = 0.5 * math.hypot(cam.width, cam.height) / cam.pixels_per_meter + 1.0
        x, y = float(self.robot_pose[0]), float(self.robot_pose[1])
        xs = np.arange(math.floor(x - reach), math.ceil(x + reach) + 1.0)
        ys = np.arange(math.floor(y - reach), math.ceil(y + reach) + 1.0)
        ends = np.concatenate([
            np.stack([xs, np.full_like(xs, y - reach), xs, np.full_like(xs, y + reach)], axis=1),
            np.stack([np.full_like(ys, x - reach), ys, np.full_like(ys, x + reach), ys], axis=1),
        ])
        pixels = np.round(self.world_to_image(ends.reshape(-1, 2)) * float(1 << shift)).astype(np.int64).reshape(-1, 4)
        for u1, v1, u2, v2 in pixels.tolist():
            cv2.line(image, (u1, v1), (u2, v2), (150, 150, 150), 1, cv2.LINE_AA, shift)


def _clamp(value: float, limit: float) -> float:
    """``value`` limited to [-limit, limit] (plain floats: numpy's clip costs microseconds per scalar)."""
    return min(max(value, -limit), limit)


_PERSON_COLOURS = [(220, 60, 60), (60, 160, 60), (60, 90, 220), (220, 170, 40), (170, 60, 200), (40, 190, 190)]
