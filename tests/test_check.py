"""python -m edge check: each check against fake /proc, /sys, /run trees, fake command outputs and real
(sometimes misbehaving) sources, models and dashboards; the command line end to end."""
import json
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

import edge.check
from edge.__main__ import main
from edge.check import camera as camera_check
from edge.check import models as models_check
from edge.check import run_checks
from edge.check.camera import check_camera
from edge.check.context import BOARDS, TIME_ERROR, CommandResult, Context, System
from edge.check.dashboard import check_dashboard
from edge.check.host import check_clock, check_disk, check_service
from edge.check.models import check_latency, check_models
from edge.check.result import FAIL, PASS, WARN, Result, exit_code, table
from edge.check.thermal import check_thermal
from edge.config import EdgeConfig
from edge.devtools.daemon import free_port
from edge.pipeline import FrameResult
from edge.sources import Frame, FrameSource
from edge.state import LiveState
from edge.web.app import create_app
from edge.web.server import WebServer
from tests.conftest import ROOT

GiB = 1024 ** 3
NOW = 1_800_000_000.0  # 2027-01-15
PI5, PI4 = "Raspberry Pi 5 Model B Rev 1.0", "Raspberry Pi 4 Model B Rev 1.5"
ORIN = "NVIDIA Jetson Orin Nano Developer Kit"
SERVICE_OK = ("LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\nResult=success\n"
              "NRestarts=0\n")


class FakeRunner:
    """Answers commands by their first two words; a command it has no answer for is 'not installed'."""

    def __init__(self, answers=None):
        self.answers, self.calls = dict(answers or {}), []

    def __call__(self, argv):
        self.calls.append(argv)
        answer = self.answers.get(" ".join(argv[:2]))
        if isinstance(answer, str):
            return CommandResult(0, answer)
        return CommandResult(*answer) if answer else None


def make_ctx(tmp_path, files=None, commands=None, config=None, disk=(100 * GiB, 0, 50 * GiB),
             clock=0, now=NOW, **context):
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    seen_paths = []

    def disk_usage(path):
        seen_paths.append(path)
        return disk

    system = System(root, FakeRunner(commands), disk_usage=disk_usage, clock_state=lambda: clock, now=lambda: now)
    ctx = Context(config or EdgeConfig(), system, **context)
    ctx.seen_paths = seen_paths
    return ctx


def config(**sections):
    return EdgeConfig.model_validate(sections)


def zone(n, kind, millicelsius, trips=()):
    folder = f"sys/class/thermal/thermal_zone{n}"
    files = {f"{folder}/type": kind, f"{folder}/temp": str(millicelsius)}
    for i, (trip_kind, trip_temp) in enumerate(trips):
        files[f"{folder}/trip_point_{i}_type"] = trip_kind
        files[f"{folder}/trip_point_{i}_temp"] = str(trip_temp)
    return files


def board(model):
    return {"proc/device-tree/model": model + "\x00"}


# --- board --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model, key", [(PI5, "pi5"), (PI4, "pi4"), ("Raspberry Pi Compute Module 4 Rev 1.0", "pi4"),
                                        (ORIN, "jetson_orin"), (None, "generic")])
def test_board_and_its_budget_come_from_the_device_tree(tmp_path, model, key):
    ctx = make_ctx(tmp_path, board(model) if model else {})
    assert ctx.board is BOARDS[key] and ctx.board_model == model
    assert len({b.latency_budget_ms for b in BOARDS.values()}) > 1  # budgets really differ per board


# --- thermal ------------------------------------------------------------------------------------------

def test_throttle_bits_set_now_fail_with_the_reason_and_the_fix(tmp_path):
    ctx = make_ctx(tmp_path, {**board(PI5), **zone(0, "cpu-thermal", 52300)},
                   {"vcgencmd get_throttled": "throttled=0x50005\n", "vcgencmd measure_temp": "temp=52.1'C\n"})
    r = check_thermal(ctx)
    assert r.status == FAIL and r.data["throttled"] == "0x50005" and "none set" not in r.detail
    assert "under-voltage detected now: use the official 5V/5A supply" in r.detail
    assert "throttling detected now" in r.detail and "52.3 °C" in r.detail
    assert r.data["zones"] == {"cpu-thermal": 52.3, "vcgencmd": 52.1}


