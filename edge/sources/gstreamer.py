"""A GStreamer pipeline through OpenCV: Jetson CSI cameras (nvarguscamerasrc) and anything exotic."""
from __future__ import annotations

import re

import cv2

from edge.sources.base import SourceError
from edge.sources.opencv_capture import OpenCVCaptureSource


def nvargus_pipeline(width: int = 640, height: int = 480, fps: int = 30, *, sensor_id: int = 0,
                     flip_method: int = 0, sensor_width: int = 1280, sensor_height: int = 720) -> str:
    """The usual Jetson CSI pipeline: ISP capture in NVMM memory, scaled by the VIC, BGR into appsink.

    The sensor mode (sensor_width x sensor_height) is chosen separately from the output size because
    nvarguscamerasrc only offers the sensor's own modes; nvvidconv then scales in hardware.
    `drop=true max-buffers=1` keeps only the newest frame, the same policy as LatestFrameReader.
    """
    return (f"nvarguscamerasrc sensor-id={sensor_id} ! "
            f"video/x-raw(memory:NVMM), width={sensor_width}, height={sensor_height}, "
            f"framerate={fps}/1, format=NV12 ! "
            f"nvvidconv flip-method={flip_method} ! video/x-raw, width={width}, height={height}, format=BGRx ! "
            "videoconvert ! video/x-raw, format=BGR ! appsink drop=true max-buffers=1 sync=false")


def opencv_has_gstreamer() -> bool:
    match = re.search(r"GStreamer:\s*(\S+)", cv2.getBuildInformation())
    return bool(match) and match.group(1).upper().startswith("YES")


class GStreamerSource(OpenCVCaptureSource):
    """Frames from a pipeline string that ends in `appsink`; a `gst:` prefix is accepted and removed.

    A live pipeline that hiccups is counted and retried like any camera (see FrameSource); a pipeline
    that reaches end-of-stream keeps failing reads and so ends in SourceError after `max_bad_reads`.
    """

    max_bad_reads = 100
    bad_read_delay_s = 0.05

    def __init__(self, pipeline: str) -> None:
        self.pipeline = pipeline.removeprefix("gst:").strip()
        super().__init__("gstreamer:" + self.pipeline.split("!")[0].strip())
        self._cap: cv2.VideoCapture | None = None

    def _open(self) -> None:
        if not self.pipeline:
            raise SourceError("empty GStreamer pipeline: give e.g. 'gst:videotestsrc ! videoconvert ! appsink'")
        if not opencv_has_gstreamer():
            raise SourceError("this OpenCV was built without GStreamer (the pip wheels are), so a pipeline "
                              "cannot be opened; on a Jetson use JetPack's OpenCV (python3-opencv) in a venv "
                              "made with --system-site-packages, or use a V4L2 camera (/dev/videoN)")
        if "appsink" not in self.pipeline:
            raise SourceError(f"GStreamer pipeline must end in appsink for OpenCV to receive frames: {self.pipeline}")
        cap = cv2.VideoCapture(self.pipeline, cv2.CAP_GSTREAMER)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot start GStreamer pipeline {self.pipeline!r}: try it with "
                              "`gst-launch-1.0` (appsink replaced by fakesink); for a CSI camera check "
                              "the ribbon cable and that nvargus-daemon runs (`sudo systemctl restart nvargus-daemon`)")
        self._cap = cap

    def describe(self) -> str:
        return f"GStreamer pipeline {self.pipeline}"
