"""Child processes and worker threads that must never hold up a stop.

Blocking work (docker-py, the Docker CLI, the Tiltfile's local()) runs in
worker threads. When `up` stops, nothing may wait for it: the processes
those threads started are killed (each runs in a process group of its own,
so their children go too), and the threads are daemons, so the interpreter
exits without joining them."""
from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import subprocess
import threading
from typing import Any, Callable, Iterator

_lock = threading.Lock()
_running: set[subprocess.Popen[Any]] = set()
_stopping = threading.Event()


class Stopping(Exception):
    """tiltpy is stopping: the work that was asked for will not run."""


@contextlib.contextmanager
def tracked(proc: subprocess.Popen[Any]) -> Iterator[subprocess.Popen[Any]]:
    """Kill `proc`'s process group if tiltpy stops while it runs. Start it
    with start_new_session=True so that the group is its own."""
    with _lock:
        _running.add(proc)
    if _stopping.is_set():
        _kill(proc)
    try:
        yield proc
    finally:
        with _lock:
            _running.discard(proc)


def popen(argv: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """subprocess.Popen in a session of its own, refused once stopping."""
    if _stopping.is_set():
        raise Stopping("tiltpy is stopping")
    return subprocess.Popen(argv, start_new_session=True, **kwargs)


def run(argv: list[str], *, input: bytes | str | None = None, timeout: float | None = None,
        capture_output: bool = False, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """subprocess.run, but killed (with its whole process group) when tiltpy stops."""
    if capture_output:
        kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdin = kwargs.pop("stdin", None)
    proc = popen(argv, stdin=subprocess.PIPE if input is not None else stdin, **kwargs)
    with tracked(proc):
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.communicate()
            raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _kill(proc: subprocess.Popen[Any]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        os.killpg(proc.pid, signal.SIGKILL)


def stopping() -> bool:
    return _stopping.is_set()


def stop_all() -> None:
    """Refuse new children and kill the running ones (their threads then finish at once)."""
    _stopping.set()
    with _lock:
        procs = list(_running)
    for proc in procs:
        _kill(proc)


class DaemonThreadExecutor(concurrent.futures.ThreadPoolExecutor):
    """The event loop's executor for blocking calls: one daemon thread per
    call, and a shutdown that does not wait — a stop is never held up by a
    build or a socket read in progress. (A ThreadPoolExecutor only because
    asyncio insists on one; its pool is never used.)"""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as err:  # handed to whoever awaits the future
                future.set_exception(err)

        threading.Thread(target=work, name=getattr(fn, "__name__", "worker"), daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass
