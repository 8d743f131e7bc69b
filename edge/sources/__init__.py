"""Frame sources for the daemon: video file, image folder, V4L2, GStreamer, Raspberry Pi CSI camera.

`open_source(spec, **options)` picks the implementation from one string, so the CLI and the config
file need a single `source` setting:

    path/to/clip.mp4          an existing file       -> VideoFileSource (loop, realtime)
    path/to/folder            an existing directory  -> ImageFolderSource (loop, fps)
    0, /dev/video0, /dev/...  a camera number/device -> V4L2Source (width, height, fps, fourcc)
    gst:... or 'a ! b ! appsink'                     -> GStreamerSource
    picamera2, picamera2:1    Raspberry Pi CSI camera -> Picamera2Source (width, height, fps, main_size)
    faults:CONTROL:SPEC       SPEC, misbehaving on command -> FaultInjectingSource (soak tests, drills)

Options a chosen source does not take are ignored, so one config (e.g. width, height, fps, loop)
serves every kind of source; an option no source knows is an error, to catch typos.
"""
from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

from edge.sources.base import Frame, FrameSource, SourceError, image_problem
from edge.sources.faults import FaultInjectingSource
from edge.sources.folder import ImageFolderSource
from edge.sources.gstreamer import GStreamerSource, nvargus_pipeline
from edge.sources.latest import LatestFrameReader
from edge.sources.picamera2 import Picamera2Source
from edge.sources.v4l2 import V4L2Source
from edge.sources.video import VideoFileSource
from edge.sources.watchdog import CameraWatchdog

__all__ = ["Frame", "FrameSource", "SourceError", "image_problem", "CameraWatchdog", "FaultInjectingSource",
           "ImageFolderSource", "GStreamerSource", "nvargus_pipeline", "LatestFrameReader", "Picamera2Source",
           "V4L2Source", "VideoFileSource", "make_source", "open_source"]

SPEC_HELP = ("a source is a video file, an image folder, a camera number or /dev/videoN, "
             "'picamera2[:N]' for a Raspberry Pi CSI camera, or a GStreamer pipeline ('gst:... ! appsink')")

_KINDS: tuple[type[FrameSource], ...] = (VideoFileSource, ImageFolderSource, V4L2Source, GStreamerSource,
                                         Picamera2Source)


def _keyword_options(cls: type[FrameSource]) -> set[str]:
    return {p.name for p in inspect.signature(cls).parameters.values() if p.kind is p.KEYWORD_ONLY}


def _build(cls: type[FrameSource], target: Any, options: dict[str, Any]) -> FrameSource:
    accepted = _keyword_options(cls)
    return cls(target, **{k: v for k, v in options.items() if k in accepted})  # type: ignore[call-arg]


def make_source(spec: str | int | Path, **options: Any) -> FrameSource:
    """The source `spec` names, not opened yet; SourceError when the spec names nothing."""
    known = set().union(*(_keyword_options(cls) for cls in _KINDS))
    unknown = sorted(set(options) - known)
    if unknown:
        raise SourceError(f"unknown source option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if isinstance(spec, bool):
        raise SourceError(f"source spec {spec!r} is not valid; {SPEC_HELP}")
    if isinstance(spec, int):
        return _build(V4L2Source, spec, options)
    text = str(spec).strip()
    if not text:
        raise SourceError(f"empty source spec; {SPEC_HELP}")
    if text.startswith("faults:"):
        control, _, inner = text.removeprefix("faults:").partition(":")
        if not control or not inner:
            raise SourceError(f"fault-injection spec {text!r} must be 'faults:CONTROL_FILE:SOURCE_SPEC'")
        return FaultInjectingSource(make_source(inner, **options), control)
    if text.startswith("gst:") or "!" in text:
        return GStreamerSource(text)
    if picam := re.fullmatch(r"picamera2(?::(\d+))?", text, flags=re.IGNORECASE):
        return _build(Picamera2Source, int(picam.group(1) or 0), options)
    # /dev/v4l/by-id/... links name a camera stably across reboots; they are device nodes, not files.
    if text.isdigit() or text.startswith("/dev/"):
        return _build(V4L2Source, text, options)
    path = Path(text).expanduser()
    if path.is_dir():
        return _build(ImageFolderSource, path, options)
    if path.is_file():
        return _build(VideoFileSource, path, options)
    raise SourceError(f"no such file, folder or camera: {text!r}; check the path. {SPEC_HELP}")


def open_source(spec: str | int | Path, **options: Any) -> FrameSource:
    """make_source() and open(): a source that is returned is ready to read()."""
    source = make_source(spec, **options)
    source.open()
    return source
