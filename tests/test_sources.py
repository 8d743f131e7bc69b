"""Frame sources on real OpenCV code paths: a synthetic MJPG clip and PNG folders written to tmp_path."""
from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.sources import (
    Frame,
    FrameSource,
    ImageFolderSource,
    LatestFrameReader,
    SourceError,
    V4L2Source,
    VideoFileSource,
    make_source,
    nvargus_pipeline,
    open_source,
)
from edge.sources import v4l2 as v4l2_module
from edge.sources.buffers import FrameBuffers
from edge.sources.gstreamer import GStreamerSource, opencv_has_gstreamer

W, H, FPS, N = 64, 48, 30, 30


def frame_image(i: int) -> np.ndarray:
    image = np.zeros((H, W, 3), np.uint8)
    image[:, :, 1] = 8 * i % 256  # brightness encodes the frame number, robust to JPEG loss
    return image


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    assert writer.isOpened()
    for i in range(N):
        writer.write(frame_image(i))
    writer.release()
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"img{i:02d}.png"), frame_image(i))
    return tmp_path


def test_video_reads_every_frame_in_order(clip: Path) -> None:
    with VideoFileSource(clip, realtime=False) as source:
        frames = list(source)
        assert source.ended and source.read() is None
    assert len(frames) == N
    assert [f.index for f in frames] == list(range(N))
    assert all(f.image.shape == (H, W, 3) and f.image.dtype == np.uint8 for f in frames)
    assert abs(int(frames[10].image[..., 1].mean()) - 80) <= 6
    assert all(a.timestamp <= b.timestamp for a, b in zip(frames, frames[1:]))
    assert frames[0].source == source.name


def test_video_loops_with_increasing_index(clip: Path) -> None:
    with VideoFileSource(clip, loop=True, realtime=False) as source:
        frames = [source.read() for _ in range(N + 5)]
    assert all(f is not None for f in frames)
    assert [f.index for f in frames] == list(range(N + 5))  # type: ignore[union-attr]
    assert source.loops_done == 1
    assert abs(int(frames[N].image[..., 1].mean()) - 0) <= 6  # type: ignore[union-attr]


def test_video_decodes_into_a_buffer_again_once_nothing_holds_it(clip: Path) -> None:
    addresses, brightness = set(), []
    with VideoFileSource(clip, realtime=False) as source:
        while (frame := source.read()) is not None:  # each frame dropped before the next read, as the daemon does
            addresses.add(frame.image.ctypes.data)
            brightness.append(int(frame.image[..., 1].mean()))
            del frame
    assert len(brightness) == N and all(abs(b - 8 * i % 256) <= 6 for i, b in enumerate(brightness))
    assert len(addresses) <= 2  # not one new array per frame


def test_video_never_decodes_over_a_frame_or_view_still_held(clip: Path) -> None:
    with VideoFileSource(clip, realtime=False) as source:
        kept = [source.read() for _ in range(3)]
        view = source.read().image[::2, ::2]  # type: ignore[union-attr]  # only a view of frame 3 survives
        expected = [f.image.copy() for f in kept] + [view.copy()]  # type: ignore[union-attr]
        for _ in range(10):
            assert source.read() is not None
    assert all(np.array_equal(f.image, e) for f, e in zip(kept, expected))  # type: ignore[union-attr]
    assert np.array_equal(view, expected[-1]) and abs(int(view[..., 1].mean()) - 24) <= 6


class SizedCapture:
    """cv2.VideoCapture's read(): into the array given when its size fits, else a new array."""

    def __init__(self, shapes: list[tuple[int, int, int]]) -> None:
        self.shapes, self.reads = shapes, 0

    def read(self, image: np.ndarray | None = None) -> tuple[bool, np.ndarray]:
        shape = self.shapes[min(self.reads, len(self.shapes) - 1)]
        self.reads += 1
        if image is None or image.shape != shape:
            image = np.empty(shape, np.uint8)
        image[...] = self.reads % 256
        return True, image


def test_frame_buffers_keep_at_most_a_few_and_follow_a_new_frame_size() -> None:
    buffers = FrameBuffers(most=3)
    cap = SizedCapture([(4, 4, 3)] * 5 + [(8, 8, 3)])
    held = [buffers.read(cap) for _ in range(5)]  # all held: five arrays, three of them kept for later
    assert len({a.ctypes.data for a in held}) == 5 and [int(a[0, 0, 0]) for a in held] == [1, 2, 3, 4, 5]
    del held
    first = buffers.read(cap)  # a new size: no kept buffer fits
    assert first.shape == (8, 8, 3)
    address = first.ctypes.data
    del first
    assert buffers.read(cap).ctypes.data == address  # the same size again, and nothing holds it


