"""Scheduling rules, checked on the real engine with local resources (no
Docker or cluster needed): first-build order, resource_deps, parallelism,
trigger modes and auto_init."""
from __future__ import annotations

import asyncio
import io
import textwrap
from pathlib import Path

import pytest

from tiltpy.engine.engine import Engine, EngineOptions
from tiltpy.engine.logs import LogSink
from tiltpy.engine.scheduling import first_build_order
from tiltpy.model.manifest import UNCATEGORIZED, ImageTarget, K8sTarget, LocalTarget, Manifest
from tiltpy.tiltfile.loader import LoadOptions, load_tiltfile


def _load(tmp_path: Path, tiltfile: str):
    (tmp_path / "Tiltfile").write_text(textwrap.dedent(tiltfile))
    result = load_tiltfile(str(tmp_path / "Tiltfile"), LoadOptions(k8s_context="docker-desktop"))
    assert not result.error, result.error
    return result


def _events(tmp_path: Path) -> list[tuple[str, str, float]]:
    out = []
    for line in (tmp_path / "events.log").read_text().splitlines():
        name, kind, stamp = line.split()
        out.append((name, kind, float(stamp)))
    return out


def _cmd(name: str, seconds: float = 0.3) -> str:
    return (f"echo {name} start $(date +%s.%N) >> events.log; sleep {seconds}; "
            f"echo {name} end $(date +%s.%N) >> events.log")


async def _run_ci(result, timeout: float = 20) -> Engine:
    engine = Engine(result, EngineOptions(mode="ci", watch=False), LogSink(out=io.StringIO()))
    await asyncio.wait_for(engine.run(), timeout)
    return engine


def test_first_build_order_follows_tilt() -> None:
    image = ImageTarget(ref="img", context="/x", dockerfile_path="", dockerfile_contents="FROM x")
    manifests = [
        Manifest(name="web", image_targets=(image,), k8s=K8sTarget(objects=())),
        Manifest(name="redis", k8s=K8sTarget(objects=())),
        Manifest(name=UNCATEGORIZED, k8s=K8sTarget(objects=())),
        Manifest(name="compile", local=LocalTarget(cmd=("true",))),
        Manifest(name="api", image_targets=(image,), k8s=K8sTarget(objects=())),
    ]
    assert [m.name for m in first_build_order(manifests)] == ["compile", UNCATEGORIZED, "redis", "web", "api"]


def test_resources_named_on_the_command_line_bring_their_deps(tmp_path: Path) -> None:
    # `tiltpy up c` passes "c" as a Tiltfile arg; the selection includes c's deps.
    tiltfile = textwrap.dedent("""\
        local_resource('a', cmd='true')
        local_resource('b', cmd='true', resource_deps=['a'])
        local_resource('c', cmd='true', resource_deps=['b'])
        local_resource('d', cmd='true')
        """)
    (tmp_path / "Tiltfile").write_text(tiltfile)
    result = load_tiltfile(str(tmp_path / "Tiltfile"), LoadOptions(args=["c"]))
    assert sorted(result.enabled_resources) == ["a", "b", "c"]
    engine = Engine(result, EngineOptions(mode="ci", watch=False), LogSink(out=io.StringIO()))
    engine._install(result.manifests)
    assert sorted(engine.resources) == ["a", "b", "c"]
    unknown = load_tiltfile(str(tmp_path / "Tiltfile"), LoadOptions(args=["nope"]))
    assert "could not be found" in unknown.error


def test_resource_deps_hold_first_build_until_dependency_ready(tmp_path: Path) -> None:
    result = _load(tmp_path, f"""
        local_resource('app', cmd={_cmd('app')!r}, resource_deps=['db'], allow_parallel=True)
        local_resource('db', cmd={_cmd('db', 0.5)!r}, allow_parallel=True)
    """)
    engine = asyncio.run(_run_ci(result))
    events = _events(tmp_path)
    db_end = next(t for n, k, t in events if n == "db" and k == "end")
    app_start = next(t for n, k, t in events if n == "app" and k == "start")
    assert app_start >= db_end
    assert all(r.update_status == "ok" for r in engine.resources.values())


def test_max_parallel_updates_caps_concurrency(tmp_path: Path) -> None:
    calls = "\n".join(f"local_resource('r{i}', cmd={_cmd(f'r{i}', 0.4)!r}, allow_parallel=True)" for i in range(4))
    result = _load(tmp_path, "update_settings(max_parallel_updates=2)\n" + calls + "\n")
    asyncio.run(_run_ci(result))
    events = sorted(_events(tmp_path), key=lambda e: e[2])
    running = peak = 0
    for _, kind, _ in events:
        running += 1 if kind == "start" else -1
        peak = max(peak, running)
    assert peak == 2


def test_local_resources_are_serial_unless_allow_parallel(tmp_path: Path) -> None:
    result = _load(tmp_path, f"""
        local_resource('a', cmd={_cmd('a')!r})
        local_resource('b', cmd={_cmd('b')!r})
    """)
    asyncio.run(_run_ci(result))
    events = sorted(_events(tmp_path), key=lambda e: e[2])
    assert [k for _, k, _ in events] == ["start", "end", "start", "end"]


def test_failing_cmd_fails_ci_with_reason(tmp_path: Path) -> None:
    from tiltpy.engine.engine import EngineFailure

    result = _load(tmp_path, "local_resource('broken', cmd='echo nope; exit 4')\n")
    with pytest.raises(EngineFailure, match="exited with code 4"):
        asyncio.run(_run_ci(result))


def test_auto_init_false_waits_for_trigger_and_manual_mode_holds_changes(tmp_path: Path) -> None:
    result = _load(tmp_path, f"""
        local_resource('later', cmd={_cmd('later', 0)!r}, auto_init=False)
        local_resource('manual', cmd={_cmd('manual', 0)!r}, trigger_mode=TRIGGER_MODE_MANUAL)
    """)

    async def scenario() -> list[str]:
        engine = Engine(result, EngineOptions(mode="up", watch=False), LogSink(out=io.StringIO()))
        task = asyncio.create_task(engine.run())
        seen = []
        for _ in range(100):
            await asyncio.sleep(0.05)
            if engine.resources.get("manual") and engine.resources["manual"].update_status == "ok":
                break
        seen.append(engine.resources["later"].update_status)  # "none": not built
        manual = engine.resources["manual"]
        (tmp_path / "x").write_text("changed")
        manual.pending_files.add(str(tmp_path / "x"))
        manual.wake.set()
        await asyncio.sleep(0.3)
        seen.append(manual.waiting_reason)
        engine.trigger("later")
        engine.trigger("manual")
        for _ in range(100):
            await asyncio.sleep(0.05)
            if engine.resources["later"].update_status == "ok" and len(manual.builds) == 2:
                break
        seen.append(engine.resources["later"].update_status)
        seen.append(str(len(manual.builds)))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return seen

    seen = asyncio.run(scenario())
    assert seen[0] == "none"
    assert "waiting for a manual trigger" in seen[1]
    assert seen[2] == "ok" and seen[3] == "2"
