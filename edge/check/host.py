"""The operating system around the daemon: free disk for its state, a synchronised clock, the service."""
from __future__ import annotations

import time

from edge.check.context import TIME_ERROR, Context, System
from edge.check.result import FAIL, PASS, WARN, Result

SERVICE = "fer-edge.service"
MiB = 1024 ** 2
# SQLite needs room for its journal, and journald and apt fill an SD card slowly but surely
DISK_FAIL_MB, DISK_FAIL_SHARE = 200, 0.05
DISK_WARN_MB, DISK_WARN_SHARE = 1024, 0.10
EARLIEST_YEAR = 2025  # a clock before the software was built was never set: no RTC and no NTP yet
FREE_SPACE_HINT = ("free space: sudo journalctl --vacuum-size=100M; sudo apt-get clean; remove old files "
                   "from the state directory; or use a larger SD card")


def check_disk(ctx: Context) -> Result:
    db = ctx.config.sessions.db_path
    # the daemon resolves a relative path from its working directory; absolute ones live on the device
    state_dir = ctx.system.path(db.parent) if db.is_absolute() else db.parent.absolute()
    existing = next(p for p in (state_dir, *state_dir.parents) if p.exists())
    total, _, free = ctx.system.disk_usage(existing)
    share = free / total if total else 0.0
    where = f"{existing}" + ("" if existing == state_dir else f" ({state_dir} not created yet; the service "
                                                              "creates it on start)")
    found = f"{free / MiB / 1024:.1f} GiB free of {total / MiB / 1024:.1f} GiB ({100 * share:.0f} %) at {where}"
    data = {"path": str(existing), "sessions_db": str(db), "free_bytes": free, "total_bytes": total}
    if free < DISK_FAIL_MB * MiB or share < DISK_FAIL_SHARE:
        return Result("disk", FAIL, f"disk nearly full: {found}; the sessions database cannot grow: "
                      f"{FREE_SPACE_HINT}", data)
    if free < DISK_WARN_MB * MiB or share < DISK_WARN_SHARE:
        return Result("disk", WARN, f"disk getting full: {found}; {FREE_SPACE_HINT}", data)
    return Result("disk", PASS, found, data)


def check_clock(ctx: Context) -> Result:
    system = ctx.system
    now = system.now()
    shown = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now))
    synced, how = _clock_synced(system)
    data = {"synchronised": synced, "source": how, "utc": shown}
    if time.gmtime(now).tm_year < EARLIEST_YEAR:
        return Result("clock", FAIL, f"the clock says {shown}: it was never set (no network time yet and no "
                      "real-time clock): connect the network and wait a minute, then rerun", data)
    if synced is None:
        return Result("clock", WARN, f"cannot tell whether the clock is synchronised (no timedatectl, no "
                      f"timesyncd, no kernel answer); it says {shown}: compare it with a phone", data)
    if not synced:
        return Result("clock", FAIL, f"clock not synchronised ({how}); it says {shown}: session dates and "
                      "retention will be wrong; connect the network, check `timedatectl timesync-status` and "
                      "NTP= in /etc/systemd/timesyncd.conf (an offline booth needs a local NTP server or an "
                      "RTC battery on a Pi 5)", data)
    return Result("clock", PASS, f"synchronised ({how}); {shown}", data)


def _clock_synced(system: System) -> tuple[bool | None, str]:
    answer = system.run("timedatectl", "show", "-p", "NTPSynchronized", "--value")
    if answer is not None and answer.returncode == 0 and answer.stdout.strip() in ("yes", "no"):
        return answer.stdout.strip() == "yes", f"timedatectl NTPSynchronized={answer.stdout.strip()}"
    # timesyncd touches this file once it has synchronised; its absence proves nothing (chrony, ntpd)
    if system.path("/run/systemd/timesync/synchronized").exists():
        return True, "systemd-timesyncd"
    state = system.clock_state()
    if state is None:
        return None, "unknown"
    synced = state != TIME_ERROR
    return synced, f"kernel adjtimex: {'synchronised' if synced else 'unsynchronised'}, state {state}"


def service_state(system: System) -> dict[str, str] | None:
    """systemctl show's properties of the unit, or None when systemd is not running here."""
    answer = system.run("systemctl", "show", SERVICE, "--property=LoadState,ActiveState,SubState,"
                        "UnitFileState,Result,NRestarts")
    if answer is None or answer.returncode != 0:
        return None
    return dict(line.split("=", 1) for line in answer.stdout.splitlines() if "=" in line)


def check_service(ctx: Context) -> Result:
    state = service_state(ctx.system)
    if state is None:
        return Result("service", WARN, "systemd is not running here (a container or another init): cannot "
                      f"check {SERVICE}; on a booth run this check on the device itself")
    data = dict(state)
    active, sub = state.get("ActiveState", "?"), state.get("SubState", "?")
    logs = "journalctl -u fer-edge -b -n 50 says why"
    if state.get("LoadState") == "not-found":
        return Result("service", FAIL, f"{SERVICE} is not installed: run firmware_setup/install.sh", data)
    if active == "failed" or active == "inactive":
        result = state.get("Result", "?")
        return Result("service", FAIL, f"{SERVICE} is {active} ({sub}, result {result}): {logs}; after fixing "
                      "it: sudo systemctl restart fer-edge", data)
    if active != "active":
        return Result("service", WARN, f"{SERVICE} is {active} ({sub}): it is starting or restarting after a "
                      f"crash; rerun in a minute; {logs}", data)
    problems = []
    if state.get("UnitFileState") != "enabled":
        problems.append(f"not enabled ({state.get('UnitFileState', '?')}), so it will not start at boot: "
                        "sudo systemctl enable fer-edge")
    restarts = int(state.get("NRestarts", "0") or 0)
    if restarts:
        problems.append(f"systemd restarted it {restarts} time(s): {logs}")
    if problems:
        return Result("service", WARN, f"{SERVICE} is active ({sub}) but " + "; ".join(problems), data)
    return Result("service", PASS, f"{SERVICE} is active ({sub}) and enabled", data)
