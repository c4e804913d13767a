"""The v1 endpoints: validate, reserve, enqueue, await the worker, answer in the seed's JSON."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response

from gateway import forms, jobs
from gateway.context import runtime
from gateway.contract import JSON, MULTIPART, Answer, Body, Routes
from gateway.forms import Upload
from gateway.guards import BEARER, current_key_id, current_user_id
from gateway.response_models import (
    IMAGE_TYPES,
    Credits,
    Job,
    JobError,
    JobIdHeader,
    RemoveBackgroundResult,
    ResultData,
)
from gateway.schemas import IdempotencyHeader, RemoveBackgroundRequest
from shared.config import Settings
from shared.errors import (
    BadRequest,
    DependencyDown,
    InvalidParameter,
    JobNotFound,
    NotFound,
    StorageError,
    from_code,
)

routes = Routes("api", __name__, "/api/v1", tag="images", guard=BEARER, rate_limited=True)
bp = routes.bp

SUCCESS_MESSAGE = "Background removed successfully"
JOB_ID_HEADER = "X-Job-Id"


@routes.get("/user/credits", answer=Credits, errors=[DependencyDown], tag="account",
            op="getCredits")
def credits() -> Credits:
    """The user's credit balance"""
    user_id = current_user_id()
    return Credits(success=True, credits=runtime().credits.balance(user_id), user_id=user_id)


# The seed's fields first: with several bad fields, the error names the one it always named.
SEED_FIELDS = ("input_image", "input_image_base64", "output_format", "bg_color", "bg_gradient",
               "gradient_direction")


def parse_request(settings: Settings) -> tuple[dict[str, Any], list[Upload]]:
    """The job's parameters (the seed's fields, plus `options` when any is set) and uploads.

    JSON (input_image as URL, or input_image_base64) or multipart (input_image as a file part or
    a URL field); exactly one image source. Refusals happen here, before any reservation.
    """
    fields, files = forms.read_body()
    unknown_files = sorted(set(files) - {"input_image"})
    if unknown_files:
        raise InvalidParameter(unknown_files[0], f"Unknown file part '{unknown_files[0]}'.")
    forms.refuse_big_body_without_upload(
        settings, bool(files) or bool(fields.get("input_image_base64")))
    if "input_image" in files:
        if _given(fields.get("input_image")) or _given(fields.get("input_image_base64")):
            raise _two_sources()
        fields = {**fields, "input_image": None}
    req = forms.validate(RemoveBackgroundRequest, fields, SEED_FIELDS)
    sources = [s for s in ("input_image", "input_image_base64") if getattr(req, s)]
    if len(sources) + ("input_image" in files) > 1:
        raise _two_sources()
    uploads: list[Upload] = []
    if "input_image" in files:
        uploads.append(forms.file_upload(files["input_image"], "image", settings))
    elif req.input_image_base64:
        uploads.append(forms.base64_upload(req.input_image_base64, "input_image_base64",
                                           "image", settings))
    elif not req.input_image:
        raise InvalidParameter("input_image", "'input_image' is required: the URL of the image "
                               "(or, as extensions, a file part or input_image_base64).")
    output_format = req.output_format
    if req.format is not None:
        if fields.get("output_format") not in (None, "") and req.format != output_format:
            raise InvalidParameter("format", "'format' and 'output_format' disagree; send one.")
        output_format = req.format
    params: dict[str, Any] = {
        "input_image": req.input_image, "output_format": output_format,
        "bg_color": req.bg_color, "bg_gradient": req.bg_gradient,
        "gradient_direction": req.gradient_direction, "model": req.model}
    options = req.output_options()
    if options:
        params["options"] = options
    return params, uploads


def _given(value: Any) -> bool:
    return value is not None and value != ""


def _two_sources() -> InvalidParameter:
    return InvalidParameter("input_image", "Send one image: 'input_image' (a URL or a file "
                            "part) or 'input_image_base64', not several.")


