"""models/manifest.json: find a task's model and check its sha256 before anything loads it."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from edge.tflite import ModelLoadError

# a checkout's models/ beside the package; an installed package's copy (pyproject.toml's data-files)
_CHECKOUT_MODELS = Path(__file__).resolve().parents[1] / "models"
DEFAULT_MODELS_DIR = _CHECKOUT_MODELS if _CHECKOUT_MODELS.is_dir() else Path(sys.prefix) / "share/fer-edge/models"


def load_manifest(models_dir: Path = DEFAULT_MODELS_DIR) -> dict:
    path = models_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except OSError as e:
        raise ModelLoadError(f"{path}: cannot read the model manifest ({e.strerror}).") from e
    except json.JSONDecodeError as e:
        raise ModelLoadError(f"{path}: not valid JSON ({e}); restore it from the release.") from e
    if manifest.get("schema") != 1 or not isinstance(manifest.get("models"), list):
        raise ModelLoadError(f"{path}: expected {{\"schema\": 1, \"models\": [...]}}.")
    return manifest


def model_entry(task: str, name: str | None = None, models_dir: Path = DEFAULT_MODELS_DIR) -> tuple[dict, Path]:
    """The manifest entry for a task (its first model, or the one named) and its verified file path."""
    manifest = load_manifest(models_dir)
    entries = [m for m in manifest["models"] if m.get("task") == task and (name is None or m.get("name") == name)]
    if not entries:
        known = ", ".join(f"{m.get('name')} ({m.get('task')})" for m in manifest["models"])
        raise ModelLoadError(f"{models_dir / 'manifest.json'}: no {task} model"
                             f"{f' named {name}' if name else ''}; it lists: {known or 'nothing'}.")
    entry = entries[0]
    path = models_dir / entry["file"]
    if not path.is_file():
        raise ModelLoadError(f"{path}: model file not found (listed in the manifest as {entry['name']}).")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != entry.get("sha256"):
        raise ModelLoadError(f"{path}: sha256 {digest[:12]}… does not match the manifest's "
                             f"{str(entry.get('sha256'))[:12]}…: the file is corrupt or was replaced; reinstall it.")
    return entry, path


def float_version(task: str, name: str | None = None,
                  models_dir: Path = DEFAULT_MODELS_DIR) -> tuple[dict, Path] | None:
    """The float model a quantized one was made from (manifest name <stem>_float beside <stem>_int8),
    verified; the model itself where it is float already; None where the manifest has no usable float one."""
    entry, path = model_entry(task, name, models_dir)
    if entry.get("precision") == "float":
        return entry, path
    try:
        return model_entry(task, entry["name"].removesuffix("_int8") + "_float", models_dir)
    except ModelLoadError:
        return None
