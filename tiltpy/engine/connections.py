"""The connections `up` needs for a set of resources — the Docker Engine (and
which builder it offers), Docker Compose, the Kubernetes cluster (and where
images go for it), and how live updates reach containers — made once and
shared. The Docker Engine and the cluster are reached concurrently, and
`prefetch` starts reaching them while the Tiltfile loads (what turns out not
to be needed is dropped; a failure counts only if it is needed). Which
builder the engine offers is found out in the background: reusing a cached
image doesn't wait for it."""
from __future__ import annotations

import asyncio
from typing import Callable

from tiltpy.compose.cli import ComposeCLI, ComposeUnavailable, detect as detect_compose
from tiltpy.engine.errors import EngineFailure, NotConnected
from tiltpy.engine.k8s_deploy import DeployTarget, registry_hosting, resolve_deploy_target
from tiltpy.image.docker_builder import DockerBuilder, DockerUnavailable, connect as connect_docker
from tiltpy.k8s.client import ClusterError, K8sClient
from tiltpy.k8s.cluster import shares_local_docker
from tiltpy.k8s.connection import ClusterConnectionError, load_connection, runs_plugins
from tiltpy.k8s.pod_watch import PodWatches
from tiltpy.liveupdate.updaters import ContainerUpdater, DockerUpdater, ExecUpdater, updater_kind
from tiltpy.model.manifest import Manifest, TiltfileResult

Log = Callable[[str], None]


