"""Fixtures for end-to-end tests."""
from __future__ import annotations

import pytest

# TILTPY_WATCHER value → the watcher `up` must then name in its log.
WATCHERS = {"inotify": "inotify", "portable": "watchfiles"}


@pytest.fixture(params=list(WATCHERS))
def watcher(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs the test once per file watcher: the `tiltpy up` it starts inherits
    TILTPY_WATCHER. Returns the line `up` logs when it watches with it."""
    monkeypatch.setenv("TILTPY_WATCHER", request.param)
    return f"Watching files with {WATCHERS[request.param]}"
