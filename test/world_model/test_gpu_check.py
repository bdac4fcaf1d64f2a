"""benchmarks/gpu_check.sh: skips with the reason without an NVIDIA GPU, checks every backend against the CPU with one.

The comparison machinery itself (stream, parity, report) runs here on the CPU backend, so a GPU machine only adds
backends to a path that is already exercised.
"""
import json
import shutil
import subprocess
import sys

import pytest
from repo_paths import DEFAULT_MODEL, REPO_ROOT

SCRIPT = REPO_ROOT / "benchmarks" / "gpu_check.sh"


@pytest.fixture(scope="module")
def model():
    if not DEFAULT_MODEL.is_file():
        pytest.skip(f"trained model not found at {DEFAULT_MODEL}")
    return DEFAULT_MODEL


def test_gpu_check_runs_or_skips_with_the_reason(model, tmp_path):
    proc = subprocess.run(["bash", str(SCRIPT), str(model), str(tmp_path)], capture_output=True, text=True,
                          timeout=1800, env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin:" + str(REPO_ROOT)})
    has_gpu = shutil.which("nvidia-smi") is not None
    if proc.returncode == 77:
        assert proc.stdout.startswith("SKIP: no NVIDIA GPU")
        pytest.skip(proc.stdout.strip())
    assert has_gpu and proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    ran = [r for r in report["backends"] if r["status"] == "ok" and r["backend"] != "cpu (reference)"]
    assert ran, "a GPU is here but no GPU backend ran: " + json.dumps(report["backends"])
    assert all(r["rollout_ms"] > 0 for r in ran)


def test_gpu_check_compares_backends_with_the_cpu(model, tmp_path):
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    import gpu_check

    assert gpu_check.main(["--model", str(model), "--out", str(tmp_path), "--backends", "cpu", "--repeats", "2"]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    row = report["backends"][1]
    assert row["backend"] == "cpu" and row["status"] == "ok" and row["parity"]
    assert max(row["max_abs_diff"].values()) < 1e-6  # the same backend twice: identical numbers
    assert "| cpu |" in (tmp_path / "gpu_check.md").read_text()
