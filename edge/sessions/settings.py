"""Configuration of interview-practice sessions: where the aggregates live, for how long, which advice rules run.

EdgeConfig holds a `SessionSettings` as its `sessions` section. The advice rules, their thresholds and
texts are code (edge/sessions/advice.py, docs/advice.md); `sessions.advice` may only turn a rule off or
retune its threshold, validated there (an unknown rule id is an error that lists the known ones).
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from edge.sessions.advice import AdviceSettings
from edge.strict import Strict

EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


# Question banks: limits shared with the session API (edge/sessions/api.py), which enforces the same on a start.
MAX_QUESTIONS, MAX_QUESTION_CHARS = 50, 300
MAX_BANKS, MAX_BANK_NAME = 12, 40
MAX_PREPARE_S, MAX_ANSWER_S = 600, 3600
# The kiosk's idle timeout: at least this long, so a candidate reading the summary is not cut off; at most an
# hour (a booth that wants no timeout sets 0).
MIN_IDLE_S, MAX_IDLE_S = 10, 3600


class QuestionBank(Strict):
    name: str = Field(min_length=1, max_length=MAX_BANK_NAME, description="shown on the kiosk's button, e.g. "
                      "'General'")
    questions: tuple[str, ...] = Field(min_length=1, max_length=MAX_QUESTIONS, description="asked in this order, "
                                       f"1 to {MAX_QUESTIONS}, each at most {MAX_QUESTION_CHARS} characters")

    @field_validator("name")
    @classmethod
    def _name_has_text(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("a bank's name must contain more than white space")
        return name.strip()

    @field_validator("questions")
    @classmethod
    def _questions_have_text(cls, questions: tuple[str, ...]) -> tuple[str, ...]:
        for i, question in enumerate(questions):
            if not question.strip():
                raise ValueError(f"question {i + 1} is empty (only white space)")
            if len(question.strip()) > MAX_QUESTION_CHARS:
                raise ValueError(f"question {i + 1} is {len(question.strip())} characters long; at most "
                                 f"{MAX_QUESTION_CHARS} fit on the kiosk's screen")
        return tuple(q.strip() for q in questions)


DEFAULT_BANKS: tuple[QuestionBank, ...] = (
    QuestionBank(name="General", questions=(
        "Tell me about yourself.",
        "Why do you want this job?",
        "What are you good at, and what are you working on getting better at?",
        "Where would you like to be in a few years?")),
    QuestionBank(name="Behavioural", questions=(
        "Tell me about a time you solved a difficult problem. What did you do?",
        "Describe a time you disagreed with someone at work or school. How did you handle it?",
        "Tell me about a mistake you made and what you learnt from it.",
        "Give an example of working in a team towards a shared goal. What was your part?")),
    QuestionBank(name="Technical", questions=(
        "Explain a technical topic you know well to someone who is new to it.",
        "How would you find the cause of a problem that only happens now and then?",
        "Tell me about something you built or improved. Which decisions did you make, and why?",
        "How do you keep your skills up to date?")),
)


class SessionSettings(Strict):
    db_path: Path = Field(Path("state/sessions.db"), description="SQLite file of session aggregates (never "
                          "images); the systemd unit points it into its StateDirectory")
    retention_days: int = Field(30, ge=1, description="finished sessions older than this many days are "
                                "deleted, at start-up and daily")
    advice: AdviceSettings = Field((), description="changes to the built-in advice rules (docs/advice.md): each "
                                   "entry names a `rule` and turns it off (enabled = false) or sets its `threshold`")
    operator_name: str | None = Field(None, min_length=1, max_length=200, description="who runs the booth (the "
                                      "data controller), shown on the candidates' privacy page; a start-up "
                                      "warning while unset")
    operator_contact: str | None = Field(None, min_length=1, max_length=300, description="how a candidate "
                                         "reaches the operator about their data (e-mail, address or desk)")
    question_banks: tuple[QuestionBank, ...] = Field(DEFAULT_BANKS, max_length=MAX_BANKS, description="the sets "
                                                     "of questions a candidate chooses from on the kiosk, in "
                                                     "this order")
    own_questions: bool = Field(True, description="the kiosk also offers a box to type one's own questions "
                                "(needs a keyboard at the booth)")
    prepare_s: int = Field(10, ge=0, le=MAX_PREPARE_S, description="seconds the kiosk shows each question "
                           "before its answer is recorded (a countdown; nothing is recorded meanwhile); 0: none")
    answer_s: int = Field(90, ge=0, le=MAX_ANSWER_S, description="seconds of answer per question: the kiosk "
                          "then moves on to the next question (or the summary after the last); 0: no limit")
    summary_idle_s: int = Field(120, ge=0, le=MAX_IDLE_S, description="seconds without a touch, click, key or "
                                "scroll after which the kiosk's summary (and its consent, question, code and "
                                "deleted screens) returns to the start screen, so the next person does not find "
                                "it; never while recording; a notice to stay shows for the last 10 s (the "
                                f"second half below 20 s). {MIN_IDLE_S} at least; 0: never")

    @field_validator("summary_idle_s")
    @classmethod
    def _idle_not_too_short(cls, seconds: int) -> int:
        if 0 < seconds < MIN_IDLE_S:
            raise ValueError(f"{seconds} s would cut off a candidate still reading: 0 (never) or at least "
                             f"{MIN_IDLE_S} s")
        return seconds

    @field_validator("question_banks")
    @classmethod
    def _bank_names_unique(cls, banks: tuple[QuestionBank, ...]) -> tuple[QuestionBank, ...]:
        seen: set[str] = set()
        for bank in banks:
            if bank.name.casefold() in seen:
                raise ValueError(f"two banks are named {bank.name!r}: each needs its own name")
            seen.add(bank.name.casefold())
        return banks

    @model_validator(mode="after")
    def _something_to_ask(self) -> SessionSettings:
        if not self.question_banks and not self.own_questions:
            raise ValueError("question_banks is empty and own_questions is false: the kiosk would have no "
                             "questions to offer")
        return self
