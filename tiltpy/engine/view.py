"""A JSON-ready snapshot of the engine for the web UI, the CLI's `get` and
`describe`, and `ci` reports. Field names follow Tilt's UIResource where one
exists (updateStatus, runtimeStatus, waiting reason, build history, queued,
hasPendingChanges, lastDeployTime); the top-level `uiButtons` are Tilt's
UIButton objects.

Warnings: each build record counts the warning lines its update logged
(`warningCount`, `lastWarningSeq`), and `runtimeWarningCount` /
`runtimeWarningSeq` count the runtime warnings since the latest full update,
so the page can show a warning status, and stop showing it once the user
cleared the logs that held them (as Tilt derives warnings from its log store)."""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from tiltpy import __version__
from tiltpy.engine.logs import TILTFILE, LogSink
from tiltpy.engine.resource import BuildRecord, ResourceState
from tiltpy.model.manifest import TRIGGER_MODE_MANUAL

if TYPE_CHECKING:
    from tiltpy.engine.engine import Engine


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


def _build_history(records: list[BuildRecord]) -> list[dict[str, Any]]:
    return [{
        "startTime": b.started, "finishTime": b.finished or None,
        "durationSecs": round(b.finished - b.started, 3) if b.finished else None,
        "error": b.error, "reason": b.reason, "kind": b.kind, "spanID": b.span_id,
        "warningCount": b.warning_count, "lastWarningSeq": b.last_warning_seq,
    } for b in reversed(records)]


def resource_view(res: ResourceState, host: str, sink: LogSink | None = None) -> dict[str, Any]:
    builds = _build_history(res.builds)
    monitor = res.monitor.state if res.monitor else None
    runtime_count, runtime_seq = sink.alerts(res.name, "runtime") if sink else (0, 0)
    runtime_count -= res.runtime_warnings_before
    deployed = [b for b in builds if b["finishTime"] and not b["error"]]
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
        "queued": res.enabled and res.queued,
        "hasPendingChanges": bool(res.pending_files),
        "lastDeployTime": deployed[0]["finishTime"] if deployed else None,
        "runtimeWarningCount": max(runtime_count, 0),
        "runtimeWarningSeq": runtime_seq if runtime_count > 0 else 0,
    }


def engine_view(engine: Engine) -> dict[str, Any]:
    """Every surface that shows errors (dashboard, get, describe) reads this:
    secrets are scrubbed from all of it, as from the logs."""
    return engine.sink.scrub_all(_engine_view(engine))


def _engine_view(engine: Engine) -> dict[str, Any]:
    records = engine.tiltfile_builds
    history = _build_history(records)
    reloading = engine.tiltfile_reloading
    tiltfile = {
        "name": TILTFILE, "type": "tiltfile", "labels": [], "enabled": True,
        "updateStatus": "in_progress" if reloading else "error" if engine.tiltfile_error else "ok",
        "runtimeStatus": "not_applicable",
        "waitingReason": "", "updateError": engine.tiltfile_error, "runtimeError": "", "pendingFiles": [],
        "buildHistory": history, "currentBuild": history[0] if history and not history[0]["finishTime"] else None,
        "endpoints": [], "pod": None, "images": {},
        "triggerMode": "auto", "autoInit": True, "resourceDeps": [], "queued": False, "hasPendingChanges": False,
        "lastDeployTime": next((b["finishTime"] for b in history if b["finishTime"] and not b["error"]), None),
        "runtimeWarningCount": 0, "runtimeWarningSeq": 0,
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
        "resources": [tiltfile] + [resource_view(r, engine.options.host, engine.sink)
                                   for r in engine.resources.values()],
        # Tilt's UIButton objects (v1alpha1.ui_button), as `tiltpy get uibutton -o json` shows them.
        "uiButtons": copy.deepcopy(engine.store.list("UIButton")),  # the web thread serializes it later
    }
