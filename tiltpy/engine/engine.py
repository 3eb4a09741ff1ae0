"""The engine: one asyncio loop owns the state of every resource and decides
what runs next. It sequences the work; connections.py connects, deployers.py
deploys, image_builds.py builds, live_update.py syncs, reload.py diffs a new
Tiltfile load, ci.py decides when `ci` is done, and the controllers run the
Tiltfile's API objects (buttons, cmds, file watches, ...).

Each resource has a loop task that sleeps until there is work: its first
build (held until its resource_deps are ready, Tilt's rule), changed files,
a trigger, a changed definition after a Tiltfile reload, or a new container
that must catch up with live-updated files. At most `max_parallel_updates`
updates run at once.

The error boundary: each piece of a resource's work runs inside `_guarded`.
Whatever it raises — a failed build, an unreachable cluster, or a bug —
marks that resource's update failed with a message a person can read (the
traceback goes to its log at debug level); the loop lives on, so the next
change or trigger retries, and every other resource keeps running. A
background task's error is logged, never dropped."""
from __future__ import annotations

import asyncio
import contextlib
import os
import time
import traceback
from typing import Any, AsyncIterator, Awaitable, Callable, Coroutine

from tiltpy.engine import live_update
from tiltpy.engine.ci import wait_until_ready
from tiltpy.engine.connections import Connections
from tiltpy.engine.controllers import ControllerManager
from tiltpy.engine.controllers.cmd import CmdController
from tiltpy.engine.controllers.filewatch import FileWatchController
from tiltpy.engine.controllers.kubernetes import KubernetesApplyController, KubernetesDiscoveryController
from tiltpy.engine.deployers import DeployContext, deployer_for, pod_namespaces
from tiltpy.engine.errors import EngineFailure, describe_failure, expected_failures
from tiltpy.engine.image_builds import ImageBuilds
from tiltpy.engine.logs import TILTFILE, LogSink
from tiltpy.engine.options import EngineOptions
from tiltpy.engine.reload import diff_resources, enabled_manifests
from tiltpy.engine.resource import BuildRecord, ResourceState
from tiltpy.engine.scheduling import first_build_order
from tiltpy.engine.store import ObjectStore, now_micro
from tiltpy.engine.update_plan import plan_update
from tiltpy.image.prune import prune_images
from tiltpy.liveupdate.updaters import UpdateFailure
from tiltpy.model.live_update import UpdatePlan
from tiltpy.model.manifest import TRIGGER_MODE_MANUAL, Manifest, TiltfileResult
from tiltpy.watch import Watcher, WatchError, create_watcher
from tiltpy.watch.project_watch import ProjectWatch

__all__ = ["Engine", "EngineFailure", "EngineOptions"]

# Quiet window before a batch of file changes is acted on. Tilt waits for
# 200 ms; editors finish a save (write, rename, chmod) within a few ms, and
# bench/live_loop.py shows 20 ms catches whole saves, so the rest of Tilt's
# window is latency for nothing.
WATCH_QUIET_MS = int(os.environ.get("TILTPY_WATCH_QUIET_MS", "20"))

Reloader = Callable[[list[str]], Awaitable[TiltfileResult]]


