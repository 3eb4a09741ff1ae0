"""Which image was last built from given inputs, remembered between runs, so
`up` finds a reusable image with one quick inspect instead of a search.

Every image tiltpy builds carries its ref and inputs digest as labels, and
the engine's image list filtered by them is the truth. But listing images is
slow on the Docker Engine (on the testbed 100–250 ms per call, as it sizes
every image), and it is on the path of every `up`. The image ID found or
built last time for the same (engine, ref, inputs) is kept in
$XDG_CACHE_HOME/tiltpy/image-inputs.json; it is only a hint: the builder
inspects that ID and uses it only if its labels still say the same ref and
inputs, and searches as before otherwise. Losing or corrupting the file
costs nothing but that search."""
from __future__ import annotations

import json
import threading

from tiltpy.user_cache import cache_path, read_json_object, write_atomically

MAX_ENTRIES = 2000


def _read(path: str) -> dict[str, str]:
    return {k: v for k, v in read_json_object(path).items() if isinstance(v, str)}


class ReuseHints:
    def __init__(self, engine: str, path: str | None = None) -> None:
        self._engine = engine  # the Docker Engine's address: hints are per engine
        self._path = path or cache_path("image-inputs.json")
        self._lock = threading.Lock()
        self._hints: dict[str, str] | None = None

    def _key(self, ref: str, inputs: str) -> str:
        return f"{self._engine}\n{ref}\n{inputs}"

    def _load(self) -> dict[str, str]:
        if self._hints is None:
            self._hints = _read(self._path)
        return self._hints

    def get(self, ref: str, inputs: str) -> str | None:
        with self._lock:
            return self._load().get(self._key(ref, inputs))

    def put(self, ref: str, inputs: str, image_id: str) -> None:
        """Remember it (and write the file; a failure to write is only a lost hint)."""
        with self._lock:
            hints = self._load()
            key = self._key(ref, inputs)
            if hints.get(key) == image_id:
                return
            hints.pop(key, None)
            hints[key] = image_id
            while len(hints) > MAX_ENTRIES:
                hints.pop(next(iter(hints)))
            # Another `up` may have written meanwhile: keep its hints too.
            merged = _read(self._path)
            merged.update(hints)
            write_atomically(self._path, json.dumps(dict(list(merged.items())[-MAX_ENTRIES:])).encode())
