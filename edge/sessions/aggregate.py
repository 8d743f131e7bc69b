"""From per-frame results to per-second records, and from per-second records to a session summary.

Only these aggregates are ever stored. Low-confidence frames are counted as `uncertain`, never forced
into a class: the model reports what it cannot read, and so does the summary.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from edge.pipeline import FaceResult
from edge.sessions.settings import EXPRESSIONS

DOMINANT_MIN_SHARE = 0.15  # an expression shown less than this is not called dominant
DOMINANT_TOP = 2
DIGITS = 4  # summaries are read by people and kiosks; 0.01 % is finer than the model can tell


def _round_all(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, DIGITS) for k, v in values.items()}


class SecondAccumulator:
    """Fed once per processed frame; returns the record of a wall-clock second once the next one starts."""

    def __init__(self) -> None:
        self._second: int | None = None
        self._reset()

    def _reset(self) -> None:
        self._segment: int | None = None
        self._frames = self._face_frames = self._uncertain = 0
        self._weight = 0.0
        self._sums = dict.fromkeys(EXPRESSIONS, 0.0)

    def add(self, face: FaceResult | None, timestamp: float, segment: int | None = None) -> dict | None:
        """Count one frame; `segment` tags the second it opens (a second belongs to one question)."""
        second = math.floor(timestamp)
        finished = None
        # A clock stepped backwards (NTP) keeps filling the current second rather than rewriting the past.
        if self._second is not None and second > self._second:
            finished = self.flush()
        if self._second is None:
            self._second, self._segment = second, segment
        self._frames += 1
        if face is not None:
            self._face_frames += 1
            if face.label == "uncertain":
                self._uncertain += 1
            else:
                # Weighted by confidence: a clear frame says more about the second than a borderline one.
                self._weight += face.confidence
                for name in EXPRESSIONS:
                    self._sums[name] += face.confidence * face.probabilities.get(name, 0.0)
        return finished

    def flush(self) -> dict | None:
        """The record of the second in progress (None if no frame came); the next frame starts a new one."""
        if self._second is None:
            return None
        w = self._weight
        record = {"second": self._second, "segment": self._segment, "frames": self._frames,
                  "face_frames": self._face_frames,
                  "face_present": self._face_frames / self._frames,
                  "uncertain": self._uncertain / self._face_frames if self._face_frames else 0.0,
                  "shares": {k: (v / w if w > 0 else 0.0) for k, v in self._sums.items()}}
        self._second = None
        self._reset()
        return record


def time_shares(rows: Sequence[dict]) -> dict[str, float]:
    """Share of face time per expression plus `uncertain` (they add up to 1 when a face was seen).

    Each second weighs by its face frames; its expression shares cover only its confident frames, hence
    the (1 - uncertain) factor.
    """
    total = sum(r["face_frames"] for r in rows)
    out = dict.fromkeys((*EXPRESSIONS, "uncertain"), 0.0)
    if total == 0:
        return out
    for r in rows:
        w = r["face_frames"] / total
        out["uncertain"] += w * r["uncertain"]
        for name in EXPRESSIONS:
            out[name] += w * (1 - r["uncertain"]) * r["shares"][name]
    return _round_all(out)


def dominant_of_second(row: dict) -> str | None:
    """The expression leading a second, or None where no face or mostly uncertain (no class is guessed)."""
    if row["face_frames"] == 0 or row["uncertain"] >= 0.5 or not any(row["shares"].values()):
        return None
    return max(EXPRESSIONS, key=lambda name: row["shares"][name])


def summarize_rows(rows: Sequence[dict]) -> dict[str, Any]:
    frames = sum(r["frames"] for r in rows)
    shares = time_shares(rows)
    ranked = sorted(EXPRESSIONS, key=lambda name: -shares[name])
    dominant = [{"expression": n, "share": shares[n]} for n in ranked[:DOMINANT_TOP]
                if shares[n] >= DOMINANT_MIN_SHARE]
    leaders = [d for d in map(dominant_of_second, rows) if d is not None]
    changes = sum(1 for a, b in zip(leaders, leaders[1:]) if a != b)
    half = len(rows) // 2
    seen = [r for r in rows if r["face_frames"]]
    return {
        "duration_s": len(rows),  # seconds observed: one row per wall-clock second with processed frames
        "face_present": round(sum(r["face_frames"] for r in rows) / frames, DIGITS) if frames else 0.0,
        "shares": shares,
        "dominant": dominant,
        "changes": {"dominant_changes": changes, "first_half": time_shares(rows[:half]),
                    "second_half": time_shares(rows[half:])},
        # Plain mean over the seconds with a face: how often, second by second, the model could not tell.
        "model_uncertainty": round(sum(r["uncertain"] for r in seen) / len(seen), DIGITS) if seen else None,
    }


def timeline(rows: Sequence[dict], start: int) -> list[dict]:
    # `t` counts seconds from the session's first row, so question timelines line up with the overall one.
    return [{"t": r["second"] - start, "segment": r["segment"], "face_present": round(r["face_present"], DIGITS),
             "uncertain": round(r["uncertain"], DIGITS), "shares": _round_all(r["shares"]),
             "dominant": dominant_of_second(r)} for r in rows]


def summarize(timeline_rows: Sequence[dict], segments: Sequence[dict]) -> dict[str, Any]:
    """`overall` plus one entry per question segment (`index`, `question`), each with its 1 s timeline."""
    rows = sorted(timeline_rows, key=lambda r: r["second"])
    start = rows[0]["second"] if rows else 0
    per_segment = []
    for seg in sorted(segments, key=lambda s: s["index"]):
        own = [r for r in rows if r["segment"] == seg["index"]]
        per_segment.append({"index": seg["index"], "question": seg["question"], **summarize_rows(own),
                            "timeline": timeline(own, start)})
    return {"overall": {**summarize_rows(rows), "timeline": timeline(rows, start)}, "segments": per_segment}
