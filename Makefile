# The front door. Each target is a line or two; the logic lives in deploy/ and tests/.
PY := .venv/bin/python
export U2NET_HOME ?= $(CURDIR)/.models

.PHONY: setup models run stop test lint fmt migrate bench quality backup restore screenshots gpu-check

setup:
	@bash deploy/setup.sh test

# The serving files derived from the pinned weights (fp32 with a batch axis, int8 QDQ), each
# md5-pinned in shared/models.py; setup runs it too. FORCE=1 rebuilds them.
models: setup
	@FORCE=$(FORCE) $(PY) -m deploy.derive

# make run installs only what running needs (no browser, no Prometheus server, no test tools).
run:
	@bash deploy/setup.sh run
	@$(PY) -m deploy.run_stack up

stop:
	@$(if $(wildcard $(PY)),$(PY),python3) -m deploy.run_stack stop

test: setup
	@$(PY) -m pytest tests $(PYTEST_ARGS)

lint: setup
	@.venv/bin/ruff check . && .venv/bin/ruff format --check gateway worker shared deploy tests

fmt: setup
	@.venv/bin/ruff check --fix . ; .venv/bin/ruff format gateway worker shared deploy tests

migrate: setup
	@set -a; . ./.run/stack.env; set +a; $(PY) -m shared.db migrate

# make backup: pg_dump of the local stack into .run/backups; make restore [FILE=...]: the newest
# (or FILE) back into it. Production: docs/operations.md, Backups.
backup: setup
	@set -a; . ./.run/stack.env; set +a; $(PY) -m deploy.backup dump --out .run/backups

restore: setup
	@set -a; . ./.run/stack.env; set +a; $(PY) -m deploy.backup restore $(FILE) --dir .run/backups

bench: setup
	@QUICK=$(QUICK) $(PY) -m deploy.bench

# Cut-out quality on ground truth (DATA=dir of sets with images/ + gt/; default ../shared/quality).
quality: setup
	@$(PY) -m deploy.quality $(if $(DATA),--data $(DATA)) $(if $(LIMIT),--limit $(LIMIT))

# Screenshots of /docs, /playground and /account (real stack, real browser) for docs/api.md.
screenshots: setup
	@SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(PY) -m pytest tests/web/test_screenshots.py -q

# On a GPU machine: builds .gpu-venv (onnxruntime-gpu) and measures the segment step on CUDA
# (and TensorRT if it installs) by batch size (deploy/gpu_check.sh).
gpu-check:
	@bash deploy/gpu_check.sh
