"""BlazeFace's decoding, apart from the model that runs it: SSD anchors, the letterbox that fits a frame
into the square input, the score and box decoding of raw (float or int8) outputs, and weighted NMS.

Follows MediaPipe's face_detection_short_range graph: SSD anchors (strides 8,16,16,16, fixed size),
box and 6 keypoints relative to anchors (scale 128), sigmoid scores clipped at +-100, weighted NMS
with IoU 0.3. The training side builds its calibration inputs with the same letterbox.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from edge.faces import iou
from edge.preprocess import dequantize


def ssd_anchors(size: int = 128, strides=(8, 16, 16, 16), per_layer: int = 2) -> np.ndarray:
    """(N, 2) anchor centres in 0..1: per_layer anchors per layer and cell, layers of equal stride merged
    (MediaPipe's SsdAnchorsCalculator with fixed anchor size)."""
    centres, i = [], 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        grid = size // strides[i]
        ys, xs = np.meshgrid((np.arange(grid) + 0.5) / grid, (np.arange(grid) + 0.5) / grid, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], 1)
        centres.append(np.repeat(cells, per_layer * (j - i), axis=0))
        i = j
    return np.concatenate(centres).astype(np.float32)


# MediaPipe's anchor layouts by input size: short-range (128) and full-range (192) BlazeFace
ANCHOR_LAYOUTS = {128: ((8, 16, 16, 16), 2), 192: ((4,), 1)}


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the square model input: resized to (width, height), keeping its
    aspect, then padded with black by whole pixels (pad_x, pad_y) on the left and top."""
    frame_width: int
    frame_height: int
    width: int
    height: int
    pad_x: int
    pad_y: int
    size: int

    @classmethod
    def fit(cls, frame_width: int, frame_height: int, size: int) -> "Letterbox":
        scale = min(size / frame_width, size / frame_height)
        w, h = max(1, round(frame_width * scale)), max(1, round(frame_height * scale))
        return cls(frame_width, frame_height, w, h, (size - w) // 2, (size - h) // 2, size)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        # area averaging when shrinking: a 640x480 camera frame shrinks 5x, and plain bilinear
        # sampling would alias fine detail into noise that the int8 detector reacts to
        shrink = self.width < self.frame_width
        if self.frame_width >= 4 * self.width and self.frame_height >= 4 * self.height:
            # area averaging by 5x costs 0.28 ms per 640x480 frame. Picking pixels for twice the target and
            # then an exact 2x area average costs 0.06 ms and reads 2 of every 5 rows: on the demo frame it is
            # 1.0 grey level from the area average (plain bilinear sampling, as MediaPipe and the shared checker
            # do, 2.6). The detector's AP on the shared sets is no lower than with the area average or with
            # bilinear sampling to twice the target (0.12 ms, 0.4 apart): docs/benchmarks.md
            frame = cv2.resize(frame, (2 * self.width, 2 * self.height), interpolation=cv2.INTER_NEAREST_EXACT)
        resized = cv2.resize(frame, (self.width, self.height),
                             interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return cv2.copyMakeBorder(resized, self.pad_y, self.size - self.height - self.pad_y, self.pad_x,
                                  self.size - self.width - self.pad_x, cv2.BORDER_CONSTANT, value=0)

    def to_frame(self, xy: np.ndarray) -> np.ndarray:
        """Normalised (0..1) model coordinates -> frame pixels."""
        scale = np.array([self.width / self.frame_width, self.height / self.frame_height])
        return (xy * self.size - [self.pad_x, self.pad_y]) / scale


# Regressors (divided by the anchor scale) -> x0, y0, x1, y1 and the six keypoints, all still relative to
# their anchor: one small matrix product per frame instead of a dozen array operations
_CORNERS = np.eye(16)
_CORNERS[2:4, 0:2] = -0.5 * np.eye(2)  # x0, y0 = centre - size / 2
_CORNERS[0:2, 2:4] = np.eye(2)
_CORNERS[2:4, 2:4] = 0.5 * np.eye(2)  # x1, y1 = centre + size / 2

# how a float output tensor is described, for decoding outputs that are already floats
FLOAT_OUTPUT = {"dtype": np.float32, "quantization": (0.0, 0)}


def is_quantized(detail: dict) -> bool:
    return np.dtype(detail["dtype"]) != np.float32


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(logits.astype(np.float64), -100, 100)))  # clipped as MediaPipe does


def levels(detail: dict) -> tuple[np.ndarray, np.ndarray]:
    """Every raw value the integer tensor `detail` can hold, in order, and the value each one reads as."""
    info = np.iinfo(detail["dtype"])
    raw = np.arange(info.min, info.max + 1)
    return raw, dequantize(raw, *detail["quantization"])


def score_probabilities(detail: dict) -> Callable[[np.ndarray], np.ndarray]:
    """Raw values of the score tensor `detail` -> probabilities; for an integer tensor a lookup in the
    sigmoids of all its levels, precomputed once."""
    if not is_quantized(detail):
        return sigmoid
    raw, values = levels(detail)
    table = sigmoid(values)
    return lambda scores: table[scores.astype(np.intp) - raw[0]]


def score_logit(min_score: float) -> float:
    """The score logit that a probability of min_score corresponds to (-inf for 0, +inf for 1)."""
    if min_score <= 0 or min_score >= 1:
        return math.inf if min_score >= 1 else -math.inf
    return math.log(min_score) - math.log1p(-min_score)


def raw_floor(detail: dict, value: float) -> float:
    """The lowest raw value of an output tensor that reads as at least ``value`` (its own units for a
    float tensor, the smallest passing integer for a quantized one), so outputs can be compared raw."""
    if not is_quantized(detail):
        return value
    raw, values = levels(detail)
    passing = raw[values >= value]
    return float(passing[0]) if len(passing) else np.inf


class BoxDecoder:
    """Raw BlazeFace outputs -> detections of the anchors scoring at least min_score, decoded as MediaPipe does,
    from the output tensors as the model gives them (`boxes`, `scores`: their details, float or quantized).

    Candidates are picked on the raw scores; their dequantization, the anchor scale and each anchor's centre
    are folded into one matrix and one offset per anchor, so that a frame's candidates cost one product."""

    def __init__(self, anchors: np.ndarray, scale: float = 128.0, min_score: float = 0.5,
                 boxes: dict = FLOAT_OUTPUT, scores: dict = FLOAT_OUTPUT):
        self.anchors = anchors
        self._floor = raw_floor(scores, score_logit(min_score))
        step, zero_point = boxes["quantization"] if is_quantized(boxes) else (1.0, 0)
        self._matrix = step * _CORNERS / scale
        self._offsets = np.tile(anchors, 8) - zero_point * self._matrix.sum(0)
        self._probability = score_probabilities(scores)
        # integer regressors always give finite coordinates; float ones may be NaN or overflow
        self._always_finite = is_quantized(boxes) and bool(np.isfinite(self._offsets).all())

    def __call__(self, raw_boxes: np.ndarray, raw_scores: np.ndarray) -> np.ndarray:
        """Raw regressors (N, 16) and scores (N,) -> (M, 17): box x0, y0, x1, y1 and 6 keypoints (x, y) in
        normalised model coordinates, then the score. Rows with a non-finite value are dropped: they cannot
        be a face."""
        n = len(self.anchors)
        if raw_boxes.shape != (n, 16) or raw_scores.shape != (n,):
            raise ValueError(f"detector outputs {raw_boxes.shape} and {raw_scores.shape} do not fit "
                             f"{self.anchors.shape} anchors; expected (N, 16) regressors and (N,) scores")
        rows = np.flatnonzero(raw_scores >= self._floor)
        if self._always_finite:
            return self._decode(raw_boxes[rows], raw_scores[rows], rows)
        with np.errstate(invalid="ignore", over="ignore"):  # a NaN or huge regressor: its row is dropped
            detections = self._decode(raw_boxes[rows], raw_scores[rows], rows)
        return detections[np.isfinite(detections).all(1)]

    def _decode(self, boxes: np.ndarray, scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
        detections = np.empty((len(rows), 17))
        np.matmul(boxes, self._matrix, out=detections[:, :16])
        detections[:, :16] += self._offsets[rows]
        detections[:, 16] = self._probability(scores)
        return detections


def weighted_nms(detections: np.ndarray, threshold: float = 0.3, min_score: float = 0.0) -> list[np.ndarray]:
    """MediaPipe's weighted NMS: each cluster of overlapping detections (IoU > threshold with the best)
    becomes one, its coordinates the score-weighted mean of the cluster, its score the best one. Clusters
    whose best score is under min_score are not formed: detections below it only join better ones."""
    order = np.argsort(-detections[:, -1]).tolist()
    boxes, scores = detections[:, :4].tolist(), detections[:, -1].tolist()
    merged = []
    while order and scores[order[0]] >= min_score:
        best, cluster, rest = boxes[order[0]], order[:1], []
        for i in order[1:]:
            (cluster if iou(best, boxes[i]) > threshold else rest).append(i)
        order = rest
        members = detections.take(cluster, axis=0)
        weights = members[:, -1]
        mean = weights @ members / weights.sum()
        mean[-1] = weights[0]
        merged.append(mean)
    return merged
