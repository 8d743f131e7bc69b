"""Run the real daemon for a while and measure it from outside: CPU share, resident memory over time,
start-to-first-result, frames processed and dropped, errors.

    python -m edge.soak --source VIDEO [--seconds 60] [--config FILE] [--json]

CPU and memory are read from /proc/<pid> (Linux), so the figures are the daemon's own, whatever else
the machine is doing.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2) as r:
            return json.loads(r.read())
    except OSError:
        return None


def soak(source: str, seconds: float, config: Path | None) -> dict:
    port = free_port()
    env = dict(os.environ, FER_EDGE_SOURCE=source, FER_EDGE_PORT=str(port))
    cmd = [sys.executable, "-m", "edge", "run"] + (["--config", str(config)] if config else [])
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first_result = None
    while first_result is None and time.monotonic() - started < 30:
        s = status(port)
        if s and s["counters"]["processed"] > 0:
            first_result = time.monotonic() - started
        time.sleep(0.05)
    if first_result is None:
        proc.kill()
        raise SystemExit(f"no result within 30 s: {proc.stderr.read()[-2000:]}")
    t0, cpu0 = time.monotonic(), cpu_seconds(proc.pid)
    memory = []
    while time.monotonic() - t0 < seconds:
        time.sleep(1)
        memory.append((round(time.monotonic() - t0, 1), round(rss_mb(proc.pid), 1)))
    cpu = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0)
    final = status(port)
    proc.terminate()
    code = proc.wait(timeout=15)
    warm = [m for t, m in memory if t >= min(10, seconds / 2)]  # after imports and first allocations
    return {"source": source, "seconds": seconds, "start_to_first_result_s": round(first_result, 2),
            "cpu_share_of_one_core": round(cpu, 3), "rss_mb_max": max(m for _, m in memory),
            "rss_growth_mb_after_warmup": round(warm[-1] - warm[0], 1) if warm else None,
            "fps": final["fps"], "counters": final["counters"], "latency_ms": final["latency_ms"],
            "exit_code": code, "rss_mb_over_time": memory[::max(1, len(memory) // 20)]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", required=True)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--config", type=Path)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    result = soak(args.source, args.seconds, args.config)
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for key, value in result.items():
        if key not in ("rss_mb_over_time", "latency_ms"):
            print(f"{key:32} {value}")
    print(f"{'total latency p50/p95 ms':32} {result['latency_ms']['total']['p50_ms']:.2f} / "
          f"{result['latency_ms']['total']['p95_ms']:.2f}")


if __name__ == "__main__":
    main()
