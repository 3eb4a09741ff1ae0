"""`tiltpy up` and `tiltpy ci`: load the Tiltfile and run the engine. Under
`up` the engine watches the Tiltfile's inputs and reloads it on change."""
from __future__ import annotations

import asyncio
import os
import signal
from typing import Any, Coroutine

from tiltpy import children
from tiltpy.children import DaemonThreadExecutor
from tiltpy.cli.common import load_and_report, load_options
from tiltpy.engine.logs import TILTFILE, LogSink
from tiltpy.engine.options import EngineOptions
from tiltpy.model.manifest import TiltfileResult

# Start-up runs what waits on others in parallel with what keeps the CPU busy:
# connecting to Docker and the cluster (prefetch) and loading the Tiltfile
# begin first; the engine, the web server and their libraries are imported
# meanwhile.


async def _up(tiltfile: str, options: EngineOptions, tiltfile_args: list[str], sink: LogSink,
              port: int = 0, stream: bool = True) -> int:
    from tiltpy.engine.connections import Connections

    conns = Connections(options.context_override, options.update_mode)
    conns.prefetch()
    first_options = load_options("up", options.context_override, tiltfile_args)
    first_load = asyncio.ensure_future(asyncio.to_thread(_load, tiltfile, first_options))
    from tiltpy.cli.terminal import serve_ui
    from tiltpy.engine.engine import Engine, EngineFailure

    async with serve_ui(sink, options.host, port, stream) as ui:  # web server + terminal display
        sink.log(TILTFILE, ui.greeting())

        async def reload(args: list[str]) -> TiltfileResult:
            return await load_and_report(tiltfile, load_options("up", options.context_override, args), sink)

        result = await load_and_report(tiltfile, first_options, sink, started=first_load)
        error = result.error
        if result.error:
            # Start with nothing but the Tiltfile's inputs watched; a fix loads it.
            result = TiltfileResult(tiltfile=tiltfile, watched_files=result.watched_files or [tiltfile])
        engine = Engine(result, options, sink, reload=reload, tiltfile_args=tiltfile_args, conns=conns)
        engine.tiltfile_error = error  # shown by the dashboard and the terminal until a fix loads
        ui.attach(engine)
        try:
            await engine.run()
        except EngineFailure as err:
            sink.log(TILTFILE, f"ERROR: {err}")
            return 1
        return 0


def _load(tiltfile: str, options: Any) -> TiltfileResult:
    from tiltpy.tiltfile.loader import load_tiltfile

    return load_tiltfile(tiltfile, options)


async def _ci(tiltfile: str, options: EngineOptions, tiltfile_args: list[str], sink: LogSink,
              timeout: float | None) -> int:
    from tiltpy.engine.connections import Connections

    conns = Connections(options.context_override, options.update_mode)
    conns.prefetch()
    from tiltpy.engine.engine import Engine, EngineFailure

    try:
        result = await load_and_report(tiltfile, load_options("ci", options.context_override, tiltfile_args), sink)
        if result.error:
            return 1
        if timeout is not None:
            result.ci_timeout_secs = timeout
        try:
            await Engine(result, options, sink, conns=conns).run()
        except EngineFailure as err:
            sink.log(TILTFILE, f"ERROR: {err}")
            return 1
    finally:
        await conns.close()
    sink.log(TILTFILE, "SUCCESS. All workloads are healthy.")
    return 0


async def _stoppable(work: Coroutine[Any, Any, int]) -> int:
    """Run `work` until SIGINT or SIGTERM, then stop at once: kill the child
    processes (builds, local()) so no worker thread holds the exit, and
    cancel the work so the engine shuts down in order. A second signal
    exits immediately."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(DaemonThreadExecutor())
    task = asyncio.current_task()
    assert task is not None
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals > 1:
            os._exit(130)
        children.stop_all()
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    return await work


def run_up(*, tiltfile: str, mode: str, host: str, port: int, resources: list[str], tiltfile_args: list[str],
           context: str, stream: bool, timeout: float | None, update_mode: str = "auto") -> int:
    sink = LogSink()
    # As in Tilt, resource names on the command line are Tiltfile args: they
    # select resources unless the Tiltfile takes them with config.parse().
    tiltfile_args = list(resources) + list(tiltfile_args)
    options = EngineOptions(mode=mode, host=host, context_override=context,
                            update_mode=update_mode, watch=(mode == "up"))
    tiltfile = os.path.abspath(tiltfile)
    # A shell starts background jobs with SIGINT ignored, and Python keeps
    # that; `kill -INT` must stop `up` however it was started.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if mode == "ci":
            return asyncio.run(_stoppable(_ci(tiltfile, options, tiltfile_args, sink, timeout)))
        return asyncio.run(_stoppable(_up(tiltfile, options, tiltfile_args, sink, port=port, stream=stream)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sink.log(TILTFILE, "Stopped. Deployed resources keep running; `tiltpy down` removes them.")
        if not sink.stream:
            sink.echo("Stopped. Deployed resources keep running; `tiltpy down` removes them.")
        sink.flush(1.0)
        return 130 if mode == "ci" else 0
