"""Distil: train a student network (PyTorch, CPU) on the blended targets of ``[targets]``.

The targets mix the FER+ vote shares, the FER2013 label and, where a teacher has been trained, its soft
targets (training/targets.py); ``[targets] label = 1`` alone is classic supervised FER2013 training, which
is how the label-trained side of the trade-off is made by the same code. Resumable: run it again after a
stop and it continues from the last epoch.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from training import tracking
from training.architectures import Network, build, multiply_adds
from training.config import ExperimentConfig
from training.data import EMOTIONS, FaceSet, load_splits
from training.fit import FitSettings, fit
from training.targets import blend, keep_for_training

K = len(EMOTIONS)


def model_path(cfg: ExperimentConfig) -> Path:
    return cfg.run_dir / "student" / "best.pt"


def load_student(cfg: ExperimentConfig, path: Path | None = None) -> Network:
    """The experiment's network with its kept weights."""
    path = path or model_path(cfg)
    if not Path(path).exists():
        raise SystemExit(f"{path}: no trained student; run the distil stage first.")
    net = build(cfg.student.arch, cfg.student.width)
    try:
        net.load_state_dict(torch.load(path, map_location="cpu"))
    except RuntimeError as e:
        raise SystemExit(f"{path}: does not fit arch {cfg.student.arch!r} at width {cfg.student.width} "
                         f"({str(e).splitlines()[0]}). It must be a best.pt of the same arch and width.") from e
    return net.eval()


def teacher_logits_for(cfg: ExperimentConfig, faces: FaceSet, split: str) -> np.ndarray | None:
    """The teacher's logits for these faces, matched by id; None when the experiment has no teacher."""
    path = cfg.targets.teacher_logits
    if path is None:
        return None
    if not Path(path).exists():
        raise SystemExit(f"targets.teacher_logits = {path}: no such file; run the teacher stage first.")
    with np.load(path) as t:
        ids, logits = t[f"{split}_ids"], t[f"{split}_logits"]
    pos = {int(i): n for n, i in enumerate(ids)}
    missing = [int(i) for i in faces.ids if int(i) not in pos]
    if missing:
        raise SystemExit(f"{path}: no teacher logits for {len(missing)} {split} faces (e.g. id {missing[0]}); "
                         f"rerun the teacher stage on this data.")
    return logits[[pos[int(i)] for i in faces.ids]].astype(np.float32)


def training_targets(cfg: ExperimentConfig, train: FaceSet, with_teacher: bool = True) -> tuple[FaceSet, np.ndarray]:
    """The faces worth training on and their (N,7) targets; a teacher itself learns without the teacher part."""
    t = cfg.targets
    train = train.subset(keep_for_training(train, t.votes))
    teacher_weight = t.teacher if with_teacher else 0.0
    if not with_teacher and t.votes + t.label <= 0:
        raise SystemExit("targets: a teacher learns from votes and labels, and both weights are 0.")
    teacher = teacher_logits_for(cfg, train, "train") if teacher_weight > 0 else None
    return train, blend(train, t.votes, t.label, teacher_weight, t.label_smoothing, teacher, t.temperature)


def settings(cfg: ExperimentConfig) -> FitSettings:
    sc = cfg.student
    return FitSettings(epochs=sc.epochs, batch_size=sc.batch_size, lr=sc.lr, weight_decay=sc.weight_decay,
                       erasing_p=sc.erasing_p, mixup_alpha=sc.mixup_alpha, ema_decay=sc.ema_decay,
                       select_on=sc.select_on, max_minutes=sc.max_minutes, channels_last=sc.channels_last)


def train(cfg: ExperimentConfig, train_set: FaceSet, val_set: FaceSet, out_dir: Path, log_epoch=None,
          fit_settings: FitSettings | None = None) -> tuple[Network, dict]:
    """Train a student on these splits; returns the kept (best-on-validation) network and the run's state."""
    if cfg.student.threads:
        torch.set_num_threads(cfg.student.threads)
    train_set, targets = training_targets(cfg, train_set)
    net = build(cfg.student.arch, cfg.student.width)
    if cfg.student.init_from is not None:
        net.load_state_dict(load_student(cfg, cfg.student.init_from).state_dict())
    state = fit(net, train_set, targets, val_set, fit_settings or settings(cfg), out_dir, f"distil {cfg.name}",
                log_epoch or (lambda m, e: None), cfg.seed)
    return net.eval(), state


def run(cfg: ExperimentConfig, config_path=None) -> None:
    train_set, val_set = load_splits(cfg.data)
    t = cfg.targets
    print(f"[distil] {cfg.student.arch} x{cfg.student.width}: {len(train_set)} train / {len(val_set)} val faces; "
          f"targets votes {t.votes} / label {t.label} / teacher {t.teacher}", flush=True)
    out_dir = model_path(cfg).parent
    with tracking.tracked_run(cfg, "distil", config_path):
        net, state = train(cfg, train_set, val_set, out_dir, tracking.log_epoch)
        summary = {"best_" + cfg.student.select_on: state["best"], "best_epoch": state["best_epoch"],
                   "epochs_run": state["epoch"], "params": sum(p.numel() for p in net.parameters()),
                   "multiply_adds": multiply_adds(net)}
        (out_dir / "summary.json").write_text(json.dumps(summary | {"history": state["history"]}, indent=1))
        tracking.log_summary(summary)
        tracking.log_artifacts(model_path(cfg))
    print(f"[distil] best {cfg.student.select_on} {state['best']:.4f} at epoch {state['best_epoch']} "
          f"-> {model_path(cfg)}", flush=True)
