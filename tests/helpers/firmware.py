"""firmware_setup/install.sh against a staging root: this checkout as a release bundle, a fake device's
files, and the installer run in --root mode."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT

BUNDLE_PARTS = ("edge", "models", "media", "requirements", "firmware_setup", "systemd", "README.md", "PRIVACY.md")
PI_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'
JETSON_OS_RELEASE = 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=jammy\n'


def copy_bundle(dest: Path) -> Path:
    """This checkout as a release bundle: a snapshot, so other edits in the tree cannot race the tests."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in BUNDLE_PARTS:
        if (ROOT / part).is_dir():
            shutil.copytree(ROOT / part, dest / part, ignore=ignore)
        else:
            shutil.copy2(ROOT / part, dest / part)
    return dest


def fake_target(root: Path, platform: str = "pi") -> Path:
    """A device's files as install.sh reads them: os-release, board model, accounts."""
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(JETSON_OS_RELEASE if platform == "jetson" else PI_OS_RELEASE)
    if platform == "pi":
        (root / "proc/device-tree").mkdir(parents=True)
        (root / "proc/device-tree/model").write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\0")
    if platform == "jetson":
        (root / "etc/nv_tegra_release").write_text("# R36 (release), REVISION: 3.0, GCID: 36191598, BOARD: generic\n")
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc/group").write_text("root:x:0:\nvideo:x:44:\n")
    return root


def install(bundle: Path, root: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(bundle / "firmware_setup/install.sh"), "--root", str(root), *options],
                          capture_output=True, text=True, timeout=300)
