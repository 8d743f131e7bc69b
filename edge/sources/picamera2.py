"""The Raspberry Pi CSI camera through picamera2, delivering the grey Y plane of a small YUV stream.

picamera2 exists only on Raspberry Pi OS (apt package python3-picamera2), so it is imported inside
open(): importing this module must work on any machine, for tests and for the factory.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from edge.sources.base import FrameSource, SourceError

INSTALL_HINT = ("on Raspberry Pi OS install it with `sudo apt install python3-picamera2` and make the venv "
                "with `python3 -m venv --system-site-packages`; off the Pi use a V4L2 camera or a video file")


class Picamera2Source(FrameSource):
    """Grey HxW frames of `width` x `height` from the ISP's low-resolution YUV420 stream.

    The ISP scales and the Y plane is already grey, so the CPU does neither a resize nor a colour
    conversion, which matters on a Pi 4. The main stream only sets the field of view: the lores
    image is scaled from it. A failed capture is counted and retried like any camera (see FrameSource).
    """

    max_bad_reads = 100
    bad_read_delay_s = 0.05

    def __init__(self, camera_num: int = 0, *, width: int = 640, height: int = 480, fps: float = 30,
                 main_size: tuple[int, int] | None = None) -> None:
        super().__init__(f"picamera2:{camera_num}")
        self.camera_num = camera_num
        self.width, self.height, self.fps = width, height, fps
        # The lores stream may not be larger than main, so main defaults to the lores size.
        self.main_size = main_size or (width, height)
        self.last_capture_exception: str | None = None
        self._cam: Any = None

    def _open(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise SourceError(f"picamera2 is not importable ({exc}); {INSTALL_HINT}") from exc
        cameras = Picamera2.global_camera_info()
        if self.camera_num >= len(cameras):
            raise SourceError(f"no CSI camera number {self.camera_num}: libcamera sees {len(cameras)} camera(s); "
                              "check the ribbon cable and `rpicam-hello --list-cameras`")
        cam = Picamera2(self.camera_num)
        try:
            config = cam.create_video_configuration(
                main={"size": tuple(self.main_size), "format": "XBGR8888"},
                lores={"size": (self.width, self.height), "format": "YUV420"},
                controls={"FrameRate": float(self.fps)},
            )
            cam.configure(config)
            cam.start()
        except Exception as exc:
            cam.close()
            raise SourceError(f"cannot start CSI camera {self.camera_num} at {self.width}x{self.height}: {exc}; "
                              "try a smaller size or the sizes `rpicam-hello --list-cameras` shows") from exc
        self._cam = cam

    def _grab(self) -> np.ndarray | None:
        try:
            yuv = self._cam.capture_array("lores")
        except Exception as exc:  # e.g. a timed-out request; FrameSource counts it and retries
            self.last_capture_exception = f"{type(exc).__name__}: {exc}"
            return None
        if yuv is None or yuv.ndim != 2 or yuv.shape[0] < self.height or yuv.shape[1] < self.width:
            return None
        # Rows past `height` hold U and V; columns past `width` are stride padding.
        return np.ascontiguousarray(yuv[: self.height, : self.width])

    def _close(self) -> None:
        if self._cam is not None:
            try:
                self._cam.stop()
            finally:
                self._cam.close()
                self._cam = None

    def describe(self) -> str:
        return f"Raspberry Pi CSI camera {self.camera_num} (grey {self.width}x{self.height} @ {self.fps:g} fps)"
