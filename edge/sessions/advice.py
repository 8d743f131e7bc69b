"""Practice tips from a session summary: a small rule set, each rule with its threshold, phrasings and reason.

A tip says what the camera model saw, as a share of time: how often most people would have read the face
as calm, smiling, tense, subdued or surprised (the model learnt from ten annotators' readings of each face,
FER+), how often the face was out of view or could not be read. It never says what the candidate feels,
never rates them, and every answer carries ADVICE_DISCLAIMER.

`AdviceRules(settings).advise(summary)` returns a list of tips, each
  {"segment": question index or None (the whole session), "rule": RULES id, "kind": "strength" |
   "suggestion" | "note", "figure": the share (0..1) the tip comes from or None, "text": the tip},
session-wide tips first, then each question's in order; within one scope strengths, then suggestions,
then notes. Every text shows its figure (e.g. "42 %"; a tip without a share shows seconds instead).
Every question gets at least one line: a strength (`steady`) when nothing else stood out, a note when
the answer was too short or the face could not be read.

The rules and their thresholds are all in RULES below; operators may turn rules off or retune a
threshold through `sessions.advice` (RuleSetting), never reword them. docs/advice.md lists them with an
example each, written by `python -m edge.devtools.advice_doc` (tests/test_advice.py checks it is current).
The module is longer than most on purpose: the whole rule set, its checks and its phrasings (RULES, about
half of it) stay in one place, where an operator or a reviewer reads every tip the kiosk can give.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import AfterValidator, Field, field_validator, model_validator

from edge.strict import Strict

ADVICE_DISCLAIMER = (
    "These tips come from a camera model that estimates, second by second, how most people would read your "
    "face (it learnt from ten people's readings of each of thousands of faces): how often it would look "
    "happy, neutral, tense, subdued or surprised to them, and when it could not tell. It "
    "cannot tell what you feel or think, how good your answers were, or whether you suit a job, and it makes "
    "mistakes, more so with poor lighting, a turned head, glasses or masks. This is not a score or an "
    "assessment of you and must not be used for decisions about you; use it only for your own practice.")

# A tip describes what the camera saw; it never rates the candidate (tests/test_advice.py checks every phrasing).
JUDGEMENT_WORDS = re.compile(r"\b(scor\w*|hir(e|ed|es|ing)|fail\w*|grad(e|ed|es|ing)|rank\w*|pass(ed)?|"
                             r"rat(ed|ing)|suitab\w*|employab\w*|good|bad|poor|weak\w*|wrong)\b", re.I)
# ... nor claims to know what they feel: the model tells how a face would be read, not what is behind it.
FEELING_WORDS = re.compile(r"\b(you (felt|feel|were (nervous|anxious|afraid|scared|angry|sad|happy|stressed|"
                           r"calm|relaxed|confident))|nervous\w*|anxi\w*|confiden\w*|emotion\w*|stress\w*)\b", re.I)

Kind = Literal["strength", "suggestion", "note"]
KINDS: tuple[Kind, ...] = ("strength", "suggestion", "note")  # the order within one scope

TENSE = ("angry", "fear", "disgust")  # sadness is not tension: `subdued` reads it apart, gently
AT_EASE = ("happy", "neutral")
OPENING_S = 5  # "the start of an answer": its first seconds
OPENING_MIN_READABLE_S = 3.0  # fewer readable seconds than this in the opening: no opening is judged
MAX_THRESHOLD_S = 600.0


class Found(NamedTuple):
    figure: float | None  # a share 0..1 (rounded to whole percent), or None where the tip counts seconds
    fields: dict[str, Any] = {}  # noqa: RUF012 (never mutated: _apply copies it)
    variant: int | None = None  # the phrasing to use, where it depends on the case rather than the question


@dataclass(frozen=True)
class Rule:
    id: str
    kind: Kind
    # answer: each question (or the session, when it had no questions); session: the session as a whole,
    # across its questions; both: once for the session where the whole session crosses the threshold, else
    # per question
    scope: Literal["answer", "session", "both"]
    threshold: float | None  # None: the rule has none (steady)
    unit: Literal["share", "seconds"] | None  # share: 0..1 of time (shown in %); seconds
    figure: str  # for docs/advice.md: what the tip's figure is
    fires: str  # ... when the rule gives a tip
    why: str  # ... what a coach would want the candidate to take from it
    phrasings: tuple[str, ...]
    check: Callable[[Context, Answer, Sequence[dict]], Found | None] = field(repr=False, compare=False)


def percent(share: float) -> str:
    return f"{round(share * 100)} %"


def share(x: float) -> float:
    """Figures are compared and shown in whole percent, so a tip never says "20 %" of a rule for "above 20 %"."""
    return round(x, 2)


def short_question(text: str | None, limit: int = 48) -> str:
    """The question as a short quote: whole when it fits, else cut at a word, without a closing full stop."""
    text = " ".join((text or "").split()).rstrip(". ")
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(",;:.-– ") + "…"


@dataclass(frozen=True)
class Answer:
    """One question's part of the summary, or the whole session when it had no questions (segment None)."""
    segment: int | None
    label: str  # 'question 2 (“Why us?”)', or 'the session'
    part: dict

    @property
    def duration(self) -> float:
        return float(self.part.get("duration_s") or 0)

    @property
    def face_s(self) -> float:
        return self.duration * float(self.part.get("face_present") or 0)

    @property
    def readable_s(self) -> float:
        """Seconds with a face the model could read (not uncertain): what the expression shares rest on."""
        return self.face_s * (1 - self.shares.get("uncertain", 0.0))

    @property
    def shares(self) -> dict[str, float]:
        return self.part.get("shares") or {}

    def share_of(self, names: Sequence[str]) -> float:
        return share(sum(self.shares.get(n, 0.0) for n in names))

    def opening_happy(self) -> float | None:
        """Share of face time read as happy over the first OPENING_S seconds, as `shares` counts it."""
        opening = (self.part.get("timeline") or [])[:OPENING_S]
        face = sum(s["face_present"] for s in opening)
        readable = sum(s["face_present"] * (1 - s["uncertain"]) for s in opening)
        if readable < OPENING_MIN_READABLE_S - 0.01:
            return None
        return share(sum(s["face_present"] * (1 - s["uncertain"]) * s["shares"].get("happy", 0.0)
                         for s in opening) / face)


