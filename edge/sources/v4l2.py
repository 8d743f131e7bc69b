"""A USB / V4L2 camera through OpenCV's V4L2 backend (Raspberry Pi and Jetson USB webcams)."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2

from edge.sources.base import SourceError
from edge.sources.opencv_capture import OpenCVCaptureSource

LIST_HINT = "`v4l2-ctl --list-devices` lists cameras"


def device_path(device: int | str) -> str:
    """'/dev/videoN' for a camera number or path."""
    return f"/dev/video{device}" if isinstance(device, int) or str(device).isdigit() else str(device)


class V4L2Source(OpenCVCaptureSource):
    """A live camera at the requested width/height/fps (the driver may pick the nearest mode).

    Cameras drop frames now and then (USB bandwidth, exposure changes): a failed read is counted and
    retried, and only a long run of failures raises SourceError (see FrameSource). The reported
    `actual` size and fps are what the driver agreed to, which is what the dashboard should show.
    """

    # About 5 s of nothing but failures before giving up on the device.
    max_bad_reads = 100
    bad_read_delay_s = 0.05

    def __init__(self, device: int | str = 0, *, width: int = 640, height: int = 480, fps: float = 30,
                 fourcc: str | None = "MJPG") -> None:
        self.device = device_path(device)
        super().__init__(f"v4l2:{self.device}")
        self.width, self.height, self.fps = width, height, fps
        self.fourcc = fourcc
        self.actual: tuple[int, int, float] = (0, 0, 0.0)
        self._cap: cv2.VideoCapture | None = None

    def _open(self) -> None:
        # Without this check OpenCV only logs a warning and returns a closed capture.
        if sys.platform.startswith("linux") and not Path(self.device).exists():
            raise SourceError(f"no camera at {self.device}: is it plugged in? {LIST_HINT}")
        # The number works with every OpenCV 4 build; older ones reject a device path with CAP_V4L2.
        number = self.device.removeprefix("/dev/video")
        target: int | str = int(number) if number.isdigit() and number != self.device else self.device
        cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open camera {self.device}: it exists but V4L2 refused it (busy in another "
                              f"process, no permission: is the user in the 'video' group?, or not a capture node); "
                              f"{LIST_HINT}")
        # MJPG first: at 640x480 and above many USB cameras manage only a few fps in raw YUYV.
        if self.fourcc:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*self.fourcc))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        # A deep driver queue hands out frames that are seconds old; we want the newest one.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.actual = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                       float(cap.get(cv2.CAP_PROP_FPS)))
        self._cap = cap

    def describe(self) -> str:
        w, h, fps = self.actual if self.actual[0] else (self.width, self.height, self.fps)
        return f"V4L2 camera {self.device} ({w}x{h} @ {fps:g} fps)"