def test_throttle_bits_only_since_boot_warn(tmp_path):
    ctx = make_ctx(tmp_path, {**board(PI4), **zone(0, "cpu-thermal", 50000)},
                   {"vcgencmd get_throttled": "throttled=0x50000\n"})
    r = check_thermal(ctx)
    assert r.status == WARN and "under-voltage has occurred since boot (not now)" in r.detail
    assert "5.1V/3A" in r.detail and "detected now" not in r.detail


def test_cool_pi_with_clear_flags_passes(tmp_path):
    ctx = make_ctx(tmp_path, {**board(PI5), **zone(0, "cpu-thermal", 45000)},
                   {"vcgencmd get_throttled": "throttled=0x0"})
    r = check_thermal(ctx)
    assert r.status == PASS and "45.0 °C" in r.detail and "0x0 (none set)" in r.detail


@pytest.mark.parametrize("millicelsius, status, words", [(82000, FAIL, "too hot"), (72500, WARN, "close to throttling"),
                                                         (60000, PASS, "60.0 °C")])
def test_temperature_against_the_boards_throttle_point(tmp_path, millicelsius, status, words):
    ctx = make_ctx(tmp_path, {**board(PI4), **zone(0, "cpu-thermal", millicelsius)},
                   {"vcgencmd get_throttled": "throttled=0x0"})
    r = check_thermal(ctx)
    assert r.status == status and words in r.detail and "throttles at 80 °C" in r.detail


def test_jetson_zones_use_their_passive_trip_and_skip_sensors_that_measure_nothing(tmp_path):
    files = {**board(ORIN), **zone(0, "cpu-thermal", 71000, [("passive", 70000), ("critical", 105000)]),
             **zone(1, "PMIC-Die", 100000), **zone(2, "cv0-thermal", -256000), **zone(3, "gpu-thermal", 50000)}
    r = check_thermal(make_ctx(tmp_path, files))
    assert r.status == FAIL and "71.0 °C (cpu-thermal, throttles at 70 °C)" in r.detail
    assert set(r.data["zones"]) == {"cpu-thermal", "gpu-thermal"}
    assert "no firmware throttle flags" in r.detail  # not a Pi: no vcgencmd expected, no warning


def test_pi_without_vcgencmd_or_with_vcgencmd_refused_warns(tmp_path):
    files = {**board(PI5), **zone(0, "cpu-thermal", 45000)}
    r = check_thermal(make_ctx(tmp_path, files))
    assert r.status == WARN and "vcgencmd not found" in r.detail and "throttle flags unknown" in r.detail
    r = check_thermal(make_ctx(tmp_path, files, {"vcgencmd get_throttled": (255, "", "VCHI initialization failed")}))
    assert r.status == WARN and "VCHI initialization failed" in r.detail and "video group" in r.detail


def test_no_thermal_sensor_at_all_warns(tmp_path):
    r = check_thermal(make_ctx(tmp_path))
    assert r.status == WARN and "no temperature sensor readable" in r.detail


# --- models and latency -------------------------------------------------------------------------------

@pytest.fixture
def models_dir(tmp_path):
    target = tmp_path / "models"
    shutil.copytree(ROOT / "models", target, ignore=shutil.ignore_patterns("*.md"))
    return target


def test_intact_models_pass(tmp_path, models_dir):
    r = check_models(make_ctx(tmp_path, config=config(models={"dir": str(models_dir)})))
    assert r.status == PASS and "blazeface_short_int8" in r.detail and "7 of 7 listed models intact" in r.detail


def test_missing_model_in_use_fails(tmp_path, models_dir):
    (models_dir / "face_detector/blazeface_short_int8.tflite").unlink()
    r = check_models(make_ctx(tmp_path, config=config(models={"dir": str(models_dir)})))
    assert r.status == FAIL and "blazeface_short_int8.tflite: model file not found" in r.detail
    assert "reinstall" in r.detail


def test_corrupted_model_in_use_fails_on_its_sha256(tmp_path, models_dir):
    path = models_dir / "emotion/fer_student_int8.tflite"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    r = check_models(make_ctx(tmp_path, config=config(models={"dir": str(models_dir)})))
    assert r.status == FAIL and "fer_student_int8.tflite: sha256" in r.detail and "does not match" in r.detail


def test_corrupted_model_not_in_use_warns(tmp_path, models_dir):
    (models_dir / "emotion/mini_xception_float.tflite").write_bytes(b"truncated")
    r = check_models(make_ctx(tmp_path, config=config(models={"dir": str(models_dir)})))
    assert r.status == WARN and "6 of 7" in r.detail and "mini_xception_float.tflite" in r.detail


def test_missing_manifest_fails(tmp_path):
    r = check_models(make_ctx(tmp_path, config=config(models={"dir": str(tmp_path / "nowhere")})))
    assert r.status == FAIL and "cannot read the model manifest" in r.detail


def test_latency_is_measured_with_the_real_models_against_the_boards_budget(tmp_path):
    r = check_latency(make_ctx(tmp_path, board(PI4)))
    assert r.status in (PASS, WARN) and r.data["budget_ms"] == 25.0 and "Raspberry Pi 4 budget" in r.detail
    assert 0 < r.data["detect_p50_ms"] < r.data["p50_ms"] <= r.data["p95_ms"]
    assert r.data["models"] == ["blazeface_short_int8", "fer_student_int8"] and r.data["board"] == "pi4"


def test_latency_over_budget_fails(tmp_path):
    r = check_latency(make_ctx(tmp_path, config=config(check={"latency_budget_ms": 0.001})))
    assert r.status == FAIL and "over check.latency_budget_ms of 0.001 ms" in r.detail
    assert r.data["p50_ms"] > 0.001 and "thermal row" in r.detail


class Spiky:
    """Stands in for the models: 1 ms per frame, but every 10th frame 25 ms (another process got the CPU)."""

    width = height = 48
    calls = 0

    def detect(self, frame):
        self.calls += 1
        time.sleep(0.025 if self.calls % 10 == 0 else 0.001)

    def probabilities(self, face):
        assert face.shape == (48, 48)


def test_latency_spikes_beyond_twice_the_budget_warn(tmp_path, monkeypatch):
    models = Spiky()
    monkeypatch.setattr(models_check.Pipeline, "from_config",
                        lambda config: SimpleNamespace(detector=models, emotion=models, models=[{"name": "spiky"}]))
    r = check_latency(make_ctx(tmp_path, config=config(check={"latency_budget_ms": 10})))
    assert r.status == WARN and "p95 over twice check.latency_budget_ms of 10 ms" in r.detail
    assert r.data["p50_ms"] < 10 < 20 < r.data["p95_ms"] and models.calls == models_check.WARMUP + models_check.RUNS


def test_latency_without_loadable_models_fails_and_says_why(tmp_path):
    r = check_latency(make_ctx(tmp_path, config=config(models={"dir": str(tmp_path)})))
    assert r.status == FAIL and r.detail.startswith("not measured") and "manifest" in r.detail


# --- camera -------------------------------------------------------------------------------------------

def source_config(spec, **more):
    return config(source={"spec": str(spec), **more})


def test_demo_clip_delivers_fresh_frames(tmp_path):
    ctx = make_ctx(tmp_path, config=source_config(ROOT / "media/demo.mp4"))
    r = check_camera(ctx)
    assert r.status == PASS and r.data["frames"] == camera_check.FRAMES_NEEDED and r.data["fresh"] >= 10
    assert r.data["size"] == "640x360" and 15 < r.data["fps"] < 40 and "not a live camera" in r.detail
    assert ctx.frame is not None and ctx.frame.shape == (360, 640, 3)


