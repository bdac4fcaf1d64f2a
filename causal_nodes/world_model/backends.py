"""Choosing and opening an inference backend for the exported graphs (onnxruntime / TensorRT).

Backends:
* ``cpu``        — ONNX Runtime CPU execution provider (always available; the reference);
* ``cuda``       — ONNX Runtime CUDA execution provider;
* ``tensorrt``   — ONNX Runtime TensorRT execution provider (engine cache, optional fp16);
* ``trt-native`` — a TensorRT engine built with the ``tensorrt`` Python API
  (:mod:`.tensorrt_engine`), no ONNX Runtime at inference time;
* ``auto``       — the first of tensorrt, trt-native, cuda, cpu that opens; the reasons for
  skipping the others are returned so the caller can log them.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

BACKENDS = ("auto", "cpu", "cuda", "tensorrt", "trt-native")
AUTO_ORDER = ("tensorrt", "trt-native", "cuda", "cpu")
_EP = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}


class Runner(Protocol):
    """Runs one static-shape graph: named numpy inputs → named numpy outputs."""

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here (library, provider or GPU missing)."""


class OrtRunner:
    def __init__(self, path: Path, backend: str, fp16: bool, engine_cache_dir: Path | None, threads: int) -> None:
        import onnxruntime as ort

        available = ort.get_available_providers()
        ep = _EP[backend]
        if ep not in available:
            raise BackendUnavailable(f"onnxruntime has no {ep} (available: {', '.join(available)})")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers: list = []
        if backend == "tensorrt":
            trt_opts = {"trt_fp16_enable": bool(fp16), "trt_engine_cache_enable": engine_cache_dir is not None}
            if engine_cache_dir is not None:
                Path(engine_cache_dir).mkdir(parents=True, exist_ok=True)
                trt_opts["trt_engine_cache_path"] = str(engine_cache_dir)
                trt_opts["trt_timing_cache_enable"] = True
                trt_opts["trt_timing_cache_path"] = str(engine_cache_dir)
            providers.append((ep, trt_opts))
        elif backend == "cuda":
            providers.append((ep, {}))
        if backend != "cpu":
            providers.append("CPUExecutionProvider")  # for any node the GPU provider rejects
        else:
            providers.append(ep)
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        except Exception as exc:  # provider libraries missing at load time (CUDA/cuDNN/TensorRT)
            raise BackendUnavailable(f"{ep} failed to open {Path(path).name}: {exc}") from exc
        if self.session.get_providers()[0] != ep:
            raise BackendUnavailable(
                f"{ep} listed but not usable (session fell back to {self.session.get_providers()})"
            )
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self.output_names, self.session.run(self.output_names, feeds)))


def open_runner(path: Path, backend: str, fp16: bool, engine_cache_dir: Path | None, threads: int) -> Runner:
    if backend == "trt-native":
        from .tensorrt_engine import TensorRTEngine

        return TensorRTEngine(path, fp16=fp16, cache_dir=engine_cache_dir)
    return OrtRunner(path, backend, fp16, engine_cache_dir, threads)


def open_runners(paths: Sequence[Path], backend: str, fp16: bool = False, engine_cache_dir: Path | None = None,
                 threads: int = 1) -> tuple[str, list[Runner], list[str]]:
    """Open one runner per graph with ``backend`` (or the best for ``auto``).

    Returns ``(backend used, runners, reasons for each backend skipped)``. An explicit backend that
    cannot run raises :class:`BackendUnavailable` with the reason; only ``auto`` falls back.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    order = AUTO_ORDER if backend == "auto" else (backend,)
    reasons: list[str] = []
    for name in order:
        try:
            return name, [open_runner(p, name, fp16, engine_cache_dir, threads) for p in paths], reasons
        except (BackendUnavailable, ImportError) as exc:
            if backend != "auto":
                raise BackendUnavailable(f"backend {name!r} unavailable: {exc}") from exc
            reasons.append(f"{name}: {exc}")
    raise BackendUnavailable("no backend could open the model: " + "; ".join(reasons))
