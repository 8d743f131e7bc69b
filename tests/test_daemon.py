"""The real daemon (python -m edge run) with its waitress server on a free port, fed a real video."""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

import edge
from tests.conftest import ROOT
from tests.helpers.daemon import MODELS, Daemon, get

pytestmark = pytest.mark.slow  # daemon processes: make test runs it, make test-fast does not

def test_daemon_serves_faces_expressions_counters_events_and_metrics(shared_data, tmp_path):
    daemon = Daemon(tmp_path, shared_data / "media/videos/pyfeat_single_face_talking.mp4")
    try:
        deadline, status = time.time() + 30, {}
        while time.time() < deadline:
            status = daemon.status()
            if status["counters"]["processed"] > 20 and status["latest"] and status["latest"]["faces"]:
                break
            time.sleep(0.3)
        face = status["latest"]["faces"][0]
        assert face["label"] in {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "uncertain"}
        assert status["latest"]["primary_id"] == face["id"] and status["health"]["status"] == "ok"
        assert {m["task"] for m in status["models"]} == {"face_detection", "emotion"}
        first = status["counters"]["processed"]
        time.sleep(1)
        assert daemon.status()["counters"]["processed"] > first  # counters move
        assert status["latency_ms"]["classify"]["p50_ms"] > 0 and status["fps"] > 0 and 0 < status["detector_duty"] < 1
        # API users' figures: rounded, on the wall clock, one confidence per face, the version
        assert all(round(v, 3) == v for q in status["latency_ms"].values() for v in q.values())
        assert all(round(v, 4) == v for v in face["probabilities"].values()) and "score" not in face
        assert abs(status["latest"]["time"] - time.time()) < 30 and status["version"] == edge.__version__
        assert status["sessions"] == {"started": 0, "finished": 0, "erased": 0, "active": 0}

        with urllib.request.urlopen(daemon.url + "/api/stream", timeout=10) as stream:
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            events = []
            while len(events) < 3:
                line = stream.readline().decode()
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
        assert events[-1]["counters"]["processed"] > events[0]["counters"]["processed"]

        code, body, headers = get(daemon.url + "/metrics")
        assert code == 200 and b"fer_edge_frames_processed_total" in body and b'stage="detect"' in body
        text = body.decode()
        assert "fer_edge_sessions_started_total 0.0" in text and "fer_edge_session_active 0.0" in text
        emotion = next(m for m in status["models"] if m["task"] == "emotion")
        assert f'fer_edge_model_info{{name="{emotion["name"]}",' in text and f'sha256="{emotion["sha256"]}"' in text
        code, body, _ = get(daemon.url + "/")
        assert code == 200 and b"No camera image is shown" in body
        code, body, _ = get(daemon.url + "/api/preview.jpg")
        assert code == 404 and b"preview is disabled" in body  # no image leaves unless configured
        assert get(daemon.url + "/api/nothing")[0] == 404
    finally:
        assert daemon.stop() == 0  # clean shutdown on SIGTERM


def test_preview_is_served_only_when_enabled(shared_data, tmp_path):
    daemon = Daemon(tmp_path, shared_data / "media/videos/pyfeat_single_face_talking.mp4", preview=True)
    try:
        deadline, code = time.time() + 20, 503
        while time.time() < deadline and code != 200:
            code, body, headers = get(daemon.url + "/api/preview.jpg")
            time.sleep(0.3)
        assert code == 200 and headers["Content-Type"] == "image/jpeg" and body[:2] == b"\xff\xd8"
        assert b"Camera preview is <b>enabled</b>" in get(daemon.url + "/")[1]
    finally:
        daemon.stop()


def test_tampered_model_keeps_the_server_up_to_say_why(shared_data, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(MODELS, models)
    emotion = next(m for m in json.loads((models / "manifest.json").read_text())["models"] if m["task"] == "emotion")
    (models / emotion["file"]).write_bytes(b"not a model")
    daemon = Daemon(tmp_path, shared_data / "media/videos/pyfeat_single_face_talking.mp4", models)
    try:
        code, health = daemon.wait_for_health("failing")
        assert code == 503
        assert "sha256" in health["reasons"][0] and emotion["file"].split("/")[-1] in health["reasons"][0]
    finally:
        assert daemon.stop() == 2


def test_unopenable_video_fails_clearly_or_falls_back(shared_data, tmp_path):
    daemon = Daemon(tmp_path, tmp_path / "missing.mp4")
    try:
        code, health = daemon.wait_for_health("failing")
        assert code == 503 and "missing.mp4" in health["reasons"][0]
    finally:
        assert daemon.stop() == 2
    video = shared_data / "media/videos/pyfeat_single_face_talking.mp4"
    daemon = Daemon(tmp_path, "/dev/video97", fallback=video)
    try:
        deadline = time.time() + 20
        while time.time() < deadline and daemon.status()["counters"]["processed"] == 0:
            time.sleep(0.3)
        status = daemon.status()
        assert status["counters"]["processed"] > 0 and "pyfeat_single_face_talking" in status["source"]
    finally:
        assert daemon.stop() == 0


def test_a_failed_start_says_why_in_one_line_and_exits_non_zero_for_systemd(tmp_path):
    images = tmp_path / "stills"
    images.mkdir()
    (images / "a.jpg").write_text("not an image")  # a folder of unreadable images used to exit 0, silently
    daemon = Daemon(tmp_path, images, watchdog="failed_start_exit_s = 2")
    try:
        code, health = daemon.wait_for_health("failing")
        assert code == 503 and "none of its 1 files is an image" in health["reasons"][0]
        assert daemon.proc.wait(timeout=20) == 2  # on its own: Restart=on-failure tries again
    finally:
        if daemon.proc.poll() is None:
            daemon.stop()
    errors = [line for line in daemon.log_tail(100_000).splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "a.jpg" in errors[0] and "replace them" in errors[0]


def test_a_busy_port_is_one_clear_line_not_a_traceback(tmp_path):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "edge.toml"
        config.write_text(f'[web]\nport = {port}\n[sessions]\ndb_path = "{tmp_path}/sessions.db"\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("FER_EDGE_")}
        done = subprocess.run([sys.executable, "-m", "edge", "run", "--config", str(config)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"error: cannot listen on 127.0.0.1:{port}" in done.stderr and "set web.port" in done.stderr


def test_invalid_config_names_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[web]\nprot = 8080\n")
    done = subprocess.run([sys.executable, "-m", "edge", "config", "--check", str(bad)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "web.prot" in done.stderr
