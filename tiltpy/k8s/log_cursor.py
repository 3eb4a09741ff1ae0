"""Resuming a container's log stream where it broke, with no line shown twice
and none lost.

The stream is read with `timestamps=true`, so every line carries the
kubelet's RFC 3339 nanosecond timestamp. When the connection breaks (an API
server restart, a network blip), the stream is opened again with
`sinceTime` — which the API takes only to the second — and the lines
already shown are skipped: everything older than the last timestamp seen,
and as many lines at exactly that timestamp as were already shown."""
from __future__ import annotations

import datetime


def _epoch_seconds(whole: str) -> int | None:
    try:
        return int(datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc).timestamp())
    except ValueError:
        return None


def parse_timestamp(text: str) -> tuple[int, int] | None:
    """'2026-12-02T13:00:00.123456789Z' → (epoch seconds, nanoseconds)."""
    if not text.endswith("Z") or "T" not in text:
        return None
    whole, _, fraction = text[:-1].partition(".")
    seconds = _epoch_seconds(whole)
    if seconds is None or fraction and not (fraction.isascii() and fraction.isdigit()):
        return None
    return seconds, int((fraction + "000000000")[:9]) if fraction else 0


class LogCursor:
    def __init__(self) -> None:
        self._last: tuple[int, int] | None = None
        self._shown_at_last = 0
        self._replaying = False
        self._replayed_at_last = 0
        self._cached_whole = ""
        self._cached_seconds = 0

    def since_time(self) -> str:
        """The sinceTime for the next connection ('' for the first)."""
        if self._last is None:
            return ""
        return datetime.datetime.fromtimestamp(self._last[0], datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def reconnecting(self) -> None:
        self._replaying = self._last is not None
        self._replayed_at_last = 0

    def _parse(self, stamp_text: str) -> tuple[int, int] | None:
        """parse_timestamp, with the seconds of the previous line's second
        reused: a pod printing fast puts thousands of lines in each second,
        and strptime is the costliest step of a line otherwise."""
        if not stamp_text.endswith("Z") or "T" not in stamp_text:
            return None
        whole, _, fraction = stamp_text[:-1].partition(".")
        if whole == self._cached_whole:
            seconds: int | None = self._cached_seconds
        else:
            seconds = _epoch_seconds(whole)
            if seconds is None:
                return None
            self._cached_whole, self._cached_seconds = whole, seconds
        if fraction and not (fraction.isascii() and fraction.isdigit()):
            return None
        return seconds, int((fraction + "000000000")[:9]) if fraction else 0  # type: ignore[return-value]

    def accept(self, line: str) -> str | None:
        """The line's text if it is new, None if it was already shown."""
        stamp_text, _, text = line.partition(" ")
        stamp = self._parse(stamp_text)
        if stamp is None:  # no timestamp: can't place it, show it
            return line
        if self._replaying and self._last is not None:
            if stamp < self._last:
                return None
            if stamp == self._last:
                self._replayed_at_last += 1
                if self._replayed_at_last <= self._shown_at_last:
                    return None
            self._replaying = False
        if stamp == self._last:
            self._shown_at_last += 1
        else:
            self._last, self._shown_at_last = stamp, 1
        return text
