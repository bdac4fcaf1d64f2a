"""The ground-truth lagged graph of a physical scenario, read off the simulator's update order.

A link ``(X, Y, lag)`` is in the graph when the update of Y at grid step t reads X at step t - lag, where the
latent state (positions, headings) is summarised by the pipeline variable it drives: a position at t is set from
the velocity at t (lag 0) and from the position at t - 1 (the autolink of the distance it enters). The graph is a
summary of the mechanism, not of the data: it is what the interventions in ``test/sim/test_interventions.py``
check -- a ``do(X)`` starting at step k can change Y no earlier than k + (shortest lag sum of a directed path
X -> ... -> Y), and never when there is no such path. See ``sim/README.md`` for the derivation link by link.
"""
from __future__ import annotations

from collections.abc import Iterable

from .config import PhysicalConfig

Link = tuple[str, str, int]

_ROBOT = {
    # acceleration limits: the new speeds start from the old ones
    ("robot_linear_speed", "robot_linear_speed", 1),
    ("robot_angular_speed", "robot_angular_speed", 1),
    # goal seeking: speed ~ cos(heading error), heading error from the pose that both speeds moved
    ("robot_angular_speed", "robot_linear_speed", 1),
    ("robot_linear_speed", "robot_angular_speed", 1),
}
_HUMAN = {
    # relaxation towards the desired velocity starts from the old velocity (speed and heading)
    ("human_speed", "human_speed", 1),
    ("human_heading_rate", "human_heading_rate", 1),
    ("human_heading_rate", "human_speed", 1),
    ("human_speed", "human_heading_rate", 1),
    # the heading rate is defined as 0 while the person is slower than 0.05 m/s (direction undefined)
    ("human_speed", "human_heading_rate", 0),
    # desired speed falls within the arrival radius and the goal switches on arrival
    ("human_goal_distance", "human_speed", 1),
    ("human_goal_distance", "human_heading_rate", 1),
}
_GEOMETRY = {
    # positions at t = positions at t-1 + dt * velocities at t
    ("human_robot_distance", "human_robot_distance", 1),
    ("human_speed", "human_robot_distance", 0),
    ("human_heading_rate", "human_robot_distance", 0),
    ("robot_linear_speed", "human_robot_distance", 0),
    ("robot_angular_speed", "human_robot_distance", 0),
    ("human_goal_distance", "human_goal_distance", 1),
    ("human_speed", "human_goal_distance", 0),
    ("human_heading_rate", "human_goal_distance", 0),
}
_SENSORS = {
    # the scan sees the subject and the walls from the robot's new pose
    ("human_robot_distance", "min_scan_range", 0),
    ("robot_linear_speed", "min_scan_range", 0),
    ("robot_angular_speed", "min_scan_range", 0),
    # closing speed from the relative position and both velocities of step t
    ("human_robot_distance", "collision_risk", 0),
    ("human_speed", "collision_risk", 0),
    ("human_heading_rate", "collision_risk", 0),
    ("robot_linear_speed", "collision_risk", 0),
    ("robot_angular_speed", "collision_risk", 0),
    # frame-to-frame change of the robot-centred view: ego-motion and the subject's motion
    ("robot_linear_speed", "image_motion", 0),
    ("robot_angular_speed", "image_motion", 0),
    ("human_speed", "image_motion", 0),
    ("human_heading_rate", "image_motion", 0),
    ("human_robot_distance", "image_motion", 0),
    # gyro = yaw rate + noise
    ("robot_angular_speed", "imu_yaw_rate", 0),
}
_RELATIVE_TARGETS = ("closing_speed", "human_bearing", "lateral_offset", "forward_offset", "time_to_collision")
_APPROACH = {
    # the person's velocity towards the robot: their velocity of step t (relaxation from that of t-1, the forces of
    # the robot's place at t-1) seen along the line to the robot of step t
    ("human_approach_speed", "human_approach_speed", 1),
    ("human_speed", "human_approach_speed", 0),
    ("human_heading_rate", "human_approach_speed", 0),
    ("robot_linear_speed", "human_approach_speed", 0),
    ("robot_angular_speed", "human_approach_speed", 0),
    ("human_robot_distance", "human_approach_speed", 0),
    ("human_approach_speed", "human_robot_distance", 0),
}
_RELATIVE = {
    # the person's place in the robot frame: the positions of step t (latent position of t-1 summarised by the
    # variable's own autolink) and both velocities of step t
    *{(target, target, 1) for target in _RELATIVE_TARGETS if target != "closing_speed"},
    *{(source, target, 0) for target in _RELATIVE_TARGETS
      for source in ("human_speed", "human_heading_rate", "robot_linear_speed", "robot_angular_speed")},
    # closing speed and time to collision are computed from the relative position and velocity of step t
    ("human_robot_distance", "closing_speed", 0),
    ("human_robot_distance", "time_to_collision", 0),
    # the scan's nearest non-person return moves with the robot's pose (walls are fixed)
    ("robot_obstacle_clearance", "robot_obstacle_clearance", 1),
    ("robot_linear_speed", "robot_obstacle_clearance", 0),
    ("robot_angular_speed", "robot_obstacle_clearance", 0),
}


def physical_ground_truth(config: PhysicalConfig, variables: Iterable[str] | None = None) -> set[Link]:
    """Links among ``variables`` (default: all pipeline variables) for the scenario's mechanisms.

    The switches that add or remove links: the subject's ``robot_aware`` (person-robot force: distance -> the
    person's speed and heading), the robot's ``speed_policy`` (``slow_near_people``: distance -> robot speed) and
    ``heading_policy`` (``avoid``: distance -> robot yaw rate). The robot reacts to the nearest person; with one
    person that is the subject.
    """
    links = set(_ROBOT) | set(_HUMAN) | set(_GEOMETRY) | set(_SENSORS) | _RELATIVE | _APPROACH
    subject = _subject_spec(config)
    if subject.get("robot_aware", True):
        links |= {("human_robot_distance", "human_speed", 1), ("human_robot_distance", "human_heading_rate", 1)}
    ctrl = config.robot.controller
    if ctrl.speed_policy == "slow_near_people":
        links.add(("human_robot_distance", "robot_linear_speed", 1))
    if ctrl.heading_policy == "avoid":
        links.add(("human_robot_distance", "robot_angular_speed", 1))
        # the turn's direction is the side the person is on
        links |= {(side, "robot_angular_speed", 1) for side in ("human_bearing", "lateral_offset")}
    if not len(config.walls):  # nothing but people to see: the obstacle clearance is undefined, not caused
        links = {link for link in links if "robot_obstacle_clearance" not in link[:2]}
    if variables is not None:
        keep = set(variables)
        links = {link for link in links if link[0] in keep and link[1] in keep}
    return links


def _subject_spec(config: PhysicalConfig) -> dict[str, bool]:
    if config.subject < len(config.people):
        return {"robot_aware": config.people[config.subject].robot_aware}
    return {"robot_aware": config.crowd.robot_aware if config.crowd is not None else True}


def shortest_lags(links: Iterable[Link], source: str) -> dict[str, int]:
    """Smallest total lag of a directed path from ``source`` to every variable it reaches (itself: 0).

    Under ``do(source)`` from step k, a variable can first differ from the baseline at step k + this lag.
    """
    best: dict[str, int] = {source: 0}
    # Bellman-Ford style relaxation; lags are >= 0 so Dijkstra would do, but graphs here are tiny.
    changed = True
    while changed:
        changed = False
        for s, t, lag in links:
            if s in best and t != source and best[s] + lag < best.get(t, 1 << 30):
                best[t] = best[s] + lag
                changed = True
    return best
