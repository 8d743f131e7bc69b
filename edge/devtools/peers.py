"""The pipelines people use instead of ours, timed by `python -m edge bench --compare` on the same frames."""
from __future__ import annotations

import resource
import time
from typing import Callable

import cv2
import numpy as np

from edge.config import EdgeConfig
from edge.crop import CropSpec, face_crop
from edge.emotion import EmotionModel
from edge.faces import Face
from edge.manifest import float_version, model_entry

WARMUP = 10
# fer.FER's defaults (fer 22.5): Haar cascade settings, the grey frame's padding, the margin around a face
FER_HAAR = {"scaleFactor": 1.1, "minNeighbors": 5, "minSize": (50, 50), "flags": cv2.CASCADE_SCALE_IMAGE}
FER_PADDING, FER_OFFSET = 40, 10
MEDIAPIPE_MISSING = "MediaPipe: not installed (make bench-peers)"


def timed(one_frame: Callable[[np.ndarray], int], next_frame: Callable[[], np.ndarray], frames: int) -> dict:
    """A peer's per-frame latencies (capture included, as in the shipped pipeline's total), after a warm-up;
    one_frame returns the faces it found."""
    for _ in range(WARMUP):
        one_frame(next_frame())
    totals, faces = [], 0
    usage0, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(frames):
        t = time.perf_counter()
        faces += one_frame(next_frame())
        totals.append((time.perf_counter() - t) * 1000)
    wall, usage1 = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime - usage0.ru_utime + usage1.ru_stime - usage0.ru_stime) / wall
    return {"totals_ms": totals, "faces_per_frame": faces / frames, "cpu_share_of_one_core": cpu}


def fer_face_crops(grey: np.ndarray, boxes, size: tuple[int, int]) -> list[np.ndarray]:
    """fer.FER.detect_emotions' crops: the grey frame padded by 40 px of its bottom rows' mean, each box
    made square, widened by 10 px on every side, cut out and resized to the classifier's input."""
    padded = cv2.copyMakeBorder(grey, *[FER_PADDING] * 4, cv2.BORDER_CONSTANT, value=cv2.mean(grey[-2:])[0])
    crops = []
    for x, y, w, h in boxes:
        side = max(w, h)
        x, y = x - (side - w) // 2, y - (side - h) // 2
        x0, y0 = max(0, x - FER_OFFSET + FER_PADDING), max(0, y - FER_OFFSET + FER_PADDING)
        x1, y1 = x + side + FER_OFFSET + FER_PADDING, y + side + FER_OFFSET + FER_PADDING
        crops.append(cv2.resize(padded[y0:y1, x0:x1], size))
    return crops


def run_haar_peer(config: EdgeConfig, next_frame: Callable[[], np.ndarray], frames: int) -> dict | None:
    """What the `fer` package does (fer.FER with its defaults) on the same frames and thread budget: a Haar
    cascade on the grey frame, then a float mini-Xception per face. Its classifier here is the float
    mini-Xception trained in training/ (48x48) run by the same TFLite runtime; fer's own runs 64x64 in Keras.
    Returns its name and timed() figures; None where unavailable."""
    if not hasattr(cv2, "CascadeClassifier"):
        return None
    try:
        entry, path = model_entry("emotion", "mini_xception_float", config.models.dir)
    except Exception:  # noqa: BLE001 - the baseline is optional
        return None
    cv2.setNumThreads(config.models.threads)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    model = EmotionModel.from_manifest(entry, path, config.models.threads)

    def one_frame(image: np.ndarray) -> int:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        boxes = cascade.detectMultiScale(grey, **FER_HAAR)
        for crop in fer_face_crops(grey, boxes, (model.width, model.height)):
            model.probabilities(crop)
        return len(boxes)

    return {"name": "OpenCV Haar cascade + float mini-Xception (the fer package's approach)",
            **timed(one_frame, next_frame, frames)}


def run_mediapipe_peer(config: EdgeConfig, next_frame: Callable[[], np.ndarray], frames: int) -> dict | None:
    """MediaPipe's own face detection as its users run it (the legacy solutions API, FaceDetection with
    model_selection=0: its short-range BlazeFace graph and the model inside the mediapipe wheel), then our
    emotion model, float, on each face it finds, cut out by our crop from its box and eye keypoints.
    None where mediapipe cannot be imported: it lives in .venv-peers (make bench-peers), not the runtime.

    Threads: the graph's TFLite inference runs one XNNPACK thread off Android/iOS (MediaPipe's
    GetXnnpackDefaultNumThreads) and the solutions API cannot change it (its graph's own node options win
    over FaceDetectionOptions.delegate); its scheduler pool has one thread per core, but process() waits
    for each frame, so they take turns. OpenCV and the emotion model get config.models.threads, so at one
    thread the budget is ours; cpu_share_of_one_core says what it really used."""
    try:
        from mediapipe.python.solutions.face_detection import FaceDetection
    except ImportError:
        return None
    m = config.models
    entry, path = float_version("emotion", m.emotion, m.dir) or model_entry("emotion", m.emotion, m.dir)
    cv2.setNumThreads(config.models.threads)
    model = EmotionModel.from_manifest(entry, path, config.models.threads)
    spec = CropSpec.from_manifest(entry)
    with FaceDetection(model_selection=0) as detector:
        def one_frame(image: np.ndarray) -> int:
            found = detector.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)).detections or []
            for face in mediapipe_faces(found, image.shape[1], image.shape[0]):
                model.probabilities(face_crop(image, face, spec))
            return len(found)

        figures = timed(one_frame, next_frame, frames)
    return {"name": f"MediaPipe FaceDetection (short range, its own graph) + emotion model {entry['name']}",
            **figures}


def mediapipe_faces(detections, width: int, height: int) -> list[Face]:
    """MediaPipe's detections (relative box and keypoints, the same six in the same order as ours) in frame pixels."""
    out = []
    for d in detections:
        box = d.location_data.relative_bounding_box
        points = np.array([[k.x * width, k.y * height] for k in d.location_data.relative_keypoints], np.float32)
        out.append(Face((box.xmin * width, box.ymin * height, box.width * width, box.height * height),
                        float(d.score[0]), points))
    return out
