"""What machine this is: CPU, board (Raspberry Pi / Jetson), temperature and throttling, OS, packages.

Everything is read from files and tools that exist on the device; what is missing reads as None.
"""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = ("ai-edge-litert", "tflite-runtime", "numpy", "opencv-python-headless", "flask", "waitress")


COMMAND_TIMEOUT_S = 5
# Zones that measure nothing: Jetson's PMIC-Die reads a fixed 100 C; disabled zones read -256 C
IGNORED_ZONES = {"PMIC-Die"}
PLAUSIBLE_C = (-40.0, 150.0)


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str = ""


def run_command(argv: list[str]) -> CommandResult | None:
    """Run a device tool (vcgencmd, systemctl, ...); None where it is not installed."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return CommandResult(124, "", f"{argv[0]} did not answer within {COMMAND_TIMEOUT_S} s")
    except OSError as e:
        return CommandResult(126, "", str(e))
    return CommandResult(done.returncode, done.stdout, done.stderr)


def _stdout(*argv: str) -> str | None:
    done = run_command(list(argv))
    return (done.stdout.strip() or None) if done else None


def read_text(path: str | Path) -> str | None:
    """The file's text without trailing NULs and blanks (device-tree strings end in NUL), or None."""
    try:
        return Path(path).read_text(errors="replace").strip("\x00\n ")
    except OSError:
        return None


@dataclass(frozen=True)
class Zone:
    name: str
    celsius: float
    passive_trip_c: float | None  # where the kernel starts slowing the CPU for this zone, if it says


def thermal_zones(root: Path = Path("/")) -> list[Zone]:
    """Every kernel thermal zone under root (Pi, Jetson and x86 alike) that reads a plausible temperature."""
    zones = []
    for zone in sorted((root / "sys/class/thermal").glob("thermal_zone*")):
        name, raw = read_text(zone / "type") or zone.name, read_text(zone / "temp")
        if name in IGNORED_ZONES or raw is None or not raw.lstrip("-").isdigit():
            continue
        if PLAUSIBLE_C[0] <= int(raw) / 1000 <= PLAUSIBLE_C[1]:
            zones.append(Zone(name, int(raw) / 1000, min(_passive_trips(zone), default=None)))
    return zones


def _passive_trips(zone: Path) -> list[float]:
    trips = []  # Pis leave throttling to the firmware and list none
    for kind in zone.glob("trip_point_*_type"):
        temp = read_text(kind.with_name(kind.name.replace("_type", "_temp")))
        if read_text(kind) == "passive" and temp and temp.isdigit():
            trips.append(int(temp) / 1000)
    return trips


def hottest_c(root: Path = Path("/")) -> float | None:
    """The highest zone temperature; None where there are none (containers, VMs)."""
    return max((z.celsius for z in thermal_zones(root)), default=None)


def _cpuinfo_field(key: str) -> str | None:
    m = re.search(rf"^{key}\s*:\s*(.+)$", read_text("/proc/cpuinfo") or "", re.M)
    return m.group(1) if m else None


def cpu_model() -> str | None:
    for key in ("model name", "Model", "Hardware"):
        if value := _cpuinfo_field(key):
            return value
    return platform.processor() or None


def cpu_clocks(root: Path = Path("/")) -> dict[str, dict[str, float]]:
    """Each cpufreq policy's clock now, the highest it may run at now and the highest it has, in MHz.

    A busy CPU below its highest clock is being held back (heat, power, a Jetson's nvpmodel cap): this
    says so on a Jetson, a Pi or a PC alike. Empty where the kernel exposes no cpufreq (VMs, containers)."""
    clocks = {}
    for policy in sorted((root / "sys/devices/system/cpu/cpufreq").glob("policy*")):
        values = [read_text(policy / name) for name in ("scaling_cur_freq", "scaling_max_freq", "cpuinfo_max_freq")]
        if all(v and v.isdigit() for v in values):
            now, allowed, highest = (int(v) / 1000 for v in values)  # type: ignore[arg-type]
            clocks[policy.name] = {"mhz": now, "allowed_mhz": allowed, "max_mhz": highest}
    return clocks


def thermal() -> dict:
    """CPU temperature (deg C), clocks and, on a Pi, the throttling flags (vcgencmd get_throttled)."""
    return {"zones_c": {z.name: z.celsius for z in thermal_zones()}, "cpu_clocks": cpu_clocks(),
            "vcgencmd_temp": _stdout("vcgencmd", "measure_temp"),
            "vcgencmd_throttled": _stdout("vcgencmd", "get_throttled")}


def packages() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def describe() -> dict:
    os_release = read_text("/etc/os-release") or ""
    pretty = re.search(r'^PRETTY_NAME="?([^"\n]+)', os_release, re.M)
    return {
        "cpu": cpu_model(), "cores": os.cpu_count(), "machine": platform.machine(),
        "board": read_text("/proc/device-tree/model"),  # "Raspberry Pi 5 Model B Rev 1.0", Jetson boards too
        "board_revision": _cpuinfo_field("Revision"),  # a Pi's revision code names its model and memory
        "jetson_release": read_text("/etc/nv_tegra_release"),
        "jetson_power_mode": _stdout("nvpmodel", "-q"),  # Jetson speed depends on the power mode as much as on the chip
        "os": pretty.group(1) if pretty else platform.platform(), "kernel": platform.release(),
        "python": platform.python_version(), "packages": packages(),
    }
