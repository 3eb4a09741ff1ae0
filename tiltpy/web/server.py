"""The HTTP/websocket server of `tiltpy up`: Starlette, served by uvicorn on
a thread and event loop of its own, so a pod flooding logs (which keeps the
engine's loop busy) doesn't make the dashboard slow. The engine's view is
computed on the engine's loop and published here; actions run on the
engine's loop.

Routes:
  GET  /, /overview, /r/...    the dashboard, a single-page app (static files of this
                               package; its router reads the path, e.g. /r/NAME/overview)
  GET  /api/view               every resource and UI button (engine/view.py's JSON)
  GET  /api/logs               ?resource=A&resource=B&since=SEQ&limit=N&tail=N&wait=SECS
  GET  /api/token              the per-run token (loopback clients, localhost Host only)
  GET  /api/objects            ?kind=cmd[&name=N]: Tilt API objects (UIButton, Cmd, FileWatch, ...)
  POST /api/uibutton           {"name": B, "inputs": [...]}: a click on a UIButton
  POST /api/trigger            {"name": R}
  POST /api/enable             {"names": [R, ...]}
  POST /api/disable            {"names": [R, ...]}
  POST /api/trigger_mode       {"name": R, "mode": "auto" | "manual"}
  POST /api/tiltfile_args      {"args": [...]}
  POST /api/uibutton           {"name": B, "inputs": [UIInputStatus, ...]}: a click on a UI button
  WS   /ws                     a snapshot, then changed resources and new log lines

Safety: every request must name a localhost Host (or the host `up` was bound
to), which defeats DNS rebinding; POSTs need the `X-Tiltpy-Token` header (a
custom header no other site can send without a CORS preflight we never
grant) and, when the browser sends an Origin, our own origin; the websocket
checks the Origin too. The token is handed out only to loopback clients."""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from tiltpy import __version__
from tiltpy.engine.logs import TILTFILE, LogLine, LogSink
from tiltpy.web.address import WILDCARD_HOSTS, bind_address, dashboard_url, listen
from tiltpy.model.manifest import TRIGGER_MODE_AUTO, TRIGGER_MODE_MANUAL

if TYPE_CHECKING:
    from tiltpy.engine.engine import Engine

STATIC = Path(__file__).parent / "static"
TOKEN_HEADER = "X-Tiltpy-Token"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}

# The websocket sends at most one message per interval, with at most this
# many log lines (the newest; the rest are counted as skipped), so a pod
# printing 10 MB/s cannot flood the browser.
PUSH_INTERVAL = 0.1
PUSH_MAX_LINES = 300
SNAPSHOT_LINES = 2000
# View changes that don't go through Engine.changed() (e.g. pending files)
# are picked up by a periodic refresh.
VIEW_REFRESH = 2.0
MAX_LOG_READ = 20000
LOG_WAKE_INTERVAL = 0.05


def _split_host(value: str) -> str:
    """'localhost:10350' -> 'localhost'; '[::1]:10350' -> '::1'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value[1:]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def _netloc(scheme: str, host: str, port: int | None) -> tuple[str, int]:
    return host.lower().strip("[]"), port or (443 if scheme in ("https", "wss") else 80)


def origin_matches_host(origin: str, host_header: str, allowed_hosts: set[str] | None) -> bool:
    """Origin `http://h:p` equals the Host header `h:p` (and h is one of ours when
    `up` is bound to a specific address)."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    try:
        origin_port = parts.port
        host_parts = urlsplit(f"{parts.scheme}://{host_header}")
        host_port = host_parts.port
    except ValueError:
        return False
    if not host_parts.hostname:
        return False
    ours = _netloc(parts.scheme, parts.hostname, origin_port) == \
        _netloc(parts.scheme, host_parts.hostname, host_port)
    return ours and (allowed_hosts is None or parts.hostname.lower() in allowed_hosts)


class _OriginCheck:
    """Every API call and the websocket: a page's request only from our own origin."""

    def __init__(self, app: ASGIApp, allowed: set[str] | None) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and (path.startswith("/api/") or path == "/ws"):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []
                       if k in (b"origin", b"host")}
            origin = headers.get("origin")
            if origin is not None and not origin_matches_host(origin, headers.get("host", ""), self.allowed):
                if scope["type"] == "http":
                    await _error(403, "requests from other sites are refused")(scope, receive, send)
                else:
                    await send({"type": "websocket.close", "code": 1008})
                return
        await self.app(scope, receive, send)


class Hub:
    """Wakes websocket clients and long polls when the engine's state or the
    logs change. Log lines arrive on any thread; at most one wake-up per
    loop iteration is scheduled however fast they come."""

    def __init__(self, sink: LogSink) -> None:
        self.sink = sink
        self.loop: asyncio.AbstractEventLoop | None = None  # the web server's loop
        self._event = asyncio.Event()
        self._log_wake_pending = False
        self._woken_seq = 0
        self._view_fn: Callable[[], dict[str, Any]] | None = None
        self._published: dict[str, Any] | None = None
        self.published_at = 0.0  # time.monotonic() of the latest view
        self.viewers = 0  # open websockets: the periodic refresh is for them

    def bind(self, loop: asyncio.AbstractEventLoop, view_fn: Callable[[], dict[str, Any]]) -> None:
        self.loop = loop
        self._view_fn = view_fn
        self.sink.add_listener(self.on_log)

    def close(self) -> None:
        self.sink.remove_listener(self.on_log)

    def publish(self, view: dict[str, Any]) -> None:
        """A new view of the engine, computed on the engine's loop (any thread)."""
        self.published_at = time.monotonic()
        loop = self.loop
        if loop is None:
            self._published = view
            return
        try:
            loop.call_soon_threadsafe(self._set_view, view)
        except RuntimeError:  # the web loop is closed: shutting down
            pass

    def _set_view(self, view: dict[str, Any]) -> None:
        self._published = view
        self._notify()

    def on_log(self, line: LogLine) -> None:
        """Log listener (any thread): costs a flag check per line; readers
        are woken at most every LOG_WAKE_INTERVAL however fast lines come."""
        if self._log_wake_pending or self.loop is None:
            return
        self._log_wake_pending = True
        try:
            self.loop.call_soon_threadsafe(self._log_woken)
        except RuntimeError:  # the loop is closed: shutting down
            pass

    def _log_woken(self) -> None:
        self._woken_seq = self.sink.last_seq
        self._notify()
        assert self.loop is not None
        self.loop.call_later(LOG_WAKE_INTERVAL, self._log_rearm)

    def _log_rearm(self) -> None:
        if self.sink.last_seq != self._woken_seq:
            self._log_woken()  # more lines came meanwhile: wake again, stay disarmed
            return
        self._log_wake_pending = False
        if self.sink.last_seq != self._woken_seq:  # a line slipped in while re-arming
            self._log_wake_pending = True
            self._log_woken()

    def _notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    def event(self) -> asyncio.Event:
        """The event the next change sets: take it *before* reading state."""
        return self._event

    def view(self) -> dict[str, Any]:
        """The latest published view (or, before the engine exists, the loading view)."""
        if self._published is not None:
            return self._published
        assert self._view_fn is not None
        return self._view_fn()


class _StaticFiles(StaticFiles):
    """The page's files, revalidated on every load (ETag: usually a 304), so a
    newer tiltpy's modules are never mixed with a cached older one's."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


class _HostCheck:
    """Rejects requests whose Host header isn't ours (DNS rebinding)."""

    def __init__(self, app: ASGIApp, allowed: set[str] | None) -> None:
        self.app = app
        self.allowed = allowed  # None: any (bound to a wildcard address)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.allowed is not None:
            host = ""
            for key, value in scope.get("headers") or []:
                if key == b"host":
                    host = _split_host(value.decode("latin-1"))
                    break
            if host not in self.allowed:
                if scope["type"] == "http":
                    await PlainTextResponse("forbidden host", status_code=403)(scope, receive, send)
                else:
                    await send({"type": "websocket.close", "code": 1008})
                return
        await self.app(scope, receive, send)


