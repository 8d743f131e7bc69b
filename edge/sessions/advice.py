"""Explainable practice tips from a session summary: each tip names its rule and shows its figure.

A tip describes what the camera model saw, e.g. how often most people would have read a face as tense
during an answer (the model is trained on FER+'s ten annotators per face), and
suggests something practical. It never rates the candidate, and every answer carries ADVICE_DISCLAIMER.
"""
from __future__ import annotations

from collections.abc import Sequence

from edge.sessions.settings import DEFAULT_RULES, AdviceRule

ADVICE_DISCLAIMER = (
    "These tips come from a camera model that estimates, second by second, how most people would read your "
    "face (it learnt from ten people's readings of each of thousands of faces): how often it would look "
    "happy, neutral, tense or surprised to them, and when it could not tell. It "
    "cannot tell what you feel or think, how good your answers were, or whether you suit a job, and it makes "
    "mistakes, more so with poor lighting, a turned head, glasses or masks. This is not a score or an "
    "assessment of you and must not be used for decisions about you; use it only for your own practice.")
# Too little material makes a share meaningless: below this many seconds a scope gets no tip of that kind.
MIN_SECONDS = 5.0


class AdviceRules:
    def __init__(self, rules: Sequence[AdviceRule] = DEFAULT_RULES, min_seconds: float = MIN_SECONDS):
        self.rules, self.min_seconds = tuple(rules), min_seconds

    def advise(self, summary: dict) -> list[dict]:
        """Session-wide tips first, then per question in order."""
        scopes = [(None, "Across the session", summary["overall"])]
        scopes += [(seg["index"], f"During question {seg['index'] + 1}", seg) for seg in summary["segments"]]
        tips = []
        for segment, where, part in scopes:
            for rule in self.rules:
                wanted = "session" if segment is None else "question"
                if rule.scope not in (wanted, "both"):
                    continue
                figure = self.figure(rule, part)
                if figure is None:
                    continue
                if (figure > rule.threshold) if rule.comparison == "above" else (figure < rule.threshold):
                    tips.append({"segment": segment, "rule": rule.id, "figure": round(figure, 2),
                                 "text": rule.text.format(where=where, percent=f"{round(figure * 100)} %")})
        return tips

    def figure(self, rule: AdviceRule, part: dict) -> float | None:
        """The rule's figure for one summary part, or None where there is too little to go on."""
        def enough(seconds: float) -> bool:
            return seconds >= self.min_seconds - 0.01  # the shares are rounded: 6 s x 0.8333 is 5 s

        seconds = part["duration_s"]
        face_seconds = seconds * part["face_present"]
        if rule.expressions == ("face_present",):
            return part["face_present"] if enough(seconds) else None
        if rule.expressions == ("uncertain",):
            return part["shares"]["uncertain"] if enough(face_seconds) else None
        # Expression shares only mean something over time the model could actually read.
        if not enough(face_seconds * (1 - part["shares"]["uncertain"])):
            return None
        return sum(part["shares"][name] for name in rule.expressions)
