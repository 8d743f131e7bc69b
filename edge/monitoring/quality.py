"""Input quality of one face crop, exactly as the emotion model sees it (48x48 grey uint8).

training/reference_stats.py measures the training faces with this same function, so a figure on the
device and its reference mean the same thing.
"""
from __future__ import annotations

import cv2
import numpy as np

QUALITY = ("brightness", "contrast", "sharpness")


def crop_quality(crop: np.ndarray) -> tuple[float, float, float]:
    """(brightness, contrast, sharpness) of a grey crop.

    brightness: mean grey level (0-255). contrast: grey-level standard deviation (RMS contrast).
    sharpness: variance of the Laplacian divided by the grey-level variance. The raw variance of the
    Laplacian, the usual blur measure, scales with the square of contrast, so a dim face would read as a
    blurred one; divided by the variance it measures edges alone (about 0.7 on a typical training face,
    under 0.1 on a face blurred past recognition).
    """
    mean, std = cv2.meanStdDev(crop)
    lap_std = cv2.meanStdDev(cv2.Laplacian(crop, cv2.CV_32F))[1][0, 0]
    contrast = float(std[0, 0])
    return float(mean[0, 0]), contrast, float(lap_std) ** 2 / max(contrast ** 2, 1.0)
