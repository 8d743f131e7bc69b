"""Run the real daemon for a while, optionally injecting faults, and measure it from outside as a user
would see it: CPU share, resident memory (raw first-to-last and peak beside the trend), threads and open
files over time, start-to-first-result, frames processed, dropped and never captured, errors, and for every
injected fault the outage from the moment it began until frames flow again.

    python -m edge.devtools.soak --source VIDEO [--seconds 60] [--config FILE] [--json] [--out FILE]
                        [--faults stall,hang,freeze,vanish,raise,bad,api] [--fault-every 20] [--fault-length 5]
                        [--streams 10]

Camera faults go through the fault-injecting source (edge/sources/faults.py): the daemon reads
`faults:CONTROL:VIDEO` and the soak writes the fault's name into CONTROL, then `ok` after
--fault-length seconds; they are injected in turn, one every --fault-every seconds. `hang` is a driver
read that never returns, even after `ok`: the daemon cannot fix it in-process and exits after
watchdog.camera_give_up_s; the soak then restarts it as systemd would (RestartSec) and counts the outage
until the new process serves frames. `bad` sends broken frames that the source must reject: it is not an
outage, and is reported as frames rejected with health left ok, never as "recovered". `api` adds three
local clients that keep reading status, health and metrics, one of which runs kiosk sessions, and
--streams open event streams (dashboards) for the whole run.
A fault counts as recovered when /api/health named the camera while it lasted and, within
RECOVER_LIMIT_S of its end, no longer does and the processed-frame counter moves again.

CPU, memory, threads and descriptors are read from /proc/<pid> (Linux), so the figures are the daemon's
own, whatever else the machine is doing. The daemon's log goes to a file in a temporary folder, scanned
for tracebacks.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

from edge.devtools.api_load import ApiLoad
from edge.devtools.daemon import DaemonProcess, cpu_seconds, rss_mb, threads_and_fds

CAMERA_FAULTS = ("stall", "hang", "freeze", "vanish", "raise", "bad")
RECOVER_LIMIT_S = 5.0  # the target: frames and a healthy camera again this soon after the source returns
RESTART_SEC = 5.0  # systemd/fer-edge.service's RestartSec: the pause before a daemon that exited is started again


def camera_problem(health: dict | None) -> str | None:
    reasons = (health or {}).get("reasons", [])
    return next((r for r in reasons if r.startswith("camera:")), None)


def counters(daemon: DaemonProcess) -> dict:
    return (daemon.status() or {}).get("counters") or {}


def inject(daemon: DaemonProcess, control: Path, kind: str, length_s: float, give_up_s: float, fps: float) -> dict:
    """One camera fault: write it, end it after `length_s`, and time the outage a user sees, from the moment
    the fault began until /api/health no longer names the camera and frames are processed again. Frames the
    pipeline did not process meanwhile (at `fps`, the rate measured before the first fault) are lost; a frozen
    camera's repeated images are processed, so they show in the outage, not in the frames lost."""
    before = daemon.status() or {}
    read_errors = (before.get("camera") or {}).get("read_errors", 0)
    processed0 = (before.get("counters") or {}).get("processed", 0)
    control.write_text(kind)
    start, detected, health_left_ok = time.monotonic(), None, False
    while time.monotonic() - start < length_s:
        status = daemon.status() or {}
        health_left_ok = health_left_ok or (status.get("health") or {}).get("status", "ok") != "ok"
        if detected is None:
            noticed = (camera_problem(status.get("health")) if kind != "bad"
                       else (status.get("camera") or {}).get("read_errors", 0) > read_errors)
            if noticed:
                detected = time.monotonic() - start
        time.sleep(0.1)
    control.write_text("ok")
    ended, restarted, processed_before_exit = time.monotonic(), None, processed0
    if kind == "hang":  # nothing in-process can free the stuck reads: the daemon gives up, systemd restarts it
        assert daemon.proc is not None
        deadline = time.monotonic() + give_up_s + 30
        while daemon.proc.poll() is None and time.monotonic() < deadline:
            processed_before_exit = counters(daemon).get("processed", processed_before_exit)
            time.sleep(0.5)
        exit_code = daemon.proc.poll()
        if exit_code is not None:
            time.sleep(RESTART_SEC)
            daemon.start()
            restarted = {"exit_code": exit_code, "after_s": round(time.monotonic() - start, 1)}
    recovered, processed_mark, processed = None, counters(daemon).get("processed", 0), 0
    while time.monotonic() - ended < 3 * RECOVER_LIMIT_S + (60 if restarted else 0):
        status = daemon.status() or {}
        processed = (status.get("counters") or {}).get("processed", 0)
        if status and not camera_problem(status.get("health")) and processed > processed_mark:
            recovered = time.monotonic()
            break
        time.sleep(0.05)
    # frames the camera would have given from the fault's start to recovery, less those processed (a
    # restarted daemon's counter starts again at 0: the old process's last count is added)
    got = processed + (processed_before_exit - processed0 if restarted else -processed0)
    lost = max(0, round(fps * ((recovered or time.monotonic()) - start)) - got)
    event = {"kind": kind, "length_s": length_s, "detected_after_s": None if detected is None else round(detected, 2),
             "frames_lost": lost, "frames_processed_meanwhile": got, "health_left_ok": health_left_ok}
    if kind == "bad":  # broken frames rejected; not an outage, so never "recovered"
        rejected = ((daemon.status() or {}).get("camera") or {}).get("read_errors", 0) - read_errors
        return {**event, "outage": False, "frames_rejected": rejected, "survived": daemon.proc.poll() is None}
    return {**event, "outage": True, "restarted": restarted,
            "outage_s": None if recovered is None else round(recovered - start, 2),
            "recovered_after_end_s": None if recovered is None else round(recovered - ended, 2),
            "recovered": detected is not None and recovered is not None and
            (restarted is not None or recovered - ended <= RECOVER_LIMIT_S)}


