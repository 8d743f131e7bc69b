"""BlazeFace face detection, the model: a .tflite checked against the known layouts, run on a letterboxed
frame, its outputs decoded (edge/blazeface.py) into faces in frame pixels (edge/faces.py)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.blazeface import ANCHOR_LAYOUTS, BoxDecoder, Letterbox, is_quantized, ssd_anchors, weighted_nms
from edge.faces import Face
from edge.preprocess import InputEncoder, dequantize
from edge.tflite import ModelLoadError, load_interpreter

# Anchors scoring at least this join the weighted-NMS clusters; a merged face is reported only when its
# best score reaches the detector's threshold. Averaging more of the overlapping anchors steadies the box:
# int8 vs float agreement on the shared videos rose from IoU 0.889 to 0.901 (models/face_detector/MODEL_CARD.md)
CLUSTER_SCORE = 0.3


def check_frame(frame) -> None:
    """ValueError, saying what is wrong, unless `frame` is a non-empty uint8 BGR or grey image."""
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"frame is a {type(frame).__name__}; expected uint8 HxWx3 (BGR) or HxW (grey) array.")
    if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] != 3) \
            or frame.size == 0:
        raise ValueError(f"frame is {frame.dtype} {frame.shape}; expected uint8 HxWx3 (BGR) or HxW (grey), "
                         "not empty.")


class FaceDetector:
    """An int8 or float BlazeFace .tflite; ``detect(frame)`` takes a BGR or grey uint8 frame."""

    def __init__(self, path: str | Path, mean: float = 127.5, std: float = 127.5, min_score: float = 0.5,
                 threads: int = 1):
        self.interpreter = load_interpreter(path, threads)
        self.min_score = min_score
        self._in = self.interpreter.get_input_details()[0]
        self.encode = InputEncoder(mean, std, self._in)
        self.size = int(self._in["shape"][1])
        # the converter renames and reorders outputs: tell them apart by shape
        outputs = sorted(self.interpreter.get_output_details(), key=lambda d: int(d["shape"][-1]))
        if len(outputs) != 2 or int(outputs[1]["shape"][-1]) != 16:
            raise ModelLoadError(f"{path}: not a BlazeFace model (outputs {[d['shape'].tolist() for d in outputs]}).")
        self._scores, self._boxes = outputs
        for d in outputs:  # what BoxDecoder can fold in: float32, or 8-bit integers with one positive scale
            if is_quantized(d) and not (np.dtype(d["dtype"]) in (np.int8, np.uint8) and d["quantization"][0] > 0):
                raise ModelLoadError(f"{path}: output {d['name']} is {np.dtype(d['dtype'])} with quantization "
                                     f"{d['quantization']}; expected float32, or int8/uint8 with a per-tensor scale.")
        if self.size not in ANCHOR_LAYOUTS:
            raise ModelLoadError(f"{path}: input {self.size}x{self.size} is not a known BlazeFace layout "
                                 f"({', '.join(map(str, ANCHOR_LAYOUTS))}).")
        self.anchors = ssd_anchors(self.size, *ANCHOR_LAYOUTS[self.size])
        if len(self.anchors) != int(self._boxes["shape"][1]):
            raise ModelLoadError(f"{path}: {int(self._boxes['shape'][1])} outputs but {len(self.anchors)} anchors.")
        # anchors scoring at least CLUSTER_SCORE (or min_score, if lower) are decoded: they join the clusters of
        # the weighted NMS
        self.decode = BoxDecoder(self.anchors, float(self.size), min(CLUSTER_SCORE, min_score), self._boxes,
                                 self._scores)

    @classmethod
    def from_manifest(cls, entry: dict, path: str | Path, threads: int = 1, min_score: float | None = None) -> FaceDetector:
        """The detector a manifest entry describes (its input normalisation; its shipped min_score unless
        one is given)."""
        return cls(path, entry["input"]["mean"], entry["input"]["std"],
                   entry.get("min_score", 0.5) if min_score is None else min_score, threads)

    def _output(self, detail) -> np.ndarray:
        raw = self.interpreter.get_tensor(detail["index"])[0]
        return dequantize(raw, *detail["quantization"]) if is_quantized(detail) else raw

    def _invoke(self, model_input: np.ndarray) -> None:
        self.interpreter.set_tensor(self._in["index"], self.encode(model_input)[None])
        self.interpreter.invoke()

    def raw(self, model_input: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run on a letterboxed RGB uint8 model input; returns (regressors (N,16), score logits (N,))."""
        self._invoke(model_input)
        return self._output(self._boxes), self._output(self._scores)[:, 0]

    def prepare(self, frame: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """BGR or grey uint8 frame -> letterboxed RGB model input and how it was fitted."""
        check_frame(frame)
        box = Letterbox.fit(frame.shape[1], frame.shape[0], self.size)
        # shrink first, convert colours after: the conversion then touches 128x128 pixels, not the frame
        small = box.apply(frame)
        return cv2.cvtColor(small, cv2.COLOR_GRAY2RGB if frame.ndim == 2 else cv2.COLOR_BGR2RGB), box

    def infer(self, model_input: np.ndarray, box: Letterbox) -> list[Face]:
        """Run the model on a prepared input and decode its faces into frame pixels."""
        self._invoke(model_input)
        detections = self.decode(self.interpreter.get_tensor(self._boxes["index"])[0],
                                 self.interpreter.get_tensor(self._scores["index"])[0, :, 0])
        faces = []
        for d in weighted_nms(detections, min_score=self.min_score):
            points = box.to_frame(d[0:16].reshape(8, 2))  # two box corners, then the six keypoints
            (x0, y0), (x1, y1) = points[0], points[1]
            faces.append(Face((float(x0), float(y0), float(x1 - x0), float(y1 - y0)), float(d[-1]), points[2:]))
        return faces

    def detect(self, frame: np.ndarray) -> list[Face]:
        return self.infer(*self.prepare(frame))
