"""Pack FER2013 .npz files losslessly (WebP) to move them to a GPU machine that has no internet.

FER2013 faces barely compress with zip (the shipped npz files are already deflated); lossless WebP
saves about 30 %, enough to fit the training data into a 64 MiB transfer. Unpacking restores every
array exactly, so positions (the ids teacher logits are matched by) stay the same.

    python -m training.pack pack OUT.npz A.npz B.npz     # here
    python -m training.pack unpack OUT.npz DIR           # there: writes DIR/A.npz, DIR/B.npz
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np


def pack(out: Path, sources: list[Path]) -> None:
    arrays = {}
    for src in sources:
        with np.load(src, allow_pickle=False) as d:
            for key in d.files:
                if key == "x":
                    blobs = [cv2.imencode(".webp", im, [cv2.IMWRITE_WEBP_QUALITY, 101])[1] for im in d["x"]]
                    arrays[f"{src.stem}/x_webp"] = np.concatenate(blobs)
                    arrays[f"{src.stem}/x_len"] = np.array([len(b) for b in blobs], np.int64)
                else:
                    arrays[f"{src.stem}/{key}"] = d[key]
    np.savez(out, **arrays)


def unpack(packed: Path, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    with np.load(packed, allow_pickle=False) as d:
        stems = sorted({k.split("/")[0] for k in d.files})
        written = []
        for stem in stems:
            arrays = {k.split("/", 1)[1]: d[k] for k in d.files if k.startswith(stem + "/")}
            blob, lengths = arrays.pop("x_webp"), arrays.pop("x_len")
            ends = np.cumsum(lengths)
            arrays["x"] = np.stack([cv2.imdecode(blob[e - n:e], cv2.IMREAD_GRAYSCALE) for e, n in zip(ends, lengths)])
            np.savez(out_dir / f"{stem}.npz", **arrays)
            written.append(out_dir / f"{stem}.npz")
    return written


if __name__ == "__main__":
    cmd, first, *rest = sys.argv[1:]
    if cmd == "pack":
        pack(Path(first), [Path(p) for p in rest])
    else:
        print(unpack(Path(first), Path(rest[0])))