@routes.post(
    "/image/remove-background", headers=IdempotencyHeader,
    body=Body(RemoveBackgroundRequest, media=(JSON, MULTIPART), parsed=False, files={
        "input_image": "The image as a file part (or its URL as a plain field)."}),
    answer=Answer(RemoveBackgroundResult, headers=JobIdHeader),
    # BadRequest: a multipart body Werkzeug cannot parse (gateway/app.py maps its 400).
    errors=[BadRequest, *jobs.JOB_ERRORS])
def remove_background() -> tuple[RemoveBackgroundResult, JobIdHeader]:
    """Remove the background of an image
    Reserves one credit, queues the job and holds the request open until the worker answers (or
    `REQUEST_TIMEOUT_SECONDS` pass: 504 with where to poll). One credit per image that produced
    an output; a failed job costs nothing."""
    rt = runtime()
    params, uploads = parse_request(rt.settings)  # before any reservation: refusals are free
    outcome = jobs.submit(current_user_id(), current_key_id(), params, uploads)
    result = RemoveBackgroundResult(
        success=True, message=SUCCESS_MESSAGE,
        data=ResultData(output_image=rt.storage.url(outcome.result["output_key"]),
                        input_image=params["input_image"]),
        credits_remaining=outcome.balance_after)
    # An extension in a header, so the seed's body stays as it is: where the job's timings
    # (GET /api/v1/jobs/<id>) and its bytes (.../output, same origin) are.
    return result, JobIdHeader(job_id=outcome.job_id)


def own_job(job_id: str) -> dict[str, Any]:
    """The caller's job by id; another user's job, or no such job, is 404 alike."""
    try:
        job_uuid = uuid.UUID(job_id)
    except ValueError:
        raise JobNotFound() from None
    job = runtime().db.one("get_job", job_id=job_uuid)
    if job is None or int(job["user_id"]) != current_user_id():
        raise JobNotFound()
    return job


JOB_ID = {"job_id": "The job id (a UUID); another user's job is 404."}


@routes.get("/jobs/<job_id>", params=JOB_ID, answer=Job,
            errors=[JobNotFound, DependencyDown], op="getJob")
def job_status(job_id: str) -> Job:
    """A job's status; once done its data (or error)"""
    job = own_job(job_id)
    answer = Job(success=True, job_id=str(job["id"]), status=job["status"],
                 created_at=job["created_at"].isoformat(),
                 finished_at=job["finished_at"] and job["finished_at"].isoformat(),
                 timings=job["timings"] or None,  # seconds per worker stage (fetch, ...)
                 notes=job["notes"] or None)
    if job["status"] == "succeeded":
        answer.message = SUCCESS_MESSAGE
        answer.data = ResultData(output_image=runtime().storage.url(job["output_key"]),
                                 input_image=job["params"]["input_image"])
    elif job["status"] == "failed":
        err = from_code(job["error_code"] or "processing_failed", job["error_message"] or None)
        answer.error = JobError(code=err.code, message=err.message, status=err.status)
    return answer


@routes.get("/jobs/<job_id>/output", params=JOB_ID,
            answer=Answer(media=IMAGE_TYPES, description="The output file."),
            errors=[NotFound, JobNotFound, DependencyDown, StorageError], op="getJobOutput")
def job_output(job_id: str) -> Response:
    """A succeeded job's output image, through the gateway
    The bytes `output_image` points at, from this origin with the owner's token (the web pages
    use it: they make no request to another origin). 404 for another user's job, one without
    an output, or an output past its retention."""
    job = own_job(job_id)
    if job["status"] != "succeeded" or not job["output_key"]:
        raise NotFound("This job has no output (yet): see its status.", param="job_id")
    try:
        data, headers = runtime().storage.get(job["output_key"])
    except StorageError:
        if runtime().storage.exists(job["output_key"]):
            raise
        raise NotFound("The output is no longer kept (see OUTPUT_RETENTION_DAYS).",
                       param="job_id") from None
    response = Response(data, mimetype=headers.get("content-type", "application/octet-stream"))
    name = job["output_key"].rsplit("/", 1)[-1]
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    # The bytes of a finished job never change; only its owner may read them.
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
