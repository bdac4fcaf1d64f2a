"""The streaming world model in PyTorch: a small transformer over (person, step) tokens.

Each layer does one *joint* attention of a person's current token over
* that person's own cached past tokens (attention sinks + ring buffer, see
  ``causal_nodes.world_model.cache_policy``), each described by its age bucket,
* the current tokens of everybody present at this step (social interaction; the own one with a
  learned per-head bias),
with one softmax over both, followed by a feed-forward block. Keys and values get Shaw-style learned
age embeddings (a current token's is folded into the projection bias), so no absolute position
exists anywhere. One attention instead of a temporal and a
social one halves the projections, norms and softmaxes per layer, which is what the 32-candidate
rollout spends its time on (see docs/world_model.md, "Rollout speed").
Every token also carries the robot's action and a ``robot_present`` flag (1: the people can see the robot, a
real one, the simulator's, or a pedestrian standing in for it; 0: a virtual robot that only defines the frame,
as in ETH/UCY windows without one), so that "nobody reacts to this robot" is an input, not a guess.
The head predicts the next-step displacement in the current robot frame as a residual on the
constant-velocity step (velocity × dt), plus its log-variance (Gaussian NLL).

Rollouts (imagined futures) do not write to the cache: step 0 re-reads the latest *observation* with a
candidate action and its keys/values join the memory as one extra entry (what a live step writes), the
following predicted steps attend to that memory and to each other's current tokens only. So a rollout's
cost per step is constant, and the runtime reproduces it with the step graph by not writing
(``write_onehot`` all zero; ``StreamingCachePolicy.plan_rollout`` / ``plan_read``).

The same functions run the training rollouts, the per-step ONNX graph and the unrolled, batched
rollout ONNX graph, so training and inference share one cache policy.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

NEG = -1.0e4  # additive mask; finite so fp16 engines never produce inf - inf = NaN
ACTION_COLUMNS = 3  # linear m/s, angular rad/s, robot_present (1: people can see the robot, 0: a virtual robot)
EMBED_INPUTS = 5 + ACTION_COLUMNS  # x, y, range, vx, vy + the action columns
EFFECT_INPUTS = EMBED_INPUTS - 1  # the robot-effect head sees the token's raw inputs except the flag that gates it


@dataclass
class WorldModelConfig:
    d_model: int = 32
    heads: int = 2
    layers: int = 2
    ffn: int = 64
    p_max: int = 32
    sinks: int = 2
    window: int = 12
    horizon: int = 12  # unrolled rollout length (must be <= window)
    k_max: int = 32  # candidate batch of the rollout graph
    dt: float = 0.4
    pos_scale: float = 5.0
    vel_scale: float = 1.5
    lin_scale: float = 1.5
    ang_scale: float = 1.0
    disp_scale: float = 0.4
    logvar_min: float = -12.0
    logvar_max: float = 4.0
    effect_hidden: int = 32  # width of the robot-effect head's two hidden layers (issue #16, fifth pass)
    effect_context: bool = True  # the head also reads the base's final token (its view of the others and the past)
    effect_scale: float = 1.0  # the head's output times this (its bound too): a share of the learned effect

    @property
    def slots(self) -> int:
        return self.sinks + self.window

    def to_dict(self) -> dict:
        return asdict(self)


class Memory:
    """One person-wise cache as seen by one layer during one step or rollout.

    ``k``/``v`` (Bc, P, C, D) without age embeddings, ``valid`` (Bc, P, C), ``ages`` (S, C): the age
    buckets of the cached slots at each of the S steps that will read it. ``Bc`` is either the query
    batch (training: one cache per sample) or 1 (inference: every candidate reads the one live cache,
    never copied). In the shared case the keys and values are laid out once per rollout as block matrices
    (per person, and the age embeddings per step), so that each step's scores and values are GEMMs batched
    over people (the layout that is fast on a CPU). Scores are laid out (B, P, heads, C) so that the joint
    softmax runs over the last axis.
    """

    def __init__(self, layer: Layer, k: torch.Tensor, v: torch.Tensor, valid: torch.Tensor,
                 ages: torch.Tensor) -> None:
        self.layer, self.k, self.v, self.ages = layer, k, v, ages
        self.shared = k.shape[0] == 1
        self.slots = c = k.shape[2]
        h = layer.h
        bias = (1.0 - valid) * NEG  # (Bc, P, C)
        self.bias = bias.unsqueeze(2)  # (Bc, P, 1, C)
        if self.shared:
            g = layer.group  # (D, h)
            p = k.shape[1]
            # kT[p, d, j*C + c] = k[p, c, d] * [d in head j];  vX[p, j*C + c, d] = v[p, c, d] * [d in head j];
            # the age embeddings of each step get the same layout (S, D, h*C) / (S, h*C, D)
            self.kT = self._key_blocks(k[0].transpose(1, 2), g)
            self.vX = self._key_blocks(v[0].transpose(1, 2), g).transpose(1, 2)
            self.age_kT = self._key_blocks(layer.age_k(ages).transpose(1, 2), g)
            self.age_vX = self._key_blocks(layer.age_v(ages).transpose(1, 2), g).transpose(1, 2)
            self.bias = bias[0].unsqueeze(1).expand(p, h, c).reshape(1, p, h * c)

    @staticmethod
    def _key_blocks(t: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """(N, D, C) -> (N, D, h*C) with entry [n, d, j*C + c] = t[n, d, c] * g[d, j]."""
        n, d, c = t.shape
        return (t.unsqueeze(2) * g.reshape(1, d, -1, 1)).reshape(n, d, -1)

    def scores(self, q: torch.Tensor, step: int) -> torch.Tensor:
        """Scaled scores (B, P, h, C) of queries (B, P, D) against the cache as read at ``step``."""
        layer = self.layer
        b, p, d = q.shape
        if self.shared:
            s = torch.matmul(q.transpose(0, 1), self.kT + self.age_kT[step]).transpose(0, 1)  # (B, P, h*C)
            return (s + self.bias).reshape(b, p, layer.h, self.slots)
        k = self.k + layer.age_k(self.ages[step])
        s = torch.matmul(q.unsqueeze(2) * k, layer.group)  # (B, P, C, h); q is pre-scaled
        return s.transpose(2, 3) + self.bias

    def values(self, att: torch.Tensor, step: int) -> torch.Tensor:
        """Attention-weighted cache values (B, P, D) for weights ``att`` (B, P, h, C)."""
        layer = self.layer
        b, p, h, c = att.shape
        if self.shared:
            return torch.matmul(att.reshape(b, p, h * c).transpose(0, 1), self.vX + self.age_vX[step]).transpose(0, 1)
        w = torch.matmul(att.transpose(2, 3), layer.group.t())  # (B, P, C, D)
        return (w * (self.v + layer.age_v(self.ages[step]))).sum(2)


class Layer(nn.Module):
    def __init__(self, cfg: WorldModelConfig) -> None:
        super().__init__()
        d, self.h = cfg.d_model, cfg.heads
        if d % cfg.heads:
            raise ValueError("d_model must be a multiple of heads")
        self.dh = d // cfg.heads
        self.norm_a, self.norm_f = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        # age buckets 1..window of cached steps; a current token (age 0) needs none: the k/v bias is its embedding
        self.age_k = nn.Embedding(cfg.window + 1, d)
        self.age_v = nn.Embedding(cfg.window + 1, d)
        self.self_bias = nn.Parameter(torch.zeros(cfg.heads))  # the own current token among everybody's
        self.ffn = nn.Sequential(nn.Linear(d, cfg.ffn), nn.ReLU(), nn.Linear(cfg.ffn, d))
        self.register_buffer("qkv_scale", torch.tensor([self.dh ** -0.5] * d + [1.0] * (2 * d)), persistent=False)
        group = torch.zeros(d, cfg.heads)
        for i in range(cfg.heads):
            group[i * self.dh : (i + 1) * self.dh, i] = 1.0
        self.register_buffer("group", group, persistent=False)

    def project(self, x: torch.Tensor, b: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Query, key, value (B, P, D) of the current tokens x (B*P, D); k and v are what the cache stores."""
        # the attention scale is folded into the query weights (a constant in the exported graphs)
        qkv = nn.functional.linear(self.norm_a(x), self.qkv.weight * self.qkv_scale.unsqueeze(-1),
                                   self.qkv.bias * self.qkv_scale)
        q, k, v = qkv.reshape(b, -1, 3 * x.shape[-1]).chunk(3, dim=-1)
        return q, k, v

    def now_bias(self, mask: torch.Tensor, eye: torch.Tensor) -> torch.Tensor:
        """Additive scores (B, P, h, P) over everybody's current token: absent people are never keys,
        the own token gets a learned per-head bias."""
        b, p = mask.shape
        return self.self_bias.reshape(1, 1, self.h, 1) * eye.unsqueeze(1) + ((1.0 - mask) * NEG).reshape(b, 1, 1, p)

    def attend(self, x: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, now_bias: torch.Tensor,
               memory: Memory, step: int, extra: tuple[torch.Tensor, torch.Tensor, int] | None = None) -> torch.Tensor:
        """One joint attention + FFN; ``x`` (B*P, D) is the residual stream, ``q, k, v`` (B, P, D) its projections.

        Keys: ``memory`` as read at ``step``, everybody's current token (``now_bias`` from
        :meth:`now_bias`), and optionally ``extra`` = (k, v (B, P, D), age bucket): one entry per query,
        the rollout's step 0. Per-head products use block matrices built with the (D, heads) indicator
        ``group``, so every product is one GEMM per candidate or per person instead of one per head.
        """
        b, p, d = q.shape
        h, g = self.h, self.group
        k_blocks = (k.transpose(1, 2).unsqueeze(2) * g.reshape(1, d, h, 1)).reshape(b, d, h * p)
        s_now = torch.matmul(q, k_blocks).reshape(b, p, h, p) + now_bias
        parts = [memory.scores(q, step), s_now]
        if extra is not None:
            ek, ev, e_age = extra
            s_e = torch.matmul(q * (ek + self.age_k.weight[e_age]), g)  # (B, P, h)
            parts.append(s_e.unsqueeze(-1))
        att = torch.softmax(torch.cat(parts, dim=-1), dim=-1)  # (B, P, h, C + P [+ 1])
        c = memory.slots
        v_blocks = (v.unsqueeze(1) * g.t().reshape(1, h, 1, d)).reshape(b, h * p, d)
        out = memory.values(att[..., :c], step) + torch.matmul(att[..., c : c + p].reshape(b, p, h * p), v_blocks)
        if extra is not None:
            out = out + torch.matmul(att[..., c + p], g.t()) * (ev + self.age_v.weight[e_age])
        x = x + self.out(out.reshape(b * p, d))
        return x + self.ffn(self.norm_f(x))


