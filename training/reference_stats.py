"""Reference: what the device's monitor (edge/monitoring) compares the field against, measured on the
training faces with the exported int8 model, written next to it and named in its manifest entry.

Per training face: brightness, contrast and sharpness of the 48x48 crop (edge.monitoring.quality, the
device's own function) and the int8 model's predicted class and confidence (edge.emotion.EmotionModel
on ai-edge-litert, as on the device). FER2013 has no face sizes (every face is a 48x48 crop); when
calibration videos are configured they run through the device's own pipeline and the detected face
sizes become the face-size reference, marked as device-calibrated rather than training data.
The file holds no timestamps, so a rerun on the same data and model writes the same bytes.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from edge.emotion import EmotionModel
from edge.manifest import model_entry
from edge.monitoring.quality import QUALITY, crop_quality
from edge.monitoring.reference import SCHEMA
from training import tracking
from training.config import ExperimentConfig
from training.data import DatasetError, FaceSet, file_sha256, load_splits
from training.manifest import set_fields, sha256

# Bin edges; a value beyond the last edge is counted in the last bin.
EDGES = {
    "brightness": np.linspace(0, 256, 33),
    "contrast": np.linspace(0, 128, 33),
    "sharpness": np.linspace(0, 3, 31),
    "confidence": np.linspace(0, 1, 21),
    "face_size": np.array([0, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048], float),
}
DEFINITIONS = {
    "brightness": "mean grey level (0-255) of the 48x48 face crop",
    "contrast": "grey-level standard deviation of the crop",
    "sharpness": "variance of the Laplacian of the crop over its grey-level variance",
    "confidence": "top-class probability of the int8 model",
    "face_size": "longer side (px) of the detector's face box",
}
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)


def distribution(name: str, values: np.ndarray) -> dict:
    edges = EDGES[name]
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), edges)
    return {"definition": DEFINITIONS[name], "n": len(values), "mean": round(float(values.mean()), 4),
            "percentiles": {f"p{q}": round(float(np.percentile(values, q)), 4) for q in PERCENTILES},
            "edges": [round(float(e), 4) for e in edges], "counts": counts.tolist()}


def training_faces(cfg: ExperimentConfig) -> FaceSet:
    """The faces the model was trained on (load_splits: PublicTest copies and blank images removed)."""
    train, _ = load_splits(cfg.data)
    n = cfg.reference.max_faces
    if n and n < len(train):
        train = train.subset(np.sort(np.random.default_rng(cfg.seed).choice(len(train), n, replace=False)))
    return train


def face_sizes(cfg: ExperimentConfig, model_name: str) -> dict:
    videos = cfg.reference.calibration_videos
    if not videos:
        return {"note": "not measured: every FER2013 face is a 48x48 crop, and no calibration videos are "
                        "configured (reference.calibration_videos)"}
    from edge.config import EdgeConfig
    from edge.pipeline import Pipeline  # the device's own pipeline; heavy import, only needed here

    config = EdgeConfig.model_validate({"models": {"dir": str(cfg.export.models_dir), "emotion": model_name}})
    sizes, frames, without = [], 0, 0
    for video in videos:
        cap = cv2.VideoCapture(str(video))
        if not cap.isOpened():
            raise DatasetError(f"{video}: cannot open this calibration video (reference.calibration_videos); "
                               "check the path and that OpenCV decodes it.")
        pipeline = Pipeline.from_config(config)  # fresh tracker per video
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        while True:
            ok, image = cap.read()
            if not ok:
                break
            result = pipeline.process(image, frames / fps, frames)
            sizes += [max(f.box[2], f.box[3]) for f in result.faces]
            frames, without = frames + 1, without + (not result.faces)
        cap.release()
    if not sizes:
        raise DatasetError(f"no face detected in the calibration videos {[str(v) for v in videos]}; "
                           "give videos of people facing the camera.")
    return {"calibration": "device-calibrated: the shipped detector on booth-like videos, not training data",
            "videos": [Path(v).name for v in videos], "frames": frames, "frames_without_face": without,
            **distribution("face_size", np.array(sizes))}


def reference_stats(cfg: ExperimentConfig) -> dict:
    name = f"{cfg.export.name}_int8"
    entry, path = model_entry("emotion", name, cfg.export.models_dir)
    model = EmotionModel.from_manifest(entry, path, threads=1)
    faces = training_faces(cfg)
    quality = np.array([crop_quality(face) for face in faces.x])
    probabilities = np.stack([model.probabilities(face) for face in faces.x])
    top = probabilities.argmax(1)
    counts = np.bincount(top, minlength=len(model.labels))
    return {
        "schema": SCHEMA,
        "model": {"name": name, "file": entry["file"], "sha256": entry["sha256"]},
        "data": {"file": Path(cfg.data.train.path).name, "sha256": file_sha256(cfg.data.train.path),
                 "faces": len(faces), "selection": "training split without its PublicTest copies and blank "
                 "images" + (f", {cfg.reference.max_faces} drawn with seed {cfg.seed}" if cfg.reference.max_faces
                             else "")},
        "quality": {q: distribution(q, quality[:, i]) for i, q in enumerate(QUALITY)},
        "predictions": {"labels": list(model.labels), "class_counts": counts.tolist(),
                        "class_shares": [round(float(c), 4) for c in counts / counts.sum()],
                        "confidence": distribution("confidence", probabilities.max(1))},
        "face_size": face_sizes(cfg, name),
    }


def run(cfg: ExperimentConfig, config_path=None) -> Path:
    models_dir = cfg.export.models_dir
    relative = f"emotion/{cfg.export.name}_reference.json"
    dest = models_dir / relative
    with tracking.tracked_run(cfg, "reference", config_path):
        stats = reference_stats(cfg)
        dest.write_text(json.dumps(stats, indent=1) + "\n")
        set_fields(models_dir / "manifest.json", stats["model"]["name"],
                   {"reference_stats": relative, "reference_stats_sha256": sha256(dest)})
        q, p = stats["quality"], stats["predictions"]
        tracking.log_summary({f"{k}_p50": q[k]["percentiles"]["p50"] for k in q} |
                             {"confidence_mean": p["confidence"]["mean"]})
        tracking.log_artifacts(dest)
    print(f"[reference] {stats['data']['faces']:,} training faces, model {stats['model']['name']}")
    for k in q:
        pct = q[k]["percentiles"]
        print(f"[reference] {k}: p1 {pct['p1']:g}, p50 {pct['p50']:g}, p99 {pct['p99']:g}")
    print("[reference] predicted shares: " + ", ".join(f"{label} {share:.3f}" for label, share
                                                       in zip(p["labels"], p["class_shares"])))
    print(f"[reference] confidence: mean {p['confidence']['mean']:.3f}, p50 {p['confidence']['percentiles']['p50']:g}")
    size = stats["face_size"]
    print("[reference] face size: " + (f"p50 {size['percentiles']['p50']:g} px over {size['n']} faces in "
                                        f"{', '.join(size['videos'])}" if "percentiles" in size else size["note"]))
    print(f"[reference] models/{relative} sha256 {sha256(dest)[:12]}…, named in {stats['model']['name']}'s "
          "manifest entry")
    return dest
