"""Evaluate: the float and int8 .tflite files on PublicTest, run exactly as the device runs them
(edge.emotion.EmotionModel on ai-edge-litert), into metrics.json, report.md and plots."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from edge.emotion import EmotionModel
from edge.tflite import runtime_name
from training import tracking
from training.config import ExperimentConfig
from training.data import EMOTIONS, FaceSet, image_key, load, load_splits
from training.metrics import classification_report, plot_confusion, plot_reliability
from training.models import INPUT_MEAN, INPUT_STD
from training.quantize import tflite_paths


def report_dir(cfg: ExperimentConfig) -> Path:
    return cfg.run_dir / "report"


def tflite_logits(path: Path, faces: FaceSet) -> np.ndarray:
    model = EmotionModel(path, INPUT_MEAN, INPUT_STD, list(EMOTIONS), threads=1)
    return np.stack([model.logits(face) for face in faces.x])


def latency_ms(path: Path, runs: int = 500, warmup: int = 50) -> dict:
    """Per-face latency of one invoke on one thread (the device's setting), preprocessing included."""
    model = EmotionModel(path, INPUT_MEAN, INPUT_STD, list(EMOTIONS), threads=1)
    face = np.random.default_rng(0).integers(0, 256, (model.height, model.width), dtype=np.uint8)
    for _ in range(warmup):
        model.logits(face)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        model.logits(face)
        times.append((time.perf_counter() - t) * 1000)
    return {"p50": float(np.median(times)), "p90": float(np.percentile(times, 90))}


def train_duplicates(cfg: ExperimentConfig, val: FaceSet) -> np.ndarray:
    """Validation faces that also occur, pixel for pixel, in the training file."""
    train_keys = {image_key(im) for im in load(cfg.data.train.path, cfg.data.train.split).x}
    return np.array([image_key(im) in train_keys for im in val.x], bool)


def parameter_count(cfg: ExperimentConfig) -> int:
    import keras

    from training.distil import model_path
    return int(keras.models.load_model(model_path(cfg), compile=False).count_params())


def teacher_accuracy(cfg: ExperimentConfig, val: FaceSet) -> float | None:
    if cfg.distil.teacher_logits is None or not Path(cfg.distil.teacher_logits).exists():
        return None
    from training.distil import teacher_logits_for
    return float((teacher_logits_for(cfg, val, "val").argmax(1) == val.y).mean())


def evaluate(cfg: ExperimentConfig) -> dict:
    _, val = load_splits(cfg.data)
    paths = tflite_paths(cfg)
    dup = train_duplicates(cfg, val)
    report = {"experiment": cfg.name, "arch": cfg.student.arch, "parameters": parameter_count(cfg),
              "runtime": runtime_name(), "val_file": str(cfg.data.val.path), "teacher_val_accuracy":
              teacher_accuracy(cfg, val), "val_train_duplicates": int(dup.sum())}
    logits = {}
    for kind, path in paths.items():
        logits[kind] = tflite_logits(path, val)
        r = classification_report(val.y, logits[kind])
        r["accuracy_without_train_duplicates"] = float((logits[kind][~dup].argmax(1) == val.y[~dup]).mean())
        r["size_bytes"] = path.stat().st_size
        r["latency_ms"] = latency_ms(path)
        report[kind] = r
    report["int8_vs_float"] = {
        "agreement": float((logits["int8"].argmax(1) == logits["float"].argmax(1)).mean()),
        "accuracy_drop_points": 100 * (report["float"]["accuracy"] - report["int8"]["accuracy"]),
    }
    return report


def markdown(report: dict, baselines: list[dict]) -> str:
    rows = [report, *baselines]
    head = "| | " + " | ".join(f"{r['experiment']} ({r['arch']})" for r in rows) + " |"
    lines = [head, "|---" * (len(rows) + 1) + "|"]

    def row(label, fn):
        lines.append(f"| {label} | " + " | ".join(fn(r) for r in rows) + " |")

    row("int8 accuracy (PublicTest)", lambda r: f"{100 * r['int8']['accuracy']:.2f} %")
    row("int8 accuracy without train duplicates", lambda r: f"{100 * r['int8']['accuracy_without_train_duplicates']:.2f} %")
    row("float accuracy", lambda r: f"{100 * r['float']['accuracy']:.2f} %")
    row("int8 - float drop", lambda r: f"{r['int8_vs_float']['accuracy_drop_points']:.2f} points")
    row("int8 / float agreement", lambda r: f"{100 * r['int8_vs_float']['agreement']:.2f} %")
    row("int8 macro-F1", lambda r: f"{r['int8']['macro_f1']:.4f}")
    row("int8 ECE", lambda r: f"{r['int8']['ece']:.4f}")
    row("parameters", lambda r: f"{r['parameters']:,}")
    row("int8 file", lambda r: f"{r['int8']['size_bytes'] / 1024:.1f} KiB")
    row("float file", lambda r: f"{r['float']['size_bytes'] / 1024:.1f} KiB")
    row("int8 latency p50 / p90 (1 thread)", lambda r: f"{r['int8']['latency_ms']['p50']:.3f} / "
                                                       f"{r['int8']['latency_ms']['p90']:.3f} ms")
    row("float latency p50 (1 thread)", lambda r: f"{r['float']['latency_ms']['p50']:.3f} ms")
    row("teacher accuracy", lambda r: "–" if r["teacher_val_accuracy"] is None
        else f"{100 * r['teacher_val_accuracy']:.2f} %")
    lines += ["", f"Per class, int8 `{report['experiment']}` (precision / recall / F1 / support):", "",
              "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for name, c in report["int8"]["per_class"].items():
        lines.append(f"| {name} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |")
    lines += ["", f"Runtime: {report['runtime']}, one thread. Data: {report['val_file']} "
              f"({report['int8']['n']} faces, {report['val_train_duplicates']} of them also in the training file)."]
    return "\n".join(lines) + "\n"


def load_baselines(cfg: ExperimentConfig) -> list[dict]:
    found = []
    for name in cfg.evaluate.compare_with:
        path = cfg.runs_dir / name / "report" / "metrics.json"
        if not path.exists():
            path = cfg.export.models_dir / "emotion" / "reports" / name / "metrics.json"
        if not path.exists():
            raise SystemExit(f"evaluate.compare_with names '{name}' but neither runs/{name}/report/metrics.json "
                             f"nor models/emotion/reports/{name}/metrics.json exists: run that experiment first.")
        found.append(json.loads(path.read_text()))
    return found


def run(cfg: ExperimentConfig, config_path=None) -> dict:
    out = report_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    with tracking.tracked_run(cfg, "evaluate", config_path):
        report = evaluate(cfg)
        (out / "metrics.json").write_text(json.dumps(report, indent=1))
        (out / "report.md").write_text(markdown(report, load_baselines(cfg)))
        plot_confusion(np.array(report["int8"]["confusion"]), f"{cfg.name} int8, PublicTest", out / "confusion.png")
        plot_reliability(report["int8"]["reliability"], report["int8"]["ece"], f"{cfg.name} int8",
                         out / "reliability.png")
        tracking.log_summary({"int8_accuracy": report["int8"]["accuracy"], "float_accuracy": report["float"]["accuracy"],
                              "int8_macro_f1": report["int8"]["macro_f1"], "int8_ece": report["int8"]["ece"],
                              "int8_latency_ms": report["int8"]["latency_ms"]["p50"]})
        tracking.log_artifacts(out)
    print((out / "report.md").read_text())
    return report
