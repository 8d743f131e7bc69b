"""Classification metrics and their plots: accuracy, macro-F1, per-class precision/recall, confusion
matrix, expected calibration error and reliability diagram; and the same model read against FER+'s ten
annotators (consensus accuracy, annotator share, KL to the votes, calibration against the votes).
numpy only (plots: matplotlib)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from training import ferplus
from training.data import EMOTIONS


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def confusion(y: np.ndarray, pred: np.ndarray, k: int = len(EMOTIONS)) -> np.ndarray:
    """Rows: true class, columns: predicted class."""
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k)


def calibration(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> tuple[float, list[dict]]:
    """Expected calibration error of the top-class confidence, and the per-bin table behind it."""
    conf, correct = probs.max(1), probs.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    table, ece = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (conf > lo) & (conf <= hi)
        if in_bin.any():
            acc, mean_conf, share = correct[in_bin].mean(), conf[in_bin].mean(), in_bin.mean()
            ece += share * abs(acc - mean_conf)
            table.append({"lo": float(lo), "hi": float(hi), "n": int(in_bin.sum()),
                          "accuracy": float(acc), "confidence": float(mean_conf)})
    return float(ece), table


def classification_report(y: np.ndarray, logits: np.ndarray) -> dict:
    probs = softmax(logits)
    pred = probs.argmax(1)
    cm = confusion(y, pred)
    tp = np.diag(cm).astype(float)
    precision = np.divide(tp, cm.sum(0), out=np.zeros_like(tp), where=cm.sum(0) > 0)
    recall = np.divide(tp, cm.sum(1), out=np.zeros_like(tp), where=cm.sum(1) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=precision + recall > 0)
    ece, bins = calibration(probs, y)
    return {
        "n": int(len(y)),
        "accuracy": float((pred == y).mean()),
        "macro_f1": float(f1.mean()),
        "per_class": {name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for name, p, r, f, s in zip(EMOTIONS, precision, recall, f1, cm.sum(1))},
        "confusion": cm.tolist(),
        "ece": ece,
        "reliability": bins,
    }


def consensus_report(counts: np.ndarray, logits: np.ndarray, bins: int = 10) -> dict:
    """The model against the crowd, computed as the shared checker does.

    - consensus: agreement with the FER+ majority, on faces whose majority is one of the 7 classes
      (contempt / unknown / not-a-face majorities and ties dropped), overall and per majority class;
    - share: mean fraction of all ten annotators who chose the predicted class (faces with votes);
    - kl: mean KL(vote shares || predicted probabilities) over the 7 classes, in nats (0 = the model's
      probabilities are the crowd's);
    - vote_calibration: every (face, class) pair binned by predicted probability, against the share of
      annotators who chose that class: a model whose 70 % means "70 % of people" lies on the diagonal.
    """
    probs = softmax(logits)
    pred = probs.argmax(1)
    top = ferplus.majority(counts)
    ok = top != ferplus.NO_MAJORITY
    v = np.nan_to_num(ferplus.in_fer_order(counts), nan=0.0)
    has7 = v[:, :7].sum(1) > 0
    share = v[np.arange(len(pred)), pred] / np.maximum(v.sum(1), 1)
    target = ferplus.shares(counts)[has7]
    kl = np.sum(np.where(target > 0, target * (np.log(np.maximum(target, 1e-12)) - np.log(np.maximum(probs[has7], 1e-12))), 0), 1)
    per_class = {name: {"accuracy": float((pred[ok & (top == c)] == c).mean()) if (ok & (top == c)).any() else 0.0,
                        "support": int((ok & (top == c)).sum())} for c, name in enumerate(EMOTIONS)}
    p, t = probs[has7].ravel(), target.ravel()
    edges = np.linspace(0, 1, bins + 1)
    table, gap = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (p > lo) & (p <= hi) if lo > 0 else (p <= hi)
        if in_bin.any():
            table.append({"lo": float(lo), "hi": float(hi), "n": int(in_bin.sum()),
                          "predicted": float(p[in_bin].mean()), "votes": float(t[in_bin].mean())})
            gap += in_bin.mean() * abs(p[in_bin].mean() - t[in_bin].mean())
    return {"consensus": float((pred[ok] == top[ok]).mean()), "consensus_n": int(ok.sum()),
            "share": float(share[has7].mean()), "kl": float(kl.mean()), "vote_calibration_error": float(gap),
            "vote_calibration": table, "per_class": per_class}


@contextmanager
def figure(path: Path, size: tuple[float, float]) -> Iterator[tuple]:
    """(fig, ax) of a new matplotlib figure (no display needed), laid out and saved to `path` on exit."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    try:
        yield fig, ax
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)


def plot_vote_calibration(table: list[dict], error: float, title: str, path: Path) -> None:
    with figure(path, (5, 5)) as (_, ax):
        ax.plot([0, 1], [0, 1], "k--", label="probability = share of annotators")
        ax.plot([b["predicted"] for b in table], [b["votes"] for b in table], "o-", label="model")
        ax.set_xlabel("predicted probability of a class")
        ax.set_ylabel("share of the 10 FER+ annotators who chose it")
        ax.set_title(f"{title} (gap {error:.3f})")
        ax.legend(loc="upper left")


def plot_confusion(cm: np.ndarray, title: str, path: Path) -> None:
    cm = np.asarray(cm)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    with figure(path, (6, 5)) as (fig, ax):
        im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(EMOTIONS)), EMOTIONS, rotation=45, ha="right")
        ax.set_yticks(range(len(EMOTIONS)), EMOTIONS)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for i in range(len(EMOTIONS)):
            for j in range(len(EMOTIONS)):
                ax.text(j, i, f"{norm[i, j]:.2f}\n({cm[i, j]})", ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
        ax.set_title(title)
        fig.colorbar(im, ax=ax, label="share of true class")


def plot_reliability(bins: list[dict], ece: float, title: str, path: Path) -> None:
    centres = [(b["lo"] + b["hi"]) / 2 for b in bins]
    with figure(path, (5, 5)) as (_, ax):
        ax.bar(centres, [b["accuracy"] for b in bins], width=1 / 15, edgecolor="black", alpha=0.7, label="accuracy")
        ax.plot([0, 1], [0, 1], "k--", label="perfect calibration")
        ax.plot(centres, [b["confidence"] for b in bins], "ro", markersize=3, label="mean confidence")
        ax.set_xlabel("confidence of the top class")
        ax.set_ylabel("accuracy")
        ax.set_title(f"{title} (ECE {ece:.3f})")
        ax.legend(loc="upper left")
