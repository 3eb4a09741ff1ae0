"""A Kubernetes resource's port-forwards: listening from the moment the
resource starts (before its image is built, applied or its pod ready), so a
browser or test that connects early waits for the pod instead of being
refused, and pointed at the newest ready pod by the resource's pod monitor.

The resource owns them (not the pod monitor): they live across redeploys
and monitor changes, and close when the resource stops, is disabled or
removed, or when its port_forwards change."""
from __future__ import annotations

from typing import Callable

from tiltpy.k8s.connection import ClusterConnection
from tiltpy.k8s.objects import iter_containers
from tiltpy.k8s.portforward import PortForward
from tiltpy.model.manifest import Manifest

Log = Callable[[str], None]


def bind_host(host: str) -> str:
    return "127.0.0.1" if host in ("", "localhost") else host


def first_container_port(manifest: Manifest) -> int | None:
    """Tilt forwards to the first declared containerPort when none is given."""
    for obj in manifest.k8s.objects if manifest.k8s else ():
        for container in iter_containers(obj):
            for port in container.get("ports") or []:
                if isinstance(port, dict) and port.get("containerPort"):
                    return int(port["containerPort"])
    return None


def forwards_key(manifest: Manifest, namespace: str, host: str) -> tuple[object, ...]:
    """What the listeners depend on: when it changes, they are opened anew."""
    pfs = manifest.k8s.port_forwards if manifest.k8s else ()
    return (tuple(pfs), namespace, host, first_container_port(manifest) if pfs else None)


class ResourceForwards:
    def __init__(self, conn: ClusterConnection, manifest: Manifest, namespace: str, host: str, log: Log) -> None:
        self.key = forwards_key(manifest, namespace, host)
        self._conn = conn
        self._manifest = manifest
        self._namespace = namespace
        self._host = host
        self._log = log
        self.forwards: list[PortForward] = []
        self._names: dict[int, str] = {}
        self.pod: str | None = None

    async def start(self) -> None:
        assert self._manifest.k8s is not None
        for pf in self._manifest.k8s.port_forwards:
            host = bind_host(pf.host or self._host)
            container_port = pf.container_port or first_container_port(self._manifest) or pf.local_port
            forwarder = PortForward(self._conn, self._namespace, pf.local_port, container_port, host=host,
                                    log=lambda msg: self._log(f"port-forward: {msg}"))
            try:
                await forwarder.start()
            except OSError as err:
                self._log(f"ERROR: cannot forward port {pf.local_port}: {err}")
                continue
            self._names[id(forwarder)] = f"{host}:{pf.local_port} -> container port {container_port}"
            self.forwards.append(forwarder)
        if self.pod is not None:
            self.set_pod(self.pod, force=True)

    def set_pod(self, name: str | None, force: bool = False) -> None:
        """Point every forward at this pod (None: connections wait)."""
        if name == self.pod and not force:
            return
        self.pod = name
        for forwarder in self.forwards:
            forwarder.set_pod(name)
            if name:
                self._log(f"Forwarding {self._names[id(forwarder)]} of pod {name}")

    def drop_connections_except(self, live_pods: set[str]) -> None:
        for forwarder in self.forwards:
            forwarder.drop_connections_except(live_pods)

    async def stop(self) -> None:
        forwards, self.forwards = self.forwards, []
        for forwarder in forwards:
            await forwarder.stop()