def log_findings(text: str) -> dict:
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")), None)
    return {"tracebacks": text.count("Traceback (most recent call last)"),
            "error_lines": sum(" ERROR " in line for line in lines),
            "warning_lines": sum(" WARNING " in line for line in lines),
            # what a reader of the figures needs to judge a traceback, without the daemon's whole log
            "first_traceback": None if first is None else "\n".join(lines[max(0, first - 2):first + 30])}


def soak(source: str, seconds: float, config: Path | None = None, faults: tuple[str, ...] = (),
         fault_every_s: float = 20.0, fault_length_s: float = 5.0, streams: int = 0,
         workdir: Path | None = None) -> dict:
    from edge.config import load_config
    with tempfile.TemporaryDirectory(prefix="fer-soak-") as tmp:
        work = Path(workdir or tmp)
        control = work / "faults"
        camera_faults = [f for f in faults if f in CAMERA_FAULTS]
        spec = f"faults:{control}:{source}" if camera_faults else source
        text = Path(config).read_text() if config else ""
        give_up_s = load_config(config).watchdog.camera_give_up_s
        source = str(Path(source).resolve()) if Path(source).exists() else source  # the daemon runs in ROOT
        daemon = DaemonProcess(work, spec, text).start()
        try:
            return measure(daemon, control, source, seconds, camera_faults, "api" in faults, streams, fault_every_s,
                           fault_length_s, give_up_s)
        finally:
            if daemon.proc and daemon.proc.poll() is None:
                daemon.kill()


