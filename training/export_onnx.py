"""Export the trained model as two static-shape ONNX graphs plus a metadata JSON.

* ``<name>.onnx`` — one streaming step, batch 1: the KV cache is an explicit input/output
  (``past_k/past_v`` → ``present_k/present_v``, fixed shape ``(layers, 1, p_max, slots, d_model)``);
* ``<name>_rollout.onnx`` — ``horizon`` steps unrolled (no Loop op) for ``k_max`` candidate action
  sequences at once, reading the live cache without copying it;
* ``<name>_rollout_p<N>.onnx`` (optional, ``buckets``) — the same rollout for N < p_max person slots: the
  model is permutation-equivariant and absent people are never keys, so the runtime packs the people
  present into the smallest bucket that holds them and pays for those, not for p_max.
Opset 17, no dynamic axes, so TensorRT can build every graph without optimisation profiles.
"""
from __future__ import annotations

import json
from pathlib import Path

import onnx
import torch
from torch import nn

from causal_nodes.world_model.metadata import (
    FORMAT,
    ROLLOUT_INPUTS,
    ROLLOUT_OUTPUTS,
    STEP_INPUTS,
    STEP_OUTPUTS,
    sha256_file,
)
from training.model import ACTION_COLUMNS, EFFECT_INPUTS, StreamingWorldModel

OPSET = 17


class _Step(nn.Module):
    def __init__(self, model: StreamingWorldModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, *args):
        return self.model.step(*args)


class _Rollout(nn.Module):
    def __init__(self, model: StreamingWorldModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, *args):
        return self.model.rollout(*args)


def example_step_inputs(model: StreamingWorldModel) -> tuple:
    c = model.cfg
    cache = torch.zeros(c.layers, 1, c.p_max, c.slots, c.d_model)
    return (torch.zeros(1, c.p_max, 4), torch.ones(1, c.p_max), torch.zeros(1, ACTION_COLUMNS), cache, cache.clone(),
            torch.zeros(1, c.p_max, c.slots), torch.zeros(c.slots, dtype=torch.int64), torch.eye(c.slots)[0])


def example_rollout_inputs(model: StreamingWorldModel, people: int = 0) -> tuple:
    c = model.cfg
    p = people or c.p_max
    cache = torch.zeros(c.layers, 1, p, c.slots, c.d_model)
    pose = torch.zeros(c.k_max, c.horizon, 4)
    pose[..., 2] = 1.0
    return (torch.zeros(1, p, 4), torch.ones(1, p), cache, cache.clone(), torch.zeros(1, p, c.slots),
            torch.zeros(c.horizon, c.slots, dtype=torch.int64), pose, torch.zeros(c.k_max, c.horizon, ACTION_COLUMNS),
            torch.zeros(c.k_max, c.horizon, p, 2))


def _export(module: nn.Module, inputs: tuple, names_in, names_out, path: Path) -> None:
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, inputs, str(path), input_names=list(names_in), output_names=list(names_out),
                          opset_version=OPSET, do_constant_folding=True, dynamo=False)
    model = _compact_names(onnx.load(str(path)))
    onnx.save(model, str(path))
    onnx.checker.check_model(model, full_check=True)


def _constants_to_shared_initializers(g: onnx.GraphProto) -> None:
    """Turn Constant nodes into initializers, one per distinct value (the unrolled graph repeats the
    same axes/shapes/indices thousands of times)."""
    by_value, alias, kept = {}, {}, []
    for n in g.node:
        if n.op_type == "Constant" and len(n.attribute) == 1 and n.attribute[0].name == "value":
            t = n.attribute[0].t
            key = (t.data_type, tuple(t.dims), t.SerializeToString(deterministic=True).replace(t.name.encode(), b""))
            if key not in by_value:
                init = onnx.TensorProto()
                init.CopyFrom(t)
                init.name = f"c{len(by_value)}"
                g.initializer.append(init)
                by_value[key] = init.name
            alias[n.output[0]] = by_value[key]
        else:
            kept.append(n)
    for n in kept:
        n.input[:] = [alias.get(x, x) for x in n.input]
    del g.node[:]
    g.node.extend(kept)


def _compact_names(model: onnx.ModelProto) -> onnx.ModelProto:
    """Short node and intermediate-tensor names: the unrolled rollout graph has ~6000 nodes whose
    exporter names ("/layers.0/qkv_t/MatMul_output_0") would otherwise dominate the file size."""
    g = model.graph
    _constants_to_shared_initializers(g)
    keep = {i.name for i in g.input} | {o.name for o in g.output} | {i.name for i in g.initializer}
    rename = {}
    for n in g.node:
        for name in n.output:
            if name and name not in keep and name not in rename:
                rename[name] = f"t{len(rename)}"
    for idx, n in enumerate(g.node):
        n.name = f"n{idx}"
        n.doc_string = ""
        n.input[:] = [rename.get(x, x) for x in n.input]
        n.output[:] = [rename.get(x, x) for x in n.output]
    kept_info = [v for v in g.value_info if v.name in rename]
    for v in kept_info:
        v.name = rename[v.name]
    return model


def _io(path: Path) -> dict[str, list]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    from causal_nodes.world_model.metadata import io_spec

    return {"inputs": io_spec(sess.get_inputs()), "outputs": io_spec(sess.get_outputs())}


