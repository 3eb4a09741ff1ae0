"""The engine: one asyncio loop owns the state of every resource and decides
what runs next. Builds run in worker threads (docker-py blocks); cluster I/O
is async. Builders and deployers do the work; the engine only sequences it.

First builds follow Tilt's rules: `uncategorized` first, then resources in
Tiltfile order, each held until its resource_deps are ready, at most
`max_parallel_updates` at a time."""
from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Callable

from tiltpy.build.docker_builder import BuildFailure, BuiltImage, DockerBuilder, DockerUnavailable, connect
from tiltpy.engine.k8s_deploy import DeployTarget, apply_objects, objects_to_apply, resolve_deploy_target
from tiltpy.engine.logs import TILTFILE, LogSink
from tiltpy.engine.pod_monitor import PodMonitor
from tiltpy.k8s.client import ClusterError, K8sClient
from tiltpy.k8s.connection import ClusterConnectionError, load_connection
from tiltpy.k8s.objects import TEMPLATE_HASH_LABEL, object_id, pod_template
from tiltpy.model.manifest import Manifest, TiltfileResult


@dataclass
class BuildRecord:
    started: float
    finished: float = 0.0
    error: str = ""


@dataclass
class ResourceState:
    manifest: Manifest
    update_status: str = "pending"  # pending | in_progress | ok | error | none
    update_error: str = ""
    waiting_reason: str = ""
    builds: list[BuildRecord] = field(default_factory=list)
    images: dict[str, BuiltImage] = field(default_factory=dict)
    monitor: PodMonitor | None = None
    ready_once: bool = False

    @property
    def runtime_status(self) -> str:
        if self.monitor is None:
            return "not_applicable" if not (self.manifest.k8s and self.manifest.k8s.has_pods()) else "pending"
        return self.monitor.state.status

    def is_ready(self) -> bool:
        return self.update_status == "ok" and self.runtime_status in ("ok", "not_applicable")


@dataclass
class EngineOptions:
    mode: str = "up"  # up | ci
    host: str = "localhost"
    only: list[str] = field(default_factory=list)  # resources named on the command line
    context_override: str = ""


class EngineFailure(Exception):
    """Ends `tiltpy ci` with a non-zero exit: the message says which resource and why."""


