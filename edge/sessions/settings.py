"""Configuration of interview-practice sessions: where the aggregates live, for how long, which advice rules run.

EdgeConfig holds a `SessionSettings` as its `sessions` section; the advice rules are data so that an
operator can reword or retune a tip without touching code, while validation keeps every tip kind,
explainable (it must show its figure) and free of any judgement of the person.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge.strict import Strict

EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# What a rule can measure: a sum of expression shares, or one of the two quality figures on its own.
MEASURES = (*EXPRESSIONS, "uncertain", "face_present")
# A tip describes what the camera saw; it never rates the candidate. Operators' rewordings are checked too.
JUDGEMENT_WORDS = re.compile(r"\b(scor\w*|hir(e|ed|es|ing)|fail\w*|grad(e|ed|es|ing)|rank\w*|pass(ed)?)\b", re.I)


class AdviceRule(Strict):
    id: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$",
                    description="stable rule name, returned with each tip so a tip can be traced to its rule")
    expressions: tuple[Literal[MEASURES], ...] = Field(  # type: ignore[valid-type]
        min_length=1, description="expressions whose shares are added up (e.g. the four 'tense' ones), or "
        "'uncertain' or 'face_present' alone")
    threshold: float = Field(ge=0, le=1, description="share (0..1) the figure is compared with")
    comparison: Literal["above", "below"] = Field(description="a tip is given when the figure is above "
                                                  "(or below) the threshold")
    scope: Literal["session", "question", "both"] = Field("both", description="evaluate over the whole "
                                                          "session, over each question, or both")
    text: str = Field(min_length=1, max_length=300, description="the tip; placeholders: {where} ('During "
                      "question 2' / 'Across the session'), {percent} (the figure, e.g. '40 %')")

    @field_validator("text")
    @classmethod
    def _explainable_and_kind(cls, text: str) -> str:
        if "{percent}" not in text:
            raise ValueError("the text must show the figure it comes from: include {percent}")
        try:
            text.format(where="During question 1", percent="40 %")
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"only the placeholders {{where}} and {{percent}} may be used ({e!r})") from e
        if JUDGEMENT_WORDS.search(text):
            raise ValueError("advice describes expressions, it never rates the person: "
                             f"remove {JUDGEMENT_WORDS.search(text).group(0)!r}")
        return text

    @model_validator(mode="after")
    def _quality_measures_alone(self) -> AdviceRule:
        # Adding face_present (a share of time) to an expression share (a share of face time) means nothing.
        quality = {"uncertain", "face_present"} & set(self.expressions)
        if quality and len(self.expressions) > 1:
            raise ValueError(f"{sorted(quality)[0]!r} must be the only entry of `expressions`")
        return self


DEFAULT_RULES: tuple[AdviceRule, ...] = (
    AdviceRule(id="tense", expressions=("angry", "fear", "disgust", "sad"), threshold=0.3, comparison="above",
               text="{where} most people would have read your face as tense (anger, fear, disgust or sadness) for "
                    "{percent} of the time; "
                    "try a slow breath before answering."),
    AdviceRule(id="few_smiles", expressions=("happy",), threshold=0.05, comparison="below", scope="session",
               text="{where} you smiled for {percent} of the time; a friendly smile as you open an answer "
                    "helps you come across warmly."),
    AdviceRule(id="out_of_view", expressions=("face_present",), threshold=0.7, comparison="below",
               text="{where} your face was in the camera's view {percent} of the time; try to stay centred "
                    "in front of the camera so the feedback covers your whole answer."),
    AdviceRule(id="hard_to_read", expressions=("uncertain",), threshold=0.4, comparison="above", scope="session",
               text="{where} the model could not read your expression {percent} of the time; more light on "
                    "your face and looking towards the camera make the feedback more reliable."),
    AdviceRule(id="calm_and_friendly", expressions=("happy", "neutral"), threshold=0.6, comparison="above",
               scope="session", text="{where} most people would have read your face as calm or friendly for {percent} "
                                     "of the time; "
                                     "that is a good basis, keep it up."),
)


class SessionSettings(Strict):
    db_path: Path = Field(Path("state/sessions.db"), description="SQLite file of session aggregates (never "
                          "images); the systemd unit points it into its StateDirectory")
    retention_days: int = Field(30, ge=1, description="finished sessions older than this many days are "
                                "deleted, at start-up and daily")
    advice: tuple[AdviceRule, ...] = Field(DEFAULT_RULES, description="rules that turn a session's "
                                           "aggregates into practical tips")
    operator_name: str | None = Field(None, min_length=1, max_length=200, description="who runs the booth (the "
                                      "data controller), shown on the candidates' privacy page; a start-up "
                                      "warning while unset")
    operator_contact: str | None = Field(None, min_length=1, max_length=300, description="how a candidate "
                                         "reaches the operator about their data (e-mail, address or desk)")
