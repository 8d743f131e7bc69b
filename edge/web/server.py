"""Serve the app with waitress (a production WSGI server) in a background thread."""
from __future__ import annotations

import threading

from flask import Flask
from waitress.server import create_server


class WebServer:
    def __init__(self, app: Flask, host: str, port: int, threads: int = 4):
        # SSE streams hold a thread each; waitress's channel timeout would cut them, so it is raised
        self.server = create_server(app, host=host, port=port, threads=threads, channel_timeout=3600,
                                    ident="fer-edge")
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.effective_host, self.server.effective_port
        return f"http://{host}:{port}/"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.close()
