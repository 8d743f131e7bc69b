"""Typed daemon configuration: one TOML file, unknown keys rejected, a few environment overrides.

Defaults work out of the box (demo clip, loopback-only web, no camera image served), so a fresh device
runs with no file at all; `edge/default_config.toml` spells the same defaults out with comments.
"""
from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from edge.sessions.settings import SessionSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (JetPack 6)
    import tomli as tomllib


class Strict(BaseModel):
    # Frozen: every thread reads the same config object, so nobody may change it under the others.
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    min_face_score: float = Field(0.5, ge=0, le=1, description="detector score below which a box is dropped")


class PipelineConfig(Strict):
    smoothing_window_s: float = Field(1.0, gt=0, description="seconds of per-face probabilities averaged "
                                      "so the shown expression does not flicker")
    track_iou: float = Field(0.3, ge=0, le=1, description="box overlap needed to keep a face's id")
    track_max_missed: int = Field(15, ge=0, description="frames a face may go undetected before its id is dropped")
    uncertain_below: float = Field(0.4, ge=0, le=1, description="smoothed confidence below which the "
                                   "expression is reported as uncertain rather than guessed")
    max_faces: int = Field(4, ge=1, description="largest faces classified per frame; bounds latency")


class WebConfig(Strict):
    host: str = Field("127.0.0.1", min_length=1, description="address to bind; anything but loopback "
                      "needs a token")
    port: int = Field(8080, ge=1, le=65535, description="TCP port of the dashboard and API")
    token: SecretStr | None = Field(None, min_length=1, description="bearer token required by the API; "
                                    "mandatory when binding beyond loopback")
    preview: bool = Field(False, description="serve camera frames on the dashboard; off by default so no "
                          "image of a face ever leaves the process")
    threads: int = Field(4, ge=1, description="web server worker threads (one per open event stream)")

    @model_validator(mode="after")
    def _token_beyond_loopback(self) -> WebConfig:
        # Anyone on the LAN could otherwise watch live expressions: refuse rather than warn.
        if self.token is None and not is_loopback(self.host):
            raise ValueError(f"host {self.host!r} is not a loopback address: binding to another address "
                             "requires a token (web.token or FER_EDGE_TOKEN)")
        return self


class EdgeConfig(Strict):
    source: SourceConfig = Field(default_factory=SourceConfig, description="where frames come from")
    models: ModelsConfig = Field(default_factory=ModelsConfig, description="which models run, and how")
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig, description="tracking and smoothing")
    web: WebConfig = Field(default_factory=WebConfig, description="dashboard, JSON API and metrics server")
    sessions: SessionSettings = Field(default_factory=SessionSettings, description="kiosk interview-practice "
                                      "sessions: where their aggregates are stored, for how long, advice rules")
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
    "FER_EDGE_THREADS": ("models", "threads"),
    "FER_EDGE_LOG_LEVEL": ("log_level",),
    "FER_EDGE_SESSIONS_DB": ("sessions", "db_path"),  # the unit points it into $STATE_DIRECTORY
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost may resolve anywhere
        return False


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
    if loc and loc[-1] == "token":
        value = "***"  # never echo a secret into logs
    got = "" if isinstance(value, dict) else f" (got {value!r})"
    return f"{source}: {'.'.join(loc)}: {msg}{got}"


def json_schema() -> dict:
    return EdgeConfig.model_json_schema()


def dump(config: EdgeConfig) -> str:
    """The effective config as TOML that load_config reads back; the token is masked, None keys omitted."""
    data = config.model_dump(mode="json")
    if config.web.token is not None:
        data["web"]["token"] = "***"
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    lines = ["# effective configuration (web.token masked)"]
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
