"""Install a model bundle atomically, keep the previous one, and go back to it when a new one fails.

A bundle is a directory or a .tar/.tar.gz holding manifest.json (edge/manifest.py's format plus a
top-level "version" and a "selftest" section, docs/fleet.md) and the files it lists. On disk, next to
models.dir (say /var/lib/fer-edge/models):

    models           -> models-bundles/<version>-<manifest sha256[:12]>   the link the daemon reads
    models.previous  -> models-bundles/<the one before>
    models-bundles/     installed bundles; only the current and the previous one are kept

Installing copies or extracts the bundle into a staging folder on the same filesystem, checks the
manifest's shape and every sha256, loads every model with edge's own classes and self-tests the
configured pair on the bundle's own faces and frame. Only then is it renamed into place and the link
swapped with os.replace: a reader sees the old bundle or the new one, never a mix. Nothing is switched
when a step fails. The running daemon follows the link (edge/model_watch.py), loads and self-tests the
bundle again, and switches the link back if it fails there.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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

# What the daemon loads from a models folder: edge.app.load_pipeline (passed in: the app imports us).
Loader = Callable[[EdgeConfig], "tuple[Pipeline, list[dict]]"]
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
MODEL_KEYS = ("name", "task", "file", "sha256")


class BundleError(ModelLoadError):
    """A bundle was refused; the message says which file or field, and what to do."""


@dataclass(frozen=True)
class Layout:
    """Where models.dir's bundles live; `link` is models.dir itself."""
    link: Path

    @classmethod
    def of(cls, config: EdgeConfig) -> Layout:
        return cls(Path(os.path.abspath(config.models.dir)))  # abspath, not resolve: keep the link a link

    @property
    def bundles(self) -> Path:
        return self.link.with_name(self.link.name + "-bundles")

    @property
    def previous(self) -> Path:
        return self.link.with_name(self.link.name + ".previous")

    def target(self) -> Path | None:
        """The folder the daemon would load now: the link's target, models.dir itself when it is a plain
        folder, None when it is missing."""
        return _resolved(self.link)

    def previous_target(self) -> Path | None:
        return _resolved(self.previous)


def _resolved(path: Path) -> Path | None:
    real = Path(os.path.realpath(path))
    return real if real.is_dir() else None


@contextmanager
def _locked(layout: Layout) -> Iterator[None]:
    # one installer, rollback or daemon revert at a time; opened read-only (flock needs no more), so the
    # daemon's user can lock a file that root's update-models created
    layout.bundles.mkdir(parents=True, exist_ok=True)
    lock = os.open(layout.bundles / ".lock", os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)


