"""The dashboard's history (edge/history/): SlidingCounts' buckets as a time series, the per-interval
aggregation (expression mix, no-face share, frame rate, latency percentiles), the bounded window on a fake
clock, its settings, GET /api/history (shape, auth like /api/status) and what the status says of the source."""
from __future__ import annotations

import numpy as np
import pytest

from edge.config import ConfigError, EdgeConfig, load_config
from edge.history.intervals import LABELS, LATENCY_EDGES_MS, History, histogram_percentile, latency_bin
from edge.history.settings import HistorySettings
from edge.pipeline import FaceResult, FrameResult
from edge.sessions.settings import EXPRESSIONS
from edge.sources import make_source
from edge.sources.info import DEMO_CLIP, source_info
from edge.state import LiveState
from edge.web.app import create_app
from edge.web.openapi import openapi_document
from edge.web.security import AccessPolicy
from edge.windows import SlidingCounts
from tests.conftest import ROOT

TOKEN = "history-token-0123456789abcdef"


def frame(labels: list[str], latency_ms: float = 20.0) -> FrameResult:
    faces = [FaceResult(i, (0, 0, 50, 50), 0.9, label, 0.8, dict.fromkeys(EXPRESSIONS, 1 / 7))
             for i, label in enumerate(labels)]
    return FrameResult(0, 0.0, 320, 240, faces, 0 if faces else None, {"total": latency_ms})


def history(window_minutes: float = 1.0, interval_s: float = 10.0, wall: float = 1_000_000.0) -> History:
    return History(HistorySettings(window_minutes=window_minutes, interval_s=interval_s), clock=lambda: 0.0,
                   wall=lambda: wall)


# ---- SlidingCounts' buckets ------------------------------------------------------------------------------------

def test_sliding_counts_buckets_are_a_time_series_of_the_window():
    counts = SlidingCounts(30, 2, bucket_s=10)
    for t, index in ((1.0, 0), (4.0, 0), (12.0, 1), (35.0, 0)):
        counts.add(t, index)
    # bucket [0, 10) ended 25 s before 35: still overlapping the window (5, 35]
    assert [(start, sums.tolist()) for start, sums in counts.buckets()] == [
        (0.0, [2, 0]), (10.0, [0, 1]), (30.0, [1, 0])]  # nothing was added in [20, 30): no bucket
    counts.evict(40.0)  # [0, 10) is out of (10, 40]
    assert [start for start, _ in counts.buckets()] == [10.0, 30.0] and counts.total.tolist() == [1, 1]
    counts.buckets()[0][1][:] = 99  # a copy: the window's sums are not the caller's
    assert counts.total.tolist() == [1, 1] and counts.buckets()[0][1].tolist() == [0, 1]


def test_sliding_counts_hold_a_bounded_number_of_buckets_whatever_the_rate():
    counts = SlidingCounts(60, 1, bucket_s=5)
    for i in range(100 * 600):  # ten minutes at 100 adds a second
        counts.add(i / 100, 0)
        if i % 997 == 0:
            assert len(counts.buckets()) <= 60 / 5 + 1
    # the window (539.99, 599.99] still overlaps the bucket [535, 540): 13 buckets of 500
    assert len(counts.buckets()) == 13 and counts.total[0] == 13 * 500


# ---- latency histogram -------------------------------------------------------------------------------------------

def test_latency_percentiles_from_the_histogram_are_within_5_percent():
    rng = np.random.default_rng(7)
    for values in (rng.lognormal(np.log(18), 0.4, 900), rng.uniform(2, 120, 300), np.full(50, 33.0),
                   np.r_[np.full(90, 10.0), np.full(10, 400.0)]):
        counts = np.zeros(len(LATENCY_EDGES_MS) - 1)
        for v in values:
            counts[latency_bin(v)] += 1
        for q in (0.5, 0.95):
            assert histogram_percentile(counts, q) == pytest.approx(np.percentile(values, q * 100), rel=0.05)
    assert histogram_percentile(np.zeros(len(LATENCY_EDGES_MS) - 1), 0.5) is None
    # out of range: the first or the last bin
    assert latency_bin(0.0) == 0 and latency_bin(1e9) == len(LATENCY_EDGES_MS) - 2


# ---- aggregation -------------------------------------------------------------------------------------------------

