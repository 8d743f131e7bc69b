"""Training targets: a blend of three readings of each face, weighted by the experiment's [targets].

- votes:   the FER+ vote shares over the 7 classes (what ten annotators read in the face);
- label:   the FER2013 label, one annotator, as a (smoothed) one-hot;
- teacher: a teacher's soft targets, softmax(logits / temperature).

The weights are normalised to sum to 1, so `votes = 1` trains on the crowd alone and `label = 1` is
classic FER2013 training. Where a face has no FER+ votes, the vote part falls back to the label.
Faces whose FER+ majority is unknown or not-a-face are dropped (`ferplus.unusable`) whenever votes count.
"""
from __future__ import annotations

import numpy as np

from training import ferplus
from training.data import EMOTIONS, FaceSet
from training.metrics import softmax

K = len(EMOTIONS)


def one_hot(y: np.ndarray, smoothing: float = 0.0) -> np.ndarray:
    t = np.full((len(y), K), smoothing / K, np.float32)
    t[np.arange(len(y)), y] += 1 - smoothing
    return t


def keep_for_training(faces: FaceSet, votes_weight: float) -> np.ndarray:
    """Mask of the faces worth a target: all of them, unless votes count and the crowd said the face
    shows no readable emotion (unknown / not-a-face majority)."""
    if votes_weight <= 0 or faces.ferplus is None:
        return np.ones(len(faces), bool)
    return ~ferplus.unusable(faces.ferplus)


def blend(faces: FaceSet, votes: float, label: float, teacher: float, label_smoothing: float = 0.0,
          teacher_logits: np.ndarray | None = None, temperature: float = 1.0) -> np.ndarray:
    """(N,7) target distributions, rows summing to 1."""
    total = votes + label + teacher
    if total <= 0:
        raise ValueError("targets: votes, label and teacher weights are all 0; give at least one a weight.")
    if teacher > 0 and teacher_logits is None:
        raise ValueError("targets.teacher > 0 needs teacher soft targets (distil.teacher_logits).")
    hard = one_hot(faces.y, label_smoothing)
    out = (label / total) * hard
    if votes > 0:
        shares = hard.copy() if faces.ferplus is None else ferplus.shares(faces.ferplus)
        missing = np.isnan(shares).any(1)
        shares[missing] = hard[missing]
        out += (votes / total) * shares
    if teacher > 0:
        out += (teacher / total) * softmax(teacher_logits / temperature)
    return out.astype(np.float32)
