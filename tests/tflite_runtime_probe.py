"""Run inside .venv-tflite (tflite-runtime 2.14, numpy < 2): logits of every emotion model and faces
found by every detector in a manifest, on the fixture faces, as JSON on stdout. edge.tflite falls back
to tflite-runtime there, as on older Pi images."""
import json
import sys
from pathlib import Path

import numpy as np

from edge.detector import FaceDetector
from edge.emotion import EmotionModel
from edge.tflite import runtime_name


def detection_frames(faces):
    """FER faces enlarged and framed with their own edge pixels: frames with one face each."""
    import cv2
    return [cv2.copyMakeBorder(cv2.resize(f, (96, 96)), 48, 48, 48, 48, cv2.BORDER_REPLICATE) for f in faces[:20]]


def main():
    models_dir, faces_file = Path(sys.argv[1]), sys.argv[2]
    manifest = json.loads((models_dir / "manifest.json").read_text())
    faces = np.load(faces_file)["x"]
    out = {"runtime": runtime_name(), "numpy": np.__version__, "logits": {}, "faces": {}}
    for m in manifest["models"]:
        if m["task"] == "emotion":
            model = EmotionModel.from_manifest(m, models_dir / m["file"])
            out["logits"][m["name"]] = [model.logits(f).tolist() for f in faces]
        elif m["task"] == "face_detection":
            detector = FaceDetector.from_manifest(m, models_dir / m["file"])
            out["faces"][m["name"]] = [[f.as_dict() for f in detector.detect(frame)] for frame in detection_frames(faces)]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
