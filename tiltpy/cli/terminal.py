"""What `tiltpy up` shows in the terminal.

On a terminal (without --stream): a short header (the dashboard's URL and the
keys) and then one line per status change of a resource (updating, ready,
failed…), plus the Tiltfile's errors; all logs are on the dashboard and in
`tiltpy logs`. Keys: space opens the dashboard, s toggles streaming all logs,
q stops. With --stream, or when stdout is not a terminal, every log line is
printed with its resource as a prefix."""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from tiltpy import __version__
from tiltpy.engine.logs import TILTFILE, LogSink

if TYPE_CHECKING:
    from tiltpy.engine.engine import Engine

GREEN, RED, YELLOW, BLUE, GREY, BOLD, RESET = ("\x1b[32m", "\x1b[31m", "\x1b[33m", "\x1b[34m", "\x1b[90m",
                                                "\x1b[1m", "\x1b[0m")


def resource_status(res: dict[str, Any]) -> tuple[str, str]:
    """(colour class, one-line status) of a resource view, as the terminal
    and `tiltpy get` summarize it."""
    if not res.get("enabled", True):
        return "grey", "disabled"
    if res["type"] == "tiltfile":
        if res.get("updateError"):
            return "red", "Tiltfile error"
        if res.get("updateStatus") == "in_progress":
            return "blue", "loading"
        return "green", "loaded"
    update, runtime = res.get("updateStatus"), res.get("runtimeStatus")
    if update == "in_progress":
        build = res.get("currentBuild") or {}
        reason = build.get("reason") or ""
        return "blue", "updating" + (f" ({reason})" if reason else "")
    if update == "error":
        return "red", "update failed: " + _first_line(res.get("updateError", ""))
    if runtime == "error":
        return "red", "runtime error: " + _first_line(res.get("runtimeError", ""))
    if res.get("waitingReason"):
        return "yellow", "waiting: " + res["waitingReason"]
    if update == "none":
        return "grey", "not started (trigger it to start)"
    if update == "pending":
        return "yellow", "pending"
    if update == "ok" and runtime in ("ok", "not_applicable"):
        links = " ".join(e["url"] for e in res.get("endpoints") or [])
        return "green", "ready" + (f" — {links}" if links else "")
    if update == "ok":
        return "yellow", "deployed, waiting for pods to be ready"
    return "grey", str(update)


