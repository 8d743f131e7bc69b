"""Measure how FER2013 faces are cropped relative to the shipped detector's boxes.

Runs the face detector on FER2013 training faces (enlarged and framed by their own edge pixels) and
reports the crop side / box side ratio and where the crop centre sits relative to the box centre: the
``face_crop`` convention in the emotion model's manifest entry and card (training/export.py).

    python -m training.crop_convention [--train ../shared/data/fer2013/fer2013_train.npz] [--every 25]
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np

from edge.detector import FaceDetector
from edge.manifest import model_entry
from training.data import load

ENLARGE, BORDER = 96, 48  # a 48x48 face becomes 96x96 in the middle of a 192x192 frame


def measure(faces: np.ndarray, detector: FaceDetector) -> dict:
    scales, shifts = [], []
    for face in faces:
        frame = cv2.copyMakeBorder(cv2.resize(face, (ENLARGE, ENLARGE), interpolation=cv2.INTER_CUBIC),
                                   BORDER, BORDER, BORDER, BORDER, cv2.BORDER_REPLICATE)
        found = detector.detect(frame)
        if len(found) != 1:
            continue
        x, y, w, h = found[0].box
        side = max(w, h)
        scales.append(ENLARGE / side)
        shifts.append((BORDER + ENLARGE / 2 - (y + h / 2)) / side)  # crop centre - box centre, in box sides
    s, t = np.array(scales), np.array(shifts)
    return {"faces": len(faces), "detected": len(s), "box_scale_median": float(np.median(s)),
            "box_scale_iqr": [float(np.percentile(s, 25)), float(np.percentile(s, 75))],
            "center_shift_y_median": float(np.median(t))}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", default="../shared/data/fer2013/fer2013_train.npz")
    ap.add_argument("--every", type=int, default=25)
    args = ap.parse_args(argv)
    entry, path = model_entry("face_detection")
    detector = FaceDetector.from_manifest(entry, path)
    print(measure(load(args.train).x[::args.every], detector))


if __name__ == "__main__":
    main()
