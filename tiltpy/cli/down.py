"""`tiltpy down`: delete exactly the objects the Tiltfile declares."""
from __future__ import annotations

import asyncio
import os

from tiltpy.cli.common import load_and_report, load_options
from tiltpy.engine.k8s_deploy import delete_objects
from tiltpy.engine.logs import TILTFILE, LogSink
from tiltpy.k8s.client import ClusterError, K8sClient
from tiltpy.k8s.connection import ClusterConnectionError, load_connection


async def _down(tiltfile: str, context: str, tiltfile_args: list[str], sink: LogSink) -> int:
    result = await load_and_report(tiltfile, load_options("down", context, tiltfile_args), sink)
    if result.error:
        return 1
    objects = [obj for m in result.manifests if m.k8s for obj in m.k8s.objects]
    if not objects:
        sink.log(TILTFILE, "Nothing to delete")
        return 0
    try:
        client = K8sClient(await asyncio.to_thread(load_connection, context))
    except ClusterConnectionError as err:
        sink.log(TILTFILE, f"ERROR: Kubernetes: {err}")
        return 1
    try:
        await delete_objects(client, objects, sink.logger(TILTFILE))
    except ClusterError as err:
        sink.log(TILTFILE, f"ERROR: {err}")
        return 1
    finally:
        await client.close()
    return 0


def run_down(*, tiltfile: str, context: str, tiltfile_args: list[str]) -> int:
    return asyncio.run(_down(os.path.abspath(tiltfile), context, tiltfile_args, LogSink()))
