"""Export: ship the int8 (and float) .tflite into models/, with its manifest entry, report and card.

Manifest contract (shared/docs/design.md): {"schema": 1, "models": [{"name", "task", "file", "sha256",
"input": {height, width, channels, mean, std}, "labels", ...}]}.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from training import tracking
from training.architectures import INPUT_MEAN, INPUT_STD
from training.config import ExperimentConfig
from training.data import EMOTIONS, IMAGE_SIZE
from training.evaluate import report_dir
from training.manifest import sha256, update_manifest
from training.quantize import tflite_paths

# How the device must crop a face so that it looks like a FER2013 face, measured with the shipped int8
# BlazeFace by `python -m training.crop_convention` (see MODEL_CARD.md): square side = box_scale x the
# box's longer side, centre = box centre moved by center_shift_y box sides (negative: up), eyes level.
FACE_CROP = {"box_scale": 1.2, "center_shift_y": -0.05, "box_convention": "blazeface-short-range",
             "align_eyes": True, "grey": True, "interpolation": "area"}
CARD_TEMPLATE = Path(__file__).with_name("model_card.md")


def manifest_entry(cfg: ExperimentConfig, name: str, file: Path, precision: str, metrics: dict) -> dict:
    return {
        "name": name,
        "task": "emotion",
        "file": file.relative_to(cfg.export.models_dir).as_posix(),
        "sha256": sha256(file),
        "version": cfg.export.version,
        "precision": precision,
        "input": {"height": IMAGE_SIZE, "width": IMAGE_SIZE, "channels": 1, "mean": INPUT_MEAN, "std": INPUT_STD},
        "labels": list(EMOTIONS),
        "output": "logits",
        "face_crop": FACE_CROP,
        # consensus: agreement with the FER+ majority of ten annotators (what the model is selected on);
        # publictest_accuracy: agreement with FER2013's single label
        "metrics": {"publictest_consensus": round(metrics["crowd"]["consensus"], 4) if "crowd" in metrics else None,
                    "publictest_accuracy": round(metrics["accuracy"], 4), "macro_f1": round(metrics["macro_f1"], 4)},
        "card": "emotion/MODEL_CARD.md",
    }


def write_card(cfg: ExperimentConfig, dest: Path) -> None:
    report = json.loads((report_dir(cfg) / "metrics.json").read_text())
    table = (report_dir(cfg) / "report.md").read_text()
    i8, fl = report["int8"], report["float"]
    crowd, float_crowd = i8["crowd"], fl["crowd"]
    sc, t = cfg.student, cfg.targets
    dest.write_text(CARD_TEMPLATE.read_text().format(
        name=f"{cfg.export.name}_int8", experiment=cfg.name, arch=sc.arch, width=sc.width,
        params=f"{report['parameters']:,}", macs=f"{report['multiply_adds'] / 1e6:.1f}",
        size_kib=f"{i8['size_bytes'] / 1024:.1f}", consensus=f"{100 * crowd['consensus']:.2f}",
        float_consensus=f"{100 * float_crowd['consensus']:.2f}", share=f"{100 * crowd['share']:.1f}",
        kl=f"{crowd['kl']:.3f}", acc=f"{100 * i8['accuracy']:.2f}", float_acc=f"{100 * fl['accuracy']:.2f}",
        f1=f"{i8['macro_f1']:.3f}", latency=f"{i8['latency_ms']['p50']:.3f}", pi4=f"{report['pi4_estimate_ms']:.1f}",
        label_vs_consensus=f"{100 * report['label_vs_consensus']:.1f}", consensus_n=crowd["consensus_n"],
        targets=f"votes {t.votes:g}, label {t.label:g}, teacher {t.teacher:g}", epochs=sc.epochs, lr=sc.lr,
        batch=sc.batch_size, weight_decay=sc.weight_decay, erasing=sc.erasing_p, mixup=sc.mixup_alpha,
        ema=sc.ema_decay, mean=INPUT_MEAN, std=INPUT_STD, box_scale=FACE_CROP["box_scale"],
        shift=-FACE_CROP["center_shift_y"], report_table=table))


def run(cfg: ExperimentConfig, config_path=None) -> list[dict]:
    models_dir = cfg.export.models_dir
    dest_dir = models_dir / "emotion"
    reports = dest_dir / "reports" / cfg.name
    reports.mkdir(parents=True, exist_ok=True)
    metrics = json.loads((report_dir(cfg) / "metrics.json").read_text())
    entries = []
    for precision in ("int8", "float"):
        name = f"{cfg.export.name}_{precision}"
        dest = dest_dir / f"{name}.tflite"
        shutil.copyfile(tflite_paths(cfg)[precision], dest)
        entries.append(manifest_entry(cfg, name, dest, precision, metrics[precision]))
    for f in ("metrics.json", "report.md", "confusion.png", "reliability.png", "vote_calibration.png"):
        shutil.copyfile(report_dir(cfg) / f, reports / f)
    if cfg.export.primary:
        write_card(cfg, dest_dir / "MODEL_CARD.md")
    carried = carry_reference_stats(models_dir, entries)
    update_manifest(models_dir / "manifest.json", entries, cfg.export.primary)
    with tracking.tracked_run(cfg, "export", config_path):
        tracking.log_artifacts(models_dir / "manifest.json", *(models_dir / e["file"] for e in entries))
    for e in entries:
        print(f"[export] {e['name']}: models/{e['file']} sha256 {e['sha256'][:12]}…")
    if not carried:
        print(f"[export] the monitor's reference statistics do not describe this model: run `python -m training "
              f"reference --config {config_path or '<this config>'}` next (`all` does)")
    return entries


REFERENCE_FIELDS = ("reference_stats", "reference_stats_sha256")


def carry_reference_stats(models_dir: Path, entries: list[dict]) -> bool:
    """Keep the reference-statistics fields of a re-exported model whose statistics were measured on this
    very file (same sha256); the entries are rewritten whole, and statistics of another file would
    mislead the device's monitor. Returns whether the int8 entry has them."""
    manifest_path = models_dir / "manifest.json"
    old = {m["name"]: m for m in json.loads(manifest_path.read_text())["models"]} if manifest_path.exists() else {}
    carried = False
    for entry in entries:
        previous = old.get(entry["name"], {})
        stats = models_dir / previous.get("reference_stats", "-")
        if stats.is_file() and json.loads(stats.read_text()).get("model", {}).get("sha256") == entry["sha256"]:
            entry.update({k: previous[k] for k in REFERENCE_FIELDS})
            carried = carried or entry["precision"] == "int8"
    return carried
