"""firmware_setup/install.sh and uninstall.sh in --root mode (a staging root in a temporary folder; nothing
on this machine outside it changes): what lands, idempotence, platform detection, the operator's config
kept, corrupt models refused, uninstall; and shellcheck on every script."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from edge.config import load_config
from tests.conftest import ROOT, require_installed
from tests.helpers.firmware import copy_bundle, fake_target, install

pytestmark = pytest.mark.slow  # the installer: make test runs it, make test-fast does not

def uninstall(bundle: Path, root: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(bundle / "firmware_setup/uninstall.sh"), "--root", str(root), *options],
                          capture_output=True, text=True, timeout=120)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root with its content hash (or link target), mode and modification time."""
    state = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            state[str(path.relative_to(root))] = ("link", os.readlink(path))
        elif path.is_file():
            state[str(path.relative_to(root))] = (hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mode, st.st_mtime_ns)
        else:
            state[str(path.relative_to(root))] = ("dir", st.st_mode)
    return state


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return copy_bundle(tmp_path_factory.mktemp("release") / "fer-edge")


def test_install_twice_lands_everything_and_the_second_run_changes_nothing(bundle, tmp_path):
    root = fake_target(tmp_path / "root")
    first = install(bundle, root)
    assert first.returncode == 0, first.stderr
    assert "platform: pi (board: Raspberry Pi 5 Model B Rev 1.0" in first.stdout
    after_first = snapshot(root)
    second = install(bundle, root)
    assert second.returncode == 0, second.stderr
    assert "nothing changed" in second.stdout and "changed:" not in second.stdout, second.stdout
    assert snapshot(root) == after_first  # same files, contents, modes and even mtimes: nothing rewritten

    app = root / "opt/fer-edge"
    for module in (bundle / "edge").rglob("*.py"):
        assert (app / module.relative_to(bundle)).read_bytes() == module.read_bytes(), module
    manifest = json.loads((app / "models/manifest.json").read_text())
    pinned = [(m["file"], m["sha256"]) for m in manifest["models"]] + [
        (m[key[:-7]], sha) for m in manifest["models"] for key, sha in m.items() if key.endswith("_sha256")]
    for file, sha in pinned:  # the models and every file the manifest pins (e.g. reference statistics)
        assert hashlib.sha256((app / "models" / file).read_bytes()).hexdigest() == sha, file
    assert not (app / "models/emotion/reports").exists()  # evaluation reports stay in the repository
    assert (app / "media/demo.mp4").stat().st_size == (ROOT / "media/demo.mp4").stat().st_size
    assert os.access(app / "firmware_setup/uninstall.sh", os.X_OK)

    unit = root / "etc/systemd/system/fer-edge.service"
    assert unit.read_text() == (ROOT / "systemd/fer-edge.service").read_text()
    wants = root / "etc/systemd/system/multi-user.target.wants/fer-edge.service"
    assert os.readlink(wants) == "/etc/systemd/system/fer-edge.service"

    config = load_config(root / "etc/fer-edge/edge.toml")  # the app's own validation accepts it
    assert config.source.spec == "picamera2" and config.source.fallback_spec is None
    assert config.models.dir == Path("/opt/fer-edge/models")
    environment = root / "etc/fer-edge/environment"
    assert environment.stat().st_mode & 0o777 == 0o600  # it may hold the API token

    assert (root / "usr/lib/sysusers.d/fer-edge.conf").read_text() == (ROOT / "firmware_setup/fer-edge.sysusers").read_text()
    if shutil.which("systemd-sysusers"):
        user = next(line for line in (root / "etc/passwd").read_text().splitlines() if line.startswith("fer-edge:"))
        assert user.endswith(":/var/lib/fer-edge:/usr/sbin/nologin")
        video = next(line for line in (root / "etc/group").read_text().splitlines() if line.startswith("video:"))
        assert "fer-edge" in video.split(":")[3].split(",")
    assert not (root / "opt/fer-edge/.venv").exists()  # a staging root gets no venv built for this host


@pytest.mark.parametrize("platform, camera", [("pi", "picamera2"), ("jetson", "/dev/video0"), ("debian", "/dev/video0")])
def test_platform_is_detected_from_the_target_files(bundle, tmp_path, platform, camera):
    root = fake_target(tmp_path / "root", platform)
    done = install(bundle, root)
    assert done.returncode == 0, done.stderr
    assert f"platform: {platform} " in done.stdout
    assert load_config(root / "etc/fer-edge/edge.toml").source.spec == camera