class Sampler(threading.Thread):
    """Once a second: the daemon's resident memory, threads and open files, and its CPU seconds (summed over
    restarts, so a restarted daemon's time is not lost)."""

    def __init__(self, daemon: DaemonProcess, t0: float):
        super().__init__(name="sampler", daemon=True)
        self.daemon, self.t0 = daemon, t0
        self.rows: list[tuple[float, float, int, int]] = []  # (s, rss MB, threads, fds)
        self.cpu_before_restarts, self._last = 0.0, (None, 0.0)
        self.halt = threading.Event()

    def cpu(self) -> float:
        return self.cpu_before_restarts + self._last[1]

    def run(self) -> None:
        while not self.halt.wait(1.0):
            proc = self.daemon.proc
            try:
                pid = proc.pid
                cpu, rss = cpu_seconds(pid), rss_mb(pid)
                threads, fds = threads_and_fds(pid)
            except (OSError, StopIteration, ValueError):
                continue  # exited, or between a restart's exit and start
            if self._last[0] not in (None, pid):
                self.cpu_before_restarts += self._last[1]
            self._last = (pid, cpu)
            self.rows.append((round(time.monotonic() - self.t0, 1), round(rss, 1), threads, fds))


def spread(values: list[float]) -> dict:
    return {"first": values[0], "last": values[-1], "min": min(values), "max": max(values)} if values else {}