class Engine:
    def __init__(self, result: TiltfileResult, options: EngineOptions, sink: LogSink,
                 reload: Reloader | None = None, tiltfile_args: list[str] | None = None,
                 conns: Connections | None = None) -> None:
        self.result = result
        self.tiltfile_args = list(tiltfile_args or [])
        self.tiltfile_error = result.error
        self.started_at = time.time()
        self.options = options
        self.sink = sink
        self._reload = reload
        self.resources: dict[str, ResourceState] = {}
        self.conns = conns or Connections(options.context_override, options.update_mode)
        self.conns.report = lambda what, err: self._log_exception(TILTFILE, what, err)
        self.builds = ImageBuilds(self.conns)
        self.store = ObjectStore()
        self.controllers = ControllerManager(self.store, self.sink.log)
        self._tiltfile_objects: set[tuple[str, str]] = set()
        self._change_waiters: list[asyncio.Future[None]] = []
        self._semaphore = asyncio.Semaphore(result.max_parallel_updates)
        self._deploy = DeployContext(self.conns, sink, options.host, result.tiltfile, self._on_runtime_change,
                                     asyncio.Lock())
        self.listeners: list[Callable[[], None]] = []
        self._watch: ProjectWatch | None = None
        self._watcher: Watcher | None = None
        self._watcher_kind_logged = ""
        self._reload_task: asyncio.Task[None] | None = None
        self._reload_again = False
        self._connected = False
        self._connected_k8s = False
        self._background: set[asyncio.Task[Any]] = set()
        # The (Tiltfile) resource's updates: the load before the engine existed, then reloads.
        self.tiltfile_builds: list[BuildRecord] = [BuildRecord(
            started=self.started_at, finished=self.started_at, error=result.error, reason="initial load",
            span_id="build:1")]

    # -- state ------------------------------------------------------------
    def changed(self) -> None:
        waiters, self._change_waiters = self._change_waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)
        for listener in self.listeners:
            listener()

    def next_change(self) -> asyncio.Future[None]:
        """Completes at the next change after this call. Each waiter has its
        own future: no waiter can swallow a change meant for another."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._change_waiters.append(future)
        return future

    def _log(self, resource: str) -> Callable[[str], None]:
        return self.sink.logger(resource)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str, resource: str = TILTFILE) -> asyncio.Task[Any]:
        """A background task whose failure is reported in `resource`'s log, never dropped."""
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._background.discard(t)
            if not t.cancelled() and t.exception() is not None:
                self._log_exception(resource, f"{name} failed", t.exception())

        task.add_done_callback(done)
        return task

    def _log_exception(self, resource: str, what: str, err: BaseException | None) -> None:
        if err is None:
            return
        self.sink.log(resource, f"ERROR: {what}: {describe_failure(err)}")
        if not isinstance(err, expected_failures()):
            for line in traceback.format_exception(err)[-15:]:
                for part in line.rstrip("\n").splitlines():
                    self.sink.log(resource, f"DEBUG: {part}")

    # -- running ----------------------------------------------------------
    async def run(self) -> None:
        """ci: returns once every resource is ready, raises EngineFailure on
        failure. up: runs until cancelled."""
        try:
            for warning in self.result.warnings:
                self.sink.log(TILTFILE, f"WARNING: {warning}")
            self._install(self.result.manifests)
            self.sink.set_secrets(self.result.secret_replacements)
            self._sync_api_objects(self.result)
            connected = await self._connect_or_report()
            self._start_controllers()
            if connected:
                self._start_all()
            if self.options.watch:
                self._restart_watcher()
            if self.options.mode == "up" and self.result.docker_prune.enabled:
                self._spawn(self._prune_periodically(), "docker prune")
            if self.options.mode == "ci":
                await wait_until_ready(self)
            else:
                await asyncio.Event().wait()
        finally:
            await self.shutdown()

    def _start_controllers(self) -> None:
        def watcher(on_batch: Callable[[set[str]], None], is_ignored_dir: Callable[[str], bool]) -> Watcher:
            return create_watcher(on_batch, is_ignored_dir=is_ignored_dir, quiet_ms=WATCH_QUIET_MS,
                                  on_warning=self._watch_warning)

        self.controllers.add(CmdController(self.store, self.sink.log))
        self.controllers.add(FileWatchController(self.store, self.sink.log, watcher))
        self.controllers.add(KubernetesApplyController(self.store, self.sink.log, self.conns.need_k8s))
        self.controllers.add(KubernetesDiscoveryController(self.store, self.sink.log, self.conns.need_k8s,
                                                          host=_bind_host(self.options.host)))

    def _sync_api_objects(self, result: TiltfileResult) -> None:
        self._tiltfile_objects = self.store.sync(list(result.api_objects), self._tiltfile_objects)

    async def _connect_or_report(self) -> bool:
        """Connect to Docker / the cluster / Compose as needed. `ci` fails at
        once; `up` shows the problem on every resource and keeps running, so a
        fix (or a Tiltfile edit) can retry."""
        objects_need_k8s = bool(self.store.list("KubernetesApply") or self.store.list("KubernetesDiscovery"))
        try:
            await self.conns.ensure([r.manifest for r in self.resources.values()], self.result, self._log(TILTFILE),
                                    objects_need_k8s=objects_need_k8s)
        except EngineFailure as err:
            if self.options.mode == "ci":
                raise
            self.sink.log(TILTFILE, f"ERROR: {err}")
            self.sink.log(TILTFILE, "Resources wait; save the Tiltfile to retry the connection")
            for res in self.resources.values():
                res.update_status, res.update_error = "error", str(err)
            self.changed()
            return False
        if self.conns.pod_watches is not None and self.conns.k8s is not None:
            # The pods of the namespaces resources deploy to are listed while
            # they build, not after they apply.
            for res in self.resources.values():
                for namespace in pod_namespaces(res.manifest, self.conns.k8s.namespace):
                    self.conns.pod_watches.pin(namespace)
        if self._connected_k8s != (self.conns.k8s is not None):
            self._connected_k8s = self.conns.k8s is not None
            self.controllers.requeue({"KubernetesApply", "KubernetesDiscovery"})  # they waited for the cluster
        self._connected = True
        return True

    def _start_all(self) -> None:
        for manifest in first_build_order([r.manifest for r in self.resources.values()]):
            res = self.resources[manifest.name]
            if res.task is None or res.task.done():
                self._start_loop(res)

    def _install(self, manifests: list[Manifest]) -> None:
        for manifest in enabled_manifests(manifests, self.result.enabled_resources):
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
            if self.conns.builder is not None:
                try:
                    await asyncio.to_thread(prune_images, self.conns.builder.client, settings, self._log(TILTFILE))
                except Exception as err:  # pruning must never disturb the loop
                    self.sink.log(TILTFILE, f"WARNING: Docker prune failed: {err}")
            await asyncio.sleep(max(settings.interval_hrs, 1) * 3600)

    async def shutdown(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._watcher:
            self._watcher.close()
        if self._reload_task:
            self._reload_task.cancel()
        for res in list(self.resources.values()):
            await self._stop_resource(res)
        await self.controllers.close()
        await self.conns.close()

    async def _stop_resource(self, res: ResourceState) -> None:
        if res.task:
            res.task.cancel()
            with contextlib.suppress(BaseException):
                await res.task
        monitor, res.monitor = res.monitor, None
        if monitor is not None:
            with contextlib.suppress(Exception):
                await monitor.stop()
        forwards, res.forwards = res.forwards, None
        if forwards is not None:
            with contextlib.suppress(Exception):
                await forwards.stop()

    # -- the error boundary ---------------------------------------------------
    async def _guarded(self, res: ResourceState, record: BuildRecord | None, what: str,
                       work: Callable[[], Awaitable[None]]) -> bool:
        """Run one piece of `res`'s work; any failure becomes the resource's
        error (and the record's). Returns True when it succeeded."""
        try:
            await work()
            return True
        except asyncio.CancelledError:
            raise
        except Exception as err:
            message = describe_failure(err)
            res.update_status, res.update_error = "error", message
            if record is not None:
                record.error = message
            self._log_exception(res.name, what, err) if not isinstance(err, expected_failures()) \
                else self.sink.log(res.name, f"ERROR: {message}")
            return False
        finally:
            if record is not None and not record.finished:
                self._finish_record(res, record)
            self.changed()

    # -- the per-resource loop ----------------------------------------------
    async def _resource_loop(self, res: ResourceState) -> None:
        # Port-forward listeners open now: a client that connects during the
        # build waits for the pod instead of being refused.
        if res.manifest.auto_init:
            await self._guarded(res, None, "port-forwards",
                                lambda: deployer_for(res.manifest, self._deploy).prepare(res))
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
            try:
                await self._next_work(res)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # a bug in the scheduling itself: report it, keep the loop
                res.update_status, res.update_error = "error", describe_failure(err)
                self._log_exception(res.name, "scheduling", err)
                self.changed()

    async def _next_work(self, res: ResourceState) -> None:
        manual = res.effective_trigger_mode() == TRIGGER_MODE_MANUAL
        if res.containers_changed:
            res.containers_changed = False
            await self._catch_up(res)
        if not res.first_update_done:
            if not res.trigger_requested:
                return
            res.trigger_requested = False
            res.pending_files.clear()
            await self._wait_for_deps(res)
            async with self._update_slot(res):
                await self._full_update(res, reason="triggered")
            return
        if res.definition_changed:
            res.definition_changed = False
            res.pending_files.clear()
            async with self._update_slot(res):
                await self._full_update(res, reason="its Tiltfile definition changed")
            return
        if res.pending_files and manual and not res.trigger_requested:
            reason = f"{len(res.pending_files)} changed file(s); waiting for a manual trigger"
            if res.waiting_reason != reason:
                res.waiting_reason = reason
                self.changed()
            return
        if res.trigger_requested and not res.pending_files:
            res.trigger_requested = False
            async with self._update_slot(res):
                await self._full_update(res, reason="triggered", force=not manual)
            return
        res.trigger_requested = False
        if not res.pending_files:
            return
        files, res.pending_files = res.pending_files, set()
        res.waiting_reason = ""
        deleted = {p for p in files if not os.path.lexists(p)}
        transient = _never_deployed(res, deleted)
        files, deleted = files - transient, deleted - transient
        if not files:
            return
        if res.manifest.local is not None:
            async with self._update_slot(res):
                await self._full_update(res, reason=f"{len(files)} dependency file(s) changed")
            return
        assert self._watch is not None
        plan = plan_update(res.manifest, files, self._watch.target_files, deleted)
        if plan.is_rebuild:
            async with self._update_slot(res):
                await self._full_update(res, reason=plan.rebuild_reason)
        elif plan.live_updates:
            async with self._update_slot(res):
                await self._live_update(res, plan)

    @contextlib.asynccontextmanager
    async def _update_slot(self, res: ResourceState) -> AsyncIterator[None]:
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
            await self.next_change()

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

        async def work() -> None:
            for i, target in enumerate(manifest.image_targets, start=1):
                kind = "Custom Build" if target.custom_build is not None else "Building Dockerfile"
                log(f"STEP {i}/{steps} — {kind}: [{target.ref}]")
                res.images[target.ref] = await self.builds.build(res, target.ref, log, force)
            if manifest.k8s:
                log(f"STEP {steps}/{steps} — Deploying")
            elif manifest.compose:
                log(f"STEP {steps}/{steps} — Deploying with Docker Compose")
            await deployer_for(manifest, self._deploy).deploy(res, log)
            res.update_status = "ok"
            log(f"Update done in {time.time() - record.started:.2f}s")

        try:
            await self._guarded(res, record, "update", work)
        finally:
            res.first_update_done = True
            self._check_ready(res)
            self.changed()

    # -- live update --------------------------------------------------------
    async def _live_update(self, res: ResourceState, plan: UpdatePlan) -> None:
        log = self._log(res.name)
        record = BuildRecord(started=time.time(), kind="live-update", reason="files changed")
        files = sum(len(lu.copies) + len(lu.deletes) for lu in plan.live_updates)
        self._start_record(res, record, f"Live Update: {files} changed file(s)")
        res.update_status, res.update_error = "in_progress", ""
        self.changed()
        fall_back = ""

        async def work() -> None:
            nonlocal fall_back
            updater = self.conns.updater_for(res.manifest)
            try:
                for lu in plan.live_updates:
                    if lu.restart and hasattr(res.monitor, "expect_restart"):
                        res.monitor.expect_restart()
                    await live_update.apply_live_update(res, lu, updater, log)
            except UpdateFailure as err:  # the files didn't get there (a failing run() is a RunFailure)
                fall_back = str(err)
                return
            res.update_status = "ok"
            log(f"Live update done in {(time.time() - record.started) * 1000:.0f}ms")

        await self._guarded(res, record, "live update", work)
        if fall_back:
            log(f"Live update failed ({fall_back}); falling back to a full build")
            await self._full_update(res, reason="live update failed", force=False)

    async def _catch_up(self, res: ResourceState) -> None:
        if self.conns.updater is None and res.manifest.compose is None:
            return
        log = self._log(res.name)
        for container, plan in live_update.catch_up_plans(res):
            log(f"Container {container.container} of pod {container.pod} started after live updates; "
                f"syncing {len(plan.copies) + len(plan.deletes)} changed file(s) into it")

            async def work() -> None:
                await self.conns.updater_for(res.manifest).update(container, plan, log)
                res.synced[plan.target].containers.add(container.container_id)

            await self._guarded(res, None, f"catching up {container.pod}", work)

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
        """Disabling stops the resource and removes what it deployed; enabling
        starts it again from its first build."""
        res = self._resource(name)
        if res.enabled == enabled:
            return
        res.enabled = enabled
        if not enabled:
            await self._stop_resource(res)
            res.update_status, res.waiting_reason = "none", ""
            res.first_update_done = res.ready_once = False
            self.sink.log(name, "Disabled; removing what it deployed")
            await self._guarded(res, None, "disable", lambda: self._undeploy(res))
            res.update_status = "none" if res.update_status != "error" else res.update_status
        else:
            res.update_status = "pending"
            res.wake = asyncio.Event()
            self._start_loop(res)
        self.changed()

    async def _undeploy(self, res: ResourceState) -> None:
        await deployer_for(res.manifest, self._deploy).undeploy(res, self._log(res.name))

    async def click_button(self, name: str, inputs: list[dict[str, Any]]) -> None:
        """A click on a UIButton: recorded in its status, which is what Cmds
        started or restarted by the button react to."""
        button = self.store.get("UIButton", name)
        if button is None:
            raise KeyError(f"no UIButton named {name!r}")
        if (button.get("spec") or {}).get("disabled"):
            raise KeyError(f"UIButton {name!r} is disabled")
        self.store.update_status("UIButton", name, {**button["status"], "lastClickedAt": now_micro(),
                                                    "inputs": list(inputs)})
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
        if "" in paths:  # the watcher lost events: assume everything changed
            self.sink.log(TILTFILE, "WARNING: some file events were lost (the watcher fell behind or restarted); "
                                    "rebuilding all")
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

    def _needs_only_a_sync(self, path: str) -> bool:
        """Whether a change to `path` needs at most a live update of running
        resources (no Tiltfile reload, image build or local command): then the
        watcher hands it over as soon as the file is written, and the sync
        starts without the quiet window. Files changed while it runs are the
        next batch, applied after it, so the last write always wins."""
        watch = self._watch
        if watch is None:
            return False
        config, other = watch.split([path])
        if config:
            return False
        if not other:
            return True  # ignored: it changes nothing
        for res in self.resources.values():
            manifest = res.manifest
            if manifest.local is not None and watch.local_owns(res.name, path):
                return False
            if not any(watch.target_files[t.ref].owns(path) for t in manifest.image_targets):
                continue
            if not res.first_update_done:
                return False  # its first build is to come: that takes the file
            plan = plan_update(manifest, {path}, watch.target_files, set())
            if plan.is_rebuild:
                return False
        return True

    def _restart_watcher(self) -> None:
        """A new watcher for the current Tiltfile result (tiltpy.watch picks
        inotify or watchfiles, TILTPY_WATCHER overrides). The old one is closed
        only once the new one watches: a save in between is never missed."""
        old, self._watcher = self._watcher, None
        self._watch = ProjectWatch(self.result)
        try:
            watcher = create_watcher(self.on_file_batch, is_ignored_dir=self._watch.is_ignored_dir,
                                     quiet_ms=WATCH_QUIET_MS, on_warning=self._watch_warning,
                                     eager=self._needs_only_a_sync)
            watcher.start(self._watch.roots())
        except WatchError as err:
            self.sink.log(TILTFILE, f"WARNING: file watching is off: {err}")
            return
        finally:
            if old is not None:
                old.close()
        if watcher.kind != self._watcher_kind_logged:
            self._watcher_kind_logged = watcher.kind
            self.sink.log(TILTFILE, f"Watching files with {watcher.kind}")
        self._watcher = watcher

    def _watch_warning(self, message: str) -> None:
        self.sink.log(TILTFILE, f"WARNING: {message}")

    # -- Tiltfile reload ----------------------------------------------------
    def _schedule_reload(self, changed: list[str]) -> None:
        if self._reload is None:
            return
        names = ", ".join(os.path.basename(p) or p for p in changed)
        self.sink.log(TILTFILE, f"{names} changed; reloading the Tiltfile")
        if self._reload_task and not self._reload_task.done():
            self._reload_again = True
            return
        self._reload_task = self._spawn(self._reload_now(), "Tiltfile reload")

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
            loading_since = time.time_ns()
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
                # A save while the Tiltfile loaded or the watcher was replaced may
                # have reached no watcher: the files' times tell.
                if _modified_since(result.watched_files, loading_since):
                    self._reload_again = True
            if not self._reload_again:
                return

    async def apply_result(self, result: TiltfileResult) -> None:
        """Take a new Tiltfile result: update only resources whose definition changed."""
        self.result = result
        self.sink.set_secrets(result.secret_replacements)
        self._sync_api_objects(result)
        if self._connected and self.conns.k8s is None and self.store.list("KubernetesApply"):
            await self._connect_or_report()
        new_manifests = enabled_manifests(result.manifests, result.enabled_resources)
        diff = diff_resources({name: r.manifest for name, r in self.resources.items()}, new_manifests)
        resources = dict(self.resources)
        for name in diff.removed:
            res = resources.pop(name)
            await self._stop_resource(res)
            if res.manifest.k8s:
                self.sink.log(name, "Removed from the Tiltfile; deleting its objects")
                await self._guarded(res, None, "removal", lambda res=res: self._undeploy(res))
        for manifest in diff.added:
            res = resources[manifest.name] = ResourceState(manifest)
            if self._connected and await self._connect_or_report():
                self._start_loop(res)
        for manifest in diff.changed:
            res = resources[manifest.name]
            res.manifest = manifest
            res.definition_changed = True
            res.wake.set()
        self.resources = {name: resources[name] for name in diff.order}
        self.sink.set_resources(list(self.resources))
        if not self._connected and await self._connect_or_report():
            self._start_all()
        self.changed()


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


def _modified_since(paths: list[str], since_ns: int) -> bool:
    for path in paths:
        try:
            if os.stat(path).st_mtime_ns >= since_ns:
                return True
        except OSError:
            continue
    return False


def _bind_host(host: str) -> str:
    return "127.0.0.1" if host in ("", "localhost") else host

