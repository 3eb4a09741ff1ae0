"""`tiltpy up` and `tiltpy ci`: load the Tiltfile, run the engine, and (up)
reload when the Tiltfile or a file it read changes."""
from __future__ import annotations

import asyncio
import contextlib
import os

import watchfiles

from tiltpy import __version__
from tiltpy.cli.common import load_and_report, load_options
from tiltpy.engine.engine import Engine, EngineFailure, EngineOptions
from tiltpy.engine.logs import TILTFILE, LogSink


async def _wait_for_change(paths: list[str]) -> None:
    """Returns when one of the Tiltfile's inputs changes."""
    existing_dirs = sorted({p if os.path.isdir(p) else os.path.dirname(p) for p in paths})
    existing_dirs = [d for d in existing_dirs if os.path.isdir(d)]
    wanted = {os.path.abspath(p) for p in paths}
    async for changes in watchfiles.awatch(*existing_dirs, recursive=False, debounce=100, step=25):
        if any(os.path.abspath(path) in wanted for _, path in changes):
            return


async def _up(tiltfile: str, options: EngineOptions, tiltfile_args: list[str], sink: LogSink) -> int:
    sink.log(TILTFILE, f"tiltpy {__version__} — Ctrl-C to stop (deployments keep running)")
    while True:
        result = await load_and_report(tiltfile, load_options("up", options.context_override, tiltfile_args), sink)
        engine_task = None
        if not result.error:
            engine = Engine(result, options, sink)
            engine_task = asyncio.create_task(engine.run())
        change = asyncio.create_task(_wait_for_change(result.watched_files or [os.path.abspath(tiltfile)]))
        waiters = {change} | ({engine_task} if engine_task else set())
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if engine_task in done:
            change.cancel()
            try:
                engine_task.result()
            except EngineFailure as err:
                sink.log(TILTFILE, f"ERROR: {err}")
                sink.log(TILTFILE, "Fix the problem and save the Tiltfile to retry")
                await _wait_for_change(result.watched_files)
            continue
        sink.log(TILTFILE, "Tiltfile inputs changed; reloading")
        if engine_task:
            engine_task.cancel()
            with contextlib.suppress(BaseException):
                await engine_task


async def _ci(tiltfile: str, options: EngineOptions, tiltfile_args: list[str], sink: LogSink,
              timeout: float | None) -> int:
    result = await load_and_report(tiltfile, load_options("ci", options.context_override, tiltfile_args), sink)
    if result.error:
        return 1
    if timeout is not None:
        result.ci_timeout_secs = timeout
    try:
        await Engine(result, options, sink).run()
    except EngineFailure as err:
        sink.log(TILTFILE, f"ERROR: {err}")
        return 1
    sink.log(TILTFILE, "SUCCESS. All workloads are healthy.")
    return 0


def run_up(*, tiltfile: str, mode: str, host: str, port: int, resources: list[str], tiltfile_args: list[str],
           context: str, stream: bool, timeout: float | None) -> int:
    sink = LogSink()
    options = EngineOptions(mode=mode, host=host, only=resources, context_override=context)
    tiltfile = os.path.abspath(tiltfile)
    try:
        if mode == "ci":
            return asyncio.run(_ci(tiltfile, options, tiltfile_args, sink, timeout))
        return asyncio.run(_up(tiltfile, options, tiltfile_args, sink))
    except KeyboardInterrupt:
        sink.log(TILTFILE, "Stopped. Deployed resources keep running; `tiltpy down` removes them.")
        return 0
