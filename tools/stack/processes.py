"""Real Redis, PostgreSQL and S3 (SeaweedFS) servers as child processes, for make run and tests.

Also the gateway (gunicorn with deploy/gunicorn.conf.py) and Celery workers, and the small
helpers around them (free ports, readiness polls, an image host). `make run` drives them from
tools/stack/run.py; the tests from tests/stack.py and their conftests.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared.models import queue_for

VENV_BIN = Path(sys.executable).parent


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port and we may bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(span: int = 1) -> int:
    """A port p such that p .. p+span-1 are all free now (the kernel picks p)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + span < 65535 and all(port_is_free(port + i) for i in range(span)):
            return port
    raise RuntimeError("no free port range found")


def wait_for_port(port: int, proc: subprocess.Popen, name: str, timeout: float = 30.0) -> None:
    """Block until something accepts on 127.0.0.1:port; fail early if proc died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with status {proc.returncode} (see its log)")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on port {port} within {timeout:.0f}s")


def _drop_privileges() -> dict:
    """Popen arguments that run a child as `postgres` when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres"}


def postgres_bin_dir() -> Path:
    """Where initdb/postgres live: $PG_BIN, PATH, or the newest /usr/lib/postgresql/*/bin."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if candidates:
        return candidates[-1].parent
    raise RuntimeError("PostgreSQL server binaries not found: run tools/setup.sh or set PG_BIN")


def redis_server_bin() -> str:
    """The redis-server binary: $REDIS_SERVER or PATH."""
    found = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if not found:
        raise RuntimeError("redis-server not found: run tools/setup.sh or set REDIS_SERVER")
    return found


@dataclass
class Managed:
    """A child process we started, with its log file."""

    name: str
    proc: subprocess.Popen
    stop_signal: int = signal.SIGTERM

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the process that started us dies (even by SIGKILL)."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(name: str, argv: list[str], log_dir: Path, **kw) -> subprocess.Popen:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
    # start_new_session: Ctrl-C in the terminal reaches the supervisor only, which then stops
    # the children in order instead of everything dying at once.
    return subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True, preexec_fn=_die_with_parent, **kw,
    )


def start_redis(data_dir: Path, port: int, log_dir: Path) -> Managed:
    """A throwaway-friendly Redis: no snapshots, no AOF (Redis is hot state only)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [redis_server_bin(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(data_dir), "--protected-mode", "no"]
    proc = _spawn("redis", argv, log_dir)
    wait_for_port(port, proc, "redis")
    return Managed("redis", proc)


def start_postgres(data_dir: Path, port: int, log_dir: Path, user: str = "bgr",
                   dbname: str = "bgr") -> Managed:
    """PostgreSQL on 127.0.0.1:port, initialising data_dir on first use (as `postgres` if root)."""
    bindir = postgres_bin_dir()
    priv = _drop_privileges()
    data_dir.mkdir(parents=True, exist_ok=True)
    if priv:
        # The server runs as postgres: it must own its data dir and reach it through the parents.
        shutil.chown(data_dir, "postgres", "postgres")
        os.chmod(data_dir, 0o700)
        for parent in data_dir.parents:
            if str(parent) in ("/", ""):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o011)  # noqa: S103 - traverse only, no read
    if not (data_dir / "PG_VERSION").exists():
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(data_dir), "-U", user, "-A", "trust",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            check=True, capture_output=True, cwd="/", **priv,
        )
    argv = [str(bindir / "postgres"), "-D", str(data_dir), "-p", str(port), "-h", "127.0.0.1",
            "-k", str(data_dir), "-c", "fsync=off", "-c", "max_connections=300",
            "-c", "synchronous_commit=off"]
    proc = _spawn("postgres", argv, log_dir, cwd="/", **priv)
    wait_for_port(port, proc, "postgres")
    _create_database(port, user, dbname)
    # SIGINT is PostgreSQL's "fast shutdown": roll back and exit promptly.
    return Managed("postgres", proc, signal.SIGINT)


