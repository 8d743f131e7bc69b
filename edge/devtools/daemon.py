"""The real daemon as a child process, for the soak and the tests: `python -m edge run` on a free loopback
port, with its config, sessions database and log in a folder of its own, and its CPU, memory, threads and
descriptors read from /proc/<pid> (Linux)."""
from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
ROOT = Path(__file__).resolve().parents[2]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def threads_and_fds(pid: int) -> tuple[int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    threads = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))
    return threads, len(os.listdir(f"/proc/{pid}/fd"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DaemonProcess:
    """`python -m edge run` on a free loopback port, its sessions DB, config and log in `workdir`.

    A bearer token is set so that a local client may call the write endpoints (``token=False``: none, as a
    kiosk on loopback runs); `command` replaces `python -m edge` (tests use it to wrap the daemon with a
    fault of their own). The soak and the tests start every daemon through this class.
    """

    def __init__(self, workdir: Path, source: str, config: str = "", env: dict[str, str] | None = None,
                 command: list[str] | None = None, token: bool = True) -> None:
        self.workdir, self.port = Path(workdir), free_port()
        self.token = secrets.token_urlsafe(24) if token else None
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.workdir / "daemon.log"
        self.config = self.workdir / "edge.toml"
        self.config.write_text(config)
        base = {k: v for k, v in os.environ.items() if not k.startswith("FER_EDGE_")}
        self.env = {**base, "FER_EDGE_SOURCE": str(source), "FER_EDGE_PORT": str(self.port),
                    "FER_EDGE_SESSIONS_DB": str(self.workdir / "sessions.db"),
                    **({"FER_EDGE_TOKEN": self.token} if self.token else {}), **(env or {})}
        self.command = command or [sys.executable, "-m", "edge"]
        self.proc: subprocess.Popen | None = None
        self.started = 0.0

    def start(self, timeout: float = 60) -> DaemonProcess:
        """Start and wait until the web server answers."""
        self.started = time.monotonic()
        with self.log.open("a") as log:
            self.proc = subprocess.Popen([*self.command, "run", "--config", str(self.config)], cwd=ROOT,
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT)
        while time.monotonic() - self.started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}: {self.log_tail()}")
            if self.request("GET", "/api/health", timeout=1)[0]:
                return self
            time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError(f"daemon did not answer within {timeout} s: {self.log_tail()}")

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 5) -> tuple[int, object]:
        """(HTTP status, decoded JSON or text); status 0 when the server could not be reached."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {self.token}"} if self.token else {})}
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        except (OSError, http.client.HTTPException):  # refused, reset, or cut mid-answer (a daemon exiting)
            return 0, None
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, raw.decode(errors="replace")

    def status(self) -> dict | None:
        code, body = self.request("GET", "/api/status")
        return body if code == 200 else None

    def health(self) -> dict | None:
        code, body = self.request("GET", "/api/health")
        return body if code else None

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self, timeout: float = 20) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)
