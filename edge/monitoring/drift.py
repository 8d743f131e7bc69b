"""Distribution drift between a window's counts and the reference's: PSI and KL divergence.

Both take logarithms of share ratios, so an empty bin (a class never predicted in a window) would make
them infinite; counts are smoothed first by adding half an observation to every bin (Jeffreys prior),
which keeps a rare class's absence in a small window from reading as catastrophic drift.
"""
from __future__ import annotations

import numpy as np

SMOOTHING = 0.5  # pseudo-count added to every bin


def shares(counts: np.ndarray, smoothing: float = SMOOTHING) -> np.ndarray:
    """Counts -> shares, every bin strictly positive."""
    counts = np.asarray(counts, float)
    return (counts + smoothing) / (counts.sum() + smoothing * len(counts))


def psi(observed: np.ndarray, expected: np.ndarray) -> float:
    """Population stability index of observed against expected counts: sum (o - e) ln(o / e) over shares.

    Symmetric; the usual reading is < 0.1 stable, 0.1-0.25 moderate, > 0.25 a real shift.
    """
    o, e = shares(observed), shares(expected)
    return float(np.sum((o - e) * np.log(o / e)))


def kl(observed: np.ndarray, expected: np.ndarray) -> float:
    """Kullback-Leibler divergence KL(observed || expected) in nats, over smoothed shares."""
    o, e = shares(observed), shares(expected)
    return float(np.sum(o * np.log(o / e)))