@dataclass
class Context:
    thresholds: dict[str, float]
    answers: list[Answer]  # the questions, or the whole session alone when it had none
    with_questions: bool

    def t(self, rule_id: str) -> float:
        return self.thresholds[rule_id]

    def long_enough(self, a: Answer) -> bool:
        """Not a short answer (short_answer's threshold): below it no share is worth a tip."""
        return a.duration >= self.t("short_answer") - 1e-9

    def usable(self, a: Answer) -> bool:
        """Long enough, with enough readable face time (little_to_read's threshold) for expression shares."""
        # the shares are rounded to 4 places: 6 s x 0.8333 is 5 s
        return self.long_enough(a) and a.readable_s >= self.t("little_to_read") - 0.01

    def eligible(self) -> list[Answer]:
        """The questions the comparisons and the opening rules weigh against each other."""
        return [a for a in self.answers if self.usable(a)]


def at_least(figure: float, threshold: float) -> bool:
    return figure >= threshold - 1e-9


# --- the checks, one per rule (RULES below says what each measures, its threshold and why) -----------------

def _at_ease(ctx: Context, a: Answer, fired: Sequence[dict]) -> Found | None:
    f = a.share_of(AT_EASE)
    return Found(f) if ctx.usable(a) and at_least(f, ctx.t("at_ease")) else None


def _opening_smile(ctx: Context, a: Answer, fired: Sequence[dict]) -> Found | None:
    f = a.opening_happy() if ctx.usable(a) else None
    return Found(f) if f is not None and at_least(f, ctx.t("opening_smile")) else None