def test_an_interval_counts_frames_faces_expressions_and_latency():
    h = history()
    t = 0.0
    for i in range(300):  # 10 s at 30 fps: two faces a frame, or none
        labels = [] if i % 10 == 0 else ["happy", "neutral" if i % 3 else "uncertain"]
        h.observe(frame(labels, latency_ms=10.0 + i % 20), now=t)
        t += 1 / 30
    assert h.snapshot(now=9.99)["points"] == []  # the interval is not complete yet
    snap = h.snapshot(now=10.5)
    assert snap["interval_s"] == 10 and snap["window_s"] == 60 and snap["labels"] == list(LABELS)
    [point] = snap["points"]
    assert point["frames"] == 300 and point["fps"] == pytest.approx(30, abs=0.01) and point["seconds"] == 10
    assert point["no_face"] == 0.1 and point["faces"] == 540
    shares = point["shares"]
    assert set(shares) == {*EXPRESSIONS, "uncertain"} and sum(shares.values()) == pytest.approx(1, abs=1e-3)
    assert shares["happy"] == 0.5 and shares["uncertain"] == pytest.approx(90 / 540, abs=1e-4)
    assert shares["neutral"] == pytest.approx(180 / 540, abs=1e-4) and shares["sad"] == 0
    latencies = [10.0 + i % 20 for i in range(300)]
    assert point["latency_ms"]["p50"] == pytest.approx(np.percentile(latencies, 50), rel=0.05)
    assert point["latency_ms"]["p95"] == pytest.approx(np.percentile(latencies, 95), rel=0.05)
    assert point["ago_s"] == 10.5 and point["time"] == 1_000_000.0 - 10.5


def test_the_first_interval_counts_from_the_first_frame_and_an_outage_reads_as_no_frames():
    h = history()
    for i in range(60):  # frames from 4 s into the first interval, 10 fps
        h.observe(frame(["sad"]), now=4.0 + i / 10)
    # then nothing from 10 s to 30 s (the camera was down), then frames again
    for i in range(100):
        h.observe(frame([]), now=30.0 + i / 10)
    points = h.snapshot(now=41.0)["points"]
    assert [p["frames"] for p in points] == [60, 0, 0, 100]
    assert points[0]["seconds"] == 6 and points[0]["fps"] == 10 and points[0]["shares"]["sad"] == 1
    gap = points[1]
    assert gap["fps"] == 0 and gap["faces"] == 0 and gap["no_face"] is None and gap["shares"] is None
    assert gap["latency_ms"] is None
    assert points[3]["no_face"] == 1 and points[3]["shares"] is None and points[3]["latency_ms"]["p50"] > 0
    assert [p["ago_s"] for p in points] == [41, 31, 21, 11]


def test_a_first_interval_seen_for_under_half_its_length_is_left_out():
    h = history()
    for i in range(260):  # the first frames 0.2 s before the first interval ends, then on at 24 fps
        h.observe(frame(["happy"]), now=9.8 + i / 24)
    points = h.snapshot(now=21.0)["points"]
    assert [p["ago_s"] for p in points] == [11]  # not a 2-frame "interval" at 5 x the real rate
    assert points[0]["fps"] == 24


def test_the_window_never_holds_more_than_its_length_and_forgets_what_is_older():
    h = history(window_minutes=2, interval_s=10)
    fps = 5
    for i in range(3 * 3600 * fps):  # three hours at 5 fps
        now = i / fps
        h.observe(frame(["angry"] if now < 3 * 3600 - 60 else ["fear"]), now=now)
        if i % 4999 == 0:
            assert len(h._counts.buckets()) <= 120 / 10 + 1  # constant memory: a bucket an interval, no more
    points = h.snapshot(now=3 * 3600.0)["points"]
    assert len(points) == 12 and points[0]["ago_s"] == 120 and points[-1]["ago_s"] == 10  # exactly 2 minutes
    assert [p["shares"]["fear"] for p in points] == [0] * 6 + [1] * 6
    assert h.snapshot(now=3 * 3600 + 121.0)["points"][-1]["frames"] == 0  # nothing new: empty intervals
    assert all(p["frames"] == 0 for p in h.snapshot(now=3 * 3600 + 500.0)["points"])  # the old ones are gone


def test_a_label_that_is_no_expression_counts_as_a_face_only():
    h = history()
    h.observe(frame(["contempt", "happy"]), now=1.0)
    point = h.snapshot(now=10.0)["points"][0]
    assert point["faces"] == 2 and point["shares"]["happy"] == 0.5 and sum(point["shares"].values()) == 0.5


