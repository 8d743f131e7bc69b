"""The training reference the device compares against: the JSON file named by the emotion model's
manifest entry (`reference_stats`, with `reference_stats_sha256`), written by `python -m training reference`.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCHEMA = 1


class ReferenceStatsError(ValueError):
    """The reference file is missing, corrupt or made for another model; the message says what to do."""


@dataclass(frozen=True)
class Reference:
    file: str  # relative to the models folder, as the manifest names it
    model: str
    labels: tuple[str, ...]
    class_counts: np.ndarray  # predicted expressions on the training faces
    confidence_mean: float  # mean top-class probability on the training faces
    medians: dict[str, float]  # brightness, contrast, sharpness (training faces), face_size (calibration clips)

    def describe(self) -> dict:
        return {"file": self.file, "model": self.model}


def parse(data: dict, file: str) -> Reference:
    try:
        quality = data["quality"]
        medians = {name: float(quality[name]["percentiles"]["p50"]) for name in quality}
        face_size = data.get("face_size") or {}
        if "percentiles" in face_size:
            medians["face_size"] = float(face_size["percentiles"]["p50"])
        predictions = data["predictions"]
        return Reference(file, data["model"]["name"], tuple(predictions["labels"]),
                         np.array(predictions["class_counts"], float), float(predictions["confidence"]["mean"]),
                         medians)
    except (KeyError, TypeError, ValueError) as e:
        raise ReferenceStatsError(f"{file}: malformed reference statistics ({type(e).__name__}: {e}); "
                                  "regenerate it with `python -m training reference`.") from e


def load_reference(entry: dict, models_dir: Path) -> Reference:
    """The reference named by an emotion model's manifest entry, checked against the entry."""
    name = entry.get("reference_stats")
    if not name:
        raise ReferenceStatsError(f"{models_dir / 'manifest.json'}: the emotion model {entry['name']} names no "
                                  "reference_stats file; make one with `python -m training reference --config "
                                  "training/configs/<experiment>.toml`.")
    path = models_dir / name
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ReferenceStatsError(f"{path}: cannot read the reference statistics ({e.strerror}); "
                                  "reinstall the model bundle.") from e
    if hashlib.sha256(raw).hexdigest() != entry.get("reference_stats_sha256"):
        raise ReferenceStatsError(f"{path}: sha256 does not match the manifest's reference_stats_sha256: the file "
                                  "is corrupt or was replaced; reinstall the model bundle.")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ReferenceStatsError(f"{path}: not valid JSON ({e}).") from e
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ReferenceStatsError(f"{path}: expected reference statistics schema {SCHEMA}.")
    if not isinstance(data.get("model"), dict) or data["model"].get("sha256") != entry["sha256"]:
        raise ReferenceStatsError(f"{path}: computed for another model file than {entry['file']}; regenerate it "
                                  "with `python -m training reference`.")
    reference = parse(data, str(name))
    if list(reference.labels) != list(entry["labels"]):
        raise ReferenceStatsError(f"{path}: labels {list(reference.labels)} differ from the model's "
                                  f"{entry['labels']}; regenerate it with `python -m training reference`.")
    return reference
