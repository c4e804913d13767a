"""`make run` / `make stop`: the whole local stack in the foreground, data under .run/."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from tools.stack.processes import (
    REPO,
    Managed,
    Services,
    port_is_free,
    start_gateway,
    start_worker,
    wait_http_ok,
)

RUN_DIR = Path(os.environ.get("BGR_RUN_DIR", REPO / ".run"))
PID_FILE = RUN_DIR / "stack.pid"


def say(msg: str) -> None:
    print(f"[make run] {msg}", flush=True)


def _ports() -> dict[str, int]:
    # Defaults sit away from each service's usual port, so a system Redis/PostgreSQL/MinIO or
    # another app on 6379/5432/9000/8000 never clashes with ours.
    return {"REDIS_PORT": int(os.environ.get("REDIS_PORT", "16379")),
            "PG_PORT": int(os.environ.get("PG_PORT", "15432")),
            "S3_PORT": int(os.environ.get("S3_PORT", "18333")),
            "GATEWAY_PORT": int(os.environ.get("GATEWAY_PORT", "18080")),
            "SAMPLES_PORT": int(os.environ.get("SAMPLES_PORT", "18099"))}


def _check_ports(ports: dict[str, int]) -> None:
    wanted = [(n, p) for n, p in ports.items() if n != "S3_PORT"]
    wanted += [("S3_PORT", ports["S3_PORT"] + i) for i in (0, 1, 2, 3, 10, 11, 12, 13)]
    busy = [f"{name} ({port})" for name, port in wanted if not port_is_free(port)]
    if busy:
        sys.exit(f"[make run] ports in use: {', '.join(busy)}. Is the stack already running "
                 "(`make stop`)? Otherwise choose others, e.g. `REDIS_PORT=26379 make run`.")


def app_env(services: Services, gateway_port: int) -> dict[str, str]:
    """The environment gateway, worker and the admin CLI share (also written to stack.env)."""
    env = {
        "APP_ENV": os.environ.get("APP_ENV", "development"),
        **services.env(),
        "S3_BUCKET": os.environ.get("S3_BUCKET", "bgremove-outputs"),
        "U2NET_HOME": os.environ.get("U2NET_HOME", str(REPO / ".models")),
        "MODEL_NAME": os.environ.get("MODEL_NAME", "u2net"),
        "INPUT_ALLOW_NETWORKS": os.environ.get("INPUT_ALLOW_NETWORKS", ""),
        "GATEWAY_URL": f"http://127.0.0.1:{gateway_port}",
    }
    # One worker process per core, one onnxruntime thread each: measured best on 2 cores
    # (2 x 1 beats 1 x 2 and 2 x 2 overloads the cores; see docs/benchmarks.md).
    env["ORT_INTRA_OP_THREADS"] = os.environ.get("ORT_INTRA_OP_THREADS", "1")
    for passthrough in ("JWT_SECRET_KEY", "REQUEST_TIMEOUT_SECONDS", "ORT_PROVIDERS",
                        "QUEUE_MAX_DEPTH", "S3_PUBLIC_BASE_URL", "PNG_COMPRESS_LEVEL",
                        "PNG_ZLIB_STRATEGY"):
        if passthrough in os.environ:
            env[passthrough] = os.environ[passthrough]
    return env


def _write_env(path: Path, env: dict[str, str]) -> None:
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))


def _demo_user(env: dict[str, str]) -> dict[str, str]:
    """Create the demo user once (100 credits); later runs reuse .run/demo.env."""
    demo_file = RUN_DIR / "demo.env"
    if demo_file.exists():
        return dict(line.split("=", 1) for line in demo_file.read_text().splitlines() if line)
    os.environ.update(env)
    from gateway.admin import create_user_with_key
    from shared.config import Settings
    from shared.runtime import Runtime

    rt = Runtime(Settings.from_env(env))
    try:
        created = create_user_with_key(rt, "demo@example.com", 100)
    finally:
        rt.close()
    demo = {"BASE_URL": env["GATEWAY_URL"], "API_KEY": created["api_key"],
            "USER_ID": str(created["user_id"])}
    _write_env(demo_file, demo)
    return demo


def up() -> int:
    ports = _ports()
    _check_ports(ports)
    RUN_DIR.mkdir(exist_ok=True)
    PID_FILE.write_text(str(os.getpid()))
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    services = Services(RUN_DIR, ports["REDIS_PORT"], ports["PG_PORT"], ports["S3_PORT"])
    apps: list[Managed] = []
    try:
        say(f"starting Redis :{ports['REDIS_PORT']}, PostgreSQL :{ports['PG_PORT']}, "
            f"S3 (SeaweedFS) :{ports['S3_PORT']}; data in {RUN_DIR}")
        services.start()
        env = app_env(services, ports["GATEWAY_PORT"])
        os.environ.update(env)
        from shared.config import Settings
        from shared.db import migrate
        from shared.storage import Storage

        settings = Settings.from_env(env)
        say(f"migrations applied: {migrate(settings.database_url) or 'none pending'}")
        Storage(settings).ensure_bucket()
        say(f"bucket {settings.s3_bucket} ready")
        say("starting the worker (loads the model) and the gateway (gunicorn)")
        concurrency = int(os.environ.get("WORKER_CONCURRENCY", str(os.cpu_count() or 1)))
        apps.append(start_worker(env, services.log_dir, concurrency=concurrency))
        apps.append(start_gateway(env, ports["GATEWAY_PORT"], services.log_dir))
        sample_url = _serve_samples(ports["SAMPLES_PORT"])
        ready = wait_http_ok(f"{env['GATEWAY_URL']}/readyz", 180, apps[0].proc)
        say(f"ready: {', '.join(ready['components'])} up; "
            f"{ready['components']['workers']['count']} worker process(es)")
        demo = _demo_user(env)
        _write_env(RUN_DIR / "stack.env", env)
        _print_banner(env, demo, sample_url)
        while all(m.proc.poll() is None for m in services.procs + apps):
            time.sleep(1)
        dead = [m.name for m in services.procs + apps if m.proc.poll() is not None]
        say(f"stopping: {', '.join(dead)} exited (see {services.log_dir})")
        return 1
    except KeyboardInterrupt:
        say("stopping")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for managed in reversed(apps):
            managed.stop(timeout=30)
        services.stop()
        PID_FILE.unlink(missing_ok=True)
        say("stopped")


def _serve_samples(port: int) -> str:
    """Serve a sample photo on loopback, so the printed curl line has an image to work on."""
    import http.server
    import threading
    from functools import partial

    from PIL import Image
    from skimage import data

    samples = RUN_DIR / "samples"
    samples.mkdir(exist_ok=True)
    if not (samples / "coffee.jpg").exists():
        Image.fromarray(data.coffee()).save(samples / "coffee.jpg", quality=92)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(samples))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}/coffee.jpg"


def _print_banner(env: dict[str, str], demo: dict[str, str], sample_url: str) -> None:
    base = env["GATEWAY_URL"]
    from shared.config import Settings

    allowed = Settings.from_env(env).input_allow_networks
    import ipaddress

    sample_ok = any(ipaddress.ip_address("127.0.0.1") in net for net in allowed)
    image = sample_url if sample_ok else "https://YOUR.PUBLIC.HOST/image.jpg"
    note = ("" if sample_ok else
            f"\n(The sample photo at {sample_url} is on loopback, which the worker refuses "
            "unless\n you start with INPUT_ALLOW_NETWORKS=127.0.0.1/32 make run; any public "
            "image URL works as is.)")
    print(f"""
