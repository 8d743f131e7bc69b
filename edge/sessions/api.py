"""The session JSON API, a Flask blueprint mounted under /api: start, mark questions, stop, read, look up by
code, export, erase.

Every error is JSON `{"error": ...}` saying what was wrong. Bodies must be declared application/json:
that also makes a cross-site browser request need a CORS preflight, which this API never grants. Who
may call it at all is edge/web/security.py's business.

A finished session gets a short code (edge/sessions/store.py) that opens its summary again on the kiosk
until retention deletes it. POST /api/sessions/lookup takes it in the body (never in a URL, which browsers
keep in their history); failed lookups are throttled per client with edge/web/throttle.py's FailureThrottle, and no
endpoint lists codes.
"""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from flask import Blueprint, Response, jsonify, request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from werkzeug.routing import BaseConverter

from edge.sessions.advice import ADVICE_DISCLAIMER, AdviceRules
from edge.sessions.aggregate import summarize
from edge.sessions.recorder import NotRecording, SessionBusy, SessionRecorder
from edge.sessions.settings import EXPRESSIONS, MAX_QUESTION_CHARS, MAX_QUESTIONS, SessionSettings
from edge.sessions.store import CODE_LENGTH, SessionStore, normalize_code
from edge.web.throttle import FAILURE_LIMIT, FailureThrottle, client_key, retry_after_s

MAX_ALIAS = 64
MAX_CODE_CHARS = 20  # a code as typed, with spaces or dashes
DEFAULT_LIMIT, MAX_LIMIT = 20, 200


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class NotReady(Exception):
    """Why a practice session cannot start now: `candidate` in plain words, `staff` what to check."""

    def __init__(self, candidate: str, staff: str):
        super().__init__(candidate)
        self.candidate, self.staff = candidate, staff


class _Body(BaseModel):
    # strict: "3" is not an index and true is not a number; a typo'd field is an error, not ignored
    model_config = ConfigDict(extra="forbid", strict=True)


def _has_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain more than white space")
    return value


class StartRequest(_Body):
    # Limits apply to the text as sent, white space included, as the OpenAPI document says; the handler
    # strips it afterwards.
    alias: Annotated[str, StringConstraints(max_length=MAX_ALIAS)] | None = None
    questions: list[Annotated[str, StringConstraints(max_length=MAX_QUESTION_CHARS), AfterValidator(_has_text)]] | \
        None = Field(None, max_length=MAX_QUESTIONS)
    prepare: bool = False  # record nothing until the first answer is marked (the kiosk's countdown)


class QuestionRequest(_Body):
    index: int = Field(ge=0, lt=MAX_QUESTIONS)
    phase: Literal["answer", "prepare"] = "answer"


class LookupRequest(_Body):
    code: Annotated[str, StringConstraints(max_length=MAX_CODE_CHARS)]


def _parse(model: type[_Body]) -> Any:
    raw = request.get_data()
    if raw.strip():
        if not request.is_json:
            raise ApiError(415, "send the body as JSON with Content-Type: application/json")
        try:
            data = json.loads(raw)
            # a lone surrogate (\ud800 escaped in the JSON text) parses, but SQLite cannot store it
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise ApiError(400, "body is not valid JSON: nested too deeply") from None
        except UnicodeEncodeError:
            raise ApiError(400, "body has a string that is not valid Unicode (a lone surrogate)") from None
        except ValueError as e:  # UnicodeDecodeError too: the body is not UTF-8
            raise ApiError(400, f"body is not valid JSON: {e}") from None
    else:
        data = {}
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ApiError(400, "; ".join(_describe(err) for err in e.errors())) from None


