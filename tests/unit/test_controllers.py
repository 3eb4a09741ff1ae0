"""The object store and the controllers of Tilt's API objects that need no
cluster: Cmd (start_on buttons with inputs, restart_on file watches and
buttons) and FileWatch, with real processes and real files."""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any


from tiltpy.engine.controllers import ControllerManager
from tiltpy.engine.controllers.cmd import CmdController, button_env, input_value
from tiltpy.engine.controllers.filewatch import FileWatchController
from tiltpy.engine.store import ObjectStore, now_micro, parse_time
from tiltpy.watch import create_watcher


def obj(kind: str, name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "tilt.dev/v1alpha1", "kind": kind,
            "metadata": {"name": name, "annotations": annotations or {}}, "spec": spec}


# --- the store -----------------------------------------------------------------------------------


def test_store_keeps_status_across_spec_updates_and_reports_changes() -> None:
    store = ObjectStore()
    events: list[tuple[str, str, str]] = []
    store.subscribe(lambda *e: events.append(e))
    assert store.apply(obj("Cmd", "a", {"args": ["x"]}))
    created = store.get("Cmd", "a")
    assert created["metadata"]["uid"] and created["metadata"]["creationTimestamp"]
    store.update_status("Cmd", "a", {"ready": True})
    assert not store.apply(obj("Cmd", "a", {"args": ["x"]}))  # same spec: no change
    assert store.apply(obj("Cmd", "a", {"args": ["y"]}))
    assert store.get("Cmd", "a")["status"] == {"ready": True}
    assert store.get("Cmd", "a")["metadata"]["generation"] == 2
    assert events == [("Cmd", "a", "spec"), ("Cmd", "a", "status"), ("Cmd", "a", "spec")]


def test_store_sync_deletes_only_what_the_previous_load_declared() -> None:
    store = ObjectStore()
    keys = store.sync([obj("UIButton", "b1", {}), obj("Cmd", "c1", {})], set())
    store.apply(obj("KubernetesDiscovery", "made-by-a-controller", {}))
    keys = store.sync([obj("UIButton", "b2", {})], keys)
    assert keys == {("UIButton", "b2")}
    assert [o["metadata"]["name"] for o in store.list("UIButton")] == ["b2"]
    assert store.list("Cmd") == []
    assert store.get("KubernetesDiscovery", "made-by-a-controller") is not None


def test_times() -> None:
    now = now_micro()
    assert now.endswith("Z") and abs(parse_time(now) - time.time()) < 5
    assert parse_time("") == 0 and parse_time("garbage") == 0
    assert parse_time("2024-01-02T03:04:05Z") == parse_time("2024-01-02T03:04:05.000000Z")


# --- button inputs ----------------------------------------------------------------------------------


def test_input_values_follow_tilt() -> None:
    assert input_value({"name": "t", "text": {}}, {"name": "t", "text": {"value": "hi"}}) == "hi"
    assert input_value({"name": "b", "bool": {}}, {"bool": {"value": True}}) == "true"
    assert input_value({"name": "b", "bool": {"trueString": "yes", "falseString": "no"}},
                       {"bool": {"value": False}}) == "no"
    assert input_value({"name": "c", "choice": {"choices": ["a", "b"]}}, {"choice": {"value": "b"}}) == "b"
    assert input_value({"name": "c", "choice": {"choices": ["a", "b"]}}, {"choice": {"value": "zz"}}) == "a"
    assert input_value({"name": "h", "hidden": {"value": "v"}}, {"hidden": {"value": "v"}}) == "v"
    button = {"spec": {"inputs": [{"name": "NAME", "text": {}}, {"name": "FLAG", "bool": {}}]},
              "status": {"inputs": [{"name": "NAME", "text": {"value": "x y"}}]}}
    assert button_env(button) == ["NAME=x y", "FLAG="]


# --- controllers, for real ------------------------------------------------------------------------------


class Harness:
    def __init__(self) -> None:
        self.store = ObjectStore()
        self.lines: list[tuple[str, str]] = []
        self.manager = ControllerManager(self.store, lambda res, text: self.lines.append((res, text)))

    def logs(self, resource: str) -> list[str]:
        return [text for res, text in self.lines if res == resource]

    async def until(self, predicate, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; logs: {self.lines[-20:]}")
            await asyncio.sleep(0.02)

    def status(self, kind: str, name: str) -> dict[str, Any]:
        return (self.store.get(kind, name) or {}).get("status") or {}

    def click(self, button: str, inputs: list[dict[str, Any]] | None = None) -> None:
        current = self.store.get("UIButton", button)
        self.store.update_status("UIButton", button, {**current["status"], "lastClickedAt": now_micro(),
                                                      "inputs": inputs or []})


def run(coro) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))


