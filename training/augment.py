"""Batch augmentation on the training device, in PyTorch: one affine resampling per face (flip,
rotation, zoom and shift together), brightness/contrast jitter and random erasing. Works on (N,1,H,W)
faces in [0, 1]."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


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
