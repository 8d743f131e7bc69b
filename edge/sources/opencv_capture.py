"""Sources read through cv2.VideoCapture share how they grab and release frames."""
from __future__ import annotations

import cv2
import numpy as np

from edge.sources.base import FrameSource
from edge.sources.buffers import FrameBuffers


class OpenCVCaptureSource(FrameSource):
    """A FrameSource whose _open() sets self._cap to an opened cv2.VideoCapture."""

    _cap: cv2.VideoCapture | None = None
    _buffers: FrameBuffers | None = None

    def _decode(self) -> np.ndarray | None:
        """The capture's next image, decoded into a buffer nothing holds any more (FrameBuffers); None if none."""
        assert self._cap is not None
        if self._buffers is None:
            self._buffers = FrameBuffers()
        return self._buffers.read(self._cap)

    def _grab(self) -> np.ndarray | None:
        return self._decode()

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
