"""The task contract between gateway and worker: names, payload and result (ids, never bytes)."""

from __future__ import annotations

import json
from typing import Any, TypedDict

import redis as redis_lib

from shared.options import OutputOptions

REMOVE_BACKGROUND = "bgremove.remove_background"

GRADIENT_DIRECTIONS = ("vertical", "horizontal", "diagonal-tl-br", "diagonal-bl-tr")


class UploadAndOptions(TypedDict, total=False):
    """Issue #11: an uploaded input (by S3 key, never its bytes) and the output options."""

    input_key: str | None  # set when the image was uploaded; input_image is then None
    options: OutputOptions  # shared/options.py; empty = the seed's behaviour


class RemoveBackgroundPayload(UploadAndOptions):
    """The one argument of REMOVE_BACKGROUND (task id = job id)."""

    job_id: str
    input_image: str | None
    output_format: str
    bg_color: str | None
    bg_gradient: str | None
    gradient_direction: str | None
    model: str  # shared.models name; the queue it came on serves only this model


class JobResult(TypedDict, total=False):
    """What the worker reports when a job ends (also pushed on done_key for waiting requests)."""

    job_id: str
    status: str  # "succeeded" | "failed"
    output_key: str
    error: dict[str, Any]  # {"code": ..., "message": ...}
    timings: dict[str, float]


def done_key(job_id: str) -> str:
    """Redis list a finished job's result is pushed to; the gateway BLPOPs it."""
    return f"bgr:done:{job_id}"


# Every result is also published here: each gateway process subscribes once (gateway/waiter.py)
# and wakes the requests waiting on that job, so a waiting request holds no connection.
DONE_CHANNEL = "bgr:done"
DONE_TTL_SECONDS = 3600
HEARTBEAT_PREFIX = "bgr:worker:"
HEARTBEAT_TTL_SECONDS = 15


def publish_result(redis: redis_lib.Redis, result: JobResult) -> None:
    """Keep a finished job's result on its list (an hour) and publish it to waiting gateways.

    The list comes first (one transaction): a gateway that was not subscribed when the message
    went out reads the list when it subscribes again.
    """
    key = done_key(result["job_id"])
    body = json.dumps(result)
    pipe = redis.pipeline()
    pipe.delete(key)
    pipe.rpush(key, body)
    pipe.expire(key, DONE_TTL_SECONDS)
    pipe.publish(DONE_CHANNEL, body)
    pipe.execute()