def _describe(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "body"
    if err["type"] == "extra_forbidden":
        return f"unknown field {where!r}"
    return f"{where}: {err['msg'].removeprefix('Value error, ')}"


class SessionIdConverter(BaseConverter):
    """Any path segment but "live" and "lookup": /api/sessions/live is the live meter and /api/sessions/lookup
    the code lookup, so DELETE or GET there is a wrong method (405), not an attempt to erase or read a session
    called "live"."""
    regex = r"(?!(live|lookup)$)[^/]+"


def sessions_blueprint(store: SessionStore, recorder: SessionRecorder, advice: AdviceRules,
                       ready: Callable[[], None] = lambda: None, clock: Callable[[], float] = time.time,
                       lookup_limit: int = FAILURE_LIMIT) -> Blueprint:
    """`ready()` raises NotReady while a session would record nothing (no camera picture yet, camera down).
    `lookup_limit` wrong codes from a client within throttle.FAILURE_WINDOW_S lock its lookups out for as long again."""
    bp = Blueprint("sessions", __name__, url_prefix="/api")
    lookups = FailureThrottle(clock, lookup_limit, failures="wrong summary codes", refused="its code lookups")
    # before the routes: a converter must be known when the rules that use it are added
    bp.record_once(lambda setup: setup.app.url_map.converters.setdefault("session", SessionIdConverter))

    def load(session_id: str) -> dict:
        session = store.get(session_id)
        if session is None:
            raise ApiError(404, f"no session with id {session_id[:64]!r}")
        return session

    def detail(session: dict) -> dict:
        # A session still recording is summarized from the rows stored so far.
        summary = session["summary"] or summarize(store.timeline(session["id"]), session["segments"])
        return {**session, "summary": summary, "advice": advice.advise(summary), "disclaimer": ADVICE_DISCLAIMER}

    @bp.errorhandler(ApiError)
    def api_error(e: ApiError):
        return jsonify({"error": str(e)}), e.status

    @bp.errorhandler(NotReady)
    def not_ready(e: NotReady):
        return jsonify({"error": e.candidate, "staff": e.staff}), 503, {"Retry-After": "5"}

    @bp.errorhandler(SessionBusy)
    @bp.errorhandler(NotRecording)
    def conflict(e: Exception):
        return jsonify({"error": str(e)}), 409

    @bp.errorhandler(sqlite3.Error)
    def storage(e: sqlite3.Error):
        return jsonify({"error": f"session storage failed: {e}"}), 503

    @bp.post("/sessions")
    def start():
        body = _parse(StartRequest)
        ready()
        session = recorder.start((body.alias or "").strip() or None, [q.strip() for q in body.questions or []],
                                 prepare=body.prepare)
        return jsonify(detail(session)), 201

    @bp.post("/sessions/lookup")
    def lookup():
        """A finished session's summary by its code; wrong codes count against the client (FailureThrottle)."""
        address = client_key(request.remote_addr or "unknown")
        if wait := lookups.wait_s(address):
            seconds = retry_after_s(wait)
            return (jsonify({"error": f"too many wrong codes from this device: wait {seconds} s, then try again"}),
                    429, {"Retry-After": str(seconds)})
        body = _parse(LookupRequest)
        code = normalize_code(body.code)
        if code is None:
            raise ApiError(400, f"a code is {CODE_LENGTH} letters and digits, e.g. ABCD-EFGH (no 0, 1, I, L, O, U "
                                "or V)")
        session_id = store.find_code(code)
        if session_id is None:
            lookups.failed(address)
            raise ApiError(404, "no summary has this code: check it, or it may have been deleted or reached the end "
                                "of its retention period")
        return jsonify(detail(load(session_id)))

    @bp.get("/sessions")
    def recent():
        raw = request.args.get("limit", str(DEFAULT_LIMIT))
        # ASCII and short: str.isdigit() also accepts "²", and int() refuses numbers over 4300 digits
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not 1 <= int(raw) <= MAX_LIMIT:
            raise ApiError(400, f"limit must be an integer from 1 to {MAX_LIMIT} (got {raw[:20]!r})")
        return jsonify(store.list(int(raw)))

    @bp.get("/sessions/live")
    def live():
        return jsonify(recorder.live())

    @bp.get("/sessions/<session:session_id>")
    def get(session_id: str):
        return jsonify(detail(load(session_id)))

    @bp.post("/sessions/<session:session_id>/questions")
    def mark(session_id: str):
        load(session_id)
        body = _parse(QuestionRequest)
        try:
            return jsonify(recorder.mark_question(body.index, session_id, body.phase))
        except IndexError as e:
            raise ApiError(400, str(e)) from None

    @bp.post("/sessions/<session:session_id>/stop")
    def stop(session_id: str):
        load(session_id)
        # recording_error: some seconds could not be stored (e.g. full disk); the kiosk should say so
        return jsonify({**detail(recorder.stop(session_id)), "recording_error": recorder.recording_error})

    @bp.get("/sessions/<session:session_id>/export")
    def export(session_id: str):
        fmt = request.args.get("format", "json")
        if fmt not in ("json", "csv"):
            raise ApiError(400, f"format must be json or csv (got {fmt[:20]!r})")
        session = load(session_id)
        headers = {"Content-Disposition": f'attachment; filename="session-{session["id"]}.{fmt}"'}
        if fmt == "json":
            return Response(json.dumps(detail(session), indent=2), mimetype="application/json", headers=headers)
        return Response(_timeline_csv(store.timeline(session["id"])), mimetype="text/csv", headers=headers)

    @bp.delete("/sessions/<session:session_id>")
    def erase(session_id: str):
        load(session_id)
        recorder.discard(session_id)  # erasing mid-session: stop recording it first, keep nothing
        store.delete(session_id)
        return "", 204

    return bp


def kiosk_setup(settings: SessionSettings) -> dict:
    """What the kiosk page needs from the config, rendered into it as JSON (<script type="application/json"
    id="kiosk-setup">): the question banks, whether own questions may be typed, the timers (the idle timeout
    among them), the retention."""
    return {"banks": [{"name": b.name, "questions": list(b.questions)} for b in settings.question_banks],
            "own_questions": settings.own_questions, "prepare_s": settings.prepare_s, "answer_s": settings.answer_s,
            "summary_idle_s": settings.summary_idle_s,
            "retention_days": settings.retention_days, "max_questions": MAX_QUESTIONS,
            "max_question_chars": MAX_QUESTION_CHARS}


def _timeline_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["t", "second", "segment", "face_present", "uncertain", *EXPRESSIONS])
    start = rows[0]["second"] if rows else 0
    for r in rows:
        writer.writerow([r["second"] - start, r["second"], "" if r["segment"] is None else r["segment"],
                         round(r["face_present"], 4), round(r["uncertain"], 4),
                         *(round(r["shares"][e], 4) for e in EXPRESSIONS)])
    return out.getvalue()