def test_video_realtime_pacing_and_fast_mode(clip: Path) -> None:
    with VideoFileSource(clip, realtime=True) as source:
        assert source.fps == pytest.approx(FPS)
        start = time.monotonic()
        for _ in range(10):
            assert source.read() is not None
        paced = time.monotonic() - start
    assert paced >= 0.8 * 9 / FPS  # lower bound only: a loaded machine may be slower, never faster
    with VideoFileSource(clip, realtime=False) as source:
        start = time.monotonic()
        assert len(list(source)) == N
        fast = time.monotonic() - start
    assert fast < 0.5 * (N - 1) / FPS


def test_folder_source_sorted_loop_and_fps(folder: Path) -> None:
    with ImageFolderSource(folder) as source:
        frames = list(source)
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert [round(f.image[..., 1].mean()) for f in frames] == [0, 8, 16, 24]
    with ImageFolderSource(folder, loop=True, fps=50) as source:
        start = time.monotonic()
        frames = [source.read() for _ in range(6)]
        assert time.monotonic() - start >= 0.8 * 5 / 50
    assert [f.index for f in frames] == list(range(6))  # type: ignore[union-attr]


def test_folder_skips_unreadable_file(folder: Path) -> None:
    (folder / "img01b.png").write_bytes(b"this is not a png")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    with ImageFolderSource(folder, loop=True) as source:
        frames = [source.read() for _ in range(8)]
    assert all(f is not None for f in frames)
    assert source.unreadable == {folder / "img01b.png"}  # named at open (its header), then left out
    assert source.read_errors == 0 and folder / "img01b.png" not in source.files


def test_folder_without_images_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="has no"):
        ImageFolderSource(tmp_path).open()


class ListSource(FrameSource):
    """Hands out prepared images (None or broken ones included), quickly or at a fixed period."""

    def __init__(self, images: list, period: float = 0.0) -> None:
        super().__init__("list")
        self.images, self.period = list(images), period

    def _open(self) -> None:
        pass

    def _grab(self) -> np.ndarray | None:
        if not self.images:
            self.ended = True
            return None
        time.sleep(self.period)
        return self.images.pop(0)


def test_broken_frames_are_counted_not_fatal() -> None:
    good = np.zeros((4, 4), np.uint8)
    broken = [None, np.zeros((4, 4), np.float32), np.zeros((4, 4, 2), np.uint8), np.zeros((0, 4, 3), np.uint8)]
    with ListSource([good, *broken, good]) as source:
        frames = list(source)
    assert [f.index for f in frames] == [0, 1]
    assert source.read_errors == 4
    source = ListSource([None] * 50)
    source.max_bad_reads = 5
    with source, pytest.raises(SourceError, match="5 broken frames in a row"):
        source.read()


def test_latest_reader_drops_stale_frames_and_never_repeats() -> None:
    images = [np.full((8, 8), i % 256, np.uint8) for i in range(300)]
    reader = LatestFrameReader(ListSource(images, period=0.001)).start()
    seen = []
    while (frame := reader.get(timeout=2.0)) is not None:
        seen.append(frame.index)
        time.sleep(0.01)  # a consumer much slower than capture
    assert reader.ended and reader.last_error is None
    assert seen == sorted(set(seen)) and len(seen) >= 2
    assert reader.dropped > 0
    assert reader.captured == 300 == reader.dropped + reader.taken
    assert seen[-1] == 299  # the last frame before the end is still delivered
    start = time.monotonic()
    assert reader.get(timeout=1.0) is None
    assert time.monotonic() - start < 0.5  # an ended source does not make get() wait out its timeout
    assert reader.stop() and not reader.running
    assert not reader.source.is_open


def test_latest_reader_stop_joins_a_live_source() -> None:
    reader = LatestFrameReader(ListSource([np.zeros((2, 2), np.uint8)] * 10_000, period=0.002)).start()
    first = reader.get(timeout=2.0)
    second = reader.get(timeout=2.0)
    assert first is not None and second is not None and second.index > first.index
    assert reader.stop(timeout=2.0)
    assert not reader.running and not reader.ended and reader.last_error is None
    assert reader.source.read_errors == 0 and not reader.source.is_open


def test_latest_reader_records_source_error() -> None:
    source = ListSource([None] * 10)
    source.max_bad_reads = 3
    reader = LatestFrameReader(source).start()
    assert reader.get(timeout=2.0) is None
    assert reader.stop()
    assert "3 broken frames" in (reader.last_error or "")


def test_open_source_dispatch(tmp_path: Path, clip: Path, folder: Path) -> None:
    video = open_source(str(clip), realtime=False, width=320)  # options other kinds take are ignored
    assert isinstance(video, VideoFileSource) and video.is_open and not video.realtime
    video.close()
    images = open_source(folder, loop=True)
    assert isinstance(images, ImageFolderSource) and images.loop
    images.close()
    assert isinstance(make_source(0), V4L2Source)
    assert make_source("2").device == "/dev/video2"  # type: ignore[attr-defined]
    assert isinstance(make_source("gst:videotestsrc ! appsink"), GStreamerSource)
    assert isinstance(make_source("videotestsrc ! videoconvert ! appsink"), GStreamerSource)
    with pytest.raises(SourceError, match="unknown source option"):
        make_source(clip, lop=True)


def test_open_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"/dev/video99.*plugged in"):
        open_source("/dev/video99")
    with pytest.raises(SourceError, match="no such file"):
        open_source(tmp_path / "missing.mp4")
    with pytest.raises(SourceError, match="empty"):
        open_source("  ")
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"\0" * 64)
    with pytest.raises(SourceError, match="cannot open video file"):
        open_source(bogus)


@pytest.mark.skipif(importlib.util.find_spec("picamera2") is not None, reason="picamera2 is installed here")
def test_picamera2_missing_is_a_clear_error() -> None:
    with pytest.raises(SourceError, match=r"picamera2 is not importable.*python3-picamera2"):
        open_source("picamera2")


@pytest.mark.skipif(opencv_has_gstreamer(), reason="this OpenCV has GStreamer")
def test_gstreamer_without_support_is_a_clear_error() -> None:
    with pytest.raises(SourceError, match="without GStreamer"):
        open_source("gst:videotestsrc ! videoconvert ! appsink")


def test_nvargus_pipeline_string() -> None:
    pipeline = nvargus_pipeline(320, 240, 15, sensor_id=1)
    assert pipeline.startswith("nvarguscamerasrc sensor-id=1 !")
    assert "width=320, height=240" in pipeline and "framerate=15/1" in pipeline
    assert pipeline.endswith("appsink drop=true max-buffers=1 sync=false")


class FlakyCapture:
    """Stands in for a camera's cv2.VideoCapture: no camera exists on the test machines."""

    def __init__(self, target: object, api: int) -> None:
        self.reads = [(True, np.zeros((H, W, 3), np.uint8)), (False, None), (True, np.zeros((1, 1, 4), np.uint8)),
                      (True, np.ones((H, W, 3), np.uint8))]

    def isOpened(self) -> bool:
        return True

    def set(self, prop: int, value: float) -> bool:
        return True

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FRAME_WIDTH: W, cv2.CAP_PROP_FRAME_HEIGHT: H, cv2.CAP_PROP_FPS: FPS}.get(prop, 0)

    def read(self, image: np.ndarray | None = None) -> tuple[bool, np.ndarray | None]:
        return self.reads.pop(0) if self.reads else (False, None)  # a new array each time, as for a new size

    def release(self) -> None:
        pass


def test_v4l2_keeps_going_over_broken_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(v4l2_module.cv2, "VideoCapture", FlakyCapture)
    device = tmp_path / "video0"
    device.touch()
    source = V4L2Source(str(device))
    source.bad_read_delay_s = 0.0
    source.max_bad_reads = 4
    with source:
        assert source.actual == (W, H, FPS)
        first, second = source.read(), source.read()
        assert isinstance(first, Frame) and isinstance(second, Frame)
        assert second.index == 1 and int(second.image.max()) == 1
        assert source.read_errors == 2
        with pytest.raises(SourceError, match="broken frames in a row"):
            source.read()


def test_a_truncated_video_says_so(tmp_path, caplog):
    from edge.sources.video import VideoFileSource
    demo = Path(__file__).resolve().parents[1] / "media/demo.mp4"
    cut = tmp_path / "cut.mp4"
    data = demo.read_bytes()
    cut.write_bytes(data[:int(len(data) * 0.9)])  # an interrupted copy: the header still lists every frame
    source = VideoFileSource(cut, realtime=False)
    source.open()
    frames = 0
    with caplog.at_level("WARNING"):
        while source.read() is not None:
            frames += 1
    assert 0 < frames < source.frame_count and source.truncated_at == frames
    assert f"ended after {frames} of the {source.frame_count} frames" in caplog.text and "truncated" in caplog.text
    assert "truncated: ends after" in source.describe()
    whole = VideoFileSource(demo, realtime=False)
    whole.open()
    while whole.read() is not None:
        pass
    assert whole.truncated_at is None


def test_an_image_folder_names_what_it_skips_and_refuses_when_nothing_is_readable(tmp_path, caplog):
    from edge.sources.folder import ImageFolderSource
    (tmp_path / "notes.jpg").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(SourceError, match=r"none of its 2 files is an image OpenCV can read \(empty.png, notes.jpg\)"):
        ImageFolderSource(tmp_path).open()
    cv2.imwrite(str(tmp_path / "face.png"), np.zeros((8, 8, 3), np.uint8))
    source = ImageFolderSource(tmp_path)
    with caplog.at_level("WARNING"):
        source.open()
    assert [p.name for p in source.files] == ["face.png"]
    assert "skipping 2 file(s) that are not readable images: empty.png, notes.jpg" in caplog.text
