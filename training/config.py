"""Typed experiment configuration: one TOML file per experiment, unknown keys rejected.

Every stage reads the same file, so a run is fully described by it (and recorded with it).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from edge.strict import Strict

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (JetPack 6)
    import tomli as tomllib


class DataSource(Strict):
    path: Path = Field(description="FER2013 .npz, Kaggle fer2013.csv, or a folder of <emotion>/*.png")
    split: Literal["Training", "PublicTest", "PrivateTest"] = Field(
        "Training", description="Usage value to read from a Kaggle csv; ignored for .npz and folders")


class DataConfig(Strict):
    train: DataSource
    val: DataSource
    limit: int | None = Field(None, gt=0, description="use only the first N train/val faces (smoke tests)")


class TargetsConfig(Strict):
    """What the networks learn: a blend of the crowd's votes, the single label and a teacher (training/targets.py)."""
    votes: float = Field(1.0, ge=0, description="weight of the FER+ vote shares (ten annotators per face)")
    label: float = Field(0.0, ge=0, description="weight of the FER2013 label (one annotator), as a one-hot")
    teacher: float = Field(0.0, ge=0, description="weight of the teacher's soft targets (needs teacher_logits)")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="smoothing of the label's one-hot")
    teacher_logits: Path | None = Field(None, description="npz written by the teacher stage")
    temperature: float = Field(2.0, gt=0, description="softens the teacher's logits: softmax(logits / T)")

    @model_validator(mode="after")
    def _usable(self):
        if self.votes + self.label + self.teacher <= 0:
            raise ValueError("votes, label and teacher are all 0: give at least one a weight")
        if self.teacher > 0 and self.teacher_logits is None:
            raise ValueError("teacher > 0 needs teacher_logits (the teacher stage's npz)")
        return self


class TeacherConfig(Strict):
    members: list[Path] = Field([], description="experiment files of students already trained here (CPU): the "
                                "teacher is their ensemble, nothing is trained; empty trains arch per seed")
    arch: Literal["resnet18", "vgg"] = "resnet18"
    width: int = Field(64, gt=0, description="channels of the first stage")
    seeds: list[int] = Field([0], min_length=1, description="one teacher per seed; logits are averaged")
    epochs: int = Field(60, gt=0)
    batch_size: int = Field(128, gt=0)
    lr: float = Field(0.1, gt=0)
    weight_decay: float = Field(5e-4, ge=0)
    mixup_alpha: float = Field(0.0, ge=0, description="0 turns mixup off")
    erasing_p: float = Field(0.5, ge=0, le=1)
    patience: int = Field(15, gt=0, description="early stopping: epochs without a better consensus accuracy")
    device: str = Field("auto", description="'auto', 'cpu' or 'cuda'")
    max_minutes: float | None = Field(None, gt=0, description="stop a member after this wall time "
                                      "(keeps its best checkpoint); for time-limited GPU leases")


class StudentConfig(Strict):
    arch: Literal["student", "mini_xception"] = "student"
    width: float = Field(1.0, gt=0, description="channel multiplier (student: 1.0 = 227k parameters)")
    epochs: int = Field(30, gt=0)
    batch_size: int = Field(128, gt=0)
    lr: float = Field(3e-3, gt=0, description="peak of the one-cycle schedule (AdamW)")
    weight_decay: float = Field(5e-4, ge=0)
    erasing_p: float = Field(0.25, ge=0, le=1)
    mixup_alpha: float = Field(0.0, ge=0, description="0 turns mixup off")
    ema_decay: float = Field(0.999, ge=0, lt=1, description="moving average of the weights; 0 turns it off")
    select_on: Literal["consensus", "label_accuracy"] = Field(
        "consensus", description="which validation figure picks the kept epoch")
    threads: int | None = Field(None, gt=0, description="CPU threads for training; None: PyTorch's default "
                                "(all cores). 1 leaves the other core free")
    channels_last: bool = Field(False, description="NHWC memory layout: 1.6x faster per epoch on an AVX2 CPU, "
                                "slower on an AVX-512 one (training/README.md); measure on yours")
    max_minutes: float | None = Field(None, gt=0, description="stop after this wall time; running the stage "
                                      "again continues from the last epoch")
    init_from: Path | None = Field(None, description="start from this best.pt's weights (same arch and width) "
                                   "instead of random ones: a warm restart of a finished run")


class QuantizeConfig(Strict):
    representative_samples: int = Field(500, gt=0, description="real training faces used to calibrate int8 ranges")


class SearchConfig(Strict):
    trials: int = Field(8, gt=0)
    epochs: int = Field(4, gt=0, description="epochs per trial")
    train_subset: int = Field(8000, gt=0)
    results_dir: Path = Field(Path("training/search_results"), description="where the trial table is kept")


class EvaluateConfig(Strict):
    compare_with: list[str] = Field([], description="other experiments whose reports go side by side with this one")


class ReferenceConfig(Strict):
    max_faces: int | None = Field(None, gt=0, description="measure a fixed random sample (seeded) of this many "
                                  "training faces; None measures them all")
    calibration_videos: list[Path] = Field([], description="booth-like videos run through the device pipeline for "
                                           "the face-size reference (every FER2013 face is a 48x48 crop, so the "
                                           "training data has no face size); empty leaves it out")


class ExportConfig(Strict):
    name: str = Field(pattern=r"^[a-z0-9_\-]+$", description="stem of the files under models/emotion/ "
                      "(<name>_int8.tflite, <name>_float.tflite) and of their manifest names")
    version: str = "1"
    models_dir: Path = Path("models")
    primary: bool = Field(True, description="list first in the manifest: the model the device uses for its task")


class ExperimentConfig(Strict):
    name: str = Field(pattern=r"^[a-z0-9_\-]+$")
    seed: int = 0
    runs_dir: Path = Field(Path("runs"), description="checkpoints, logs and reports of every run")
    data: DataConfig
    teacher: TeacherConfig = TeacherConfig()
    targets: TargetsConfig = TargetsConfig()
    student: StudentConfig = StudentConfig()
    quantize: QuantizeConfig = QuantizeConfig()
    search: SearchConfig = SearchConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    export: ExportConfig
    reference: ReferenceConfig = ReferenceConfig()

    @property
    def run_dir(self) -> Path:
        return self.runs_dir / self.name


class ConfigError(ValueError):
    """The experiment file is unreadable or invalid; the message names the key and the bad value."""


def merged(base: dict, changes: dict) -> dict:
    """base with changes laid over it, table by table."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def read_toml(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """The file's tables; ``extends = "other.toml"`` (beside it) starts from that file's, so a variant of an
    experiment names only what it changes."""
    if path.resolve() in seen:
        raise ConfigError(f"{path}: extends itself (through {' -> '.join(map(str, seen))}).")
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config ({e.strerror}).") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e}).") from e
    base = raw.pop("extends", None)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise ConfigError(f"{path}: extends must be a file name, got {base!r}.")
    return merged(read_toml(path.parent / base, (*seen, path.resolve())), raw)


def load_config(path: str | Path, overrides: dict | None = None) -> ExperimentConfig:
    path = Path(path)
    raw = read_toml(path)
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']} (got {err.get('input')!r})"
                             for err in e.errors())
        raise ConfigError(f"{path}: {problems}") from e
