"""Object storage over the S3 API (minio SDK): bucket setup, writes, URLs for clients."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import BinaryIO

import urllib3
from minio import Minio
from minio.commonconfig import ENABLED, Filter
from minio.error import MinioException
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule

from shared.config import Settings
from shared.errors import StorageError

OUTPUT_PREFIX = "outputs/"
# Uploaded inputs (and background photos) wait here for their job; the worker deletes them when
# the job ends, and a one-day lifecycle rule removes any a crash left behind.
INPUT_PREFIX = "inputs/"
INPUT_RETENTION_DAYS = 1


def output_key(job_id: str, extension: str) -> str:
    """The object key of a job's output: fixed per job (a retried task overwrites, never adds).

    Job ids are random UUID4s (122 bits) known only to their owner, so the key is unguessable.
    """
    return f"{OUTPUT_PREFIX}{job_id}.{extension}"


def input_key(job_id: str, role: str = "image") -> str:
    """The object key of a job's uploaded input ("image") or background photo ("background")."""
    return f"{INPUT_PREFIX}{job_id}/{role}"


class Storage:
    """The output bucket; every SDK or network error leaves as StorageError (503)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bucket = settings.s3_bucket
        # Short timeouts and few retries: a dead S3 must fail a job quickly, not hang a worker.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3, read=30), maxsize=10,
            retries=urllib3.Retry(total=2, backoff_factor=0.2,
                                  status_forcelist=[500, 502, 503, 504]))
        # region= spares the SDK a network round trip before presigning.
        self.client = Minio(settings.s3_endpoint, access_key=settings.s3_access_key,
                            secret_key=settings.s3_secret_key, secure=settings.s3_secure,
                            region=settings.s3_region, http_client=http)

    def ensure_bucket(self) -> None:
        """Create the bucket if needed; set the retention rule and, for public URLs, read access."""
        try:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)
            rules = [Rule(ENABLED, rule_filter=Filter(prefix=INPUT_PREFIX), rule_id="inputs",
                          expiration=Expiration(days=INPUT_RETENTION_DAYS))]
            if self.settings.output_retention_days > 0:
                rules.append(Rule(ENABLED, rule_filter=Filter(prefix=OUTPUT_PREFIX),
                                  rule_id="retention",
                                  expiration=Expiration(days=self.settings.output_retention_days)))
            self.client.set_bucket_lifecycle(self.bucket, LifecycleConfig(rules))
            if self.settings.s3_public_base_url:
                self.client.set_bucket_policy(self.bucket, json.dumps(self._public_policy()))
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"Object storage setup failed: {exc}") from exc

    def _public_policy(self) -> dict:
        return {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{self.bucket}/{OUTPUT_PREFIX}*"]}]}

    def put(self, key: str, data: bytes, content_type: str,
            metadata: dict[str, str] | None = None) -> None:
        """Write one object whole (S3 PUT is atomic: readers never see half an object)."""
        self.put_stream(key, io.BytesIO(data), len(data), content_type, metadata)

    def put_stream(self, key: str, stream: BinaryIO, length: int, content_type: str,
                   metadata: dict[str, str] | None = None) -> None:
        """Write length bytes read from stream (an upload's spooled file) as one object."""
        try:
            self.client.put_object(self.bucket, key, stream, length, content_type=content_type,
                                   metadata=metadata)  # type: ignore[arg-type]
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError() from exc

    def get(self, key: str) -> tuple[bytes, dict[str, str]]:
        """An object's bytes and headers (Content-Type, x-amz-meta-*, lower-cased names)."""
        resp = None
        try:
            resp = self.client.get_object(self.bucket, key)
            return resp.read(), {k.lower(): v for k, v in resp.headers.items()}
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError() from exc
        finally:
            if resp is not None:
                resp.close()
                resp.release_conn()

    def delete(self, key: str) -> None:
        """Remove an object (missing is fine)."""
        try:
            self.client.remove_object(self.bucket, key)
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError() from exc

    def exists(self, key: str) -> bool:
        """True when the object exists."""
        try:
            self.client.stat_object(self.bucket, key)
            return True
        except MinioException as exc:
            if getattr(exc, "code", "") in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return False
            raise StorageError() from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError() from exc

    def list_keys(self, prefix: str = OUTPUT_PREFIX) -> list[str]:
        """Every object key under prefix."""
        try:
            return [o.object_name for o in self.client.list_objects(self.bucket, prefix,
                                                                     recursive=True)]
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError() from exc

    def url(self, key: str) -> str:
        """The client-facing URL: <public base>/<key>, or a presigned GET (no network needed)."""
        if self.settings.s3_public_base_url:
            return f"{self.settings.s3_public_base_url.rstrip('/')}/{key}"
        return self.client.presigned_get_object(
            self.bucket, key, expires=timedelta(seconds=self.settings.s3_presign_seconds))

    def ping(self) -> None:
        """Raise StorageError unless the bucket answers."""
        try:
            if not self.client.bucket_exists(self.bucket):
                raise StorageError(f"bucket {self.bucket!r} does not exist")
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError() from exc
