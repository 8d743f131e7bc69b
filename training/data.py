"""Load FER2013 from any of its three common layouts into one in-memory form.

Layouts: the repacked ``.npz`` files of ``shared/data/fer2013`` (with FER+ votes), Kaggle's original
``fer2013.csv`` (columns ``emotion,pixels,Usage``) and an image folder ``<root>/<emotion>/*.png``.
Everything here needs only numpy (and OpenCV for image folders), so the GPU teacher can use it too.
"""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
IMAGE_SIZE = 48
CSV_SPLITS = ("Training", "PublicTest", "PrivateTest")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message says which file and what to do."""


@dataclass
class FaceSet:
    """Grey 48x48 faces with FER2013 labels.

    ``ids`` are positions in the source file, kept through filtering so that arrays computed on a
    FaceSet (teacher soft targets) can be matched back. ``ferplus`` holds the raw FER+ vote counts
    (N,10) in FER+'s column order (-1 where unknown; ``training.ferplus`` reads them), or None when the
    source has no FER+ votes.
    """

    x: np.ndarray
    y: np.ndarray
    ids: np.ndarray
    ferplus: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, mask_or_index: np.ndarray) -> "FaceSet":
        ferplus = None if self.ferplus is None else self.ferplus[mask_or_index]
        return FaceSet(self.x[mask_or_index], self.y[mask_or_index], self.ids[mask_or_index], ferplus)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.y, minlength=len(EMOTIONS))


def load(path: str | Path, split: str = "Training") -> FaceSet:
    """Load a FER2013 split from an ``.npz`` file, a Kaggle ``.csv`` or an image folder."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder. Point data.train/data.val at a FER2013 "
                           f".npz, the Kaggle fer2013.csv or a folder laid out as <emotion>/*.png.")
    if path.is_dir():
        return load_folder(path)
    if path.suffix == ".npz":
        return load_npz(path)
    if path.suffix == ".csv":
        return load_csv(path, split)
    raise DatasetError(f"{path}: unknown dataset format '{path.suffix}'; expected .npz, .csv or a folder.")


def load_npz(path: Path) -> FaceSet:
    try:
        with np.load(path, allow_pickle=False) as d:
            missing = {"x", "y"} - set(d.files)
            if missing:
                raise DatasetError(f"{path}: missing arrays {sorted(missing)}; expected x (N,48,48) uint8 and y (N,).")
            x, y = d["x"], d["y"].astype(np.int64)
            votes = d["ferplus"].astype(np.int16) if "ferplus" in d.files else None
            if votes is not None and votes.shape != (len(x), 10):
                raise DatasetError(f"{path}: ferplus is {votes.shape}; expected (N,10) FER+ vote counts.")
    except (OSError, ValueError) as e:
        if isinstance(e, DatasetError):
            raise
        raise DatasetError(f"{path}: not a readable .npz file ({e}).") from e
    return _checked(path, x, y, votes)


def load_csv(path: Path, split: str) -> FaceSet:
    if split not in CSV_SPLITS:
        raise DatasetError(f"{path}: unknown split '{split}'; the Kaggle csv has {', '.join(CSV_SPLITS)}.")
    xs, ys, ids = [], [], []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        need = {"emotion", "pixels", "Usage"}
        if reader.fieldnames is None or not need <= set(reader.fieldnames):
            raise DatasetError(f"{path}: expected the Kaggle columns emotion,pixels,Usage; found {reader.fieldnames}.")
        for i, row in enumerate(reader):
            if row["Usage"] != split:
                continue
            try:
                pixels = np.array(row["pixels"].split(), dtype=np.int64)
                label = int(row["emotion"])
            except ValueError as e:
                raise DatasetError(f"{path}: row {i + 1} is malformed ({e}).") from e
            if pixels.size != IMAGE_SIZE * IMAGE_SIZE:
                raise DatasetError(f"{path}: row {i + 1} has {pixels.size} pixels; expected "
                                   f"{IMAGE_SIZE}x{IMAGE_SIZE}={IMAGE_SIZE * IMAGE_SIZE}.")
            xs.append(pixels.reshape(IMAGE_SIZE, IMAGE_SIZE))
            ys.append(label)
            ids.append(i)
    if not ys:
        raise DatasetError(f"{path}: no rows with Usage == '{split}'.")
    x = np.clip(np.stack(xs), 0, 255).astype(np.uint8)
    return _checked(path, x, np.array(ys), None, np.array(ids))


