"""Controllers for Tilt's API objects: one per kind, each making an object's
status match its spec ("reconcile"), as Tilt's newer core does.

The manager calls `reconcile(name)` whenever an object of the controller's
kind is created, changes its spec or is deleted, or an object it depends on
changes in any way (a Cmd's start_on buttons, its
restart_on file watches). Calls are serialized per object and concurrent
across objects; a change during a reconcile runs it once more afterwards.
This is the one error boundary for API objects: an exception becomes the
object's `status.error` and a line in its resource's log (the traceback at
debug level), never a dead task, and the next change retries."""
from __future__ import annotations

import asyncio
import contextlib
import traceback
from typing import Any, Callable, Protocol

from tiltpy.engine.errors import describe_failure, expected_failures
from tiltpy.engine.logs import TILTFILE
from tiltpy.engine.store import ObjectStore

Log = Callable[[str, str], None]  # (resource, text)

RESOURCE_ANNOTATION = "tilt.dev/resource"


def owning_resource(obj: dict[str, Any] | None) -> str:
    """The resource whose log an object's output goes to (Tilt's annotation)."""
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    return annotations.get(RESOURCE_ANNOTATION) or TILTFILE


class Controller(Protocol):
    kind: str

    def dependencies(self, obj: dict[str, Any]) -> list[tuple[str, str]]:
        """(kind, name) of the objects whose changes must re-run this object's reconcile."""

    async def reconcile(self, name: str, obj: dict[str, Any] | None) -> None:
        """Make the world match `obj` (None: it was deleted: undo what it did)."""

    async def close(self) -> None:
        """Stop whatever the controller runs (processes, watches)."""


class ControllerManager:
    def __init__(self, store: ObjectStore, log: Log) -> None:
        self.store = store
        self.log = log
        self._controllers: dict[str, Controller] = {}
        self._dependents: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self._depends_on: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._closed = False
        store.subscribe(self._on_change)

    def add(self, controller: Controller) -> None:
        self._controllers[controller.kind] = controller
        for obj in self.store.list(controller.kind):
            self._enqueue((controller.kind, obj["metadata"]["name"]))

    def requeue(self, kinds: set[str]) -> None:
        """Reconcile every object of these kinds again (what they needed is there now)."""
        if self._closed:
            return
        for kind in sorted(kinds & set(self._controllers)):
            for obj in self.store.list(kind):
                self._enqueue((kind, obj["metadata"]["name"]))

    def _on_change(self, kind: str, name: str, what: str) -> None:
        if self._closed:
            return
        key = (kind, name)
        # A controller writing its own object's status must not wake itself.
        if kind in self._controllers and what != "status":
            self._enqueue(key)
        for dependent in sorted(self._dependents.get(key, ())):
            self._enqueue(dependent)

    def _enqueue(self, key: tuple[str, str]) -> None:
        task = self._tasks.get(key)
        if task is not None and not task.done():
            self._dirty.add(key)
            return
        self._tasks[key] = asyncio.get_running_loop().create_task(self._run(key), name=f"reconcile {key}")

    def _index(self, key: tuple[str, str], obj: dict[str, Any] | None, controller: Controller) -> None:
        for dep in self._depends_on.pop(key, []):
            self._dependents.get(dep, set()).discard(key)
        if obj is None:
            return
        deps = controller.dependencies(obj)
        self._depends_on[key] = deps
        for dep in deps:
            self._dependents.setdefault(dep, set()).add(key)

    async def _run(self, key: tuple[str, str]) -> None:
        kind, name = key
        controller = self._controllers[kind]
        while True:
            self._dirty.discard(key)
            obj = self.store.get(kind, name)
            self._index(key, obj, controller)
            try:
                await controller.reconcile(name, obj)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the error boundary: see the module docstring
                self._record_failure(kind, name, obj, err)
            if key not in self._dirty or self._closed:
                return

    def _record_failure(self, kind: str, name: str, obj: dict[str, Any] | None, err: Exception) -> None:
        resource = owning_resource(obj)
        message = f"{kind} {name}: {describe_failure(err)}"
        self.log(resource, f"ERROR: {message}")
        if not isinstance(err, expected_failures()):
            for line in traceback.format_exception(err)[-12:]:
                for part in line.rstrip("\n").splitlines():
                    self.log(resource, f"DEBUG: {part}")
        current = self.store.get(kind, name)
        if current is not None:
            self.store.update_status(kind, name, {**current["status"], "error": str(err) or type(err).__name__})

    async def close(self) -> None:
        self._closed = True
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        for controller in self._controllers.values():
            with contextlib.suppress(Exception):
                await controller.close()
