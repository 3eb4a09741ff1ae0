"""Loading the Tiltfile the same way for every command."""
from __future__ import annotations

from typing import TYPE_CHECKING, Awaitable

from tiltpy.k8s.cluster import current_context
from tiltpy.model.manifest import TiltfileResult
from tiltpy.tiltfile.loader import LoadOptions, load_tiltfile

if TYPE_CHECKING:  # the engine's log sink is only handed in by `up`; `alpha tiltfile-result` never loads it
    from tiltpy.engine.logs import LogSink


def load_options(subcommand: str, context: str, args: list[str]) -> LoadOptions:
    kube = current_context(context)
    return LoadOptions(k8s_context=kube.name if kube else context, k8s_namespace=kube.namespace if kube else "default",
                       subcommand=subcommand, args=list(args))


async def load_and_report(path: str, options: LoadOptions, sink: LogSink,
                          started: Awaitable[TiltfileResult] | None = None) -> TiltfileResult:
    """Load in a worker thread (local() may run for a while) and log the
    outcome. `started`: the same load, begun earlier (while `up` started)."""
    import asyncio

    from tiltpy.engine.logs import TILTFILE

    sink.log(TILTFILE, f"Loading Tiltfile at: {path}", build_event="init")
    result = await (started if started is not None else asyncio.to_thread(load_tiltfile, path, options))
    for line in result.logs:
        sink.log(TILTFILE, line)
    if result.error:
        for line in result.error.splitlines():
            sink.log(TILTFILE, line)
        hint = "; fix it and save to retry" if options.subcommand == "up" else ""
        sink.log(TILTFILE, f"ERROR: the Tiltfile failed to load{hint}")
    else:
        names = ", ".join(m.name for m in result.manifests) or "none"
        sink.log(TILTFILE, f"Successfully loaded Tiltfile: resources {names}")
    return result
