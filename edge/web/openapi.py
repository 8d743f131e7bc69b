"""OpenAPI 3.0 description of every JSON endpoint, written by hand so it reads as the API's documentation.

Limits come from edge.sessions.api's request models, so the document cannot drift from what is enforced.
Pages (/, /kiosk, /login, /privacy, /privacy/operator) and static files are HTML and CSS for browsers, not API.
Longer than other modules because it is a declaration, one entry per endpoint and schema, read top to bottom
as the API's reference; splitting it would only scatter that reference.
"""
from __future__ import annotations

from typing import Any

from edge.monitoring.api import MONITORING_SCHEMA
from edge.sessions.api import MAX_ALIAS, MAX_CODE_CHARS, MAX_LIMIT, MAX_QUESTION_CHARS, MAX_QUESTIONS
from edge.sessions.settings import EXPRESSIONS


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


NUMBER_01 = {"type": "number", "minimum": 0, "maximum": 1}
# What str.strip() removes (str.isspace), spelled out: in JSON Schema's (JavaScript's) regexes "\S" leaves
# some of it out, e.g. U+0085, and the document would call a question valid that the API refuses.
PYTHON_SPACE = r"\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
ID_PARAM = {"name": "session_id", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}, "description": "uuid4 hex id"}
# Who may call what (edge/web/security.py): with a token, a read needs the bearer header or the login cookie,
# and a state change the bearer header, or the cookie and the CSRF header. Without one (the daemon then listens
# on loopback only), a read needs nothing and a state change the CSRF header. The document describes the
# daemon that serves it.
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "web.token (FER_EDGE_TOKEN, web.token_file)"},
    "loginCookie": {"type": "apiKey", "in": "cookie", "name": "fer_edge_auth",
                    "description": "set by POST /login (the form at GET /login) for 30 days"},
    "csrfHeader": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                   "description": "the value of GET /api/csrf (also in the kiosk page's <meta name=csrf-token>)"},
}
REQUIREMENTS = {
    True: {"public": [], "read": [{"bearer": []}, {"loginCookie": []}],
           "write": [{"bearer": []}, {"loginCookie": [], "csrfHeader": []}]},
    False: {"public": [], "read": [], "write": [{"csrfHeader": []}]},
}
# edge/sessions/store.py's normalize_code: 8 characters of its alphabet, in either case, with spaces, tabs and dashes
CODE_AS_TYPED = r"^[ \t-]*([2-9A-HJKMNP-TW-Za-hjkmnp-tw-z][ \t-]*){8}$"
SESSION_OPERATIONS = ("getSession", "markQuestion", "stopSession", "exportSession", "eraseSession")
FINISHED_OPERATIONS = ("getSession", "exportSession", "eraseSession")


def _links(pointer: str, operations: tuple[str, ...]) -> dict:
    """OpenAPI links: where a response's session id can be used next (clients and test tools follow them)."""
    return {op: {"operationId": op, "parameters": {"session_id": f"$response.body{pointer}"}} for op in operations}


def _guarded(operation: dict, kind: str, token: bool) -> dict:
    """`operation` with its security requirements and the answers the access checks may give."""
    responses = dict(operation["responses"])
    if kind != "public":
        responses.setdefault("401", _error("no valid token or login cookie, or a bearer token that is not "
                                           "this device's"))
        responses.setdefault("429", _error("too many wrong tokens from this address lately: wait the "
                                           "Retry-After header's seconds"))
    if kind == "write":
        responses.setdefault("403", _error("no CSRF proof, or a browser request from another origin"))
    if "requestBody" in operation:
        responses.setdefault("413", _error("body over 64 KiB"))
    return {**operation, "security": REQUIREMENTS[token][kind], "responses": responses}