Stack is up. Base URL: {base}   (Ctrl-C or `make stop` to stop; logs in {RUN_DIR / 'logs'})
Shell settings:  set -a; . {RUN_DIR / 'stack.env'}; . {RUN_DIR / 'demo.env'}; set +a

In a browser:  playground {base}/playground   docs {base}/docs   account {base}/account
  (the demo key for the pages: {demo['API_KEY']})

Try it (the demo key has 100 credits):
  TOKEN=$(curl -s -H 'Content-Type: application/json' -d '{{"key":"{demo['API_KEY']}"}}' \\
      -X POST {base}/api/token | jq -r .access_token)
  curl -s {base}/api/v1/user/credits -H "Authorization: Bearer $TOKEN"
  curl -s -X POST {base}/api/v1/image/remove-background -H 'Content-Type: application/json' \\
      -H "Authorization: Bearer $TOKEN" -d '{{"input_image":"{image}"}}'{note}

Your own photo, uploaded (no hosting needed), or through the remove.bg-compatible API:
  curl -s -X POST {base}/api/v1/image/remove-background -H "Authorization: Bearer $TOKEN" \\
      -F input_image=@{RUN_DIR / 'samples' / 'coffee.jpg'} -F crop=true -F bg_color=white
  curl -s -H 'X-Api-Key: {demo['API_KEY']}' -F image_file=@{RUN_DIR / 'samples' / 'coffee.jpg'} \\
      -F size=auto -f {base}/v1.0/removebg -o no-bg.png
""", flush=True)


def stop() -> int:
    """Stop a running `make run` (its supervisor stops every process it started)."""
    if not PID_FILE.exists():
        print("[make stop] no stack running")
        return 0
    pid = int(PID_FILE.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        PID_FILE.unlink(missing_ok=True)
        print("[make stop] stale pid file removed")
        return 0
    for _ in range(600):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print("[make stop] stopped")
            return 0
        time.sleep(0.1)
    print(f"[make stop] {pid} still running after 60s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "up"
    raise SystemExit({"up": up, "stop": stop}[cmd]())
