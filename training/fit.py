"""One PyTorch training loop for every network here (the students, the baseline, the teachers).

Soft-target cross-entropy against the blended targets (`training.targets`), augmentation and mixup,
a one-cycle learning rate, an exponential moving average of the weights, and a checkpoint after every
epoch: a run that is stopped (a session ends, a lease runs out) continues from `last.pt` when started
again with the same settings. The kept model (`best.pt`) is the epoch with the best selection metric on
the validation faces: consensus accuracy (agreement with the FER+ majority) by default.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from training.architectures import INPUT_MEAN, INPUT_STD
from training.augment import augment
from training.data import FaceSet
from training.metrics import consensus_report


@dataclass(frozen=True)
class FitSettings:
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    optimizer: str = "adamw"  # or "sgd" (Nesterov momentum 0.9)
    erasing_p: float = 0.25
    mixup_alpha: float = 0.0
    ema_decay: float = 0.0  # 0: no moving average
    select_on: str = "consensus"  # or "label_accuracy"
    patience: int | None = None  # stop after this many epochs without a better selection metric
    max_minutes: float | None = None  # stop (resumably) after this wall time
    device: str = "cpu"
    channels_last: bool = False  # NHWC tensors: 1.6x faster on an AVX2 EPYC here, slower on an AVX-512 Xeon


def pixels(faces: FaceSet, device: str | torch.device = "cpu") -> torch.Tensor:
    """Faces as (N,1,48,48) float in [0, 1]: what augmentation works on."""
    return torch.from_numpy(faces.x).to(device).float().div_(255).unsqueeze(1)


def normalise(x01: torch.Tensor) -> torch.Tensor:
    """[0, 1] pixels -> the manifest's network input (pixel - INPUT_MEAN) / INPUT_STD."""
    return (x01 * 255 - INPUT_MEAN) / INPUT_STD


@torch.no_grad()
def predict_logits(model: nn.Module, x01: torch.Tensor, batch: int = 1024, mirror: bool = False) -> np.ndarray:
    """Logits for every face; with ``mirror`` averaged with the flipped face's (the teachers' soft targets)."""
    model.eval()
    out = []
    for i in range(0, len(x01), batch):
        xb = normalise(x01[i:i + batch])
        logits = model(xb)
        if mirror:
            logits = (logits + model(torch.flip(xb, dims=[3]))) / 2
        out.append(logits.float().cpu())
    return torch.cat(out).numpy()


def val_metrics(logits: np.ndarray, faces: FaceSet) -> dict:
    out = {"label_accuracy": float((logits.argmax(1) == faces.y).mean())}
    if faces.ferplus is not None:
        out["consensus"] = consensus_report(faces.ferplus, logits)["consensus"]
    return out


class MovingAverage:
    """An exponential moving average of the weights and BatchNorm statistics (as timm's ModelEmaV2)."""

    def __init__(self, model: nn.Module, decay: float):
        self.model, self.decay = copy.deepcopy(model).eval(), decay

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))  # short warm-up: early weights are noise
        for ema, cur in zip(self.model.state_dict().values(), model.state_dict().values()):
            if ema.dtype.is_floating_point:
                ema.mul_(d).add_(cur.detach(), alpha=1 - d)
            else:
                ema.copy_(cur)


