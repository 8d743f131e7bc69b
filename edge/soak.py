"""Run the real daemon for a while, optionally injecting faults, and measure it from outside: CPU share,
resident memory over time, start-to-first-result, frames processed and dropped, errors, and for every
injected fault how long the daemon took to notice it and to recover once the fault ended.

    python -m edge.soak --source VIDEO [--seconds 60] [--config FILE] [--json] [--out FILE]
                        [--faults stall,freeze,vanish,raise,bad,api] [--fault-every 20] [--fault-length 5]

Camera faults go through the fault-injecting source (edge/sources/faults.py): the daemon reads
`faults:CONTROL:VIDEO` and the soak writes the fault's name into CONTROL, then `ok` after
--fault-length seconds; they are injected in turn, one every --fault-every seconds. `api` adds a local
client that keeps reading status, health and metrics and runs a kiosk session every few seconds.
A fault counts as recovered when the daemon noticed it while it lasted (/api/health named the camera;
for `bad`, the source's broken-frame counter rose) and, within RECOVER_LIMIT_S of its end, /api/health
no longer names the camera and the processed-frame counter moves again. A fault must last longer than
the watchdog's stall_s (2 s by default) to be noticed.

CPU and memory are read from /proc/<pid> (Linux), so the figures are the daemon's own, whatever else
the machine is doing. The daemon's log goes to a file in a temporary folder, scanned for tracebacks.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
CAMERA_FAULTS = ("stall", "freeze", "vanish", "raise", "bad")
RECOVER_LIMIT_S = 5.0  # the target: frames and a healthy camera again this soon after the source returns
ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DaemonProcess:
    """`python -m edge run` on a free loopback port, its sessions DB, config and log in `workdir`.

    A bearer token is set so that a local client may call the write endpoints; `command` replaces
    `python -m edge` (tests use it to wrap the daemon with a fault of their own).
    """

    def __init__(self, workdir: Path, source: str, config: str = "", env: dict[str, str] | None = None,
                 command: list[str] | None = None) -> None:
        self.workdir, self.port, self.token = Path(workdir), free_port(), secrets.token_urlsafe(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.workdir / "daemon.log"
        self.config = self.workdir / "edge.toml"
        self.config.write_text(config)
        base = {k: v for k, v in os.environ.items() if not k.startswith("FER_EDGE_")}
        self.env = {**base, "FER_EDGE_SOURCE": source, "FER_EDGE_PORT": str(self.port), "FER_EDGE_TOKEN": self.token,
                    "FER_EDGE_SESSIONS_DB": str(self.workdir / "sessions.db"), **(env or {})}
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
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        except OSError:
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


class ApiLoad(threading.Thread):
    """A local client: status, health, metrics and session listing in turn, and a kiosk session every few s."""

    def __init__(self, daemon: DaemonProcess, session_every_s: float = 8.0) -> None:
        super().__init__(name="api-load", daemon=True)
        self.daemon, self.session_every_s = daemon, session_every_s
        self.requests, self.failures, self.sessions = 0, [], 0
        self.latencies: list[float] = []
        self.halt = threading.Event()

    def call(self, method: str, path: str, body: dict | None = None, expect: int = 200) -> object:
        start = time.monotonic()
        code, result = self.daemon.request(method, path, body)
        self.latencies.append(time.monotonic() - start)
        self.requests += 1
        # 503 from /api/health is an answer (the daemon says it is failing), not a failed request
        if code != expect and not (path == "/api/health" and code == 503):
            self.failures.append(f"{method} {path}: {code} {str(result)[:200]}")
        return result

    def run(self) -> None:
        next_session = time.monotonic() + 2
        while not self.halt.wait(0.1):
            for path in ("/api/status", "/api/health", "/metrics", "/api/sessions"):
                self.call("GET", path)
            if time.monotonic() >= next_session:
                next_session = time.monotonic() + self.session_every_s
                session = self.call("POST", "/api/sessions", {"alias": "soak", "questions": ["One?", "Two?"]},
                                    expect=201)
                if isinstance(session, dict) and "id" in session:
                    self.call("POST", f"/api/sessions/{session['id']}/questions", {"index": 1})
                    self.halt.wait(2.0)
                    self.call("POST", f"/api/sessions/{session['id']}/stop")
                    self.sessions += 1

    def report(self) -> dict:
        ordered = sorted(self.latencies)
        p95 = ordered[int(0.95 * (len(ordered) - 1))] * 1000 if ordered else None
        return {"requests": self.requests, "failed": len(self.failures), "failures": self.failures[:20],
                "sessions_finished": self.sessions, "latency_p95_ms": None if p95 is None else round(p95, 1)}


def camera_problem(health: dict | None) -> str | None:
    reasons = (health or {}).get("reasons", [])
    return next((r for r in reasons if r.startswith("camera:")), None)


def inject(daemon: DaemonProcess, control: Path, kind: str, length_s: float) -> dict:
    """One camera fault: write it, watch /api/health notice it, end it, time the recovery."""
    before = daemon.status() or {}
    read_errors = (before.get("camera") or {}).get("read_errors", 0)
    control.write_text(kind)
    start, detected = time.monotonic(), None
    while time.monotonic() - start < length_s:
        if detected is None:
            status = daemon.status() or {}
            noticed = (camera_problem(status.get("health")) if kind != "bad"
                       else (status.get("camera") or {}).get("read_errors", 0) > read_errors)
            if noticed:
                detected = time.monotonic() - start
        time.sleep(0.1)
    control.write_text("ok")
    ended = time.monotonic()
    processed = ((daemon.status() or {}).get("counters") or {}).get("processed", 0)
    recovered = None
    while time.monotonic() - ended < 3 * RECOVER_LIMIT_S:
        status = daemon.status() or {}
        if status and not camera_problem(status.get("health")) and status["counters"]["processed"] > processed:
            recovered = time.monotonic() - ended
            break
        time.sleep(0.05)
    return {"kind": kind, "length_s": length_s,
            "detected_after_s": None if detected is None else round(detected, 2),
            "recovered_after_s": None if recovered is None else round(recovered, 2),
            "recovered": detected is not None and recovered is not None and recovered <= RECOVER_LIMIT_S}


def log_findings(text: str) -> dict:
    return {"tracebacks": text.count("Traceback (most recent call last)"),
            "error_lines": sum(" ERROR " in line for line in text.splitlines()),
            "warning_lines": sum(" WARNING " in line for line in text.splitlines())}


def soak(source: str, seconds: float, config: Path | None = None, faults: tuple[str, ...] = (),
         fault_every_s: float = 20.0, fault_length_s: float = 5.0, workdir: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="fer-soak-") as tmp:
        work = Path(workdir or tmp)
        control = work / "faults"
        camera_faults = [f for f in faults if f in CAMERA_FAULTS]
        spec = f"faults:{control}:{source}" if camera_faults else source
        text = Path(config).read_text() if config else ""
        source = str(Path(source).resolve()) if Path(source).exists() else source  # the daemon runs in ROOT
        daemon = DaemonProcess(work, spec, text).start()
        try:
            return measure(daemon, control, source, seconds, camera_faults, "api" in faults, fault_every_s,
                           fault_length_s)
        finally:
            if daemon.proc and daemon.proc.poll() is None:
                daemon.kill()


def measure(daemon: DaemonProcess, control: Path, source: str, seconds: float, camera_faults: list[str],
            api: bool, fault_every_s: float, fault_length_s: float) -> dict:
    assert daemon.proc is not None
    first_result = None
    while first_result is None and time.monotonic() - daemon.started < 60:
        s = daemon.status()
        if s and s["counters"]["processed"] > 0:
            first_result = time.monotonic() - daemon.started
        time.sleep(0.05)
    if first_result is None:
        raise SystemExit(f"no result within 60 s: {daemon.log_tail()}")
    load = ApiLoad(daemon) if api else None
    if load:
        load.start()
    t0, cpu0, pid = time.monotonic(), cpu_seconds(daemon.proc.pid), daemon.proc.pid
    processed0 = (daemon.status() or {}).get("counters", {}).get("processed", 0)
    memory: list[tuple[float, float]] = []
    sampler_halt = threading.Event()

    def sample() -> None:
        while not sampler_halt.wait(1.0):
            memory.append((round(time.monotonic() - t0, 1), round(rss_mb(pid), 1)))
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    injected, k = [], 0
    while time.monotonic() - t0 < seconds:
        due = t0 + (k + 1) * fault_every_s
        if camera_faults and due + fault_length_s + RECOVER_LIMIT_S < t0 + seconds:
            time.sleep(max(0.0, due - time.monotonic()))
            injected.append(inject(daemon, control, camera_faults[k % len(camera_faults)], fault_length_s))
            k += 1
        else:
            time.sleep(min(1.0, max(0.0, t0 + seconds - time.monotonic())))
    elapsed = time.monotonic() - t0
    cpu = (cpu_seconds(pid) - cpu0) / elapsed
    if load:
        load.halt.set()
        load.join(15)
    sampler_halt.set()
    sampler.join(5)
    final = daemon.status() or {}
    code = daemon.stop()
    warm = [m for t, m in memory if t >= min(60, seconds / 4)]  # after imports and first allocations
    window = max(3, len(warm) // 10)  # averages: one sample is noisy (allocator, a request in flight)
    growth = (sum(warm[-window:]) / window - sum(warm[:window]) / window) if len(warm) >= 2 * window else None
    counters = final.get("counters", {})
    result = {"source": source, "seconds": round(elapsed, 1), "start_to_first_result_s": round(first_result, 2),
              "cpu_share_of_one_core": round(cpu, 3),
              "rss_mb_max": max(m for _, m in memory), "rss_mb_growth_after_warmup": None if growth is None
              else round(growth, 1), "fps": final.get("fps"),
              "fps_average": round((counters.get("processed", 0) - processed0) / elapsed, 2),
              "counters": counters, "camera": final.get("camera"), "latency_ms": final.get("latency_ms"),
              "exit_code": code, "log": log_findings(daemon.log.read_text(errors="replace")),
              "rss_mb_over_time": memory[::max(1, len(memory) // 30)]}
    if camera_faults:
        result["faults"] = {"injected": len(injected), "recovered": sum(f["recovered"] for f in injected),
                            "every_s": fault_every_s, "length_s": fault_length_s,
                            "recover_limit_s": RECOVER_LIMIT_S, "events": injected}
        for key in ("detected_after_s", "recovered_after_s"):
            values = [f[key] for f in injected if f[key] is not None and f["kind"] != "bad"]
            result["faults"][f"max_{key}"] = max(values) if values else None
    if load:
        result["api"] = load.report()
    return result


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", required=True)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--config", type=Path)
    ap.add_argument("--faults", default="", help=f"comma-separated: {', '.join(CAMERA_FAULTS)}, api")
    ap.add_argument("--fault-every", type=float, default=20.0, help="seconds between camera faults")
    ap.add_argument("--fault-length", type=float, default=5.0, help="seconds each camera fault lasts")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path, help="also write the JSON result here")
    args = ap.parse_args(argv)
    faults = tuple(f for f in args.faults.split(",") if f)
    unknown = sorted(set(faults) - {*CAMERA_FAULTS, "api"})
    if unknown:
        ap.error(f"unknown fault(s) {', '.join(unknown)}; choose from {', '.join(CAMERA_FAULTS)}, api")
    result = soak(args.source, args.seconds, args.config, faults, args.fault_every, args.fault_length)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for key, value in result.items():
        if key not in ("rss_mb_over_time", "latency_ms", "faults", "camera"):
            print(f"{key:32} {value}")
    if "faults" in result:
        f = result["faults"]
        print(f"{'faults recovered / injected':32} {f['recovered']} / {f['injected']} (detected within "
              f"{f['max_detected_after_s']} s, recovered within {f['max_recovered_after_s']} s)")
    if result["latency_ms"]:
        print(f"{'total latency p50/p95 ms':32} {result['latency_ms']['total']['p50_ms']:.2f} / "
              f"{result['latency_ms']['total']['p95_ms']:.2f}")


if __name__ == "__main__":
    main()