def _steady(ctx: Context, a: Answer, fired: Sequence[dict]) -> Found | None:
    # The last answer rule: a strength where no other strength and nothing to try came up.
    if not ctx.usable(a) or any(tip["kind"] in ("strength", "suggestion") for tip in fired):
        return None
    return Found(a.share_of(AT_EASE))


def _expression(names: Sequence[str], rule_id: str) -> Callable[[Context, Answer, Sequence[dict]], Found | None]:
    def check(ctx: Context, a: Answer, fired: Sequence[dict]) -> Found | None:
        f = a.share_of(names)
        return Found(f) if ctx.usable(a) and at_least(f, ctx.t(rule_id)) else None
    return check


def _out_of_view(ctx: Context, a: Answer, fired: Sequence[dict]) -> Found | None:
    f = share(float(a.part.get("face_present") or 0))
    enough = ctx.long_enough(a)
    return Found(f) if enough and f < ctx.t("out_of_view") - 1e-9 else None


def _hard_to_read(ctx: Context, a: Answer, fired: Sequence[dict]) -> Found | None:
    f = share(a.shares.get("uncertain", 0.0))
    enough = ctx.long_enough(a) and a.face_s >= ctx.t("little_to_read") - 0.01
    return Found(f) if enough and at_least(f, ctx.t("hard_to_read")) else None


def _short_answer(ctx: Context, a: Answer, fired: Sequence[dict]) -> Found | None:
    return None if ctx.long_enough(a) else Found(None, {"seconds": f"{a.duration:.0f} s"})


def _little_to_read(ctx: Context, a: Answer, fired: Sequence[dict]) -> Found | None:
    if not ctx.long_enough(a) or ctx.usable(a):
        return None  # short_answer speaks for a short answer
    f = share(a.readable_s / a.duration)
    return Found(f, {"readable": f"{a.readable_s:.0f} s", "seconds": f"{a.duration:.0f} s"})


def _most(names: Sequence[str], rule_id: str,
          floor: str | None = None) -> Callable[[Context, Answer, Sequence[dict]], Found | None]:
    """The one question where `names` were read most, by at least the rule's gap over every other (and at
    least the `floor` rule's threshold, where given)."""
    def check(ctx: Context, a: Answer, fired: Sequence[dict]) -> Found | None:
        eligible = ctx.eligible() if ctx.with_questions else []
        if len(eligible) < 2:
            return None
        figures = [x.share_of(names) for x in eligible]
        top = max(range(len(eligible)), key=lambda i: figures[i])
        others = figures[:top] + figures[top + 1:]
        if not at_least(share(figures[top] - max(others)), ctx.t(rule_id)):
            return None
        if floor is not None and not at_least(figures[top], ctx.t(floor)):
            return None
        mean_others = share(sum(others) / len(others))
        return Found(figures[top], {"question": eligible[top].label, "others": percent(mean_others)})
    return check


def _first_to_last(rising: bool, rule_id: str) -> Callable[[Context, Answer, Sequence[dict]], Found | None]:
    def check(ctx: Context, a: Answer, fired: Sequence[dict]) -> Found | None:
        eligible = ctx.eligible() if ctx.with_questions else []
        if len(eligible) < 3:  # with two questions, most_at_ease already says which one
            return None
        first, last = eligible[0].share_of(AT_EASE), eligible[-1].share_of(AT_EASE)
        change = share(last - first if rising else first - last)
        if not at_least(change, ctx.t(rule_id)):
            return None
        return Found(last, {"first": eligible[0].label, "first_figure": percent(first), "last": eligible[-1].label})
    return check


