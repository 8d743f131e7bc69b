"""Teacher: a ResNet-18-style CNN (PyTorch) trained from scratch, then used only for its soft targets.

It is large (11M parameters) and wants a GPU; the shipped student is distilled from the logits it
writes (``teacher_logits.npz``), so the GPU machine has to bring back just that array. Several seeds
train in parallel processes and form an ensemble by averaging logits.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from training import tracking
from training.config import ExperimentConfig, TeacherConfig
from training.data import EMOTIONS, FaceSet, load_splits, soft_labels


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


def augment(x: torch.Tensor, erasing_p: float) -> torch.Tensor:
    """Flip, rotation +-15 deg, scale +-15 %, shift +-12 %, brightness/contrast, random erasing; on x's device."""
    b, dev = x.shape[0], x.device
    u = lambda lo, hi: torch.empty(b, device=dev).uniform_(lo, hi)  # noqa: E731
    angle, scale = u(-15, 15) * math.pi / 180, u(0.85, 1.15)
    flip = torch.where(torch.rand(b, device=dev) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, u(-0.12, 0.12)], 1),
                         torch.stack([sin * flip, cos, u(-0.12, 0.12)], 1)], 1)
    x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False),
                      padding_mode="border", align_corners=False)
    mean = x.mean((1, 2, 3), keepdim=True)
    x = ((x - mean) * u(0.75, 1.25)[:, None, None, None] + mean + u(-0.1, 0.1)[:, None, None, None]).clamp(0, 1)
    # random erasing: one rectangle of 2-20 % of the image, filled with noise
    h, w = x.shape[2:]
    area, ratio = u(0.02, 0.2) * h * w, torch.exp(u(math.log(0.3), math.log(3.3)))
    eh, ew = (area * ratio).sqrt().clamp(max=h), (area / ratio).sqrt().clamp(max=w)
    y0, x0 = u(0, 1) * (h - eh), u(0, 1) * (w - ew)
    rows = torch.arange(h, device=dev)[None, :, None]
    cols = torch.arange(w, device=dev)[None, None, :]
    box = ((rows >= y0[:, None, None]) & (rows < (y0 + eh)[:, None, None]) &
           (cols >= x0[:, None, None]) & (cols < (x0 + ew)[:, None, None]))
    box &= (torch.rand(b, device=dev) < erasing_p)[:, None, None]
    return torch.where(box[:, None], torch.rand_like(x), x)


def normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - 0.5) / 0.25


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch: int = 1024) -> np.ndarray:
    """Logits averaged over the image and its mirror (test-time augmentation)."""
    model.eval()
    out = []
    for i in range(0, len(x), batch):
        xb = normalise(x[i:i + batch])
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=x.device.type == "cuda"):
            logits = (model(xb) + model(torch.flip(xb, dims=[3]))) / 2
        out.append(logits.float().cpu())
    return torch.cat(out).numpy()


