"""Load a running daemon as a busy booth and an attacker would, and measure whether the API still answers:
many open event streams (dashboards and kiosk pages), idle TCP connections that send nothing, and a client
timing /api/health and /api/status meanwhile; the pipeline's frame rate is read before and under load.

    python -m edge.devtools.loadtest --url http://127.0.0.1:8080 [--streams 50] [--idle 100] [--seconds 60] [--json]

Prints per-endpoint latency percentiles, errors, events each stream received, how many idle sockets the
server closed, and the fps with and without load. Loopback only: it opens real sockets to the daemon.
"""
from __future__ import annotations

import argparse
import http.client
import json
import socket
import sys
import threading
import time
from urllib.parse import urlsplit

import numpy as np


class StreamClient(threading.Thread):
    """One /api/stream reader on a raw socket, counting the events it receives."""

    def __init__(self, host: str, port: int, token: str | None = None):
        super().__init__(daemon=True)
        self.host, self.port, self.token = host, port, token
        self.events, self.status, self.error = 0, None, None
        self._stop = threading.Event()

    def run(self) -> None:
        try:
            with socket.create_connection((self.host, self.port), timeout=20) as s:
                auth = f"Authorization: Bearer {self.token}\r\n" if self.token else ""
                s.sendall(f"GET /api/stream HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{auth}"
                          "Accept: text/event-stream\r\n\r\n".encode())
                buffer = b""
                while not self._stop.is_set():
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buffer += chunk
                    if self.status is None and b"\r\n" in buffer:
                        self.status = int(buffer.split(b" ", 2)[1])
                    self.events += buffer.count(b"\ndata: ") + buffer.startswith(b"data: ")
                    buffer = buffer[-8:]  # only what a split marker needs
        except OSError as e:
            self.error = str(e)

    def stop(self) -> None:
        self._stop.set()


def open_idle(host: str, port: int, n: int) -> list[socket.socket]:
    """n connections that never send a byte (what a port scanner or a slowloris client leaves open)."""
    return [socket.create_connection((host, port), timeout=5) for _ in range(n)]


def closed_by_server(sockets: list[socket.socket]) -> int:
    """How many of these the server has closed (a read returns end-of-file)."""
    closed = 0
    for s in sockets:
        s.setblocking(False)
        try:
            closed += s.recv(1) == b""
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            closed += 1
    return closed


def timed_get(host: str, port: int, path: str, token: str | None = None, timeout: float = 10) -> tuple[float, int]:
    """(milliseconds, HTTP status) of one GET on a fresh connection; status 0 when it failed."""
    started = time.perf_counter()
    try:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        status = conn.getresponse().status
        conn.close()
    except OSError:
        status = 0
    return (time.perf_counter() - started) * 1000, status


def percentiles(ms: list[float]) -> dict:
    return {"n": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "max_ms": round(max(ms), 3)} if ms else {"n": 0}


def fps(host: str, port: int, token: str | None) -> float:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/api/status", headers={"Authorization": f"Bearer {token}"} if token else {})
    value = json.loads(conn.getresponse().read()).get("fps", 0.0)
    conn.close()
    return float(value)


def load(host: str, port: int, streams: int, idle: int, seconds: float, token: str | None = None,
         interval_s: float = 0.05) -> dict:
    """Open the streams and idle sockets, time health and status requests for `seconds`, close all."""
    fps_before = fps(host, port, token)
    clients = [StreamClient(host, port, token) for _ in range(streams)]
    for c in clients:
        c.start()
    idle_socks = open_idle(host, port, idle)
    times: dict[str, list[float]] = {"/api/health": [], "/api/status": []}
    errors = 0
    deadline = time.monotonic() + seconds
    fps_loaded = []
    while time.monotonic() < deadline:
        for path in times:
            ms, status = timed_get(host, port, path, token)
            times[path].append(ms)
            errors += status not in (200, 503) if path == "/api/health" else status != 200
        if len(times["/api/status"]) % 20 == 0:
            fps_loaded.append(fps(host, port, token))
        time.sleep(interval_s)
    closed = closed_by_server(idle_socks)
    for s in idle_socks:
        s.close()
    for c in clients:
        c.stop()
    result = {"streams": streams, "idle": idle, "seconds": seconds, "errors": errors,
              "latency": {path: percentiles(ms) for path, ms in times.items()},
              "stream_status": sorted({str(c.status) for c in clients}),
              "stream_events_min": min((c.events for c in clients), default=0),
              "streams_without_events": sum(c.events == 0 for c in clients),
              "idle_closed_by_server": closed, "fps_unloaded": round(fps_before, 2),
              "fps_loaded_median": round(float(np.median(fps_loaded)), 2) if fps_loaded else None}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge.devtools.loadtest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the daemon's address (loopback)")
    parser.add_argument("--streams", type=int, default=50, help="event-stream clients to hold open")
    parser.add_argument("--idle", type=int, default=100, help="idle TCP connections to hold open")
    parser.add_argument("--seconds", type=float, default=60, help="how long to measure under load")
    parser.add_argument("--token", help="the daemon's web token, if it has one")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    args = parser.parse_args(argv)
    parts = urlsplit(args.url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--url must be a loopback address: this opens many sockets to the daemon")
    try:
        result = load(parts.hostname, parts.port or 80, args.streams, args.idle, args.seconds, args.token)
    except OSError as e:
        print(f"error: cannot reach the daemon at {args.url} ({e}); start it with `make run` first", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for path, lat in result["latency"].items():
            print(f"{path:12s} n={lat['n']} p50 {lat['p50_ms']} ms  p99 {lat['p99_ms']} ms  max {lat['max_ms']} ms")
        print(f"errors {result['errors']}; streams {result['streams']} (status {result['stream_status']}, "
              f"fewest events {result['stream_events_min']}, none {result['streams_without_events']}); "
              f"idle {result['idle']} (closed by the server {result['idle_closed_by_server']}); "
              f"fps {result['fps_unloaded']} unloaded, {result['fps_loaded_median']} loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
