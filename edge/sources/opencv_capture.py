"""Sources read through cv2.VideoCapture share how they grab and release frames."""
from __future__ import annotations

import cv2
import numpy as np

from edge.sources.base import FrameSource


class OpenCVCaptureSource(FrameSource):
    """A FrameSource whose _open() sets self._cap to an opened cv2.VideoCapture."""

    _cap: cv2.VideoCapture | None = None

    def _grab(self) -> np.ndarray | None:
        assert self._cap is not None
        ok, image = self._cap.read()
        return image if ok else None

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
