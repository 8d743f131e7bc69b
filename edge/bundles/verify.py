"""Is this bundle good? Its manifest's shape, every sha256, every model loaded with edge's own classes, and
the configured pair self-tested on the bundle's own faces and frame (docs/fleet.md)."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from edge.config import EdgeConfig
from edge.crop import face_crop
from edge.detector import FaceDetector
from edge.emotion import EmotionModel
from edge.manifest import load_manifest
from edge.pipeline import Pipeline
from edge.tflite import ModelLoadError

VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
MODEL_KEYS = ("name", "task", "file", "sha256")


class BundleError(ModelLoadError):
    """A bundle was refused; the message says which file or field, and what to do."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked_file(bundle: Path, where: str, entry: dict) -> Path:
    name = entry.get("file")
    relative = PurePosixPath(name) if isinstance(name, str) and name else None
    if relative is None or relative.is_absolute() or ".." in relative.parts:
        raise BundleError(f"{where}: file {name!r} must be a path inside the bundle.")
    path = bundle / relative
    if not path.resolve().is_relative_to(bundle.resolve()):
        raise BundleError(f"{where}: {name} points outside the bundle.")
    if not path.is_file():
        raise BundleError(f"{where}: {name} is listed in the manifest but missing from the bundle.")
    expected = entry.get("sha256")
    if not isinstance(expected, str) or not SHA256.match(expected):
        raise BundleError(f"{where}: sha256 must be 64 lowercase hex digits (got {expected!r}).")
    digest = sha256_of(path)
    if digest != expected:
        raise BundleError(f"{path}: sha256 {digest[:12]}… does not match the manifest's {expected[:12]}…: the "
                          "file is corrupt or was replaced; rebuild the bundle.")
    return path


def verify_bundle(bundle: Path, installing: bool) -> dict:
    """The manifest, once its shape and its files' sha256 are right; BundleError otherwise. Installing
    checks every file and requires a self-test; the daemon checks the models it loads (model_entry does)
    and the self-test files, so an unused, damaged model does not stop a booth."""
    manifest = load_manifest(bundle)
    where = bundle / "manifest.json"
    version = manifest.get("version", "bundle")
    if not isinstance(version, str) or not VERSION.match(version):
        raise BundleError(f"{where}: version {version!r} must be 1-40 letters, digits, '.', '_' or '-'.")
    for i, m in enumerate(manifest["models"]):
        if not isinstance(m, dict) or not all(isinstance(m.get(k), str) and m[k] for k in MODEL_KEYS):
            raise BundleError(f"{where}: models[{i}] needs the strings {', '.join(MODEL_KEYS)}.")
        if m["task"] in ("face_detection", "emotion") and not all(
                isinstance((m.get("input") or {}).get(k), (int, float)) for k in ("mean", "std")):
            raise BundleError(f"{where}: models[{i}] ({m['name']}) needs input.mean and input.std numbers.")
        if m["task"] == "emotion" and not (isinstance(m.get("labels"), list) and m["labels"]
                                           and all(isinstance(label, str) for label in m["labels"])):
            raise BundleError(f"{where}: models[{i}] ({m['name']}) needs its labels, a list of strings.")
        if installing:
            _checked_file(bundle, f"{where}: models[{i}] ({m['name']})", m)
            if "reference_stats" in m:  # the monitor's training statistics (edge/monitoring/reference.py)
                _checked_file(bundle, f"{where}: models[{i}] ({m['name']}) reference_stats",
                              {"file": m["reference_stats"], "sha256": m.get("reference_stats_sha256")})
    tasks = {m["task"] for m in manifest["models"]}
    if not {"face_detection", "emotion"} <= tasks:
        raise BundleError(f"{where}: a bundle needs a face_detection and an emotion model (it has: "
                          f"{', '.join(sorted(tasks)) or 'none'}).")
    selftest = manifest.get("selftest")
    if selftest is None:
        if installing:
            raise BundleError(f"{where}: no \"selftest\" section: a bundle carries the faces and the frame it "
                              "is tested on before the switch (docs/fleet.md).")
        return manifest
    faces, frame = (selftest.get(k) if isinstance(selftest, dict) else None for k in ("faces", "frame"))
    if not (isinstance(faces, dict) and isinstance(faces.get("min_accuracy"), (int, float))
            and 0 <= faces["min_accuracy"] <= 1):
        raise BundleError(f"{where}: selftest.faces needs file, sha256 and min_accuracy (0..1).")
    if not (isinstance(frame, dict) and isinstance(frame.get("min_faces"), int) and frame["min_faces"] >= 1):
        raise BundleError(f"{where}: selftest.frame needs file, sha256 and min_faces (1 or more).")
    _checked_file(bundle, f"{where}: selftest.faces", faces)
    _checked_file(bundle, f"{where}: selftest.frame", frame)
    return manifest