def test_camera_not_found_fails_with_the_reason(tmp_path):
    r = check_camera(make_ctx(tmp_path, config=source_config("/dev/video97")))
    assert r.status == FAIL and "camera not found" in r.detail and "no camera at /dev/video97" in r.detail


@pytest.mark.parametrize("fault", ["vanish", "stall"])  # refused at open, or opened but never streaming
def test_camera_held_by_the_running_service_warns(tmp_path, monkeypatch, fault):
    monkeypatch.setattr(camera_check, "DEADLINE_S", 0.5)
    control = tmp_path / "fault"
    control.write_text(fault)
    spec = f"faults:{control}:{ROOT / 'media/demo.mp4'}"
    try:
        r = check_camera(make_ctx(tmp_path, commands={"systemctl show": SERVICE_OK}, config=source_config(spec)))
    finally:
        control.write_text("ok")
    assert r.status == WARN and "while the fer-edge service runs" in r.detail and r.data["held_by_service"]
    assert "sudo systemctl stop fer-edge" in r.detail


def test_frozen_camera_is_reported_stale(tmp_path):
    control = tmp_path / "fault"
    control.write_text("freeze")
    r = check_camera(make_ctx(tmp_path, config=source_config(f"faults:{control}:{ROOT / 'media/demo.mp4'}")))
    assert r.status == FAIL and "stale frames" in r.detail and r.data["fresh"] == 1
    assert r.data["repeated"] >= camera_check.FRAMES_NEEDED - 1


def test_repeating_image_folder_is_reported_stale(tmp_path):
    folder = tmp_path / "stills"
    folder.mkdir()
    image = np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8)
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), image)
    r = check_camera(make_ctx(tmp_path, config=source_config(folder)))
    assert r.status == FAIL and "repeat the previous image exactly" in r.detail


def test_black_frames_fail(tmp_path):
    folder = tmp_path / "covered"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):  # sensor noise, so the frames are fresh but black: a lens cap
        cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 4, (120, 160, 3), np.uint8))
    r = check_camera(make_ctx(tmp_path, config=source_config(folder)))
    assert r.status == FAIL and "all frames are black" in r.detail and r.data["brightness"] < 4


def test_stalled_camera_fails_at_the_deadline(tmp_path, monkeypatch):
    monkeypatch.setattr(camera_check, "DEADLINE_S", 0.5)
    control = tmp_path / "fault"
    control.write_text("stall")
    try:
        start = time.monotonic()
        r = check_camera(make_ctx(tmp_path, config=source_config(f"faults:{control}:{ROOT / 'media/demo.mp4'}")))
        assert time.monotonic() - start < 5
    finally:
        control.write_text("ok")  # lets the stuck capture thread finish
    assert r.status == FAIL and "only 0 of 10 frames within 0.5 s" in r.detail


class StuckClock(FrameSource):
    """A driver that hands out new images with the same capture time and index: old buffers."""

    def __init__(self):
        super().__init__("stuck-clock")
        self.rng = np.random.default_rng(2)

    def _open(self):
        pass

    def _grab(self):
        return None

    def read(self):
        time.sleep(0.01)
        return Frame(self.rng.integers(0, 255, (48, 64, 3), np.uint8), 7, 123.0, self.name)


def test_frames_whose_timestamps_do_not_advance_fail(tmp_path):
    def opener(spec, **options):
        source = StuckClock()
        source.open()
        return source
    r = check_camera(make_ctx(tmp_path, config=source_config("/dev/video0"), open_source=opener))
    assert r.status == FAIL and "timestamps do not advance" in r.detail


# --- disk, clock, service -----------------------------------------------------------------------------

