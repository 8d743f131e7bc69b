"""Typed daemon configuration: one TOML file, unknown keys rejected, a few environment overrides.

Defaults work out of the box (demo clip, loopback-only web, no camera image served), so a fresh device
runs with no file at all; `edge/default_config.toml` spells the same defaults out with comments.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from edge.history.settings import HistorySettings
from edge.monitoring.settings import MonitoringSettings
from edge.sessions.settings import SessionSettings
from edge.strict import Strict
from edge.web.settings import WebConfig, is_loopback

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (JetPack 6)
    import tomli as tomllib


class SourceConfig(Strict):
    spec: str = Field("media/demo.mp4", min_length=1, description="video file, image folder, /dev/videoN, "
                      "a GStreamer pipeline, or 'picamera2'; relative paths are from the working directory")
    loop: bool = Field(True, description="restart a video file or image folder at its end")
    realtime: bool = Field(True, description="pace files at their own frame rate, as a camera would; "
                           "false reads them as fast as inference goes (benchmarks)")
    width: int = Field(640, gt=0, description="requested capture width in pixels (cameras only)")
    height: int = Field(480, gt=0, description="requested capture height in pixels (cameras only)")
    fps: int = Field(30, gt=0, description="requested capture frame rate (cameras only)")
    fallback_spec: str | None = Field(None, min_length=1, description="source used when `spec` cannot be "
                                      "opened (e.g. no camera attached); none means fail at start")


class ModelsConfig(Strict):
    dir: Path = Field(Path("models"), description="folder holding manifest.json and the model files")
    detector: str | None = Field(None, min_length=1, description="manifest name of the face detector; "
                                 "none takes the first face_detection model")
    emotion: str | None = Field(None, min_length=1, description="manifest name of the emotion model; "
                                "none takes the first emotion model")
    threads: int = Field(1, ge=1, description="interpreter threads per model; leave cores for capture and web")
    min_face_score: float | None = Field(None, ge=0, le=1, description="detector score below which a box is "
                                         "dropped; unset: the detector's own threshold from the manifest")


class PipelineConfig(Strict):
    smoothing_window_s: float = Field(1.0, gt=0, description="seconds of per-face probabilities averaged "
                                      "so the shown expression does not flicker")
    track_iou: float = Field(0.3, ge=0, le=1, description="box overlap needed to keep a face's id")
    track_max_missed: int = Field(15, ge=0, description="frames a face may go undetected before its id is dropped")
    uncertain_below: float = Field(0.4, ge=0, le=1, description="smoothed confidence below which the "
                                   "expression is reported as uncertain rather than guessed")
    max_faces: int = Field(4, ge=1, description="largest faces classified per frame; bounds latency")
    detect_every: int = Field(3, ge=1, description="frames between full face detections (1: every frame); "
                              "between them each face keeps its box and is classified there, so a face entering "
                              "the view is found within this many frames (3: 100 ms at 30 fps)")
    redetect_similarity: float = Field(0.9, ge=0, le=1, description="detect at once, before the next full "
                                       "detection, when a kept face's crop correlates less than this with its "
                                       "crop at the last detection (it moved, turned or left)")


TOPIC_PART = r"[A-Za-z0-9_.-]+"  # MQTT wildcards (+ #) and empty levels are not allowed in a published topic


class TelemetryConfig(Strict):
    enabled: bool = Field(False, description="publish aggregated, non-identifying figures and health over MQTT")
    host: str = Field("localhost", min_length=1, description="MQTT broker host name or address")
    port: int = Field(1883, ge=1, le=65535, description="MQTT broker port (8883 is the usual TLS port)")
    device_id: str | None = Field(None, pattern=f"^{TOPIC_PART}$", max_length=64, description="this booth's "
                                  "name in topics; none uses the host name")
    topic_prefix: str = Field("fer-edge", pattern=f"^{TOPIC_PART}(/{TOPIC_PART})*$", description="first topic "
                              "levels: <prefix>/<device_id>/{availability,health,state,metrics}")
    interval_s: float = Field(10.0, ge=1, description="seconds between metrics messages")
    window_s: float = Field(60.0, gt=0, description="seconds of frames the expression shares and face "
                            "figures aggregate")
    keepalive_s: int = Field(30, ge=5, description="MQTT keepalive: the broker publishes the last will "
                             "(offline) after 1.5x this without a packet from a silent device")
    reconnect_min_s: int = Field(1, ge=1, description="first reconnect delay; doubles after each failure")
    reconnect_max_s: int = Field(60, ge=1, description="cap on the reconnect delay")
    username: str | None = Field(None, min_length=1, description="broker user name")
    password: SecretStr | None = Field(None, min_length=1, description="broker password; prefer "
                                       "FER_EDGE_MQTT_PASSWORD")
    tls: bool = Field(False, description="connect with TLS, verifying the broker's certificate")
    ca_file: Path | None = Field(None, description="CA bundle for the broker certificate; none uses the "
                                 "system's")
    cert_file: Path | None = Field(None, description="client certificate (mutual TLS)")
    key_file: Path | None = Field(None, description="client certificate's private key")

    @model_validator(mode="after")
    def _consistent(self) -> TelemetryConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError(f"reconnect_max_s ({self.reconnect_max_s}) is below reconnect_min_s "
                             f"({self.reconnect_min_s})")
        if self.password is not None and self.username is None:
            raise ValueError("a password needs a username (telemetry.username)")
        if (self.ca_file or self.cert_file or self.key_file) and not self.tls:
            raise ValueError("ca_file, cert_file and key_file are TLS settings: set telemetry.tls = true")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("mutual TLS needs both cert_file and key_file")
        # Like web.token: a secret never crosses the network in clear text.
        if self.password is not None and not self.tls and not is_loopback(self.host):
            raise ValueError(f"host {self.host!r} is not a loopback address: sending the password without "
                             "TLS would expose it; set telemetry.tls = true")
        return self


class WatchdogConfig(Strict):
    stall_s: float = Field(2.0, gt=0, description="seconds without a frame of new content after which the camera "
                           "counts as stalled (frozen, unplugged, driver stuck) and is reconnected")
    reconnect_min_s: float = Field(0.25, gt=0, description="first delay between failed camera reopen attempts; "
                                   "doubles after each failure")
    reconnect_max_s: float = Field(2.0, gt=0, description="cap on the reopen delay; a returning camera is "
                                   "picked up within about this long")
    stage_deadline_s: float = Field(10.0, gt=0, description="seconds one step of the inference loop may take "
                                    "before the daemon counts as hung and stops its systemd watchdog pings")
    stage_failures_limit: int = Field(100, ge=1, description="frames in a row a pipeline stage may fail (raise) "
                                      "before the daemon exits for systemd to restart it")
    camera_failing_s: float = Field(30.0, gt=0, description="seconds the camera may be down (reconnecting) while "
                                    "health says degraded; after that it says failing")
    camera_give_up_s: float = Field(300.0, gt=0, description="seconds the camera may be down before the daemon "
                                    "exits (status 4) for systemd to restart it: a fresh process re-probes the "
                                    "device and frees a driver that never returned")
    failed_start_exit_s: float = Field(120.0, ge=0, description="after a failed start-up (models, source), "
                                       "/api/health says why for this long, then the daemon exits (status 2) for "
                                       "systemd to try again; 120 s x 5 tries stays under the unit's start limit")

    @model_validator(mode="after")
    def _consistent(self) -> WatchdogConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError(f"reconnect_max_s ({self.reconnect_max_s}) is below reconnect_min_s "
                             f"({self.reconnect_min_s})")
        if self.camera_give_up_s < self.camera_failing_s:
            raise ValueError(f"camera_give_up_s ({self.camera_give_up_s}) is below camera_failing_s "
                             f"({self.camera_failing_s})")
        return self


class CheckConfig(Strict):
    latency_budget_ms: float | None = Field(None, gt=0, description="`python -m edge check` fails when the "
                                            "models' p50 latency per frame exceeds this; none uses the "
                                            "board's budget (Pi 4, Pi 5, Jetson Orin, generic)")


class EdgeConfig(Strict):
    source: SourceConfig = Field(default_factory=SourceConfig, description="where frames come from")
    models: ModelsConfig = Field(default_factory=ModelsConfig, description="which models run, and how")
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig, description="tracking and smoothing")
    web: WebConfig = Field(default_factory=WebConfig, description="dashboard, JSON API and metrics server")
    sessions: SessionSettings = Field(default_factory=SessionSettings, description="kiosk interview-practice "
                                      "sessions: where their aggregates are stored, for how long, advice rules")
    check: CheckConfig = Field(default_factory=CheckConfig, description="the technician's self-test "
                               "(python -m edge check)")
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig, description="fleet telemetry over "
                                       "MQTT (off by default)")
    watchdog: WatchdogConfig = Field(default_factory=WatchdogConfig, description="camera and inference "
                                     "watchdogs: when a stall counts, how fast to reconnect, when to give up")
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings, description="input quality, "
                                           "prediction drift and health windows with their ok/warn/alert limits")
    history: HistorySettings = Field(default_factory=HistorySettings, description="the dashboard's recent "
                                     "history (/api/history): expression mix, frame rate and latency per interval")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="daemon log verbosity")

    @field_validator("log_level", mode="before")
    @classmethod
    def _lowercase(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value  # operators write INFO as often as info


class ConfigError(ValueError):
    """The config file or an override is unreadable or invalid; the message names the key and the bad value."""


# The few settings operators change per device, e.g. in the systemd unit's Environment= lines.
ENV_OVERRIDES = {
    "FER_EDGE_SOURCE": ("source", "spec"),
    "FER_EDGE_HOST": ("web", "host"),
    "FER_EDGE_PORT": ("web", "port"),
    "FER_EDGE_TOKEN": ("web", "token"),
    "FER_EDGE_TOKEN_FILE": ("web", "token_file"),
    "FER_EDGE_THREADS": ("models", "threads"),
    "FER_EDGE_LOG_LEVEL": ("log_level",),
    "FER_EDGE_SESSIONS_DB": ("sessions", "db_path"),  # the unit points it into $STATE_DIRECTORY
    "FER_EDGE_DEVICE_ID": ("telemetry", "device_id"),
    "FER_EDGE_MQTT_PASSWORD": ("telemetry", "password"),
}


def load_config(path: Path | None, env: Mapping[str, str] = os.environ) -> EdgeConfig:
    """Defaults, then the file (if any), then the FER_EDGE_* variables; an empty variable counts as unset."""
    where = str(path) if path is not None else "<defaults>"
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_bytes().decode("utf-8"))
        except OSError as e:
            raise ConfigError(f"{where}: cannot read config ({e.strerror or e}).") from e
        except UnicodeDecodeError as e:
            raise ConfigError(f"{where}: not UTF-8 text ({e}).") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{where}: not valid TOML ({e}).") from e
        except RecursionError as e:  # tomllib recurses per nesting level: [[[[... thousands deep
            raise ConfigError(f"{where}: not valid TOML (arrays or tables nested too deeply).") from e
    from_env: dict[tuple[str, ...], str] = {}
    for var, loc in ENV_OVERRIDES.items():
        if env.get(var):
            node = raw
            for key in loc[:-1]:
                node = node.setdefault(key, {})
                if not isinstance(node, dict):  # e.g. `web = 1` in the file; let validation report it
                    break
            else:
                node[loc[-1]] = env[var]
                from_env[loc] = var
    try:
        return EdgeConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError("; ".join(_describe(err, where, from_env) for err in e.errors())) from e


def _describe(err: Mapping[str, Any], where: str, from_env: Mapping[tuple[str, ...], str]) -> str:
    loc = tuple(str(part) for part in err["loc"])
    # The web-level check (host without token) is about the host, which may come from the environment.
    source = from_env.get(("web", "host") if loc == ("web",) else loc, where)
    msg = err["msg"].removeprefix("Value error, ")
    value = err.get("input")
    if loc and loc[-1] in ("token", "password"):
        value = "***"  # never echo a secret into logs
    got = "" if isinstance(value, dict) else f" (got {value!r})"
    return f"{source}: {'.'.join(loc)}: {msg}{got}"


def json_schema() -> dict:
    return EdgeConfig.model_json_schema()


def dump(config: EdgeConfig) -> str:
    """The effective config as TOML that load_config reads back; secrets are masked, None keys omitted."""
    data = config.model_dump(mode="json")
    if config.web.token is not None:
        data["web"]["token"] = "***"
    if config.telemetry.password is not None:
        data["telemetry"]["password"] = "***"
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    lines = ["# effective configuration (web.token and telemetry.password masked)"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in scalars.items() if value is not None]
    for section, table in data.items():
        if isinstance(table, dict):
            lines += ["", f"[{section}]"]
            lines += [f"{key} = {_toml_value(value)}" for key, value in table.items()
                      if value is not None and not _is_table_list(value)]
            for key, value in table.items():
                if _is_table_list(value):
                    for item in value:
                        lines += ["", f"[[{section}.{key}]]"]
                        lines += [f"{k} = {_toml_value(v)}" for k, v in item.items() if v is not None]
    return "\n".join(lines) + "\n"


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _toml_value(value: Any) -> str:
    # Only the kinds EdgeConfig holds; bool before int because bool is an int subclass.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = "".join(
            "\\\\" if c == "\\" else '\\"' if c == '"' else f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F
            else c for c in value)
        return f'"{escaped}"'
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
