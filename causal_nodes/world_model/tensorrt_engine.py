"""Native TensorRT path: build an engine from the ONNX graph, cache it on disk, run it.

Written against the TensorRT 10 Python API (Builder → NetworkDefinition (explicit batch is the
only mode in TRT 10, so ``create_network(0)``) → OnnxParser → BuilderConfig with
``set_memory_pool_limit`` → ``build_serialized_network``; ``Runtime.deserialize_cuda_engine``;
``set_tensor_address`` + ``execute_async_v3``) and cuda-python's ``cudart`` for device memory.
The serialized engine is only valid for the exact GPU model and TensorRT version that built it,
so the cache file is keyed by model sha256 + GPU name + TensorRT version + precision, and a
mismatch (or a file that fails to deserialize) triggers a rebuild.

Neither TensorRT nor a GPU exists on the development machine: this module is import-safe without
them (imports happen in the constructor) and the tests skip with the reason.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from .metadata import sha256_file


def _cudart():
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        from cuda import cudart  # older cuda-python
    return cudart


def _check(result):
    """cuda-python calls return ``(err, *values)``; raise on error, return the values."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise RuntimeError(f"CUDA error {err}")
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def engine_key(onnx_sha256: str, gpu_name: str, trt_version: str, fp16: bool) -> dict[str, str]:
    return {
        "onnx_sha256": onnx_sha256,
        "gpu": gpu_name,
        "tensorrt": trt_version,
        "precision": "fp16" if fp16 else "fp32",
    }


def engine_cache_path(cache_dir: Path, onnx_path: Path, key: dict[str, str]) -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{key['gpu']}_{key['tensorrt']}").strip("-")
    return Path(cache_dir) / f"{Path(onnx_path).stem}_{key['onnx_sha256'][:16]}_{slug}_{key['precision']}.engine"


class TensorRTEngine:
    """Runs one static-shape ONNX graph as a TensorRT engine (same ``run(feeds)`` as OrtRunner)."""

    def __init__(self, onnx_path: Path, fp16: bool = False, cache_dir: Path | None = None,
                 workspace_bytes: int = 1 << 28) -> None:
        import tensorrt as trt  # ImportError → backend unavailable

        self.trt = trt
        self.cudart = _cudart()
        count = _check(self.cudart.cudaGetDeviceCount())
        if not count:
            raise RuntimeError("no CUDA device")
        props = _check(self.cudart.cudaGetDeviceProperties(0))
        gpu = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
        self.logger = trt.Logger(trt.Logger.WARNING)
        onnx_path = Path(onnx_path)
        self.key = engine_key(sha256_file(onnx_path), gpu, trt.__version__, fp16)
        cache_dir = Path(cache_dir) if cache_dir is not None else onnx_path.parent / "trt_cache"
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.cache_file = engine_cache_path(cache_dir, onnx_path, self.key)
        self.engine = self._load_cached() or self._build_and_cache(onnx_path, fp16, workspace_bytes)
        self.context = self.engine.create_execution_context()
        self.stream = _check(self.cudart.cudaStreamCreate())
        self._allocate()

    # -- engine cache -------------------------------------------------------------------------
    def _load_cached(self):
        meta = self.cache_file.with_suffix(".json")
        if not (self.cache_file.is_file() and meta.is_file()):
            return None
        try:
            if json.loads(meta.read_text()) != self.key:
                return None
            engine = self.trt.Runtime(self.logger).deserialize_cuda_engine(self.cache_file.read_bytes())
        except Exception:
            return None  # corrupt or incompatible: rebuild
        return engine

    def _build_and_cache(self, onnx_path: Path, fp16: bool, workspace_bytes: int):
        trt = self.trt
        builder = trt.Builder(self.logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, self.logger)
        if not parser.parse(onnx_path.read_bytes()):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise RuntimeError(f"TensorRT could not parse {onnx_path.name}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_bytes))
        if fp16:
            if not getattr(builder, "platform_has_fast_fp16", True):  # deprecated in TRT 10; absent later
                raise RuntimeError("fp16 requested but this GPU has no fast fp16")
            config.set_flag(trt.BuilderFlag.FP16)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise RuntimeError(f"TensorRT failed to build an engine for {onnx_path.name}")
        data = bytes(serialized)
        tmp = self.cache_file.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(self.cache_file)
        self.cache_file.with_suffix(".json").write_text(json.dumps(self.key))
        return trt.Runtime(self.logger).deserialize_cuda_engine(data)

    # -- buffers and execution ----------------------------------------------------------------
    def _allocate(self) -> None:
        trt = self.trt
        self.inputs: dict[str, tuple] = {}
        self.outputs: list[tuple] = []
        self._device: list[int] = []
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            shape = tuple(self.engine.get_tensor_shape(name))
            dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name)))
            nbytes = int(np.prod(shape)) * dtype.itemsize
            ptr = _check(self.cudart.cudaMalloc(max(nbytes, 1)))
            self._device.append(ptr)
            self.context.set_tensor_address(name, int(ptr))
            if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                self.inputs[name] = (ptr, shape, dtype, nbytes)
            else:
                self.outputs.append((name, ptr, np.empty(shape, dtype=dtype), nbytes))

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        cudart = self.cudart
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        staged = []
        for name, (ptr, shape, dtype, nbytes) in self.inputs.items():
            if name not in feeds:
                raise ValueError(f"TensorRT engine input {name!r} missing from feeds")
            arr = np.ascontiguousarray(feeds[name], dtype=dtype).reshape(shape)
            staged.append(arr)  # keep alive until the stream is synchronised
            _check(cudart.cudaMemcpyAsync(ptr, arr.ctypes.data, nbytes, h2d, self.stream))
        if not self.context.execute_async_v3(int(self.stream)):
            raise RuntimeError("TensorRT execute_async_v3 failed")
        for _, ptr, host, nbytes in self.outputs:
            _check(cudart.cudaMemcpyAsync(host.ctypes.data, ptr, nbytes, d2h, self.stream))
        _check(cudart.cudaStreamSynchronize(self.stream))
        return {name: host.copy() for name, _, host, _ in self.outputs}

    def __del__(self) -> None:
        cudart = getattr(self, "cudart", None)
        for ptr in getattr(self, "_device", []):
            try:
                cudart.cudaFree(ptr)
            except Exception:
                pass
