"""A worker refuses to start when its model or its execution provider is not what it should be."""

from __future__ import annotations

import subprocess

import pytest

from deploy.localstack import start_worker


def run_worker(stack_env, services, tmp_path, **env) -> tuple[int, str]:
    name = f"refuse-{tmp_path.name}"
    managed = start_worker({**stack_env, "QUEUE_NAME": "refuse-test", **env},
                           services.log_dir, name=name)
    try:
        code = managed.proc.wait(120)
    except subprocess.TimeoutExpired:
        managed.stop()
        pytest.fail("the worker kept running")
    return code, (services.log_dir / f"{name}.log").read_text()


@pytest.mark.parametrize("provider", ["CUDAExecutionProvider", "OpenVINOExecutionProvider"])
def test_gpu_or_openvino_worker_refuses_to_run_on_cpu(stack_env, services, tmp_path, provider):
    # This machine's onnxruntime is the CPU build: asking for CUDA (or OpenVINO) must stop
    # the worker, not fall back to the CPU with a warning.
    code, log = run_worker(stack_env, services, tmp_path,
                           ORT_PROVIDERS=f"{provider},CPUExecutionProvider")
    assert code != 0
    assert "refuses to start" in log and f"{provider} is not available" in log


def test_missing_weights_refuse_to_start(stack_env, services, tmp_path):
    code, log = run_worker(stack_env, services, tmp_path, U2NET_HOME=str(tmp_path))
    assert code != 0
    assert "model weights missing" in log
