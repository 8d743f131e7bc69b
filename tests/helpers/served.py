"""The web app served in-process by waitress on a free loopback port, with sessions on a SQLite file:
raw HTTP calls as a browser or an attacker makes them."""
from __future__ import annotations

import http.client
import json

from edge.config import EdgeConfig, WebConfig
from edge.devtools.daemon import free_port
from edge.history.intervals import History
from edge.monitoring.monitor import Monitor
from edge.sessions.advice import AdviceRules
from edge.sessions.api import sessions_blueprint
from edge.sessions.recorder import SessionRecorder
from edge.sessions.store import SessionStore
from edge.state import LiveState
from edge.web.app import create_app
from edge.web.security import AccessPolicy
from edge.web.server import WebServer

TOKEN = "kiosk-token-0123456789abcdef"


class Served:
    """create_app + sessions on a SQLite file, served by waitress on 127.0.0.1; raw HTTP calls."""

    def __init__(self, tmp_path, access: AccessPolicy, preview: bool = False):
        self.store = SessionStore(tmp_path / "sessions.db", retention_days=30)
        self.recorder = SessionRecorder(self.store, retention_days=30)
        state = LiveState()
        defaults = EdgeConfig()
        state.report("monitoring", Monitor(defaults.monitoring, defaults.models, state).snapshot)  # as the daemon composes it
        state.report("history", History(defaults.history).snapshot)
        self.app = create_app(state, WebConfig(preview=preview),
                              sessions_blueprint(self.store, self.recorder, AdviceRules()), access=access)
        self.access = access
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.server = WebServer(self.app, "127.0.0.1", self.port)
        self.server.start()

    def call(self, method, path, body=None, headers=None, raw: bytes | None = None, source: str = "127.0.0.1"):
        """(status, headers, parsed JSON or bytes); `body` is sent as JSON, `raw` as is; from the loopback
        address `source` (any 127.x.y.z is this machine: another client address)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10, source_address=(source, 0))
        headers = {"Host": self.host, **(headers or {})}
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        if body is not None:
            headers.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        payload = r.read()
        conn.close()
        if r.getheader("Content-Type", "").startswith("application/json") and payload:
            return r.status, r.headers, json.loads(payload)
        return r.status, r.headers, payload

    def close(self):
        self.server.stop()
        self.recorder.close()
        self.store.close()


def csrf(served):
    return {"X-CSRF-Token": served.access.csrf_token}
