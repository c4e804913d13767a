"""`python -m shared.bootstrap` (compose's migrate service): migrations and bucket, idempotent."""

from __future__ import annotations

import os
import subprocess
import sys

from shared.storage import Storage
from tools.stack.processes import REPO


def test_bootstrap_creates_the_bucket_and_is_idempotent(stack_env, settings):
    env = {**os.environ, **stack_env, "S3_BUCKET": "bootstrap-bucket"}
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-m", "shared.bootstrap"], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "bucket bootstrap-bucket ready" in proc.stdout
    assert "none pending" in proc.stdout
    import dataclasses

    Storage(dataclasses.replace(settings, s3_bucket="bootstrap-bucket")).ping()
