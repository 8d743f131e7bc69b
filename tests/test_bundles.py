"""Model bundle updates: `python -m edge update-models` against a running daemon (python -m edge run) that
must keep answering throughout; good bundles switch, bad ones are refused or rolled back."""
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.bundles.store import install, rollback
from edge.bundles.verify import BundleError, sha256_of
from edge.bundles.watch import ModelWatcher
from edge.config import EdgeConfig
from edge.state import LiveState
from tests.conftest import FIXTURES, ROOT
from tests.helpers.daemon import Daemon, get

pytestmark = pytest.mark.slow  # daemon processes: make test runs it, make test-fast does not

DEMO = ROOT / "media/demo.mp4"
SHIPPED = json.loads((ROOT / "models/manifest.json").read_text())["models"]
FILE = {m["name"]: m["file"] for m in SHIPPED}


def demo_frame() -> np.ndarray:
    capture = cv2.VideoCapture(str(DEMO))
    ok, frame = capture.read()  # the first frame: one clear face
    capture.release()
    assert ok
    return frame


def make_bundle(path: Path, version: str, emotion: str = "fer_student_int8", frame: np.ndarray | None = None,
                min_accuracy: float = 0.4) -> Path:
    """A bundle folder from the shipped model files, each model entry given `version`."""
    models = []
    for m in SHIPPED:
        if m["name"] in ("blazeface_short_int8", emotion):
            for file in (m["file"], m.get("reference_stats")):  # the model and the monitor's statistics
                if file:
                    (path / file).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(ROOT / "models" / file, path / file)
            models.append(dict(m, version=version))
    (path / "selftest").mkdir()
    shutil.copy(FIXTURES / "fer_publictest_70.npz", path / "selftest/faces.npz")
    cv2.imwrite(str(path / "selftest/frame.png"), demo_frame() if frame is None else frame)
    selftest = {"faces": {"file": "selftest/faces.npz", "min_accuracy": min_accuracy},
                "frame": {"file": "selftest/frame.png", "min_faces": 1}}
    for entry in selftest.values():
        entry["sha256"] = sha256_of(path / entry["file"])
    write_manifest(path, {"schema": 1, "version": version, "models": models, "selftest": selftest})
    return path


def write_manifest(path: Path, manifest: dict) -> None:
    (path / "manifest.json").write_text(json.dumps(manifest, indent=1))