def _entry(path: Path) -> dict:
    return {"file": path.name, "sha256": sha256_file(path), **_io(path)}


def export_all(
    model: StreamingWorldModel, out: Path, name: str, training: dict, metrics: dict | None = None,
    buckets: tuple[int, ...] = (),
) -> dict[str, Path]:
    """Write the step graph, the p_max rollout graph, rollout graphs for the person ``buckets`` below
    p_max, and the metadata JSON (shapes, hashes, training info, metrics)."""
    out.mkdir(parents=True, exist_ok=True)
    c = model.cfg
    buckets = tuple(sorted({int(b) for b in buckets if 0 < int(b) < c.p_max}))
    step_path, roll_path = out / f"{name}.onnx", out / f"{name}_rollout.onnx"
    _export(_Step(model), example_step_inputs(model), STEP_INPUTS, STEP_OUTPUTS, step_path)
    _export(_Rollout(model), example_rollout_inputs(model), ROLLOUT_INPUTS, ROLLOUT_OUTPUTS, roll_path)
    bucket_paths = {b: out / f"{name}_rollout_p{b}.onnx" for b in buckets}
    for b, path in bucket_paths.items():
        _export(_Rollout(model), example_rollout_inputs(model, b), ROLLOUT_INPUTS, ROLLOUT_OUTPUTS, path)
    for stale in out.glob(f"{name}_rollout_p*.onnx"):  # buckets of an earlier export with this name
        if stale not in bucket_paths.values():
            stale.unlink()
    meta = {
        "format": FORMAT,
        "opset": OPSET,
        "config": c.to_dict(),
        "step_model": _entry(step_path),
        "rollout_model": _entry(roll_path),
        "rollout_buckets": [{"people": b, **_entry(path)} for b, path in bucket_paths.items()],
        "frames": ("inputs per person: [x, y, vx, vy] in the robot frame of the step (REP 103: x forward, "
                   "y left; m, m/s; velocity = the person's ground velocity rotated into the robot frame); "
                   "action: [linear m/s, angular rad/s, robot_present] (the command applied from this step to "
                   "the next; robot_present 1: the people can see the robot, 0: a virtual robot that only "
                   "defines the frame, e.g. ETH/UCY evaluation); outputs: "
                   "displacement to the next step in the same robot frame (mean, log-variance, m, m^2)"),
        "normalisation": {"pos_scale_m": c.pos_scale, "vel_scale_mps": c.vel_scale, "linear_scale_mps": c.lin_scale,
                          "angular_scale_radps": c.ang_scale, "displacement_residual_scale_m": c.disp_scale,
                          "note": "applied inside the graphs; feed raw SI values"},
        "beyond_p_max": "callers keep the p_max people nearest to the robot (see SlotAssigner)",
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "training": training,
        "metrics": metrics or {},
    }
    meta_path = out / f"{name}.json"
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return {"step": step_path, "rollout": roll_path, "metadata": meta_path,
            **{f"rollout_p{b}": path for b, path in bucket_paths.items()}}


def update_metrics(meta_path: Path, metrics: dict) -> None:
    """Record evaluation metrics in an existing metadata file (the ONNX hashes are unchanged)."""
    meta = json.loads(Path(meta_path).read_text())
    meta.setdefault("metrics", {}).update(metrics)
    Path(meta_path).write_text(json.dumps(meta, indent=1) + "\n")


def parse_buckets(text: str) -> tuple[int, ...]:
    """``"4,8,12"`` -> (4, 8, 12); ``""`` -> ()."""
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError as exc:
        raise ValueError(f"buckets must be comma-separated integers, got {text!r}") from exc


def load_checkpoint(path: Path) -> StreamingWorldModel:
    """Rebuild the model from a ``.pt`` written by train_world_model (weights + config)."""
    from training.model import WorldModelConfig

    ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    config = dict(ckpt["config"])
    first = ckpt["state_dict"].get("effect.net.0.weight")
    if first is not None:  # the robot-effect head's shape is in its weights (older .pt files lack these keys)
        config.setdefault("effect_hidden", int(first.shape[0]))
        config.setdefault("effect_context", int(first.shape[1]) > EFFECT_INPUTS)
    model = StreamingWorldModel(WorldModelConfig(**config))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


def main(argv=None) -> int:
    """Re-export graphs from a checkpoint, keeping the training info of the existing metadata."""
    import argparse

    p = argparse.ArgumentParser(description="re-export world-model ONNX graphs from a .pt checkpoint")
    p.add_argument("checkpoint", type=Path, nargs="+")
    p.add_argument("--buckets", default=None, type=parse_buckets,
                   help="person buckets below p_max for extra rollout graphs, e.g. 4,8,12 (default: as before)")
    args = p.parse_args(argv)
    for ckpt in args.checkpoint:
        meta_path = ckpt.with_suffix(".json")
        old = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        buckets = args.buckets if args.buckets is not None else [b["people"] for b in old.get("rollout_buckets", [])]
        paths = export_all(load_checkpoint(ckpt), ckpt.parent, ckpt.stem, old.get("training", {}),
                           old.get("metrics", {}), tuple(buckets))
        print(json.dumps({k: str(v) for k, v in paths.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
