"""Model input preparation shared by the device and by training (no train/serve skew).

The manifest contract: a network's float input is ``(pixel - mean) / std`` with pixel in 0..255;
an int8 input tensor holds that float value quantized with the tensor's own scale and zero point.
"""
from __future__ import annotations

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
