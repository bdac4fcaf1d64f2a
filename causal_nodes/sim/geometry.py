"""Vectorised 2D geometry shared by the crowd model and the sensors (numpy only).

Walls are line segments stored as an ``(K, 4)`` array ``[x1, y1, x2, y2]``; people and the robot are circles.
Everything works on whole arrays at once because a Python loop per person or per beam would cap the simulator
far below the thousands of steps per second that make it useful for batch experiments.
"""
from __future__ import annotations

import numpy as np

_EPS = 1e-12


def closest_points_on_segments(points: np.ndarray, walls: np.ndarray) -> np.ndarray:
    """Closest point of every wall segment to every point: ``(N, 2)`` x ``(K, 4)`` -> ``(N, K, 2)``."""
    start = walls[None, :, 0:2]
    seg = walls[None, :, 2:4] - walls[None, :, 0:2]
    length_sq = np.maximum(np.sum(seg * seg, axis=-1), _EPS)
    s = np.sum((points[:, None, :] - start) * seg, axis=-1) / length_sq
    s = np.clip(s, 0.0, 1.0)
    return start + s[..., None] * seg


def ray_segment_distances(origin: np.ndarray, directions: np.ndarray, walls: np.ndarray) -> np.ndarray:
    """Distance along each ray to its nearest wall hit (inf where it hits none): ``(B, 2)`` rays -> ``(B,)``."""
    if walls.shape[0] == 0:
        return np.full(directions.shape[0], np.inf)
    p1 = walls[:, 0:2]
    seg = walls[:, 2:4] - p1
    rel = p1 - origin  # (K, 2)
    ux, uy = directions[:, 0:1], directions[:, 1:2]  # (B, 1)
    denom = ux * seg[None, :, 1] - uy * seg[None, :, 0]  # cross(u, seg), (B, K)
    safe = np.where(np.abs(denom) < _EPS, np.nan, denom)
    t = (rel[None, :, 0] * seg[None, :, 1] - rel[None, :, 1] * seg[None, :, 0]) / safe
    s = (rel[None, :, 0] * uy - rel[None, :, 1] * ux) / safe
    hit = (t > 0.0) & (s >= 0.0) & (s <= 1.0)
    return np.min(np.where(hit, t, np.inf), axis=1)


def ray_circle_distances(origin: np.ndarray, directions: np.ndarray, centers: np.ndarray,
                         radii: np.ndarray) -> np.ndarray:
    """Distance along each ray to its nearest circle (inf where it hits none); a ray starting inside reads 0."""
    if centers.shape[0] == 0:
        return np.full(directions.shape[0], np.inf)
    rel = centers - origin  # (N, 2)
    proj = directions @ rel.T  # (B, N)
    dist_sq = np.sum(rel * rel, axis=1)[None, :]
    disc = proj * proj - (dist_sq - radii[None, :] ** 2)
    root = np.sqrt(np.maximum(disc, 0.0))
    near = proj - root
    inside = dist_sq <= radii[None, :] ** 2
    t = np.where(inside, 0.0, near)
    hit = (disc >= 0.0) & ((t > 0.0) | inside)
    return np.min(np.where(hit, t, np.inf), axis=1)


def fan_circle_distances(origin: np.ndarray, first_angle: float, increment: float, beams: int,
                         centers: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Like :func:`ray_circle_distances` for an evenly spaced fan of rays (a laser scan), in O(hits) not O(B*N).

    Each circle covers the beams within ``asin(r / d)`` of its centre's bearing; only those (beam, circle) pairs
    are intersected. Bearings are taken modulo 2*pi, so fans of any width (up to a full turn) work.
    """
    ranges = np.full(beams, np.inf)
    if centers.shape[0] == 0 or beams == 0:
        return ranges
    rel = centers - origin
    dist = np.hypot(rel[:, 0], rel[:, 1])
    if np.any(dist <= radii):
        return np.zeros(beams)  # the sensor is inside a circle: every beam is blocked at once
    bearing = np.mod(np.arctan2(rel[:, 1], rel[:, 0]) - first_angle, 2.0 * np.pi)
    half_width = np.arcsin(np.clip(radii / dist, 0.0, 1.0))
    index_chunks, owner_chunks = [], []
    for shift in (-2.0 * np.pi, 0.0, 2.0 * np.pi):
        lo = np.maximum(np.ceil((bearing - half_width + shift) / increment), 0).astype(np.int64)
        hi = np.minimum(np.floor((bearing + half_width + shift) / increment), beams - 1).astype(np.int64)
        counts = np.maximum(hi - lo + 1, 0)
        total = int(counts.sum())
        if total == 0:
            continue
        owner = np.repeat(np.arange(len(lo)), counts)
        offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        index_chunks.append(lo[owner] + offsets)
        owner_chunks.append(owner)
    if not index_chunks:
        return ranges
    index = np.concatenate(index_chunks)
    owner = np.concatenate(owner_chunks)
    angles = first_angle + index * increment
    proj = np.cos(angles) * rel[owner, 0] + np.sin(angles) * rel[owner, 1]
    disc = proj * proj - (dist[owner] ** 2 - radii[owner] ** 2)
    hit = proj - np.sqrt(np.maximum(disc, 0.0))
    np.minimum.at(ranges, index, hit)
    return ranges
