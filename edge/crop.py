"""Cut a detected face out of a frame the way FER2013 faces were cut, for the emotion model.

The convention (scale, vertical shift, eye alignment) is the emotion model's manifest field
``face_crop``, measured against the detector's own boxes (models/emotion/MODEL_CARD.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge.faces import Face


@dataclass(frozen=True)
class CropSpec:
    box_scale: float = 1.2
    center_shift_y: float = -0.05
    align_eyes: bool = True
    size: int = 48

    @classmethod
    def from_manifest(cls, entry: dict) -> "CropSpec":
        crop = entry.get("face_crop", {})
        return cls(crop.get("box_scale", cls.box_scale), crop.get("center_shift_y", cls.center_shift_y),
                   crop.get("align_eyes", cls.align_eyes), int(entry["input"]["height"]))


def eye_angle(face: Face) -> float:
    """Angle (radians) of the line through the eyes, left to right in the image."""
    (x0, y0), (x1, y1) = face.keypoints[0], face.keypoints[1]
    if x1 < x0:
        x0, y0, x1, y1 = x1, y1, x0, y0
    return math.atan2(y1 - y0, x1 - x0)


def face_crop(frame: np.ndarray, face: Face, spec: CropSpec = CropSpec()) -> np.ndarray:
    """(spec.size, spec.size) grey uint8 crop; parts outside the frame repeat the edge pixels."""
    x, y, w, h = face.box
    side = spec.box_scale * max(w, h)
    if not side > 0 or not all(map(math.isfinite, (x, y, w, h, side))):
        raise ValueError(f"face box {face.box} has no finite size or position; cannot crop it.")
    angle = eye_angle(face) if spec.align_eyes else 0.0
    if not math.isfinite(angle):  # keypoints lost (NaN): crop upright rather than not at all
        angle = 0.0
    cos, sin = math.cos(angle), math.sin(angle)
    # the crop centre, moved along the face's own vertical axis
    shift = spec.center_shift_y * max(w, h)
    cx, cy = x + w / 2 - sin * shift, y + h / 2 + cos * shift
    # sample at an intermediate resolution, then area-average down: no aliasing on large faces
    out = int(min(max(round(side), spec.size), 2 * spec.size))
    s = side / out
    # output pixel (u, v) -> frame point: centre + R(angle) * s * (u - c, v - c), c = out/2 - 0.5
    c = out / 2 - 0.5
    m = np.array([[s * cos, -s * sin, cx - s * (cos - sin) * c],
                  [s * sin, s * cos, cy - s * (sin + cos) * c]], np.float64)
    patch = cv2.warpAffine(frame, m, (out, out), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    if patch.ndim == 3:  # grey after cutting: converting the whole frame would cost more than the crop
        patch = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)
    if out == spec.size:
        return patch
    return cv2.resize(patch, (spec.size, spec.size), interpolation=cv2.INTER_AREA)
