"""Coordinate frames without ROS: rigid transforms, and a small transform tree for machines without ``tf2_ros``.

Why here: the variables are geometric (distances, headings) and only mean something when every input is expressed
in one world frame (``odom`` by default). On a robot ``tf2_ros`` answers "where is frame A in frame B at time t";
the ROS 2 wheels have no ``tf2_ros``, and offline bag analysis has no ROS at all, so :class:`TransformTree` gives
the same answer for the frames the pipeline needs from the ``/tf`` and ``/tf_static`` messages (and from
``nav_msgs/Odometry``, which states ``odom -> base_link`` itself). The simulator's transforms
(:mod:`causal_nodes.sim.frames`) are built with the same :class:`Transform`.

Conventions (REP 103 / tf2): a :class:`Transform` from ``parent`` to ``child`` is the pose of ``child`` in
``parent``: a point ``p_child`` is ``R p_child + t`` in ``parent``. Quaternions are (x, y, z, w).
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

Vector3 = tuple[float, float, float]
Quaternion = tuple[float, float, float, float]
IDENTITY_ROTATION: Quaternion = (0.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class Transform:
    """Pose of frame ``child`` in frame ``parent`` at time ``stamp`` [s]."""

    parent: str
    child: str
    translation: Vector3 = (0.0, 0.0, 0.0)
    rotation: Quaternion = IDENTITY_ROTATION
    stamp: float = 0.0

    @staticmethod
    def planar(parent: str, child: str, x: float, y: float, yaw: float, stamp: float = 0.0, z: float = 0.0
               ) -> Transform:
        """A transform in the ground plane: translation (x, y, z), rotation ``yaw`` about z."""
        return Transform(parent, child, (float(x), float(y), float(z)),
                         (0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0)), float(stamp))

    @property
    def yaw(self) -> float:
        x, y, z, w = self.rotation
        return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))

    def matrix(self) -> np.ndarray:
        """The 3x3 rotation matrix."""
        x, y, z, w = self.rotation
        return np.array([
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ])

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Points given in ``child`` (shape (N, 2) in the plane z = 0, or (N, 3)) expressed in ``parent``."""
        pts = np.asarray(points, dtype=np.float64)
        planar = pts.ndim == 2 and pts.shape[1] == 2
        xyz = np.column_stack([pts, np.zeros(len(pts))]) if planar else pts.reshape(-1, 3)
        out = xyz @ self.matrix().T + np.asarray(self.translation)
        return out[:, :2] if planar else out

    def then(self, other: Transform) -> Transform:
        """``self`` (a -> b) followed by ``other`` (b -> c): the transform a -> c."""
        if other.parent != self.child:
            raise ValueError(f"cannot chain {self.parent}->{self.child} with {other.parent}->{other.child}")
        translation = tuple(float(v) for v in self.matrix() @ np.asarray(other.translation) + self.translation)
        return Transform(self.parent, other.child, translation,  # type: ignore[arg-type]
                         _quat_multiply(self.rotation, other.rotation), max(self.stamp, other.stamp))

    def inverse(self) -> Transform:
        x, y, z, w = self.rotation
        conjugate = (-x, -y, -z, w)
        back = Transform("", "", (0.0, 0.0, 0.0), conjugate).matrix() @ -np.asarray(self.translation)
        return Transform(self.child, self.parent, tuple(float(v) for v in back),  # type: ignore[arg-type]
                         conjugate, self.stamp)


def _quat_multiply(a: Quaternion, b: Quaternion) -> Quaternion:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    q = (aw * bx + ax * bw + ay * bz - az * by,
         aw * by - ax * bz + ay * bw + az * bx,
         aw * bz + ax * by - ay * bx + az * bw,
         aw * bw - ax * bx - ay * by - az * bz)
    norm = math.sqrt(sum(c * c for c in q)) or 1.0
    return q[0] / norm, q[1] / norm, q[2] / norm, q[3] / norm