def test_a_snapshot_is_the_callers_and_the_interval_is_summed_once():
    h = history()
    h.observe(frame(["happy"]), now=1.0)
    first = h.snapshot(now=10.0)
    first["points"][0]["shares"]["happy"] = 0.0
    again = h.snapshot(now=12.0)
    assert again["points"][0]["shares"]["happy"] == 1 and again["points"][0]["ago_s"] == 12


# ---- settings ------------------------------------------------------------------------------------------------------

def test_settings_bound_the_window_to_an_hour_and_the_points_to_720(tmp_path):
    assert EdgeConfig().history == HistorySettings(window_minutes=60, interval_s=10)
    config = tmp_path / "edge.toml"
    for text, error in (("window_minutes = 61", r"history\.window_minutes: .*less than or equal to 60"),
                        ("interval_s = 0.5", r"history\.interval_s: .*greater than or equal to 1"),
                        ("window_minutes = 0.01\ninterval_s = 10", "longer than the window"),
                        ("window_minutes = 60\ninterval_s = 2", "1800 points; at most 720"),
                        ("minutes = 5", r"history\.minutes: Extra inputs are not permitted")):
        config.write_text(f"[history]\n{text}\n")
        with pytest.raises(ConfigError, match=error):
            load_config(config, {})
    config.write_text("[history]\nwindow_minutes = 5\ninterval_s = 1\n")
    assert load_config(config, {}).history.interval_s == 1


# ---- GET /api/history ----------------------------------------------------------------------------------------------

def test_the_endpoint_serves_the_snapshot_and_needs_a_login_like_the_status():
    state = LiveState()
    client = create_app(state).test_client()
    answer = client.get("/api/history")
    assert answer.status_code == 503 and "has not started" in answer.get_json()["error"]
    clock = [0.0]
    h = History(HistorySettings(window_minutes=1, interval_s=1), clock=lambda: clock[0])
    state.report("history", h.snapshot)  # as the daemon composes it
    for i in range(90):
        clock[0] = i / 30
        h.observe(frame(["happy"]))
    body = client.get("/api/history").get_json()
    assert body["interval_s"] == 1 and [p["frames"] for p in body["points"]] == [30, 30]
    assert body["points"][0]["shares"]["happy"] == 1 and body["points"][0]["latency_ms"]["p95"] > 0
    assert client.get("/api/history").headers["Cache-Control"] == "no-store"

    guarded = create_app(state, access=AccessPolicy(TOKEN)).test_client()
    for path in ("/api/history", "/api/status"):
        answer = guarded.get(path)
        assert answer.status_code == 401 and "Authorization: Bearer" in answer.get_json()["error"], path
        assert guarded.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200, path


def test_the_openapi_document_lists_the_history_as_a_read():
    for token in (True, False):
        operation = openapi_document(token)["paths"]["/api/history"]["get"]
        status = openapi_document(token)["paths"]["/api/status"]["get"]
        assert operation["security"] == status["security"] and set(operation["responses"]) >= {"200", "503"}
    schema = openapi_document(True)["components"]["schemas"]["HistoryPoint"]["properties"]
    assert set(schema["shares"]["properties"]) == set(LABELS) and "p95" in schema["latency_ms"]["properties"]


# ---- what the status says of the source ----------------------------------------------------------------------------

def test_the_source_says_whether_it_is_a_camera_or_a_recording(tmp_path):
    clip = ROOT / "media/demo.mp4"
    assert DEMO_CLIP == clip.resolve() and clip.is_file()
    bundled = source_info(make_source(str(clip)), None)
    assert bundled == {"kind": "video file", "demo": True, "bundled_demo": True, "fallback": None}
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames/a.jpg").write_bytes(b"")
    folder = source_info(make_source(str(tmp_path / "frames")), "/dev/video0 could not be opened (gone)")
    assert folder == {"kind": "image folder", "demo": True, "bundled_demo": False,
                      "fallback": "/dev/video0 could not be opened (gone)"}
    drill = source_info(make_source(f"faults:{tmp_path / 'control'}:{clip}"), None)
    assert drill["kind"] == "video file" and drill["demo"] is True
    camera = source_info(make_source("/dev/video9"), None)  # not opened: the kind is the spec's
    assert camera == {"kind": "camera", "demo": False, "bundled_demo": False, "fallback": None}
    state = LiveState()
    assert state.status()["source_info"] is None  # before the source opened
    state.report("source", lambda: bundled)
    assert state.status()["source_info"]["demo"] is True
