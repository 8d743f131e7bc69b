"""python -m edge.devtools.advice_doc: write docs/advice.md's rule table and examples from the advice code.

The table comes from edge/sessions/advice.py's RULES; each example is a session built second by second,
summarized by edge/sessions/aggregate.py's `summarize` and advised by `AdviceRules().advise`, exactly as
the kiosk's are, so the document cannot drift from the code. `--check` writes nothing and exits 1 when
the file is not what the code gives (tests/test_advice.py runs the same comparison).
"""
from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edge.sessions.advice import AT_EASE, OPENING_S, RULES, TENSE, AdviceRules, Answer, Rule, percent
from edge.sessions.aggregate import summarize
from edge.sessions.settings import EXPRESSIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "advice.md"
FPS = 8


@dataclass(frozen=True)
class Q:
    """One answer, second by second: `mix` in its readable seconds (`opening` in the first OPENING_S, where
    given), then the seconds the model could not read, then those without a face."""
    question: str
    seconds: int
    mix: dict[str, float]
    face: float = 1.0  # share of the seconds with a face in view
    uncertain: float = 0.0  # share of the face seconds the model could not read
    opening: dict[str, float] = field(default_factory=dict)


def rows_for(questions: Sequence[Q], start: int = 1_700_000_000) -> list[dict]:
    """Per-second records as edge/sessions/aggregate.py's SecondAccumulator writes them."""
    rows, second = [], start
    for index, q in enumerate(questions):
        no_face = round(q.seconds * (1 - q.face))
        uncertain = round((q.seconds - no_face) * q.uncertain)
        for i in range(q.seconds):
            mix = q.opening if q.opening and i < OPENING_S else q.mix
            seen, unsure = i < q.seconds - no_face, q.seconds - no_face - uncertain <= i < q.seconds - no_face
            shares = {name: (mix.get(name, 0.0) if seen and not unsure else 0.0) for name in EXPRESSIONS}
            rows.append({"second": second, "segment": index, "frames": FPS, "face_frames": FPS if seen else 0,
                         "face_present": 1.0 if seen else 0.0, "uncertain": 1.0 if seen and unsure else 0.0,
                         "shares": shares})
            second += 1
    return rows


def example_summary(questions: Sequence[Q]) -> dict:
    return summarize(rows_for(questions), [{"index": i, "question": q.question} for i, q in enumerate(questions)])


CALM = {"neutral": 0.65, "happy": 0.2, "sad": 0.05, "surprise": 0.05, "angry": 0.05}
MIXED = {"neutral": 0.45, "happy": 0.1, "sad": 0.15, "surprise": 0.15, "fear": 0.1, "angry": 0.05}
SMILE = {"happy": 0.7, "neutral": 0.3}
# One example per rule, in RULES' order: a session in which that rule gives its tip.
EXAMPLES: dict[str, tuple[Q, ...]] = {
    "at_ease": (Q("Tell me about yourself.", 45, CALM),),
    "opening_smile": (Q("Tell me about yourself.", 40, MIXED, opening=SMILE),),
    "tense": (Q("Describe a time you disagreed with someone. How did you handle it?", 50,
                {"neutral": 0.5, "happy": 0.15, "angry": 0.12, "fear": 0.13, "disgust": 0.05, "sad": 0.05}),),
    "subdued": (Q("Tell me about a mistake you made and what you learnt from it.", 40,
                  {"neutral": 0.45, "sad": 0.35, "happy": 0.1, "surprise": 0.1}),),
    "surprised": (Q("How would you find the cause of a problem that only happens now and then?", 35,
                    {"neutral": 0.5, "happy": 0.2, "surprise": 0.3}),),
    "out_of_view": (Q("Tell me about yourself.", 30, CALM), Q("Why do you want this job?", 30, CALM, face=0.5)),
    "hard_to_read": (Q("Tell me about yourself.", 30, CALM, uncertain=0.5),
                     Q("Why do you want this job?", 30, CALM, uncertain=0.5)),
    "short_answer": (Q("Tell me about yourself.", 40, CALM), Q("Why us?", 6, CALM)),
    "little_to_read": (Q("Tell me about yourself.", 40, CALM),
                       Q("Where would you like to be in a few years?", 30, CALM, face=0.3, uncertain=0.6)),
    "steady": (Q("How do you keep your skills up to date?", 40, MIXED),),
    "most_at_ease": (Q("Tell me about yourself.", 40, {"neutral": 0.6, "happy": 0.25, "fear": 0.1, "sad": 0.05}),
                     Q("Why do you want this job?", 40, MIXED)),
    "settled_in": (Q("Tell me about yourself.", 40, {"neutral": 0.4, "happy": 0.05, "fear": 0.15, "sad": 0.2,
                                                     "surprise": 0.2}),
                   Q("Why do you want this job?", 40, {"neutral": 0.5, "happy": 0.1, "fear": 0.1, "sad": 0.15,
                                                       "surprise": 0.15}),
                   Q("Where would you like to be in a few years?", 40, CALM)),
    "most_tense": (Q("Tell me about yourself.", 40, CALM),
                   Q("Tell me about a mistake you made and what you learnt from it.", 40,
                     {"neutral": 0.45, "happy": 0.1, "fear": 0.2, "angry": 0.1, "sad": 0.15}),
                   Q("Where would you like to be in a few years?", 40, CALM)),
    "less_at_ease_later": (Q("Tell me about yourself.", 40, {"neutral": 0.7, "happy": 0.2, "sad": 0.1}),
                           Q("Tell me about a time you solved a difficult problem.", 40, CALM),
                           Q("Where would you like to be in a few years?", 40,
                             {"neutral": 0.5, "happy": 0.05, "sad": 0.2, "fear": 0.1, "surprise": 0.15})),
    "no_opening_smile": (Q("Tell me about yourself.", 40, CALM, opening={"neutral": 0.95, "happy": 0.05}),
                         Q("Why do you want this job?", 40, CALM, opening={"neutral": 0.9, "sad": 0.1}),
                         Q("Where would you like to be in a few years?", 40, CALM, opening={"neutral": 1.0})),
}