class RobotEffectHead(nn.Module):
    """How a person's next step changes because they see the robot (issue #16, fifth pass).

    The forecast is ``base + robot_present × effect``: the base (every other weight) is trained on ETH/UCY, where
    no robot exists, and stays frozen; this head is trained afterwards on the simulator's robot-interaction
    episodes only (``training/train_effect_head.py``), on the simulator's *effect* of the robot (the paths with minus
    without people seeing it), so it learns the response to the robot, not how the simulator's people differ from
    real ones. With ``robot_present = 0`` (every ETH/UCY window) its output is multiplied by zero and the forecast is
    the base's, bit for bit. Inputs: the token's own raw inputs (position, range, ground velocity in the robot frame,
    the robot's command) and, with ``effect_context``, the base's normalised final token (what it made of the
    others and of the person's past). The last layer starts at zero, so an untrained head changes nothing.
    """

    def __init__(self, cfg: WorldModelConfig) -> None:
        super().__init__()
        h = cfg.effect_hidden
        self.context = cfg.effect_context
        inputs = EFFECT_INPUTS + (cfg.d_model if cfg.effect_context else 0)
        self.net = nn.Sequential(nn.Linear(inputs, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 2))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        # at most 2 × disp_scale (0.8 m per 0.4 s step, a 2 m/s change of velocity) whatever the input: a robot's
        # command or a person far outside the simulator's episodes cannot throw a forecast away; ``effect_scale``
        # (training/scale_effect_head.py) keeps that share of the learned effect
        self.bound = 2.0 * cfg.disp_scale * cfg.effect_scale

    def forward(self, raw: torch.Tensor, inv_scale: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Displacement change (N, 2) in the robot frame from raw inputs (N, EFFECT_INPUTS) and, with
        ``effect_context``, the base's normalised final token (N, d_model), bounded by ``bound`` (tanh; zero weights
        give exactly zero); the input normalisation is folded into the first layer."""
        first, mid, last = self.net[0], self.net[2], self.net[4]
        if self.context:
            raw = torch.cat([raw, context], dim=-1)
            inv_scale = torch.cat([inv_scale, inv_scale.new_ones(context.shape[-1])])
        z = torch.relu(nn.functional.linear(raw, first.weight * inv_scale, first.bias))
        z = torch.relu(mid(z))
        return torch.tanh(nn.functional.linear(z, last.weight, last.bias)) * self.bound


class StreamingWorldModel(nn.Module):
    def __init__(self, cfg: WorldModelConfig) -> None:
        super().__init__()
        if cfg.horizon > cfg.window:
            raise ValueError("horizon must be <= window so the rollout's step 0 stays inside the age buckets")
        self.cfg = cfg
        d = cfg.d_model
        self.embed_in = nn.Linear(7, d)
        # the robot_present input (issue #16, fourth pass) is an eighth column whose weight starts at zero: an
        # untrained flag changes nothing, the random draws of every other weight stay those of the 7-input model
        # (same seed, same initial model), and old 7-input weights load with that column zero (load_state_dict)
        with torch.no_grad():
            self.embed_in.weight = nn.Parameter(torch.cat([self.embed_in.weight, torch.zeros(d, 1)], dim=1))
        self.embed_in.in_features = EMBED_INPUTS
        self.embed_out = nn.Linear(d, d)
        # input normalisation folded into the first layer's weights (one GEMM, no elementwise scaling)
        inv = [1 / cfg.pos_scale] * 3 + [1 / cfg.vel_scale] * 2 + [1 / cfg.lin_scale, 1 / cfg.ang_scale, 1.0]
        self.register_buffer("inv_scale", torch.tensor(inv), persistent=False)
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg.layers))
        self.norm_out = nn.LayerNorm(d)
        self.head = nn.Linear(d, 4)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.register_buffer("head_scale", torch.tensor([cfg.disp_scale] * 2 + [1.0] * 2), persistent=False)
        self.register_buffer("head_offset", torch.tensor([0.0] * 2 + [-4.0] * 2), persistent=False)
        self.register_buffer("eye", torch.eye(cfg.p_max), persistent=False)
        self.effect = RobotEffectHead(cfg)

    def base_parameters(self) -> list[nn.Parameter]:
        """Every weight but the robot-effect head's (what ``train_effect_head`` freezes)."""
        own = {id(p) for p in self.effect.parameters()}
        return [p for p in self.parameters() if id(p) not in own]

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Also loads weights of the 7-input model (before the robot_present column), with that column zero, and
        of models without the robot-effect head, with an all-zero head: such a model predicts exactly what it
        did, whatever the flag."""
        w = state_dict.get("embed_in.weight")
        if w is not None and w.shape[1] == EMBED_INPUTS - 1:
            state_dict = {**state_dict, "embed_in.weight": torch.cat([w, w.new_zeros(w.shape[0], 1)], dim=1)}
        if not any(k.startswith("effect.") for k in state_dict):
            zero = {f"effect.{k}": torch.zeros_like(v) for k, v in self.effect.state_dict().items()}
            state_dict = {**state_dict, **zero}
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    @property
    def has_effect(self) -> bool:
        """Whether the robot-effect head can change anything (an untrained or missing head is all zero)."""
        last = self.effect.net[-1]
        return bool(last.weight.abs().sum() + last.bias.abs().sum() > 0)

    # -- shared pieces -------------------------------------------------------------------------
    def embed(self, xy: torch.Tensor, vel: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens (B*P, D) from robot-frame positions and velocities (B, P, 2) and the action (B, P, 3):
        [linear, angular, robot_present]; also the raw inputs (B*P, EMBED_INPUTS) for the robot-effect head."""
        r = torch.sqrt((xy * xy).sum(-1, keepdim=True) + 1e-6)
        raw = torch.cat([xy, r, vel, action], dim=-1).reshape(-1, EMBED_INPUTS)
        z = nn.functional.linear(raw, self.embed_in.weight * self.inv_scale, self.embed_in.bias)
        return self.embed_out(torch.relu(z)), raw

    def head_out(self, x: torch.Tensor, vel: torch.Tensor, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance (B, P, 2) of the next displacement from tokens x (B*P, D).

        The mean is a residual on the constant-velocity step; the residual scale and the log-variance
        offset are folded into the head's weights (constants in the exported graphs). The robot-effect head's
        displacement change is added times the token's ``robot_present`` (last raw column): zero where no robot
        is seen, whatever the head outputs."""
        c = self.cfg
        w = self.head.weight * self.head_scale.unsqueeze(-1)
        token = self.norm_out(x)
        out = nn.functional.linear(token, w, self.head.bias * self.head_scale + self.head_offset)
        mean, logvar = out.reshape(vel.shape[:-1] + (4,)).chunk(2, dim=-1)
        effect = self.effect(raw[:, :EFFECT_INPUTS], self.inv_scale[:EFFECT_INPUTS], token) * raw[:, EFFECT_INPUTS:]
        return vel * c.dt + mean + effect.reshape(vel.shape), torch.clamp(logvar, c.logvar_min, c.logvar_max)

    def _eye(self, p: int) -> torch.Tensor:
        return self.eye[:p, :p]

    # -- one streaming step (the per-step ONNX graph) ------------------------------------------
    def step(self, people, mask, action, past_k, past_v, past_valid, past_age, write_onehot):
        """people (B,P,4) robot frame [x,y,vx,vy]; mask (B,P); action (B,3) [linear, angular, robot_present];
        past_k/v (L,B,P,C,D);
        past_valid (B,P,C); past_age (C,) int64; write_onehot (C,) (all zero: read only, nothing
        written, as a rollout step). Returns mean, logvar (B,P,2), present_k, present_v (L,B,P,C,D)."""
        b, p = mask.shape
        x, raw = self.embed(people[..., :2], people[..., 2:4], action.unsqueeze(1).expand(b, p, action.shape[-1]))
        eye = self._eye(p)
        ks, vs = [], []
        for i, layer in enumerate(self.layers):
            q, k, v = layer.project(x, b)
            memory = Memory(layer, past_k[i], past_v[i], past_valid, past_age.unsqueeze(0))
            x = layer.attend(x, q, k, v, layer.now_bias(mask, eye), memory, 0)
            ks.append(k)
            vs.append(v)
        w = write_onehot.reshape(1, 1, 1, -1, 1)
        present_k = past_k * (1.0 - w) + torch.stack(ks).unsqueeze(-2) * w
        present_v = past_v * (1.0 - w) + torch.stack(vs).unsqueeze(-2) * w
        mean, logvar = self.head_out(x, people[..., 2:4], raw)
        return mean, logvar, present_k, present_v

    # -- unrolled rollout (the batched rollout ONNX graph) -------------------------------------
    def rollout(self, people, mask, past_k, past_v, past_valid, past_age, robot_pose, actions, noise,
                horizon: int | None = None):
        """Predict ``horizon`` steps for K candidate action sequences in one pass.

        people (Bp,P,4) and mask (Bp,P): the latest observation (robot frame at rollout start);
        past_k/v (L,Bp,P,C,D): cache *before* that observation; past_valid (Bp,P,C) and past_age
        (H,C): from ``StreamingCachePolicy.plan_rollout``; robot_pose (K,H,4) = [x, y, cos yaw, sin yaw]
        of the robot at each step in the start frame; actions (K,H,3) [linear, angular, robot_present];
        noise (K,H,P,2) standard normal (zeros = mean prediction). Bp is 1 (inference: the cache is read, never
        copied) or K.
        Returns positions (K,P,H,2) in the start robot frame and logvar (K,P,H,2).
        """
        c = self.cfg
        horizon = horizon or c.horizon
        k_count, p = actions.shape[0], mask.shape[-1]
        pos = people[..., :2].expand(k_count, -1, -1)
        vel = people[..., 2:4].expand(k_count, -1, -1)
        mask_k = mask.expand(k_count, -1)
        eye = self._eye(p)
        memories = [Memory(layer, past_k[i], past_v[i], past_valid, past_age[:horizon])
                    for i, layer in enumerate(self.layers)]
        now_bias = [layer.now_bias(mask_k, eye) for layer in self.layers]
        # frames: row vectors times to_robot[h] give the robot frame of step h, times to_start[h] go back
        cs, sn = robot_pose[..., 2], robot_pose[..., 3]  # (K, H)
        to_robot = torch.stack([torch.stack([cs, -sn], -1), torch.stack([sn, cs], -1)], -2)  # (K, H, 2, 2)
        to_start = to_robot.transpose(-1, -2)
        origin = robot_pose[..., :2].unsqueeze(2)  # (K, H, 1, 2)
        acts = actions.unsqueeze(2).expand(k_count, actions.shape[1], p, actions.shape[2])
        first: list[tuple[torch.Tensor, torch.Tensor]] = []
        positions, logvars = [], []
        for h in range(horizon):
            rel = torch.matmul(pos - origin[:, h], to_robot[:, h])
            velr = torch.matmul(vel, to_robot[:, h])
            x, raw = self.embed(rel, velr, acts[:, h])
            for i, layer in enumerate(self.layers):
                q, k, v = layer.project(x, k_count)
                extra = (first[i][0], first[i][1], h) if h > 0 else None
                x = layer.attend(x, q, k, v, now_bias[i], memories[i], h, extra)
                if h == 0:
                    first.append((k, v))
            mean, logvar = self.head_out(x, velr, raw)
            # a sample perturbs the positions; the velocity the next step sees is the mean one, so the noise
            # does not compound through the model's input (fed back, it drove samples metres off in 12 steps)
            d0 = torch.matmul(mean, to_start[:, h])
            pos = pos + d0 + torch.matmul(noise[:, h] * torch.exp(0.5 * logvar), to_start[:, h])
            vel = d0 * (1.0 / c.dt)
            positions.append(pos)
            logvars.append(logvar)
        return torch.stack(positions, dim=2), torch.stack(logvars, dim=2)


def empty_cache(cfg: WorldModelConfig, batch: int, people: int = 0) -> torch.Tensor:
    """Zero KV cache (layers, batch, people, slots, d_model); ``people`` defaults to p_max.

    Training pads each batch only to its largest crowd: the model is permutation-equivariant over
    people and masks the padding, so a smaller P gives identical predictions at a fraction of the cost.
    """
    return torch.zeros(cfg.layers, batch, people or cfg.p_max, cfg.slots, cfg.d_model)
