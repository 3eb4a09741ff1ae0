"""Deploying a resource, one class per kind behind one interface: Kubernetes
YAML, k8s_custom_deploy, a Docker Compose service, a local resource.

`prepare` readies what can be ready before the first build (a Kubernetes
resource's port-forward listeners); `deploy` makes the resource run what its
images and definition say (apply, `compose up`, run cmd / restart serve_cmd)
and leaves a runtime monitor on the resource (its pods, container or
process); `undeploy` stops the monitor and removes what was deployed (a
disabled resource, or one the Tiltfile no longer declares). They raise on
failure; the engine's error boundary turns that into the resource's error."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable, Protocol

from tiltpy.compose.monitor import ComposeMonitor
from tiltpy.engine.connections import Connections
from tiltpy.engine.forwards import ResourceForwards, forwards_key
from tiltpy.engine.k8s_deploy import apply_objects, delete_objects, objects_to_apply
from tiltpy.engine.local_runner import CommandFailure, ServeProcess, run_capturing, run_cmd
from tiltpy.engine.logs import LogSink
from tiltpy.engine.pod_monitor import PodMonitor
from tiltpy.engine.resource import ResourceState
from tiltpy.k8s.objects import TEMPLATE_HASH_LABEL, YamlError, object_id, parse_yaml_stream, pod_template
from tiltpy.model.manifest import Manifest

Log = Callable[[str], None]


@dataclass
class DeployContext:
    conns: Connections
    sink: LogSink
    host: str  # where port-forwards listen
    tiltfile: str
    on_runtime_change: Callable[[ResourceState], None]
    local_lock: asyncio.Lock  # local resources' cmds run one at a time unless allow_parallel

    def runtime_log(self, res: ResourceState) -> Log:
        return self.sink.logger(res.name, "runtime")

    def runtime_log_lines(self, res: ResourceState) -> Callable[[list[str]], None]:
        sink, name = self.sink, res.name
        return lambda texts: sink.log_lines(name, texts, "runtime")


class Deployer(Protocol):
    async def prepare(self, res: ResourceState) -> None: ...

    async def deploy(self, res: ResourceState, log: Log) -> None: ...

    async def undeploy(self, res: ResourceState, log: Log) -> None: ...


async def stop_monitor(res: ResourceState) -> None:
    monitor, res.monitor = res.monitor, None
    if monitor is not None:
        await monitor.stop()


async def stop_forwards(res: ResourceState) -> None:
    forwards, res.forwards = res.forwards, None
    if forwards is not None:
        await forwards.stop()


async def ensure_forwards(ctx: DeployContext, res: ResourceState, namespace: str) -> ResourceForwards | None:
    """The resource's port-forward listeners for its current definition:
    kept while that stays the same, opened anew when it changes."""
    k8s = ctx.conns.k8s
    if k8s is None or res.manifest.k8s is None or not res.manifest.k8s.port_forwards:
        await stop_forwards(res)
        return None
    key = forwards_key(res.manifest, namespace, ctx.host)
    if res.forwards is not None and res.forwards.key == key:
        return res.forwards
    await stop_forwards(res)
    forwards = ResourceForwards(k8s.conn, res.manifest, namespace, ctx.host, ctx.runtime_log(res))
    res.forwards = forwards
    await forwards.start()
    return forwards


def pod_namespaces(manifest: Manifest, default: str) -> list[str]:
    """The namespaces of the resource's pod templates, in YAML order."""
    namespaces: list[str] = []
    for obj in manifest.k8s.objects if manifest.k8s else ():
        if pod_template(obj) is not None:
            ns = object_id(obj).namespace or default
            if ns not in namespaces:
                namespaces.append(ns)
    return namespaces


class KubernetesDeployer:
    def __init__(self, ctx: DeployContext) -> None:
        self.ctx = ctx

    async def prepare(self, res: ResourceState) -> None:
        """Listen on the port-forwards now: connections wait for the pod."""
        k8s = self.ctx.conns.k8s
        if k8s is not None:
            namespaces = pod_namespaces(res.manifest, k8s.namespace) or [k8s.namespace]
            await ensure_forwards(self.ctx, res, namespaces[0])

    async def deploy(self, res: ResourceState, log: Log) -> None:
        k8s = self.ctx.conns.need_k8s()
        assert res.manifest.k8s is not None
        objects = objects_to_apply(res.manifest, res.images)
        namespaces = pod_namespaces(res.manifest, k8s.namespace)
        forwards = await ensure_forwards(self.ctx, res, (namespaces or [k8s.namespace])[0])
        await apply_objects(k8s, objects, log)
        hashes: set[str] = set()
        for obj in objects:
            template = pod_template(obj)
            if template is not None and template is not obj:
                hashes.add(((template.get("metadata") or {}).get("labels") or {}).get(TEMPLATE_HASH_LABEL, ""))
        if not res.manifest.k8s.has_pods():
            return
        monitor = res.monitor
        if not isinstance(monitor, PodMonitor) or monitor.manifest != res.manifest or monitor.forwards is not forwards:
            await stop_monitor(res)
            monitor = PodMonitor(k8s, res.manifest, namespaces, log=self.ctx.runtime_log(res),
                                 on_change=lambda: self.ctx.on_runtime_change(res),
                                 watches=self.ctx.conns.need_pod_watches(), forwards=forwards,
                                 log_lines=self.ctx.runtime_log_lines(res))
            res.monitor = monitor
            monitor.expect(hashes)
            await monitor.start()
        else:
            monitor.expect(hashes)

    async def undeploy(self, res: ResourceState, log: Log) -> None:
        await stop_monitor(res)
        await stop_forwards(res)
        if res.manifest.k8s is not None and self.ctx.conns.k8s is not None:
            await delete_objects(self.ctx.conns.k8s, list(res.manifest.k8s.objects), log)


