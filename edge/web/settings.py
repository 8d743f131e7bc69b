"""The web server's settings (EdgeConfig's `web` section) and its one token, resolved when the config loads.

The token can come from three places (web.token or FER_EDGE_TOKEN, the installed service's systemd
credential, web.token_file); `WebConfig.resolved_token` is the one in force, read once here, so that a
missing, unreadable or weak token is a config error at start-up and nothing else reads a token file.
"""
from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, PrivateAttr, SecretStr, StringConstraints, model_validator

from edge.strict import Strict

HOST_NAME = r"^([A-Za-z0-9._-]+|[0-9A-Fa-f:]+)$"  # a DNS name, IPv4 or IPv6 address: no port, no scheme
TOKEN_CREDENTIAL = "web-token"  # the credential systemd/fer-edge.service loads from /etc/fer-edge/web-token
MIN_TOKEN_LENGTH = 16
MAKE_TOKEN = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost may resolve anywhere
        return False


def credential_token() -> str | None:
    """The token systemd passed the service as its web-token credential; None without one, or with an empty one
    (the file install.sh creates, since LoadCredential= fails the start when its file is missing)."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    path = Path(directory) / TOKEN_CREDENTIAL
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"systemd credential {TOKEN_CREDENTIAL}: cannot read {path} "
                         f"({getattr(e, 'strerror', None) or e}); write the token as text into "
                         "/etc/fer-edge/web-token and restart the service") from e


def weak_token(token: str, where: str) -> str | None:
    """Why this token is too weak to guard a device on the network, or None. A token beyond loopback is all
    that keeps the LAN from live expressions and session summaries: a short or repetitive one is guessed."""
    if len(token) < MIN_TOKEN_LENGTH:
        problem = f"is {len(token)} characters long; at least {MIN_TOKEN_LENGTH} are needed"
    elif any(c.isspace() for c in token):
        problem = "contains white space"
    elif len(set(token)) < 8:
        problem = f"uses only {len(set(token))} different characters"
    else:
        return None
    return (f"{where} {problem} for binding beyond loopback (a guessable token exposes the booth to the LAN); "
            f"make a good one with {MAKE_TOKEN}")


def _file_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"web.token_file: cannot read {path} ({getattr(e, 'strerror', None) or e}); it must be "
                         "readable by the service's user (e.g. root:fer-edge, mode 0640)") from e
    if not token:
        raise ValueError(f"web.token_file: {path} is empty; write a token into it, e.g. {MAKE_TOKEN}")
    return token


class WebConfig(Strict):
    host: str = Field("127.0.0.1", min_length=1, description="address to bind; anything but loopback "
                      "needs a token")
    port: int = Field(8080, ge=1, le=65535, description="TCP port of the dashboard and API")
    token: SecretStr | None = Field(None, min_length=1, description="bearer token required by the API; "
                                    "mandatory when binding beyond loopback")
    token_file: Path | None = Field(None, description="file holding the token (first line), readable by the "
                                    "service's user; instead of `token`. The installed service needs neither: it "
                                    "gets /etc/fer-edge/web-token as a systemd credential")
    allowed_hosts: list[Annotated[str, StringConstraints(pattern=HOST_NAME)]] = Field(
        default_factory=list, description="host names (no port) clients may use besides loopback names and "
        "the bound address, e.g. the booth's mDNS name; anything else is refused (DNS rebinding)")
    preview: bool = Field(False, description="serve camera frames on the dashboard; off by default so no "
                          "image of a face ever leaves the process")
    threads: int = Field(4, ge=1, description="web server threads for requests; event streams get their own")
    max_streams: int = Field(64, ge=1, le=1000, description="open /api/stream clients at most (a sleeping "
                             "thread each); one more is answered 503 with the reason")
    stream_hz: float = Field(10.0, gt=0, le=60, description="events a second per stream at most (the live meter "
                             "needs no more; fewer keep many viewers cheap)")
    idle_timeout_s: int = Field(10, ge=1, le=600, description="a connection that sends nothing for this "
                                  "long is closed (idle sockets must not use up the connection limit)")
    _resolved_token: str | None = PrivateAttr(None)

    @property
    def resolved_token(self) -> str | None:
        """The token in force: web.token (or FER_EDGE_TOKEN), else the systemd credential web-token (the installed
        service's /etc/fer-edge/web-token) unless empty, else the first line of web.token_file; None: no token."""
        return self._resolved_token

    @model_validator(mode="after")
    def _resolve_token(self) -> WebConfig:
        if self.token is not None and self.token_file is not None:
            raise ValueError("set web.token or web.token_file, not both")
        if self.token is not None:
            token, where = self.token.get_secret_value(), "the token (web.token or FER_EDGE_TOKEN)"
        elif (credential := credential_token()) is not None:
            token, where = credential, "the systemd credential web-token (/etc/fer-edge/web-token)"
        elif self.token_file is not None:
            token, where = _file_token(self.token_file), f"the token in web.token_file ({self.token_file})"
        elif not is_loopback(self.host):
            # Anyone on the LAN could otherwise watch live expressions: refuse rather than warn.
            raise ValueError(f"host {self.host!r} is not a loopback address: binding to another address "
                             "requires a token: set FER_EDGE_TOKEN, web.token, or web.token_file, or (installed "
                             f"service) write it into /etc/fer-edge/web-token; make one with {MAKE_TOKEN}")
        else:
            return self
        problem = None if is_loopback(self.host) else weak_token(token, where)
        if problem:
            raise ValueError(problem)
        self._resolved_token = token
        return self
