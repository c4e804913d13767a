"""The remove.bg-compatible API's answers (gateway/removebg.py): its JSON bodies, its result
headers and its error format, as remove.bg publishes them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RemoveBgErrorItem(BaseModel):
    title: str
    code: str
    detail: str | None = None


class RemoveBgError(_Closed):
    """remove.bg's error format."""

    errors: list[RemoveBgErrorItem] = Field(min_length=1)


class RemoveBgResultData(_Closed):
    result_b64: str = Field(json_schema_extra={"contentEncoding": "base64"})
    foreground_top: int = Field(ge=0)
    foreground_left: int = Field(ge=0)
    foreground_width: int = Field(ge=0)
    foreground_height: int = Field(ge=0)


class RemoveBgResult(_Closed):
    """The output image (or JSON with Accept: application/json)."""

    data: RemoveBgResultData


class RemoveBgCredits(BaseModel):
    total: int
    subscription: int
    payg: int
    enterprise: int


class RemoveBgApi(BaseModel):
    free_calls: int
    sizes: str


class RemoveBgAttributes(BaseModel):
    credits: RemoveBgCredits
    api: RemoveBgApi


class RemoveBgAccountData(BaseModel):
    attributes: RemoveBgAttributes


class RemoveBgAccount(BaseModel):
    """The balance (all of it pay-as-you-go credits)."""

    data: RemoveBgAccountData




class RemoveBgHeaders(BaseModel):
    """The headers of every result, image or JSON."""

    model_config = ConfigDict(populate_by_name=True)

    credits_charged: str = Field(alias="X-Credits-Charged", description=(
        "Credits charged by this call: 1 per image, whatever the size; 0 for a replayed "
        "Idempotency-Key."))
    type: str = Field(alias="X-Type", description="The `type` asked for; `other` for auto (we "
                                                  "do not classify).")
    width: str = Field(alias="X-Width", description="Output width in pixels.")
    height: str = Field(alias="X-Height", description="Output height in pixels.")
    top: str = Field(alias="X-Foreground-Top", description="The subject's bounding box in the "
                                                           "output: top.")
    left: str = Field(alias="X-Foreground-Left", description="The subject's bounding box in "
                                                             "the output: left.")
    box_width: str = Field(alias="X-Foreground-Width", description="The subject's bounding box "
                                                                   "in the output: width.")
    box_height: str = Field(alias="X-Foreground-Height", description="The subject's bounding "
                                                                     "box in the output: height.")
