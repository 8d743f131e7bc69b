"""What every self-test check reads the machine through, so that tests can fake the machine.

`System` prefixes every /proc, /sys, /run path with a root folder and runs every command through a
replaceable runner; `Board` says which device this is and what it is expected to manage.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.config import EdgeConfig
from edge.device_info import CommandResult, read_text, run_command
from edge.sources import FrameSource, open_source

# argv -> result, or None when the program is not installed
Runner = Callable[[list[str]], "CommandResult | None"]
TIME_ERROR = 5  # adjtimex's answer while the kernel's clock is not synchronised (STA_UNSYNC)


def kernel_clock_state() -> int | None:
    """adjtimex(2) in read-only mode (modes = 0): TIME_OK..TIME_WAIT, or TIME_ERROR when unsynchronised.

    Only the return value is used, so the buffer just has to be at least as large as struct timex
    (208 bytes on 64-bit Linux); zeroed, it asks for nothing to change.
    """
    name = ctypes.util.find_library("c")
    try:
        adjtimex = ctypes.CDLL(name, use_errno=True).adjtimex
    except (OSError, AttributeError):  # not Linux/glibc
        return None
    state = adjtimex(ctypes.create_string_buffer(512))
    return None if state < 0 else state


class System:
    """The machine as the checks see it: files under `root`, commands through `runner`."""

    def __init__(self, root: Path = Path("/"), runner: Runner = run_command,
                 disk_usage: Callable[[Path], tuple[int, int, int]] = shutil.disk_usage,
                 clock_state: Callable[[], int | None] = kernel_clock_state,
                 now: Callable[[], float] = time.time):
        self.root, self.runner = Path(root), runner
        self.disk_usage, self.clock_state, self.now = disk_usage, clock_state, now

    def path(self, absolute: str | Path) -> Path:
        return self.root / str(absolute).lstrip("/")

    def read(self, absolute: str | Path) -> str | None:
        return read_text(self.path(absolute))

    def glob(self, folder: str, pattern: str) -> list[Path]:
        return sorted(self.path(folder).glob(pattern))

    def run(self, *argv: str) -> CommandResult | None:
        return self.runner(list(argv))


@dataclass(frozen=True)
class Board:
    key: str
    name: str
    # detector + emotion model on one frame with one face, p50. A known board gets a budget with about 2x
    # headroom over what it should manage, so a throttled or misconfigured one fails; an unknown one only
    # has to keep up with a 30 fps camera (33 ms a frame) leaving time for capture, tracking and the web
    latency_budget_ms: float
    # the temperature at which the board starts to slow its CPU down when no trip point says otherwise
    throttle_c: float
    supply: str | None = None  # the power supply a Raspberry Pi needs, for the under-voltage advice


BOARDS = {
    "pi5": Board("pi5", "Raspberry Pi 5", 12.0, 80.0, "the official 5V/5A supply (27 W USB-C)"),
    "pi4": Board("pi4", "Raspberry Pi 4", 25.0, 80.0, "the official 5.1V/3A supply (15 W USB-C)"),
    "jetson_orin": Board("jetson_orin", "Jetson Orin", 12.0, 95.0),
    "generic": Board("generic", "generic (x86 or other board)", 20.0, 90.0),
}


def detect_board(system: System) -> tuple[Board, str | None]:
    """The board from /proc/device-tree/model (absent on x86), and the model string itself."""
    model = system.read("/proc/device-tree/model")
    text = (model or "").lower()
    if "raspberry pi 5" in text:
        return BOARDS["pi5"], model
    if "raspberry pi 4" in text or "compute module 4" in text:
        return BOARDS["pi4"], model
    if "jetson" in text and "orin" in text:
        return BOARDS["jetson_orin"], model
    return BOARDS["generic"], model


@dataclass
class Context:
    """What one self-test run shares between its checks."""
    config: EdgeConfig
    system: System = field(default_factory=System)
    dashboard_url: str | None = None  # base URL of the dashboard; None: from the config's web section
    open_source: Callable[..., FrameSource] = open_source
    frame: np.ndarray | None = None  # the camera check's last frame, for the latency check to run on

    def __post_init__(self) -> None:
        self.board, self.board_model = detect_board(self.system)
