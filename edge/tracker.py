"""Stable face ids across frames, temporal smoothing of each face's expression, and the primary face.

Greedy IoU matching is enough here: a booth sees one to a few faces that move little between frames,
so the Hungarian assignment or motion models of multi-object trackers would buy nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.faces import corners, iou
from edge.windows import RunningMean


def iou_xywh(a, b) -> float:
    """IoU of two x, y, w, h boxes."""
    return iou(corners(a), corners(b))


@dataclass
class Track:
    id: int
    box: tuple[float, float, float, float]
    expression: RunningMean  # the face's probabilities over the smoothing window
    missed: int = 0


class Tracker:
    def __init__(self, min_iou: float = 0.3, max_missed: int = 15, smoothing_s: float = 1.0):
        self.min_iou, self.max_missed, self.smoothing_s = min_iou, max_missed, smoothing_s
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, boxes: list) -> list[Track]:
        """Match this frame's boxes to tracks (best IoU first); returns the track of each box, in order."""
        assigned: list[Track | None] = [None] * len(boxes)
        free = list(self.tracks)
        pairs = sorted(((iou_xywh(b, t.box), i, t) for i, b in enumerate(boxes) for t in free), key=lambda p: -p[0])
        for overlap, i, track in pairs:
            if overlap < self.min_iou:
                break
            if assigned[i] is None and track in free:
                assigned[i] = track
                free.remove(track)
        for i, box in enumerate(boxes):
            if assigned[i] is None:
                assigned[i] = Track(self._next_id, box, RunningMean(self.smoothing_s))
                self._next_id += 1
                self.tracks.append(assigned[i])
            assigned[i].box, assigned[i].missed = box, 0
        for track in free:
            track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return assigned


def primary_index(boxes: list, width: int, height: int) -> int | None:
    """The face a kiosk should talk to: the largest, discounted by its distance from the frame centre."""
    if len(boxes) < 2:
        return 0 if boxes else None
    diagonal = np.hypot(width, height)

    def weight(box):
        x, y, w, h = box
        off_centre = np.hypot(x + w / 2 - width / 2, y + h / 2 - height / 2) / diagonal
        return w * h * (1 - off_centre)

    return int(np.argmax([weight(b) for b in boxes]))
