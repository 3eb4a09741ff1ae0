"""Resuming a log stream: nothing shown twice, nothing lost."""
from __future__ import annotations

from tiltpy.k8s.log_cursor import LogCursor, parse_timestamp

LINES = [
    "2026-12-02T13:00:00.5Z a",
    "2026-12-02T13:00:00.50001Z b",  # Go trims trailing zeros: compare as numbers, not text
    "2026-12-02T13:00:01.000000001Z c",
    "2026-12-02T13:00:01.000000001Z d",  # two lines at the very same nanosecond
    "2026-12-02T13:00:02Z e",
]


def test_timestamps_compare_as_numbers() -> None:
    assert parse_timestamp("2026-12-02T13:00:00.5Z") < parse_timestamp("2026-12-02T13:00:00.50001Z")
    assert parse_timestamp("2026-12-02T13:00:02Z")[1] == 0
    assert parse_timestamp("garbage") is None


def test_first_stream_shows_everything() -> None:
    cursor = LogCursor()
    assert cursor.since_time() == ""
    assert [cursor.accept(line) for line in LINES] == ["a", "b", "c", "d", "e"]


def test_resume_after_a_break_skips_what_was_shown_and_keeps_the_rest() -> None:
    cursor = LogCursor()
    assert [cursor.accept(line) for line in LINES[:3]] == ["a", "b", "c"]  # broke after c
    cursor.reconnecting()
    assert cursor.since_time() == "2026-12-02T13:00:01Z"  # the API takes seconds only
    # The server replays from 13:00:01: c again (skipped), then d (new, same instant), e.
    replay = LINES[2:]
    assert [cursor.accept(line) for line in replay] == [None, "d", "e"]


def test_resume_when_the_break_fell_between_two_lines_of_one_instant() -> None:
    cursor = LogCursor()
    assert [cursor.accept(line) for line in LINES[:4]] == ["a", "b", "c", "d"]
    cursor.reconnecting()
    assert [cursor.accept(line) for line in LINES[2:]] == [None, None, "e"]


def test_empty_and_untimestamped_lines() -> None:
    cursor = LogCursor()
    assert cursor.accept("2026-12-02T13:00:00Z ") == ""
    assert cursor.accept("no timestamp here") == "no timestamp here"
