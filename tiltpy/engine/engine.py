"""The engine: one asyncio loop owns the state of every resource and decides
what runs next. Builds run in worker threads (docker-py blocks); cluster I/O
is async. Builders, deployers and updaters do the work; the engine only
sequences it.

Each resource has a loop task that sleeps until there is work: its first
build (held until its resource_deps are ready, Tilt's rule), changed files,
a trigger, a changed definition after a Tiltfile reload, or a new container
that must catch up with live-updated files. At most `max_parallel_updates`
updates run at once."""
from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from tiltpy.image.docker_builder import BuildFailure, BuiltImage, DockerBuilder, DockerUnavailable, connect
from tiltpy.image.custom_builder import CustomBuilder
from tiltpy.image.prune import prune_images
from tiltpy.engine import live_update
from tiltpy.engine.k8s_deploy import DeployTarget, apply_objects, delete_objects, objects_to_apply, \
    resolve_deploy_target
from tiltpy.engine.logs import TILTFILE, LogSink
from tiltpy.compose.cli import ComposeCLI, ComposeFailure, ComposeUnavailable, detect as detect_compose
from tiltpy.compose.monitor import ComposeMonitor
from tiltpy.engine.local_runner import CommandFailure, ServeProcess, run_capturing, run_cmd
from tiltpy.engine.pod_monitor import PodMonitor
from tiltpy.engine.scheduling import first_build_order
from tiltpy.engine.resource import BuildRecord, ResourceState
from tiltpy.engine.update_plan import UpdatePlan, plan_update
from tiltpy.k8s.client import ClusterError, K8sClient
from tiltpy.k8s.cluster import shares_local_docker
from tiltpy.k8s.connection import ClusterConnectionError, load_connection
from tiltpy.k8s.objects import TEMPLATE_HASH_LABEL, YamlError, object_id, parse_yaml_stream, pod_template
from tiltpy.liveupdate.updaters import ContainerUpdater, DockerUpdater, ExecUpdater, RunFailure, UpdateFailure, \
    updater_kind
from tiltpy.model.manifest import TRIGGER_MODE_MANUAL, Manifest, TiltfileResult
from tiltpy.watch.inotify import InotifyWatcher, WatchError
from tiltpy.watch.project_watch import ProjectWatch

# Quiet window before a batch of file changes is acted on. Tilt waits for
# 200 ms; editors finish a save (write, rename, chmod) within a few ms, and
# bench/liveupdate_latency.py shows 20 ms catches whole saves, so the rest of
# Tilt's window is latency for nothing.
WATCH_QUIET_MS = int(os.environ.get("TILTPY_WATCH_QUIET_MS", "20"))


@dataclass
class EngineOptions:
    mode: str = "up"  # up | ci
    host: str = "localhost"
    context_override: str = ""
    update_mode: str = "auto"  # auto | docker | exec
    watch: bool = True


class EngineFailure(Exception):
    """Ends `tiltpy ci` (or startup) with a non-zero exit: the message says which resource and why."""


Reloader = Callable[[list[str]], Awaitable[TiltfileResult]]


