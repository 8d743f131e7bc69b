"""FER+ crowd votes (Barsoum et al. 2016): ten annotators per FER2013 face, turned into what training and
evaluation need: the vote shares over the 7 FER2013 classes and the majority that "most people" read.

The npz files store the raw counts in FER+'s column order (neutral, happiness, surprise, sadness, anger,
disgust, fear, contempt, unknown, NF). Contempt has no FER2013 class: its votes are left out of the
shares (a face that some annotators called contempt keeps the rest of its votes), and a face whose
majority is contempt, unknown or not-a-face has no 7-class majority.
"""
from __future__ import annotations

import numpy as np

# FER+ columns 0..6 -> FER2013 class index (angry, disgust, fear, happy, sad, surprise, neutral)
FERPLUS_TO_FER = (6, 3, 5, 4, 0, 1, 2)
CONTEMPT, UNKNOWN, NOT_A_FACE = 7, 8, 9
NO_MAJORITY = -1


def in_fer_order(counts: np.ndarray) -> np.ndarray:
    """Raw counts (N,10) -> (N,10) float in FER2013 order, then contempt, unknown, NF; NaN where unknown."""
    counts = np.asarray(counts, np.float32)
    out = np.full(counts.shape, np.nan, np.float32)
    out[:, list(FERPLUS_TO_FER)] = counts[:, :7]
    out[:, 7:] = counts[:, 7:]
    out[counts[:, 0] < 0] = np.nan
    return out


def shares(counts: np.ndarray) -> np.ndarray:
    """Vote shares over the 7 FER2013 classes (N,7); NaN rows where no vote for those classes is known."""
    v = in_fer_order(counts)[:, :7]
    total = v.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = v / total
    out[~(total[:, 0] > 0)] = np.nan
    return out


def majority(counts: np.ndarray) -> np.ndarray:
    """The class most annotators chose (FER2013 index), or NO_MAJORITY where it is contempt, unknown or
    not-a-face, where two classes tie, or where the votes are unknown: exactly the faces the shared checker
    (`shared/tools/check_emotion_model.py`) drops from its consensus accuracy."""
    v = np.nan_to_num(in_fer_order(counts), nan=0.0)
    top = v.argmax(1)
    tie = (v == v.max(1, keepdims=True)).sum(1) > 1
    ok = (top < 7) & ~tie & (v.sum(1) > 0)
    return np.where(ok, top, NO_MAJORITY)


def unusable(counts: np.ndarray) -> np.ndarray:
    """Faces that FER+ annotators mostly did not read as one of the 8 emotions (unknown or not-a-face
    majority, or no votes): no target worth learning from, so training drops them."""
    v = in_fer_order(counts)
    known = ~np.isnan(v[:, 0])
    top = np.nan_to_num(v, nan=0.0).argmax(1)
    return ~known | (top == UNKNOWN) | (top == NOT_A_FACE) | ~(np.nan_to_num(v[:, :7]).sum(1) > 0)
