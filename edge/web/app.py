"""Flask app: dashboard page, JSON status and health, server-sent events, Prometheus metrics.

Served by waitress (edge/web/server.py), never by Flask's development server. Who may call what, and the
headers every response carries (Cache-Control: no-store on all but static files), is edge/web/security.py's.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from edge.monitoring.api import monitoring_blueprint
from edge.sessions.api import kiosk_setup
from edge.sessions.settings import SessionSettings
from edge.state import LiveState
from edge.web.metrics import registry_for, render
from edge.web.openapi import openapi_document
from edge.web.security import AccessPolicy
from edge.web.settings import WebConfig
from edge.web.streams import EventStreams, StreamsFull

MAX_REQUEST_BYTES = 64 * 1024
PRIVACY_NOTICE = Path(__file__).resolve().parents[2] / "PRIVACY.md"


def create_app(state: LiveState, web: WebConfig = WebConfig(), sessions: Blueprint | None = None,
               access: AccessPolicy | None = None, notice: SessionSettings = SessionSettings()) -> Flask:
    """The app for `web`; `access` defaults to the policy web's token settings give (edge/web/security.py);
    `notice` fills the candidates' privacy page (operator, retention) and the kiosk's banks and timers."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    registry = registry_for(state)
    access = access or AccessPolicy.from_config(web)
    access.install(app)
    preview = web.preview
    document = openapi_document(token=access.token is not None)
    streams = EventStreams(state, web.max_streams, web.stream_hz)

    @app.after_request
    def allow_of_the_matched_route(response: Response) -> Response:
        # Flask's automatic OPTIONS answer lists the methods of every rule the path matches, so
        # /api/sessions/live would also offer DELETE (of a session named "live"): list the route's own.
        if request.method == "OPTIONS" and request.url_rule is not None:
            path = request.url_rule.rule
            methods = {m for rule in app.url_map.iter_rules() if rule.rule == path for m in rule.methods}
            response.headers["Allow"] = ", ".join(sorted(methods))
        return response

    @app.get("/")
    def dashboard():
        return render_template("dashboard.html", preview=preview)

    @app.get("/kiosk")
    def kiosk():
        return render_template("kiosk.html", csrf_token=access.csrf_token, setup=kiosk_setup(notice))

    @app.get("/privacy")
    def privacy():
        """The candidates' notice, in plain words, with the operator's details from the config."""
        return render_template("privacy.html", retention_days=notice.retention_days,
                               summary_idle_s=notice.summary_idle_s, operator_name=notice.operator_name,
                               operator_contact=notice.operator_contact)

    @app.get("/privacy/operator")
    def operator_notes():
        # the operator's own document; read per request: it may be edited without restarting the daemon
        return Response(PRIVACY_NOTICE.read_text(encoding="utf-8"), content_type="text/plain; charset=utf-8")

    @app.get("/api/status")
    def status():
        return jsonify(state.status())

    @app.get("/api/history")
    def history():
        """The dashboard's charts: per interval, the expression mix, frame rate and latency (edge/history/)."""
        figures = state.figures("history")
        if figures is None:
            return jsonify({"error": "the history has not started; /api/health says why"}), 503
        return jsonify(figures)

    @app.get("/api/health")
    def health():
        h = state.health()
        return jsonify({"status": h.status, "reasons": h.reasons}), 200 if h.status != "failing" else 503

    @app.get("/api/stream")
    def stream():
        try:
            events = streams.open()
        except StreamsFull as e:
            return jsonify({"error": str(e)}), 503, {"Retry-After": "10"}
        return Response(events, mimetype="text/event-stream", headers={"X-Accel-Buffering": "no"})

    @app.get("/api/preview.jpg")
    def camera_preview():
        # the only place a camera image can leave the process, and only when the operator enabled it
        if not preview:
            return jsonify({"error": "the camera preview is disabled (web.preview = false in the config)"}), 404
        if state.preview_jpeg is None:
            return jsonify({"error": "no preview image yet"}), 503
        return Response(state.preview_jpeg, mimetype="image/jpeg")

    @app.get("/metrics")
    def metrics():
        return Response(render(registry), mimetype=CONTENT_TYPE_LATEST)

    @app.get("/api/openapi.json")
    def openapi():
        return jsonify(document)

    # Every error is JSON saying what was wrong, whichever layer raised it.
    @app.errorhandler(404)
    def not_found(_):
        return jsonify({"error": f"no such endpoint: {request.path[:200]}"}), 404

    @app.errorhandler(405)
    def wrong_method(e: MethodNotAllowed):
        allowed = sorted(e.valid_methods or [])
        return (jsonify({"error": f"{request.method} is not allowed on {request.path[:200]} (allowed: "
                                  f"{', '.join(allowed)})"}), 405, {"Allow": ", ".join(allowed)})

    @app.errorhandler(413)
    def too_large(_):
        return jsonify({"error": f"request body over {MAX_REQUEST_BYTES} bytes"}), 413

    @app.errorhandler(HTTPException)
    def other_http_error(e: HTTPException):
        return jsonify({"error": f"{e.name}: {e.description}"}), e.code

    @app.errorhandler(Exception)
    def internal_error(e: Exception):
        # a bug, not bad input: logged with its traceback, answered without one
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return jsonify({"error": f"internal error ({type(e).__name__}); the service keeps running"}), 500

    if sessions is not None:
        app.register_blueprint(sessions)
    app.register_blueprint(monitoring_blueprint(state))
    return app
