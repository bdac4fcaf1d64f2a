"""Interventions ``do(variable = value)`` over a time window: the simulator's source of interventional truth.

An intervention replaces the mechanism of one variable by a constant for the steps whose time lies in
``[start, end)`` (seconds of simulated time; ``end=None`` keeps it until the run ends). Everything else keeps its
own mechanism, and every random draw of the simulator is independent of the state, so two runs from the same seed
-- one with and one without the intervention -- differ only in the intervened variable's descendants. That is
what lets tests and the prioritizer check predicted effects against the simulator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

Value = float | tuple[float, float]

PHYSICAL_INTERVENABLE = {
    "robot_linear_speed": "robot forward speed [m/s], bypasses controller and acceleration limits",
    "robot_angular_speed": "robot yaw rate [rad/s], bypasses controller and acceleration limits",
    "robot_heading": "robot yaw [rad]; the robot is held at this heading (yaw rate 0) during the window",
    "human_speed": "a person's speed [m/s]; the direction of motion is kept",
    "human_goal": "a person's goal (x, y) [m] in the world frame",
}
"""Variables of the physical simulator that :class:`Intervention` may set, with the meaning of ``value``."""


@dataclass(frozen=True)
class Intervention:
    """``do(variable = value)`` for simulated times ``start <= t < end``.

    ``person`` selects whom a human intervention acts on (index in the scenario's people list); ``None`` means the
    scenario's subject person, i.e. the one the pipeline variables describe. For SCM scenarios ``variable`` is any
    of the scenario's variable names and ``value`` is in that variable's units.
    """

    variable: str
    value: Value
    start: float = 0.0
    end: float | None = None
    person: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.variable, str) or not self.variable:
            raise ValueError(f"Intervention.variable must be a non-empty string, got {self.variable!r}")
        if self.variable == "human_goal":
            if not (isinstance(self.value, (tuple, list)) and len(self.value) == 2
                    and all(math.isfinite(float(v)) for v in self.value)):
                raise ValueError(f"Intervention.value for human_goal must be a finite (x, y) pair, got {self.value!r}")
            object.__setattr__(self, "value", (float(self.value[0]), float(self.value[1])))
        else:
            try:
                value = float(self.value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ValueError(
                    f"Intervention.value for {self.variable} must be a number, got {self.value!r}"
                ) from None
            if not math.isfinite(value):
                raise ValueError(f"Intervention.value for {self.variable} must be finite, got {value}")
            object.__setattr__(self, "value", value)
        if not math.isfinite(self.start) or self.start < 0.0:
            raise ValueError(f"Intervention.start must be a finite time >= 0 s, got {self.start}")
        if self.end is not None and not self.end > self.start:
            raise ValueError(f"Intervention.end must be after start ({self.start} s), got {self.end}")
        if self.person is not None and (not isinstance(self.person, int) or self.person < 0):
            raise ValueError(f"Intervention.person must be a person index >= 0 or None, got {self.person!r}")

    def step_window(self, dt: float) -> tuple[int, int | None]:
        """First step index and end step index (exclusive, None = open) of the window on a grid of period ``dt``."""
        start = int(round(self.start / dt))
        end = None if self.end is None else int(round(self.end / dt))
        return start, end

    def active_at(self, step: int, dt: float) -> bool:
        """Whether the intervention holds for the state computed at grid step ``step`` (time ``step * dt``)."""
        start, end = self.step_window(dt)
        return step >= start and (end is None or step < end)


class InterventionSchedule:
    """The interventions given to one simulator run, looked up per step and per variable."""

    def __init__(self) -> None:
        self._items: list = []

    def add(self, intervention: Intervention) -> None:
        self._items.append(intervention)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def active(self, variable: str, step: int, dt: float) -> list:
        """Interventions on ``variable`` holding at ``step`` (later ones win when several overlap)."""
        return [iv for iv in self._items if iv.variable == variable and iv.active_at(step, dt)]

    def value(self, variable: str, step: int, dt: float, person: int | None = None) -> Value | None:
        """Value forced on ``variable`` (for ``person`` where it applies) at ``step``, or None when it is free."""
        found = None
        for iv in self.active(variable, step, dt):
            if iv.person == person:
                found = iv.value
        return found