def as_tar(folder: Path) -> Path:
    archive = folder.with_suffix(".tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=".")
    return archive


def update_models(config: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge", "update-models", *map(str, args), "--config", str(config)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def models_of(daemon: Daemon) -> dict:
    return {m["task"]: (m["name"], m["version"]) for m in daemon.status()["models"]}


def mapped_models(pid: int) -> list[str]:
    with open(f"/proc/{pid}/maps") as maps:
        return [line.split()[-1] for line in maps if line.rstrip().endswith(".tflite")]


def wait_for(condition, timeout=20.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class HealthProbe:
    """Asks /api/health every 50 ms in a thread and keeps every answer (status code or error)."""

    def __init__(self, url: str):
        self.url, self.answers, self.stopping = url + "/api/health", [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping.wait(0.05):
            try:
                self.answers.append(get(self.url, timeout=2)[0])
            except (OSError, urllib.error.URLError) as e:
                self.answers.append(repr(e))

    def stop(self) -> list:
        self.stopping.set()
        self.thread.join()
        return self.answers


@pytest.fixture
def daemon(tmp_path):
    make_bundle(tmp_path / "models", "1")  # a plain folder, as on a device before its first update
    daemon = Daemon(tmp_path, DEMO, tmp_path / "models")
    wait_for(lambda: daemon.status()["counters"]["processed"] > 5, what="first results")
    yield daemon
    assert daemon.stop() == 0


def test_good_bundle_switches_without_a_break_and_bad_ones_are_refused(daemon, tmp_path):
    config, link = tmp_path / "edge.toml", tmp_path / "models"
    assert models_of(daemon) == {"face_detection": ("blazeface_short_int8", "1"), "emotion": ("fer_student_int8", "1")}
    probe = HealthProbe(daemon.url)
    done = update_models(config, as_tar(make_bundle(tmp_path / "v2", "2", emotion="mini_xception_int8")))
    assert done.returncode == 0, done.stderr
    assert "installed 2-" in done.stdout and "self-test:" in done.stdout and "previous: 1-" in done.stdout
    assert link.is_symlink() and os.readlink(link).startswith("models-bundles/2-")
    assert os.readlink(tmp_path / "models.previous").startswith("models-bundles/1-")
    wait_for(lambda: models_of(daemon)["emotion"] == ("mini_xception_int8", "2"), what="the daemon to switch")
    # the interpreters map their files: only the new bundle's may be left, the old pipeline is gone
    wait_for(lambda: (paths := mapped_models(daemon.proc.pid)) and all("/models-bundles/2-" in p for p in paths)
             and any(p.endswith("/mini_xception_int8.tflite") for p in paths), what="the old models to be released")
    processed = daemon.status()["counters"]["processed"]
    wait_for(lambda: daemon.status()["counters"]["processed"] > processed + 10, what="frames on the new models")
    assert daemon.status()["latest"]["faces"], "the new models find the demo face"

    wrong_sha = make_bundle(tmp_path / "v3", "3")
    emotion_file = wrong_sha / FILE["fer_student_int8"]
    emotion_file.write_bytes(emotion_file.read_bytes()[:-1] + b"\0")  # one byte changed after the manifest
    unloadable = make_bundle(tmp_path / "v4", "4")
    manifest = json.loads((unloadable / "manifest.json").read_text())
    emotion = next(m for m in manifest["models"] if m["task"] == "emotion")
    (unloadable / emotion["file"]).write_bytes(b"TFL3 but not a model" * 100)
    emotion["sha256"] = sha256_of(unloadable / emotion["file"])  # a digest that matches the useless file
    write_manifest(unloadable, manifest)
    blind = make_bundle(tmp_path / "v5", "5", frame=np.zeros((360, 640, 3), np.uint8))
    for bundle, expected in ((wrong_sha, r"fer_student_int8.tflite: sha256 \w+… does not match"),
                             (unloadable, "not a loadable TFLite model"),
                             (blind, r"the detector finds 0 face\(s\) in selftest/frame.png")):
        done = update_models(config, bundle)
        assert done.returncode == 2, done.stdout
        assert re.search(expected, done.stderr), done.stderr
        assert os.readlink(link).startswith("models-bundles/2-"), "a refused bundle never becomes current"
    time.sleep(2 * 2.0)  # two polls of the daemon's watcher: nothing may have changed
    assert models_of(daemon)["emotion"] == ("mini_xception_int8", "2")
    answers = probe.stop()
    assert len(answers) > 50 and set(answers) == {200}, [a for a in answers if a != 200][:5]
    assert sorted(p.name[:2] for p in (tmp_path / "models-bundles").iterdir() if p.is_dir()) == ["1-", "2-"]


def test_daemon_rolls_back_a_broken_switch_and_rollback_goes_back(daemon, tmp_path):
    config, link = tmp_path / "edge.toml", tmp_path / "models"
    assert update_models(config, make_bundle(tmp_path / "v2", "2")).returncode == 0
    wait_for(lambda: models_of(daemon)["emotion"] == ("fer_student_int8", "2"), what="the daemon to switch")
    good = Path(os.path.realpath(link))
    # a bundle damaged after it was installed (an SD card, a hand edit) that something points the link at
    broken = tmp_path / "models-bundles/broken"
    shutil.copytree(good, broken)
    (broken / FILE["blazeface_short_int8"]).write_bytes(b"damaged")
    probe = HealthProbe(daemon.url)
    os.symlink("models-bundles/broken", tmp_path / "tmp-link")
    os.replace(tmp_path / "tmp-link", link)
    wait_for(lambda: os.path.realpath(link) == str(good), what="the daemon to point the link back")
    health = json.loads(get(daemon.url + "/api/health")[1])
    assert health["status"] == "degraded"
    assert any("update to broken failed" in r and "sha256" in r for r in health["reasons"]), health
    assert models_of(daemon)["emotion"] == ("fer_student_int8", "2")
    processed = daemon.status()["counters"]["processed"]
    wait_for(lambda: daemon.status()["counters"]["processed"] > processed + 10, what="frames after the rollback")

    done = update_models(config, "--rollback")
    assert done.returncode == 0, done.stderr
    wait_for(lambda: models_of(daemon)["emotion"] == ("fer_student_int8", "1"), what="the rollback to version 1")
    daemon.wait_for_health("ok", timeout=20)
    answers = probe.stop()
    assert len(answers) > 20 and set(answers) == {200}


def config_for(models: Path) -> EdgeConfig:
    return EdgeConfig.model_validate({"models": {"dir": str(models)}})


def test_archives_that_reach_outside_or_lack_a_self_test_are_refused(tmp_path):
    make_bundle(tmp_path / "models", "1")
    config = config_for(tmp_path / "models")
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        tar.add(tmp_path / "models/manifest.json", arcname="../manifest.json")
    with pytest.raises(BundleError, match=r"\.\./manifest.json would land outside the bundle"):
        install(evil, config)
    bare = make_bundle(tmp_path / "bare", "2")
    manifest = json.loads((bare / "manifest.json").read_text())
    del manifest["selftest"]
    write_manifest(bare, manifest)
    with pytest.raises(BundleError, match=r"no \"selftest\" section"):
        install(bare, config)
    with pytest.raises(BundleError, match="not a bundle"):
        install(tmp_path / "nothing.zip", config)
    stale = make_bundle(tmp_path / "stale", "3")
    reference = next(m["reference_stats"] for m in SHIPPED if m["name"] == "fer_student_int8")
    (stale / reference).write_text((stale / reference).read_text().replace("0.", "0.1", 1))
    with pytest.raises(BundleError, match=r"stale/emotion/fer_student_reference.json: sha256 \w+… does not match"):
        install(stale, config)
    assert not (tmp_path / "models").is_symlink() or os.readlink(tmp_path / "models").startswith("models-bundles/1-")
    assert [p.name for p in (tmp_path / "models-bundles").iterdir() if p.is_dir() and p.name.startswith(".")] == []


def test_a_folder_archived_with_its_name_installs_and_rollback_needs_a_previous(tmp_path):
    make_bundle(tmp_path / "models", "1")
    config = config_for(tmp_path / "models")
    with pytest.raises(BundleError, match="no previous bundle"):
        rollback(config)
    bundle = make_bundle(tmp_path / "v2", "2")
    archive = tmp_path / "v2.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(bundle, arcname="fer-models-v2")  # `tar cf v2.tar fer-models-v2/`
    lines = install(archive, config)
    assert lines[0].startswith("moved the models folder") and lines[-1].startswith("installed 2-")
    assert install(archive, config)[-1].endswith("is already the installed bundle; nothing changed")
    rollback(config)
    assert os.readlink(tmp_path / "models").startswith("models-bundles/1-")
    assert os.readlink(tmp_path / "models.previous").startswith("models-bundles/2-")


def test_start_up_falls_back_to_the_previous_bundle_when_the_current_one_is_damaged(tmp_path):
    make_bundle(tmp_path / "models", "1")
    config = config_for(tmp_path / "models")
    install(make_bundle(tmp_path / "v2", "2"), config)
    current = Path(os.path.realpath(tmp_path / "models"))
    (current / FILE["fer_student_int8"]).write_bytes(b"damaged while the booth was off")
    state = LiveState()
    watcher = ModelWatcher(config, state)
    pipeline = watcher.load()
    assert os.readlink(tmp_path / "models").startswith("models-bundles/1-")
    assert {m["version"] for m in state.models} == {"1"} and pipeline.emotion.labels[3] == "happy"
    status, reason = watcher.check()
    assert status == "degraded" and "rolled back to 1-" in reason and "sha256" in reason