def _create_database(port: int, user: str, dbname: str) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(host="127.0.0.1", port=port, user=user, dbname="postgres",
                                 autocommit=True, connect_timeout=2) as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                      (dbname,)).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{dbname}"')
                return
        except psycopg.OperationalError:
            # "the database system is starting up" right after the port opens.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@dataclass
class S3Ports:
    """SeaweedFS `weed mini` needs a port per component; all derive from the S3 port."""

    s3: int

    def argv(self) -> list[str]:
        p = self.s3
        return [f"-s3.port={p}", f"-s3.port.grpc={p + 10}",
                f"-master.port={p + 1}", f"-master.port.grpc={p + 11}",
                f"-volume.port={p + 2}", f"-volume.port.grpc={p + 12}",
                f"-filer.port={p + 3}", f"-filer.port.grpc={p + 13}"]

    SPAN = 14


def start_s3(data_dir: Path, port: int, log_dir: Path, access_key: str,
             secret_key: str) -> Managed:
    """A real S3 server (SeaweedFS `weed mini`) on 127.0.0.1:port with one admin identity."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "bgr",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }]}))
    weed = os.environ.get("WEED_BIN") or shutil.which("weed", path=str(VENV_BIN)) or "weed"
    argv = [weed, "mini", f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            *S3Ports(port).argv(), f"-s3.config={config}", "-master.telemetry=false",
            "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0"]
    proc = _spawn("s3", argv, log_dir)
    wait_for_port(port, proc, "s3", timeout=60)
    _wait_s3_ready(port, access_key, secret_key, proc)
    return Managed("s3", proc)


def _wait_s3_ready(port: int, access_key: str, secret_key: str, proc: subprocess.Popen) -> None:
    """The S3 port opens before the filer behind it answers: poll a real API call."""
    from minio import Minio

    client = Minio(f"127.0.0.1:{port}", access_key=access_key, secret_key=secret_key,
                   secure=False, region="us-east-1")
    deadline = time.monotonic() + 60
    while True:
        try:
            client.list_buckets()
            return
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def prometheus_bin(name: str = "prometheus") -> str:
    """The prometheus (or promtool) binary: $PROMETHEUS_BIN's directory, or PATH."""
    if os.environ.get("PROMETHEUS_BIN"):
        return str(Path(os.environ["PROMETHEUS_BIN"]).parent / name)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: run tools/setup.sh (Debian package "
                           "`prometheus`) or set PROMETHEUS_BIN")
    return found


def start_prometheus(config: Path, port: int, data_dir: Path, log_dir: Path,
                     name: str = "prometheus") -> Managed:
    """A Prometheus server on 127.0.0.1:port with `config` (its rule files relative to it)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [prometheus_bin(), f"--config.file={config}", f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1d",
            "--web.enable-lifecycle"]
    proc = _spawn(name, argv, log_dir)
    wait_for_port(port, proc, name, timeout=60)
    _wait_prometheus_ready(port, proc)
    return Managed(name, proc)


def _wait_prometheus_ready(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    """The port opens before the TSDB is loaded; until then the API answers 503 in text."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready",  # noqa: S310
                                        timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"prometheus on port {port} not ready (see its log)")
        time.sleep(0.1)


@dataclass
class Services:
    """The three data services of one stack, and the environment that points at them."""

    root: Path
    redis_port: int
    pg_port: int
    s3_port: int
    s3_access_key: str = "bgr-dev-access"
    s3_secret_key: str = "bgr-dev-secret-key"  # noqa: S105 - development-only default
    procs: list[Managed] = field(default_factory=list)

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    def start(self) -> Services:
        try:
            self.procs.append(start_redis(self.root / "redis", self.redis_port, self.log_dir))
            self.procs.append(start_postgres(self.root / "pg", self.pg_port, self.log_dir))
            self.procs.append(start_s3(self.root / "s3", self.s3_port, self.log_dir,
                                       self.s3_access_key, self.s3_secret_key))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, throwaway: bool = False) -> None:
        """Stop every server; throwaway data (tests) is not worth SeaweedFS's ~12 s shutdown."""
        for managed in reversed(self.procs):
            if throwaway and managed.name == "s3":
                managed.proc.kill()
                managed.proc.wait(10)
            managed.stop(timeout=30)
        self.procs.clear()

    def env(self) -> dict[str, str]:
        return {
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "DATABASE_URL": f"postgresql://bgr@127.0.0.1:{self.pg_port}/bgr",
            "S3_ENDPOINT": f"127.0.0.1:{self.s3_port}",
            "S3_ACCESS_KEY": self.s3_access_key,
            "S3_SECRET_KEY": self.s3_secret_key,
            "S3_SECURE": "false",
        }


REPO = Path(__file__).resolve().parents[2]  # tools/stack/processes.py -> the repository


def start_gateway(env: dict[str, str], port: int, log_dir: Path) -> Managed:
    """gunicorn serving gateway.wsgi on 127.0.0.1:port, with the repo's gunicorn settings."""
    argv = [str(VENV_BIN / "gunicorn"), "-c", str(REPO / "deploy" / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{port}", "gateway.wsgi:app"]
    proc = _spawn("gateway", argv, log_dir, env={**os.environ, **env}, cwd=str(REPO))
    wait_for_port(port, proc, "gateway", timeout=60)
    return Managed("gateway", proc)


def start_worker(env: dict[str, str], log_dir: Path, concurrency: int = 1,
                 name: str = "worker") -> Managed:
    """One Celery worker (prefork, `concurrency` children) consuming the segmentation queue."""
    queue = queue_for(env.get("QUEUE_NAME", "segment"), env.get("MODEL_NAME", "u2net"))
    # WORKER_POOL=threads: one process, tasks in threads (what MICRO_BATCH_SIZE > 1 needs).
    argv = [str(VENV_BIN / "celery"), "-A", "worker.app", "worker", "-Q", queue,
            "--pool", env.get("WORKER_POOL", "prefork"),
            "--concurrency", str(concurrency), "--prefetch-multiplier", "1", "-O", "fair",
            "--loglevel", "INFO", "-n", f"{name}-%h-{os.getpid()}"]
    proc = _spawn(name, argv, log_dir, env={**os.environ, **env}, cwd=str(REPO))
    # Celery's warm shutdown waits for the task in hand; SIGQUIT would drop it.
    return Managed(name, proc)


def wait_http_ok(url: str, timeout: float, proc: subprocess.Popen | None = None) -> dict:
    """Poll url until it answers 200; return its JSON. Raise with the last answer on timeout."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited ({proc.returncode}) while waiting for {url}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - our own loopback
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            last = exc.read().decode(errors="replace")
        except OSError as exc:
            last = exc
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s: {last}")


def child_pids(pid: int) -> list[int]:
    """Direct children of a process (e.g. a Celery worker's pool processes)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        out.extend(int(p) for p in (task / "children").read_text().split())
    return out


def rss_kb(pid: int) -> int:
    """Resident memory of a process, in KiB (0 if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class BlobServer:
    """Serves registered byte strings on 127.0.0.1: the input image hosts of tests and bench."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.files: dict[str, tuple[bytes, str, float]] = {}
        self.hits: dict[str, threading.Event] = {}
        files, hits = self.files, self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?")[0]
                entry = files.get(path)
                if entry is None:
                    self.send_error(404)
                    return
                hits[path].set()
                body, ctype, delay = entry
                time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def add(self, name: str, body: bytes, content_type: str = "image/jpeg",
            delay: float = 0.0) -> str:
        """Serve body at /name (after `delay` seconds); return its URL."""
        import threading

        self.files[f"/{name}"] = (body, content_type, delay)
        self.hits.setdefault(f"/{name}", threading.Event())
        return f"http://127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