def _mutating(handler: Callable[..., Any]) -> Callable[[Any, Request], Any]:
    """A state-changing API call: token and origin checked, engine attached,
    JSON body parsed, before the handler runs."""
    import functools

    @functools.wraps(handler)
    async def checked(self: WebApp, request: Request) -> Response:
        denied = self._check_write(request)
        if denied:
            return denied
        assert self.engine is not None
        return await handler(self, request, self.engine, await self._body(request))

    return checked


class WebApp:
    """The routes, bound to a sink, a token and (once loaded) an engine."""

    def __init__(self, sink: LogSink, token: str, host: str = "localhost", port: int = 10350) -> None:
        self.sink = sink
        self.token = token
        self.host = host
        self.port = port
        self.engine: Engine | None = None
        self.hub = Hub(sink)
        self.engine_loop: asyncio.AbstractEventLoop | None = None
        self._refresh_task: asyncio.Task[None] | None = None
        self._publish_scheduled = False
        configured = _split_host(host) if host else "localhost"
        self.allowed_hosts: set[str] | None = None if host in WILDCARD_HOSTS else LOCAL_HOSTS | {configured}
        self.app = Starlette(
            routes=[
                Route("/", self.index),
                Route("/overview", self.index),
                Route("/r/{rest:path}", self.index),
                Route("/api/view", self.api_view),
                Route("/api/logs", self.api_logs),
                Route("/api/token", self.api_token),
                Route("/api/objects", self.api_objects),
                Route("/api/uibutton", self.api_uibutton, methods=["POST"]),
                Route("/api/trigger", self.api_trigger, methods=["POST"]),
                Route("/api/enable", self.api_enable, methods=["POST"]),
                Route("/api/disable", self.api_disable, methods=["POST"]),
                Route("/api/trigger_mode", self.api_trigger_mode, methods=["POST"]),
                Route("/api/tiltfile_args", self.api_tiltfile_args, methods=["POST"]),
                WebSocketRoute("/ws", self.websocket),
                Mount("/static", app=_StaticFiles(directory=str(STATIC)), name="static"),
            ],
            middleware=[Middleware(_HostCheck, allowed=self.allowed_hosts),
                        Middleware(_OriginCheck, allowed=self.allowed_hosts)],
        )

    # -- wiring -------------------------------------------------------------
    # The web server may run on a loop (thread) of its own: a pod flooding
    # logs keeps the engine's loop busy, and the dashboard must stay quick.
    # So the view is computed on the engine's loop whenever the engine
    # changes (coalesced, plus a periodic refresh) and published to the web
    # loop; actions are run on the engine's loop; log reads take the sink's
    # lock. Without a separate engine loop (tests) everything runs in place.
    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.hub.loop is not None:
            return
        self.hub.bind(loop, self.compute_view)

    def _bound(self) -> None:
        """Bind to the serving loop on first use (when not started by WebServer)."""
        if self.hub.loop is None:
            self.bind(asyncio.get_running_loop())

    def attach(self, engine: Engine, engine_loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Called on the engine's loop (or, in tests, anywhere)."""
        self.engine = engine
        self.engine_loop = engine_loop
        engine.listeners.append(self._engine_changed)
        self.publish_view()
        if engine_loop is not None:
            self._refresh_task = engine_loop.create_task(self._refresh())

    def close(self) -> None:
        if self._refresh_task:
            self._refresh_task.cancel()
        if self.engine is not None and self._engine_changed in self.engine.listeners:
            self.engine.listeners.remove(self._engine_changed)
        self.hub.close()

    def _engine_changed(self) -> None:
        """Engine listener: publish once per loop iteration however many changes."""
        if self._publish_scheduled:
            return
        self._publish_scheduled = True
        try:
            asyncio.get_running_loop().call_soon(self.publish_view)
        except RuntimeError:  # no running loop (tests): publish now
            self.publish_view()

    def publish_view(self) -> None:
        self._publish_scheduled = False
        self.hub.publish(self.compute_view())

    async def _refresh(self) -> None:
        # View fields that change without Engine.changed() (pending files…).
        # Only while a page is open: an idle `up` with nobody watching computes
        # nothing (a GET of /api/view asks for a fresh view itself).
        while True:
            await asyncio.sleep(VIEW_REFRESH)
            if self.hub.viewers:
                self.publish_view()

    def compute_view(self) -> dict[str, Any]:
        if self.engine is not None:
            from tiltpy.engine.view import engine_view

            view = engine_view(self.engine)
        else:  # still loading the Tiltfile
            view = {
                "session": {"version": __version__, "tiltfile": "", "tiltfileError": "", "tiltfileArgs": [],
                            "startTime": 0, "warnings": [], "loading": True},
                "resources": [{
                    "name": TILTFILE, "type": "tiltfile", "labels": [], "enabled": True,
                    "updateStatus": "in_progress", "runtimeStatus": "not_applicable", "waitingReason": "",
                    "updateError": "", "runtimeError": "", "pendingFiles": [], "buildHistory": [],
                    "currentBuild": None, "endpoints": [], "pod": None, "images": {}, "triggerMode": "auto",
                    "autoInit": True, "resourceDeps": [], "queued": False, "hasPendingChanges": False,
                    "lastDeployTime": None, "runtimeWarningCount": 0, "runtimeWarningSeq": 0}],
                "uiButtons": [],
            }
        view["session"]["dashboardUrl"] = dashboard_url(self.host, self.port)
        return view

    async def _in_engine(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` (sync or async) on the engine's loop and return its result."""
        loop = self.engine_loop
        if loop is None or loop is asyncio.get_running_loop():
            result = fn()
            return await result if asyncio.iscoroutine(result) else result

        async def run() -> Any:
            result = fn()
            return await result if asyncio.iscoroutine(result) else result

        result = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), loop))
        self._engine_changed_soon()
        return result

    async def _fresh_view(self) -> dict[str, Any]:
        """The view computed now, on the engine's loop (which owns its state)."""
        loop = self.engine_loop
        if loop is None or loop is asyncio.get_running_loop():
            return self.compute_view()

        async def compute() -> dict[str, Any]:
            return self.compute_view()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(compute(), loop))

    def _engine_changed_soon(self) -> None:
        """After an action, make sure the next view reflects it."""
        if self.engine_loop is not None:
            with contextlib.suppress(RuntimeError):
                self.engine_loop.call_soon_threadsafe(self._engine_changed)

    # -- checks ---------------------------------------------------------------
    def _origin_ok(self, headers: Any) -> bool:
        """A browser names the page that made a request in Origin: only pages
        served by this very server (Origin equal to the request's own Host)
        may use the API; requests without an Origin are not from a page."""
        origin = headers.get("origin")
        return origin is None or origin_matches_host(origin, headers.get("host", ""), self.allowed_hosts)

    def _check_write(self, request: Request) -> Response | None:
        if not self._origin_ok(request.headers):
            return _error(403, "cross-origin requests may not change anything")
        given = request.headers.get(TOKEN_HEADER.lower(), "")
        if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
            return _error(403, f"missing or wrong {TOKEN_HEADER} header (GET /api/token from localhost)")
        if self.engine is None:
            return _error(503, "the Tiltfile is still loading")
        return None

    # -- pages and reads ----------------------------------------------------
    async def index(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={
            "Cache-Control": "no-cache",
            # Everything comes from this server: no CDN, no inline script.
            "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
        })

    async def api_view(self, request: Request) -> Response:
        self._bound()
        if self.engine is not None and time.monotonic() - self.hub.published_at > VIEW_REFRESH:
            # Nothing refreshed it lately (no page open): what the periodic refresh would show.
            view = await self._fresh_view()
            self.hub.publish(view)
        else:
            view = self.hub.view()
        return _json({**view, "session": {**view["session"], "logSeq": self.sink.last_seq}})

    async def api_token(self, request: Request) -> Response:
        client = request.client.host if request.client else ""
        host = _split_host(request.headers.get("host", ""))
        if client not in ("127.0.0.1", "::1", "::ffff:127.0.0.1") or host not in LOCAL_HOSTS \
                or not self._origin_ok(request.headers):
            return _error(403, "the token is only given to localhost")
        return JSONResponse({"token": self.token, "header": TOKEN_HEADER},
                            headers={"Cache-Control": "no-store"})

    async def api_objects(self, request: Request) -> Response:
        """Tilt API objects of one kind (`tiltpy get KIND [NAME]`): ?kind=cmd&name=x."""
        from tiltpy.engine.store import KINDS, kind_named

        word = request.query_params.get("kind", "")
        kind = kind_named(word)
        if kind is None:
            return _error(400, f"unknown kind {word!r} (known: {', '.join(sorted(KINDS))})")
        name = request.query_params.get("name", "")
        engine = self.engine
        if engine is None:
            return _error(503, "the Tiltfile is still loading")

        def read() -> Any:
            import copy

            if name:
                return copy.deepcopy(engine.store.get(kind, name))
            return copy.deepcopy(engine.store.list(kind))

        found = self.sink.scrub_all(await self._in_engine(read))
        if name and found is None:
            return _error(404, f"no {kind} named {name!r}")
        if name:
            return _json(found)
        return _json({"apiVersion": "v1", "kind": "List", "items": found, "metadata": {"resourceVersion": ""}})

    async def api_logs(self, request: Request) -> Response:
        q = request.query_params
        try:
            since = int(q.get("since", "0") or 0)
            limit = min(int(q.get("limit", "0") or 0) or MAX_LOG_READ, MAX_LOG_READ)
            tail = min(int(q.get("tail", "0") or 0), MAX_LOG_READ)
            wait = min(float(q.get("wait", "0") or 0), 60.0)
        except ValueError:
            return _error(400, "since, limit, tail must be integers and wait a number")
        self._bound()
        names = [n for value in q.getlist("resource") for n in value.split(",") if n] or None
        sources = {s for value in q.getlist("source") for s in value.split(",") if s and s != "all"}
        deadline = time.monotonic() + wait
        while True:
            event = self.hub.event()
            raw = self.sink.read(names, since=since, limit=0 if tail else limit, tail=tail)
            lines = [line for line in raw if line.source in sources] if sources else raw
            if raw:
                since = raw[-1].seq  # past what was read, shown or filtered out
            if lines or time.monotonic() >= deadline:
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=max(deadline - time.monotonic(), 0))
        more = not tail and bool(self.sink.read(names, since=since, limit=1))
        return _json({"lines": [line.to_json() for line in lines], "next": max(since, 0), "more": more,
                      "lastSeq": self.sink.last_seq})

    # -- actions ----------------------------------------------------------------
    async def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {}
        return body if isinstance(body, dict) else {}

    @_mutating
    async def api_trigger(self, request: Request, engine: Engine, body: dict[str, Any]) -> Response:
        name = str(body.get("name") or body.get("resource") or "")

        def trigger() -> Response:
            if name != TILTFILE and name not in engine.resources:
                return _error(404, f"no resource named {name!r}")
            # A trigger while the resource updates (or is queued) would only
            # queue a duplicate update: refused, as the dashboard locks its button.
            refusal = engine.why_not_triggerable(name)
            if refusal:
                return _error(409, refusal)
            if name == TILTFILE:
                engine.reload_tiltfile()
            else:
                engine.trigger(name)
            return _json({"ok": True, "triggered": name})

        return await self._in_engine(trigger)

    async def _set_enabled(self, engine: Engine, body: dict[str, Any], enabled: bool) -> Response:
        names = body.get("names")
        if names is None and body.get("name"):
            names = [body["name"]]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            return _error(400, 'expected {"names": [resource, ...]}')

        async def apply() -> Response:
            unknown = [n for n in names if n not in engine.resources]
            if unknown:
                return _error(404, f"no resource named {', '.join(unknown)}")
            for name in names:
                await engine.set_enabled(name, enabled)
            return _json({"ok": True, "enabled" if enabled else "disabled": names})

        return await self._in_engine(apply)

    @_mutating
    async def api_enable(self, request: Request, engine: Engine, body: dict[str, Any]) -> Response:
        return await self._set_enabled(engine, body, True)

    @_mutating
    async def api_disable(self, request: Request, engine: Engine, body: dict[str, Any]) -> Response:
        return await self._set_enabled(engine, body, False)

    @_mutating
    async def api_trigger_mode(self, request: Request, engine: Engine, body: dict[str, Any]) -> Response:
        name, mode = str(body.get("name") or ""), body.get("mode")
        modes = {"auto": TRIGGER_MODE_AUTO, "manual": TRIGGER_MODE_MANUAL,
                 TRIGGER_MODE_AUTO: TRIGGER_MODE_AUTO, TRIGGER_MODE_MANUAL: TRIGGER_MODE_MANUAL}
        if mode not in modes:
            return _error(400, 'mode must be "auto" or "manual"')

        def set_mode() -> Response:
            if name not in engine.resources:
                return _error(404, f"no resource named {name!r}")
            engine.set_trigger_mode(name, modes[mode])
            return _json({"ok": True, "name": name,
                          "mode": "manual" if modes[mode] == TRIGGER_MODE_MANUAL else "auto"})

        return await self._in_engine(set_mode)

    @_mutating
    async def api_tiltfile_args(self, request: Request, engine: Engine, body: dict[str, Any]) -> Response:
        args = body.get("args")
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            return _error(400, 'expected {"args": ["...", ...]}')

        async def apply() -> Response:
            await engine.set_tiltfile_args(args)
            return _json({"ok": True, "args": args})

        return await self._in_engine(apply)

    @_mutating
    async def api_uibutton(self, request: Request, engine: Engine, body: dict[str, Any]) -> Response:
        name, inputs = body.get("name"), body.get("inputs", [])
        if not isinstance(name, str) or not name:
            return _error(400, 'expected {"name": button, "inputs": [...]}')
        if not isinstance(inputs, list) or not all(isinstance(i, dict) and isinstance(i.get("name"), str)
                                                   for i in inputs):
            return _error(400, 'inputs must be a list of {"name": ..., "text"|"bool"|"hidden"|"choice": '
                               '{"value": ...}}')
        async def apply() -> Response:
            try:
                await engine.click_button(name, inputs)
            except KeyError as err:
                return _error(404, str(err.args[0]) if err.args else f"no UI button named {name!r}")
            except ValueError as err:
                return _error(400, str(err))
            return _json({"ok": True, "clicked": name})

        return await self._in_engine(apply)

    # -- websocket --------------------------------------------------------------
    async def websocket(self, ws: WebSocket) -> None:
        if not self._origin_ok(ws.headers):
            await ws.close(code=1008)
            return
        self._bound()
        await ws.accept()
        sender = asyncio.create_task(self._push(ws))
        self.hub.viewers += 1
        try:
            while True:  # notice the disconnect; clients send nothing we need
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.hub.viewers -= 1
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender

    async def _push(self, ws: WebSocket) -> None:
        sent: dict[str, str] = {}  # resource name -> JSON last sent
        session_sent = ""
        buttons_sent = ""
        order: list[str] = []
        first = True
        since = 0
        try:
            while True:
                event = self.hub.event()
                view = self.hub.view()
                message: dict[str, Any] = {"type": "snapshot" if first else "update"}
                session = json.dumps(view["session"], sort_keys=True, default=str)
                names = [r["name"] for r in view["resources"]]
                changed = []
                for res in view["resources"]:
                    encoded = json.dumps(res, sort_keys=True, default=str)
                    if sent.get(res["name"]) != encoded:
                        sent[res["name"]] = encoded
                        changed.append(res)
                removed = [n for n in sent if n not in names]
                for name in removed:
                    del sent[name]
                if first or session != session_sent:
                    message["session"] = view["session"]
                    session_sent = session
                buttons = json.dumps(view.get("uiButtons", []), sort_keys=True, default=str)
                if first or buttons != buttons_sent:
                    message["uiButtons"] = view.get("uiButtons", [])
                    buttons_sent = buttons
                if changed or first:
                    message["resources"] = changed
                if removed:
                    message["removed"] = removed
                if names != order or first:
                    message["order"] = names
                    order = names
                if first:
                    lines = self.sink.read(None, since=0, tail=SNAPSHOT_LINES)
                    message["logs"] = [line.to_json() for line in lines]
                    since = lines[-1].seq if lines else self.sink.last_seq
                else:
                    lines = self.sink.read(None, since=since, tail=PUSH_MAX_LINES)
                    if lines:
                        skipped = lines[-1].seq - since - len(lines)
                        since = lines[-1].seq
                        message["logs"] = [line.to_json() for line in lines]
                        if skipped > 0:
                            message["skipped"] = skipped
                if first or len(message) > 1:
                    await ws.send_text(json.dumps(message, default=str))
                first = False
                await event.wait()
                await asyncio.sleep(PUSH_INTERVAL)  # coalesce whatever else happens meanwhile
        except (WebSocketDisconnect, RuntimeError, OSError):
            return


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, default=str), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


class _Server:
    """uvicorn's server without its signal handling (Ctrl-C belongs to `up`)
    and without its tick: uvicorn wakes ten times a second to see whether it
    should exit and to refresh its Date header; an idle `up` should not wake
    at all, so it waits for `exit()` and sends no Date header."""

    def __init__(self, app: ASGIApp) -> None:
        import uvicorn

        class Quiet(uvicorn.Server):
            exit_requested: asyncio.Event | None = None

            @contextlib.contextmanager
            def capture_signals(self):  # type: ignore[override]
                yield

            async def main_loop(self) -> None:
                self.exit_requested = asyncio.Event()
                if not await self.on_tick(0):  # sets the default headers once
                    await self.exit_requested.wait()

        config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, date_header=False,
                                ws="websockets-sansio", ws_ping_interval=20, timeout_graceful_shutdown=1)
        self.server = Quiet(config)

    def exit(self) -> None:
        """Call on the server's loop."""
        self.server.should_exit = True
        self.server.force_exit = True
        if self.server.exit_requested is not None:
            self.server.exit_requested.set()


class WebServer:
    """Serves the dashboard and API from a thread and event loop of its own
    (see WebApp's wiring). If the port can't be bound, `start` warns and
    `up` carries on without it."""

    def __init__(self, sink: LogSink, host: str = "localhost", port: int = 10350, token: str | None = None,
                 sock: socket.socket | None = None) -> None:
        self.sink = sink
        self._sock = sock  # bound already by `up` (see web/address.py)
        self.host = host
        self.port = port
        self.token = token or secrets.token_urlsafe(24)
        self.web = WebApp(sink, self.token, host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.url = ""

    @property
    def hub(self) -> Hub:
        return self.web.hub

    async def start(self) -> bool:
        if self.port <= 0:
            return False
        try:
            sock, self._sock = self._sock or listen(self.host, self.port), None
        except OSError as err:
            self.sink.log(TILTFILE, f"WARNING: the dashboard is off: cannot listen on "
                                    f"{bind_address(self.host)}:{self.port} ({err.strerror or err}); "
                                    f"use --port or TILTPY_PORT for another port")
            return False
        self.web.port = self.port
        self._server = _Server(self.web.app)
        started = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self.web.bind(loop)
                loop.call_soon(started.set)
                assert self._server is not None
                loop.run_until_complete(self._server.server.serve(sockets=[sock]))
            finally:
                with contextlib.suppress(Exception):
                    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                    for task in pending:
                        task.cancel()
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.close()
                sock.close()

        self._thread = threading.Thread(target=serve, name="tiltpy-web", daemon=True)
        self._thread.start()
        await asyncio.to_thread(started.wait, 10)
        self.url = dashboard_url(self.host, self.port)
        return True

    def attach(self, engine: Engine) -> None:
        """Call on the engine's loop."""
        self.web.attach(engine, asyncio.get_running_loop())

    async def stop(self) -> None:
        self.web.close()
        if self._server is None or self._thread is None or self._loop is None:
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._server.exit)
        await asyncio.to_thread(self._thread.join, 3)
