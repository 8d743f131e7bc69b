"""Model input preparation shared by the device and by training (no train/serve skew).

The manifest contract: a network's float input is ``(pixel - mean) / std`` with pixel in 0..255;
an int8 input tensor holds that float value quantized with the tensor's own scale and zero point.
"""
from __future__ import annotations

import cv2
import numpy as np


def normalise(pixels: np.ndarray, mean: float, std: float) -> np.ndarray:
    """uint8 (or float 0..255) pixels -> float32 network input."""
    return (pixels.astype(np.float32) - mean) / std


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype=np.int8) -> np.ndarray:
    """Float network input -> the integer tensor of a fully quantized model."""
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Integer output tensor -> float values (logits for the emotion model)."""
    return (q.astype(np.float32) - zero_point) * scale


class InputEncoder:
    """uint8 pixels -> a model's input tensor, following the contract above.

    For an integer tensor the whole mapping has only 256 possible results, so it is precomputed once
    and applied as a table lookup: the same values as quantize(normalise(...)) at a fraction of the
    cost of float arithmetic on every pixel.
    """

    def __init__(self, mean: float, std: float, detail: dict):
        self.mean, self.std, self.dtype = mean, std, np.dtype(detail["dtype"])
        self._table = None
        if self.dtype != np.float32:
            levels = quantize(normalise(np.arange(256, dtype=np.uint8), mean, std), *detail["quantization"], self.dtype)
            self._table = levels.view(np.uint8)  # cv2.LUT maps uint8 to uint8: carry the int8 bit patterns

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        if self._table is None:
            return normalise(pixels, self.mean, self.std)
        return cv2.LUT(pixels, self._table).view(self.dtype)