def load_every_model(bundle: Path, manifest: dict) -> None:
    """Open every detector and emotion model with edge's classes, not only the pair the config runs: a
    bundle never holds a file the operator cannot switch to later."""
    for m in manifest["models"]:
        path, mean, std = bundle / m["file"], m.get("input", {}).get("mean"), m.get("input", {}).get("std")
        try:
            if m["task"] == "face_detection":
                FaceDetector(path, mean, std)
            elif m["task"] == "emotion":
                model = EmotionModel(path, mean, std, m["labels"])
                outputs = len(model.probabilities(np.zeros((model.height, model.width), np.uint8)))
                if outputs != len(m["labels"]):
                    raise BundleError(f"{path}: {outputs} outputs but the manifest lists {len(m['labels'])} labels.")
        except ValueError as e:
            raise BundleError(f"{path}: {e}") from e


def self_test(bundle: Path, manifest: dict, pipeline: Pipeline) -> str:
    """Run the loaded pipeline's models on the bundle's own faces and frame; a summary, or BundleError."""
    spec = manifest.get("selftest")
    if spec is None:
        return "no self-test in this bundle"
    faces = np.load(bundle / spec["faces"]["file"])
    try:
        x, y = faces["x"], faces["y"]
        probabilities = np.array([pipeline.emotion.probabilities(face) for face in x])
    except (KeyError, ValueError) as e:
        raise BundleError(f"{bundle / spec['faces']['file']}: not usable as self-test faces (arrays x: N grey "
                          f"crops at the model's input size, y: N label indices): {e}") from e
    if not np.isfinite(probabilities).all():
        raise BundleError("self-test: the emotion model gives non-finite outputs on the self-test faces.")
    accuracy = float((probabilities.argmax(1) == y).mean())
    if accuracy < spec["faces"]["min_accuracy"]:
        raise BundleError(f"self-test: the emotion model gets {accuracy:.2f} of the {len(y)} self-test faces right, "
                          f"below the manifest's min_accuracy {spec['faces']['min_accuracy']}.")
    frame_path = bundle / spec["frame"]["file"]
    frame = cv2.imread(str(frame_path))
    if frame is None:
        raise BundleError(f"{frame_path}: not a readable image.")
    found = pipeline.detector.detect(frame)
    if len(found) < spec["frame"]["min_faces"]:
        raise BundleError(f"self-test: the detector finds {len(found)} face(s) in {spec['frame']['file']}, "
                          f"the manifest expects at least {spec['frame']['min_faces']}.")
    if not np.isfinite(pipeline.emotion.probabilities(face_crop(frame, found[0], pipeline.crop))).all():
        raise BundleError(f"self-test: non-finite expression for the face found in {spec['frame']['file']}.")
    return (f"self-test: {accuracy:.2f} of {len(y)} faces right (min {spec['faces']['min_accuracy']}), "
            f"{len(found)} face(s) in {spec['frame']['file']}")


def check_bundle(bundle: Path, config: EdgeConfig, installing: bool) -> tuple[Pipeline, str]:
    """Verify, load (as the daemon would, with this config) and self-test the bundle in folder `bundle`.
    Installing is stricter: a self-test section is required and every model must load."""
    manifest = verify_bundle(bundle, installing)
    if installing:
        load_every_model(bundle, manifest)
    try:
        pipeline = Pipeline.from_config(config.model_copy(update={"models": config.models.model_copy(update={"dir": bundle})}))
    except ModelLoadError:
        raise
    except (ValueError, RuntimeError) as e:  # e.g. a detector file that is not BlazeFace
        raise BundleError(f"{bundle}: {e}") from e
    return pipeline, self_test(bundle, manifest, pipeline)
