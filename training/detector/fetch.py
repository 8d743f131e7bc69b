"""Obtain MediaPipe's float BlazeFace models reproducibly: from the mediapipe 0.10.14 wheel on PyPI
(fetched with pip, never at run time), checked against pinned sha256 sums."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "mediapipe==0.10.14"
MODELS = {  # name -> (path inside the wheel, sha256)
    "short_range": ("mediapipe/modules/face_detection/face_detection_short_range.tflite",
                    "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"),
    "full_range": ("mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
                   "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1"),
}


def fetch(dest: Path) -> dict[str, Path]:
    """Download the wheel (any platform's copy holds the same files), extract and verify both models."""
    dest.mkdir(parents=True, exist_ok=True)
    out = {name: dest / Path(inner).name for name, (inner, _) in MODELS.items()}
    if not all(p.exists() and _sha256(p) == MODELS[n][1] for n, p in out.items()):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                            "--python-version", "3.11", "--platform", "manylinux2014_x86_64", "-d", tmp, WHEEL],
                           check=True)
            wheel = next(Path(tmp).glob("mediapipe-*.whl"))
            with zipfile.ZipFile(wheel) as z:
                for name, (inner, _) in MODELS.items():
                    out[name].write_bytes(z.read(inner))
    for name, path in out.items():
        if _sha256(path) != MODELS[name][1]:
            raise SystemExit(f"{path}: sha256 {_sha256(path)} is not the pinned {MODELS[name][1]}; "
                             f"the {WHEEL} wheel changed or the download is corrupt.")
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
