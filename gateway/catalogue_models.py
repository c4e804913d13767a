"""The answer of GET /api/v1/models: the models this deployment serves (its OpenAPI schema)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ServedModel(BaseModel):
    """One model a request may name in `model`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="What to send as `model` (rembg's name where rembg has it).")
    family: Literal["u2net", "isnet", "birefnet", "ben", "bria"]
    input_size: int = Field(ge=1, description="Side of the square the network sees, in pixels.")
    licence: str
    gate: Literal["none", "agpl", "noncommercial"] = Field(
        description="Why the operator had to accept its licence to install it (none: no need).")
    default: bool = Field(description="Requests without `model` run this one.")
    precisions: list[Literal["fp32", "int8"]] = Field(
        description="The files its live workers run (each worker picks one on its CPU at "
                    "start); empty while none is live.")
    live_workers: int = Field(ge=0, description="Worker processes serving it now (heartbeats); "
                                                "0: its requests wait in the queue or get 503.")


class ServedModels(BaseModel):
    model_config = ConfigDict(extra="forbid")

    success: Literal[True]
    default_model: str
    models: list[ServedModel]