class Engine:
    def __init__(self, result: TiltfileResult, options: EngineOptions, sink: LogSink) -> None:
        self.result = result
        self.options = options
        self.sink = sink
        self.resources: dict[str, ResourceState] = {
            m.name: ResourceState(m) for m in _enabled(result.manifests, options.only)
        }
        self.images: dict[str, BuiltImage] = {}
        self._image_locks: dict[str, asyncio.Lock] = {}
        self._changed = asyncio.Event()
        self._semaphore = asyncio.Semaphore(result.max_parallel_updates)
        self._tasks: list[asyncio.Task[None]] = []
        self.k8s: K8sClient | None = None
        self.builder: DockerBuilder | None = None
        self.deploy_target: DeployTarget | None = None
        self.failure: str = ""
        self.listeners: list[Callable[[], None]] = []

    # -- state ------------------------------------------------------------
    def changed(self) -> None:
        self._changed.set()
        for listener in self.listeners:
            listener()

    def _log(self, resource: str) -> Callable[[str], None]:
        return self.sink.logger(resource)

    # -- setup ------------------------------------------------------------
    async def _connect(self) -> None:
        needs_k8s = any(r.manifest.k8s for r in self.resources.values())
        needs_docker = any(r.manifest.image_targets for r in self.resources.values())
        log = self._log(TILTFILE)
        if needs_docker:
            try:
                client = await asyncio.to_thread(connect)
            except DockerUnavailable as err:
                raise EngineFailure(str(err)) from None
            self.builder = DockerBuilder(client)
        if needs_k8s:
            try:
                conn = await asyncio.to_thread(load_connection, self.options.context_override)
            except ClusterConnectionError as err:
                raise EngineFailure(f"Kubernetes: {err}") from None
            self.k8s = K8sClient(conn)
            try:
                version = await self.k8s.check()
            except ClusterError as err:
                raise EngineFailure(f"Kubernetes cluster unreachable: {err}") from None
            self.deploy_target = await resolve_deploy_target(self.k8s, self.result)
            log(f"Kubernetes context {conn.context} (server {version}); {self.deploy_target.describe()}")

    # -- running ----------------------------------------------------------
    async def run(self) -> None:
        """Connect, then run every resource's first build and keep monitoring.
        Returns only in ci mode (success) or raises EngineFailure."""
        self.sink.set_resources(list(self.resources))
        for warning in self.result.warnings:
            self.sink.log(TILTFILE, f"WARNING: {warning}")
        try:
            await self._connect()
            order = sorted(self.resources.values(), key=lambda r: r.manifest.source_order)
            for res in order:
                if res.manifest.auto_init:
                    self._tasks.append(asyncio.create_task(self._first_build(res)))
                else:
                    res.update_status = "none"
            if self.options.mode == "ci":
                await self._wait_ci()
            else:
                await asyncio.Event().wait()
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        for res in self.resources.values():
            if res.monitor:
                await res.monitor.stop()
        if self.k8s:
            await self.k8s.close()

    async def _first_build(self, res: ResourceState) -> None:
        deps = [d for d in res.manifest.resource_deps if d in self.resources]
        while not all(self.resources[d].ready_once for d in deps):
            waiting = [d for d in deps if not self.resources[d].ready_once]
            reason = f"waiting on resource_deps: {', '.join(waiting)}"
            if res.waiting_reason != reason:
                res.waiting_reason = reason
                self.changed()
            self._changed.clear()
            await self._changed.wait()
        res.waiting_reason = ""
        async with self._semaphore:
            await self.update(res)

    async def update(self, res: ResourceState) -> None:
        manifest = res.manifest
        log = self._log(manifest.name)
        record = BuildRecord(started=time.time())
        res.builds = (res.builds + [record])[-10:]
        res.update_status, res.update_error = "in_progress", ""
        self.changed()
        steps = len(manifest.image_targets) + (1 if manifest.k8s else 0)
        try:
            for i, target in enumerate(manifest.image_targets, start=1):
                log(f"STEP {i}/{steps} — Building Dockerfile: [{target.ref}]")
                res.images[target.ref] = await self._build_image(manifest, target.ref, log)
            if manifest.k8s:
                log(f"STEP {steps}/{steps} — Deploying")
                await self._deploy(res, log)
            res.update_status = "ok"
            log(f"Update done in {time.time() - record.started:.2f}s")
        except (BuildFailure, ClusterError, EngineFailure) as err:
            res.update_status, res.update_error = "error", str(err)
            record.error = str(err)
            log(f"ERROR: {err}")
        finally:
            record.finished = time.time()
            self._check_ready(res)
            self.changed()

    async def _build_image(self, manifest: Manifest, ref: str, log: Callable[[str], None]) -> BuiltImage:
        assert self.builder is not None
        target = manifest.image_target(ref)
        lock = self._image_locks.setdefault(ref, asyncio.Lock())
        async with lock:
            deps = {dep: self.images[dep] for dep in target.image_deps}
            built = await asyncio.to_thread(self.builder.build, target, deps, log)
            deployed_directly = manifest.k8s is not None and ref in manifest.k8s.image_refs
            if self.deploy_target and self.deploy_target.registry and deployed_directly:
                built = await asyncio.to_thread(self.builder.push, built, self.deploy_target.registry,
                                                self.deploy_target.registry_from_cluster, log)
            self.images[ref] = built
            return built

    async def _deploy(self, res: ResourceState, log: Callable[[str], None]) -> None:
        assert self.k8s is not None and res.manifest.k8s is not None
        objects = objects_to_apply(res.manifest, res.images)
        await apply_objects(self.k8s, objects, log)
        hashes = set()
        namespaces = []
        for obj in objects:
            template = pod_template(obj)
            if template is not None and template is not obj:
                hashes.add(((template.get("metadata") or {}).get("labels") or {}).get(TEMPLATE_HASH_LABEL, ""))
            if template is not None:
                ns = object_id(obj).namespace or self.k8s.namespace
                if ns not in namespaces:
                    namespaces.append(ns)
        if not res.manifest.k8s.has_pods():
            return
        if res.monitor is None:
            res.monitor = PodMonitor(self.k8s, res.manifest, namespaces, log=self.sink.logger(res.manifest.name, "runtime"),
                                     on_change=lambda: self._on_runtime_change(res), host=self.options.host)
            res.monitor.expect(hashes)
            await res.monitor.start()
        else:
            res.monitor.expect(hashes)

    def _on_runtime_change(self, res: ResourceState) -> None:
        self._check_ready(res)
        self.changed()

    def _check_ready(self, res: ResourceState) -> None:
        if res.is_ready() and not res.ready_once:
            res.ready_once = True

    async def _wait_ci(self) -> None:
        deadline = time.monotonic() + self.result.ci_timeout_secs
        readiness_deadline = time.monotonic() + self.result.readiness_timeout_secs
        while True:
            active = [r for r in self.resources.values() if r.manifest.auto_init]
            for res in active:
                if res.update_status == "error":
                    raise EngineFailure(f'resource "{res.manifest.name}": {res.update_error}')
                if res.update_status == "ok" and res.runtime_status == "error":
                    # Let the crashed container's log stream deliver its last words first.
                    await asyncio.sleep(1.5)
                    raise EngineFailure(f'resource "{res.manifest.name}": {res.monitor.state.error if res.monitor else ""}')
            if all(r.is_ready() for r in active):
                return
            now = time.monotonic()
            if now > deadline:
                raise EngineFailure(f"timeout after {self.result.ci_timeout_secs:.0f}s waiting for: "
                                    + ", ".join(r.manifest.name for r in active if not r.is_ready()))
            if now > readiness_deadline:
                pending = [r for r in active if r.update_status == "ok" and not r.is_ready()]
                if pending:
                    raise EngineFailure("readiness timeout: never became ready: "
                                        + ", ".join(r.manifest.name for r in pending))
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=1.0)


def _enabled(manifests: list[Manifest], only: list[str]) -> list[Manifest]:
    """`tiltpy up a b` enables a, b and everything they depend on."""
    if not only:
        return list(manifests)
    by_name = {m.name: m for m in manifests}
    unknown = [n for n in only if n not in by_name]
    if unknown:
        raise EngineFailure(f"no such resource: {', '.join(unknown)} (known: {', '.join(by_name)})")
    wanted: set[str] = set()
    stack = list(only)
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack.extend(by_name[name].resource_deps)
    return [m for m in manifests if m.name in wanted]
