"""Streaming world-model runtime: onnxruntime (or TensorRT) only, never torch.

``WorldModel`` keeps the streaming state (KV cache, slot, sink fill, per-person validity) with
constant memory: the cache arrays have a fixed shape forever, and each ``step`` costs one call of
a static graph. ``rollout`` predicts K candidate robot action sequences from the current state in
one call of the unrolled rollout graph, without touching the live state; the people present are
packed into the smallest exported person bucket that holds them (the graphs are static, the cost
is that of the bucket).

Frames: people are given as ``[x, y, vx, vy]`` in the robot frame of the current step
(REP 103: x forward, y left; m, m/s; velocity = the person's ground velocity expressed in robot
axes). Slot i is person i: callers must keep a person in the same row from step to step
(see :class:`causal_nodes.world_model.slots.SlotAssigner`); a row whose mask goes false → true is
treated as a new person. The action is the robot command applied from this step to the next.

``robot_present`` (constructor argument and attribute, default True) tells the model whether the people can
see the robot: True for a robot (real or simulated) among people, False for a virtual robot that only defines
a frame (the ETH/UCY evaluation: those scenes have no robot). It is fed with every step and rollout.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from .backends import open_runners
from .cache_policy import StreamingCachePolicy
from .frames import integrate_unicycle
from .metadata import check_session_matches, load_metadata

ArrayLike = np.ndarray | list | tuple


class WorldModel:
    """Load a world model (+ metadata) and step it on a stream of observations."""

    def __init__(self, model_path: str | Path, backend: str = "auto", fp16: bool = False,
                 engine_cache_dir: str | Path | None = None, threads: int = 1, robot_present: bool = True) -> None:
        model_path = Path(model_path)
        self.robot_present = bool(robot_present)
        self.metadata = load_metadata(model_path)
        cfg = self.metadata["config"]
        self.p_max, self.sinks, self.window = int(cfg["p_max"]), int(cfg["sinks"]), int(cfg["window"])
        self.layers, self.d_model = int(cfg["layers"]), int(cfg["d_model"])
        self.horizon_max, self.k_max, self.dt = int(cfg["horizon"]), int(cfg["k_max"]), float(cfg["dt"])
        entries = [self.metadata["step_model"], self.metadata["rollout_model"]]
        entries += sorted(self.metadata.get("rollout_buckets", []), key=lambda b: b["people"])
        paths = [model_path.parent / e["file"] for e in entries]
        cache_dir = Path(engine_cache_dir) if engine_cache_dir is not None else None
        self.backend, runners, self.fallback_reasons = open_runners(
            paths, backend, fp16=fp16, engine_cache_dir=cache_dir, threads=threads)
        for runner, entry, path in zip(runners, entries, paths):
            session = getattr(runner, "session", None)
            if session is not None:
                check_session_matches(session, entry, str(path))
        self._step_runner = runners[0]
        # person bucket -> rollout runner, smallest first; p_max is always there
        self._rollout_runners = {int(e.get("people", self.p_max)): r for e, r in zip(entries[2:], runners[2:])}
        self._rollout_runners[self.p_max] = runners[1]
        self.buckets = tuple(sorted(self._rollout_runners))
        self.reset()

    # -- state ----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the stream (new episode): empty cache, sinks refilled by the next steps."""
        shape = (self.layers, 1, self.p_max, self.sinks + self.window, self.d_model)
        self._k = np.zeros(shape, dtype=np.float32)
        self._v = np.zeros(shape, dtype=np.float32)
        self._policy = StreamingCachePolicy(self.sinks, self.window, 1, self.p_max)
        self._before_last: tuple | None = None  # (k, v, policy, people, mask, n) for rollouts

    @property
    def steps(self) -> int:
        """Steps consumed since the last reset."""
        return self._policy.step_index

    @property
    def cache_shape(self) -> tuple[int, ...]:
        return self._k.shape

    # -- input checks ---------------------------------------------------------------------------
    def _observation(self, people: ArrayLike, mask: ArrayLike | None) -> tuple[np.ndarray, np.ndarray, int]:
        people = np.asarray(people, dtype=np.float64)
        if people.ndim != 2 or people.shape[1] != 4:
            raise ValueError(f"people must have shape (N, 4) = [x, y, vx, vy] per person, got {people.shape}")
        n = people.shape[0]
        if n > self.p_max:
            raise ValueError(f"{n} people exceed the model's p_max={self.p_max}; keep the nearest p_max "
                             "(SlotAssigner does this)")
        m = np.ones(n, dtype=bool) if mask is None else np.asarray(mask).astype(bool)
        if m.shape != (n,):
            raise ValueError(f"mask must have shape ({n},), got {m.shape}")
        if not np.isfinite(people[m]).all():
            raise ValueError("people contains NaN/inf for a person whose mask is true")
        full = np.zeros((1, self.p_max, 4), dtype=np.float32)
        full[0, :n][m] = people[m]
        full_mask = np.zeros((1, self.p_max), dtype=bool)
        full_mask[0, :n] = m
        return full, full_mask, n

    def _action(self, action: ArrayLike) -> np.ndarray:
        """The step graph's ``action`` input (1, 3): [linear, angular, robot_present]."""
        a = np.asarray(action, dtype=np.float32).reshape(-1)
        if a.shape != (2,) or not np.isfinite(a).all():
            raise ValueError(f"robot_action must be 2 finite numbers (linear m/s, angular rad/s), got {action!r}")
        return np.append(a, np.float32(self.robot_present)).reshape(1, 3)

    # -- streaming step -------------------------------------------------------------------------
    def step(self, people: ArrayLike, mask: ArrayLike | None = None,
             robot_action: ArrayLike = (0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
        """Consume one observation; predict each person's displacement to the next step.

        Returns ``(mean, var)`` of shape ``(N, 2)`` in the current robot frame (m, m²); rows whose
        mask is false are NaN. ``N = 0`` is valid (the stream advances, nothing is predicted).
        """
        full, full_mask, n = self._observation(people, mask)
        action = self._action(robot_action)
        plan = self._policy.plan(full_mask)
        out = self._step_runner.run({
            "people": full, "mask": full_mask.astype(np.float32), "action": action,
            "past_k": self._k, "past_v": self._v, "past_valid": plan.past_valid,
            "past_age": plan.past_age, "write_onehot": plan.write_onehot})
        self._before_last = (self._k, self._v, copy.deepcopy(self._policy), full, full_mask, n)
        self._k, self._v = out["present_k"], out["present_v"]
        self._policy.commit(full_mask)
        mean = out["mean"][0, :n].astype(np.float64)
        var = np.exp(out["logvar"][0, :n].astype(np.float64))
        absent = ~full_mask[0, :n]
        mean[absent] = np.nan
        var[absent] = np.nan
        return mean, var

    # -- batched rollouts -----------------------------------------------------------------------
    def rollout(self, horizon: int, candidate_actions: ArrayLike, sample: bool = False,
                rng: np.random.Generator | None = None) -> np.ndarray:
        """Predict people's positions for K candidate robot actions from the current state.

        ``candidate_actions``: ``(K, 2)`` (held constant) or ``(K, H, 2)`` with ``H >= horizon``.
        Step 0 re-reads the latest observation with the candidate's first action (the live step
        used the executed one), so this answers "what if the robot did this instead from now".
        Returns positions ``(K, N, horizon, 2)`` in the robot frame of the latest step; NaN for
        rows absent in it. ``sample=True`` adds each step's predicted Gaussian noise (``rng``) to the
        positions; the velocity the next step sees stays the mean one, so the noise does not compound
        through the model's input. The live state is not modified.
        """
        if self._before_last is None:
            raise ValueError("rollout needs at least one step() since the last reset()")
        horizon = int(horizon)
        if not 1 <= horizon <= self.horizon_max:
            raise ValueError(f"horizon must be in 1..{self.horizon_max}, got {horizon}")
        acts = np.asarray(candidate_actions, dtype=np.float64)
        if acts.ndim == 2 and acts.shape[1] == 2:
            acts = np.repeat(acts[:, None, :], horizon, axis=1)
        if acts.ndim != 3 or acts.shape[2] != 2 or acts.shape[1] < horizon or acts.shape[0] < 1:
            raise ValueError(
                f"candidate_actions must be (K, 2) or (K, H>={horizon}, 2), got {np.shape(candidate_actions)}"
            )
        if not np.isfinite(acts).all():
            raise ValueError("candidate_actions contains NaN/inf")
        acts = acts[:, :horizon]
        if horizon < self.horizon_max:  # the graph always runs horizon_max steps; pad and slice
            acts = np.concatenate([acts, np.repeat(acts[:, -1:], self.horizon_max - horizon, axis=1)], axis=1)
        k_prev, v_prev, policy, people, mask, n = self._before_last
        past_valid, past_age = policy.plan_rollout(mask, self.horizon_max)
        rows = np.flatnonzero(mask[0])  # the people present, packed into the smallest bucket that holds them
        bucket = next(b for b in self.buckets if b >= max(len(rows), 1))
        runner = self._rollout_runners[bucket]
        m = len(rows)
        packed_people = np.zeros((1, bucket, 4), dtype=np.float32)
        packed_people[0, :m] = people[0, rows]
        packed_mask = np.zeros((1, bucket), dtype=np.float32)
        packed_mask[0, :m] = 1.0
        shape = (self.layers, 1, bucket) + k_prev.shape[3:]
        packed_k, packed_v = np.zeros(shape, dtype=np.float32), np.zeros(shape, dtype=np.float32)
        packed_k[:, :, :m], packed_v[:, :, :m] = k_prev[:, :, rows], v_prev[:, :, rows]
        packed_valid = np.zeros((1, bucket, past_valid.shape[-1]), dtype=np.float32)
        packed_valid[0, :m] = past_valid[0, rows]
        rng = rng or np.random.default_rng()
        chunks = []
        for start in range(0, acts.shape[0], self.k_max):
            chunk = acts[start : start + self.k_max]
            k = chunk.shape[0]
            padded = np.concatenate([chunk, np.repeat(chunk[-1:], self.k_max - k, axis=0)], axis=0)
            poses = integrate_unicycle(padded, self.dt)
            robot_pose = np.stack([poses[..., 0], poses[..., 1], np.cos(poses[..., 2]), np.sin(poses[..., 2])], -1)
            flagged = np.concatenate([padded, np.full(padded.shape[:2] + (1,), float(self.robot_present))], axis=2)
            noise = np.zeros((self.k_max, self.horizon_max, bucket, 2), dtype=np.float32)
            if sample:
                noise[:k] = rng.standard_normal((k, self.horizon_max, bucket, 2))
            out = runner.run({
                "people": packed_people, "mask": packed_mask, "past_k": packed_k, "past_v": packed_v,
                "past_valid": packed_valid, "past_age": past_age, "robot_pose": robot_pose.astype(np.float32),
                "actions": flagged.astype(np.float32), "noise": noise})
            chunks.append(out["positions"][:k, :m, :horizon].astype(np.float64))
        positions = np.full((acts.shape[0], n, horizon, 2), np.nan)
        positions[:, rows] = np.concatenate(chunks, axis=0)
        return positions

    def _read_only_step(self, people: np.ndarray, mask: np.ndarray, action: np.ndarray, ahead: int) -> np.ndarray:
        """Step graph without writing or committing: an imagined step ``ahead`` steps after the live one."""
        plan = self._policy.plan_read(mask, ahead - 1)
        out = self._step_runner.run({
            "people": people, "mask": mask.astype(np.float32), "action": self._action(action),
            "past_k": self._k, "past_v": self._v, "past_valid": plan.past_valid,
            "past_age": plan.past_age, "write_onehot": plan.write_onehot})
        return out["mean"][0].astype(np.float64)

    def predict_sequential(self, horizon: int, robot_actions: ArrayLike) -> np.ndarray:
        """Mean prediction for ONE action sequence by stepping the step graph ``horizon`` times.

        Gives the same numbers as ``rollout(horizon, actions[None])[0]`` (same cache policy, same
        frames) at a fraction of the cost when only one candidate is needed (evaluation). The live
        state is saved and restored. Returns ``(N, horizon, 2)`` in the latest robot frame.
        """
        if self._before_last is None:
            raise ValueError("predict_sequential needs at least one step() since the last reset()")
        horizon = int(horizon)
        acts = np.asarray(robot_actions, dtype=np.float64)
        if acts.shape == (2,):
            acts = np.repeat(acts[None], horizon, axis=0)
        if acts.ndim != 2 or acts.shape[1] != 2 or acts.shape[0] < horizon or not 1 <= horizon <= self.horizon_max:
            raise ValueError(f"robot_actions must be (2,) or (H>={horizon}, 2) with horizon <= {self.horizon_max}")
        live = (self._k, self._v, self._policy, self._before_last)
        k_prev, v_prev, policy, people, mask, n = self._before_last
        self._k, self._v, self._policy = k_prev, v_prev, copy.deepcopy(policy)
        poses = integrate_unicycle(acts[:horizon], self.dt)
        pos = people[0, :, :2].astype(np.float64)
        vel = people[0, :, 2:4].astype(np.float64)
        out = np.zeros((self.p_max, horizon, 2))
        try:
            for h in range(horizon):
                x, y, yaw = poses[h]
                c, s = np.cos(yaw), np.sin(yaw)
                d = pos - (x, y)
                obs = np.concatenate(
                    [
                        np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]], -1),
                        np.stack([c * vel[:, 0] + s * vel[:, 1], -s * vel[:, 0] + c * vel[:, 1]], -1),
                    ],
                    -1,
                )
                if h == 0:  # the latest observation again, with this action: a live step (it writes its slot)
                    mean, _ = self.step(obs, mask[0], acts[h])
                else:  # imagined steps only read the cache (StreamingCachePolicy.plan_rollout)
                    mean = self._read_only_step(obs.astype(np.float32)[None], mask, acts[h], h)
                mean = np.nan_to_num(mean)
                d0 = np.stack([c * mean[:, 0] - s * mean[:, 1], s * mean[:, 0] + c * mean[:, 1]], -1)
                pos, vel = pos + d0, d0 / self.dt
                out[:, h] = pos
        finally:
            self._k, self._v, self._policy, self._before_last = live
        result = out[:n]
        result[~mask[0, :n]] = np.nan
        return result
