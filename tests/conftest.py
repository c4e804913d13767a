"""Markers from the folder a test lives in (unit / integration / ...), strictly declared."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.netutil import Recorder

# Session fixtures for the real services; lazy, so unit tests start nothing.
pytest_plugins = ["tests.stack"]

FOLDER_MARKERS = {"unit", "integration", "security", "reliability", "web"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for folder in FOLDER_MARKERS.intersection(parts):
            item.add_marker(getattr(pytest.mark, folder))


@pytest.fixture()
def recorder() -> Iterator[Callable[..., Recorder]]:
    """Factory of connection recorders (127.0.0.1 by default), all closed after the test."""
    made: list[Recorder] = []

    def make(host: str = "127.0.0.1", port: int = 0) -> Recorder:
        made.append(Recorder(host, port))
        return made[-1]

    yield make
    for rec in made:
        rec.close()
