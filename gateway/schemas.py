"""The request schema of each endpoint, declared once: it validates, and generates the OpenAPI.

Values come from JSON (typed) or from form fields (strings): booleans accept both. Each field's
normalisation is a shared/options.py or shared/colors.py parser, so both APIs mean the same thing
by the same value; a ValueError there becomes a 400 naming the field (gateway/forms.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)

from gateway.services import limits
from shared import options as opt
from shared.colors import GRADIENT_DIRECTIONS, normalise_color, parse_gradient
from shared.errors import IMAGE_FORMATS_TEXT, InvalidParameter

MAX_URL_LENGTH = 2048
MAX_IDEMPOTENCY_KEY = 255
MAX_NOTE = 500  # an admin's note on a grant or a new user


def _blank_to_none(value: Any) -> Any:
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def check_url(value: str) -> str:
    """An http(s) URL with a host, printable, at most MAX_URL_LENGTH characters."""
    url = value.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # an unclosed or invalid '[...]' host
        host = None
    # Control characters (NUL) and lone surrogates are no URL, and PostgreSQL cannot store them.
    if (not host or parts.scheme not in ("http", "https") or len(value) > MAX_URL_LENGTH
            or not url.isprintable()):
        raise ValueError("must be an http or https URL")
    return url


def _gradient(value: str) -> str:
    parse_gradient(value.strip())
    return value.strip()


def _parsed(parser: Any) -> AfterValidator:
    return AfterValidator(lambda v: v if v is None else parser(v))


Url = Annotated[str | None, BeforeValidator(_blank_to_none), _parsed(check_url),
                Field(json_schema_extra={"format": "uri"})]
Color = Annotated[str | None, BeforeValidator(_blank_to_none), _parsed(normalise_color),
                  Field(description="Hex (3, 4, 6 or 8 digits, `#` optional; the 4th / 8th "
                                    "is alpha) or a CSS colour name, e.g. `81d4fa`, `#fff`, "
                                    "`red`. Overrides the gradient.")]
SIZE_TEXT = ("`preview` (up to 0.25 MP), `full` / `auto` (up to 25 MP), `50MP`; also `small`, "
             "`regular` (= preview), `medium` (1.5 MP), `hd` (4 MP), `4k` (= full).")
Size = Annotated[str | None, BeforeValidator(_blank_to_none), _parsed(opt.parse_size)]
Channels = Annotated[Literal["rgba", "alpha"], BeforeValidator(_lower),
                     Field(description="`alpha`: the mask alone, as a greyscale image.")]
Margin = Annotated[str | None, BeforeValidator(_blank_to_none), _parsed(opt.parse_margin),
                   Field(description="With crop: 1, 2 or 4 values (CSS order) in px or % of "
                                     "the subject, at most 500px / 50% a side.")]
Scale = Annotated[str | None, BeforeValidator(_blank_to_none), _parsed(opt.parse_scale),
                  Field(description="`10%`..`100%` of the canvas, or `original`; implies "
                                    "position center.")]
Position = Annotated[str | None, BeforeValidator(_blank_to_none), _parsed(opt.parse_position),
                     Field(description="`original`, `center`, or one or two percentages "
                                       "(x, y) of the free space.")]
Roi = Annotated[str | None, BeforeValidator(_blank_to_none), _parsed(opt.parse_roi),
                Field(description="`x1 y1 x2 y2` in px or %: only this region can be "
                                  "foreground.")]
INPUT_FORMATS = IMAGE_FORMATS_TEXT
Base64 = Annotated[str | None, BeforeValidator(_blank_to_none),
                   Field(description="The image file, base64-encoded (a `data:` URI prefix "
                                     f"is allowed): {INPUT_FORMATS}.")]


class TokenRequest(BaseModel):
    """POST /api/token's body (other fields are ignored)."""

    key: str = Field(min_length=1, description="An API key, `<prefix>.<secret>`.")


