"""Evaluate: the float and int8 .tflite files on PublicTest, run exactly as the device runs them
(edge.emotion.EmotionModel on ai-edge-litert), into metrics.json, report.md and plots.

Two measures of accuracy, side by side for every model: **consensus** (agreement with the majority of
FER+'s ten annotators: what most people read in the face; the measure the model is selected on) and
**label accuracy** (agreement with FER2013's single annotator: the figure the literature quotes).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from edge.devtools.estimate import PI4_MULTIPLY_ADDS_PER_S  # the Pi 4 rate on paper, and where it comes from
from edge.emotion import EmotionModel
from edge.tflite import runtime_name
from training import ferplus, tracking
from training.architectures import INPUT_MEAN, INPUT_STD, multiply_adds
from training.config import ExperimentConfig
from training.data import EMOTIONS, FaceSet, image_key, load, load_splits
from training.distil import load_student, teacher_logits_for
from training.metrics import (
    classification_report,
    consensus_report,
    plot_confusion,
    plot_reliability,
    plot_vote_calibration,
)
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


def teacher_accuracy(cfg: ExperimentConfig, val: FaceSet) -> dict | None:
    if cfg.targets.teacher <= 0 or cfg.targets.teacher_logits is None:
        return None
    logits = teacher_logits_for(cfg, val, "val")
    return {"label_accuracy": float((logits.argmax(1) == val.y).mean()),
            "consensus": consensus_report(val.ferplus, logits)["consensus"] if val.ferplus is not None else None}


def evaluate(cfg: ExperimentConfig) -> dict:
    _, val = load_splits(cfg.data)
    paths = tflite_paths(cfg)
    dup = train_duplicates(cfg, val)
    net = load_student(cfg)
    t = cfg.targets
    report = {"experiment": cfg.name, "arch": cfg.student.arch, "width": cfg.student.width,
              "targets": {"votes": t.votes, "label": t.label, "teacher": t.teacher},
              "parameters": sum(p.numel() for p in net.parameters()), "multiply_adds": multiply_adds(net),
              "runtime": runtime_name(), "val_file": str(cfg.data.val.path), "teacher": teacher_accuracy(cfg, val),
              "val_train_duplicates": int(dup.sum())}
    report["pi4_estimate_ms"] = 1000 * report["multiply_adds"] / PI4_MULTIPLY_ADDS_PER_S
    if val.ferplus is not None:
        top = ferplus.majority(val.ferplus)
        ok = top != ferplus.NO_MAJORITY
        report["label_vs_consensus"] = float((val.y[ok] == top[ok]).mean())
    logits = {}
    for kind, path in paths.items():
        logits[kind] = tflite_logits(path, val)
        r = classification_report(val.y, logits[kind])
        r["accuracy_without_train_duplicates"] = float((logits[kind][~dup].argmax(1) == val.y[~dup]).mean())
        if val.ferplus is not None:
            r["crowd"] = consensus_report(val.ferplus, logits[kind])
        r["size_bytes"] = path.stat().st_size
        r["latency_ms"] = latency_ms(path)
        report[kind] = r
    report["int8_vs_float"] = {
        "agreement": float((logits["int8"].argmax(1) == logits["float"].argmax(1)).mean()),
        "accuracy_drop_points": 100 * (report["float"]["accuracy"] - report["int8"]["accuracy"]),
    }
    if val.ferplus is not None:
        report["int8_vs_float"]["consensus_drop_points"] = 100 * (report["float"]["crowd"]["consensus"] -
                                                                   report["int8"]["crowd"]["consensus"])
    return report


def _crowd(r: dict, kind: str, key: str) -> float | None:
    return (r[kind].get("crowd") or {}).get(key)


def markdown(report: dict, baselines: list[dict]) -> str:
    rows = [report, *baselines]
    head = "| | " + " | ".join(f"{r['experiment']} ({r['arch']} x{r.get('width', 1.0)})" for r in rows) + " |"
    lines = [head, "|---" * (len(rows) + 1) + "|"]

    def row(label, fn):
        lines.append(f"| {label} | " + " | ".join(fn(r) for r in rows) + " |")

    def pct(v):
        return "–" if v is None else f"{100 * v:.2f} %"

    row("targets (votes / label / teacher)", lambda r: " / ".join(f"{r.get('targets', {}).get(k, 0):g}"
                                                                  for k in ("votes", "label", "teacher")))
    row("**int8 consensus** (FER+ majority of 10)", lambda r: pct(_crowd(r, "int8", "consensus")))
    row("int8 FER2013-label accuracy", lambda r: pct(r["int8"]["accuracy"]))
    row("int8 label accuracy without train duplicates", lambda r: pct(r["int8"]["accuracy_without_train_duplicates"]))
    row("int8 mean annotator share of the prediction", lambda r: pct(_crowd(r, "int8", "share")))
    row("int8 KL(votes ‖ model), nats", lambda r: "–" if _crowd(r, "int8", "kl") is None
        else f"{_crowd(r, 'int8', 'kl'):.3f}")
    row("int8 calibration gap against the votes", lambda r: "–" if _crowd(r, "int8", "vote_calibration_error") is None
        else f"{_crowd(r, 'int8', 'vote_calibration_error'):.3f}")
    row("float consensus", lambda r: pct(_crowd(r, "float", "consensus")))
    row("float label accuracy", lambda r: pct(r["float"]["accuracy"]))
    row("int8 - float drop, consensus", lambda r: "–" if "consensus_drop_points" not in r["int8_vs_float"]
        else f"{r['int8_vs_float']['consensus_drop_points']:.2f} points")
    row("int8 - float drop, label", lambda r: f"{r['int8_vs_float']['accuracy_drop_points']:.2f} points")
    row("int8 / float agreement", lambda r: pct(r["int8_vs_float"]["agreement"]))
    row("int8 macro-F1 (labels)", lambda r: f"{r['int8']['macro_f1']:.4f}")
    row("parameters", lambda r: f"{r['parameters']:,}")
    row("multiply-adds per face", lambda r: "–" if "multiply_adds" not in r else f"{r['multiply_adds'] / 1e6:.1f} M")
    row("int8 file", lambda r: f"{r['int8']['size_bytes'] / 1024:.1f} KiB")
    row("int8 latency p50 / p90 (1 thread, here)", lambda r: f"{r['int8']['latency_ms']['p50']:.3f} / "
                                                             f"{r['int8']['latency_ms']['p90']:.3f} ms")
    row("Raspberry Pi 4 estimate (on paper)", lambda r: "–" if "pi4_estimate_ms" not in r
        else f"~{r['pi4_estimate_ms']:.1f} ms")
    crowd = report["int8"].get("crowd")
    lines += ["", f"Per class, int8 `{report['experiment']}`: FER2013 label (precision / recall / F1 / support) "
              "and FER+ majority (consensus accuracy / support):", "",
              "| class | label precision | label recall | label F1 | label support | consensus | majority support |",
              "|---|---|---|---|---|---|---|"]
    for name, c in report["int8"]["per_class"].items():
        cc = crowd["per_class"][name] if crowd else {"accuracy": None, "support": "–"}
        agree = "–" if cc["accuracy"] is None else f"{cc['accuracy']:.3f}"
        lines.append(f"| {name} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} | "
                     f"{agree} | {cc['support']} |")
    if "label_vs_consensus" in report:
        lines += ["", f"The FER2013 label itself agrees with the FER+ majority on "
                  f"{100 * report['label_vs_consensus']:.1f} % of these faces ({crowd['consensus_n']} with a 7-class "
                  f"majority): a model trained on the crowd's votes gives up label accuracy to gain consensus."]
    lines += ["", f"Runtime: {report['runtime']}, one thread. Data: {report['val_file']} "
              f"({report['int8']['n']} faces, {report['val_train_duplicates']} of them also in the training file). "
              "Pi 4 estimate: multiply-adds / 6.5 G per s (edge/devtools/estimate.py says where the rate comes from)."]
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
        if "crowd" in report["int8"]:
            plot_vote_calibration(report["int8"]["crowd"]["vote_calibration"],
                                  report["int8"]["crowd"]["vote_calibration_error"], f"{cfg.name} int8",
                                  out / "vote_calibration.png")
            tracking.log_summary({"int8_consensus": report["int8"]["crowd"]["consensus"],
                                  "int8_share": report["int8"]["crowd"]["share"], "int8_kl": report["int8"]["crowd"]["kl"]})
        tracking.log_summary({"int8_accuracy": report["int8"]["accuracy"], "float_accuracy": report["float"]["accuracy"],
                              "int8_macro_f1": report["int8"]["macro_f1"], "int8_ece": report["int8"]["ece"],
                              "int8_latency_ms": report["int8"]["latency_ms"]["p50"]})
        tracking.log_artifacts(out)
    print((out / "report.md").read_text())
    return report
