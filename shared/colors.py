"""Colour parsing shared by gateway (validation) and worker (compositing); stdlib only."""

from __future__ import annotations

import re

RGB = tuple[int, int, int]

# Direction names accepted for bg_gradient; the first one is the default.
GRADIENT_DIRECTIONS: tuple[str, ...] = (
    "vertical",
    "horizontal",
    "diagonal-tl-br",
    "diagonal-bl-tr",
)
DEFAULT_GRADIENT_DIRECTION = GRADIENT_DIRECTIONS[0]

# Anchored with \Z rather than $ so a trailing newline is not accepted.
_HEX = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})\Z")


def parse_hex_color(value: str) -> RGB:
    """Parse "#RRGGBB" or "#RGB" (any case) into an (r, g, b) tuple; ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError("colour must be a string like #RRGGBB or #RGB")
    match = _HEX.match(value)
    if match is None:
        raise ValueError(f"not a hex colour (#RRGGBB or #RGB): {value[:32]!r}")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))


def parse_gradient(value: str) -> tuple[RGB, RGB]:
    """Parse "#aaaaaa:#bbbbbb" into its two colours (first, second); ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError("gradient must be a string like #aaaaaa:#bbbbbb")
    parts = value.split(":")
    if len(parts) != 2:
        raise ValueError("gradient must be two hex colours separated by ':'")
    return parse_hex_color(parts[0]), parse_hex_color(parts[1])


def parse_gradient_direction(value: str | None) -> str:
    """Return a valid gradient direction (default for None/empty); ValueError for unknown ones."""
    if value is None or value == "":
        return DEFAULT_GRADIENT_DIRECTION
    if value not in GRADIENT_DIRECTIONS:
        raise ValueError(f"gradient direction must be one of {', '.join(GRADIENT_DIRECTIONS)}")
    return value
