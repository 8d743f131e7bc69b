"""Thermal and power: CPU temperatures against the throttling point, and a Raspberry Pi's throttle flags.

Temperatures come from every /sys/class/thermal zone (Raspberry Pi, Jetson and x86 alike) and from
`vcgencmd measure_temp`; a zone's own passive trip point (where the kernel starts slowing the CPU)
is its limit when it has one, else the board's. `vcgencmd get_throttled` is the Pi firmware's record
of under-voltage and throttling, now and since boot.
"""
from __future__ import annotations

import re

from edge.check.context import Board, Context, System
from edge.check.result import FAIL, PASS, WARN, Result, worst
from edge.device_info import thermal_zones

WARN_MARGIN_C = 10
COOLING = "add a heatsink and fan (on a Pi 5 the Active Cooler), keep the enclosure's vents free"

# bit: (what, advice); bit + 16 is the same event "since boot"
THROTTLE_BITS = {
    0: ("under-voltage", "use {supply} and a short, thick cable"),
    1: ("ARM frequency capping", "the supply or the temperature limits the CPU: see the other flags"),
    2: ("throttling", COOLING),
    3: ("soft temperature limit", COOLING),
}


def zone_temperatures(system: System, board: Board) -> list[tuple[str, float, float]]:
    """(zone name, deg C, limit deg C) of every zone that reads a plausible temperature."""
    zones = [(z.name, z.celsius, z.passive_trip_c or board.throttle_c) for z in thermal_zones(system.root)]
    answer = system.run("vcgencmd", "measure_temp")
    if answer is not None and (m := re.search(r"temp=([\d.]+)", answer.stdout)):
        zones.append(("vcgencmd", float(m.group(1)), board.throttle_c))
    return zones


def check_thermal(ctx: Context) -> Result:
    zones = zone_temperatures(ctx.system, ctx.board)
    temperature, findings = _judge_temperatures(zones)
    flags, more, raw = _throttle_flags(ctx.system, ctx.board)
    findings += more
    data = {"zones": {name: c for name, c, _ in zones}, **({"throttled": raw} if raw else {})}
    detail = "; ".join([temperature, flags, *(message for _, message in findings)])
    return Result("thermal", worst(PASS, *(status for status, _ in findings)), detail, data)


Finding = tuple[str, str]  # (status, what is wrong and what to do)


def _judge_temperatures(zones: list[tuple[str, float, float]]) -> tuple[str, list[Finding]]:
    if not zones:
        return ("no temperature sensor readable (no /sys/class/thermal zone, no vcgencmd)",
                [(WARN, "normal in a VM or container; on a booth the kernel's thermal driver is missing")])
    name, celsius, limit = max(zones, key=lambda z: z[1] - z[2])  # the zone closest to its limit
    found = f"hottest {celsius:.1f} °C ({name}, throttles at {limit:g} °C)"
    if celsius >= limit:
        return found, [(FAIL, f"too hot, the CPU is being slowed down: {COOLING}")]
    if celsius >= limit - WARN_MARGIN_C:
        return found, [(WARN, f"close to throttling: {COOLING}")]
    return found, []


def _throttle_flags(system: System, board: Board) -> tuple[str, list[Finding], str | None]:
    """What `vcgencmd get_throttled` says, the findings, and the raw flags (None when unread)."""
    answer = system.run("vcgencmd", "get_throttled")
    if answer is None:
        if board.supply is None:
            return "no firmware throttle flags on this board", [], None
        return "throttle flags unknown", [(WARN, "vcgencmd not found: cannot read under-voltage and throttling "
                                           "flags; install Raspberry Pi OS's raspi-utils (libraspberrypi-bin "
                                           "on older images)")], None
    m = re.search(r"throttled=(0x[0-9a-fA-F]+)", answer.stdout)
    if answer.returncode != 0 or not m:
        return "throttle flags unreadable", [(WARN, f"vcgencmd get_throttled failed "
                                              f"({(answer.stderr or answer.stdout).strip()}): run the check as "
                                              "root or as a user in the video group")], None
    bits, findings = int(m.group(1), 16), []
    for bit, (what, advice) in THROTTLE_BITS.items():
        advice = advice.format(supply=board.supply or "the board's official power supply")
        if bits & (1 << bit):
            findings.append((FAIL, f"{what} detected now: {advice}"))
        elif bits & (1 << (bit + 16)):
            findings.append((WARN, f"{what} has occurred since boot (not now): {advice}"))
    return f"throttle flags {m.group(1)}" + ("" if bits else " (none set)"), findings, m.group(1)
