"""Flask app: dashboard page, JSON status and health, server-sent events, Prometheus metrics.

Served by waitress (edge/web/server.py), never by Flask's development server.
"""
from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from prometheus_client import CONTENT_TYPE_LATEST

from edge.state import LiveState
from edge.web.metrics import registry_for, render

MAX_REQUEST_BYTES = 64 * 1024
SSE_HEARTBEAT_S = 15
PRIVACY_NOTICE = Path(__file__).resolve().parents[2] / "PRIVACY.md"


def create_app(state: LiveState, preview: bool = False, sessions: Blueprint | None = None) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    registry = registry_for(state)

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; img-src 'self' data:")
        return response

    @app.get("/")
    def dashboard():
        return render_template("dashboard.html", preview=preview)

    @app.get("/kiosk")
    def kiosk():
        return render_template("kiosk.html")

    @app.get("/privacy")
    def privacy():
        # read per request: the operator may edit the notice without restarting the daemon
        return Response(PRIVACY_NOTICE.read_text(encoding="utf-8"), content_type="text/plain; charset=utf-8")

    @app.get("/api/status")
    def status():
        return jsonify(state.status())

    @app.get("/api/health")
    def health():
        h = state.health()
        return jsonify({"status": h.status, "reasons": h.reasons}), 200 if h.status != "failing" else 503

    @app.get("/api/stream")
    def stream():
        def events():
            seen = -1
            while True:
                version = state.wait_for_change(seen, SSE_HEARTBEAT_S)
                if version == seen:
                    yield ": heartbeat\n\n"  # keeps proxies and browsers from closing an idle stream
                    continue
                seen = version
                yield f"data: {json.dumps(state.status())}\n\n"
        return Response(events(), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/api/preview.jpg")
    def camera_preview():
        # the only place a camera image can leave the process, and only when the operator enabled it
        if not preview:
            return jsonify({"error": "the camera preview is disabled (web.preview = false in the config)"}), 404
        if state.preview_jpeg is None:
            return jsonify({"error": "no preview image yet"}), 503
        return Response(state.preview_jpeg, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/metrics")
    def metrics():
        return Response(render(registry), mimetype=CONTENT_TYPE_LATEST)

    @app.errorhandler(404)
    def not_found(_):
        return jsonify({"error": f"no such endpoint: {request.path}"}), 404

    @app.errorhandler(405)
    def wrong_method(_):
        return jsonify({"error": f"{request.method} is not allowed on {request.path}"}), 405

    @app.errorhandler(413)
    def too_large(_):
        return jsonify({"error": f"request body over {MAX_REQUEST_BYTES} bytes"}), 413

    if sessions is not None:
        app.register_blueprint(sessions)
    return app