class OptionFields(BaseModel):
    """The output options both APIs take, under remove.bg's names."""

    size: Size = Field(None, description=SIZE_TEXT)
    channels: Channels = "rgba"
    crop: bool = Field(False, description="Crop to the subject (plus `crop_margin`).")
    crop_margin: Margin = None
    scale: Scale = None
    position: Position = None
    roi: Roi = None
    bg_color: Color = None
    bg_image_url: Url = None
    color_space: Annotated[Literal["original", "srgb"], BeforeValidator(_lower)] = Field(
        "original", description="Extension: `original` (default) keeps the photo's colour "
                                "space, its ICC profile embedded in the output, the background "
                                "colours converted into it; `srgb` converts the output to sRGB "
                                "(no profile embedded).")
    model: Annotated[str | None, BeforeValidator(_blank_to_none)] = Field(
        None, description="Extension: which of the deployed models cuts the image out "
                          "(`u2netp`, `u2net`, `isnet`; /readyz lists them). Default: the "
                          "deployment's MODEL_NAME.")

    def output_options(self) -> opt.OutputOptions:
        """The payload's options: only what differs from the defaults."""
        out: dict[str, Any] = {"size": self.size, "channels": self.channels, "crop": self.crop,
                               "crop_margin": self.crop_margin, "scale": self.scale,
                               "position": self.position, "roi": self.roi,
                               "bg_image_url": self.bg_image_url,
                               "color_space": self.color_space}
        defaults = {"channels": "rgba", "crop": False, "color_space": "original"}
        return {k: v for k, v in out.items()  # type: ignore[return-value]
                if v is not None and defaults.get(k) != v}


HeySwapFormat = Literal["png", "jpg", "webp", "avif", "zip", "auto"]
RemoveBgFormat = Literal["png", "jpg", "webp", "zip", "auto"]  # remove.bg's list as it is


class RemoveBackgroundRequest(OptionFields):
    """POST /api/v1/image/remove-background: the seed's fields, then the extensions."""

    model_config = ConfigDict(extra="forbid", title="RemoveBackgroundRequest")

    input_image: Url = Field(None, description="http or https URL of the input image; in a "
                                               "multipart body also a file part of this name. "
                                               f"{INPUT_FORMATS}.")
    input_image_base64: Base64 = None
    output_format: Annotated[HeySwapFormat, BeforeValidator(
        lambda v: "png" if v is None else _lower(v))] = Field(
        "png", description="png (default), jpg, webp; extensions: avif, zip (color.jpg + "
                           "alpha.png), auto (png when transparent, else jpg).")
    format: Annotated[HeySwapFormat | None, BeforeValidator(
        lambda v: _lower(_blank_to_none(v)))] = Field(
        None, description="remove.bg's name for output_format (the same values); both may "
                          "be sent only when they agree.")
    bg_gradient: Annotated[str | None, BeforeValidator(_blank_to_none), _parsed(_gradient),
                           Field(description="Two hex colours, `#a:#b`.")] = None
    gradient_direction: Annotated[Literal[GRADIENT_DIRECTIONS] | None,  # type: ignore[valid-type]
                                  BeforeValidator(_blank_to_none)] = None
    size: Size = Field(None, description="Default: the input's own size. " + SIZE_TEXT)


RemoveBgType = Literal["auto", "person", "product", "car", "animal", "graphic",
                       "transportation"]


