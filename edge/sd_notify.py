"""systemd notifications (Type=notify): READY, WATCHDOG pings, STATUS, STOPPING; no-ops elsewhere.

Written against the protocol (a datagram to $NOTIFY_SOCKET) rather than a library: it is five lines,
and the device's runtime set stays small.
"""
from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(message.encode(), address)
    except OSError:  # systemd gone or restarting: a lost ping must not kill the thread that sends them
        return False
    return True


def watchdog_interval_s() -> float | None:
    """Half of WatchdogSec (systemd's advice for the ping period), when the watchdog is on for us."""
    usec, pid = os.environ.get("WATCHDOG_USEC"), os.environ.get("WATCHDOG_PID")
    if not usec or (pid and int(pid) != os.getpid()):
        return None
    return int(usec) / 2e6