def _no_opening_smile(ctx: Context, a: Answer, fired: Sequence[dict]) -> Found | None:
    openings = [(x, x.opening_happy()) for x in ctx.eligible()]
    known = [(x, f) for x, f in openings if f is not None]
    if not known or not all(f < ctx.t("no_opening_smile") - 1e-9 for _, f in known):
        return None
    if len(known) == 1:
        return Found(known[0][1], {"Answer": capital(known[0][0].label)}, variant=1)
    return Found(max(f for _, f in known), {"count": len(known)}, variant=0)


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- the rule set: the one place for ids, kinds, thresholds and texts ---------------------------------------
# Phrasings: {answer} / {Answer} is 'question 2 (“Why us?”)' or 'the session', {figure} the tip's figure as
# "42 %"; a question's phrasing is chosen by its index, so consecutive questions do not read the same.

RULES: tuple[Rule, ...] = (
    # -- per answer: strengths
    Rule("at_ease", "strength", "answer", 0.60, "share",
         "happy + neutral, share of face time",
         "the figure is at least the threshold",
         "A settled, friendly look is worth knowing about and keeping; feedback starts from what already works.",
         ("{Answer}: most people would have read your face as calm or friendly for {figure} of the time, a "
          "steady look to build on.",
          "During {answer} your face read as calm or friendly for {figure} of the time; that settled look is "
          "worth keeping.",
          "Calm or friendly was how most people would have read your face for {figure} of {answer}: keep that "
          "steadiness."),
         _at_ease),
    Rule("opening_smile", "strength", "answer", 0.30, "share",
         f"happy, share of face time over the answer's first {OPENING_S} s",
         f"the figure is at least the threshold (with at least {OPENING_MIN_READABLE_S:g} of those seconds readable)",
         "The first seconds of an answer set its tone; a smile there is easy to repeat once you know you do it.",
         (f"You opened {{answer}} with a smile: most people would have read your face as happy for {{figure}} of "
          f"its first {OPENING_S} s, a warm start.",
          f"A friendly start to {{answer}}: a smile was read for {{figure}} of the first {OPENING_S} s.",
          f"In the first {OPENING_S} s of {{answer}} your face read as smiling for {{figure}} of the time; that "
          "warmth at the start carries."),
         _opening_smile),
    # -- per answer: suggestions
    Rule("tense", "suggestion", "answer", 0.20, "share",
         "angry + fear + disgust, share of face time (sad is not counted: see subdued)",
         "the figure is at least the threshold",
         "A look most people would read as tense can distract from what is said; a breath out and a loose jaw "
         "and brow are simple to practise.",
         ("In {answer} most people would have read your face as tense (anger, fear or disgust) for {figure} "
          "of the time. A slow breath out before you begin, and loosening your jaw and brow, can soften that.",
          "During {answer}, a tense look (read as anger, fear or disgust) came up for {figure} of the time; "
          "pausing for a breath before you start can help you settle.",
          "{Answer} read as tense for {figure} of the time (anger, fear or disgust). Dropping your shoulders "
          "and taking a moment before you answer can ease that look."),
         _expression(TENSE, "tense")),
    Rule("subdued", "suggestion", "answer", 0.25, "share",
         "sad, share of face time",
         "the figure is at least the threshold",
         "What the model calls sad is often concentration or a lowered gaze: said gently, as how the face "
         "would be read, with something small to try if that is not the impression wanted.",
         ("In {answer} your face read as subdued (what the model calls sad) for {figure} of the time. That is "
          "often just concentration; to come across brighter, lift your eyebrows a little as you make your "
          "main point.",
          "For {figure} of {answer} most people would have read your face as subdued. If that is not the "
          "impression you want, a little more energy in your voice and face as you start often carries "
          "through.",
          "A subdued look (read as sad) showed for {figure} of {answer}; thinking hard often looks like this. "
          "Looking up towards the camera as you reach your point can brighten it."),
         _expression(("sad",), "subdued")),
    # -- per answer: notes
    Rule("surprised", "note", "answer", 0.20, "share",
         "surprise, share of face time",
         "the figure is at least the threshold",
         "Raised eyebrows read as surprise: often a sign of interest, worth knowing about rather than fixing.",
         ("Most people would have read your face as surprised for {figure} of {answer}, usually a sign of "
          "raised eyebrows. That can look engaged; if it was not meant, a more settled brow while you think "
          "reads as composed.",
          "In {answer} a surprised look was read for {figure} of the time (raised eyebrows, an open mouth). "
          "Worth knowing, nothing more: it often shows interest.",
          "{Answer}: surprise was read for {figure} of the time. Raised eyebrows while listening can look "
          "attentive; while answering, a steadier brow tends to read as calm."),
         _expression(("surprise",), "surprised")),
    Rule("out_of_view", "note", "both", 0.70, "share",
         "face_present, share of the time a face was in the camera's view",
         "the figure is below the threshold (answers of short_answer's length or more)",
         "The figures only cover the time the face was seen; this says how much of the answer they miss.",
         ("Your face was in the camera's view for {figure} of {answer}; staying centred in front of the "
          "camera lets the tips cover all of it.",
          "During {answer} the camera saw your face {figure} of the time, so the figures cover only part of "
          "it; try to stay in the frame even when you look away to think.",
          "For {answer} your face was in the camera's view {figure} of the time; sitting a little further "
          "back keeps it in the frame when you move."),
         _out_of_view),
    Rule("hard_to_read", "note", "both", 0.40, "share",
         "uncertain, share of face time the model could not read",
         "the figure is at least the threshold (answers of short_answer's length or more, with at least "
         "little_to_read's seconds of face)",
         "Poor light or a turned head make the model unsure; saying so keeps the other figures honest.",
         ("The model could not read your expression for {figure} of the time your face was in view during "
          "{answer}; more light on your face from the front (not a window behind you) makes these tips "
          "more reliable.",
          "In {answer} the model could not read your expression {figure} of the time; light from the front "
          "and facing the camera help it.",
          "For {figure} of {answer} the model could not tell how most people would read your face; a lamp "
          "in front of you and the camera at eye level help."),
         _hard_to_read),
    Rule("short_answer", "note", "answer", 10.0, "seconds",
         "none (null): the tip shows the answer's seconds (duration_s)",
         "the answer lasted less than the threshold; no share-based tip is given for it",
         "Too little material makes any share meaningless: better to say so, and to suggest room for an "
         "example, than to say nothing.",
         ("{Answer} lasted {seconds}, too short for the camera's figures to say much. If that was your whole "
          "answer, a short example (what you did and what came of it) gives an interviewer more to go on.",
          "Only {seconds} were recorded for {answer}: too little to read much from. Answers of half a minute "
          "to two minutes leave room for an example.",
          "{Answer} took {seconds}, not enough for a useful reading. If you moved on quickly, try it again "
          "with one concrete example."),
         _short_answer),
    Rule("little_to_read", "note", "answer", 5.0, "seconds",
         "readable seconds (duration x face_present x (1 - uncertain)) as a share of the answer",
         "an answer of short_answer's length or more had fewer readable seconds than the threshold; no "
         "expression tip is given for it and the comparisons leave it out",
         "Shares of a few seconds say nothing; the candidate should know why an answer has no expression tips.",
         ("The camera could read your face for only {figure} of {answer} ({readable} of {seconds}), too "
          "little to say more about it.",
          "During {answer} your face was readable for {figure} of the time ({readable} of {seconds}): too "
          "little for the expression figures to mean much.",
          "For {answer} the model had {readable} of {seconds} ({figure}) it could read, not enough to say "
          "more."),
         _little_to_read),
    # -- per answer: the fallback, after every other answer rule
    Rule("steady", "strength", "answer", None, None,
         "happy + neutral, share of face time",
         "no other strength or suggestion came up for an answer with enough to read",
         "Every answer deserves a line; when nothing stands out, saying so plainly is useful too.",
         ("Nothing in {answer} stood out to work on: no tense or subdued look came up often, and your face "
          "read as calm or friendly for {figure} of the time.",
          "{Answer} gave the camera nothing to flag: your face read as calm or friendly for {figure} of the "
          "time, with no tense or subdued look standing out.",
          "No tense or subdued look stood out in {answer}; most people would have read your face as calm or "
          "friendly for {figure} of it."),
         _steady),
    # -- across the questions (those of short_answer's length or more, with little_to_read's readable seconds)
    Rule("most_at_ease", "strength", "session", 0.10, "share",
         "happy + neutral of the question where it was highest",
         "two questions or more, and that question leads every other by at least the threshold",
         "Knowing which answer looked most at ease tells the candidate which kind of answer to draw on.",
         ("You looked most at ease on {question}: most people would have read your face as calm or friendly "
          "for {figure} of it, against {others} on average over the other questions.",),
         _most(AT_EASE, "most_at_ease")),
    Rule("settled_in", "strength", "session", 0.15, "share",
         "happy + neutral of the last question",
         "three questions or more, and the last is higher than the first by at least the threshold",
         "Looking more at ease as a session goes on is common and encouraging; it is worth saying.",
         ("Your face read as more at ease as the session went on: calm or friendly readings rose from "
          "{first_figure} on {first} to {figure} on {last}.",),
         _first_to_last(True, "settled_in")),
    Rule("most_tense", "suggestion", "session", 0.10, "share",
         "angry + fear + disgust of the question where it was highest",
         "two questions or more, that question leads every other by at least the threshold, and reaches "
         "tense's threshold",
         "One question that looked tenser than the rest is the one to practise again.",
         ("Tension was read most on {question}: anger, fear or disgust for {figure} of it, against {others} on "
          "average over the other questions. That one may be worth practising again.",),
         _most(TENSE, "most_tense", floor="tense")),
    Rule("less_at_ease_later", "suggestion", "session", 0.15, "share",
         "happy + neutral of the last question",
         "three questions or more, and the last is lower than the first by at least the threshold",
         "A look that tightens over a session often comes with tiredness; a reset between questions helps.",
         ("Calm or friendly readings went from {first_figure} on {first} to {figure} on {last}. Long sessions "
          "are tiring: a pause and a slow breath between questions can help you reset.",),
         _first_to_last(False, "less_at_ease_later")),
    Rule("no_opening_smile", "suggestion", "session", 0.10, "share",
         f"happy over an answer's first {OPENING_S} s, the highest of the answers with a readable opening",
         "every such answer is below the threshold",
         "A brief smile as an answer begins is one of the easiest things to practise.",
         (f"None of your {{count}} answers opened with a smile: happy was read for {{figure}} at most of their "
          f"first {OPENING_S} s. A brief smile as you begin comes across as friendly, and interviewers often "
          "return it.",
          f"{{Answer}} did not open with a smile: {{figure}} of its first {OPENING_S} s read as happy. A brief "
          "smile as you begin comes across as friendly, and interviewers often return it."),
         _no_opening_smile),
)
RULE_IDS = tuple(r.id for r in RULES)
_BY_ID = {r.id: r for r in RULES}


