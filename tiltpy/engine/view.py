"""A JSON-ready snapshot of the engine for the web UI, the CLI's `get` and
`describe`, and `ci` reports. Field names follow Tilt's UIResource where one
exists (updateStatus, runtimeStatus, waiting reason, build history)."""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from tiltpy import __version__
from tiltpy.engine.logs import TILTFILE
from tiltpy.model.manifest import TRIGGER_MODE_MANUAL

if TYPE_CHECKING:
    from tiltpy.engine.engine import Engine
    from tiltpy.engine.resource import ResourceState


def _endpoints(res: ResourceState, host: str) -> list[dict[str, str]]:
    out = []
    shown_host = "localhost" if host in ("", "localhost", "127.0.0.1") else host
    for pf in res.manifest.k8s.port_forwards if res.manifest.k8s else ():
        path = pf.link_path if pf.link_path.startswith("/") or not pf.link_path else "/" + pf.link_path
        out.append({"url": f"http://{pf.host or shown_host}:{pf.local_port}{path}", "name": pf.name})
    out += [{"url": link.url, "name": link.name} for link in res.manifest.links]
    return out


def _resource_type(res: ResourceState) -> str:
    if res.manifest.k8s is not None:
        return "k8s"
    if res.manifest.compose is not None:
        return "docker-compose"
    if res.manifest.local is not None:
        return "local"
    return "unknown"


def resource_view(res: ResourceState, host: str) -> dict[str, Any]:
    builds = [{
        "startTime": b.started, "finishTime": b.finished or None,
        "durationSecs": round(b.finished - b.started, 3) if b.finished else None,
        "error": b.error, "reason": b.reason, "kind": b.kind,
    } for b in reversed(res.builds)]
    monitor = res.monitor.state if res.monitor else None
    return {
        "name": res.name,
        "type": _resource_type(res),
        "labels": list(res.manifest.labels),
        "enabled": res.enabled,
        "updateStatus": res.update_status if res.enabled else "none",
        "runtimeStatus": res.runtime_status,
        "waitingReason": res.waiting_reason,
        "updateError": res.update_error,
        "runtimeError": monitor.error if monitor else "",
        "pendingFiles": sorted(res.pending_files),
        "buildHistory": builds,
        "currentBuild": builds[0] if builds and not builds[0]["finishTime"] else None,
        "endpoints": _endpoints(res, host),
        "pod": {"name": monitor.pod, "phase": monitor.pod_phase, "restarts": monitor.restarts} if monitor else None,
        "images": {ref: built.cluster_ref for ref, built in res.images.items()},
        "triggerMode": "manual" if res.effective_trigger_mode() == TRIGGER_MODE_MANUAL else "auto",
        "autoInit": res.manifest.auto_init,
        "resourceDeps": list(res.manifest.resource_deps),
    }


def engine_view(engine: Engine) -> dict[str, Any]:
    """Every surface that shows errors (dashboard, get, describe) reads this:
    secrets are scrubbed from all of it, as from the logs."""
    return engine.sink.scrub_all(_engine_view(engine))


def _engine_view(engine: Engine) -> dict[str, Any]:
    tiltfile = {
        "name": TILTFILE, "type": "tiltfile", "labels": [], "enabled": True,
        "updateStatus": "error" if engine.tiltfile_error else "ok", "runtimeStatus": "not_applicable",
        "waitingReason": "", "updateError": engine.tiltfile_error, "runtimeError": "", "pendingFiles": [],
        "buildHistory": [], "currentBuild": None, "endpoints": [], "pod": None, "images": {},
        "triggerMode": "auto", "autoInit": True, "resourceDeps": [],
    }
    return {
        "session": {
            "version": __version__,
            "tiltfile": engine.result.tiltfile,
            "tiltfileError": engine.tiltfile_error,
            "tiltfileArgs": list(engine.tiltfile_args),
            "startTime": engine.started_at,
            "warnings": list(engine.result.warnings),
        },
        "resources": [tiltfile] + [resource_view(r, engine.options.host) for r in engine.resources.values()],
        # Tilt's UIButton objects (v1alpha1.ui_button), as `tiltpy get uibutton -o json` shows them.
        "uiButtons": copy.deepcopy(engine.store.list("UIButton")),  # the web thread serializes it later
    }
