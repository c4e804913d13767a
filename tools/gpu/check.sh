#!/usr/bin/env bash
# `make gpu-check`, on a machine with an NVIDIA GPU: build the GPU environment, then measure the
# worker's segment step on CUDA (and TensorRT when it installs) at 1024x1024, batch 1/4/8/16.
#
# .gpu-venv gets the project with the `gpu` extra (onnxruntime-gpu, never the CPU build next to
# it) plus the NVIDIA runtime libraries from PyPI (onnxruntime-gpu 1.31.1 is built for CUDA 13
# and cuDNN 9), then tries `tensorrt` (optional: the TensorRT provider is measured only if its
# libraries load). The models come from .models (make setup) or are installed and derived here.
# GPU_MODEL (default: u2net, plus isnet-general-use, birefnet-general-lite and birefnet-general
# where their files are installed; a comma list installs and measures those), GPU_PRECISION
# (fp32) and GPU_SECONDS (15 per batch size) change the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
say() { printf '[gpu-check] %s\n' "$*"; }

command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total \
  --format=csv,noheader || say "nvidia-smi not found: is this a GPU machine?"

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
VENV=.gpu-venv
if [ ! -f "$VENV/.installed" ]; then
  say "creating $VENV (onnxruntime-gpu and the CUDA 13 / cuDNN 9 libraries: a few GB)"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -U pip wheel setuptools
  "$VENV/bin/pip" install -q --disable-pip-version-check -e ".[gpu,models]"
  # The CUDA libraries onnxruntime-gpu loads (it does not depend on them itself).
  "$VENV/bin/pip" install -q --disable-pip-version-check "onnxruntime-gpu[cuda,cudnn]==1.31.1" \
    || say "the [cuda,cudnn] extra did not install: relying on the system's CUDA 13 + cuDNN 9"
  if "$VENV/bin/pip" show onnxruntime >/dev/null 2>&1; then
    say "removing the CPU onnxruntime a dependency pulled in (it shadows onnxruntime-gpu)"
    "$VENV/bin/pip" uninstall -q -y onnxruntime
    "$VENV/bin/pip" install -q --no-deps --force-reinstall "onnxruntime-gpu==1.31.1"
  fi
  "$VENV/bin/pip" install -q --disable-pip-version-check tensorrt \
    || say "tensorrt did not install: measuring CUDA only"
  touch "$VENV/.installed"
fi

export U2NET_HOME=${U2NET_HOME:-$PWD/.models}
MODELS=${GPU_MODEL:-u2net} "$VENV/bin/python" -m tools.models.install
MODELS=${GPU_MODEL:-u2net} "$VENV/bin/python" -m tools.models.derive
export GPU_MODEL=${GPU_MODEL:-}

# onnxruntime preloads the CUDA/cuDNN (and TensorRT) libraries from the pip packages.
"$VENV/bin/python" -c "import onnxruntime as o; o.preload_dlls(); print(o.get_available_providers())"
exec "$VENV/bin/python" -c "
import onnxruntime as o
o.preload_dlls()
from tools.gpu import bench
raise SystemExit(bench.main())"
