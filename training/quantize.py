"""Quantize: the trained PyTorch network's Keras twin (training/architectures.py), converted to TFLite,
float32 and full int8.

Full-integer post-training quantization: int8 weights and activations, int8 input and output, with
activation ranges calibrated on real training faces (not random data: ranges set on noise clip real
faces badly).
"""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from edge.preprocess import normalise  # noqa: E402
from training import tracking  # noqa: E402
from training.architectures import INPUT_MEAN, INPUT_STD  # noqa: E402
from training.config import ExperimentConfig  # noqa: E402
from training.data import FaceSet, load_splits  # noqa: E402
from training.distil import load_student  # noqa: E402


def tflite_paths(cfg: ExperimentConfig) -> dict[str, Path]:
    d = cfg.run_dir / "student"
    return {"float": d / "model_float.tflite", "int8": d / "model_int8.tflite"}


def inputs(faces: FaceSet) -> np.ndarray:
    """Faces as the Keras twin takes them: (N,48,48,1) float, normalised as the manifest says."""
    return normalise(faces.x, INPUT_MEAN, INPUT_STD)[..., None]


def representative_faces(cfg: ExperimentConfig) -> np.ndarray:
    train, _ = load_splits(cfg.data)
    rng = np.random.default_rng(cfg.seed)
    pick = rng.choice(len(train), size=min(cfg.quantize.representative_samples, len(train)), replace=False)
    return inputs(train.subset(np.sort(pick)))


def full_int8(converter: tf.lite.TFLiteConverter, calibration: np.ndarray) -> tf.lite.TFLiteConverter:
    """Set a converter to full-integer quantization (int8 in and out), ranges calibrated on these inputs."""
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter


def convert(model: keras.Model, calibration: np.ndarray | None) -> bytes:
    """float32 TFLite when calibration is None, else full int8 (int8 in and out)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    return (converter if calibration is None else full_int8(converter, calibration)).convert()


def run(cfg: ExperimentConfig, config_path=None) -> dict[str, Path]:
    model = load_student(cfg).to_keras(cfg.student.arch)
    paths = tflite_paths(cfg)
    with tracking.tracked_run(cfg, "quantize", config_path):
        paths["float"].write_bytes(convert(model, None))
        paths["int8"].write_bytes(convert(model, representative_faces(cfg)))
        tracking.log_summary({f"{k}_bytes": p.stat().st_size for k, p in paths.items()})
        tracking.log_artifacts(*paths.values())
    for kind, p in paths.items():
        print(f"[quantize] {kind}: {p} ({p.stat().st_size / 1024:.1f} KiB)")
    return paths
