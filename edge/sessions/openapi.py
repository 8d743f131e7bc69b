"""OpenAPI 3.0 description of the session API, written by hand so it reads as the API's documentation.

Limits come from edge.sessions.api's request models, so the document cannot drift from what is enforced.
"""
from __future__ import annotations

from typing import Any

from edge.sessions.settings import EXPRESSIONS


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


NUMBER_01 = {"type": "number", "minimum": 0, "maximum": 1}
ID_PARAM = {"name": "session_id", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}, "description": "uuid4 hex id"}


def openapi_document(max_alias: int, max_questions: int, max_question_chars: int, max_limit: int) -> dict[str, Any]:
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
        "questions": {"type": "array", "items": {"type": "string"}},
        "segments": {"type": "array", "items": _ref("Segment")},
        "summary": {"type": "object", "properties": {"overall": _ref("SummaryPart"),
                                                      "segments": {"type": "array", "items": _ref("SummaryPart")}}},
        "advice": {"type": "array", "items": _ref("Tip")},
        "disclaimer": {"type": "string", "description": "what the model can and cannot tell"}}}]}
    schemas = {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
        "StartRequest": {"type": "object", "additionalProperties": False, "properties": {
            "alias": {"type": "string", "maxLength": max_alias, "description": "optional first name or nickname"},
            "questions": {"type": "array", "maxItems": max_questions,
                          "items": {"type": "string", "minLength": 1, "maxLength": max_question_chars}}}},
        "QuestionRequest": {"type": "object", "additionalProperties": False, "required": ["index"], "properties": {
            "index": {"type": "integer", "minimum": 0, "maximum": max_questions - 1,
                      "description": "0-based; must be within `questions` when a list was given"}}},
        "Session": session, "SessionDetail": detail, "Shares": shares, "SummaryPart": part,
        "Second": {"type": "object", "properties": {
            "t": {"type": "integer", "description": "seconds since the first recorded second"},
            "segment": {"type": "integer", "nullable": True}, "face_present": NUMBER_01, "uncertain": NUMBER_01,
            "shares": {"type": "object", "description": "confidence-weighted mean over the second's confident frames",
                       "properties": {k: NUMBER_01 for k in EXPRESSIONS}},
            "dominant": {"type": "string", "nullable": True}}},
        "Segment": {"type": "object", "properties": {"index": {"type": "integer"}, "question": {"type": "string"},
                                                     "started_at": {"type": "number"}}},
        "Tip": {"type": "object", "properties": {
            "segment": {"type": "integer", "nullable": True, "description": "question index; null: whole session"},
            "rule": {"type": "string"}, "text": {"type": "string"},
            "figure": {**NUMBER_01, "description": "the share the tip is based on"}}},
    }
    one = [ID_PARAM]
    storage = _error("the SQLite file could not be written (e.g. disk full)")
    return {
        "openapi": "3.0.3",
        "info": {"title": "fer-edge interview-practice sessions", "version": "1",
                 "description": "Per-second expression aggregates and advice for a kiosk booth. No image is "
                                "stored or returned. Advice is not an assessment of the person."},
        "paths": {
            "/api/sessions": {
                "post": {"summary": "Start recording a session (one at a time)",
                         "requestBody": {"required": False, "content": {"application/json": {
                             "schema": _ref("StartRequest")}}},
                         "responses": {"201": _json(_ref("SessionDetail"), "the new session"),
                                       "400": _error("malformed body"), "409": _error("a session is recording"),
                                       "415": _error("body not sent as application/json"), "503": storage}},
                "get": {"summary": "Recent sessions, newest first",
                        "parameters": [{"name": "limit", "in": "query", "schema": {
                            "type": "integer", "minimum": 1, "maximum": max_limit, "default": 20}}],
                        "responses": {"200": _json({"type": "array", "items": _ref("Session")}, "sessions"),
                                      "400": _error("bad limit")}}},
            "/api/sessions/live": {"get": {"summary": "The recording session's latest second (kiosk meter)",
                                           "responses": {"200": _json({"type": "object"}, "live state")}}},
            "/api/sessions/{session_id}": {
                "get": {"summary": "Summary and advice", "parameters": one,
                        "responses": {"200": _json(_ref("SessionDetail"), "the session"), "404": _error("unknown id")}},
                "delete": {"summary": "Erase the session and all its rows", "parameters": one,
                           "responses": {"204": {"description": "erased"}, "404": _error("unknown id")}}},
            "/api/sessions/{session_id}/questions": {"post": {
                "summary": "Mark the start of a question", "parameters": one,
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("QuestionRequest")}}},
                "responses": {"200": _json(_ref("Segment"), "the segment"), "400": _error("bad index"),
                              "404": _error("unknown id"), "409": _error("session not recording"),
                              "415": _error("body not sent as application/json"), "503": storage}}},
            "/api/sessions/{session_id}/stop": {"post": {
                "summary": "Stop recording; returns the summary", "parameters": one,
                "responses": {"200": _json(_ref("SessionDetail"), "the finished session, plus "
                                           "`recording_error`: null, or why some seconds were not stored"),
                              "404": _error("unknown id"), "409": _error("session not recording"), "503": storage}}},
            "/api/sessions/{session_id}/export": {"get": {
                "summary": "Download as JSON (summary and advice) or CSV (the 1 s timeline)",
                "parameters": [ID_PARAM, {"name": "format", "in": "query",
                                          "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"}}],
                "responses": {"200": {"description": "attachment", "content": {
                    "application/json": {"schema": _ref("SessionDetail")}, "text/csv": {"schema": {"type": "string"}}}},
                    "400": _error("bad format"), "404": _error("unknown id")}}},
            "/api/openapi.json": {"get": {"summary": "This document",
                                          "responses": {"200": _json({"type": "object"}, "OpenAPI 3.0")}}},
        },
        "components": {"schemas": schemas},
    }
