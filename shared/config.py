"""Settings from the environment, validated in one place; nothing here connects to anything."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from shared.models import PRECISIONS, ModelSpec, catalogue, parse_names, queue_for

REFINERS = ("guided", "none")

DEV_JWT_SECRET = "dev-insecure-jwt-secret-change-me"  # noqa: S105 - refused outside development
DEV_S3_ACCESS_KEY = "bgr-dev-access"
DEV_S3_SECRET_KEY = "bgr-dev-secret-key"  # noqa: S105 - refused outside development


class ConfigError(ValueError):
    """A setting is missing, malformed, or unsafe for this environment."""


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Every setting of gateway and worker. Field name upper-cased = environment variable."""

    # "development" allows the built-in dev secrets; anything else is production-like.
    app_env: str = "production"
    database_url: str = "postgresql://bgr@127.0.0.1:5432/bgr"
    redis_url: str = "redis://127.0.0.1:6379/0"
    db_pool_max: int = 20
    # Redis connections one process's pool may open (the gateway's requests borrow one per
    # command; a waiting request holds none). The process adds its results subscription and
    # Celery's producer pool (CELERY_BROKER_POOL_LIMIT) to this.
    redis_pool_max: int = 4
    celery_broker_pool_limit: int = 2

    # S3 / MinIO
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = DEV_S3_ACCESS_KEY
    s3_secret_key: str = DEV_S3_SECRET_KEY
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    s3_bucket: str = "bgremove-outputs"
    # When set, output URLs are <base>/<key> (bucket made public-read); else presigned GET URLs.
    s3_public_base_url: str = ""
    s3_presign_seconds: int = 86400
    output_retention_days: int = 7

    # Auth
    jwt_secret_key: str = DEV_JWT_SECRET
    jwt_expires_seconds: int = 3600

    # Requests and queueing
    request_timeout_seconds: float = 60.0
    queue_name: str = "segment"
    # Gateway: queues to send jobs to, in order of preference (empty: QUEUE_NAME).
    route_queues: str = ""
    queue_max_depth: int = 1000
    job_deadline_seconds: int = 600
    # Gateway admission: requests one process holds at once; past it 503 overloaded at once.
    # Sizing: docs/deployment.md (GPU images/s x seconds each, split over the processes).
    gateway_max_inflight: int = 2500
    # Gateway: slow clients (gateway/serving.py): the first request's headers within this...
    header_timeout_seconds: float = 10.0
    # ...and the body at BODY_MIN_BYTES_PER_SECOND after a BODY_TIMEOUT_SECONDS start; 408.
    body_timeout_seconds: float = 10.0
    body_min_bytes_per_second: int = 16384
    reaper_interval_seconds: float = 30.0
    max_request_bytes: int = 16384
    # Requests per user per minute on the v1 endpoints (Redis fixed window); 0 disables.
    rate_limit_per_minute: int = 600
    # Image jobs one user may have in flight at once, across every gateway (Redis); 0 = no
    # limit. Both are defaults: an operator sets a user's own through the admin API / CLI.
    max_concurrent_per_user: int = 0
    # Gateway: the web pages' folder (HTML, static/, node_modules/); empty: web/ in the repo.
    web_root: str = ""

    # Worker: input fetch
    input_allow_networks: tuple = field(default=())
    input_max_bytes: int = 25 * 1024 * 1024
    input_connect_timeout: float = 5.0
    input_read_timeout: float = 20.0
    input_max_redirects: int = 3
    max_image_pixels: int = 50_000_000
    # Gateway: an uploaded image (multipart file or base64), checked before a credit is reserved.
    upload_max_bytes: int = 22 * 1024 * 1024

    # Model: the one a worker serves; on the gateway, the default for requests without one.
    model_name: str = "u2net"
    # Gateway: the models a request may ask for (deployed workers); empty means MODEL_NAME only.
    models: str = ""
    # Both: a TOML file of the operator's own models (shared/models_file.py), served by name
    # like the built-in ones once `make models` has installed them.
    models_file: str = ""
    # Worker: alpha refinement after the model ("guided": edges snapped to the photo at full
    # resolution; "none": the model's map stretched, as rembg does), mirrored second pass.
    refine: str = "guided"
    tta_flip: bool = False
    # Worker: re-estimate the subject's colour under semi-transparent pixels
    # (worker/edge_colours.py).
    foreground_estimation: bool = True
    u2net_home: str = os.path.expanduser("~/.u2net")
    # Worker: which of the model's files to run: fp32, its static int8 quantisation (derived
    # by `make models`), or auto: int8 where the worker's start-up self-check finds it accurate
    # and faster on this CPU, else fp32 (worker/precision.py; docs/models.md).
    model_precision: str = "auto"
    ort_providers: str = "CPUExecutionProvider"
    ort_intra_op_threads: int = 0
    # Worker: onnxruntime's CPU memory arena (faster; its RSS grows to the peak once).
    ort_cpu_mem_arena: bool = True
    # Worker: run up to MICRO_BATCH_SIZE images that arrive within MICRO_BATCH_WAIT_MS of
    # the first as one batched inference (threads pool; for GPUs). 1 = one by one.
    micro_batch_size: int = 1
    micro_batch_wait_ms: float = 5.0
    task_soft_time_limit: int = 120
    task_time_limit: int = 150
    png_compress_level: int = 6
    png_zlib_strategy: str = "rle"
    # Prometheus endpoint of a worker node (its main process serves every pool child's
    # metrics); 0 disables it.
    worker_metrics_port: int = 9808

    @property
    def served_models(self) -> list[str]:
        """What a request may choose (gateway): MODELS, the default model always among them."""
        names = parse_names(self.models, self.catalogue)
        return names if self.model_name in names else [self.model_name, *names]

    @property
    def catalogue(self) -> dict[str, ModelSpec]:
        """Every model this deployment knows: the built-in rows and MODELS_FILE's entries."""
        return catalogue(self.models_file)

    @property
    def model_spec(self) -> ModelSpec:
        """MODEL_NAME's catalogue row."""
        return self.catalogue[self.model_name]

    @property
    def worker_queue(self) -> str:
        """The queue this worker consumes: its pool (QUEUE_NAME) for its model."""
        return queue_for(self.queue_name, self.model_name)

    @property
    def is_development(self) -> bool:
        return self.app_env == "development"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every field from environ (default os.environ), then apply overrides; validate."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f.name.upper())
            if raw is None:
                continue
            try:
                values[f.name] = _parse(f.name, f.type, raw)
            except ValueError as exc:
                raise ConfigError(f"{f.name.upper()}: {exc}") from exc
        values.update(overrides)
        if isinstance(values.get("input_allow_networks"), str):
            values["input_allow_networks"] = _networks(values["input_allow_networks"])
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse settings that are unsafe outside development, or plainly inconsistent."""
        if not self.is_development:
            if self.jwt_secret_key == DEV_JWT_SECRET or len(self.jwt_secret_key) < 32:
                raise ConfigError("JWT_SECRET_KEY must be set to a secret of 32+ characters "
                                  "outside development (APP_ENV=development allows the default)")
            if self.s3_access_key == DEV_S3_ACCESS_KEY or self.s3_secret_key == DEV_S3_SECRET_KEY:
                raise ConfigError("S3_ACCESS_KEY / S3_SECRET_KEY must be set outside development")
        if self.task_soft_time_limit >= self.task_time_limit:
            raise ConfigError("TASK_SOFT_TIME_LIMIT must be below TASK_TIME_LIMIT")
        if self.request_timeout_seconds <= 0:
            raise ConfigError("REQUEST_TIMEOUT_SECONDS must be positive")
        if not 0 <= self.png_compress_level <= 9:
            raise ConfigError("PNG_COMPRESS_LEVEL must be 0..9")
        if self.png_zlib_strategy not in ("default", "filtered", "huffman", "rle", "fixed"):
            raise ConfigError("PNG_ZLIB_STRATEGY must be default, filtered, huffman, rle or fixed")
        if self.gateway_max_inflight < 1:
            raise ConfigError("GATEWAY_MAX_INFLIGHT must be 1 or more")
        if min(self.header_timeout_seconds, self.body_timeout_seconds,
               self.body_min_bytes_per_second) <= 0:
            raise ConfigError("HEADER_TIMEOUT_SECONDS, BODY_TIMEOUT_SECONDS and "
                              "BODY_MIN_BYTES_PER_SECOND must be positive")
        if self.redis_pool_max < 1 or self.celery_broker_pool_limit < 1:
            raise ConfigError("REDIS_POOL_MAX and CELERY_BROKER_POOL_LIMIT must be 1 or more")
        if self.rate_limit_per_minute < 0:
            raise ConfigError("RATE_LIMIT_PER_MINUTE must be 0 (off) or positive")
        if self.max_concurrent_per_user < 0:
            raise ConfigError("MAX_CONCURRENT_PER_USER must be 0 (off) or positive")
        try:
            known = self.catalogue
        except ValueError as exc:  # shared.models_file.ModelsFileError names the entry
            raise ConfigError(str(exc)) from exc
        if self.model_name not in known:
            raise ConfigError(f"MODEL_NAME must be one of {', '.join(known)}")
        try:
            parse_names(self.models, known)
        except ValueError as exc:
            raise ConfigError(f"MODELS: {exc}") from exc
        if self.model_precision not in ("auto", *PRECISIONS):
            raise ConfigError(f"MODEL_PRECISION must be auto or one of {', '.join(PRECISIONS)}")
        precisions = known[self.model_name].precisions
        if self.model_precision != "auto" and self.model_precision not in precisions:
            raise ConfigError(f"MODEL_PRECISION: {self.model_name} has no "
                              f"{self.model_precision} file (has: {', '.join(precisions)})")
        if self.micro_batch_size < 1 or self.micro_batch_wait_ms < 0:
            raise ConfigError("MICRO_BATCH_SIZE must be 1 or more, MICRO_BATCH_WAIT_MS >= 0")
        if self.refine not in REFINERS:
            raise ConfigError(f"REFINE must be one of {', '.join(REFINERS)}")
        if not 0 <= self.worker_metrics_port <= 65535:
            raise ConfigError("WORKER_METRICS_PORT must be 0 (off) or a port number")


def _parse(name: str, type_: Any, raw: str) -> Any:
    kind = type_ if isinstance(type_, str) else getattr(type_, "__name__", str(type_))
    if name == "input_allow_networks":
        return _networks(raw)
    if kind == "bool":
        return _bool(raw)
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    return raw
