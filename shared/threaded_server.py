"""A uvicorn server in a background thread, on a socket bound before it starts (so its port
cannot be taken in between): the fake engine, the fairness bench's gateways and the tests'."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn


class ServerDidNotStart(RuntimeError):
    """The server thread died or did not report itself started in time."""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; raises OSError (port taken, bad host) before any server starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.contextmanager
def serving_in_thread(
    server: uvicorn.Server,
    sock: socket.socket,
    *,
    name: str,
    start_timeout_s: float = 10.0,
    stop_timeout_s: float = 5.0,
) -> Iterator[None]:
    """Run `server` on `sock` until the block ends; ServerDidNotStart if it does not start.
    The socket is closed afterwards."""
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise ServerDidNotStart(f"{name} did not start")
            time.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=stop_timeout_s)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=stop_timeout_s)
        sock.close()
