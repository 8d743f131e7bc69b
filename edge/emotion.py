"""The emotion classifier: 48x48 grey face crops in, class probabilities out."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.preprocess import InputEncoder, dequantize
from edge.tflite import load_interpreter


class EmotionModel:
    def __init__(self, path: str | Path, mean: float, std: float, labels: list[str], threads: int = 1):
        self.interpreter = load_interpreter(path, threads)
        self.labels = list(labels)
        self._in = self.interpreter.get_input_details()[0]
        self._out = self.interpreter.get_output_details()[0]
        self.encode = InputEncoder(mean, std, self._in)
        self.height, self.width = int(self._in["shape"][1]), int(self._in["shape"][2])

    @classmethod
    def from_manifest(cls, entry: dict, path: str | Path, threads: int = 1) -> EmotionModel:
        """The classifier a manifest entry describes: its input normalisation and its labels."""
        return cls(path, entry["input"]["mean"], entry["input"]["std"], entry["labels"], threads)

    def logits(self, face: np.ndarray) -> np.ndarray:
        """One grey face (H,W) uint8, already cropped and resized to the model's input -> logits."""
        if face.shape != (self.height, self.width):
            raise ValueError(f"face crop is {face.shape}; the model expects {(self.height, self.width)} grey.")
        self.interpreter.set_tensor(self._in["index"], self.encode(face)[None, :, :, None])
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self._out["index"])[0]
        if self._out["dtype"] != np.float32:
            out = dequantize(out, *self._out["quantization"])
        return out

    def probabilities(self, face: np.ndarray) -> np.ndarray:
        z = self.logits(face)
        e = np.exp(z - z.max())
        return e / e.sum()
