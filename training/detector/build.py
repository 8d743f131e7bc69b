"""Build the int8 face detector: fetch MediaPipe's float BlazeFace, rebuild it in TensorFlow, and
convert it to full int8 (weights, activations, input, output) calibrated on real frames.

    python -m training.detector.build [--shared ../shared] [--models models]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf

from edge.detector import Letterbox
from edge.preprocess import normalise
from training.detector.evaluate import evaluate, markdown
from training.detector.fetch import MODELS, fetch
from training.detector.rebuild import TfliteGraph
from training.manifest import sha256, update_manifest

MEAN = STD = 127.5  # BlazeFace takes RGB in [-1, 1]
MIN_SCORE = 0.5  # MediaPipe's threshold for this model
CARD = Path(__file__).with_name("model_card.md")
# Score logits beyond +-8 mean certainty either way (sigmoid 0.9997); clipping them before int8
# quantization turns the output step from ~1.2 logits into ~0.06 and keeps thresholds meaningful.
SCORE_CLIP = 8.0
# Likewise the regressors: anchors far from any face regress to thousands of units, which would make one
# int8 step 36 units (a quarter of the input); real boxes and keypoints stay within +-128 units.
REGRESSOR_CLIP = 128.0


def real_images(shared: Path) -> list[np.ndarray]:
    """BGR frames: the shared photos, every 10th frame of the shared videos, the face-detection images."""
    data = shared / "data"
    frames = [cv2.imread(str(p)) for p in sorted((data / "media/photos").glob("*.jpg"))]
    for video in sorted((data / "media/videos").glob("*")):
        cap = cv2.VideoCapture(str(video))
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i % 10 == 0:
                frames.append(frame)
            i += 1
        cap.release()
    frames += [cv2.imread(str(p)) for p in sorted((data / "face_detection").glob("*/images/*.jpg"))]
    return [f for f in frames if f is not None]


def representative_inputs(shared: Path, size: int, count: int = 400, seed: int = 0) -> np.ndarray:
    """Letterboxed, normalised model inputs from real frames and augmented crops of them (zoomed in,
    mirrored, darker and brighter) so that close-up booth faces and poor light are covered."""
    rng = np.random.default_rng(seed)
    frames = real_images(shared)
    out = []
    for i in range(count):
        frame = frames[i % len(frames)]
        if i >= len(frames):  # augmented copies
            h, w = frame.shape[:2]
            zoom = rng.uniform(0.35, 1.0)
            ch, cw = int(h * zoom), int(w * zoom)
            y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            frame = frame[y0:y0 + ch, x0:x0 + cw]
            if rng.random() < 0.5:
                frame = frame[:, ::-1]
            frame = np.clip(frame * rng.uniform(0.4, 1.4) + rng.uniform(-30, 30), 0, 255).astype(np.uint8)
        rgb = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_BGR2RGB)
        out.append(normalise(Letterbox.fit(rgb.shape[1], rgb.shape[0], size).apply(rgb), MEAN, STD))
    return np.stack(out)


def to_int8(float_model: Path, calibration: np.ndarray) -> bytes:
    graph = TfliteGraph(float_model)

    @tf.function(input_signature=[tf.TensorSpec(graph.input_shape, tf.float32)])
    def detector(x):
        out = graph.run(x)
        boxes = next(v for v in out.values() if v.shape[-1] == 16)
        scores = next(v for v in out.values() if v.shape[-1] == 1)
        return {"regressors": tf.clip_by_value(boxes, -REGRESSOR_CLIP, REGRESSOR_CLIP),
                "classificators": tf.clip_by_value(scores, -SCORE_CLIP, SCORE_CLIP)}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([detector.get_concrete_function()], detector)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def manifest_entry(name: str, file: Path, models_dir: Path, precision: str, metrics: dict) -> dict:
    return {
        "name": name, "task": "face_detection", "file": file.relative_to(models_dir).as_posix(),
        "sha256": sha256(file), "version": "1", "precision": precision,
        "input": {"height": 128, "width": 128, "channels": 3, "mean": MEAN, "std": STD},
        "labels": ["face"], "min_score": MIN_SCORE, "nms_iou": 0.3,
        "anchors": {"strides": [8, 16, 16, 16], "offset": 0.5, "scale": 128},
        "metrics": {k: round(metrics[k]["ap50"], 4) for k in ("wider32", "dlib")},
        "card": "face_detector/MODEL_CARD.md",
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--models", type=Path, default=Path("models"))
    ap.add_argument("--work", type=Path, default=Path("runs/face_detector"))
    args = ap.parse_args(argv)
    short = fetch(args.work)["short_range"]
    calibration = representative_inputs(args.shared, TfliteGraph(short).input_shape[1])
    dest = args.models / "face_detector"
    dest.mkdir(parents=True, exist_ok=True)
    files = {"int8": dest / "blazeface_short_int8.tflite", "float": dest / "blazeface_short_float.tflite"}
    files["int8"].write_bytes(to_int8(short, calibration))
    files["float"].write_bytes(short.read_bytes())

    report = evaluate(files, args.shared, MIN_SCORE)
    (dest / "reports").mkdir(exist_ok=True)
    (dest / "reports/metrics.json").write_text(json.dumps(report, indent=1) + "\n")
    (dest / "reports/report.md").write_text(markdown(report))
    q, f = report["models"]["int8"], report["models"]["float"]
    (dest / "MODEL_CARD.md").write_text(CARD.read_text().format(
        source_sha=MODELS["short_range"][1], score_clip=SCORE_CLIP, reg_clip=REGRESSOR_CLIP,
        reg_step=2 * REGRESSOR_CLIP / 255, calibration=len(calibration), size_kib=f"{q['size_bytes'] / 1024:.1f}",
        float_kib=f"{f['size_bytes'] / 1024:.1f}", latency=f"{q['latency_ms']:.3f}",
        ratio=q["latency_ms"] / f["latency_ms"], min_score=MIN_SCORE, report=markdown(report)))
    update_manifest(args.models / "manifest.json",
                    [manifest_entry("blazeface_short_int8", files["int8"], args.models, "int8", q)], primary=True)
    update_manifest(args.models / "manifest.json",
                    [manifest_entry("blazeface_short_float", files["float"], args.models, "float", f)], primary=False)
    print(markdown(report))


if __name__ == "__main__":
    main()
