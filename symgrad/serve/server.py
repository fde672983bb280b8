"""Serving the practice page with uvicorn on a socket bound before the server starts, so
a port in use is one clear error and port 0 picks a free one (the browser test).

>>> from symgrad.exercises import load_template
>>> from symgrad.serve import create_app
>>> server = Server(create_app(load_template("derivations/linear_cost_exercise.toml")),
...                 port=0)
>>> server.start()
>>> import urllib.request
>>> urllib.request.urlopen(server.url + "static/style.css").status
200
>>> server.stop()
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

from ..errors import ArgumentError

__all__ = ["Server"]

_START_TIMEOUT = 30.0  # seconds for a server in a thread to start listening


class Server:
    """``app`` served on ``host``:``port`` (0: a free port); :attr:`url` says where.
    :meth:`run` serves until Ctrl+C; :meth:`start` and :meth:`stop` serve from a thread."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 8000) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, port))
        except (OSError, OverflowError) as exc:
            self._socket.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ArgumentError(f"cannot listen on {host} port {port}: {reason}") from None
        bound = self._socket.getsockname()[1]
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        self.url = f"http://{shown}:{bound}/"
        config = uvicorn.Config(app, log_level="warning", access_log=False,
                                server_header=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Serve until interrupted (Ctrl+C, SIGTERM)."""
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._socket.close()

    def start(self) -> None:
        """Serve from a thread; returns once the server listens."""
        self._thread = threading.Thread(target=self.run, name="symgrad-serve", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ArgumentError(f"the server at {self.url} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop a server started with :meth:`start`, and wait for it."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=_START_TIMEOUT)