def test_an_edited_config_is_kept_and_an_unedited_default_is_updated(bundle, tmp_path):
    root = fake_target(tmp_path / "root")
    assert install(bundle, root).returncode == 0
    conf = root / "etc/fer-edge/edge.toml"
    default = conf.read_text()
    newer = copy_bundle(tmp_path / "newer")  # a later release whose default config differs
    template = newer / "firmware_setup/edge.toml"
    template.write_text(template.read_text() + "\n[pipeline]\nmax_faces = 2\n")

    done = install(newer, root)  # the operator never touched the file: it follows the new default
    assert done.returncode == 0, done.stderr
    assert load_config(conf).pipeline.max_faces == 2 and not (root / "etc/fer-edge/edge.toml.dist").exists()

    edited = conf.read_text().replace("max_faces = 2", "max_faces = 3")
    conf.write_text(edited)
    done = install(bundle, root)  # back to the older release: the operator's edit stays
    assert done.returncode == 0, done.stderr
    assert conf.read_text() == edited and "was edited, kept as it is" in done.stdout
    assert (root / "etc/fer-edge/edge.toml.dist").read_text() == default


def test_a_corrupt_model_is_refused_before_anything_changes(bundle, tmp_path):
    root = fake_target(tmp_path / "root")
    assert install(bundle, root).returncode == 0
    before = snapshot(root)
    broken = copy_bundle(tmp_path / "broken")
    model = broken / "models/emotion/fer_student_int8.tflite"
    data = bytearray(model.read_bytes())
    data[1000] ^= 0xFF
    model.write_bytes(bytes(data))

    done = install(broken, root)
    assert done.returncode == 4
    assert f"{model}: sha256 " in done.stderr and "does not match manifest.json" in done.stderr
    assert "copy the release bundle again" in done.stderr
    assert snapshot(root) == before  # the installed, good models are untouched


def test_files_a_new_release_dropped_are_removed(bundle, tmp_path):
    root = fake_target(tmp_path / "root")
    assert install(bundle, root).returncode == 0
    stale = root / "opt/fer-edge/edge/old_module.py"
    stale.write_text("print('from an older release')\n")
    done = install(bundle, root)
    assert done.returncode == 0 and not stale.exists()
    assert "changed: removed /opt/fer-edge/edge/old_module.py" in done.stdout


def test_uninstall_keeps_data_and_config_unless_purged(bundle, tmp_path):
    root = fake_target(tmp_path / "root")
    assert install(bundle, root).returncode == 0
    sessions = root / "var/lib/fer-edge/sessions.db"
    sessions.parent.mkdir(parents=True)
    sessions.write_bytes(b"SQLite format 3\0")

    done = uninstall(bundle, root)
    assert done.returncode == 0, done.stderr
    for gone in ("opt/fer-edge", "etc/systemd/system/fer-edge.service", "usr/lib/sysusers.d/fer-edge.conf"):
        assert not (root / gone).exists(), gone
    assert not (root / "etc/systemd/system/multi-user.target.wants/fer-edge.service").is_symlink()
    assert sessions.exists() and (root / "etc/fer-edge/edge.toml").exists()

    done = uninstall(bundle, root, "--purge")
    assert done.returncode == 0, done.stderr
    assert not (root / "var/lib/fer-edge").exists() and not (root / "etc/fer-edge").exists()
    assert "fer-edge" not in (root / "etc/passwd").read_text() + (root / "etc/group").read_text()
    assert "video:x:44:" in (root / "etc/group").read_text().splitlines()


def test_help_documents_every_option_and_bad_options_are_refused(bundle, tmp_path):
    for script in ("install.sh", "uninstall.sh"):
        path = bundle / "firmware_setup" / script
        shown = subprocess.run(["bash", str(path), "--help"], capture_output=True, text=True, timeout=30)
        assert shown.returncode == 0
        for option in set(re.findall(r"^\s+(--[a-z0-9-]+)\)", path.read_text(), flags=re.M)):
            assert option in shown.stdout, f"{script} --help does not mention {option}"
    wrong = install(bundle, tmp_path / "root", "--platfrom", "pi")
    assert wrong.returncode == 2 and "unknown option '--platfrom'" in wrong.stderr
    wrong = install(bundle, tmp_path / "root", "--platform", "beaglebone")
    assert wrong.returncode == 2 and "must be pi, jetson or debian" in wrong.stderr


def shell_scripts() -> list[Path]:
    return sorted(p for p in (ROOT / "firmware_setup").rglob("*.sh"))


@pytest.mark.parametrize("script", shell_scripts(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shellcheck_clean(script):
    require_installed(shutil.which("shellcheck") is not None, "shellcheck", "shellcheck")
    done = subprocess.run(["shellcheck", "--external-sources", str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout
