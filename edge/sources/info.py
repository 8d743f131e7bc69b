"""What the dashboard says about the running source: a live camera or a recording (a demo), and why a
fallback runs."""
from __future__ import annotations

from pathlib import Path

from edge.sources import FaultInjectingSource, FrameSource, GStreamerSource, ImageFolderSource, VideoFileSource

DEMO_CLIP = Path(__file__).resolve().parents[2] / "media" / "demo.mp4"


def source_info(source: FrameSource, fallback: str | None) -> dict:
    """What the dashboard says about the source: a live camera, or a recorded file or folder (a demo: the
    expressions shown are the recording's), whether it is the bundled demo clip, and why a fallback runs."""
    while isinstance(source, FaultInjectingSource):  # a drill: what matters is the source under it
        source = source.inner
    kinds = {VideoFileSource: "video file", ImageFolderSource: "image folder", GStreamerSource: "pipeline"}
    kind = next((name for cls, name in kinds.items() if isinstance(source, cls)), "camera")
    path = getattr(source, "path", None)
    return {"kind": kind, "demo": kind in ("video file", "image folder"),
            "bundled_demo": path is not None and Path(path).resolve() == DEMO_CLIP, "fallback": fallback}
