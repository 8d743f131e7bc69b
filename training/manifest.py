"""Writing models/manifest.json: entries with sha256, replaced by name, primary models first per task."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def update_manifest(manifest_path: Path, entries: list[dict], primary: bool) -> None:
    """Replace the entries of the same names, keep everything else. The device takes the first model of
    each task, so primary entries go before the other models of their task; the rest go last."""
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"schema": 1, "models": []}
    names = {e["name"] for e in entries}
    kept = [m for m in manifest["models"] if m["name"] not in names]
    if primary:
        task = entries[0]["task"]
        first = next((i for i, m in enumerate(kept) if m["task"] == task), len(kept))
        kept[first:first] = entries
    else:
        kept += entries
    manifest["models"] = kept
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")


def set_fields(manifest_path: Path, name: str, fields: dict) -> None:
    """Add or replace fields of the entry called `name`, in place: the order of entries and their other
    fields stay as they are."""
    manifest = json.loads(manifest_path.read_text())
    entry = next((m for m in manifest["models"] if m["name"] == name), None)
    if entry is None:
        raise SystemExit(f"{manifest_path}: no model named {name}; run the export stage first.")
    entry.update(fields)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
