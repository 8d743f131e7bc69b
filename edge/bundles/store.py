"""Where bundles live and how they are swapped: the layout beside models.dir (edge/bundles/__init__.py),
install from a folder or archive, rollback to the previous bundle, and the daemon's revert. One writer at
a time (a lock file); every switch is one os.replace of a link."""
from __future__ import annotations

import fcntl
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from edge.bundles.verify import BundleError, check_bundle, sha256_of
from edge.config import EdgeConfig
from edge.manifest import load_manifest
from edge.tflite import ModelLoadError


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


def install(source: Path, config: EdgeConfig) -> list[str]:
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
                _, summary = check_bundle(root, config, installing=True)
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


def rollback(config: EdgeConfig) -> list[str]:
    """Make the previous bundle current again (checked first), and the current one the previous."""
    layout = Layout.of(config)
    with _locked(layout):
        current, previous = layout.target(), layout.previous_target()
        if previous is None or previous == current:
            raise BundleError(f"{layout.previous}: no previous bundle to roll back to.")
        _, summary = check_bundle(previous, config, installing=False)
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