class Engine:
    def __init__(self, result: TiltfileResult, options: EngineOptions, sink: LogSink,
                 reload: Reloader | None = None, tiltfile_args: list[str] | None = None) -> None:
        self.result = result
        self.tiltfile_args = list(tiltfile_args or [])
        self.tiltfile_error = result.error
        self.started_at = time.time()
        self.options = options
        self.sink = sink
        self._reload = reload
        self.resources: dict[str, ResourceState] = {}
        self.images: dict[str, BuiltImage] = {}
        self._image_locks: dict[str, asyncio.Lock] = {}
        self._changed = asyncio.Event()
        self._semaphore = asyncio.Semaphore(result.max_parallel_updates)
        self.k8s: K8sClient | None = None
        self.builder: DockerBuilder | None = None
        self.updater: ContainerUpdater | None = None
        self.deploy_target: DeployTarget | None = None
        self.compose: ComposeCLI | None = None
        self._local_lock = asyncio.Lock()  # local resources run one at a time unless allow_parallel
        self.listeners: list[Callable[[], None]] = []
        self._watch: ProjectWatch | None = None
        self._watcher: InotifyWatcher | None = None
        self._reload_task: asyncio.Task[None] | None = None
        self._reload_again = False
        self._connected = False
        self._prune_task: asyncio.Task[None] | None = None
        # The (Tiltfile) resource's updates: the load before the engine existed, then reloads.
        self.tiltfile_builds: list[BuildRecord] = [BuildRecord(
            started=self.started_at, finished=self.started_at, error=result.error, reason="initial load",
            span_id="build:1")]

    # -- state ------------------------------------------------------------
    def changed(self) -> None:
        self._changed.set()
        for listener in self.listeners:
            listener()

    def _log(self, resource: str) -> Callable[[str], None]:
        return self.sink.logger(resource)

    # -- setup ------------------------------------------------------------
    async def _connect(self) -> None:
        manifests = [r.manifest for r in self.resources.values()]
        needs_k8s = any(m.k8s for m in manifests)
        needs_compose = any(m.compose for m in manifests)
        needs_docker = any(m.image_targets for m in manifests) or needs_compose
        log = self._log(TILTFILE)
        if needs_docker and self.builder is None:
            try:
                client = await asyncio.to_thread(connect)
                builder = await asyncio.to_thread(DockerBuilder.detect, client)
            except DockerUnavailable as err:
                raise EngineFailure(str(err)) from None
            self.builder = builder
            log(f"Docker Engine at {client.base_url}; images build with {builder.describe()}")
        if needs_compose and self.compose is None:
            try:
                self.compose = ComposeCLI(await asyncio.to_thread(detect_compose))
            except ComposeUnavailable as err:
                raise EngineFailure(f"Docker Compose: {err}") from None
            if self.updater is None and self.builder is not None:
                self.updater = DockerUpdater(self.builder.client)
            log(f"Docker Compose via `{' '.join(self.compose.command)}`")
        if needs_k8s and self.k8s is None:
            try:
                conn = await asyncio.to_thread(load_connection, self.options.context_override)
            except ClusterConnectionError as err:
                raise EngineFailure(f"Kubernetes: {err}") from None
            k8s = K8sClient(conn)
            try:
                version = await k8s.check()
            except ClusterError as err:
                await k8s.close()
                raise EngineFailure(f"Kubernetes cluster unreachable: {err}") from None
            self.k8s = k8s
            self.deploy_target = await resolve_deploy_target(k8s, self.result)
            kind = updater_kind(shares_local_docker(self.deploy_target.product), self.options.update_mode)
            if kind == "docker" and self.builder is not None:
                self.updater = DockerUpdater(self.builder.client)
            else:
                self.updater = ExecUpdater(conn)
            log(f"Kubernetes context {conn.context} (server {version}); {self.deploy_target.describe()}; "
                f"live updates via {'the Docker Engine' if kind == 'docker' else 'exec'}")

    # -- running ----------------------------------------------------------
    async def run(self) -> None:
        """ci: returns once every resource is ready, raises EngineFailure on
        failure. up: runs until cancelled."""
        try:
            for warning in self.result.warnings:
                self.sink.log(TILTFILE, f"WARNING: {warning}")
            self._install(self.result.manifests)
            self.sink.set_secrets(self.result.secret_replacements)
            if await self._connect_or_report():
                self._start_all()
            if self.options.watch:
                self._restart_watcher()
            if self.options.mode == "up" and self.result.docker_prune.enabled:
                self._prune_task = asyncio.create_task(self._prune_periodically())
            if self.options.mode == "ci":
                await self._wait_ci()
            else:
                await asyncio.Event().wait()
        finally:
            await self.shutdown()

    async def _connect_or_report(self) -> bool:
        """Connect to Docker / the cluster / Compose as needed. `ci` fails at
        once; `up` shows the problem on every resource and keeps running, so a
        fix (or a Tiltfile edit) can retry."""
        try:
            await self._connect()
        except EngineFailure as err:
            if self.options.mode == "ci":
                raise
            self.sink.log(TILTFILE, f"ERROR: {err}")
            self.sink.log(TILTFILE, "Resources wait; save the Tiltfile to retry the connection")
            for res in self.resources.values():
                res.update_status, res.update_error = "error", str(err)
            self.changed()
            return False
        self._connected = True
        return True

    def _start_all(self) -> None:
        for manifest in first_build_order([r.manifest for r in self.resources.values()]):
            res = self.resources[manifest.name]
            if res.task is None or res.task.done():
                self._start_loop(res)

    def _install(self, manifests: list[Manifest]) -> None:
        for manifest in _enabled(manifests, self.result.enabled_resources):
            self.resources[manifest.name] = ResourceState(manifest)
        self.sink.set_resources(list(self.resources))

    def _start_loop(self, res: ResourceState) -> None:
        res.task = asyncio.create_task(self._resource_loop(res), name=f"resource {res.name}")

    async def _prune_periodically(self) -> None:
        """docker_prune_settings: after the first builds settle, then every
        interval (a sleeping task; no polling in between)."""
        settings = self.result.docker_prune
        await asyncio.sleep(120)
        while True:
            if self.builder is not None:
                try:
                    await asyncio.to_thread(prune_images, self.builder.client, settings, self._log(TILTFILE))
                except Exception as err:  # pruning must never disturb the loop
                    self.sink.log(TILTFILE, f"WARNING: Docker prune failed: {err}")
            await asyncio.sleep(max(settings.interval_hrs, 1) * 3600)

    async def shutdown(self) -> None:
        if self._prune_task:
            self._prune_task.cancel()
        if self._watcher:
            self._watcher.close()
        if self._reload_task:
            self._reload_task.cancel()
        for res in list(self.resources.values()):
            await self._stop_resource(res)
        if self.k8s:
            await self.k8s.close()

    async def _stop_resource(self, res: ResourceState) -> None:
        if res.task:
            res.task.cancel()
            with contextlib.suppress(BaseException):
                await res.task
        if res.monitor:
            await res.monitor.stop()

    # -- the per-resource loop ----------------------------------------------
    async def _resource_loop(self, res: ResourceState) -> None:
        if res.manifest.auto_init:
            await self._wait_for_deps(res)
            async with self._update_slot(res):
                await self._full_update(res, reason="initial build")
        else:
            res.update_status = "none"
            self.changed()
        while True:
            await res.wake.wait()
            res.wake.clear()
            manual = res.effective_trigger_mode() == TRIGGER_MODE_MANUAL
            if res.containers_changed:
                res.containers_changed = False
                await self._catch_up(res)
            if not res.first_update_done:
                if not res.trigger_requested:
                    continue
                res.trigger_requested = False
                res.pending_files.clear()
                await self._wait_for_deps(res)
                async with self._update_slot(res):
                    await self._full_update(res, reason="triggered")
                continue
            if res.definition_changed:
                res.definition_changed = False
                res.pending_files.clear()
                async with self._update_slot(res):
                    await self._full_update(res, reason="its Tiltfile definition changed")
                continue
            if res.pending_files and manual and not res.trigger_requested:
                reason = f"{len(res.pending_files)} changed file(s); waiting for a manual trigger"
                if res.waiting_reason != reason:
                    res.waiting_reason = reason
                    self.changed()
                continue
            if res.trigger_requested and not res.pending_files:
                res.trigger_requested = False
                async with self._update_slot(res):
                    await self._full_update(res, reason="triggered", force=not manual)
                continue
            res.trigger_requested = False
            if not res.pending_files:
                continue
            files, res.pending_files = res.pending_files, set()
            res.waiting_reason = ""
            deleted = {p for p in files if not os.path.lexists(p)}
            transient = _never_deployed(res, deleted)
            files, deleted = files - transient, deleted - transient
            if not files:
                continue
            if res.manifest.local is not None:
                async with self._update_slot(res):
                    await self._full_update(res, reason=f"{len(files)} dependency file(s) changed")
                continue
            plan = plan_update(res.manifest, files, self._target_files(), deleted)
            if plan.is_rebuild:
                async with self._update_slot(res):
                    await self._full_update(res, reason=plan.rebuild_reason)
            elif plan.live_updates:
                async with self._update_slot(res):
                    await self._live_update(res, plan)

    def _target_files(self) -> dict:
        assert self._watch is not None
        return self._watch.target_files

    async def _wait_for_deps(self, res: ResourceState) -> None:
        while True:
            waiting = [d for d in res.manifest.resource_deps
                       if d in self.resources and not self.resources[d].ready_once]
            reason = f"waiting on resource_deps: {', '.join(waiting)}" if waiting else ""
            if res.waiting_reason != reason:
                res.waiting_reason = reason
                if reason:
                    self.sink.log(res.name, f"Waiting on resource_deps: {', '.join(waiting)}")
                self.changed()
            if not waiting:
                return
            self._changed.clear()
            await self._changed.wait()

    @contextlib.asynccontextmanager
    async def _update_slot(self, res: ResourceState):
        """One of max_parallel_updates; the resource shows as queued meanwhile."""
        res.waiting_for_slot = True
        self.changed()
        try:
            async with self._semaphore:
                res.waiting_for_slot = False
                yield
        finally:
            res.waiting_for_slot = False

    def _start_record(self, res: ResourceState, record: BuildRecord, header: str) -> None:
        """Record an update and log its first line, the dashboard's header for it."""
        res.updates_started += 1
        record.span_id = f"build:{res.updates_started}"
        record.warnings_before = self.sink.alerts(res.name, "build")[0]
        res.record(record)
        self.sink.log(res.name, header, build_event="init")

    def _finish_record(self, res: ResourceState, record: BuildRecord) -> None:
        record.finished = time.time()
        count, last_seq = self.sink.alerts(res.name, "build")
        record.warning_count = count - record.warnings_before
        record.last_warning_seq = last_seq if record.warning_count else 0

    # -- full update: build what changed, deploy --------------------------
    async def _full_update(self, res: ResourceState, *, reason: str, force: bool = False) -> None:
        manifest = res.manifest
        log = self._log(manifest.name)
        record = BuildRecord(started=time.time(), reason=reason)
        res.runtime_warnings_before = self.sink.alerts(res.name, "runtime")[0]
        self._start_record(res, record, "Initial Build" if reason == "initial build" else f"Updating: {reason}")
        res.update_status, res.update_error, res.waiting_reason = "in_progress", "", ""
        self.changed()
        deploys = 1 if (manifest.k8s or manifest.compose) else 0
        steps = len(manifest.image_targets) + deploys
        try:
            for i, target in enumerate(manifest.image_targets, start=1):
                kind = "Custom Build" if target.custom_build is not None else "Building Dockerfile"
                log(f"STEP {i}/{steps} — {kind}: [{target.ref}]")
                res.images[target.ref] = await self._build_image(res, target.ref, log, force)
            if manifest.k8s:
                log(f"STEP {steps}/{steps} — Deploying")
                await self._deploy(res, log)
            if manifest.compose:
                log(f"STEP {steps}/{steps} — Deploying with Docker Compose")
                await self._deploy_compose(res, log)
            if manifest.local:
                await self._run_local(res, log)
            res.update_status = "ok"
            log(f"Update done in {time.time() - record.started:.2f}s")
        except (BuildFailure, ClusterError, EngineFailure, ComposeFailure, CommandFailure) as err:
            res.update_status, res.update_error = "error", str(err)
            record.error = str(err)
            log(f"ERROR: {err}")
        finally:
            self._finish_record(res, record)
            res.first_update_done = True
            self._check_ready(res)
            self.changed()

    async def _build_image(self, res: ResourceState, ref: str, log: Callable[[str], None],
                           force: bool) -> BuiltImage:
        if self.builder is None:
            raise EngineFailure("no Docker Engine connection")
        manifest = res.manifest
        target = manifest.image_target(ref)
        async with self._image_locks.setdefault(ref, asyncio.Lock()):
            deps = {dep: self.images[dep] for dep in target.image_deps}
            if target.custom_build is not None:
                registry = self.deploy_target.registry if self.deploy_target else ""
                from_cluster = self.deploy_target.registry_from_cluster if self.deploy_target else ""
                custom = CustomBuilder(self.builder.client, registry, from_cluster)
                built = await asyncio.to_thread(custom.build, target, deps, log, force)
                if target.custom_build.disable_push or target.custom_build.skips_local_docker:
                    self.images[ref] = built
                    return built
            else:
                built = await asyncio.to_thread(self.builder.build, target, deps, log, force)
            deployed_directly = manifest.k8s is not None and ref in manifest.k8s.image_refs
            if self.deploy_target and self.deploy_target.registry and deployed_directly:
                built = await asyncio.to_thread(self.builder.push, built, self.deploy_target.registry,
                                                self.deploy_target.registry_from_cluster, log)
            previous = res.images.get(ref)
            if previous is None or previous.image_id != built.image_id:
                # Containers of the new image hold every file: nothing to catch up on.
                synced = res.synced.get(ref)
                if synced:
                    synced.clear()
            self.images[ref] = built
            return built

    async def _deploy(self, res: ResourceState, log: Callable[[str], None]) -> None:
        assert self.k8s is not None and res.manifest.k8s is not None
        if res.manifest.k8s.custom_deploy is not None:
            await self._custom_deploy(res, log)
            return
        objects = objects_to_apply(res.manifest, res.images)
        await apply_objects(self.k8s, objects, log)
        hashes: set[str] = set()
        namespaces: list[str] = []
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
        if res.monitor is None or res.monitor.manifest != res.manifest:
            if res.monitor is not None:
                await res.monitor.stop()
            res.monitor = PodMonitor(self.k8s, res.manifest, namespaces,
                                     log=self.sink.logger(res.name, "runtime"),
                                     on_change=lambda: self._on_runtime_change(res), host=self.options.host)
            res.monitor.expect(hashes)
            await res.monitor.start()
        else:
            res.monitor.expect(hashes)

    async def _custom_deploy(self, res: ResourceState, log: Callable[[str], None]) -> None:
        """k8s_custom_deploy: the user's apply_cmd deploys and prints the YAML
        it applied; we follow the pods of the workloads it names."""
        assert self.k8s is not None and res.manifest.k8s is not None
        spec = res.manifest.k8s.custom_deploy
        assert spec is not None
        env = dict(spec.apply_env)
        for i, ref in enumerate(spec.image_deps):
            built = res.images.get(ref) or self.images.get(ref)
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
                namespaces.append(object_id(obj).namespace or self.k8s.namespace)
                break
        log(f"  apply_cmd reported {len(objects)} object(s)")
        if not selector:
            return
        if res.monitor is None:
            manifest = res.manifest
            res.monitor = PodMonitor(self.k8s, manifest, namespaces, log=self.sink.logger(res.name, "runtime"),
                                     on_change=lambda: self._on_runtime_change(res), host=self.options.host,
                                     selector=selector)
            await res.monitor.start()

    async def _deploy_compose(self, res: ResourceState, log: Callable[[str], None]) -> None:
        target = res.manifest.compose
        assert target is not None and self.compose is not None and self.builder is not None
        for ref in target.image_refs:
            # Compose runs the image under the name the service asks for (Tilt's tagWithExpected).
            name, _, tag = target.image.rpartition(":") if ":" in target.image.split("/")[-1] else (target.image, "", "")
            await asyncio.to_thread(self.builder.client.tag, res.images[ref].image_id, name, tag or "latest")
        if target.has_build:
            await self.compose.build(target, log)
        await self.compose.up(target, log)
        if res.monitor is None:
            res.monitor = ComposeMonitor(self.builder.client, target, log=self.sink.logger(res.name, "runtime"),
                                         on_change=lambda: self._on_runtime_change(res))
            await res.monitor.start()
        else:
            await res.monitor.refresh()

    async def _run_local(self, res: ResourceState, log: Callable[[str], None]) -> None:
        target = res.manifest.local
        assert target is not None
        if target.cmd:
            if target.allow_parallel:
                await run_cmd(target, log)
            else:
                async with self._local_lock:
                    await run_cmd(target, log)
        if target.serve_cmd:
            if res.monitor is None:
                res.monitor = ServeProcess(res.name, target, self.result.tiltfile, self.sink.logger(res.name, "runtime"),
                                           on_change=lambda: self._on_runtime_change(res))
            await res.monitor.start()

    # -- live update --------------------------------------------------------
    async def _live_update(self, res: ResourceState, plan: UpdatePlan) -> None:
        log = self._log(res.name)
        record = BuildRecord(started=time.time(), kind="live-update", reason="files changed")
        files = sum(len(lu.copies) + len(lu.deletes) for lu in plan.live_updates)
        self._start_record(res, record, f"Live Update: {files} changed file(s)")
        res.update_status, res.update_error = "in_progress", ""
        self.changed()
        fall_back = ""
        try:
            assert self.updater is not None
            for lu in plan.live_updates:
                if lu.restart and hasattr(res.monitor, "expect_restart"):
                    res.monitor.expect_restart()
                await live_update.apply_live_update(res, lu, self.updater, log)
            res.update_status = "ok"
            log(f"Live update done in {(time.time() - record.started) * 1000:.0f}ms")
        except RunFailure as err:
            res.update_status, res.update_error = "error", str(err)
            record.error = str(err)
            log(f"ERROR: {err}")
        except UpdateFailure as err:
            fall_back = str(err)
        finally:
            self._finish_record(res, record)
            self.changed()
        if fall_back:
            log(f"Live update failed ({fall_back}); falling back to a full build")
            await self._full_update(res, reason="live update failed", force=False)

    async def _catch_up(self, res: ResourceState) -> None:
        if self.updater is None:
            return
        log = self._log(res.name)
        for container, plan in live_update.catch_up_plans(res):
            log(f"Container {container.container} of pod {container.pod} started after live updates; "
                f"syncing {len(plan.copies) + len(plan.deletes)} changed file(s) into it")
            try:
                await self.updater.update(container, plan, log)
                res.synced[plan.target].containers.add(container.container_id)
            except (RunFailure, UpdateFailure) as err:
                log(f"ERROR: catching up {container.pod}: {err}")
                res.update_status, res.update_error = "error", str(err)
                self.changed()

    def _on_runtime_change(self, res: ResourceState) -> None:
        self._check_ready(res)
        if any(s.files for s in res.synced.values()):
            res.containers_changed = True
            res.wake.set()
        self.changed()

    def _check_ready(self, res: ResourceState) -> None:
        if res.is_ready() and not res.ready_once:
            res.ready_once = True

    # -- control (UI and CLI) -------------------------------------------------
    def trigger(self, name: str) -> None:
        """Tilt's trigger button: in auto mode a forced full update; in manual
        mode, apply the pending changes (live update where possible)."""
        res = self._resource(name)
        if not res.enabled:
            raise KeyError(f"resource {name} is disabled")
        res.trigger_requested = True
        res.wake.set()
        self.changed()  # now queued

    def set_trigger_mode(self, name: str, mode: int) -> None:
        res = self._resource(name)
        res.trigger_mode = mode
        if mode != TRIGGER_MODE_MANUAL and res.pending_files:
            res.wake.set()
        self.changed()

    async def set_enabled(self, name: str, enabled: bool) -> None:
        """Disabling stops the resource and deletes what it deployed; enabling
        starts it again from its first build."""
        res = self._resource(name)
        if res.enabled == enabled:
            return
        res.enabled = enabled
        if not enabled:
            await self._stop_resource(res)
            res.monitor = None
            res.update_status, res.waiting_reason = "none", ""
            res.first_update_done = res.ready_once = False
            if res.manifest.k8s and self.k8s:
                self.sink.log(name, "Disabled; deleting its objects")
                try:
                    await delete_objects(self.k8s, list(res.manifest.k8s.objects), self.sink.logger(name))
                except ClusterError as err:
                    self.sink.log(name, f"ERROR: {err}")
        else:
            res.update_status = "pending"
            res.wake = asyncio.Event()
            self._start_loop(res)
        self.changed()

    async def set_tiltfile_args(self, args: list[str]) -> None:
        self.tiltfile_args = list(args)
        self._schedule_reload(["Tiltfile args"])

    def reload_tiltfile(self) -> None:
        """The (Tiltfile) resource's trigger: load it again."""
        self._schedule_reload([self.result.tiltfile or "Tiltfile"])

    def why_not_triggerable(self, name: str) -> str:
        """Why a trigger now would do nothing but queue a duplicate update
        ('' when it may run): the dashboard locks its button for the same
        reasons, and the web API refuses such a trigger."""
        if name == TILTFILE:
            return "the Tiltfile is already being reloaded" if self.tiltfile_reloading else ""
        res = self._resource(name)
        if not res.enabled:
            return f"resource {name} is disabled"
        if res.update_status == "in_progress":
            return f"resource {name} is already updating; trigger it again when this update is done"
        if res.queued:
            return f"resource {name} is already queued for an update"
        if res.manifest.auto_init and not res.first_update_done:
            waiting = f" ({res.waiting_reason})" if res.waiting_reason else ""
            return f"resource {name} is waiting for its first update{waiting}"
        return ""

    def _resource(self, name: str) -> ResourceState:
        try:
            return self.resources[name]
        except KeyError:
            raise KeyError(f"no resource named {name!r}") from None

    # -- files ----------------------------------------------------------------
    def on_file_batch(self, paths: set[str]) -> None:
        assert self._watch is not None
        if "" in paths:  # the kernel dropped events: assume everything changed
            self.sink.log(TILTFILE, "WARNING: file events were lost (inotify queue overflow); rebuilding all")
            for res in self.resources.values():
                res.definition_changed = True
                res.wake.set()
            paths.discard("")
        config, other = self._watch.split(paths)
        if config:
            self._schedule_reload(sorted(config))
        for res in self.resources.values():
            owned = {p for p in other for t in res.manifest.image_targets
                     if self._watch.target_files[t.ref].owns(p)}
            if res.manifest.local is not None:
                owned |= {p for p in other if self._watch.local_owns(res.name, p)}
            if res.manifest.compose is not None and res.manifest.compose.bind_mounts:
                # The container sees bind-mounted files directly: no build, no sync.
                mounts = res.manifest.compose.bind_mounts
                owned = {p for p in owned if not any(p == m or p.startswith(m.rstrip("/") + "/") for m in mounts)}
            if owned:
                res.pending_files |= owned
                res.wake.set()

    def _restart_watcher(self) -> None:
        if self._watcher:
            self._watcher.close()
        self._watch = ProjectWatch(self.result)
        watcher = InotifyWatcher(self.on_file_batch, is_ignored_dir=self._watch.is_ignored_dir,
                                 quiet_ms=WATCH_QUIET_MS)
        try:
            watcher.start(self._watch.roots())
        except WatchError as err:
            self.sink.log(TILTFILE, f"WARNING: file watching is off: {err}")
            watcher.close()
            return
        self._watcher = watcher

    # -- Tiltfile reload ----------------------------------------------------
    def _schedule_reload(self, changed: list[str]) -> None:
        if self._reload is None:
            return
        names = ", ".join(os.path.basename(p) or p for p in changed)
        self.sink.log(TILTFILE, f"{names} changed; reloading the Tiltfile")
        if self._reload_task and not self._reload_task.done():
            self._reload_again = True
            return
        self._reload_task = asyncio.create_task(self._reload_now())

    @property
    def tiltfile_reloading(self) -> bool:
        return self._reload_task is not None and not self._reload_task.done()

    async def _reload_now(self) -> None:
        assert self._reload is not None
        while True:
            self._reload_again = False
            record = BuildRecord(started=time.time(), reason="reload",
                                 span_id=f"build:{len(self.tiltfile_builds) + 1}")
            self.tiltfile_builds = (self.tiltfile_builds + [record])[-10:]
            self.changed()
            try:
                result = await self._reload(self.tiltfile_args)
            finally:
                record.finished = time.time()
            record.error = result.error
            self.tiltfile_error = result.error
            self.changed()
            if result.error:
                self.sink.log(TILTFILE, "Resources keep running as they were; fix the Tiltfile to apply changes")
                self.result.watched_files = sorted(set(self.result.watched_files) | set(result.watched_files))
            else:
                await self.apply_result(result)
            if self._watcher is not None or self.options.watch:
                self._restart_watcher()
            if not self._reload_again:
                return

    async def apply_result(self, result: TiltfileResult) -> None:
        """Take a new Tiltfile result: update only resources whose definition changed."""
        old = self.resources
        self.result = result
        self.sink.set_secrets(result.secret_replacements)
        new_manifests = _enabled(result.manifests, result.enabled_resources)
        new_names = {m.name for m in new_manifests}
        for name in [n for n in old if n not in new_names]:
            res = old.pop(name)
            await self._stop_resource(res)
            if res.manifest.k8s and self.k8s:
                self.sink.log(name, "Removed from the Tiltfile; deleting its objects")
                with contextlib.suppress(ClusterError):
                    await delete_objects(self.k8s, list(res.manifest.k8s.objects), self.sink.logger(name))
        for manifest in new_manifests:
            res = old.get(manifest.name)
            if res is None:
                res = ResourceState(manifest)
                old[manifest.name] = res
                if self._connected and await self._connect_or_report():
                    self._start_loop(res)
            elif res.manifest != manifest:
                res.manifest = manifest
                res.definition_changed = True
                res.wake.set()
        self.resources = {m.name: old[m.name] for m in new_manifests}
        self.sink.set_resources(list(self.resources))
        if not self._connected and await self._connect_or_report():
            self._start_all()
        self.changed()

    # -- ci -----------------------------------------------------------------
    async def _wait_ci(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.result.ci_timeout_secs
        readiness_timeout = self.result.readiness_timeout_secs
        failing_since: dict[str, float] = {}
        while True:
            active = [r for r in self.resources.values() if r.manifest.auto_init]
            for res in active:
                if res.update_status == "error":
                    raise EngineFailure(f'resource "{res.name}": {res.update_error}')
                if res.update_status == "ok" and res.runtime_status == "error":
                    # ci_settings(k8s_grace_period=): a failing pod may still recover.
                    first_seen = failing_since.setdefault(res.name, loop.time())
                    if loop.time() - first_seen < self.result.k8s_grace_period_secs:
                        continue
                    # Let the crashed container's log stream deliver its last words first.
                    await asyncio.sleep(1.5)
                    raise EngineFailure(f'resource "{res.name}": {res.monitor.state.error if res.monitor else ""}')
                failing_since.pop(res.name, None)
            if all(r.is_ready() for r in active):
                return
            now, wall = loop.time(), time.time()
            if now > deadline:
                raise EngineFailure(f"timeout after {self.result.ci_timeout_secs:.0f}s waiting for: "
                                    + ", ".join(r.name for r in active if not r.is_ready()))
            # Tilt's readiness timeout: counted from each resource's last deploy.
            unready = [(r, r.builds[-1].finished) for r in active
                       if r.update_status == "ok" and not r.is_ready() and r.builds and r.builds[-1].finished]
            late = [r.name for r, finished in unready if wall - finished > readiness_timeout]
            if late:
                raise EngineFailure(f"readiness timeout ({readiness_timeout:.0f}s): never became ready: "
                                    + ", ".join(late))
            wake_at = deadline - now
            for since in failing_since.values():
                wake_at = min(wake_at, since + self.result.k8s_grace_period_secs - now)
            for _, finished in unready:
                wake_at = min(wake_at, finished + readiness_timeout - wall)
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=max(wake_at, 0) + 0.05)


def _never_deployed(res: ResourceState, deleted: set[str]) -> set[str]:
    """Deleted paths that no container ever had: editors' temporary files
    created and removed within one batch. Acting on them would cost an exec."""
    if not deleted:
        return set()
    known: set[str] = set()
    for built in res.images.values():
        known |= built.context_files
    for synced in res.synced.values():
        known |= synced.local_paths
    return {p for p in deleted if p not in known and not any(k.startswith(p + "/") for k in known)}


def _enabled(manifests: list[Manifest], selected: list[str] | None) -> list[Manifest]:
    """What the Tiltfile selected (command-line resource names are Tiltfile
    args; config.parse, set_enabled_resources), deps already included; None: all."""
    if selected is None:
        return list(manifests)
    wanted = set(selected)
    return [m for m in manifests if m.name in wanted]
