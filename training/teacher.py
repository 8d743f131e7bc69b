"""Teacher: a ResNet-18-style CNN (PyTorch) trained from scratch, then used only for its soft targets.

It is large (11M parameters) and wants a GPU; a student is distilled from the logits it writes
(``teacher_logits.npz``, averaged over the image and its mirror), so the GPU machine has to bring back
just that array. Several seeds train in parallel processes and form an ensemble by averaging logits. It
trains with the same loop and on the same blended targets as the students (training/fit.py).

Without a GPU the teacher is an ensemble of wider students already trained here on the votes
(``[teacher] members``, their experiment files): the stage then trains nothing and writes their averaged,
mirror-averaged logits in the same file.
"""
from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from training import tracking
from training.config import ExperimentConfig, TeacherConfig, load_config
from training.data import EMOTIONS, FaceSet, load_splits
from training.distil import load_student, training_targets
from training.fit import FitSettings, fit, pixels, predict_logits, val_metrics


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.short(x))


def conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def build_teacher(arch: str, width: int) -> nn.Module:
    """48x48 grey in, 7 logits out. The stem halves the resolution once so a 4-stage net ends at 3x3."""
    w = width
    if arch == "resnet18":
        stages, cin = [], w
        for i, cout in enumerate((w, 2 * w, 4 * w, 8 * w)):
            stages += [BasicBlock(cin, cout, 1 if i == 0 else 2), BasicBlock(cout, cout, 1)]
            cin = cout
        body = nn.Sequential(conv_bn(1, w // 2), conv_bn(w // 2, w, 2), *stages)
    else:  # VGG-style, after Khaireddin & Chen (2021)
        body = nn.Sequential(conv_bn(1, w // 2), conv_bn(w // 2, w, 2), conv_bn(w, w),
                             conv_bn(w, 2 * w, 2), conv_bn(2 * w, 2 * w),
                             conv_bn(2 * w, 4 * w, 2), conv_bn(4 * w, 4 * w),
                             conv_bn(4 * w, 8 * w, 2), conv_bn(8 * w, 8 * w))
    return nn.Sequential(body, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(8 * w, len(EMOTIONS)))


def train_member(cfg: ExperimentConfig, seed: int, config_path: str | None) -> Path:
    """Train one teacher on the experiment's targets (resumable, training/fit.py); return its logits file."""
    tc: TeacherConfig = cfg.teacher
    device = ("cuda" if torch.cuda.is_available() else "cpu") if tc.device == "auto" else tc.device
    torch.backends.cudnn.benchmark = True
    out = cfg.run_dir / "teacher" / f"seed{seed}"
    train, val = load_splits(cfg.data)
    train, targets = training_targets(cfg, train, with_teacher=False)
    model = build_teacher(tc.arch, tc.width)
    settings = FitSettings(epochs=tc.epochs, batch_size=tc.batch_size, lr=tc.lr, weight_decay=tc.weight_decay,
                           optimizer="sgd", erasing_p=tc.erasing_p, mixup_alpha=tc.mixup_alpha,
                           patience=tc.patience, max_minutes=tc.max_minutes, device=device)
    with tracking.tracked_run(cfg, f"teacher-seed{seed}", config_path):
        state = fit(model, train, targets, val, settings, out, f"teacher seed {seed}", tracking.log_epoch, seed)
        np.savez(out / "logits.npz", train_ids=train.ids, train_logits=predict_logits(model, pixels(train, device), mirror=True),
                 val_ids=val.ids, val_logits=predict_logits(model, pixels(val, device), mirror=True))
        tracking.log_summary({"best_val": state["best"]})
    return out / "logits.npz"


def _member(args):  # module-level for multiprocessing's spawn
    cfg, seed, config_path = args
    return train_member(cfg, seed, config_path)


def trained_member(member_config: Path, train: FaceSet, val: FaceSet) -> dict:
    """The mirror-averaged logits of a student trained by another experiment, on these faces."""
    member = load_config(member_config)
    net = load_student(member)
    print(f"[teacher] member {member.name} ({member.student.arch} x{member.student.width})", flush=True)
    return {"train_ids": train.ids, "train_logits": predict_logits(net, pixels(train), mirror=True),
            "val_ids": val.ids, "val_logits": predict_logits(net, pixels(val), mirror=True)}


def run(cfg: ExperimentConfig, config_path: str | None = None) -> Path:
    """Train every seed (in parallel on a GPU), or take the trained members; average their logits and write
    teacher_logits.npz."""
    seeds = cfg.teacher.seeds
    train, val = load_splits(cfg.data)
    if cfg.teacher.members:
        members = [trained_member(m, train, val) for m in cfg.teacher.members]
    else:
        tracking.init_store(cfg)  # create the store once, before parallel writers
        if torch.cuda.is_available() and len(seeds) > 1:
            with mp.get_context("spawn").Pool(len(seeds)) as pool:
                files = pool.map(_member, [(cfg, s, config_path) for s in seeds])
        else:
            files = [train_member(cfg, s, config_path) for s in seeds]
        members = [np.load(f) for f in files]
    val_logits = np.mean([m["val_logits"] for m in members], 0)
    accs = [val_metrics(m["val_logits"], val) for m in members]
    ens = val_metrics(val_logits, val)
    out = cfg.run_dir / "teacher" / "teacher_logits.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, train_ids=members[0]["train_ids"], train_logits=np.mean([m["train_logits"] for m in members], 0),
             val_ids=members[0]["val_ids"], val_logits=val_logits)
    print(f"[teacher] members {accs}; ensemble {ens} -> {out}")
    return out
