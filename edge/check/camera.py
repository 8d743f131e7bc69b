"""Camera: the configured source opens and delivers fresh, changing, not-black frames within a deadline."""
from __future__ import annotations

import time
from pathlib import Path

from edge.check.context import Context
from edge.check.host import service_state
from edge.check.result import FAIL, PASS, WARN, Result
from edge.sources import Frame, FrameSource, ImageFolderSource, LatestFrameReader, SourceError, VideoFileSource

FRAMES_NEEDED = 10
DEADLINE_S = 5.0  # after open; auto-exposure and a USB camera's first frames take a second or two
BLACK_BELOW = 8  # mean brightness (0..255) of a covered lens or a dead sensor, noise included
DARK_BELOW = 30  # a lit face is far brighter; the detector misses faces in a scene this dark
SLOW_SHARE = 0.5  # a camera under half of the requested fps: bandwidth, light or format problems


def check_camera(ctx: Context) -> Result:
    s = ctx.config.source
    options = {"loop": s.loop, "realtime": s.realtime, "width": s.width, "height": s.height, "fps": s.fps}
    try:
        source = ctx.open_source(s.spec, **options)
    except SourceError as e:
        return _not_opened(ctx, s.spec, str(e))
    recording = isinstance(source, (VideoFileSource, ImageFolderSource))
    reader, frames, elapsed = _capture(source)
    what = source.describe()
    data = {"source": what, "camera": not recording, "frames": len(frames), "seconds": round(elapsed, 2),
            "captured": reader.captured, "fresh": reader.fresh, "repeated": reader.repeated}
    if len(frames) < FRAMES_NEEDED:
        why = reader.last_error or ("the source ended" if reader.ended else "no error, just no frames")
        if not recording and (held := _held_by_service(ctx, s.spec, why)):
            return held
        return Result("camera", FAIL, f"{what}: only {len(frames)} of {FRAMES_NEEDED} frames within "
                      f"{DEADLINE_S:g} s ({why}): reseat the cable, try another USB port, and check "
                      "`v4l2-ctl --list-devices` (or `rpicam-hello --list-cameras` for a CSI camera)", data)
    ordered = all(b.index > a.index and b.timestamp > a.timestamp for a, b in zip(frames, frames[1:]))
    if not ordered:
        return Result("camera", FAIL, f"{what}: frames repeat (indexes or timestamps do not advance): "
                      "the capture driver hands out old buffers; update the OS and reconnect the camera", data)
    if reader.fresh < 2:
        return Result("camera", FAIL, f"{what}: stale frames: {reader.repeated} of {reader.captured} frames "
                      "repeat the previous image exactly, a live sensor never does: the camera is frozen; "
                      "unplug and replug it (or reboot), then rerun", data)
    brightness = max(float(f.image.mean()) for f in frames)
    rate = (frames[-1].index - frames[0].index) / (frames[-1].timestamp - frames[0].timestamp)
    size = f"{frames[-1].size[0]}x{frames[-1].size[1]}"
    data.update(brightness=round(brightness, 1), fps=round(rate, 1), size=size)
    ctx.frame = frames[-1].image
    found = (f"{what}: {len(frames)} frames in {elapsed:.1f} s ({rate:.1f} fps), {size}, "
             f"mean brightness {brightness:.0f}/255")
    if brightness < BLACK_BELOW:
        return Result("camera", FAIL, f"{found}: all frames are black: remove the lens cap or cover, check "
                      "the ribbon cable's orientation (CSI) and that the lens is screwed in", data)
    problems = []
    if reader.repeated > reader.captured / 2:
        problems.append(f"{reader.repeated} of {reader.captured} frames repeat the previous image")
    if brightness < DARK_BELOW:
        problems.append("the scene is very dark: light the booth's seat from the front")
    if not recording and rate < SLOW_SHARE * s.fps:
        problems.append(f"under half the requested {s.fps} fps: use a USB 3 port or MJPG, add light "
                        "(long exposures slow cameras down)")
    if problems:
        return Result("camera", WARN, f"{found}; " + "; ".join(problems), data)
    if recording:
        return Result("camera", PASS, f"{found} (a recording, not a live camera: set source.spec to "
                      "/dev/video0 or picamera2 on a booth)", data)
    return Result("camera", PASS, found, data)


def _capture(source: FrameSource) -> tuple[LatestFrameReader, list[Frame], float]:
    """Up to FRAMES_NEEDED frames within DEADLINE_S, through the daemon's own capture thread."""
    reader = LatestFrameReader(source).start()
    frames, start = [], time.monotonic()
    try:
        while len(frames) < FRAMES_NEEDED and (left := start + DEADLINE_S - time.monotonic()) > 0:
            frame = reader.get(timeout=left)
            if frame is None and (reader.ended or reader.last_error):
                break
            if frame is not None:
                frames.append(frame)
    finally:
        reader.stop()  # a capture stuck in the driver stays behind as a daemon thread
    return reader, frames, time.monotonic() - start


def _not_opened(ctx: Context, spec: str, error: str) -> Result:
    is_file = Path(spec).exists() and not spec.startswith("/dev/")
    held = None if is_file else _held_by_service(ctx, spec, error)
    return held or Result("camera", FAIL, f"camera not found or not usable: {error}",
                          {"source": spec, "error": error})


def _held_by_service(ctx: Context, spec: str, error: str) -> Result | None:
    """V4L2 and libcamera stream to one process at a time: while the service runs, it holds the camera."""
    state = service_state(ctx.system)
    if not state or state.get("ActiveState") != "active":
        return None
    return Result("camera", WARN, f"{spec}: cannot capture while the fer-edge service runs ({error}); the "
                  "dashboard row shows the service's own camera health; to test the camera directly: "
                  "sudo systemctl stop fer-edge, rerun, sudo systemctl start fer-edge",
                  {"source": spec, "error": error, "held_by_service": True})
