"""The metadata JSON written beside the exported ONNX models, and its validation (no torch).

The runtime refuses to start when the files are missing, corrupt (sha256 mismatch), or when the
ONNX inputs/outputs differ from what the metadata promises, so a wrong file fails at start-up
with a message naming the problem rather than producing garbage predictions at run time.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

# /2: rollouts read the cache without writing imagined steps (past_valid (1, P, C)), joint attention,
# optional rollout graphs per person bucket. /3: the action input has a third column, robot_present
# (action (1, 3), actions (K, H, 3)). Older files are refused with the re-export / retrain commands.
# /4 (issue #16, fifth pass): the forecast is base + robot_present × a robot-effect head trained on the simulator;
# same inputs and outputs, but robot_present now switches that head, so a /3 file is refused rather than read as one.
FORMAT = "causal_nodes.world_model/4"
UPGRADE = {
    "causal_nodes.world_model/3": "it has no robot-effect head (format /4, issue #16, fifth pass); re-export it from "
    "its weights with an all-zero head, which keeps its predictions exactly: python -m training.export_onnx "
    "{stem}.pt, or give it a head trained on the simulator: python -m training.train_effect_head --base {stem}.pt",
    "causal_nodes.world_model/2": "its action input lacks the robot_present column (format /3 and later, issue #16); "
    "re-export it from its weights, which keeps its predictions exactly (flag weight 0): "
    "python -m training.export_onnx {stem}.pt, or retrain: python -m training.train_world_model --data "
    "/path/to/eth_ucy --out {folder}",
    "causal_nodes.world_model/1": "re-export the model with python -m training.export_onnx {stem}.pt, or retrain",
}
REQUIRED_CONFIG = ("d_model", "layers", "p_max", "sinks", "window", "horizon", "k_max", "dt")
STEP_INPUTS = ("people", "mask", "action", "past_k", "past_v", "past_valid", "past_age", "write_onehot")
STEP_OUTPUTS = ("mean", "logvar", "present_k", "present_v")
ROLLOUT_INPUTS = ("people", "mask", "past_k", "past_v", "past_valid", "past_age", "robot_pose", "actions", "noise")
ROLLOUT_OUTPUTS = ("positions", "logvar")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def metadata_path_for(model_path: Path) -> Path:
    """``models/world_model.onnx`` → ``models/world_model.json``."""
    return Path(model_path).with_suffix(".json")


def load_metadata(model_path: Path) -> dict:
    """Read and check the metadata beside ``model_path``; ValueError naming the problem."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ValueError(f"world model file not found: {model_path}")
    meta_path = metadata_path_for(model_path)
    if not meta_path.is_file():
        raise ValueError(f"metadata JSON not found beside the model: {meta_path}")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{meta_path}: not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        stem = model_path.with_suffix("")
        how = UPGRADE.get(str(found), "re-export the model with python -m training.export_onnx {stem}.pt, or retrain")
        raise ValueError(f"{meta_path}: 'format' must be {FORMAT!r}, found {found!r}: "
                         + how.format(stem=stem, folder=model_path.parent))
    for key in ("config", "step_model", "rollout_model"):
        if key not in meta:
            raise ValueError(f"{meta_path}: missing key {key!r}")
    missing = [k for k in REQUIRED_CONFIG if k not in meta["config"]]
    if missing:
        raise ValueError(f"{meta_path}: config lacks {missing}")
    if meta["step_model"].get("file") != model_path.name:
        raise ValueError(
            f"{meta_path}: describes step model {meta['step_model'].get('file')!r}, not {model_path.name!r}"
        )
    buckets = meta.get("rollout_buckets", [])
    if not isinstance(buckets, list) or not all(isinstance(b, dict) and isinstance(b.get("people"), int)
                                                and 0 < b["people"] < int(meta["config"]["p_max"]) for b in buckets):
        raise ValueError(f"{meta_path}: rollout_buckets must list {{'people': N, 'file': ...}} with 0 < N < p_max")
    graphs = [("step_model", meta["step_model"], STEP_INPUTS, STEP_OUTPUTS),
              ("rollout_model", meta["rollout_model"], ROLLOUT_INPUTS, ROLLOUT_OUTPUTS)]
    graphs += [(f"rollout bucket {b['people']}", b, ROLLOUT_INPUTS, ROLLOUT_OUTPUTS) for b in buckets]
    for key, entry, names_in, names_out in graphs:
        path = model_path.parent / entry.get("file", "")
        if not path.is_file():
            raise ValueError(f"{key} file not found: {path}")
        digest = sha256_file(path)
        if digest != entry.get("sha256"):
            raise ValueError(
                f"{path}: sha256 {digest[:12]}… does not match metadata ({str(entry.get('sha256'))[:12]}…); "
                "the file is corrupt or belongs to another export"
            )
        got_in = [i["name"] for i in entry.get("inputs", [])]
        got_out = [o["name"] for o in entry.get("outputs", [])]
        if tuple(got_in) != names_in or tuple(got_out) != names_out:
            raise ValueError(f"{meta_path}: {key} must have inputs {names_in} and outputs {names_out}, "
                             f"got {got_in} / {got_out}")
    return meta


def io_spec(session_io: list) -> list[dict]:
    """Describe ONNX Runtime session inputs/outputs as JSON-able dicts."""
    return [{"name": x.name, "shape": list(x.shape), "dtype": x.type} for x in session_io]


def check_session_matches(session, entry: dict, label: str) -> None:
    """Compare an ORT session's inputs/outputs with the metadata entry (names, shapes, types)."""
    for kind, actual in (("inputs", session.get_inputs()), ("outputs", session.get_outputs())):
        expected = entry[kind]
        got = io_spec(actual)
        if len(got) != len(expected):
            raise ValueError(f"{label}: ONNX has {len(got)} {kind}, metadata lists {len(expected)}")
        for g, e in zip(got, expected):
            if g["name"] != e["name"] or list(g["shape"]) != list(e["shape"]) or g["dtype"] != e["dtype"]:
                raise ValueError(f"{label}: ONNX {kind[:-1]} {g} does not match metadata {e}")
