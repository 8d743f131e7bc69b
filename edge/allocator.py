"""glibc malloc settings for a daemon that runs for months handling camera frames.

With the defaults, resident memory creeps up for a long while under camera faults: every reconnect
starts a capture thread, glibc gives new threads their own arenas (up to 8 per core), and each arena
keeps freed frame buffers (about 1 MB each) for reuse instead of returning them; the dynamic mmap
threshold also rises after the first large free, so frames stop being mmapped at all. Two arenas and a
fixed threshold below one frame's size make every frame buffer an mmap that goes back to the system
when freed. Measured in docs/reliability.md. A no-op off glibc (musl, macOS).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("edge")

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD = 256 * 1024  # a 640x480 grey frame is 300 KB, a BGR one 900 KB


def tune_allocator() -> bool:
    """Apply the settings; False where the C library is not glibc. Call before threads start."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it, and only glibc has these mallopt options
    except (OSError, AttributeError):
        return False
    ok = libc.mallopt(M_ARENA_MAX, ARENAS) == 1 and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    if not ok:
        log.warning("glibc refused the malloc settings; resident memory may creep under camera faults")
    return ok