def fit(model: nn.Module, train: FaceSet, targets: np.ndarray, val: FaceSet, s: FitSettings, out_dir: Path,
        tag: str, log_epoch: Callable[[dict, int], None] = lambda m, e: None, seed: int = 0) -> dict:
    """Train ``model`` in place; returns the state of the run. ``out_dir/best.pt`` holds the kept weights."""
    out_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(s.device)
    torch.manual_seed(seed)
    layout = torch.channels_last if s.channels_last else torch.contiguous_format
    model.to(device, memory_format=layout)
    x_train, x_val = pixels(train, device), pixels(val, device)
    t_train = torch.from_numpy(targets).to(device)
    if s.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=s.lr, momentum=0.9, nesterov=True, weight_decay=s.weight_decay)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    steps = math.ceil(len(train) / s.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, s.lr, total_steps=s.epochs * steps, pct_start=0.15)
    ema = MovingAverage(model, s.ema_decay) if s.ema_decay > 0 else None
    state = {"epoch": 0, "best": -1.0, "best_epoch": 0, "since_best": 0, "history": []}
    settings = asdict(s) | {"n_train": len(train)}
    if (out_dir / "last.pt").exists():  # resume where the last run stopped
        ckpt = torch.load(out_dir / "last.pt", map_location=device, weights_only=False)
        changed = {k: (ckpt["settings"].get(k), v) for k, v in settings.items()
                   if k not in ("max_minutes", "device") and ckpt["settings"].get(k) != v}
        if changed:
            raise SystemExit(f"{out_dir / 'last.pt'} was made with other settings ({changed}, as (then, now)): "
                             f"keep them to resume, or delete {out_dir} to start again.")
        model.load_state_dict(ckpt["model"]), opt.load_state_dict(ckpt["opt"]), sched.load_state_dict(ckpt["sched"])
        if ema is not None:
            ema.model.load_state_dict(ckpt["ema"])
        state = ckpt["state"]
        torch.set_rng_state(ckpt["rng"])
        print(f"[{tag}] resuming after epoch {state['epoch']}", flush=True)
    started = time.time()
    while state["epoch"] < s.epochs and (s.patience is None or state["since_best"] < s.patience):
        if s.max_minutes and time.time() - started > 60 * s.max_minutes:
            print(f"[{tag}] stopping at the {s.max_minutes} min limit; run again to continue", flush=True)
            break
        t0 = time.time()
        model.train()
        perm, loss_sum = torch.randperm(len(train), device=device), 0.0
        for i in range(steps):
            idx = perm[i * s.batch_size:(i + 1) * s.batch_size]
            xb, tb = augment(x_train[idx], s.erasing_p), t_train[idx]
            if s.mixup_alpha > 0:
                lam = float(np.random.default_rng(state["epoch"] * steps + i).beta(s.mixup_alpha, s.mixup_alpha))
                j = torch.randperm(len(idx), device=device)
                xb, tb = lam * xb + (1 - lam) * xb[j], lam * tb + (1 - lam) * tb[j]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = model(normalise(xb).contiguous(memory_format=layout))  # bfloat16 on a GPU only: on this CPU it was 12-45 % slower
            loss = torch.sum(-tb * F.log_softmax(logits.float(), 1), 1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                ema.update(model, state["epoch"] * steps + i)
            loss_sum += loss.item()
        kept = ema.model if ema is not None else model
        metrics = val_metrics(predict_logits(kept, x_val), val) | {"train_loss": loss_sum / steps,
                                                                   "lr": sched.get_last_lr()[0]}
        score = metrics.get(s.select_on, metrics["label_accuracy"])
        state["epoch"] += 1
        better = score > state["best"]
        if better:
            state.update(best=score, best_epoch=state["epoch"], since_best=0)
            torch.save(kept.state_dict(), out_dir / "best.pt")
        else:
            state["since_best"] += 1
        state["history"].append(metrics | {"epoch": state["epoch"], "seconds": time.time() - t0})
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "ema": None if ema is None else ema.model.state_dict(), "state": state,
                    "rng": torch.get_rng_state(), "settings": settings}, out_dir / "last.pt")
        log_epoch(metrics, state["epoch"])
        shown = " ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k != "lr")
        print(f"[{tag}] epoch {state['epoch']}/{s.epochs} {shown} best {s.select_on} {state['best']:.4f} "
              f"({time.time() - t0:.0f} s)", flush=True)
    model.load_state_dict(torch.load(out_dir / "best.pt", map_location=device))
    model.to(memory_format=torch.contiguous_format)  # what the Keras twin and the teachers' logits expect
    return state
