"""Slowing guessers down: failures counted per client, and a client locked out after too many.

Used for wrong web tokens (edge/web/security.py) and for anything else a stranger could try to guess by
asking many times. Not one of edge/windows.py's sliding windows: a client's window starts at its first
failure and a lock-out lasts a whole window from the failure that caused it, so a guesser cannot keep its
count low by spacing its tries along a sliding edge.
"""
from __future__ import annotations

import ipaddress
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable

log = logging.getLogger("edge.web")

FAILURE_LIMIT = 10  # wrong tokens from one client (client_key) within FAILURE_WINDOW_S lock it out for as long again
FAILURE_WINDOW_S = 60.0
TRACKED_ADDRESSES = 1024  # beyond this many clients (client_key) with failures, the least recent is forgotten


class FailureThrottle:
    """Failures per client (client_key: an address, or an IPv6 /64). The `limit`-th within `window_s` locks the
    client out for as long again: what it sends is then not even checked, so guessing goes no faster than
    that per client. `failures` and `refused` name, for the log, what failed and what the client is refused."""

    def __init__(self, clock: Callable[[], float], limit: int = FAILURE_LIMIT, window_s: float = FAILURE_WINDOW_S,
                 failures: str = "wrong web tokens", refused: str = "its logins and bearer requests"):
        self.clock, self.limit, self.window_s = clock, limit, window_s
        self._what = failures, refused
        # address -> (start of its counting window, or of its lock-out; failures); least recent failure first
        self._failures: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()  # waitress serves requests from several threads

    def __len__(self) -> int:
        return len(self._failures)

    def wait_s(self, address: str) -> float:
        """Seconds `address` must wait before what it sends is checked again; 0 when it need not."""
        with self._lock:
            now = self.clock()
            since, count = self._current(address, now)
            return since + self.window_s - now if count >= self.limit else 0.0

    def failed(self, address: str) -> None:
        """Count a failure from `address`. A success resets nothing: behind one NAT address, a user's
        login would otherwise wipe a guesser's count."""
        with self._lock:
            now = self.clock()
            since, count = self._current(address, now)
            count += 1
            if count >= self.limit:
                since = now  # locked out for a whole window from here
            if count == self.limit:  # not again for a request that raced it past the limit
                failures, refused = self._what
                log.warning("%d %s from %s within %g s: %s get 429 for %g s", count, failures, address,
                            self.window_s, refused, self.window_s)
            self._failures[address] = (since, count)
            self._failures.move_to_end(address)
            while len(self._failures) > TRACKED_ADDRESSES:
                self._failures.popitem(last=False)

    def _current(self, address: str, now: float) -> tuple[float, int]:
        since, count = self._failures.get(address, (now, 0))
        # Over, or the clock was stepped back before it began (a Pi without a real-time clock syncing):
        # forget it rather than lock someone out for as long as the step.
        if not 0 <= now - since < self.window_s:
            self._failures.pop(address, None)
            return now, 0
        return since, count


def retry_after_s(wait: float) -> int:
    """A lock-out's remaining `wait` as Retry-After's whole seconds: never 0 while still locked."""
    return max(1, math.ceil(wait))


def client_key(address: str) -> str:
    """The client a failure counts against: an IPv4 address, or the /64 network of an IPv6 one. An IPv6
    host is usually given a whole /64 and may take a fresh address from it for every guess. An IPv4-mapped
    address (how a dual-stack socket reports an IPv4 client) is its IPv4 address. Loopback and link-local
    addresses stay whole: every host on a segment shares fe80::/64, so one guesser would lock out the rest."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])  # without a link-local address's zone
    except ValueError:
        return address  # not an address (a test client's "unknown"): counted as given
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.version == 4 or ip.is_loopback or ip.is_link_local:
        return str(ip)
    return str(ipaddress.ip_network((ip, 64), strict=False))
