"""Serve the app with waitress (a production WSGI server) in a background thread."""
from __future__ import annotations

import threading

from flask import Flask
from waitress.server import create_server

# waitress buffers a whole body before the app sees it (1 GiB by default, spilling to disk): cap it near the
# app's own 64 KiB limit, which answers in JSON; a body declared larger than this gets waitress's plain 413.
MAX_BUFFERED_BODY = 1024 * 1024
# waitress's default of 100 was used up by 100 idle sockets; each connection is one file descriptor of the
# 1024 a service gets by default
CONNECTION_LIMIT = 512


class WebServer:
    """waitress with a worker thread per allowed event stream on top of the request workers: a stream holds
    its thread while open (edge/web/streams.py caps them), so requests always find a free one. Idle
    connections are closed after `idle_timeout_s` (waitress's channel timeout only closes connections
    with no request in progress, so open streams are never cut) and checked for every second."""

    def __init__(self, app: Flask, host: str, port: int, threads: int = 4, max_streams: int = 64,
                 idle_timeout_s: int = 10):
        self.server = create_server(app, host=host, port=port, threads=threads + max_streams,
                                    channel_timeout=idle_timeout_s, cleanup_interval=1,
                                    connection_limit=CONNECTION_LIMIT, ident="fer-edge",
                                    max_request_body_size=MAX_BUFFERED_BODY)
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.effective_host, self.server.effective_port
        return f"http://{host}:{port}/"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        # Closed inside the server's own loop: closing its sockets from this thread would pull them out from
        # under its select() (EBADF in the loop thread). The loop ends once nothing is left to watch.
        self.server.trigger.pull_trigger(self._close_all)
        self.thread.join(timeout=5)
        self.server.task_dispatcher.shutdown(timeout=1)  # workers still in an event stream are daemon threads

    def _close_all(self) -> None:
        for channel in list(self.server._map.values()):  # the listening socket, the trigger, connections
            channel.close()
