"""The one interface every frame source implements, and the frame it delivers.

Broken frames: a capture that hands back None, an empty array, a non-uint8 array or a shape that is
neither grey HxW nor BGR HxWx3 does not crash the daemon. `read()` counts it in `read_errors`, keeps
the reason in `last_read_error`, waits `bad_read_delay_s` and tries again, so a camera that drops the
odd frame keeps running. Only `max_bad_reads` broken frames in a row raise `SourceError`: by then the
device is gone (unplugged, driver wedged) and retrying forever would hide that from the operator.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


class SourceError(RuntimeError):
    """A source cannot be made, opened or read; the message says what to check."""


@dataclass(frozen=True, eq=False)
class Frame:
    image: np.ndarray  # uint8, BGR HxWx3 or grey HxW
    index: int  # strictly increasing per source, across loops too, so consumers can spot gaps
    timestamp: float  # time.monotonic() right after capture, for latency measurements
    source: str

    @property
    def is_grey(self) -> bool:
        return self.image.ndim == 2

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return int(self.image.shape[1]), int(self.image.shape[0])


def image_problem(image: object) -> str | None:
    """Why `image` cannot be a frame, or None when it can."""
    if image is None:
        return "capture returned no image"
    if not isinstance(image, np.ndarray):
        return f"capture returned {type(image).__name__}, not an array"
    if image.dtype != np.uint8:
        return f"dtype {image.dtype}, expected uint8"
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        return f"shape {image.shape}, expected HxW or HxWx3"
    if image.size == 0:
        return f"empty image of shape {image.shape}"
    return None


class FrameSource(ABC):
    """open() / read() / close(); subclasses implement _open(), _grab() and _close().

    `_grab()` returns the next image (possibly broken, see the module docstring), or sets
    `self.ended = True` when a finite source is exhausted. open() and close() are idempotent so that
    the factory can open a source and a reader can take it over without double-opening a device.
    """

    max_bad_reads = 30
    bad_read_delay_s = 0.0

    def __init__(self, name: str) -> None:
        self.name = name
        self.frames_read = 0
        self.read_errors = 0
        self.last_read_error: str | None = None
        self.ended = False
        self._is_open = False
        self._next_index = 0

    @property
    def is_open(self) -> bool:
        return self._is_open

    def open(self) -> None:
        if not self._is_open:
            self._open()
            self._is_open = True
            self.ended = False

    def close(self) -> None:
        if self._is_open:
            self._is_open = False
            self._close()

    def read(self) -> Frame | None:
        """The next valid frame, or None once the source has ended (never for cameras)."""
        if not self._is_open:
            raise SourceError(f"{self.name}: read() before open()")
        bad_in_a_row = 0
        while not self.ended:
            image = self._grab()
            if self.ended:
                break
            captured_at = time.monotonic()
            problem = image_problem(image)
            if problem is None:
                frame = Frame(image, self._next_index, captured_at, self.name)  # type: ignore[arg-type]
                self._next_index += 1
                self.frames_read += 1
                return frame
            self.read_errors += 1
            self.last_read_error = problem
            bad_in_a_row += 1
            if bad_in_a_row >= self.max_bad_reads:
                raise SourceError(f"{self.name}: {bad_in_a_row} broken frames in a row (last: {problem}); "
                                  "the device may be unplugged or busy, restart the source")
            if self.bad_read_delay_s:
                time.sleep(self.bad_read_delay_s)
        return None

    def describe(self) -> str:
        return self.name

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"

    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _grab(self) -> np.ndarray | None: ...

    def _close(self) -> None:
        pass