def to_tensor(faces: FaceSet, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(faces.x).to(device).float().div_(255).unsqueeze(1)


def train_member(cfg: ExperimentConfig, seed: int, config_path: str | None) -> Path:
    """Train one teacher with checkpoints every epoch (resumable); return its logits file."""
    tc: TeacherConfig = cfg.teacher
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if tc.device == "auto" else tc.device)
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = True
    torch.set_float32_matmul_precision("high")
    out = cfg.run_dir / "teacher" / f"seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    train, val = load_splits(cfg.data)
    x_train, x_val = to_tensor(train, device), to_tensor(val, device)
    targets = torch.from_numpy(soft_labels(train, tc.label_smoothing, cfg.data.ferplus_weight)).to(device)
    y_val = val.y

    model = build_teacher(tc.arch, tc.width).to(device, memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=tc.lr, momentum=0.9, nesterov=True, weight_decay=tc.weight_decay)
    steps = math.ceil(len(train) / tc.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, tc.lr, total_steps=tc.epochs * steps, pct_start=0.15)
    state = {"epoch": 0, "best_acc": -1.0, "since_best": 0}
    if (out / "last.pt").exists():  # resume where the last run stopped
        ckpt = torch.load(out / "last.pt", map_location=device, weights_only=False)
        model.load_state_dict(ckpt["model"]), opt.load_state_dict(ckpt["opt"]), sched.load_state_dict(ckpt["sched"])
        state = ckpt["state"]
        if ckpt.get("epochs") != tc.epochs:
            raise SystemExit(f"{out / 'last.pt'} was made for {ckpt.get('epochs')} epochs, the config asks for "
                             f"{tc.epochs}: keep teacher.epochs to resume, or delete {out} to start again.")
        print(f"[teacher seed {seed}] resuming at epoch {state['epoch']}", flush=True)

    started = time.time()
    with tracking.tracked_run(cfg, f"teacher-seed{seed}", config_path):
        while state["epoch"] < tc.epochs and state["since_best"] < tc.patience:
            if tc.max_minutes and time.time() - started > 60 * tc.max_minutes:
                print(f"[teacher seed {seed}] stopping at the {tc.max_minutes} min limit", flush=True)
                break
            t0, model = time.time(), model.train()
            perm, total = torch.randperm(len(train), device=device), 0.0
            for i in range(steps):
                idx = perm[i * tc.batch_size:(i + 1) * tc.batch_size]
                xb, tb = augment(x_train[idx], tc.erasing_p), targets[idx]
                if tc.mixup_alpha > 0:
                    lam = float(np.random.beta(tc.mixup_alpha, tc.mixup_alpha))
                    j = torch.randperm(len(idx), device=device)
                    xb, tb = lam * xb + (1 - lam) * xb[j], lam * tb + (1 - lam) * tb[j]
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                    logits = model(normalise(xb).contiguous(memory_format=torch.channels_last))
                loss = torch.sum(-tb * F.log_softmax(logits.float(), 1), 1).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() if i % 20 == 0 else 0.0
            acc = float((predict_logits(model, x_val).argmax(1) == y_val).mean())
            state["epoch"] += 1
            better = acc > state["best_acc"]
            state.update(best_acc=max(acc, state["best_acc"]), since_best=0 if better else state["since_best"] + 1)
            ckpt = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "state": state,
                    "epochs": tc.epochs}
            torch.save(ckpt, out / "last.pt")
            if better:
                torch.save(model.state_dict(), out / "best.pt")
            tracking.log_epoch({"val_acc": acc, "train_loss": total / math.ceil(steps / 20),
                                "lr": sched.get_last_lr()[0]}, state["epoch"])
            print(f"[teacher seed {seed}] epoch {state['epoch']}/{tc.epochs} val_acc {acc:.4f} "
                  f"best {state['best_acc']:.4f} ({time.time() - t0:.1f}s)", flush=True)
        model.load_state_dict(torch.load(out / "best.pt", map_location=device))
        np.savez(out / "logits.npz", train_ids=train.ids, train_logits=predict_logits(model, x_train),
                 val_ids=val.ids, val_logits=predict_logits(model, x_val))
        tracking.log_summary({"best_val_acc": state["best_acc"]})
    return out / "logits.npz"


def _member(args):  # module-level for multiprocessing's spawn
    cfg, seed, config_path = args
    return train_member(cfg, seed, config_path)


def run(cfg: ExperimentConfig, config_path: str | None = None) -> Path:
    """Train every seed (in parallel on a GPU), average their logits, write teacher_logits.npz."""
    seeds = cfg.teacher.seeds
    tracking.init_store(cfg)  # create the store once, before parallel writers
    if torch.cuda.is_available() and len(seeds) > 1:
        with mp.get_context("spawn").Pool(len(seeds)) as pool:
            files = pool.map(_member, [(cfg, s, config_path) for s in seeds])
    else:
        files = [train_member(cfg, s, config_path) for s in seeds]
    members = [np.load(f) for f in files]
    _, val = load_splits(cfg.data)
    val_logits = np.mean([m["val_logits"] for m in members], 0)
    accs = [float((m["val_logits"].argmax(1) == val.y).mean()) for m in members]
    ens_acc = float((val_logits.argmax(1) == val.y).mean())
    out = cfg.run_dir / "teacher" / "teacher_logits.npz"
    np.savez(out, train_ids=members[0]["train_ids"], train_logits=np.mean([m["train_logits"] for m in members], 0),
             val_ids=members[0]["val_ids"], val_logits=val_logits, member_val_acc=np.array(accs))
    print(f"[teacher] members val_acc {[round(a, 4) for a in accs]}; ensemble val_acc {ens_acc:.4f} -> {out}")
    return out
