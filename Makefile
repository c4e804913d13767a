# The front door. Each target is a line or two; the logic lives in tools/ and tests/ (deploy/
# holds only what is deployed: Dockerfiles, Kubernetes, monitoring, gunicorn settings).
PY := .venv/bin/python
export U2NET_HOME ?= $(CURDIR)/.models

.PHONY: setup models run stop test lint fmt migrate bench bench-held quality backup restore screenshots gpu-check

setup:
	@bash tools/setup.sh test

# The models named in MODELS (default u2netp,u2net; any catalogue row or MODELS_FILE entry),
# installed and checked (tools/models/install.py), and the serving files derived from them
# (fp32 with a batch axis, int8 QDQ; md5-pinned in shared/models.py). FORCE=1 rebuilds those.
# LIST=1 (or LIST=json) prints the catalogue and what is installed instead. docs/models.md.
ifeq ($(LIST),)
models: setup
	@FORCE=$(FORCE) $(PY) -m tools.models.derive
else
models:
	@MODELS_LIST=$(LIST) $(PY) -m tools.models.install
endif

# make run installs only what running needs (no browser, no Prometheus server, no test tools).
run:
	@bash tools/setup.sh run
	@$(PY) -m tools.stack.run up

stop:
	@$(if $(wildcard $(PY)),$(PY),python3) -m tools.stack.run stop

test: setup
	@$(PY) -m pytest tests $(PYTEST_ARGS)

lint: setup
	@.venv/bin/ruff check . && .venv/bin/ruff format --check gateway worker shared deploy tools tests

fmt: setup
	@.venv/bin/ruff check --fix . ; .venv/bin/ruff format gateway worker shared deploy tools tests

migrate: setup
	@set -a; . ./.run/stack.env; set +a; $(PY) -m shared.db migrate

# make backup: pg_dump of the local stack into .run/backups; make restore [FILE=...]: the newest
# (or FILE) back into it. Production: docs/operations.md, Backups.
backup: setup
	@set -a; . ./.run/stack.env; set +a; $(PY) -m tools.backup dump --out .run/backups

restore: setup
	@set -a; . ./.run/stack.env; set +a; $(PY) -m tools.backup restore $(FILE) --dir .run/backups

bench: setup
	@QUICK=$(QUICK) $(PY) -m tools.bench
	@HELD_N=$(or $(HELD_N),1000) $(PY) -m tools.bench.held

# Only the row "requests held by one gateway" (HELD_N concurrent requests, up to 5,000).
bench-held: setup
	@HELD_N=$(or $(HELD_N),1000) $(PY) -m tools.bench.held

# Cut-out quality on ground truth (DATA=dir of sets with images/ + gt/; default ../shared/quality).
quality: setup
	@$(PY) -m tools.quality $(if $(DATA),--data $(DATA)) $(if $(LIMIT),--limit $(LIMIT))

# Screenshots of /docs, /playground and /account (real stack, real browser) for docs/api.md.
screenshots: setup
	@SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(PY) -m pytest tests/web/test_screenshots.py -q

# On a GPU machine: builds .gpu-venv (onnxruntime-gpu) and measures the segment step on CUDA
# (and TensorRT if it installs) by batch size (tools/gpu/check.sh).
gpu-check:
	@bash tools/gpu/check.sh
