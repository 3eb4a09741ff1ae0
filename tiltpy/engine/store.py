"""An in-process store of Tilt's API objects (`kind → name → object`), with a
change feed.

Objects are plain dicts in Tilt's JSON shape — `apiVersion`, `kind`,
`metadata` (name, labels, annotations, creationTimestamp, uid), `spec`,
`status` — so `tiltpy get KIND`, the web API and the controllers all speak
the vocabulary Tilt users know. The Tiltfile declares objects (spec only);
controllers own their status. Only the engine's event loop touches the
store, so it needs no locks; listeners run synchronously and must only
schedule work."""
from __future__ import annotations

import copy
import datetime
import uuid
from typing import Any, Callable

API_VERSION = "tilt.dev/v1alpha1"

# (kind, name, what changed: "spec" (created or spec/metadata updated), "status" or "deleted")
Listener = Callable[[str, str, str], None]


# The kinds `tiltpy get KIND` knows, by their lowercase name (Tilt's `tilt get` words).
KINDS = {k.lower(): k for k in ("UIButton", "Cmd", "FileWatch", "ConfigMap", "Extension", "ExtensionRepo",
                                "KubernetesApply", "KubernetesDiscovery")}


def kind_named(word: str) -> str | None:
    """'cmd', 'cmds', 'Cmd', 'filewatches', 'uibutton' → the kind; None if unknown."""
    lowered = word.lower()
    for candidate in (lowered, lowered[:-1] if lowered.endswith("s") else "",
                      lowered[:-2] if lowered.endswith("es") else "", lowered[:-3] + "y" if lowered.endswith("ies") else ""):
        if candidate in KINDS:
            return KINDS[candidate]
    return None


def now_micro() -> str:
    """The current time as Tilt's MicroTime (RFC 3339, microseconds, UTC)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any) -> float:
    """Seconds since the epoch of a MicroTime/RFC 3339 string; 0 when unset or unreadable."""
    if not isinstance(value, str) or not value:
        return 0.0
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return 0.0
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


_NOT_CONTENT = frozenset({"apiVersion", "kind", "metadata", "status"})


def _content(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in _NOT_CONTENT}


class ObjectStore:
    def __init__(self) -> None:
        self._objects: dict[str, dict[str, dict[str, Any]]] = {}
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _notify(self, kind: str, name: str, what: str) -> None:
        for listener in list(self._listeners):
            listener(kind, name, what)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """The live object: read it, never mutate it (use apply/update_status)."""
        return self._objects.get(kind, {}).get(name)

    def list(self, kind: str) -> list[dict[str, Any]]:
        return [self._objects[kind][n] for n in sorted(self._objects.get(kind, {}))]

    def kinds(self) -> list[str]:
        return sorted(k for k, objs in self._objects.items() if objs)

    def names(self, kind: str) -> set[str]:
        return set(self._objects.get(kind, {}))

    def apply(self, obj: dict[str, Any]) -> bool:
        """Create the object, or update its metadata and declared content
        (`spec`, or `data` for a ConfigMap), keeping the status its controller
        wrote. True when something changed."""
        kind = obj["kind"]
        meta = obj.get("metadata") or {}
        name = meta["name"]
        current = self.get(kind, name)
        labels, annotations = dict(meta.get("labels") or {}), dict(meta.get("annotations") or {})
        content = {k: copy.deepcopy(v) for k, v in obj.items() if k not in _NOT_CONTENT}
        if "data" not in content:
            content.setdefault("spec", {})
        if current is not None:
            cmeta = current["metadata"]
            if _content(current) == content and cmeta.get("labels", {}) == labels \
                    and cmeta.get("annotations", {}) == annotations:
                return False
            for key in _content(current):
                del current[key]
            current.update(content)
            cmeta["labels"], cmeta["annotations"] = labels, annotations
            cmeta["generation"] = cmeta.get("generation", 1) + 1
        else:
            self._objects.setdefault(kind, {})[name] = {
                "apiVersion": obj.get("apiVersion") or API_VERSION,
                "kind": kind,
                "metadata": {"name": name, "labels": labels, "annotations": annotations,
                             "uid": str(uuid.uuid4()), "creationTimestamp": now_micro(), "generation": 1},
                **content,
                "status": copy.deepcopy(obj.get("status") or {}),
            }
        self._notify(kind, name, "spec")
        return True

    def update_status(self, kind: str, name: str, status: dict[str, Any]) -> bool:
        current = self.get(kind, name)
        if current is None or current["status"] == status:
            return False
        current["status"] = status
        self._notify(kind, name, "status")
        return True

    def delete(self, kind: str, name: str) -> bool:
        if self._objects.get(kind, {}).pop(name, None) is None:
            return False
        self._notify(kind, name, "deleted")
        return True

    def sync(self, objects: list[dict[str, Any]], previous: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """A Tiltfile load: create or update `objects` and delete those of the
        `previous` load that are gone (objects controllers created stay).
        Returns the (kind, name) keys of this load."""
        wanted = {(o["kind"], o["metadata"]["name"]) for o in objects}
        for kind, name in sorted(previous - wanted):
            self.delete(kind, name)
        for obj in objects:
            self.apply(obj)
        return wanted
