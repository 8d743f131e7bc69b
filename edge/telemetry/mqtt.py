"""Publish the booth's figures to an MQTT broker (paho-mqtt 2.x), surviving broker and network outages.

Topics, all under <topic_prefix>/<device_id>/ (docs/fleet.md):
  availability  "online" / "offline"                retained, QoS 1; "offline" is also the last will
  health        {"status", "reasons", "ts"}         retained, QoS 1, on change
  state         {"models", "monitoring", ..., "ts"} retained, QoS 1, on change (monitoring: states only)
  metrics       {"fps", "latency_ms", ..., "ts"}    retained, QoS 0, every interval_s (monitoring: values)

QoS: availability, health and state change rarely and a fleet view must not miss a change, so they go
at least once (a duplicate of an idempotent snapshot is harmless). Metrics come every interval and the
next one supersedes a lost one, so at most once: nothing piles up in a queue on a flaky link.
Everything is retained, so a dashboard that subscribes later sees each booth's latest figures at once.

Nothing is published while the connection is down; the latest snapshots are kept instead, and every
(re)connect republishes them, so the broker always ends up holding the current state. paho reconnects
on its own, the delay doubling from reconnect_min_s up to reconnect_max_s.
"""
from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import TelemetryConfig
from edge.state import LiveState
from edge.telemetry.figures import FrameWindow, health_payload, metrics_payload, state_payload

log = logging.getLogger("edge.telemetry")
CHECK_EVERY_S = 1.0  # how often health and state are compared with what was last published
RETAINED_QOS = {"health": 1, "state": 1, "metrics": 0}


def default_device_id() -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname()) or "unnamed"


class MqttPublisher:
    def __init__(self, config: TelemetryConfig, state: LiveState):
        self.config, self.state = config, state
        self.device_id = config.device_id or default_device_id()
        self.topic = f"{config.topic_prefix}/{self.device_id}"
        self.window = FrameWindow(config.window_s)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fer-edge-{self.device_id}",
                             protocol=mqtt.MQTTv311, clean_session=True)
        # the broker publishes this when the device vanishes without a goodbye: crash, power cut, lost link
        client.will_set(self._topic("availability"), "offline", qos=1, retain=True)
        client.reconnect_delay_set(config.reconnect_min_s, config.reconnect_max_s)
        if config.username:
            client.username_pw_set(config.username,
                                   config.password.get_secret_value() if config.password else None)
        if config.tls:
            client.tls_set(ca_certs=str(config.ca_file) if config.ca_file else None,
                           certfile=str(config.cert_file) if config.cert_file else None,
                           keyfile=str(config.key_file) if config.key_file else None)
        client.on_connect, client.on_disconnect = self._on_connect, self._on_disconnect
        self.client = client
        self._latest: dict[str, str] = {}  # topic name -> last payload (without its timestamp)
        self._republish = threading.Event()  # set on (re)connect: the publishing thread sends everything again
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="telemetry", daemon=True)

    def _topic(self, name: str) -> str:
        return f"{self.topic}/{name}"

    @property
    def connected(self) -> bool:
        return self.client.is_connected()

    def start(self) -> MqttPublisher:
        log.info("telemetry: publishing to %s:%d under %s/", self.config.host, self.config.port, self.topic)
        # async: a broker that is down at boot must not delay the daemon; paho keeps retrying
        self.client.connect_async(self.config.host, self.config.port, self.config.keepalive_s)
        self.client.loop_start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        if self.connected:  # a clean goodbye: the broker drops the will, so say offline ourselves
            info = self.client.publish(self._topic("availability"), "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError) as e:
                log.warning("telemetry: could not publish offline on stop (%s)", e)
        self.client.disconnect()
        self.client.loop_stop()

    # paho's network thread calls these
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("telemetry: broker %s:%d refused the connection (%s); check telemetry.username, "
                      "password and tls", self.config.host, self.config.port, reason_code)
            return
        log.info("telemetry: connected to %s:%d", self.config.host, self.config.port)
        client.publish(self._topic("availability"), "online", qos=1, retain=True)
        self._republish.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if not self._stopping.is_set():
            log.warning("telemetry: lost the broker (%s); reconnecting, at most %d s apart", reason_code,
                        self.config.reconnect_max_s)

    # the publishing thread: the only one that publishes snapshots, so they reach the broker in order
    def _run(self) -> None:
        seen, last_result, next_metrics, next_check = -1, None, 0.0, 0.0
        while not self._stopping.is_set():
            seen = self.state.wait_for_change(seen, timeout=CHECK_EVERY_S)
            latest = self.state.latest
            if latest is not None and latest is not last_result:
                self.window.observe(latest)
                last_result = latest
            now = time.monotonic()
            republish = self._republish.is_set()
            if republish:
                self._republish.clear()
            try:
                if now >= next_check or republish:
                    next_check = now + CHECK_EVERY_S
                    self._send("health", health_payload(self.state), republish)
                    self._send("state", state_payload(self.state, self.device_id), republish)
                if now >= next_metrics or republish:
                    next_metrics = now + self.config.interval_s
                    self._send("metrics", metrics_payload(self.state, self.window), True)
            except Exception:  # telemetry must never take the booth down; the log says what broke
                log.exception("telemetry: building or publishing a message failed")

    def _send(self, name: str, payload: dict, always: bool) -> None:
        body = json.dumps(payload, sort_keys=True, default=str)
        if body == self._latest.get(name) and not always:
            return
        if not self.connected:
            return  # the reconnect republishes what is current then: the broker gets the latest, not a backlog
        info = self.client.publish(self._topic(name), json.dumps({"ts": round(time.time(), 3), **payload},
                                                                 default=str),
                                   qos=RETAINED_QOS[name], retain=True)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self._latest[name] = body
