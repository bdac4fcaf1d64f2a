"""The streaming world model in PyTorch: a small causal transformer over time steps.

Tokens are (person, step). Each layer does
1. *temporal* attention of a person's current token over that person's cached past tokens
   (attention sinks + ring buffer, see ``causal_nodes.world_model.cache_policy``) with
   Shaw-style relative age embeddings added to keys and values, so no absolute position exists;
2. *social* attention across the people present at the current step;
3. a feed-forward block.
The head predicts the next-step displacement in the current robot frame as a residual on the
constant-velocity step (velocity × dt), plus its log-variance (Gaussian NLL).

The same functions run the training rollouts, the per-step ONNX graph and the unrolled, batched
rollout ONNX graph, so training and inference share one cache policy.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

NEG = -1.0e4  # additive mask; finite so fp16 engines never produce inf - inf = NaN


@dataclass
class WorldModelConfig:
    d_model: int = 32
    heads: int = 4
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

    @property
    def slots(self) -> int:
        return self.sinks + self.window

    def to_dict(self) -> dict:
        return asdict(self)


class Layer(nn.Module):
    def __init__(self, cfg: WorldModelConfig) -> None:
        super().__init__()
        d, self.h = cfg.d_model, cfg.heads
        self.dh = d // cfg.heads
        self.norm_t, self.norm_s, self.norm_f = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv_t = nn.Linear(d, 3 * d)
        self.out_t = nn.Linear(d, d)
        self.age_k = nn.Embedding(cfg.window + 1, d)
        self.age_v = nn.Embedding(cfg.window + 1, d)
        self.qkv_s = nn.Linear(d, 3 * d)
        self.out_s = nn.Linear(d, d)
        self.ffn = nn.Sequential(nn.Linear(d, cfg.ffn), nn.ReLU(), nn.Linear(cfg.ffn, d))
        self.scale = self.dh ** -0.5
        group = torch.zeros(d, cfg.heads)
        for i in range(cfg.heads):
            group[i * self.dh : (i + 1) * self.dh, i] = 1.0
        self.register_buffer("group", group, persistent=False)

    def split(self, t: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., heads, dh)."""
        return t.reshape(t.shape[:-1] + (self.h, self.dh))

    def temporal(self, x: torch.Tensor, blocks: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]):
        """Attend over memory blocks plus the current token.

        ``blocks``: (k (Bm,P,M,D), v (Bm,P,M,D), valid (Bv,P,M), age (M,) int64); Bm may be 1 while x
        has batch B (the rollout keeps the pre-rollout cache un-copied). Returns (out, k_cur, v_cur).

        Scores are laid out (B, P, M, heads). Per-head dot products are an elementwise product
        followed by a GEMM with the (D, heads) block indicator ``group``: that keeps the work in
        large GEMMs instead of thousands of 1×dh×M products, which is what makes the rollout fast
        on CPU, and it stays plain Mul/MatMul/ReduceSum in ONNX.
        """
        out, k_cur, v_cur, _ = self._temporal(x, blocks)
        return out, k_cur, v_cur

    def _temporal(self, x, blocks, shared_past=None):
        """Shared implementation; ``shared_past`` = (s_past (P,h,K,C), v_past (P,h,C,dh), pre-attention
        values) from :meth:`shared_past_scores` joins the softmax without copying the cache K times."""
        group = self.group
        q, k_cur, v_cur = self.qkv_t(self.norm_t(x)).chunk(3, dim=-1)
        q = q.unsqueeze(-2)  # (B,P,1,D)
        k0 = (k_cur + self.age_k.weight[0]).unsqueeze(-2)
        v0 = (v_cur + self.age_v.weight[0]).unsqueeze(-2)
        scores = [torch.matmul(q * k0, group) * self.scale]  # (B,P,1,h)
        values = [v0]
        for k, v, valid, age in blocks:
            k_eff = k + self.age_k(age)  # (Bm,P,M,D)
            v_eff = v + self.age_v(age)
            s = torch.matmul(q * k_eff, group) * self.scale  # (B,P,M,h)
            values.append(v_eff)
            scores.append(s + ((1.0 - valid) * NEG).unsqueeze(-1))
        att = torch.softmax(torch.cat(scores, dim=-2), dim=-2)  # over memory entries
        out = torch.zeros_like(x)
        start = 0
        for v in values:
            m = v.shape[-2]
            out = out + (torch.matmul(att[..., start : start + m, :], group.t()) * v).sum(-2)
            start += m
        return x + self.out_t(out), k_cur, v_cur, None

    def shared_past(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Head-split views of one stream's cache (P,C,D), computed once per rollout."""
        return self.split(k).permute(0, 2, 3, 1), self.split(v).transpose(1, 2)  # (P,h,dh,C), (P,h,C,dh)

    def temporal_shared(self, x: torch.Tensor, new_kv: list[tuple[torch.Tensor, torch.Tensor]],
                        past: tuple[torch.Tensor, torch.Tensor], past_valid: torch.Tensor, past_age: torch.Tensor,
                        mask: torch.Tensor):
        """``temporal`` for K candidates that share one pre-rollout cache (identical math).

        ``new_kv``: keys/values (K,P,D) written during the rollout, oldest first; ``past_valid``
        (P,C); ``mask`` (K,P). The shared cache is read with one GEMM per (person, head) in layout
        (P, h, K, C) and its age embeddings are added to that cache once, not to K copies. The
        rollout's own keys are ordered newest first so their ages are 0..m, which turns the age
        terms into one GEMM with a (D, ages × heads) block matrix plus a contiguous slice. The
        softmax over [cache, rollout keys] is assembled from both layouts with a common max, so
        nothing of size K × cache is materialised.
        """
        group = self.group
        kT, vP = past
        kk, pp, d = x.shape
        ages = self.age_k.num_embeddings
        q, k_cur, v_cur = self.qkv_t(self.norm_t(x)).chunk(3, dim=-1)
        qp = self.split(q).permute(1, 2, 0, 3) * self.scale  # (P,h,K,dh)
        kT_age = kT + self.split(self.age_k(past_age)).permute(1, 2, 0)  # (P,h,dh,C)
        s_past = torch.matmul(qp, kT_age) + ((1.0 - past_valid) * NEG).unsqueeze(1).unsqueeze(1)  # (P,h,K,C)
        ks = torch.stack([k_cur] + [k for k, _ in reversed(new_kv)], dim=2)  # (K,P,m+1,D), age 0..m
        vs = torch.stack([v_cur] + [v for _, v in reversed(new_kv)], dim=2)
        m1 = ks.shape[2]
        age_k_blocks = (self.age_k.weight.t().unsqueeze(-1) * group.unsqueeze(1)).reshape(d, ages * self.h)
        q_age = torch.matmul(q, age_k_blocks).reshape(kk, pp, ages, self.h)[:, :, :m1]  # (K,P,m+1,h)
        s_new = (torch.matmul(q.unsqueeze(-2) * ks, group) + q_age) * self.scale
        if m1 > 1:
            invalid = (1.0 - mask).unsqueeze(-1).unsqueeze(-1) * NEG  # (K,P,1,1)
            s_new = torch.cat([s_new[:, :, :1], s_new[:, :, 1:] + invalid], dim=2)
        mx = torch.maximum(s_new.amax(dim=-2, keepdim=True), s_past.amax(dim=-1, keepdim=True).permute(2, 0, 3, 1))
        e_new = torch.exp(s_new - mx)  # (K,P,m+1,h)
        e_past = torch.exp(s_past - mx.permute(1, 3, 0, 2))  # (P,h,K,C)
        denom = e_new.sum(dim=-2) + e_past.sum(dim=-1).permute(2, 0, 1)  # (K,P,h)
        age_v = self.split(self.age_v(past_age)).transpose(0, 1)  # (h,C,dh)
        out = torch.matmul(e_past, vP + age_v).permute(2, 0, 1, 3).reshape(kk, pp, d)
        age_v_blocks = (self.age_v.weight.unsqueeze(1) * group.t().unsqueeze(0)).reshape(ages * self.h, d)
        out = out + (torch.matmul(e_new, group.t()) * vs).sum(-2)
        out = out + torch.matmul(e_new.reshape(kk, pp, m1 * self.h), age_v_blocks[: m1 * self.h])
        out = out / torch.matmul(denom, group.t())
        return x + self.out_t(out), k_cur, v_cur

    def social(self, x: torch.Tensor, mask: torch.Tensor, eye: torch.Tensor) -> torch.Tensor:
        """Attention across people at the current step; absent people are never keys."""
        q, k, v = self.qkv_s(self.norm_s(x)).chunk(3, dim=-1)
        q, k, v = (self.split(t).transpose(1, 2) for t in (q, k, v))  # (B,h,P,dh)
        s = torch.matmul(q, k.transpose(-1, -2)) * self.scale  # (B,h,P,P)
        allowed = torch.maximum(mask.unsqueeze(1).unsqueeze(1), eye)  # self always allowed
        s = s + (1.0 - allowed) * NEG
        out = torch.matmul(torch.softmax(s, dim=-1), v).transpose(1, 2).reshape(x.shape)
        return x + self.out_s(out)

    def forward_ffn(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.ffn(self.norm_f(x))


class StreamingWorldModel(nn.Module):
    def __init__(self, cfg: WorldModelConfig) -> None:
        super().__init__()
        if cfg.horizon > cfg.window:
            raise ValueError("horizon must be <= window so rollout keys are never evicted")
        self.cfg = cfg
        d = cfg.d_model
        self.embed = nn.Sequential(nn.Linear(7, d), nn.ReLU(), nn.Linear(d, d))
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg.layers))
        self.norm_out = nn.LayerNorm(d)
        self.head = nn.Linear(d, 4)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.register_buffer("eye", torch.eye(cfg.p_max), persistent=False)

    # -- shared pieces -------------------------------------------------------------------------
    def features(self, people: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        xy, vel = people[..., :2], people[..., 2:4]
        r = torch.sqrt((xy * xy).sum(-1, keepdim=True) + 1e-6)
        act = action.unsqueeze(-2).expand(people.shape[:-1] + (2,))
        scale_a = torch.tensor([c.lin_scale, c.ang_scale], dtype=people.dtype)
        return torch.cat([xy / c.pos_scale, r / c.pos_scale, vel / c.vel_scale, act / scale_a], dim=-1)

    def head_out(self, x: torch.Tensor, vel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.cfg
        out = self.head(self.norm_out(x))
        mean = vel * c.dt + out[..., :2] * c.disp_scale
        logvar = torch.clamp(out[..., 2:] - 4.0, c.logvar_min, c.logvar_max)
        return mean, logvar

    # -- one streaming step (the per-step ONNX graph) ------------------------------------------
    def step(self, people, mask, action, past_k, past_v, past_valid, past_age, write_onehot):
        """people (B,P,4) robot frame [x,y,vx,vy]; mask (B,P); action (B,2); past_k/v (L,B,P,C,D);
        past_valid (B,P,C); past_age (C,) int64; write_onehot (C,). Returns mean, logvar (B,P,2),
        present_k, present_v (L,B,P,C,D)."""
        x = self.embed(self.features(people, action))
        ks, vs = [], []
        for i, layer in enumerate(self.layers):
            x, k_cur, v_cur = layer.temporal(x, [(past_k[i], past_v[i], past_valid, past_age)])
            x = layer.forward_ffn(layer.social(x, mask, self.eye[: mask.shape[-1], : mask.shape[-1]]))
            ks.append(k_cur)
            vs.append(v_cur)
        w = write_onehot.reshape(1, 1, 1, -1, 1)
        present_k = past_k * (1.0 - w) + torch.stack(ks).unsqueeze(-2) * w
        present_v = past_v * (1.0 - w) + torch.stack(vs).unsqueeze(-2) * w
        mean, logvar = self.head_out(x, people[..., 2:4])
        return mean, logvar, present_k, present_v

    # -- unrolled rollout (the batched rollout ONNX graph) -------------------------------------
    def rollout(self, people, mask, past_k, past_v, past_valid, past_age, robot_pose, actions, noise,
                horizon: int | None = None):
        """Predict ``horizon`` steps for K candidate action sequences in one pass.

        people (Bp,P,4) and mask (Bp,P): the latest observation (robot frame at rollout start);
        past_k/v (L,Bp,P,C,D): cache *before* that observation; past_valid (H,Bp,P,C) and
        past_age (H,C): from ``StreamingCachePolicy.plan_rollout``; robot_pose (K,H,4) =
        [x, y, cos yaw, sin yaw] of the robot at each step in the start frame; actions (K,H,2);
        noise (K,H,P,2) standard normal (zeros = mean prediction). Bp is 1 or K.
        Returns positions (K,P,H,2) in the start robot frame and logvar (K,P,H,2).
        """
        c = self.cfg
        horizon = horizon or c.horizon
        k_count = actions.shape[0]
        pos = people[..., :2].expand(k_count, -1, -1)
        vel = people[..., 2:4].expand(k_count, -1, -1)
        mask_k = mask.expand(k_count, -1)
        new_k: list[list[torch.Tensor]] = [[] for _ in self.layers]
        new_v: list[list[torch.Tensor]] = [[] for _ in self.layers]
        positions, logvars = [], []
        shared = past_k.shape[1] == 1  # inference: one live cache read by all K candidates
        past = (
            [layer.shared_past(past_k[i][0], past_v[i][0]) for i, layer in enumerate(self.layers)] if shared else None
        )
        for h in range(horizon):
            rx, ry = robot_pose[:, h, 0:1], robot_pose[:, h, 1:2]
            cs, sn = robot_pose[:, h, 2:3], robot_pose[:, h, 3:4]
            dx, dy = pos[..., 0] - rx, pos[..., 1] - ry
            rel = torch.stack([cs * dx + sn * dy, -sn * dx + cs * dy], dim=-1)
            velr = torch.stack([cs * vel[..., 0] + sn * vel[..., 1], -sn * vel[..., 0] + cs * vel[..., 1]], dim=-1)
            obs = torch.cat([rel, velr], dim=-1)
            x = self.embed(self.features(obs, actions[:, h]))
            for i, layer in enumerate(self.layers):
                if shared:
                    x, k_cur, v_cur = layer.temporal_shared(x, list(zip(new_k[i], new_v[i])), past[i],
                                                            past_valid[h][0], past_age[h], mask_k)
                else:
                    blocks = [(past_k[i], past_v[i], past_valid[h], past_age[h])]
                    if h > 0:
                        ages = torch.arange(h, 0, -1, dtype=torch.int64)
                        valid_new = mask_k.unsqueeze(-1).expand(-1, -1, h)
                        blocks.append((torch.stack(new_k[i], dim=2), torch.stack(new_v[i], dim=2), valid_new, ages))
                    x, k_cur, v_cur = layer.temporal(x, blocks)
                x = layer.forward_ffn(layer.social(x, mask_k, self.eye[: mask.shape[-1], : mask.shape[-1]]))
                new_k[i].append(k_cur)
                new_v[i].append(v_cur)
            mean, logvar = self.head_out(x, velr)
            disp = mean + noise[:, h] * torch.exp(0.5 * logvar)
            d0 = torch.stack([cs * disp[..., 0] - sn * disp[..., 1], sn * disp[..., 0] + cs * disp[..., 1]], dim=-1)
            pos = pos + d0
            vel = d0 / c.dt
            positions.append(pos)
            logvars.append(logvar)
        return torch.stack(positions, dim=2), torch.stack(logvars, dim=2)


def empty_cache(cfg: WorldModelConfig, batch: int, people: int = 0) -> torch.Tensor:
    """Zero KV cache (layers, batch, people, slots, d_model); ``people`` defaults to p_max.

    Training pads each batch only to its largest crowd: the model is permutation-equivariant over
    people and masks the padding, so a smaller P gives identical predictions at a fraction of the cost.
    """
    return torch.zeros(cfg.layers, batch, people or cfg.p_max, cfg.slots, cfg.d_model)