def openapi_document(token: bool) -> dict[str, Any]:
    """The document for a daemon with (`token`) or without a web token."""
    def public(operation: dict) -> dict:
        return _guarded(operation, "public", token)

    def read(operation: dict) -> dict:
        return _guarded(operation, "read", token)

    def write(operation: dict) -> dict:
        return _guarded(operation, "write", token)

    shares = {"type": "object", "description": "share of face time per expression, plus `uncertain`; they add up "
              "to 1 when a face was seen", "properties": {k: NUMBER_01 for k in (*EXPRESSIONS, "uncertain")}}
    part = {"type": "object", "properties": {
        "duration_s": {"type": "integer", "description": "seconds observed"},
        "face_present": {**NUMBER_01, "description": "share of frames with a face"},
        "shares": _ref("Shares"),
        "dominant": {"type": "array", "maxItems": 2, "description": "top expressions with a share >= 0.15",
                     "items": {"type": "object", "properties": {"expression": {"type": "string"}, "share": NUMBER_01}}},
        "changes": {"type": "object", "properties": {
            "dominant_changes": {"type": "integer", "description": "times the per-second leading expression changed"},
            "first_half": _ref("Shares"), "second_half": _ref("Shares")}},
        "model_uncertainty": {**NUMBER_01, "nullable": True, "description": "mean per-second uncertain share"},
        "timeline": {"type": "array", "items": _ref("Second")},
        "index": {"type": "integer", "description": "question index (question parts only)"},
        "question": {"type": "string", "description": "question text (question parts only)"}}}
    session = {"type": "object", "properties": {
        "id": {"type": "string"}, "alias": {"type": "string", "nullable": True},
        "status": {"type": "string", "enum": ["recording", "finished", "recovered"],
                   "description": "recovered: the daemon stopped mid-session; closed at its last stored second"},
        "started_at": {"type": "number", "description": "Unix time"},
        "ended_at": {"type": "number", "nullable": True}, "duration_s": {"type": "number"}}}
    detail = {"allOf": [session, {"type": "object", "properties": {
        "code": {"type": "string", "nullable": True, "pattern": "^[2-9A-HJKMNP-TW-Z]{8}$",
                 "description": "opens the summary again (POST /api/sessions/lookup) until `kept_until`; given "
                                "when the session finishes, null while recording; never listed"},
        "kept_until": {"type": "number", "nullable": True, "description": "Unix time when retention deletes "
                       "the session; null while recording"},
        "questions": {"type": "array", "items": {"type": "string"}},
        "segments": {"type": "array", "items": _ref("Segment")},
        "summary": {"type": "object", "properties": {"overall": _ref("SummaryPart"),
                                                      "segments": {"type": "array", "items": _ref("SummaryPart")}}},
        "advice": {"type": "array", "items": _ref("Tip")},
        "disclaimer": {"type": "string", "description": "what the model can and cannot tell"}}}]}
    schemas = {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
        "StartRequest": {"type": "object", "additionalProperties": False, "properties": {
            "alias": {"type": "string", "nullable": True, "maxLength": MAX_ALIAS,
                      "description": "optional first name or nickname; white space around it is dropped"},
            "questions": {"type": "array", "nullable": True, "maxItems": MAX_QUESTIONS,
                          "items": {"type": "string", "pattern": f"[^{PYTHON_SPACE}]", "maxLength": MAX_QUESTION_CHARS,
                                    "description": "not only white space, which is dropped around it"}},
            "prepare": {"type": "boolean", "default": False, "description": "true: nothing is recorded until "
                        "the first question's answer is marked (the kiosk shows a preparation countdown)"}}},
        "QuestionRequest": {"type": "object", "additionalProperties": False, "required": ["index"], "properties": {
            "index": {"type": "integer", "minimum": 0, "maximum": MAX_QUESTIONS - 1,
                      "description": "0-based; must be within `questions` when a list was given"},
            "phase": {"type": "string", "enum": ["answer", "prepare"], "default": "answer",
                      "description": "answer: the question's segment starts (or goes on) and is recorded; "
                                     "prepare: the question is on screen and nothing is recorded until its "
                                     "answer is marked"}}},
        "LookupRequest": {"type": "object", "additionalProperties": False, "required": ["code"], "properties": {
            "code": {"type": "string", "maxLength": MAX_CODE_CHARS, "pattern": CODE_AS_TYPED,
                     "description": "as shown on the summary, e.g. ABCD-EFGH; case, spaces and dashes do not matter"}}},
        "Session": session, "SessionDetail": detail, "Shares": shares, "SummaryPart": part,
        "Second": {"type": "object", "properties": {
            "t": {"type": "integer", "description": "seconds since the first recorded second"},
            "segment": {"type": "integer", "nullable": True}, "face_present": NUMBER_01, "uncertain": NUMBER_01,
            "shares": {"type": "object", "description": "confidence-weighted mean over the second's confident frames",
                       "properties": {k: NUMBER_01 for k in EXPRESSIONS}},
            "dominant": {"type": "string", "nullable": True}}},
        "Segment": {"type": "object", "properties": {"index": {"type": "integer"}, "question": {"type": "string"},
                                                     "started_at": {"type": "number"}}},
        "Mark": {"type": "object", "properties": {
            "session_id": {"type": "string"}, "index": {"type": "integer"}, "question": {"type": "string"},
            "phase": {"type": "string", "enum": ["answer", "prepare"]}, "started_at": {"type": "number"}}},
        "Tip": {"type": "object", "properties": {
            "segment": {"type": "integer", "nullable": True, "description": "question index; null: whole session"},
            "kind": {"type": "string", "enum": ["strength", "suggestion", "note"], "description": "what went well, "
                     "what to try, or about the measurement"},
            "rule": {"type": "string"}, "text": {"type": "string"},
            "figure": {**NUMBER_01, "nullable": True, "description": "the share the tip is based on; null for a "
                       "note that rests on no share (e.g. an answer too short to read)"}}},
    }
    schemas.update({
        "Health": {"type": "object", "required": ["status", "reasons"], "properties": {
            "status": {"type": "string", "enum": ["ok", "degraded", "failing"]},
            "reasons": {"type": "array", "items": {"type": "string"}}}},
        "Status": {"type": "object", "required": ["version", "health", "counters", "latest"], "properties": {
            "version": {"type": "string", "description": "fer-edge's version"},
            "health": _ref("Health"), "uptime_s": {"type": "number"}, "source": {"type": "string"},
            "source_info": {"allOf": [_ref("SourceInfo")], "nullable": True, "description": "null before the "
                            "source opened"},
            "fps": {"type": "number"},
            "counters": {"type": "object", "additionalProperties": {"type": "integer"}},
            "last_error": {"type": "string", "nullable": True},
            "latency_ms": {"type": "object", "description": "per stage: p50_ms, p95_ms over the last frames",
                           "additionalProperties": {"type": "object", "properties": {
                               "p50_ms": {"type": "number"}, "p95_ms": {"type": "number"}}}},
            "detector_duty": {**NUMBER_01, "nullable": True, "description": "share of the recent frames the face "
                              "detector ran on (pipeline.detect_every); the expression model runs on all"},
            "models": {"type": "array", "items": {"type": "object"}},
            "sessions": {"type": "object", "nullable": True, "description": "kiosk sessions since the daemon "
                         "started: started, finished, erased, active"},
            "latest": {"type": "object", "nullable": True, "description": "the newest frame's faces",
                       "properties": {"index": {"type": "integer"},
                                      "time": {"type": "number", "description": "wall clock, epoch seconds, when "
                                               "the result was recorded"},
                                      "source_time_s": {"type": "number", "description": "the frame's time on "
                                                        "the source's own clock (a video's position)"},
                                      "faces": {"type": "array", "items": _ref("Face")},
                                      "primary_id": {"type": "integer", "nullable": True}}}}},
        "Face": {"type": "object", "properties": {
            "id": {"type": "integer"}, "box": {"type": "array", "items": {"type": "number"}, "minItems": 4,
                                              "maxItems": 4, "description": "x, y, width, height in pixels"},
            "detector_score": {**NUMBER_01, "description": "the detector's confidence that this is a face"},
            "label": {"type": "string", "description": "an expression, or uncertain"},
            "confidence": {**NUMBER_01, "description": "the expression's: its smoothed probability"}, "probabilities": {"type": "object", "additionalProperties": NUMBER_01}}},
        "Live": {"type": "object", "required": ["recording"], "properties": {
            "recording": {"type": "boolean"}, "session_id": {"type": "string", "nullable": True},
            "question_index": {"type": "integer", "nullable": True, "description": "the question on the kiosk, "
                               "in either phase"},
            "phase": {"type": "string", "enum": ["answer", "prepare"], "nullable": True,
                      "description": "null while recording before any question"},
            "phase_elapsed_s": {"type": "number", "nullable": True, "description": "seconds in this phase"},
            "elapsed_s": {"type": "number", "nullable": True},
            "latest": {"type": "object", "nullable": True, "description": "the last completed second"},
            "recording_error": {"type": "string", "nullable": True}}},
        "SourceInfo": {"type": "object", "properties": {
            "kind": {"type": "string", "enum": ["camera", "video file", "image folder", "pipeline"]},
            "demo": {"type": "boolean", "description": "a recorded file or folder, not a live camera: the "
                     "expressions shown are the recording's (the dashboard says so)"},
            "bundled_demo": {"type": "boolean", "description": "the demo clip shipped in media/"},
            "fallback": {"type": "string", "nullable": True, "description": "why source.fallback_spec runs "
                         "instead of source.spec; null when it does not"}}},
        "History": {"type": "object", "required": ["interval_s", "window_s", "labels", "points"], "properties": {
            "interval_s": {"type": "number", "description": "seconds each point sums up (history.interval_s)"},
            "window_s": {"type": "number", "description": "how far back the points reach at most "
                         "(history.window_minutes)"},
            "labels": {"type": "array", "items": {"type": "string"}, "description": "the keys of `shares`"},
            "points": {"type": "array", "items": _ref("HistoryPoint"), "description": "one per completed "
                       "interval since the first frame, oldest first"}}},
        "HistoryPoint": {"type": "object", "properties": {
            "time": {"type": "number", "description": "wall clock, epoch seconds, when the interval began"},
            "ago_s": {"type": "number", "description": "seconds from the interval's start to this answer"},
            "seconds": {"type": "number", "description": "seconds the interval covered (less for the first)"},
            "frames": {"type": "integer", "description": "frames processed; 0 while no frame came"},
            "fps": {"type": "number"}, "faces": {"type": "integer", "description": "faces seen over its frames"},
            "no_face": {**NUMBER_01, "nullable": True, "description": "share of its frames without a face"},
            "shares": {"type": "object", "nullable": True, "description": "share of the faces seen read as each "
                       "expression, and as uncertain; null without a face",
                       "properties": {k: NUMBER_01 for k in (*EXPRESSIONS, "uncertain")}},
            "latency_ms": {"type": "object", "nullable": True, "description": "the pipeline's per-frame latency "
                           "(within 5 %: read from a histogram); null without a frame", "properties": {
                               "p50": {"type": "number"}, "p95": {"type": "number"}}}}},
        "Csrf": {"type": "object", "required": ["csrf_token", "header"], "properties": {
            "csrf_token": {"type": "string"}, "header": {"type": "string", "enum": ["X-CSRF-Token"]}}},
    })
    one = [ID_PARAM]
    storage = _error("the SQLite file could not be written (e.g. disk full)")
    session_paths = {
        "/api/sessions": {
            "post": write({
                "summary": "Start recording a session (one at a time)",
                "requestBody": {"required": False, "content": {"application/json": {"schema": _ref("StartRequest")}}},
                "responses": {"201": {**_json(_ref("SessionDetail"), "the new session"),
                                      "links": _links("#/id", SESSION_OPERATIONS)},
                              "400": _error("malformed body"), "409": _error("a session is recording"),
                              "415": _error("body not sent as application/json"), "503": storage}}),
            "get": read({
                "summary": "Recent sessions, newest first",
                "parameters": [{"name": "limit", "in": "query", "schema": {
                    "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 20}}],
                "responses": {"200": {**_json({"type": "array", "items": _ref("Session")}, "sessions"),
                                      "links": _links("#/0/id", ("getSession", "exportSession", "eraseSession"))},
                              "400": _error("bad limit")}})},
        "/api/sessions/lookup": {"post": write({
            "summary": "A finished session's summary by its code (the kiosk's 'See my summary again')",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("LookupRequest")}}},
            "responses": {"200": {**_json(_ref("SessionDetail"), "the session"),
                                  "links": _links("#/id", FINISHED_OPERATIONS)},
                          "400": _error("malformed body, or not a code"), "404": _error("no summary has this code"),
                          "415": _error("body not sent as application/json"),
                          "429": _error("too many wrong codes (or tokens) from this client lately: wait the "
                                        "Retry-After header's seconds")}})},
        "/api/sessions/live": {"get": read({
            "summary": "The recording session's latest second (kiosk meter)",
            "responses": {"200": {**_json(_ref("Live"), "live state"),
                                  "links": _links("#/session_id", ("markQuestion", "stopSession"))}}})},
        "/api/sessions/{session_id}": {
            "get": read({"operationId": "getSession", "summary": "Summary and advice", "parameters": one,
                         "responses": {"200": _json(_ref("SessionDetail"), "the session"),
                                       "404": _error("unknown id")}}),
            "delete": write({"operationId": "eraseSession", "summary": "Erase the session and all its rows",
                             "parameters": one,
                             "responses": {"204": {"description": "erased"}, "404": _error("unknown id"),
                                           "503": storage}})},
        "/api/sessions/{session_id}/questions": {"post": write({
            "operationId": "markQuestion", "summary": "Mark the start of a question's answer or preparation",
            "parameters": one,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("QuestionRequest")}}},
            "responses": {"200": _json(_ref("Mark"), "the question and phase now on"), "400": _error("bad index"),
                          "404": _error("unknown id"), "409": _error("session not recording"),
                          "415": _error("body not sent as application/json"), "503": storage}})},
        "/api/sessions/{session_id}/stop": {"post": write({
            "operationId": "stopSession", "summary": "Stop recording; returns the summary", "parameters": one,
            "responses": {"200": _json(_ref("SessionDetail"), "the finished session, plus "
                                       "`recording_error`: null, or why some seconds were not stored"),
                          "404": _error("unknown id"), "409": _error("session not recording"), "503": storage}})},
        "/api/sessions/{session_id}/export": {"get": read({
            "operationId": "exportSession",
            "summary": "Download as JSON (summary and advice) or CSV (the 1 s timeline)",
            "parameters": [ID_PARAM, {"name": "format", "in": "query",
                                      "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"}}],
            "responses": {"200": {"description": "attachment", "content": {
                "application/json": {"schema": _ref("SessionDetail")}, "text/csv": {"schema": {"type": "string"}}}},
                "400": _error("bad format"), "404": _error("unknown id")}})},
    }
    live_paths = {
        "/api/status": {"get": read({
            "summary": "Faces with ids, smoothed expression probabilities, fps, per-stage latency, counters",
            "responses": {"200": _json(_ref("Status"), "the live state")}})},
        "/api/history": {"get": read({
            "summary": "The dashboard's history: expression mix, frame rate and latency per interval, the last "
                       "hour at most (in memory)",
            "responses": {"200": _json(_ref("History"), "the completed intervals"),
                          "503": _error("the history has not started")}})},
        "/api/health": {"get": public({
            "summary": "ok, degraded or failing, with the reasons (for systemd, monitoring, load balancers)",
            "responses": {"200": _json(_ref("Health"), "ok or degraded"),
                          "503": _json(_ref("Health"), "failing")}})},
        "/api/stream": {"get": read({
            "summary": "Server-sent events: one Status document per processed frame, heartbeats when idle",
            "responses": {"200": {"description": "an endless event stream",
                                  "content": {"text/event-stream": {"schema": {"type": "string"}}}}}})},
        "/api/preview.jpg": {"get": read({
            "summary": "The newest camera frame, only when web.preview is enabled",
            "responses": {"200": {"description": "JPEG", "content": {"image/jpeg": {"schema": {
                "type": "string", "format": "binary"}}}},
                "404": _error("the preview is disabled (the default)"), "503": _error("no frame yet")}})},
        "/api/monitoring": {"get": read({
            "summary": "Input quality, expression drift and health over sliding windows, each ok, warn or alert",
            "responses": {"200": _json(MONITORING_SCHEMA, "the latest evaluation, at most 1 s old"),
                          "503": _error("monitoring has not started")}})},
        "/metrics": {"get": read({
            "summary": "Prometheus metrics",
            "responses": {"200": {"description": "Prometheus text format",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}}})},
        "/api/csrf": {"get": read({
            "summary": "The CSRF value a state change without the bearer header must carry",
            "responses": {"200": _json(_ref("Csrf"), "the value and the header to send it in")}})},
        "/api/openapi.json": {"get": public({
            "summary": "This document", "responses": {"200": _json({"type": "object"}, "OpenAPI 3.0")}})},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "fer-edge", "version": "1",
                 "description": "Live facial-expression results of the booth's camera, and per-second expression "
                                "aggregates and advice for kiosk practice sessions. No image is stored or "
                                "returned (the preview exists only when an operator enables it). Advice is not "
                                "an assessment of the person."},
        "paths": {**live_paths, **session_paths},
        "components": {"schemas": schemas, "securitySchemes": {
            name: scheme for name, scheme in SECURITY_SCHEMES.items() if token or name == "csrfHeader"}},
    }
