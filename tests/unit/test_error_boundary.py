"""The engine's error boundary, on the real engine with local resources: any
failure in a resource's work marks that resource failed with a readable
message, never leaves it "in progress", keeps the other resources running,
and the next trigger retries; `ci` fails at once with the resource and reason."""
from __future__ import annotations

import asyncio
import io
import textwrap
from pathlib import Path

import pytest

from tiltpy.engine import deployers
from tiltpy.engine.engine import Engine, EngineFailure, EngineOptions
from tiltpy.engine.logs import LogSink
from tiltpy.tiltfile.loader import LoadOptions, load_tiltfile


def _load(tmp_path: Path, tiltfile: str):
    (tmp_path / "Tiltfile").write_text(textwrap.dedent(tiltfile))
    result = load_tiltfile(str(tmp_path / "Tiltfile"), LoadOptions(k8s_context="docker-desktop"))
    assert not result.error, result.error
    return result


async def _until(predicate, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _lines(sink: LogSink, resource: str) -> list[str]:
    return [line.text for line in sink.read([resource], since=0, limit=0)]


def test_missing_binary_fails_the_resource_and_ci_at_once(tmp_path: Path) -> None:
    result = _load(tmp_path, """\
        local_resource('x', cmd=['some-missing-binary-xyz'])
        local_resource('y', cmd='true', resource_deps=['x'])
        """)
    sink = LogSink(out=io.StringIO())
    engine = Engine(result, EngineOptions(mode="ci", watch=False), sink)
    with pytest.raises(EngineFailure) as failure:
        asyncio.run(asyncio.wait_for(engine.run(), 10))
    assert 'resource "x"' in str(failure.value) and "some-missing-binary-xyz" in str(failure.value)
    assert engine.resources["x"].update_status == "error"
    assert any("cannot run 'some-missing-binary-xyz'" in line for line in _lines(sink, "x"))


def test_an_unexpected_exception_is_contained_and_a_trigger_retries(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    result = _load(tmp_path, """\
        local_resource('flaky', cmd='echo flaky ran')
        local_resource('steady', cmd='echo steady ran')
        """)
    calls = {"n": 0}
    real_deploy = deployers.LocalDeployer.deploy

    async def sometimes_broken(self, res, log):
        if res.name == "flaky":
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("a bug in the deployer")
        await real_deploy(self, res, log)

    monkeypatch.setattr(deployers.LocalDeployer, "deploy", sometimes_broken)

    async def scenario() -> None:
        sink = LogSink(out=io.StringIO())
        engine = Engine(result, EngineOptions(mode="up", watch=False), sink)
        task = asyncio.create_task(engine.run())
        try:
            flaky, steady = (lambda: engine.resources["flaky"]), (lambda: engine.resources["steady"])
            await _until(lambda: "flaky" in engine.resources and flaky().update_status == "error")
            assert flaky().update_error == "internal error (RuntimeError: a bug in the deployer)"
            assert flaky().builds[-1].finished and flaky().builds[-1].error
            logs = _lines(sink, "flaky")
            assert any(line.startswith("ERROR: update: internal error") for line in logs)
            assert any(line.startswith("DEBUG: ") and "a bug in the deployer" in line for line in logs)
            await _until(lambda: steady().update_status == "ok")
            assert not flaky().task.done()  # its loop lives on
            engine.trigger("flaky")
            await _until(lambda: flaky().update_status == "ok")
            assert "flaky ran" in _lines(sink, "flaky")
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_a_failing_background_task_is_reported(tmp_path: Path) -> None:
    result = _load(tmp_path, "local_resource('a', cmd='true')\n")

    async def scenario() -> None:
        sink = LogSink(out=io.StringIO())
        engine = Engine(result, EngineOptions(mode="up", watch=False), sink)

        async def broken() -> None:
            raise ValueError("lost in the background")

        engine._spawn(broken(), "some chore")
        await asyncio.sleep(0.05)
        lines = _lines(sink, "(Tiltfile)")
        assert "ERROR: some chore failed: internal error (ValueError: lost in the background)" in lines

    asyncio.run(scenario())