@pytest.mark.parametrize("free, total, status, words", [
    (0.15, 32, FAIL, "disk nearly full: 0.1 GiB free of 32.0 GiB"),
    (1.5, 32, FAIL, "disk nearly full: 1.5 GiB free of 32.0 GiB (5 %)"),  # 4.7 %: under 5 % of the card
    (2.5, 32, WARN, "disk getting full: 2.5 GiB free of 32.0 GiB (8 %)"),
    (0.8, 4, WARN, "disk getting full: 0.8 GiB free of 4.0 GiB (20 %)"),  # a large share, but under 1 GiB
    (12, 32, PASS, "12.0 GiB free of 32.0 GiB (38 %)"),
])
def test_disk_free_on_the_state_directory(tmp_path, free, total, status, words):
    ctx = make_ctx(tmp_path, {"var/lib/fer-edge/sessions.db": ""}, disk=(total * GiB, 0, int(free * GiB)),
                   config=config(sessions={"db_path": "/var/lib/fer-edge/sessions.db"}))
    r = check_disk(ctx)
    assert r.status == status and words in r.detail, r.detail
    assert ctx.seen_paths == [tmp_path / "root/var/lib/fer-edge"]
    assert ("journalctl --vacuum-size" in r.detail) == (status != PASS)


def test_disk_check_measures_the_nearest_existing_folder_before_first_start(tmp_path):
    (tmp_path / "root/var/lib").mkdir(parents=True)
    ctx = make_ctx(tmp_path, config=config(sessions={"db_path": "/var/lib/fer-edge/sessions.db"}))
    r = check_disk(ctx)
    assert r.status == PASS and ctx.seen_paths == [tmp_path / "root/var/lib"] and "not created yet" in r.detail


@pytest.mark.parametrize("commands, files, kernel, status, words", [
    ({"timedatectl show": "yes\n"}, {}, TIME_ERROR, PASS, "timedatectl NTPSynchronized=yes"),
    ({"timedatectl show": "no\n"}, {}, 0, FAIL, "clock not synchronised (timedatectl NTPSynchronized=no)"),
    ({}, {"run/systemd/timesync/synchronized": ""}, TIME_ERROR, PASS, "systemd-timesyncd"),
    ({"timedatectl show": (1, "", "System has not been booted with systemd")}, {}, TIME_ERROR, FAIL,
     "kernel adjtimex: unsynchronised, state 5"),
    ({}, {}, 0, PASS, "kernel adjtimex: synchronised, state 0"),
    ({}, {}, None, WARN, "cannot tell whether the clock is synchronised"),
])
def test_clock_synchronisation(tmp_path, commands, files, kernel, status, words):
    r = check_clock(make_ctx(tmp_path, files, commands, clock=kernel))
    assert r.status == status and words in r.detail and "2027-01-15" in r.detail


def test_a_clock_that_was_never_set_fails_even_if_called_synchronised(tmp_path):
    r = check_clock(make_ctx(tmp_path, commands={"timedatectl show": "yes"}, now=0.0))
    assert r.status == FAIL and "1970-01-01" in r.detail and "never set" in r.detail


@pytest.mark.parametrize("answer, status, words", [
    (SERVICE_OK, PASS, "is active (running) and enabled"),
    (SERVICE_OK.replace("UnitFileState=enabled", "UnitFileState=disabled"), WARN, "sudo systemctl enable fer-edge"),
    (SERVICE_OK.replace("NRestarts=0", "NRestarts=3"), WARN, "restarted it 3 time(s)"),
    ("LoadState=loaded\nActiveState=failed\nSubState=failed\nResult=watchdog\n", FAIL,
     "failed (failed, result watchdog)"),
    ("LoadState=loaded\nActiveState=activating\nSubState=auto-restart\n", WARN, "restarting after a crash"),
    ("LoadState=not-found\nActiveState=inactive\n", FAIL, "not installed: run firmware_setup/install.sh"),
    ((1, "", "System has not been booted with systemd as init system (PID 1)."), WARN, "systemd is not running"),
    (None, WARN, "systemd is not running"),
])
def test_service_state(tmp_path, answer, status, words):
    r = check_service(make_ctx(tmp_path, commands={"systemctl show": answer} if answer else {}))
    assert r.status == status and words in r.detail
    if status == FAIL and "failed" in words:
        assert "journalctl -u fer-edge" in r.detail


# --- dashboard ----------------------------------------------------------------------------------------

@pytest.fixture
def dashboard():
    """A real daemon web server (edge's app under waitress) on a free loopback port."""
    state = LiveState()
    server = WebServer(create_app(state), "127.0.0.1", 0)  # port 0: the kernel picks a free one, no race
    server.start()
    yield state, server.url.rstrip("/")
    server.stop()


def test_healthy_dashboard_passes(tmp_path, dashboard):
    state, url = dashboard
    state.record(FrameResult(0, 0.0, 640, 480, [], None, {"total": 2.0}), 1, 0)
    r = check_dashboard(make_ctx(tmp_path, dashboard_url=url))
    assert r.status == PASS and r.data["http_status"] == 200 and "daemon ok" in r.detail


def test_degraded_dashboard_warns_with_its_reasons(tmp_path, dashboard):
    r = check_dashboard(make_ctx(tmp_path, dashboard_url=dashboard[1]))
    assert r.status == WARN and "no frame processed yet" in r.detail


def test_failing_daemon_fails_with_its_reason(tmp_path, dashboard):
    state, url = dashboard
    state.fail("no camera at /dev/video0: is it plugged in?")
    r = check_dashboard(make_ctx(tmp_path, dashboard_url=url))
    assert r.status == FAIL and r.data["http_status"] == 503 and "no camera at /dev/video0" in r.detail


def test_dashboard_down_fails(tmp_path):
    port = free_port()
    r = check_dashboard(make_ctx(tmp_path, config=config(web={"port": port})))
    assert r.status == FAIL and f"http://127.0.0.1:{port}/api/health unreachable" in r.detail
    assert "refused" in r.detail.lower()


def test_another_program_on_the_port_fails(tmp_path):
    class Html(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>router login</html>")

        def log_message(self, *args):
            pass
    server = ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        r = check_dashboard(make_ctx(tmp_path, dashboard_url=f"http://127.0.0.1:{server.server_port}"))
    finally:
        server.shutdown()
    assert r.status == FAIL and "not fer-edge's health JSON" in r.detail


# --- all checks, output, exit codes -------------------------------------------------------------------

def test_a_crashing_check_becomes_a_fail_row_and_the_others_still_run(tmp_path, monkeypatch):
    def broken(ctx):
        raise KeyError("boom")
    monkeypatch.setattr(edge.check, "CHECKS", (("thermal", broken), ("clock", check_clock)))
    results = run_checks(make_ctx(tmp_path, commands={"timedatectl show": "yes"}))
    assert [(r.name, r.status) for r in results] == [("thermal", FAIL), ("clock", PASS)]
    assert "crashed (KeyError: 'boom')" in results[0].detail and exit_code(results) == 1


def test_table_wraps_long_details_under_the_detail_column():
    results = [Result("camera", PASS, "word " * 40), Result("dashboard", WARN, "short")]
    text = table(results, width=80)
    lines = text.splitlines()
    assert lines[1].startswith("camera     PASS    word") and lines[2].startswith(" " * 19 + "word")
    assert max(map(len, lines)) <= 80 and text.endswith("WARN: 2 checks, 0 failed, 1 warned\n")
    assert exit_code(results) == 0


def healthy_device(tmp_path):
    root = tmp_path / "root"
    for rel, text in {**zone(0, "x86_pkg_temp", 41000, [("passive", 95000)]),
                      "run/systemd/timesync/synchronized": ""}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def cli_in_process(monkeypatch, capsys, tmp_path, commands, *args):
    """The real command line, with the commands it runs answered by FakeRunner."""
    monkeypatch.setattr(edge.check, "System", lambda root: System(root, FakeRunner(commands),
                                                                  disk_usage=lambda path: (32 * GiB, 0, 12 * GiB)))
    code = main(["check", "--sysroot", str(healthy_device(tmp_path)), "--source", str(ROOT / "media/demo.mp4"),
                 *args])
    return code, capsys.readouterr().out


def test_exit_code_0_when_nothing_fails(tmp_path, monkeypatch, capsys, dashboard):
    state, url = dashboard
    state.record(FrameResult(0, 0.0, 640, 480, [], None, {"total": 2.0}), 1, 0)
    code, out = cli_in_process(monkeypatch, capsys, tmp_path, {"systemctl show": SERVICE_OK}, "--url", url)
    assert code == 0, out
    for name in ("camera", "models", "latency", "thermal", "disk", "clock", "service", "dashboard"):
        assert any(line.startswith(name) for line in out.splitlines()), name
    assert "41.0 °C" in out and ": 8 checks, 0 failed" in out


def test_exit_code_1_when_a_check_fails(tmp_path, monkeypatch, capsys):
    failed = "LoadState=loaded\nActiveState=failed\nSubState=failed\nResult=exit-code\n"
    code, out = cli_in_process(monkeypatch, capsys, tmp_path, {"systemctl show": failed},
                               "--url", f"http://127.0.0.1:{free_port()}", "--json")
    report = json.loads(out)
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert code == 1 and report["exit_code"] == 1 and report["result"] == FAIL
    assert statuses["service"] == FAIL and statuses["dashboard"] == FAIL and statuses["camera"] == PASS


def test_the_environment_file_is_read_as_the_service_reads_it(tmp_path, monkeypatch, capsys, dashboard):
    """--environment-file: the dashboard is looked for on the port the service gets from that file."""
    state, url = dashboard
    state.record(FrameResult(0, 0.0, 640, 480, [], None, {"total": 2.0}), 1, 0)
    environment = tmp_path / "environment"
    environment.write_text(f"# booth 7\nFER_EDGE_PORT={url.rsplit(':', 1)[1]}\n")
    code, out = cli_in_process(monkeypatch, capsys, tmp_path, {"systemctl show": SERVICE_OK},
                               "--environment-file", str(environment), "--json")
    rows = {c["name"]: c for c in json.loads(out)["checks"]}
    assert rows["dashboard"]["status"] == PASS, rows["dashboard"]
    assert code == 0, out


def edge_cli(*args):
    return subprocess.run([sys.executable, "-m", "edge", "check", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_end_to_end_on_this_machine_with_the_demo_clip():
    done = edge_cli("--source", "media/demo.mp4", "--json")
    report = json.loads(done.stdout)
    rows = {c["name"]: c for c in report["checks"]}
    assert list(rows) == ["camera", "models", "latency", "thermal", "disk", "clock", "service", "dashboard"]
    for name in ("camera", "models", "latency"):
        assert rows[name]["status"] == PASS, rows[name]
    assert rows["latency"]["data"]["p50_ms"] > 0 and rows["camera"]["data"]["frames"] == 10
    failed = any(c["status"] == FAIL for c in report["checks"])
    assert done.returncode == report["exit_code"] == (1 if failed else 0), done.stderr[-2000:]


@pytest.mark.parametrize("args, message", [
    (["--config", "/nonexistent/edge.toml"], "cannot read config"),
    (["--url", "ftp://booth"], "--url takes the dashboard's base URL"),
    (["--frames", "3"], "unrecognized arguments: --frames"),
])
def test_bad_arguments_and_config_exit_2(args, message):
    done = edge_cli(*args)
    assert done.returncode == 2 and message in done.stderr and not done.stdout


def test_bad_config_value_exits_2(tmp_path):
    bad = tmp_path / "edge.toml"
    bad.write_text("[check]\nlatency_budget_ms = -1\n")
    done = edge_cli("--config", str(bad))
    assert done.returncode == 2 and "check.latency_budget_ms" in done.stderr