# --- what an operator may change (sessions.advice) ----------------------------------------------------------

class RuleSetting(Strict):
    """One change to a built-in rule: turn it off, or give it another threshold. Texts stay in code."""
    rule: str = Field(description="the rule's id (docs/advice.md lists them)")
    enabled: bool = Field(True, description="false: the rule gives no tip")
    threshold: float | None = Field(None, allow_inf_nan=False, description="replaces the rule's threshold: a "
                                    "share 0..1, or seconds for short_answer and little_to_read")

    @model_validator(mode="before")
    @classmethod
    def _not_an_old_rule(cls, data: Any) -> Any:
        if isinstance(data, dict) and {"id", "text", "expressions", "comparison"} & set(data):
            raise ValueError("advice rules and their texts are now built in (docs/advice.md); an entry of "
                             "sessions.advice names a `rule` and sets `enabled = false` or a `threshold`")
        return data

    @field_validator("rule")
    @classmethod
    def _known(cls, rule: str) -> str:
        if rule not in _BY_ID:
            raise ValueError(f"unknown advice rule {rule!r}; the rules are: {', '.join(RULE_IDS)}")
        return rule

    @model_validator(mode="after")
    def _meaningful(self) -> RuleSetting:
        if self.enabled and self.threshold is None:
            raise ValueError(f"the entry for {self.rule!r} changes nothing: set enabled = false or a threshold")
        if not self.enabled and self.threshold is not None:
            raise ValueError(f"{self.rule!r} is turned off: its threshold would not be used")
        if self.threshold is not None:
            unit = _BY_ID[self.rule].unit
            if unit is None:
                raise ValueError(f"{self.rule!r} has no threshold; it can only be turned off (enabled = false)")
            top = 1.0 if unit == "share" else MAX_THRESHOLD_S
            if not 0 <= self.threshold <= top:
                what = "a share of time, 0 to 1" if unit == "share" else f"seconds, 0 to {MAX_THRESHOLD_S:g}"
                raise ValueError(f"{self.rule!r}'s threshold is {what} (got {self.threshold:g})")
        return self


