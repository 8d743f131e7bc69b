"""Frame buffers that cv2.VideoCapture decodes into again once nothing else holds them."""
from __future__ import annotations

import sys

import cv2
import numpy as np

MOST = 4  # capture's frame, the reader's newest, the pipeline's and one spare


class FrameBuffers:
    """Decodes each frame into a buffer that nothing outside holds any more, instead of a new array.

    Under the daemon's allocator settings (edge/allocator.py) every new frame-sized array is a fresh mmap,
    returned to the system when freed: memory stays flat, but every frame then pays its page faults (0.55 ms
    of a 640x360 frame's capture on the x86 development machine, docs/benchmarks.md). A reused buffer pays
    neither. Whether anything still holds a buffer (the pipeline, the reader's newest frame, a view, a fault
    injector repeating it) is CPython's reference count, so a frame in use is never written over: a new
    buffer is made instead, and at most `most` are kept for later.
    """

    def __init__(self, most: int = MOST) -> None:
        self.most = most
        self._buffers: list[np.ndarray] = [np.empty(0)]
        self._unheld = self._references(0)  # what a buffer counts that nothing else holds, in this Python
        self._buffers = []

    def _references(self, i: int) -> int:
        return sys.getrefcount(self._buffers[i])

    def read(self, cap: cv2.VideoCapture) -> np.ndarray | None:
        """cap's next image, or None where it has none."""
        idle = next((i for i in range(len(self._buffers)) if self._references(i) <= self._unheld), None)
        ok, image = cap.read() if idle is None else cap.read(self._buffers[idle])
        if not ok or image is None:
            return None
        if idle is None:  # none was free: keep the new one for later
            self._buffers = (self._buffers + [image])[-self.most:]
        elif image is not self._buffers[idle]:  # it did not fit (a new frame size): the new one takes its place
            self._buffers[idle] = image
        return image