def measure(daemon: DaemonProcess, control: Path, source: str, seconds: float, camera_faults: list[str],
            api: bool, streams: int, fault_every_s: float, fault_length_s: float, give_up_s: float) -> dict:
    from edge.devtools.loadtest import StreamClient
    assert daemon.proc is not None
    first_result = None
    while first_result is None and time.monotonic() - daemon.started < 60:
        s = daemon.status()
        if s and s["counters"]["processed"] > 0:
            first_result = time.monotonic() - daemon.started
        time.sleep(0.05)
    if first_result is None:
        raise SystemExit(f"no result within 60 s: {daemon.log_tail()}")
    # one kiosk (one candidate at a time) and two dashboards reading
    loads = [ApiLoad(daemon, sessions=i == 0) for i in range(3)] if api else []
    viewers = [StreamClient("127.0.0.1", daemon.port, daemon.token) for _ in range(streams)]
    for worker in (*loads, *viewers):
        worker.start()
    t0 = time.monotonic()
    sampler = Sampler(daemon, t0)
    sampler.start()
    processed0 = counters(daemon).get("processed", 0)
    injected, k, steady_fps = [], 0, None
    while time.monotonic() - t0 < seconds:
        due = t0 + (k + 1) * fault_every_s
        if camera_faults and due + fault_length_s + RECOVER_LIMIT_S < t0 + seconds:
            time.sleep(max(0.0, due - time.monotonic()))
            if steady_fps is None:  # the frame rate before any fault: what a lost second costs
                steady_fps = (counters(daemon).get("processed", 0) - processed0) / (time.monotonic() - t0)
            injected.append(inject(daemon, control, camera_faults[k % len(camera_faults)], fault_length_s, give_up_s,
                                   steady_fps))
            k += 1
        else:
            time.sleep(min(1.0, max(0.0, t0 + seconds - time.monotonic())))
    elapsed = time.monotonic() - t0
    for load in loads:
        load.halt.set()
        load.join(15)
    for viewer in viewers:
        viewer.stop()
    sampler.halt.set()
    sampler.join(5)
    cpu = sampler.cpu() / elapsed
    final = daemon.status() or {}
    code = daemon.stop()
    rows = sampler.rows
    memory = [m for _, m, _, _ in rows]
    warm = [m for t, m, _, _ in rows if t >= min(60, seconds / 4)]  # after imports and first allocations
    window = max(3, len(warm) // 10)  # averages: one sample is noisy (allocator, a request in flight)
    trend = (sum(warm[-window:]) / window - sum(warm[:window]) / window) if len(warm) >= 2 * window else None
    after_minute = [r for r in rows if r[0] >= 60]
    restarts = [f for f in injected if f.get("restarted")]
    counted = final.get("counters", {})
    result = {"source": source, "seconds": round(elapsed, 1), "start_to_first_result_s": round(first_result, 2),
              "cpu_share_of_one_core": round(cpu, 3),
              "rss_mb": {**spread(memory), "raw_growth_first_to_last": round(memory[-1] - memory[0], 1) if memory
                         else None, "trend_after_warmup": None if trend is None else round(trend, 1)},
              "threads": spread([r[2] for r in rows]), "open_files": spread([r[3] for r in rows]),
              "threads_after_first_minute": spread([r[2] for r in after_minute]),
              "open_files_after_first_minute": spread([r[3] for r in after_minute]),
              "fps": final.get("fps"), "restarts": len(restarts),
              "fps_average": None if restarts else round((counted.get("processed", 0) - processed0) / elapsed, 2),
              "counters": counted, "camera": final.get("camera"), "latency_ms": final.get("latency_ms"),
              "exit_code": code, "log": log_findings(daemon.log.read_text(errors="replace")),
              "over_time": [{"s": t, "rss_mb": m, "threads": th, "fds": fd} for t, m, th, fd in rows[::max(1, len(rows) // 30)]]}
    if camera_faults:
        outages = [f for f in injected if f["outage"]]
        result["faults"] = {"injected": len(injected), "outages": len(outages),
                            "recovered": sum(f["recovered"] for f in outages),
                            "frames_lost": sum(f["frames_lost"] for f in injected),
                            "every_s": fault_every_s, "length_s": fault_length_s,
                            "recover_limit_s": RECOVER_LIMIT_S, "fps_before_faults": round(steady_fps or 0, 2),
                            "events": injected,
                            "max_outage_s": max((f["outage_s"] for f in outages if f["outage_s"] is not None), default=None),
                            "max_detected_after_s": max((f["detected_after_s"] for f in outages
                                                         if f["detected_after_s"] is not None), default=None)}
    if loads:
        reports = [load.report() for load in loads]
        result["api"] = {"clients": len(loads), "requests": sum(r["requests"] for r in reports),
                         "failed": sum(r["failed"] for r in reports), "failures": [f for r in reports for f in r["failures"]][:20],
                         "sessions_finished": sum(r["sessions_finished"] for r in reports),
                         "sessions_refused_camera_down": sum(r["sessions_refused_camera_down"] for r in reports),
                         "unanswered_daemon_down": sum(r["unanswered_daemon_down"] for r in reports),
                         "latency_p95_ms": max((r["latency_p95_ms"] or 0) for r in reports)}
    if viewers:
        result["streams"] = {"open": len(viewers), "events_min": min(v.events for v in viewers),
                             "without_events": sum(v.events == 0 for v in viewers)}
    return result


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m edge.devtools.soak", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", required=True)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--config", type=Path)
    ap.add_argument("--faults", default="", help=f"comma-separated: {', '.join(CAMERA_FAULTS)}, api")
    ap.add_argument("--fault-every", type=float, default=20.0, help="seconds between camera faults")
    ap.add_argument("--fault-length", type=float, default=5.0, help="seconds each camera fault lasts")
    ap.add_argument("--streams", type=int, default=0, help="event-stream clients (dashboards) held open throughout")
    ap.add_argument("--json", action="store_true", help="print the whole result as JSON")
    ap.add_argument("--out", type=Path, help="also write the JSON result here")
    args = ap.parse_args(argv)
    faults = tuple(f for f in args.faults.split(",") if f)
    unknown = sorted(set(faults) - {*CAMERA_FAULTS, "api"})
    if unknown:
        ap.error(f"unknown fault(s) {', '.join(unknown)}; choose from {', '.join(CAMERA_FAULTS)}, api")
    result = soak(args.source, args.seconds, args.config, faults, args.fault_every, args.fault_length, args.streams)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for key, value in result.items():
        if key not in ("over_time", "latency_ms", "faults", "camera"):
            print(f"{key:32} {value}")
    if "faults" in result:
        f = result["faults"]
        print(f"{'outages recovered / outages':32} {f['recovered']} / {f['outages']} of {f['injected']} faults "
              f"(detected within {f['max_detected_after_s']} s, longest outage {f['max_outage_s']} s from the "
              f"fault's start, {f['frames_lost']} frames lost)")
    if result["latency_ms"]:
        print(f"{'total latency p50/p95 ms':32} {result['latency_ms']['total']['p50_ms']:.2f} / "
              f"{result['latency_ms']['total']['p95_ms']:.2f}")


if __name__ == "__main__":
    main()