SCOPES = {"answer": "each question (or the session without questions)", "session": "the session, across questions",
          "both": "the session where all of it crosses, else each question"}


def threshold(rule: Rule) -> str:
    if rule.threshold is None:
        return "none"
    return percent(rule.threshold) if rule.unit == "share" else f"{rule.threshold:g} s"


def rules_table() -> str:
    lines = ["| Rule | Kind | Scope | Figure | Gives a tip when | Threshold | Why |", "|---|---|---|---|---|---|---|"]
    lines += [f"| `{r.id}` | {r.kind} | {SCOPES[r.scope]} | {r.figure} | {r.fires} | {threshold(r)} | {r.why} |"
              for r in RULES]
    return "\n".join(lines)


def _pc(value: float | None) -> str:
    return "–" if value is None else percent(value)


def figures_table(summary: dict) -> str:
    lines = [f"| | Seconds | Face in view | Calm or friendly | Happy, first {OPENING_S} s | Tense | Sad | Surprise "
             "| Uncertain |", "|---|---|---|---|---|---|---|---|---|"]
    parts = [(f"Q{s['index'] + 1}: {s['question']}", s) for s in summary["segments"]]
    for label, part in [*parts, ("Whole session", summary["overall"])]:
        a = Answer(None, "", part)
        # the session's own opening counts only where it had no questions
        opening = a.opening_happy() if part is not summary["overall"] or not parts else None
        lines.append(f"| {label} | {part['duration_s']} | {_pc(part['face_present'])} | {_pc(a.share_of(AT_EASE))} "
                     f"| {_pc(opening)} | {_pc(a.share_of(TENSE))} | {_pc(part['shares']['sad'])} "
                     f"| {_pc(part['shares']['surprise'])} | {_pc(part['shares']['uncertain'])} |")
    return "\n".join(lines)


def tips_list(tips: Sequence[dict], shown: str) -> str:
    lines = []
    for tip in tips:
        where = "session" if tip["segment"] is None else f"Q{tip['segment'] + 1}"
        rule = f"**`{tip['rule']}`**" if tip["rule"] == shown else f"`{tip['rule']}`"
        lines.append(f"- {where} · {tip['kind']} · {rule} · figure {_pc(tip['figure'])}: {tip['text']}")
    return "\n".join(lines)


def examples() -> str:
    advice, out = AdviceRules(), []
    for rule in RULES:
        summary = example_summary(EXAMPLES[rule.id])
        tips = advice.advise(summary)
        out += [f"### `{rule.id}` ({rule.kind})", "", figures_table(summary), "", tips_list(tips, rule.id), ""]
    return "\n".join(out).rstrip()


SECTIONS = {"rules": rules_table, "examples": examples}


def render(text: str) -> str:
    """`text` with each generated section (between its BEGIN and END markers) written afresh."""
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- BEGIN generated: {name}\b[^\n]*-->\n).*?(<!-- END generated: {name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"{DOC.name} has no generated section {name!r}")
        text = pattern.sub(lambda m: m.group(1) + make() + "\n" + m.group(2), text, count=1)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file is out of date")
    args = parser.parse_args(argv)
    current = DOC.read_text(encoding="utf-8")
    wanted = render(current)
    if args.check:
        if wanted != current:
            print(f"{DOC} is out of date: run python -m edge.devtools.advice_doc", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
