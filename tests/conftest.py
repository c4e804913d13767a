"""Markers from the folder a test lives in (unit / integration / ...), strictly declared."""

from __future__ import annotations

from pathlib import Path

import pytest

# Session fixtures for the real services; lazy, so unit tests start nothing.
pytest_plugins = ["tests.stack"]

FOLDER_MARKERS = {"unit", "integration", "security", "reliability"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for folder in FOLDER_MARKERS.intersection(parts):
            item.add_marker(getattr(pytest.mark, folder))
