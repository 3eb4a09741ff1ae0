"""Kubernetes YAML parsed by earlier Tiltfile loads, remembered by its text.

Parsing YAML is the largest single cost of loading a big Tiltfile: PyYAML
builds a Python node per scalar even with libyaml, about 0.3 ms for a small
Deployment + Service file, 60 ms for 200 services. The files rarely change
between loads, so the documents of a text parsed before are answered from a
cache keyed by the whole text (a hit is exact, no hash to collide), held as
JSON, which also makes every hit a fresh copy the caller may change.

The cache lives in memory (Tiltfile reloads in `up`) and, per Tiltfile, in
$XDG_CACHE_HOME/tiltpy/yaml-documents-<crc32 of its path>.json (one-shot
commands such as `alpha tiltfile-result`), written after a load only when
the YAML it used changed. Kept only: documents JSON represents exactly (no timestamps,
binary values, non-string keys or NaN; those texts are parsed every time)
and no text holding a Secret, so the cache never becomes a second copy of
credentials. Losing or corrupting the file costs nothing but a parse."""
from __future__ import annotations

import binascii
import os
import threading
import time
from typing import Any

import orjson

from tiltpy import __version__
from tiltpy.k8s.objects import load_yaml_documents
from tiltpy.user_cache import cache_path, read_bytes, write_atomically

FORMAT = f"tiltpy {__version__} yaml-documents 1"  # our parser may change between versions
MAX_BYTES = 16 << 20  # texts + their JSON; the least recently used go first


def _exact_json(docs: list[Any]) -> str | None:
    """The documents as JSON, or None when JSON would not give them back equal."""
    try:
        encoded = orjson.dumps(docs)
    except TypeError:  # bytes, sets, non-string keys, integers beyond 64 bits
        return None
    return encoded.decode() if orjson.loads(encoded) == docs else None


def _holds_secret(docs: list[Any]) -> bool:
    pending = list(docs)
    while pending:
        doc = pending.pop()
        if isinstance(doc, dict):
            if doc.get("kind") == "Secret":
                return True
            if isinstance(doc.get("items"), list):  # a kind: List
                pending.extend(doc["items"])
    return False


def _forget_old_projects(directory: str, max_age_secs: float = 30 * 86400) -> None:
    """Remove the files not written for a month (checked only when writing): the
    Tiltfiles of old checkouts and temporary projects. One whose YAML never
    changes may go too; that costs its next load one parse."""
    cutoff = time.time() - max_age_secs
    try:
        with os.scandir(directory) as found:
            for entry in found:
                if entry.name.startswith("yaml-documents-") and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
    except OSError:
        pass


class ParsedYamlCache:
    """One project's parsed YAML: a file per Tiltfile, holding what its loads
    used (so it stays the size of the project's YAML, and reading it costs
    about a millisecond). Without a fixed `path`, open_project() picks the file."""

    def __init__(self, path: str | None = None, max_bytes: int = MAX_BYTES) -> None:
        self._path = path
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: dict[str, str] | None = None  # text -> JSON of its documents, oldest first
        self._used: set[str] = set()  # texts asked for since the file was read
        self._size = 0
        self._dirty = False

    def open_project(self, tiltfile: str) -> None:
        """Use the file of this Tiltfile (a load calls this first)."""
        path = cache_path(f"yaml-documents-{binascii.crc32(tiltfile.encode()):08x}.json")
        if self._path != path:
            self.save()
            with self._lock:
                self._path, self._entries, self._used, self._size, self._dirty = path, None, set(), 0, False

    @property
    def path(self) -> str:
        return self._path or cache_path("yaml-documents.json")

    def documents(self, text: str) -> list[Any]:
        """Every document of the YAML text, as objects.load_yaml_documents (whose errors it raises)."""
        with self._lock:
            entries = self._load()
            self._used.add(text)
            encoded = entries.pop(text, None)
            if encoded is not None:
                entries[text] = encoded  # now the most recently used
        if encoded is not None:
            return orjson.loads(encoded)
        docs = load_yaml_documents(text)
        encoded = None if _holds_secret(docs) else _exact_json(docs)
        if encoded is not None:
            with self._lock:
                self._add(text, encoded)
        return docs

    def save(self) -> None:
        """Write what the loads used, if that changed (a failure to write only loses the cache)."""
        with self._lock:
            if self._entries is None:
                return
            for text in [t for t in self._entries if t not in self._used]:  # no longer in the project
                self._size -= len(text) + len(self._entries.pop(text))
                self._dirty = True
            if not self._dirty:
                return
            self._dirty = False
            data = orjson.dumps({"format": FORMAT, "entries": self._entries})
        if write_atomically(self.path, data):
            _forget_old_projects(os.path.dirname(self.path))

    def _load(self) -> dict[str, str]:
        if self._entries is None:
            self._entries = {}
            try:
                data = orjson.loads(read_bytes(self.path) or b"null")
            except orjson.JSONDecodeError:
                data = None
            if isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("entries"), dict):
                for text, encoded in data["entries"].items():
                    if isinstance(encoded, str):
                        self._add(text, encoded, learned=False)
        return self._entries

    def _add(self, text: str, encoded: str, learned: bool = True) -> None:
        assert self._entries is not None
        previous = self._entries.pop(text, None)
        if previous is not None:  # parsed by another thread meanwhile
            self._size -= len(text) + len(previous)
        self._entries[text] = encoded
        self._size += len(text) + len(encoded)
        self._dirty = self._dirty or learned
        while self._size > self._max_bytes and self._entries:
            oldest = next(iter(self._entries))
            self._size -= len(oldest) + len(self._entries.pop(oldest))


# One per process: `up` reloads the Tiltfile in the same process.
PARSED_YAML = ParsedYamlCache()