def _each_rule_once(settings: tuple[RuleSetting, ...]) -> tuple[RuleSetting, ...]:
    seen: set[str] = set()
    for s in settings:
        if s.rule in seen:
            raise ValueError(f"{s.rule!r} is listed twice; give each rule one entry")
        seen.add(s.rule)
    return settings


AdviceSettings = Annotated[tuple[RuleSetting, ...], AfterValidator(_each_rule_once)]


# --- applying the rules -------------------------------------------------------------------------------------

class AdviceRules:
    def __init__(self, settings: Sequence[RuleSetting] = ()):
        changes = {s.rule: s for s in settings}
        self.rules = tuple(r for r in RULES if r.id not in changes or changes[r.id].enabled)
        self.thresholds = {r.id: r.threshold for r in RULES if r.threshold is not None}
        self.thresholds.update({s.rule: s.threshold for s in settings if s.threshold is not None})

    def advise(self, summary: dict) -> list[dict]:
        """Session-wide tips first, then per question in order; strengths, suggestions, notes in each."""
        segments = sorted(summary.get("segments") or [], key=lambda s: s["index"])
        overall = Answer(None, "the session", summary.get("overall") or {})
        answers = [Answer(s["index"], question_label(s), s) for s in segments] or [overall]
        ctx = Context(self.thresholds, answers, bool(segments))

        session: list[dict] = []
        for rule in self.rules:
            if rule.scope == "session" or (rule.scope == "both" and segments):
                self._apply(rule, ctx, overall, session, index=0)
        said = {tip["rule"] for tip in session}
        tips = sort_by_kind(session) if segments else []
        for a in answers:
            own = list(session) if not segments else []  # without questions the session is the one answer
            for rule in self.rules:
                if rule.scope == "answer" or (rule.scope == "both" and rule.id not in said):
                    self._apply(rule, ctx, a, own, index=a.segment or 0)
            tips += sort_by_kind(own)
        return tips

    def _apply(self, rule: Rule, ctx: Context, a: Answer, out: list[dict], index: int) -> None:
        found = rule.check(ctx, a, out)
        if found is None:
            return
        phrasing = rule.phrasings[(found.variant if found.variant is not None else index) % len(rule.phrasings)]
        fields = {"answer": a.label, "Answer": capital(a.label), **found.fields}
        if found.figure is not None:
            fields["figure"] = percent(found.figure)
        out.append({"segment": a.segment, "rule": rule.id, "kind": rule.kind, "figure": found.figure,
                    "text": phrasing.format(**fields)})


def question_label(segment: dict) -> str:
    quote = short_question(segment.get("question"))
    return f"question {segment['index'] + 1}" + (f" (“{quote}”)" if quote else "")


def sort_by_kind(tips: list[dict]) -> list[dict]:
    return sorted(tips, key=lambda tip: KINDS.index(tip["kind"]))  # stable: rule order within a kind