class CustomDeployer:
    """k8s_custom_deploy: the user's apply_cmd deploys and prints the YAML it
    applied; the pods of the workloads it names are followed."""

    def __init__(self, ctx: DeployContext) -> None:
        self.ctx = ctx

    async def deploy(self, res: ResourceState, log: Log) -> None:
        k8s = self.ctx.conns.need_k8s()
        spec = res.manifest.k8s.custom_deploy if res.manifest.k8s else None
        assert spec is not None
        env = dict(spec.apply_env)
        for i, ref in enumerate(spec.image_deps):
            built = res.images.get(ref)
            if built is not None:
                env[f"TILT_IMAGE_MAP_{i}"] = ref
                env[f"TILT_IMAGE_{i}"] = built.cluster_ref
        output = await run_capturing(spec.apply_cmd, spec.apply_dir, env, log)
        try:
            objects = parse_yaml_stream(output)
        except YamlError as err:
            raise CommandFailure(f"apply_cmd must print the YAML it applied: {err}") from None
        selector, namespaces = "", []
        for obj in objects:
            labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            if pod_template(obj) is not None and labels:
                selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
                namespaces.append(object_id(obj).namespace or k8s.namespace)
                break
        log(f"  apply_cmd reported {len(objects)} object(s)")
        if not selector or res.monitor is not None:
            return
        forwards = await ensure_forwards(self.ctx, res, namespaces[0])
        monitor = PodMonitor(k8s, res.manifest, namespaces, log=self.ctx.runtime_log(res),
                             on_change=lambda: self.ctx.on_runtime_change(res),
                             watches=self.ctx.conns.need_pod_watches(), forwards=forwards, selector=selector,
                             log_lines=self.ctx.runtime_log_lines(res))
        res.monitor = monitor
        await monitor.start()

    async def prepare(self, res: ResourceState) -> None:
        pass  # its pods' namespace is known only from what apply_cmd prints

    async def undeploy(self, res: ResourceState, log: Log) -> None:
        await stop_monitor(res)
        await stop_forwards(res)
        spec = res.manifest.k8s.custom_deploy if res.manifest.k8s else None
        if spec is not None and spec.delete_cmd:
            await run_capturing(spec.delete_cmd, spec.delete_dir, dict(spec.delete_env), log)


class ComposeDeployer:
    def __init__(self, ctx: DeployContext) -> None:
        self.ctx = ctx

    async def prepare(self, res: ResourceState) -> None:
        pass

    async def deploy(self, res: ResourceState, log: Log) -> None:
        target = res.manifest.compose
        assert target is not None
        compose, builder = self.ctx.conns.need_compose(), self.ctx.conns.need_builder()
        for ref in target.image_refs:
            # Compose runs the image under the name the service asks for (Tilt's tagWithExpected).
            name, _, tag = target.image.rpartition(":") if ":" in target.image.split("/")[-1] else (target.image, "", "")
            await asyncio.to_thread(builder.client.tag, res.images[ref].image_id, name, tag or "latest")
        if target.has_build:
            await compose.build(target, log)
        await compose.up(target, log)
        if isinstance(res.monitor, ComposeMonitor):
            await res.monitor.refresh()
            return
        monitor = ComposeMonitor(builder.client, target, log=self.ctx.runtime_log(res),
                                 on_change=lambda: self.ctx.on_runtime_change(res))
        res.monitor = monitor
        await monitor.start()

    async def undeploy(self, res: ResourceState, log: Log) -> None:
        await stop_monitor(res)
        if res.manifest.compose is not None and self.ctx.conns.compose is not None:
            await self.ctx.conns.compose.remove(res.manifest.compose, log)


class LocalDeployer:
    def __init__(self, ctx: DeployContext) -> None:
        self.ctx = ctx

    async def prepare(self, res: ResourceState) -> None:
        pass

    async def deploy(self, res: ResourceState, log: Log) -> None:
        target = res.manifest.local
        assert target is not None
        if target.cmd:
            if target.allow_parallel:
                await run_cmd(target, log)
            else:
                async with self.ctx.local_lock:
                    await run_cmd(target, log)
        if target.serve_cmd:
            monitor = res.monitor
            if not isinstance(monitor, ServeProcess):
                monitor = ServeProcess(res.name, target, self.ctx.tiltfile, self.ctx.runtime_log(res),
                                       on_change=lambda: self.ctx.on_runtime_change(res))
                res.monitor = monitor
            await monitor.start()

    async def undeploy(self, res: ResourceState, log: Log) -> None:
        await stop_monitor(res)


class NoDeploy:
    """A resource that only builds images (or declares nothing to run)."""

    async def prepare(self, res: ResourceState) -> None:
        pass

    async def deploy(self, res: ResourceState, log: Log) -> None:
        pass

    async def undeploy(self, res: ResourceState, log: Log) -> None:
        await stop_monitor(res)


def deployer_for(manifest: Manifest, ctx: DeployContext) -> Deployer:
    if manifest.k8s is not None:
        return CustomDeployer(ctx) if manifest.k8s.custom_deploy is not None else KubernetesDeployer(ctx)
    if manifest.compose is not None:
        return ComposeDeployer(ctx)
    if manifest.local is not None:
        return LocalDeployer(ctx)
    return NoDeploy()
