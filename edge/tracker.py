"""Stable face ids across frames, temporal smoothing of each face's expression, and the primary face.

Greedy IoU matching is enough here: a booth sees one to a few faces that move little between frames,
so the Hungarian assignment or motion models of multi-object trackers would buy nothing.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from edge.faces import corners, iou


def iou_xywh(a, b) -> float:
    """IoU of two x, y, w, h boxes."""
    return iou(corners(a), corners(b))


@dataclass
class Track:
    id: int
    box: tuple[float, float, float, float]
    missed: int = 0
    history: deque = field(default_factory=deque)  # (timestamp, probabilities)
    total: np.ndarray | None = None  # float64 sum of the probabilities in history: O(1) running mean a frame


class Tracker:
    def __init__(self, min_iou: float = 0.3, max_missed: int = 15):
        self.min_iou, self.max_missed = min_iou, max_missed
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
                assigned[i] = Track(self._next_id, box)
                self._next_id += 1
                self.tracks.append(assigned[i])
            assigned[i].box, assigned[i].missed = box, 0
        for track in free:
            track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return assigned


def smoothed(track: Track, probabilities: np.ndarray, now: float, window_s: float) -> np.ndarray:
    """Add this frame's probabilities to the track and return their mean over the last window_s seconds."""
    # a clock that went backwards (a restarted source) drops the whole history rather than keeping it forever
    while track.history and not now - window_s <= track.history[0][0] <= now:
        track.total -= track.history.popleft()[1]
    if not track.history:  # restart from exact zero: no rounding carried over from earlier windows
        track.total = np.zeros(len(probabilities))
    track.history.append((now, probabilities))
    track.total += probabilities
    return track.total / len(track.history)


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