def load_folder(root: Path) -> FaceSet:
    import cv2  # only image folders need OpenCV

    unknown = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in EMOTIONS)
    if unknown:
        raise DatasetError(f"{root}: unknown label folder(s) {unknown}; expected folders named {', '.join(EMOTIONS)}.")
    files = sorted(p for label in EMOTIONS if (root / label).is_dir()
                   for p in (root / label).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DatasetError(f"{root}: no images found; expected <emotion>/*.png folders named {', '.join(EMOTIONS)}.")
    xs, ys = [], []
    for p in files:
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise DatasetError(f"{p}: not a readable image.")
        if img.shape != (IMAGE_SIZE, IMAGE_SIZE):
            raise DatasetError(f"{p}: image is {img.shape[1]}x{img.shape[0]}; expected {IMAGE_SIZE}x{IMAGE_SIZE} "
                               f"FER2013 crops.")
        xs.append(img)
        ys.append(EMOTIONS.index(p.parent.name))
    return _checked(root, np.stack(xs), np.array(ys), None)


def _checked(path: Path, x: np.ndarray, y: np.ndarray, votes: np.ndarray | None,
             ids: np.ndarray | None = None) -> FaceSet:
    if x.ndim != 3 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or x.dtype != np.uint8:
        raise DatasetError(f"{path}: images are {x.dtype} {x.shape}; expected uint8 (N,{IMAGE_SIZE},{IMAGE_SIZE}).")
    if len(y) != len(x):
        raise DatasetError(f"{path}: {len(x)} images but {len(y)} labels.")
    bad = (y < 0) | (y >= len(EMOTIONS))
    if bad.any():
        raise DatasetError(f"{path}: label {int(y[bad][0])} is not a FER2013 class 0..6 ({', '.join(EMOTIONS)}).")
    ids = np.arange(len(y)) if ids is None else ids
    return FaceSet(x, y.astype(np.int64), ids, votes)


def clean_train(train: FaceSet, val: FaceSet, blank_std: float = 1.0) -> tuple[FaceSet, dict]:
    """Drop near-blank placeholder images and train copies of validation images.

    FER2013 has 280 PublicTest images that also sit, pixel for pixel, in Training; keeping them would
    leak the validation set into training and inflate every figure selected on it.
    """
    val_hashes = {image_key(im) for im in val.x}
    in_val = np.array([image_key(im) in val_hashes for im in train.x], dtype=bool)
    blank = train.x.reshape(len(train), -1).std(1) < blank_std
    keep = ~(in_val | blank)
    return train.subset(keep), {"dropped_val_copies": int(in_val.sum()), "dropped_blank": int(blank.sum()),
                                "kept": int(keep.sum())}


def image_key(im: np.ndarray) -> bytes:
    return hashlib.blake2b(im.tobytes(), digest_size=16).digest()


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, or of a folder's files (names and contents, sorted), for run tracking."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        if path.is_dir():
            h.update(str(p.relative_to(path)).encode())
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def load_splits(data_cfg) -> tuple[FaceSet, FaceSet]:
    """Train and validation sets of an experiment's ``data`` section, train cleaned against val."""
    train = load(data_cfg.train.path, data_cfg.train.split)
    val = load(data_cfg.val.path, data_cfg.val.split)
    train, _ = clean_train(train, val)
    if data_cfg.limit:
        train, val = train.subset(slice(0, data_cfg.limit)), val.subset(slice(0, data_cfg.limit))
    return train, val
