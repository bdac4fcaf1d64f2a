"""The shared planar geometry: angle wrapping and yaw <-> quaternion (REP 103)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from causal_nodes.geometry import quaternion_to_yaw, wrap_angle, yaw_to_quaternion


def test_wrap_angle_maps_into_minus_pi_to_pi_for_floats_and_arrays() -> None:
    assert wrap_angle(3 * math.pi / 2) == pytest.approx(-math.pi / 2)
    assert wrap_angle(math.pi) == pytest.approx(-math.pi)  # the half-open interval [-pi, pi)
    assert isinstance(wrap_angle(0.5), float)
    wrapped = wrap_angle(np.array([0.0, 2 * math.pi + 0.1, -2 * math.pi - 0.1]))
    np.testing.assert_allclose(wrapped, [0.0, 0.1, -0.1], atol=1e-12)


@pytest.mark.parametrize("yaw", [0.0, 0.7, -2.5, math.pi - 1e-9])
def test_yaw_survives_a_quaternion_round_trip(yaw: float) -> None:
    x, y, z, w = yaw_to_quaternion(yaw)
    assert (x, y) == (0.0, 0.0) and z * z + w * w == pytest.approx(1.0)
    assert quaternion_to_yaw(SimpleNamespace(x=x, y=y, z=z, w=w)) == pytest.approx(yaw)
