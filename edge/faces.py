"""A detected face and the box arithmetic that the detector, the crop and the tracker share."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x, y, w, h in frame pixels
    score: float
    keypoints: np.ndarray  # (6, 2) x, y in frame pixels, in KEYPOINTS order

    def as_dict(self) -> dict:
        return {"box": [round(v, 1) for v in self.box], "score": round(self.score, 4),
                "keypoints": {k: [round(float(x), 1), round(float(y), 1)] for k, (x, y) in zip(KEYPOINTS, self.keypoints)}}


def corners(box) -> tuple[float, float, float, float]:
    """An x, y, w, h box (a Face's) as x0, y0, x1, y1, the form iou takes."""
    x, y, w, h = box
    return x, y, x + w, y + h


def iou(a, b) -> float:
    """IoU of two x0, y0, x1, y1 boxes. Plain Python: a frame has a few dozen candidates at most, for which
    array calls would cost more than the arithmetic."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = w * h if w > 0 and h > 0 else 0.0
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