def _first_line(text: str, width: int = 160) -> str:
    line = next((l.strip() for l in text.splitlines() if l.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


class Terminal:
    def __init__(self, sink: LogSink, url: str, *, stream: bool, interactive: bool,
                 color: bool | None = None) -> None:
        self.sink = sink
        self.url = url
        self.interactive = interactive
        self.color = interactive if color is None else color
        self.engine: Engine | None = None
        self._last: dict[str, str] = {}
        self._tiltfile_error = ""
        self._width = len(TILTFILE)
        self._saved_tty: Any = None
        self._stdin_fd = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        sink.stream = stream

    # -- header ---------------------------------------------------------------
    def header(self) -> None:
        if not self.interactive:
            return
        b, r = (BOLD, RESET) if self.color else ("", "")
        where = f"dashboard: {b}{self.url}{r}" if self.url else "dashboard off"
        self.sink.echo(f"{b}tiltpy {__version__}{r} — {where}")
        keys = "(space) open the dashboard · (s) stream logs · (q) or (ctrl-c) stop" if self.url else \
            "(s) stream logs · (q) or (ctrl-c) stop"
        port = self.url.rstrip("/").rsplit(":", 1)[-1] if self.url else ""
        flag = f" --port {port}" if port and port != "10350" else ""
        self.sink.echo(keys + ("" if self.sink.stream else f" · logs: `tiltpy logs -f{flag}`"))

    # -- status lines -------------------------------------------------------------
    def attach(self, engine: Engine) -> None:
        self.engine = engine
        engine.listeners.append(self.on_change)
        self.on_change()

    def on_change(self) -> None:
        if self.engine is None:
            return
        from tiltpy.engine.view import engine_view

        view = engine_view(self.engine)
        names = [r["name"] for r in view["resources"]] + [m.name for m in self.engine.result.manifests]
        self._width = min(max(map(len, names)), 28)
        error = view["session"].get("tiltfileError") or ""
        if error != self._tiltfile_error:
            self._tiltfile_error = error
            if error and not self.sink.stream:
                for line in error.splitlines()[:30]:
                    self._print(TILTFILE, "red", line)
        for res in view["resources"]:
            colour, text = resource_status(res)
            if self._last.get(res["name"]) != text:
                self._last[res["name"]] = text
                if not self.sink.stream:
                    self._print(res["name"], colour, text)

    def _print(self, name: str, colour: str, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        if self.color:
            code = {"green": GREEN, "red": RED, "yellow": YELLOW, "blue": BLUE}.get(colour, GREY)
            text = f"{code}{text}{RESET}"
        width = self._width
        self.sink.echo(f"{GREY if self.color else ''}{stamp}{RESET if self.color else ''} "
                       f"{name[:width].ljust(width)} │ {text}")

    # -- keys -------------------------------------------------------------------
    def start_keys(self) -> None:
        """Read single keys from the terminal (cbreak: Ctrl-C still interrupts)."""
        if not self.interactive or not sys.stdin.isatty():
            return
        try:
            import termios
            import tty

            fd = sys.stdin.fileno()
            self._saved_tty = termios.tcgetattr(fd)
            tty.setcbreak(fd)
            self._stdin_fd = fd
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(fd, self._on_key)
        except (ImportError, OSError, ValueError, RuntimeError, NotImplementedError):
            self._restore()

    def _on_key(self) -> None:
        try:
            data = os.read(self._stdin_fd, 64).decode(errors="ignore")
        except OSError:
            data = ""
        if not data:  # end of input: stop reading keys
            self._restore()
            return
        for key in data:
            if key in (" ", "\n", "\r") and self.url:
                threading.Thread(target=_open_browser, args=(self.url,), daemon=True).start()
                self.sink.echo(f"Opening {self.url}")
            elif key in ("s", "S"):
                self.sink.stream = not self.sink.stream
                self.sink.echo("Streaming all logs (s: back to status lines)" if self.sink.stream
                               else "Status lines only (s: stream all logs)")
            elif key in ("q", "Q"):
                os.kill(os.getpid(), signal.SIGINT)

    def _restore(self) -> None:
        if self._loop is not None and self._stdin_fd >= 0:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._stdin_fd)
        if self._saved_tty is not None:
            import termios

            with contextlib.suppress(Exception):
                termios.tcsetattr(self._stdin_fd, termios.TCSADRAIN, self._saved_tty)
            self._saved_tty = None
        self._stdin_fd = -1

    def close(self) -> None:
        if self.engine is not None and self.on_change in self.engine.listeners:
            self.engine.listeners.remove(self.on_change)
        self._restore()


def _open_browser(url: str) -> None:
    import webbrowser

    with contextlib.suppress(Exception):
        webbrowser.open(url)


class UI:
    """The web server and the terminal of one `up`, wired to its engine.

    The port is bound and the URL shown at once; the server itself (Starlette
    and uvicorn, a tenth of a second of imports) starts when the engine is
    attached, in a worker thread, while the first deploy waits on Docker and
    the cluster: a browser that connects earlier waits in the backlog."""

    def __init__(self, sink: LogSink, host: str, port: int, terminal: Terminal, sock: Any) -> None:
        self.sink = sink
        self.host = host
        self.port = port
        self.terminal = terminal
        self.web: Any = None
        self._sock = sock
        self._engine: Engine | None = None
        self._starting: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return self.terminal.url

    def greeting(self) -> str:
        """The first (Tiltfile) log line."""
        where = f"dashboard {self.url} — " if self.url else ""
        return f"tiltpy {__version__} — {where}Ctrl-C to stop (deployments keep running)"

    def attach(self, engine: Engine) -> None:
        self._engine = engine
        self.terminal.attach(engine)
        if self._sock is not None:
            self._starting = asyncio.get_running_loop().create_task(self._start_web(), name="dashboard start")
            self._starting.add_done_callback(self._started)

    async def _start_web(self) -> None:
        import importlib

        server = await asyncio.to_thread(importlib.import_module, "tiltpy.web.server")
        sock, self._sock = self._sock, None
        web = server.WebServer(self.sink, host=self.host, port=self.port, sock=sock)
        if await web.start():
            self.web = web
            if self._engine is not None:
                web.attach(self._engine)

    def _started(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            err = task.exception()
            self.sink.log(TILTFILE, f"ERROR: the dashboard could not start: {type(err).__name__}: {err}")

    async def stop(self) -> None:
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
            with contextlib.suppress(BaseException):
                await self._starting
        if self.web is not None:
            await self.web.stop()
        if self._sock is not None:
            self._sock.close()
            self._sock = None


@contextlib.asynccontextmanager
async def serve_ui(sink: LogSink, host: str, port: int, stream: bool):  # type: ignore[no-untyped-def]
    """Bind the dashboard's port (unless it is 0 or taken) and start the
    terminal display; the web server follows once an engine is attached.
    Stop both on the way out."""
    from tiltpy.web.address import bind_address, dashboard_url, listen

    sock = None
    if port > 0:
        try:
            sock = listen(host, port)
        except OSError as err:
            sink.log(TILTFILE, f"WARNING: the dashboard is off: cannot listen on {bind_address(host)}:{port} "
                               f"({err.strerror or err}); use --port or TILTPY_PORT for another port")
    url = dashboard_url(host, port) if sock is not None else ""
    interactive = sys.stdout.isatty()
    terminal = Terminal(sink, url, stream=stream or not interactive, interactive=interactive)
    terminal.header()
    terminal.start_keys()
    ui = UI(sink, host, port, terminal, sock)
    try:
        yield ui
    finally:
        terminal.close()
        await ui.stop()
