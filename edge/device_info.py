"""What machine this is: CPU, board (Raspberry Pi / Jetson), temperature and throttling, OS, packages.

Everything is read from files and tools that exist on the device; what is missing reads as None.
"""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = ("ai-edge-litert", "tflite-runtime", "numpy", "opencv-python-headless", "flask", "waitress")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace").strip("\x00\n ")
    except OSError:
        return None


def _run(*cmd: str) -> str | None:
    if not shutil.which(cmd[0]):
        return None
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def _cpuinfo_field(key: str) -> str | None:
    m = re.search(rf"^{key}\s*:\s*(.+)$", _read("/proc/cpuinfo") or "", re.M)
    return m.group(1) if m else None


def cpu_model() -> str | None:
    for key in ("model name", "Model", "Hardware"):
        if value := _cpuinfo_field(key):
            return value
    return platform.processor() or None


def thermal() -> dict:
    """CPU temperature (deg C) and, on a Pi, the throttling flags (vcgencmd get_throttled)."""
    zones = {}
    for zone in sorted(Path("/sys/class/thermal").glob("thermal_zone*")):
        temp, kind = _read(str(zone / "temp")), _read(str(zone / "type"))
        if temp and temp.lstrip("-").isdigit():
            zones[kind or zone.name] = int(temp) / 1000
    return {"zones_c": zones, "vcgencmd_temp": _run("vcgencmd", "measure_temp"),
            "vcgencmd_throttled": _run("vcgencmd", "get_throttled")}


def packages() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def describe() -> dict:
    os_release = _read("/etc/os-release") or ""
    pretty = re.search(r'^PRETTY_NAME="?([^"\n]+)', os_release, re.M)
    return {
        "cpu": cpu_model(), "cores": os.cpu_count(), "machine": platform.machine(),
        "board": _read("/proc/device-tree/model"),  # "Raspberry Pi 5 Model B Rev 1.0", Jetson boards too
        "board_revision": _cpuinfo_field("Revision"),  # a Pi's revision code names its model and memory
        "jetson_release": _read("/etc/nv_tegra_release"),
        "jetson_power_mode": _run("nvpmodel", "-q"),  # Jetson speed depends on the power mode as much as on the chip
        "os": pretty.group(1) if pretty else platform.platform(), "kernel": platform.release(),
        "python": platform.python_version(), "packages": packages(),
    }
