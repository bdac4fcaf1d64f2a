#!/usr/bin/env bash
# World model GPU check (issue #16): on a machine with an NVIDIA GPU, build the TensorRT engines (fp32 and fp16)
# from the shipped ONNX, run the ORT CUDA EP, the ORT TensorRT EP and native TensorRT, check parity with ORT CPU
# and write the latencies (benchmarks/gpu_check.py does the work; see its docstring).
#
#   benchmarks/gpu_check.sh [MODEL.onnx] [OUT_DIR]
#
# Environment: PYTHON (default: the project's .venv, else python3) must have onnxruntime-gpu and tensorrt
# (`pip install -e .[gpu]`) and cuda-python for the native path; what is missing is reported per backend.
# Exit codes: 0 done (every backend that could run matched the CPU), 1 a parity check failed,
# 77 skipped: no NVIDIA GPU here (the reason is printed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODEL="${1:-$ROOT/models/world_model.onnx}"
OUT="${2:-$ROOT/benchmarks/results/gpu}"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "SKIP: no NVIDIA GPU here (nvidia-smi not found)"
  exit 77
fi
if ! nvidia-smi -L >/dev/null 2>&1 || [ -z "$(nvidia-smi -L 2>/dev/null)" ]; then
  echo "SKIP: no NVIDIA GPU here (nvidia-smi lists no device)"
  exit 77
fi
nvidia-smi -L
"$PYTHON" -c 'import onnxruntime as o; print("onnxruntime", o.__version__, "providers:", o.get_available_providers())' || true
"$PYTHON" -c 'import tensorrt as t; print("tensorrt", t.__version__)' 2>/dev/null || echo "tensorrt: not importable"
exec "$PYTHON" "$ROOT/benchmarks/gpu_check.py" --model "$MODEL" --out "$OUT"