def _interpolate(a: Transform, b: Transform, stamp: float) -> Transform:
    """Linear translation and normalised-linear rotation between two samples of one edge (short gaps)."""
    span = b.stamp - a.stamp
    s = 0.0 if span <= 0 else min(max((stamp - a.stamp) / span, 0.0), 1.0)
    qb = b.rotation
    if sum(x * y for x, y in zip(a.rotation, qb)) < 0:  # take the short way round
        qb = tuple(-c for c in qb)  # type: ignore[assignment]
    q = tuple((1 - s) * x + s * y for x, y in zip(a.rotation, qb))
    norm = math.sqrt(sum(c * c for c in q)) or 1.0
    t = tuple((1 - s) * x + s * y for x, y in zip(a.translation, b.translation))
    return Transform(a.parent, a.child, t, tuple(c / norm for c in q), stamp)  # type: ignore[arg-type]


class TransformTree:
    """The newest ``cache_s`` seconds of every frame's transform to its parent, and lookups between any two frames.

    A frame has one parent (as in tf2); a transform naming another parent for a known child replaces the edge.
    Lookups at a time between two samples interpolate; within ``tolerance_s`` beyond the newest (or before the
    oldest) sample they use that sample; further away they fail, as tf2 does, rather than extrapolate.
    Static transforms hold at every time. Memory is bounded by ``cache_s`` and ``max_samples`` per edge, and by
    ``max_frames`` frames: the frame names come from the input (``child_frame_id``), and an edge whose samples are
    all older than ``cache_s`` keeps its newest one, so a stream of distinct names would otherwise grow the tree
    without bound. A new frame when the tree is full first evicts the dynamic frames expired by ``cache_s`` (behind
    the new transform's stamp); if none is, the new frame is refused and counted in :attr:`dropped_beyond_max_frames`.
    """

    def __init__(self, cache_s: float = 10.0, tolerance_s: float = 0.5, max_samples: int = 2000,
                 max_frames: int = 1000) -> None:
        if max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        self.cache_s = float(cache_s)
        self.tolerance_s = float(tolerance_s)
        self.max_samples = int(max_samples)
        self.max_frames = int(max_frames)
        self._static: dict[str, Transform] = {}
        self._dynamic: dict[str, list[Transform]] = {}  # child -> samples sorted by stamp
        self.dropped_beyond_max_frames = 0
        """Transforms of new frames refused because ``max_frames`` frames were known and none had expired."""
        self.evicted_frames = 0
        """Dynamic frames forgotten to make room for a new one (their newest sample older than ``cache_s``)."""

    # -- filling -----------------------------------------------------------------------------------------------
    def set_transform(self, transform: Transform, static: bool = False) -> None:
        if not transform.child or not transform.parent or transform.child == transform.parent:
            raise ValueError(f"invalid transform {transform.parent!r} -> {transform.child!r}")
        if not all(math.isfinite(v) for v in (*transform.translation, *transform.rotation, transform.stamp)):
            raise ValueError(f"non-finite transform {transform.parent} -> {transform.child}")
        if (transform.child not in self._static and transform.child not in self._dynamic
                and not self._room(None if static else transform.stamp)):
            self.dropped_beyond_max_frames += 1
            return
        if static:
            self._static[transform.child] = transform
            self._dynamic.pop(transform.child, None)
            return
        samples = self._dynamic.setdefault(transform.child, [])
        if samples and samples[-1].parent != transform.parent:
            samples.clear()  # re-parented: the old chain no longer holds
        if samples and transform.stamp < samples[-1].stamp - self.cache_s:
            samples.clear()  # time jumped back (a looping bag): start again
        bisect.insort(samples, transform, key=lambda t: t.stamp)
        oldest = samples[-1].stamp - self.cache_s
        drop = bisect.bisect_left(samples, oldest, key=lambda t: t.stamp)
        del samples[:max(drop, len(samples) - self.max_samples)]

    def _room(self, now: float | None) -> bool:
        """Whether a new frame fits, after evicting the dynamic frames expired by ``cache_s`` before ``now`` (the
        new transform's stamp; for a static one, the newest dynamic sample kept). The new transform's own stamp,
        not the newest ever seen, so that one stamp years ahead cannot make every frame look expired from then on."""
        if len(self._static) + len(self._dynamic) < self.max_frames:
            return True
        if now is None:
            now = max((samples[-1].stamp for samples in self._dynamic.values() if samples), default=-math.inf)
        expired = [child for child, samples in self._dynamic.items()
                   if not samples or samples[-1].stamp < now - self.cache_s]
        for child in expired:
            del self._dynamic[child]
        self.evicted_frames += len(expired)
        return len(self._static) + len(self._dynamic) < self.max_frames

    @property
    def size(self) -> int:
        """Frames with a transform to their parent (static and dynamic)."""
        return len(self._static) + len(self._dynamic)

    def set_transforms(self, transforms: Iterable[Transform], static: bool = False) -> None:
        for transform in transforms:
            self.set_transform(transform, static)

    def clear(self) -> None:
        self._static.clear()
        self._dynamic.clear()

    @property
    def frames(self) -> set[str]:
        edges = [*self._static.values(), *(s[-1] for s in self._dynamic.values() if s)]
        return {t.child for t in edges} | {t.parent for t in edges}

    # -- lookups -----------------------------------------------------------------------------------------------
    def _edge(self, child: str, stamp: float | None) -> Transform | None:
        if child in self._static:
            return self._static[child]
        samples = self._dynamic.get(child)
        if not samples:
            return None
        if stamp is None:
            return samples[-1]
        i = bisect.bisect_left(samples, stamp, key=lambda t: t.stamp)
        if i == len(samples):
            newest = samples[-1]
            if stamp - newest.stamp > self.tolerance_s:
                raise LookupError(f"{newest.parent} -> {child}: newest transform at {newest.stamp:.3f} s, "
                                  f"{stamp - newest.stamp:.3f} s before the requested {stamp:.3f} s")
            return replace(newest, stamp=stamp)
        if samples[i].stamp == stamp or i == 0:
            if samples[i].stamp - stamp > self.tolerance_s:
                raise LookupError(f"{samples[i].parent} -> {child}: no transform as old as {stamp:.3f} s "
                                  f"(oldest {samples[i].stamp:.3f} s)")
            return replace(samples[i], stamp=stamp)
        return _interpolate(samples[i - 1], samples[i], stamp)

    def _chain_to_root(self, frame: str, stamp: float | None) -> list[Transform]:
        """Transforms root -> ... -> frame, listed from ``frame`` upwards (each edge parent -> child)."""
        chain: list[Transform] = []
        seen = {frame}
        while (edge := self._edge(frame, stamp)) is not None:
            chain.append(edge)
            frame = edge.parent
            if frame in seen:
                raise LookupError(f"transform loop through {frame!r}")
            seen.add(frame)
        return chain

    def lookup(self, target: str, source: str, stamp: float | None = None) -> Transform:
        """The pose of ``source`` in ``target`` (maps points given in ``source`` into ``target``) at ``stamp``
        (``None`` = newest). Raises LookupError naming the missing link."""
        if target == source:
            return Transform(target, source, stamp=stamp or 0.0)
        up_source = self._chain_to_root(source, stamp)
        up_target = self._chain_to_root(target, stamp)
        roots = (up_source[-1].parent if up_source else source, up_target[-1].parent if up_target else target)
        if roots[0] != roots[1]:
            known = ", ".join(sorted(self.frames)) or "none"
            raise LookupError(f"no transform between {target!r} and {source!r}: they are in different trees "
                              f"(roots {roots[0]!r} and {roots[1]!r}; frames known: {known})")
        # root -> source and root -> target, then target -> root -> source
        root_to_source = Transform(roots[0], roots[0], stamp=stamp or 0.0)
        for edge in reversed(up_source):
            root_to_source = root_to_source.then(edge)
        root_to_target = Transform(roots[0], roots[0], stamp=stamp or 0.0)
        for edge in reversed(up_target):
            root_to_target = root_to_target.then(edge)
        return root_to_target.inverse().then(root_to_source)

    def can_transform(self, target: str, source: str, stamp: float | None = None) -> bool:
        try:
            self.lookup(target, source, stamp)
        except LookupError:
            return False
        return True


def parse_static_transform(text: str) -> Transform:
    """``"parent child x y z yaw"`` (metres, radians) -> a planar-rotation :class:`Transform`; ValueError else."""
    parts = text.split()
    if len(parts) != 6:
        raise ValueError(f"static transform {text!r} is not 'parent child x y z yaw'")
    try:
        x, y, z, yaw = (float(v) for v in parts[2:])
    except ValueError:
        raise ValueError(f"static transform {text!r}: x y z yaw must be numbers") from None
    return Transform.planar(parts[0], parts[1], x, y, yaw, z=z)