def _link(link: Path, target: Path) -> None:
    """Point `link` at `target` atomically (a relative link, so the tree can move as a whole)."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, link.parent), temporary)
    os.replace(temporary, link)


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


def check_bundle(bundle: Path, config: EdgeConfig, load: Loader, installing: bool) -> tuple[Pipeline, list[dict], str]:
    """Verify, load (as the daemon would, with this config) and self-test the bundle in folder `bundle`.
    Installing is stricter: a self-test section is required and every model must load."""
    manifest = verify_bundle(bundle, installing)
    if installing:
        load_every_model(bundle, manifest)
    try:
        pipeline, models = load(config.model_copy(update={"models": config.models.model_copy(update={"dir": bundle})}))
    except ModelLoadError:
        raise
    except (ValueError, RuntimeError) as e:  # e.g. a detector file that is not BlazeFace
        raise BundleError(f"{bundle}: {e}") from e
    return pipeline, models, self_test(bundle, manifest, pipeline)


def _bundle_id(bundle: Path, manifest: dict) -> str:
    return f"{manifest.get('version', 'bundle')}-{sha256_of(bundle / 'manifest.json')[:12]}"


def _unpack(source: Path, staging: Path) -> Path:
    """Copy or extract `source` into `staging`; the folder holding its manifest.json."""
    if source.is_dir():
        shutil.copytree(source, staging / "bundle")
    elif source.is_file() and tarfile.is_tarfile(source):
        with tarfile.open(source) as tar:
            for member in tar.getmembers():
                name = PurePosixPath(member.name)
                if name.is_absolute() or ".." in name.parts:
                    raise BundleError(f"{source}: {member.name} would land outside the bundle; rebuild the archive.")
                if not (member.isfile() or member.isdir()):
                    raise BundleError(f"{source}: {member.name} is a link or a device; a bundle holds plain files.")
            # the "data" filter (Python >= 3.11.4, 3.10.12) double-checks the same; the loop above covers older ones
            tar.extractall(staging / "bundle", **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    else:
        raise BundleError(f"{source}: not a bundle: give a folder or a .tar/.tar.gz holding manifest.json.")
    root = staging / "bundle"
    children = [c for c in root.iterdir()] if root.is_dir() else []
    if not (root / "manifest.json").is_file() and len(children) == 1 and (children[0] / "manifest.json").is_file():
        root = children[0]  # an archive of the bundle's folder rather than of its contents
    if not (root / "manifest.json").is_file():
        raise BundleError(f"{source}: no manifest.json at the top of the bundle.")
    return root


def _adopt(layout: Layout) -> str | None:
    """A plain models folder (the first update on a device) becomes the first installed bundle."""
    if layout.link.is_symlink() or not layout.link.is_dir():
        return None
    bundle = layout.bundles / _bundle_id(layout.link, load_manifest(layout.link))
    if bundle.exists():
        raise BundleError(f"{bundle} already exists next to the models folder {layout.link}; move one of them away.")
    os.rename(layout.link, bundle)
    _link(layout.link, bundle)  # a few microseconds without models.dir; the daemon's watcher skips that
    return f"moved the models folder to {bundle} and made {layout.link} a link to it"


def _prune(layout: Layout) -> None:
    keep = {layout.target(), layout.previous_target()}
    for child in layout.bundles.iterdir():
        if child.is_dir() and not child.is_symlink() and child.resolve() not in keep:
            shutil.rmtree(child, ignore_errors=True)  # older bundles, and staging left by a crashed install


def install(source: Path, config: EdgeConfig, load: Loader) -> list[str]:
    """Install the bundle at `source` as the current models; what was done, line by line."""
    layout, done = Layout.of(config), []
    with _locked(layout):
        if note := _adopt(layout):
            done.append(note)
        current = layout.target()
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=layout.bundles))
        try:
            root = _unpack(source, staging)
            try:
                _, _, summary = check_bundle(root, config, load, installing=True)
            except ModelLoadError as e:  # name the operator's bundle, not the staging folder it was checked in
                raise BundleError(str(e).replace(str(root), str(source))) from e
            bundle = layout.bundles / _bundle_id(root, load_manifest(root))
            if bundle == current:
                return done + [f"{bundle.name} is already the installed bundle; nothing changed"]
            if bundle.exists():  # the same bundle installed before (e.g. the previous one): the fresh copy wins
                shutil.rmtree(bundle)
            os.rename(root, bundle)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if current is not None:
            _link(layout.previous, current)
        _link(layout.link, bundle)
        _prune(layout)
    return done + [summary, f"installed {bundle.name}; previous: {current.name if current else 'none'}; a running "
                   "daemon switches to it between two frames"]


def rollback(config: EdgeConfig, load: Loader) -> list[str]:
    """Make the previous bundle current again (checked first), and the current one the previous."""
    layout = Layout.of(config)
    with _locked(layout):
        current, previous = layout.target(), layout.previous_target()
        if previous is None or previous == current:
            raise BundleError(f"{layout.previous}: no previous bundle to roll back to.")
        _, _, summary = check_bundle(previous, config, load, installing=False)
        _link(layout.link, previous)
        if current is not None:
            _link(layout.previous, current)
    return [summary, f"rolled back to {previous.name}; previous: {current.name if current else 'none'}"]


def revert(layout: Layout, failed: Path, running: Path) -> bool:
    """The daemon's rollback: point the link back at the bundle it runs, if it still points at the one
    that failed (an installer may have moved on meanwhile). False when it could not."""
    try:
        with _locked(layout):
            if layout.target() != failed or not running.is_dir():
                return False
            _link(layout.link, running)
            return True
    except OSError:  # e.g. models.dir on a read-only filesystem
        return False


def add_arguments(parser) -> None:
    parser.add_argument("bundle", type=Path, nargs="?", help="bundle: a folder or .tar/.tar.gz with manifest.json")
    parser.add_argument("--rollback", action="store_true", help="make the previous bundle current again")
    parser.add_argument("--config", type=Path, help="the daemon's TOML config: models.dir and the model names "
                        "that are self-tested (default: built-in defaults)")


def update_models(args) -> int:
    from edge.app import load_pipeline  # imported here: the app imports this module
    from edge.config import load_config
    if (args.bundle is None) != args.rollback:
        print("error: give a bundle to install, or --rollback", file=sys.stderr)
        return 2
    config = load_config(args.config)
    for line in rollback(config, load_pipeline) if args.rollback else install(args.bundle, config, load_pipeline):
        print(line)
    return 0