def test_cmd_without_start_on_runs_at_once_and_logs_to_its_resource(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness()
        h.manager.add(CmdController(h.store, h.manager.log))
        h.store.apply(obj("Cmd", "hello", {"args": ["sh", "-c", "echo hello from $WHO; pwd"], "dir": str(tmp_path),
                                           "env": ["WHO=cmd"]}, {"tilt.dev/resource": "web"}))
        await h.until(lambda: "terminated" in h.status("Cmd", "hello"))
        assert h.status("Cmd", "hello")["terminated"]["exitCode"] == 0
        assert "hello from cmd" in h.logs("web") and str(tmp_path) in h.logs("web")
        await h.manager.close()
    run(scenario())


def test_cmd_waits_for_its_button_and_gets_the_inputs_as_env(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness()
        h.manager.add(CmdController(h.store, h.manager.log))
        h.store.apply(obj("UIButton", "greet", {"text": "Greet", "inputs": [{"name": "NAME", "text": {}},
                                                                              {"name": "LOUD", "bool": {}}]}))
        h.store.apply(obj("Cmd", "btn-greet", {"args": ["sh", "-c", "echo hi $NAME loud=$LOUD"],
                                               "startOn": {"uiButtons": ["greet"]}}, {"tilt.dev/resource": "web"}))
        await h.until(lambda: h.status("Cmd", "btn-greet").get("waiting"))
        await asyncio.sleep(0.2)
        assert not [line for line in h.logs("web") if line.startswith("hi")]  # nothing ran before a click
        h.click("greet", [{"name": "NAME", "text": {"value": "Ada"}}, {"name": "LOUD", "bool": {"value": True}}])
        await h.until(lambda: "hi Ada loud=true" in h.logs("web"))
        await h.until(lambda: "terminated" in h.status("Cmd", "btn-greet"))
        h.click("greet", [{"name": "NAME", "text": {"value": "Bob"}}])
        await h.until(lambda: "hi Bob loud=" in h.logs("web"))  # an input the click did not send is empty
        await h.manager.close()
    run(scenario())


def test_cmd_restarts_on_a_file_watch_and_stops_with_its_object(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness()

        def watcher(on_batch, is_ignored_dir):
            return create_watcher(on_batch, is_ignored_dir=is_ignored_dir, quiet_ms=20)

        h.manager.add(FileWatchController(h.store, h.manager.log, watcher))
        h.manager.add(CmdController(h.store, h.manager.log))
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "ignored").mkdir()
        h.store.apply(obj("FileWatch", "src", {"watchedPaths": [str(tmp_path / "src")],
                                               "ignores": [{"basePath": str(tmp_path / "src"),
                                                            "patterns": ["ignored", "*.tmp"]}]}))
        h.store.apply(obj("Cmd", "server", {"args": ["sh", "-c", "echo started $$; sleep 30"],
                                            "restartOn": {"fileWatches": ["src"]}}))
        await h.until(lambda: "running" in h.status("Cmd", "server"))
        await h.until(lambda: "monitorStartTime" in h.status("FileWatch", "src"))
        first = h.status("Cmd", "server")["running"]["pid"]
        (tmp_path / "src" / "x.tmp").write_text("ignored")
        (tmp_path / "src" / "ignored" / "y").write_text("ignored")
        await asyncio.sleep(0.3)
        assert h.status("Cmd", "server")["running"]["pid"] == first
        assert "lastEventTime" not in h.status("FileWatch", "src")
        (tmp_path / "src" / "main.py").write_text("print(1)")
        await h.until(lambda: h.status("Cmd", "server").get("running", {}).get("pid") not in (None, first))
        events = h.status("FileWatch", "src")["fileEvents"]
        assert events[-1]["seenFiles"] == [str(tmp_path / "src" / "main.py")]
        second = h.status("Cmd", "server")["running"]["pid"]
        h.store.delete("Cmd", "server")
        await h.until(lambda: not _alive(second))
        assert not _alive(first)
        await h.manager.close()
    run(scenario())


def test_cmd_that_cannot_start_is_terminated_with_the_reason() -> None:
    async def scenario() -> None:
        h = Harness()
        h.manager.add(CmdController(h.store, h.manager.log))
        h.store.apply(obj("Cmd", "missing", {"args": ["some-missing-binary-xyz"]}, {"tilt.dev/resource": "web"}))
        await h.until(lambda: "terminated" in h.status("Cmd", "missing"))
        assert "some-missing-binary-xyz" in h.status("Cmd", "missing")["terminated"]["reason"]
        assert any(line.startswith("ERROR: cannot run some-missing-binary-xyz") for line in h.logs("web"))
        await h.manager.close()
    run(scenario())


def test_a_failing_reconcile_marks_the_object_and_the_next_change_retries() -> None:
    class Flaky:
        kind = "Thing"
        calls = 0

        def dependencies(self, obj):
            return []

        async def reconcile(self, name, obj):
            Flaky.calls += 1
            if obj and obj["spec"].get("fail"):
                raise RuntimeError("it broke")

        async def close(self):
            pass

    async def scenario() -> None:
        h = Harness()
        h.manager.add(Flaky())
        h.store.apply(obj("Thing", "t", {"fail": True}, {"tilt.dev/resource": "res"}))
        await h.until(lambda: h.status("Thing", "t").get("error") == "it broke")
        assert "ERROR: Thing t: internal error (RuntimeError: it broke)" in h.logs("res")
        assert any(line.startswith("DEBUG: ") and "RuntimeError" in line for line in h.logs("res"))
        calls = Flaky.calls
        h.store.apply(obj("Thing", "t", {"fail": False}, {"tilt.dev/resource": "res"}))
        await h.until(lambda: Flaky.calls > calls)
        await h.manager.close()
    run(scenario())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


def test_store_keeps_a_configmaps_data() -> None:
    store = ObjectStore()
    store.apply({"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "b"}})
    assert store.get("ConfigMap", "cm")["data"] == {"a": "b"} and "spec" not in store.get("ConfigMap", "cm")
    assert not store.apply({"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "b"}})
    assert store.apply({"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "c"}})
    assert store.get("ConfigMap", "cm")["data"] == {"a": "c"}