class Connections:
    def __init__(self, context_override: str = "", update_mode: str = "auto",
                 report: Callable[[str, BaseException], None] = lambda what, err: None) -> None:
        self.context_override = context_override
        self.update_mode = update_mode
        self.report = report  # a bug in something the shared pod watches call
        self.builder: DockerBuilder | None = None
        self.compose: ComposeCLI | None = None
        self.k8s: K8sClient | None = None
        self.pod_watches: PodWatches | None = None  # one pod watch per namespace, for every resource
        # Connections started by prefetch(), taken by ensure() when needed.
        self._early_docker: asyncio.Task[DockerBuilder] | None = None
        self._early_k8s: asyncio.Task[_OpenedCluster | None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.deploy_target: DeployTarget | None = None
        self.updater: ContainerUpdater | None = None
        self._compose_updater: DockerUpdater | None = None  # kept: it holds the containers' open sessions

    # What a resource asks for; a missing connection is a clear error, not an assert.
    def need_builder(self) -> DockerBuilder:
        if self.builder is None:
            raise NotConnected("no Docker Engine connection")
        return self.builder

    def need_k8s(self) -> K8sClient:
        if self.k8s is None:
            raise NotConnected("no Kubernetes cluster connection")
        return self.k8s

    def need_pod_watches(self) -> PodWatches:
        if self.pod_watches is None:
            raise NotConnected("no Kubernetes cluster connection")
        return self.pod_watches

    def need_compose(self) -> ComposeCLI:
        if self.compose is None:
            raise NotConnected("no Docker Compose")
        return self.compose

    def updater_for(self, manifest: Manifest) -> ContainerUpdater:
        """How live updates reach this resource's containers: Compose's through
        the Docker Engine, Kubernetes' as chosen for the cluster."""
        if manifest.compose is not None and self.builder is not None:
            if self._compose_updater is None:
                self._compose_updater = DockerUpdater(self.builder.client)
            return self._compose_updater
        if self.updater is None:
            raise NotConnected("no way to reach containers for live updates")
        return self.updater

    async def ensure(self, manifests: list[Manifest], result: TiltfileResult, log: Log,
                     objects_need_k8s: bool = False) -> None:
        """Connect to whatever these resources (and API objects) need and is not
        connected yet. Raises EngineFailure saying what could not be reached."""
        needs_k8s = objects_need_k8s or any(m.k8s for m in manifests)
        needs_compose = any(m.compose for m in manifests)
        needs_docker = any(m.image_targets for m in manifests) or needs_compose
        steps = []
        if needs_docker and self.builder is None:
            steps.append(self._connect_docker(log))
        if needs_k8s and self.k8s is None:
            steps.append(self._connect_k8s(result, log))
        outcomes = await asyncio.gather(*steps, return_exceptions=True)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        for failure in failures:
            if not isinstance(failure, EngineFailure):
                raise failure
        if failures:
            raise EngineFailure("; ".join(str(f) for f in failures))
        if needs_compose and self.compose is None:
            try:
                self.compose = ComposeCLI(await asyncio.to_thread(detect_compose))
            except ComposeUnavailable as err:
                raise EngineFailure(f"Docker Compose: {err}") from None
            log(f"Docker Compose via `{' '.join(self.compose.command)}`")
        self._choose_updater(log)

    def prefetch(self) -> None:
        """Start reaching the Docker Engine and the cluster now (call before
        loading the Tiltfile). A context whose credentials come from a plugin
        is left alone until it is known to be needed."""
        loop = asyncio.get_running_loop()
        self._early_docker = loop.create_task(self._open_docker(), name="connect to Docker")
        self._early_k8s = loop.create_task(self._open_cluster(early=True), name="connect to the cluster")
        for task in (self._early_docker, self._early_k8s):
            task.add_done_callback(_retrieve)

    async def _open_docker(self) -> DockerBuilder:
        try:
            client = await asyncio.to_thread(connect_docker)
        except DockerUnavailable as err:
            raise EngineFailure(str(err)) from None
        return DockerBuilder.undetected(client)

    async def _connect_docker(self, log: Log) -> None:
        early, self._early_docker = self._early_docker, None
        builder = await (early if early is not None else self._open_docker())
        self.builder = builder
        log(f"Docker Engine at {builder.client.base_url}")
        task = asyncio.get_running_loop().create_task(self._detect_builder(builder, log))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @staticmethod
    async def _detect_builder(builder: DockerBuilder, log: Log) -> None:
        await asyncio.to_thread(builder.ensure_detected)
        log(f"Docker Engine: images build with {builder.describe()}")

    async def _open_cluster(self, early: bool = False) -> _OpenedCluster | None:
        if early and await asyncio.to_thread(runs_plugins, self.context_override):
            return None
        try:
            conn = await asyncio.to_thread(load_connection, self.context_override)
        except ClusterConnectionError as err:
            raise EngineFailure(f"Kubernetes: {err}") from None
        k8s = K8sClient(conn)
        try:
            version, hosting = await asyncio.gather(k8s.check(), registry_hosting(k8s))
        except ClusterError as err:
            await k8s.close()
            raise EngineFailure(f"Kubernetes cluster unreachable: {err}") from None
        return _OpenedCluster(k8s, version, hosting)

    async def _connect_k8s(self, result: TiltfileResult, log: Log) -> None:
        early, self._early_k8s = self._early_k8s, None
        opened = await early if early is not None else None
        if opened is None:
            opened = await self._open_cluster()
        assert opened is not None
        k8s = opened.client
        try:
            self.deploy_target = await resolve_deploy_target(k8s, result, log, hosting=opened.hosting)
        except ClusterError as err:
            await k8s.close()
            raise EngineFailure(f"Kubernetes cluster unreachable: {err}") from None
        self.k8s = k8s
        self.pod_watches = PodWatches(k8s, self.report)
        log(f"Kubernetes context {k8s.conn.context} (server {opened.version}); {self.deploy_target.describe()}")

    def _choose_updater(self, log: Log) -> None:
        if self.updater is not None or self.k8s is None or self.deploy_target is None:
            return
        kind = updater_kind(shares_local_docker(self.deploy_target.product), self.update_mode)
        if kind == "docker" and self.builder is not None:
            self.updater = DockerUpdater(self.builder.client)
        else:
            self.updater = ExecUpdater(self.k8s.conn)
        log(f"Kubernetes: live updates via {'the Docker Engine' if kind == 'docker' else 'exec'}")

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        early_k8s, self._early_k8s, self._early_docker = self._early_k8s, None, None
        if early_k8s is not None:  # reached but never needed
            early_k8s.cancel()
            if early_k8s.done() and not early_k8s.cancelled() and early_k8s.exception() is None:
                opened = early_k8s.result()
                if opened is not None:
                    await opened.client.close()
        for updater in (self.updater, self._compose_updater):
            if updater is not None:
                await updater.close()
        if self.pod_watches is not None:
            await self.pod_watches.close()
        if self.k8s is not None:
            await self.k8s.close()


class _OpenedCluster:
    def __init__(self, client: K8sClient, version: str, hosting: tuple[str, str, list[str]]) -> None:
        self.client = client
        self.version = version
        self.hosting = hosting


def _retrieve(task: asyncio.Task[object]) -> None:
    """A prefetch's failure matters only to whoever needs it (and is raised there)."""
    if not task.cancelled():
        task.exception()
