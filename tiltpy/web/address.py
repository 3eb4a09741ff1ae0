"""Where the dashboard listens and the URL it is shown at. Kept apart from
the server (Starlette, uvicorn): `up` binds the port and prints the URL at
once, and imports the server later, while the first deploy waits on the
cluster."""
from __future__ import annotations

import socket

WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


def bind_address(host: str) -> str:
    return "127.0.0.1" if host in ("", "localhost") else host


def dashboard_url(host: str, port: int) -> str:
    shown = "localhost" if host in ("", "localhost", "127.0.0.1") or host in WILDCARD_HOSTS else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def listen(host: str, port: int) -> socket.socket:
    """A listening, non-blocking socket; OSError if the port can't be bound.
    Browsers that connect before the server runs wait in its backlog."""
    address = bind_address(host)
    family, _, _, _, sockaddr = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
