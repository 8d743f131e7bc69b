"""Fleet telemetry against a real Mosquitto broker on a free loopback port, published by the real daemon
(python -m edge run on the bundled demo clip): messages arrive, carry no identifying data, the last will
marks a killed booth offline, and a restarted broker gets the current state again."""
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import ConfigError, dump, load_config
from edge.devtools.daemon import DaemonProcess, free_port
from edge.pipeline import FaceResult, FrameResult
from edge.telemetry.figures import FrameWindow
from tests.conftest import require_installed
from tests.helpers.daemon import demo_daemon

pytestmark = pytest.mark.slow  # daemon processes and a broker: make test runs it, make test-fast does not

MOSQUITTO = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if os.path.exists(p)), None)
DEVICE = "booth-test"
# what a frame result holds about a person; none of it may leave the device
IDENTIFYING = {"box", "boxes", "id", "primary_id", "keypoints", "image", "jpeg", "preview", "probabilities", "tracks"}


@pytest.fixture(scope="module")
def mosquitto() -> str:
    require_installed(MOSQUITTO is not None, "mosquitto", "mosquitto")
    return MOSQUITTO


class Broker:
    """Mosquitto on 127.0.0.1:port, no persistence: after a restart it holds only what was published since."""

    def __init__(self, binary: str, tmp_path, port: int):
        self.binary, self.port, self.conf, self.proc = binary, port, tmp_path / "mosquitto.conf", None
        self.conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                             "log_dest stderr\n")

    def start(self) -> "Broker":
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            probe = mqtt.Client(CallbackAPIVersion.VERSION2)
            try:
                probe.connect("127.0.0.1", self.port)
                probe.disconnect()
                return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"mosquitto did not start: {self.proc.stderr.read()[-1000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class Subscriber:
    """A fleet-side client keeping everything under fer-edge/<DEVICE>/ (it resubscribes on reconnect)."""

    def __init__(self, port: int):
        self.messages: list[tuple[str, str, float]] = []  # (last topic level, payload, arrival time)
        self.arrived = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fleet-view-{port}-{time.time()}")
        self.client.on_connect = lambda c, *_: c.subscribe(f"fer-edge/{DEVICE}/#", qos=1)
        self.client.on_message = self.on_message
        self.client.reconnect_delay_set(1, 1)
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()

    def on_message(self, client, userdata, message) -> None:
        with self.arrived:
            self.messages.append((message.topic.rsplit("/", 1)[1], message.payload.decode(), time.time()))
            self.arrived.notify_all()

    def next(self, topic: str, timeout: float = 30.0, where=lambda payload: True, after: float = 0.0) -> str:
        """The first message on `topic` that arrived after `after` and satisfies `where`."""
        def found():
            return next((p for name, p, at in self.messages if name == topic and at >= after and where(p)), None)
        with self.arrived:
            if self.arrived.wait_for(lambda: found() is not None, timeout):
                return found()
        raise AssertionError(f"no matching {topic} message within {timeout} s; got "
                             f"{[(name, p[:80]) for name, p, _ in self.messages[-5:]]}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def telemetry_daemon(tmp_path, broker_port: int) -> DaemonProcess:
    return demo_daemon(tmp_path, f'[telemetry]\nenabled = true\nhost = "127.0.0.1"\nport = {broker_port}\n'
                        f'device_id = "{DEVICE}"\ninterval_s = 1.0\nwindow_s = 5.0\nkeepalive_s = 5\n'
                        'reconnect_min_s = 1\nreconnect_max_s = 2\n')


def keys(value) -> set:
    if isinstance(value, dict):
        return set(value) | set().union(*(keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(keys(v) for v in value)) if value else set()
    return set()


def test_daemon_publishes_figures_and_its_last_will_marks_it_offline(mosquitto, tmp_path):
    broker = Broker(mosquitto, tmp_path, free_port()).start()
    fleet = Subscriber(broker.port)
    daemon = telemetry_daemon(tmp_path, broker.port)
    try:
        assert fleet.next("availability", where=lambda p: p == "online") == "online"
        # the first message may come after one frame (no rate yet); the demo face is in most frames
        metrics = json.loads(fleet.next("metrics", where=lambda p: json.loads(p)["frames"] > 10))
        assert metrics["fps"] > 0 and metrics["counters"]["processed"] >= metrics["frames"]
        assert metrics["faces"]["share_of_frames"] > 0.5 and metrics["faces"]["max"] >= 1
        assert metrics["latency_ms"]["classify"]["p95_ms"] >= metrics["latency_ms"]["classify"]["p50_ms"] > 0
        shares = metrics["expressions"]
        assert shares and abs(sum(shares.values()) - 1) < 0.01 and set(shares) <= {
            "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "uncertain"}
        health = json.loads(fleet.next("health"))
        assert health["status"] in ("ok", "degraded") and isinstance(health["reasons"], list)
        state = json.loads(fleet.next("state", where=lambda p: json.loads(p)["models"]))
        assert state["device_id"] == DEVICE and {m["task"] for m in state["models"]} == {"face_detection", "emotion"}
        # the drift monitor's states ride on the state topic, its values and reasons on the metrics topic
        assert state["monitoring"]["state"] in ("ok", "warn", "alert", "unknown")
        assert set(state["monitoring"]["states"]) == set(metrics["monitoring"]["values"]) >= {"brightness", "fps"}
        for payload in (metrics, health, state):
            assert not keys(payload) & IDENTIFYING, keys(payload) & IDENTIFYING
            assert time.time() - 30 < payload["ts"] <= time.time()

        killed = time.time()
        daemon.kill()  # no goodbye: only the broker's last will can tell the fleet
        assert fleet.next("availability", timeout=15, after=killed) == "offline"
    finally:
        daemon.kill()
        fleet.close()
        broker.stop()


def test_publisher_waits_for_the_broker_and_republishes_after_it_restarts(mosquitto, tmp_path):
    broker = Broker(mosquitto, tmp_path, free_port())  # not running yet when the booth boots
    daemon = telemetry_daemon(tmp_path, broker.port)
    try:
        time.sleep(3)
        assert daemon.proc.poll() is None, "a missing broker must not stop the daemon"
        broker.start()
        fleet = Subscriber(broker.port)
        assert fleet.next("availability", where=lambda p: p == "online") == "online"
        fleet.next("state")

        broker.stop()
        time.sleep(2)
        broker.start()  # same port, empty: anything retained there now was published again by the booth
        restarted = time.time()
        assert fleet.next("availability", after=restarted, where=lambda p: p == "online") == "online"
        state = json.loads(fleet.next("state", after=restarted))
        health = json.loads(fleet.next("health", after=restarted))
        assert state["models"] and health["status"] in ("ok", "degraded") and health["ts"] >= restarted - 1
        fleet.close()

        late = Subscriber(broker.port)  # a dashboard opened now sees the retained latest state at once
        assert json.loads(late.next("state", timeout=5))["device_id"] == DEVICE
        assert late.next("metrics", timeout=5)
        daemon.proc.send_signal(signal.SIGTERM)  # a clean stop says offline itself (the broker drops the will)
        assert daemon.proc.wait(timeout=20) == 0
        assert late.next("availability", timeout=10, where=lambda p: p == "offline") == "offline"
        late.close()
    finally:
        daemon.kill()
        broker.stop()


def face(label: str) -> FaceResult:
    return FaceResult(1, (0.0, 0.0, 10.0, 10.0), 0.9, label, 0.8, {label: 0.8})


def test_window_shares_count_primary_faces_of_recent_frames_only():
    window = FrameWindow(window_s=10)
    window.observe(FrameResult(0, 0, 64, 64, [face("angry")], 1), now=0.0)  # falls out of the window
    for i, label in enumerate(["happy", "happy", "happy", "sad", None], start=1):
        faces = [face(label), FaceResult(2, (20.0, 20.0, 5.0, 5.0), 0.8, "fear", 0.7, {})] if label else []
        window.observe(FrameResult(i, i, 64, 64, faces, 1 if label else None), now=5.0 + i)
    summary = window.summary(now=11.0)
    assert summary["frames"] == 5 and summary["faces"] == {"mean": 1.6, "max": 2, "share_of_frames": 0.8}
    assert summary["expressions"] == {"happy": 0.75, "sad": 0.25}  # the primary face only: no "fear", no "angry"


def test_telemetry_config_refuses_a_clear_text_password_and_masks_it(tmp_path):
    config = tmp_path / "edge.toml"
    config.write_text('[telemetry]\nenabled = true\nhost = "broker.example.org"\nusername = "booth"\n')
    with pytest.raises(ConfigError, match="sending the password without TLS would expose it; set telemetry.tls"):
        load_config(config, {"FER_EDGE_MQTT_PASSWORD": "s3cret"})
    config.write_text('[telemetry]\nenabled = true\nhost = "broker.example.org"\nport = 8883\ntls = true\n'
                      'username = "booth"\n')
    loaded = load_config(config, {"FER_EDGE_MQTT_PASSWORD": "s3cret", "FER_EDGE_DEVICE_ID": "booth-17"})
    assert loaded.telemetry.password.get_secret_value() == "s3cret" and loaded.telemetry.device_id == "booth-17"
    assert "s3cret" not in dump(loaded) and 'password = "***"' in dump(loaded)
    with pytest.raises(ConfigError, match="telemetry.device_id"):
        load_config(config, {"FER_EDGE_DEVICE_ID": "booth/#"})  # would change the topic layout
