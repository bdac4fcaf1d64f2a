"""Rigid transforms and the transform tree that stands in for tf2_ros where it is not installed."""
from __future__ import annotations

import math

import numpy as np
import pytest

from causal_nodes.variables.frames import Transform, TransformTree, parse_static_transform


def test_transform_maps_points_and_composes_with_its_inverse():
    robot = Transform.planar("odom", "base_link", 1.0, 2.0, math.pi / 2, stamp=3.0)
    assert robot.apply(np.array([[1.0, 0.0]])) == pytest.approx(np.array([[1.0, 3.0]]))  # 1 m ahead = +y in odom
    laser = Transform("base_link", "base_laser", (0.2, 0.0, 0.3))
    chained = robot.then(laser)
    assert (chained.parent, chained.child) == ("odom", "base_laser")
    assert chained.apply(np.array([[0.0, 0.0, 0.0]])) == pytest.approx(np.array([[1.0, 2.2, 0.3]]))
    identity = chained.then(chained.inverse())
    assert identity.translation == pytest.approx((0.0, 0.0, 0.0), abs=1e-12) and identity.yaw == pytest.approx(0.0)
    with pytest.raises(ValueError, match="cannot chain"):
        laser.then(robot)


def test_tree_interpolates_between_samples_and_refuses_to_extrapolate():
    tree = TransformTree(cache_s=10.0, tolerance_s=0.2)
    tree.set_transform(Transform.planar("odom", "base_link", 0.0, 0.0, 0.0, stamp=1.0))
    tree.set_transform(Transform.planar("odom", "base_link", 2.0, 0.0, math.pi / 2, stamp=2.0))
    tree.set_transform(Transform("base_link", "base_laser", (0.1, 0.0, 0.0)), static=True)
    halfway = tree.lookup("odom", "base_laser", 1.5)
    assert halfway.yaw == pytest.approx(math.pi / 4, abs=1e-9)
    assert halfway.translation[:2] == pytest.approx((1.0 + 0.1 * math.cos(math.pi / 4), 0.1 * math.sin(math.pi / 4)))
    # the reverse lookup maps odom points into the laser frame
    point = tree.lookup("base_laser", "odom", 2.0).apply(np.array([[2.0, 0.1]]))
    assert point == pytest.approx(np.array([[0.0, 0.0]]), abs=1e-12)
    assert tree.lookup("odom", "base_link", 2.1).translation[0] == pytest.approx(2.0)  # within tolerance
    with pytest.raises(LookupError, match="newest transform at 2.000 s"):
        tree.lookup("odom", "base_link", 3.0)
    with pytest.raises(LookupError, match="different trees"):
        tree.lookup("odom", "camera", 1.5)
    assert tree.can_transform("base_laser", "odom", 1.2) and not tree.can_transform("map", "odom", 1.2)


def test_tree_stays_bounded_and_restarts_on_a_jump_back_in_time():
    tree = TransformTree(cache_s=1.0, max_samples=50)
    for k in range(500):
        tree.set_transform(Transform.planar("odom", "base_link", 0.01 * k, 0.0, 0.0, stamp=0.01 * k))
    assert len(tree._dynamic["base_link"]) <= 50
    tree.set_transform(Transform.planar("odom", "base_link", 0.0, 0.0, 0.0, stamp=0.0))  # a looping bag
    assert len(tree._dynamic["base_link"]) == 1
    with pytest.raises(ValueError, match="non-finite"):
        tree.set_transform(Transform.planar("odom", "base_link", math.nan, 0.0, 0.0, stamp=1.0))
    with pytest.raises(ValueError, match="invalid transform"):
        tree.set_transform(Transform("odom", "odom"))


def test_static_transform_text():
    mount = parse_static_transform("base_link base_laser 0.2 0 0.3 3.14159")
    assert (mount.parent, mount.child, mount.translation) == ("base_link", "base_laser", (0.2, 0.0, 0.3))
    assert mount.yaw == pytest.approx(3.14159)
    for bad in ("base_link base_laser 0 0 0", "a b x 0 0 0"):
        with pytest.raises(ValueError, match="static transform"):
            parse_static_transform(bad)


def test_the_tree_keeps_at_most_max_frames_and_evicts_expired_ones_first():
    """Frame names come from the input: 10^4 distinct children must not grow the tree to 10^4 frames."""
    tree = TransformTree(cache_s=1.0, max_frames=10)
    for k in range(10):  # all within cache_s of each other: none expires, the 11th is refused
        tree.set_transform(Transform("odom", f"c{k}", (0, 0, 0), (0, 0, 0, 1), 100.0 + 0.01 * k))
    tree.set_transform(Transform("odom", "late", (0, 0, 0), (0, 0, 0, 1), 100.5))
    assert tree.size == 10 and tree.dropped_beyond_max_frames == 1 and "late" not in tree.frames
    tree.set_transform(Transform("odom", "c3", (1, 0, 0), (0, 0, 0, 1), 100.6))  # a known frame always updates
    assert tree.lookup("odom", "c3", 100.6).translation[0] == 1.0
    tree.set_transform(Transform("odom", "new", (0, 0, 0), (0, 0, 0, 1), 102.0))  # the others expired: room
    assert tree.size <= 10 and "new" in tree.frames and tree.evicted_frames == 10
    for k in range(10_000):
        tree.set_transform(Transform("odom", f"h{k}", (0, 0, 0), (0, 0, 0, 1), 200.0 + 0.01 * k))
    assert tree.size <= 10


def test_one_stamp_years_ahead_does_not_make_every_frame_look_expired_afterwards():
    """Expiry was measured from the newest stamp ever seen: after one /tf stamp years ahead, every later new name
    evicted all live frames (base_link included) whenever the tree was full. Now from the new transform's stamp."""
    tree = TransformTree(cache_s=1.0, max_frames=10)
    tree.set_transform(Transform("odom", "base_link", (0, 0, 0), (0, 0, 0, 1), 100.0))
    tree.set_transform(Transform("odom", "future", (0, 0, 0), (0, 0, 0, 1), 100.0 + 3e8))
    for k in range(8):
        tree.set_transform(Transform("odom", f"c{k}", (0, 0, 0), (0, 0, 0, 1), 100.1 + 0.01 * k))
    for k in range(100):  # a stream of new names at the present time: refused, the live frames kept
        tree.set_transform(Transform("odom", f"h{k}", (0, 0, 0), (0, 0, 0, 1), 100.2 + 0.001 * k))
    assert "base_link" in tree.frames and tree.evicted_frames == 0 and tree.dropped_beyond_max_frames == 100
    assert tree.size == 10
