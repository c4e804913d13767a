"""A worker refuses to start when its model or its execution provider is not what it should be."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tools.stack.processes import start_worker


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


def test_explicit_int8_runs_only_where_this_cpu_computes_it_right(stack_env, services, tmp_path):
    # int8's accuracy depends on the CPU's integer kernels (worker/precision.py): the worker
    # checks it before the pool forks. Here it either serves int8, having measured it within
    # the tolerance, or refuses to start, naming this CPU and the agreement it measured.
    from worker.cpu import current
    from worker.precision import MIN_AGREEMENT

    name = f"int8-{tmp_path.name}"
    managed = start_worker({**stack_env, "QUEUE_NAME": "int8-test", "MODEL_PRECISION": "int8"},
                           services.log_dir, name=name)
    log_path = services.log_dir / f"{name}.log"
    try:
        deadline = time.monotonic() + 180
        while managed.proc.poll() is None and '"model loaded"' not in log_path.read_text():
            assert time.monotonic() < deadline, "the worker neither served nor refused"
            time.sleep(0.3)
        log = log_path.read_text()
        check = next(json.loads(line) for line in log.splitlines()
                     if '"precision self-check"' in line)
        if managed.proc.poll() is None:
            loaded = next(json.loads(line) for line in log.splitlines()
                          if '"model loaded"' in line)
            assert loaded["precision"] == "int8" and check["agreement"] >= MIN_AGREEMENT
            assert loaded["precision_reason"].startswith("int8: as configured")
        else:
            assert managed.proc.returncode == 3
            assert "MODEL_PRECISION=int8 refused" in log and current().model in log
            assert check["agreement"] < MIN_AGREEMENT or "mean error" in log
    finally:
        managed.stop()


def test_the_precision_check_runs_once_per_node_not_per_pool_process(stack_env, services,
                                                                      tmp_path):
    # auto (the default) checks before the pool forks: two pool processes, one check, and
    # both serve what it chose.
    name = f"auto-{tmp_path.name}"
    managed = start_worker({**stack_env, "QUEUE_NAME": "auto-test"}, services.log_dir,
                           concurrency=2, name=name)
    log_path = services.log_dir / f"{name}.log"
    try:
        deadline = time.monotonic() + 180
        while True:
            lines = [json.loads(line) for line in log_path.read_text().splitlines()
                     if line.startswith("{")]
            loaded = [e for e in lines if e.get("message") == "model loaded"]
            if len({e["pid"] for e in loaded} - {managed.proc.pid}) >= 2:
                break
            assert managed.proc.poll() is None and time.monotonic() < deadline, lines[-5:]
            time.sleep(0.3)
        checks = [e for e in lines if e.get("message") == "precision self-check"]
        assert len(checks) == 1 and checks[0]["pid"] == managed.proc.pid
        assert {(e["precision"], e["precision_reason"]) for e in loaded} == {
            (loaded[0]["precision"], loaded[0]["precision_reason"])}
    finally:
        managed.stop()
