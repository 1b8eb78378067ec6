"""The benchmark script cannot rot: ``benchmarks/run.py --smoke`` runs end to end and writes
the fields the README's table is built from. Never a timing assertion - only that every
number is there, finite and positive (benchmarks are not tests)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODE_FIELDS = (
    "train_it_per_s",
    "train_images_per_s",
    "translate_images_per_s",
    "peak_memory_mib",
    "tensor_peak_mib",
    "train_gflop_per_it",
    "achieved_gflop_per_s",
)
RATIO_FIELDS = ("train_speedup_vs_fp32", "translate_speedup_vs_fp32", "peak_memory_vs_fp32", "tensor_peak_vs_fp32")


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "cpu_smoke.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(
        [sys.executable, "benchmarks/run.py", "--smoke", "--out", str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
        capture_output=True,
    )
    return json.loads(out.read_text())


def test_smoke_run_records_machine_and_peaks(smoke: dict) -> None:
    assert smoke["kind"] == "smoke" and smoke["command"].startswith("python benchmarks/run.py")
    assert {"cpu", "cores", "amx", "avx512_bf16"} <= set(smoke["machine"])
    assert len(smoke["loadavg_before"]) == 3
    keys = ("matmul_fp32", "matmul_bf16", "conv_fp32", "conv_bf16", "conv_train_fp32", "conv_train_bf16")
    for key in (*keys, "matmul_bf16_over_fp32", "conv_bf16_over_fp32", "conv_train_bf16_over_fp32"):
        assert _positive(smoke["peaks_gflop_per_s"][key]), key


def test_smoke_run_has_both_modes_with_finite_numbers_and_ratios(smoke: dict) -> None:
    (method,) = smoke["methods"]
    assert method["setting"].startswith("pix2pix 32px")
    modes = method["modes"]
    assert set(modes) == {"fp32_nchw", "fast"}
    assert modes["fp32_nchw"]["precision"] == "fp32"
    for name, r in modes.items():
        for key in MODE_FIELDS:
            assert _positive(r[key]), (name, key, r[key])
    for key in RATIO_FIELDS:
        assert _positive(modes["fast"][key]), (key, modes["fast"][key])


def test_smoke_run_compares_the_data_pipeline_with_the_step_rate(smoke: dict) -> None:
    data = smoke["data_pipeline"]
    assert _positive(data["samples_per_s"])
    (compared,) = data["compared_with"].values()
    assert _positive(compared["data_over_train"])


def test_tensor_peak_counts_weights_optimizer_state_and_the_step() -> None:
    """After a step Adam holds two moments per weight, and the step itself allocates
    activations: the tensor peak must exceed three times the weights' bytes."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import torch
        from harness import Bench, cpu_modes, smoke_setting, tensor_peak_bytes
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    bench = Bench(smoke_setting("pix2pix"), cpu_modes()[0], torch.device("cpu"))
    bench.train_step()
    weights = sum(p.numel() * p.element_size() for p in bench.method.parameters())
    assert tensor_peak_bytes(bench) > 3 * weights


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_gpu_check_refuses_without_cuda_instead_of_passing_by_skipping(tmp_path):
    proc = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHON=sys.executable),
    )
    assert proc.returncode == 2
    assert "gpu_check: no CUDA device visible to torch" in proc.stderr


class _FakeWorker:
    """A benchmark worker that the (fake) kernel kills whenever two of them are alive at once."""

    alive: list[_FakeWorker] = []
    error: type[Exception] = RuntimeError

    def __init__(self, spec: dict, threads: int | None) -> None:
        self.name = spec["mode"]["name"]
        self.ready: dict = {}
        self.alive.append(self)

    def wait_ready(self) -> _FakeWorker:
        if len(self.alive) > 1:
            raise self.error("benchmark worker exited with code -9 (see stderr above)")
        self.ready = {"train_flops": 4e9, "translate_flops": 1e9, "precision": self.name, "warmup_s": 0.1}
        return self

    def ask(self, command: str) -> dict:
        if command == "memory":
            return {"peak_mib": 100.0, "tensor_peak_mib": 50.0, "how": "fake"}
        return {"seconds": 2.0 if self.name == "fp32_nchw" else 1.0}

    def close(self) -> None:
        self.alive.remove(self)


def _bench_run_module():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import harness
        import run
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return run, harness


def test_modes_that_do_not_fit_in_memory_together_are_timed_one_after_another(monkeypatch) -> None:
    """The out-of-memory killer ending a worker while every mode's worker is alive (StarGAN v2
    at 256 px on a 24 GB machine) must not lose the method: each mode is timed alone, and the
    result says it was not interleaved."""
    run, harness = _bench_run_module()
    monkeypatch.setattr(_FakeWorker, "alive", [])
    monkeypatch.setattr(_FakeWorker, "error", run.WorkerKilled)
    monkeypatch.setattr(run, "Worker", _FakeWorker)
    modes = harness.cpu_modes()
    result = run.bench_method(harness.Setting("pix2pix", 32, 2, {}), modes, "cpu", 3, 1, 1, 1)
    assert result["interleaved"] is False
    assert set(result["modes"]) == {mode.name for mode in modes}
    assert result["modes"]["fast"]["train_speedup_vs_fp32"] == pytest.approx(2.0)
    assert result["modes"]["fast"]["train_seconds_reps"] == [1.0, 1.0, 1.0]
    assert _FakeWorker.alive == []  # every worker closed
    assert "(modes timed one after another)" in run.markdown({"methods": [result]})


def test_a_worker_that_fails_by_itself_is_not_retried(monkeypatch) -> None:
    """A worker exiting with an error (not killed by a signal) would fail again alone: the
    method's error is reported, as before."""
    run, harness = _bench_run_module()
    monkeypatch.setattr(_FakeWorker, "alive", [])
    monkeypatch.setattr(_FakeWorker, "error", RuntimeError)
    monkeypatch.setattr(run, "Worker", _FakeWorker)
    with pytest.raises(RuntimeError, match="exited with code"):
        run.bench_method(harness.Setting("pix2pix", 32, 2, {}), harness.cpu_modes(), "cpu", 3, 1, 1, 1)
    assert _FakeWorker.alive == []