class RemoveBgRequest(OptionFields):
    """POST /v1.0/removebg: remove.bg's parameters (unknown ones are ignored, as there)."""

    model_config = ConfigDict(extra="ignore", title="RemoveBgRequest")

    image_url: Url = Field(None, description=f"URL of the image: {INPUT_FORMATS}.")
    image_file_b64: Base64 = None
    size: Size = Field("preview", description="Default `preview`, as remove.bg. " + SIZE_TEXT)
    type: Annotated[RemoveBgType, BeforeValidator(_lower)] = Field(
        "auto", description="Accepted; answered in X-Type (`other` for auto: we do not "
                            "classify).")
    type_level: Annotated[Literal["none", "1", "2", "latest"],
                          BeforeValidator(lambda v: str(v).lower())] = Field(
        "none", description="Accepted and ignored (one model serves every type).")
    format: Annotated[RemoveBgFormat, BeforeValidator(_lower)] = "auto"
    bg_image_file_b64: Base64 = None
    add_shadow: bool = Field(False, description="Accepted and ignored: no shadow is drawn.")
    shadow_type: str | None = Field(None, description="Accepted and ignored.")
    shadow_opacity: str | int | None = Field(None, description="Accepted and ignored.")
    semitransparency: bool = Field(True, description="Accepted and ignored: the model's soft "
                                                     "alpha is kept as it is.")


class IdempotencyHeader(BaseModel):
    """The request header both image endpoints take (checked by gateway/jobs.py)."""

    key: str | None = Field(
        None, alias="Idempotency-Key", min_length=1, max_length=MAX_IDEMPOTENCY_KEY,
        pattern=r"^[ -~]+$",
        description="Makes retries safe: a retry with the same key (1 to 255 printable ASCII "
                    "characters, else 400) within 24 h returns the first result and is charged "
                    "once; the same key with a different body is 422 `idempotency_key_mismatch`.")


# -- admin bodies: each check raises the 400 naming its field, with the admin API's words ----
def _note(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NOTE \
            or not value.isprintable():
        raise InvalidParameter("note", f"'note' must be 1 to {MAX_NOTE} printable characters "
                                       "saying why.")
    return value.strip()


def _credits(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):  # JSON true is no number
        raise InvalidParameter("credits", "'credits' must be an integer.")
    return value


def _email(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidParameter("email", "'email' is required.")
    return value.strip()


_NOTE_SCHEMA = WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_NOTE})
Note = Annotated[str, BeforeValidator(_note), _NOTE_SCHEMA]
OptionalNote = Annotated[str | None, BeforeValidator(lambda v: v if v is None else _note(v)),
                         _NOTE_SCHEMA]
WholeCredits = Annotated[int, BeforeValidator(_credits)]


class CreateUserRequest(BaseModel):
    """POST /admin/v1/users."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, BeforeValidator(_email), Field(json_schema_extra={"format": "email"})]
    # A negative start is refused by shared/admin_ops.py, in its words.
    credits: Annotated[WholeCredits, Field(json_schema_extra={"minimum": 0})] = 0
    note: OptionalNote = None


class GrantRequest(BaseModel):
    """POST /admin/v1/users/<id>/credits."""

    model_config = ConfigDict(extra="forbid")

    credits: Annotated[WholeCredits, Field(json_schema_extra={"not": {"const": 0}})] = Field(
        description="Positive: a grant; negative: a correction.")
    note: Note


def _limit(name: str) -> Any:
    """A limit's field: an integer 0 (no limit)..its top, or null (back to the default);
    anything else is the service's 400 naming the field."""
    top = limits.LIMITS[name][1]

    def checked(value: Any) -> Any:
        limits.check({name: value})
        return value

    return Annotated[int | None, BeforeValidator(checked), WithJsonSchema(
        {"type": ["integer", "null"], "minimum": 0, "maximum": top})]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class LimitsRequest(BaseModel):
    """PATCH /admin/v1/users/<id>/limits: the limits named change; the others stay."""

    # At least one limit; a missing one is unchanged, which is no `default` (null resets).
    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    rate_limit_per_minute: _limit("rate_limit_per_minute") = Field(  # type: ignore[valid-type]
        None, description="Requests per minute on the customer APIs; 0: no limit; null: "
                          "`RATE_LIMIT_PER_MINUTE`.", json_schema_extra=_no_default)
    max_concurrent: _limit("max_concurrent") = Field(  # type: ignore[valid-type]
        None, description="Image requests in flight at once; 0: no limit; null: "
                          "`MAX_CONCURRENT_PER_USER`.", json_schema_extra=_no_default)
