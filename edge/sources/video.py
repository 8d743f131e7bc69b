"""A video file through OpenCV: the bundled demo clip when there is no camera, and `bench --source`."""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from edge.sources.base import SourceError
from edge.sources.opencv_capture import OpenCVCaptureSource
from edge.sources.pacing import Pacer

# Files with a missing or absurd FPS header are common (screen recordings, some muxers).
FALLBACK_FPS = 25.0
# a file whose stream ends more than this share (and 2 frames) before its header's frame count was cut
# short; headers of intact files are off by a frame or two at most
TRUNCATED_MARGIN = 0.02
log = logging.getLogger("edge.source")


class VideoFileSource(OpenCVCaptureSource):
    """Frames of a video file, paced to the file's FPS (`realtime`) or as fast as it decodes.

    With `loop` the file restarts at its end, and frame indexes keep increasing. OpenCV reports a
    corrupt frame in mid-file the same way as the end of the file, so such a file ends (or loops) there.
    """

    def __init__(self, path: str | Path, *, loop: bool = False, realtime: bool = True) -> None:
        self.path = Path(path)
        super().__init__(f"video:{self.path.name}")
        self.loop = loop
        self.realtime = realtime
        self.fps = FALLBACK_FPS
        self.frame_count = 0
        self.loops_done = 0
        self.truncated_at: int | None = None  # frames decoded before a truncated file's stream ended
        self._in_pass = 0
        self._pacer = Pacer(None)

    def _open(self) -> None:
        if not self.path.is_file():
            raise SourceError(f"no video file at {self.path}: check the path")
        self._cap = self._capture()
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps <= 1000 else FALLBACK_FPS
        self.frame_count = max(int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
        self._in_pass = 0
        self._pacer = Pacer(self.fps if self.realtime else None)

    def _capture(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open video file {self.path}: OpenCV found no decoder for it, or the file "
                              "is truncated (an incomplete copy or download); check the file and that OpenCV can "
                              "decode it (e.g. MJPG .avi or H.264 .mp4)")
        return cap

    def _grab(self) -> np.ndarray | None:
        assert self._cap is not None
        self._pacer.wait()
        image = self._decode()
        if image is not None:
            self._in_pass += 1
            return image
        self._check_complete()
        if self.loop:
            # Reopen instead of seeking to frame 0: seeking is unreliable for some containers/codecs.
            self._cap.release()
            self._cap = self._capture()
            image = self._decode()
            if image is not None:
                self.loops_done += 1
                self._in_pass = 1
                return image
        # Also reached when a reopened file yields nothing, which would otherwise loop forever.
        self.ended = True
        return None

    def _check_complete(self) -> None:
        """OpenCV ends a damaged file's stream early, as if it were the end: say so, once."""
        margin = max(2.0, TRUNCATED_MARGIN * self.frame_count)
        if self.frame_count and self._in_pass < self.frame_count - margin and self.truncated_at is None:
            self.truncated_at = self._in_pass
            log.warning("video file %s ended after %d of the %d frames its header lists: the file is truncated or "
                        "damaged (an incomplete copy?); replace it", self.path, self._in_pass, self.frame_count)

    def describe(self) -> str:
        mode = f"{self.fps:g} fps" if self.realtime else "as fast as possible"
        cut = f", truncated: ends after {self.truncated_at} frames" if self.truncated_at is not None else ""
        return (f"video file {self.path} ({self.frame_count} frames, {mode}{', looping' if self.loop else ''}"
                f"{cut})")
