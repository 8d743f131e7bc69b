"""GET /api/monitoring: the monitor's latest snapshot (edge/monitoring/monitor.py) as JSON."""
from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify

from edge.state import LiveState

STATES = ["ok", "warn", "alert", "unknown"]
_NUMBER = {"type": "number", "nullable": True}
# The OpenAPI schema of a snapshot (edge/web/openapi.py lists the endpoint).
MONITORING_SCHEMA = {"type": "object", "required": ["state", "reasons", "metrics"], "properties": {
    "state": {"type": "string", "enum": STATES, "description": "the worst state of the judged metrics"},
    "reasons": {"type": "array", "items": {"type": "string"}, "description": "one line per metric in warn or alert"},
    "windows_s": {"type": "object", "additionalProperties": {"type": "number"}},
    "reference": {"type": "object", "description": "the training reference in use ({file, model}), or {error}"},
    "metrics": {"type": "object", "additionalProperties": {"type": "object", "properties": {
        "group": {"type": "string", "enum": ["quality", "predictions", "health"]},
        "label": {"type": "string"}, "unit": {"type": "string"}, "state": {"type": "string", "enum": STATES},
        "value": _NUMBER, "reference": _NUMBER, "samples": {"type": "integer"},
        "needs": {"type": "integer", "description": "samples the window needs before it is judged"},
        "limits": {"type": "object", "description": "low and/or high: [warn, alert]"}}}}}}


def monitoring_blueprint(state: LiveState) -> Blueprint:
    bp = Blueprint("monitoring", __name__)

    @bp.get("/api/monitoring")
    def monitoring():
        snapshot = state.figures("monitoring")
        if snapshot is None:
            return jsonify({"error": "monitoring has not started; /api/health says why"}), 503
        # not jsonify: it sorts keys, and the metrics' order is the display order
        return Response(json.dumps(snapshot), mimetype="application/json")

    return bp
