"""`tiltpy down`: delete exactly the objects the Tiltfile declares."""
from __future__ import annotations

import asyncio
import os

from tiltpy.cli.common import load_and_report, load_options
from tiltpy.compose.cli import ComposeCLI, ComposeFailure, ComposeUnavailable, detect as detect_compose
from tiltpy.engine import serve_records
from tiltpy.engine.local_runner import CommandFailure, run_capturing
from tiltpy.engine.k8s_deploy import delete_objects
from tiltpy.engine.logs import TILTFILE, LogSink
from tiltpy.k8s.client import ClusterError, K8sClient
from tiltpy.k8s.connection import ClusterConnectionError, load_connection


async def _down(tiltfile: str, context: str, tiltfile_args: list[str], sink: LogSink) -> int:
    result = await load_and_report(tiltfile, load_options("down", context, tiltfile_args), sink)
    if result.error:
        return 1
    objects = [obj for m in result.manifests if m.k8s for obj in m.k8s.objects]
    status = 0
    try:
        serve_records.stop_recorded(tiltfile, sink.logger(TILTFILE))
    except OSError as err:
        sink.log(TILTFILE, f"ERROR: serve_cmd records: {err}")
        status = 1
    projects = {m.compose.project_name: m.compose for m in result.manifests if m.compose}
    for target in projects.values():
        sink.log(TILTFILE, f"Docker Compose project {target.project_name}: down")
        try:
            cli = ComposeCLI(await asyncio.to_thread(detect_compose))
            await cli.down(target, sink.logger(TILTFILE))
        except (ComposeUnavailable, ComposeFailure) as err:
            sink.log(TILTFILE, f"ERROR: {err}")
            status = 1
    for manifest in result.manifests:
        custom = manifest.k8s.custom_deploy if manifest.k8s else None
        if custom is not None and custom.delete_cmd:
            try:
                await run_capturing(custom.delete_cmd, custom.delete_dir, dict(custom.delete_env),
                                    sink.logger(manifest.name))
            except CommandFailure as err:
                sink.log(manifest.name, f"ERROR: delete_cmd: {err}")
                status = 1
    if not objects:
        return status
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
    return status


def run_down(*, tiltfile: str, context: str, tiltfile_args: list[str]) -> int:
    return asyncio.run(_down(os.path.abspath(tiltfile), context, tiltfile_args, LogSink()))
