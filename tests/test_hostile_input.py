"""Hostile input everywhere it can enter: HTTP requests to the real waitress-served app, frames through the
real pipeline (shipped models), detector outputs, model files and config files. Every case ends in a clear
4xx / ValueError / ModelLoadError / ConfigError, or a sane result; never a 5xx, a crash or a traceback."""
import math
import socket
import subprocess
import sys

import cv2
import numpy as np
import pytest

from edge.blazeface import BoxDecoder, ssd_anchors
from edge.config import ConfigError, EdgeConfig, load_config
from edge.crop import CropSpec, face_crop
from edge.detector import FaceDetector
from edge.emotion import EmotionModel
from edge.faces import Face
from edge.manifest import model_entry
from edge.pipeline import Pipeline
from edge.tflite import ModelLoadError
from edge.web.security import AccessPolicy
from tests.conftest import ROOT
from tests.helpers.served import Served, csrf

# ---- HTTP ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    served = Served(tmp_path_factory.mktemp("hostile"), AccessPolicy(None))
    yield served
    served.close()


SID = "0" * 32
JSON = "application/json"


@pytest.mark.parametrize("method, path, body, content_type, status, message", [
    ("POST", "/api/sessions", b"{", JSON, 400, "not valid JSON"),
    ("POST", "/api/sessions", b"[" * 50_000, JSON, 400, "nested too deeply"),
    ("POST", "/api/sessions", b'{"alias": "\\ud800"}', JSON, 400, "lone surrogate"),
    ("POST", "/api/sessions", b'{"alias": "\xff\xfe"}', JSON, 400, "not valid JSON"),
    ("POST", "/api/sessions", b"\x00\x01\x02", JSON, 400, "not valid JSON"),
    ("POST", "/api/sessions", b"null", JSON, 400, "must be a JSON object"),
    ("POST", "/api/sessions", b'"alias"', JSON, 400, "must be a JSON object"),
    ("POST", "/api/sessions", b'{"alias": {"$gt": ""}}', JSON, 400, "alias: Input should be a valid string"),
    ("POST", "/api/sessions", b'{"questions": [1, 2]}', JSON, 400, "questions.0: Input should be a valid string"),
    ("POST", "/api/sessions", b'{"alias": "x", "alias": 5}', JSON, 400, "alias: Input should be a valid string"),
    ("POST", "/api/sessions", b'{"alias": "Kim"}', "text/plain", 415, "Content-Type: application/json"),
    ("POST", "/api/sessions", b"alias=Kim", "application/x-www-form-urlencoded", 415, "application/json"),
    ("POST", "/api/sessions", b"x" * 70_000, JSON, 413, "request body over 65536 bytes"),
    ("POST", f"/api/sessions/{SID}/questions", b'{"index": 1e999}', JSON, 404, "no session with id"),
    ("GET", "/api/sessions?limit=%C2%B2", None, None, 400, "limit must be an integer from 1 to 200"),  # "²"
    ("GET", "/api/sessions?limit=" + "9" * 5000, None, None, 400, "limit must be an integer"),
    ("GET", "/api/sessions?limit=%FF", None, None, 400, "limit must be an integer"),
    ("GET", "/api/sessions?limit=1e2", None, None, 400, "limit must be an integer"),
    ("GET", f"/api/sessions/{SID}/export?format=%00", None, None, 400, "format must be json or csv"),
    ("GET", "/api/sessions/%00", None, None, 404, "no session with id"),
    ("GET", "/api/sessions/" + "a" * 8000, None, None, 404, "no session with id"),
    ("GET", "/api/sessions/%ED%A0%80", None, None, 404, "no session with id"),  # an encoded surrogate
    ("GET", "/nothing/here", None, None, 404, "no such endpoint: /nothing/here"),
    ("GET", "/static/../edge/app.py", None, None, 404, "no such endpoint"),
    ("GET", "/static/%2e%2e/security.py", None, None, 404, "no such endpoint"),
    ("PUT", "/api/sessions", b"{}", JSON, 405,
     "PUT is not allowed on /api/sessions (allowed: GET, HEAD, OPTIONS, POST)"),
    ("DELETE", "/api/status", None, None, 405, "DELETE is not allowed on /api/status"),
    ("PATCH", f"/api/sessions/{SID}", b"{}", JSON, 405, "PATCH is not allowed"),
    ("POST", "/api/health", b"{}", JSON, 405, "POST is not allowed on /api/health"),
    ("BREW", "/api/status", None, None, 405, "BREW is not allowed"),
])
def test_malformed_requests_get_a_clear_json_4xx(served, method, path, body, content_type, status, message):
    headers = {**csrf(served), **({"Content-Type": content_type} if content_type else {})}
    code, response_headers, answer = served.call(method, path, raw=body, headers=headers)
    assert code == status and message in answer["error"], (code, answer)
    assert response_headers["Content-Type"] == "application/json"
    if code == 405:
        assert response_headers["Allow"]  # says what would have worked
    assert served.recorder.live()["recording"] is False


def test_a_valid_start_still_works_after_all_that(served):
    code, _, session = served.call("POST", "/api/sessions", {"alias": "  Kim  ", "questions": [" Why? "]},
                                   csrf(served))
    assert code == 201 and session["alias"] == "Kim" and session["questions"] == ["Why?"]
    assert served.call("POST", f"/api/sessions/{session['id']}/questions", {"index": 1}, csrf(served))[0] == 400
    assert served.call("POST", f"/api/sessions/{session['id']}/stop", headers=csrf(served))[0] == 200


@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n",
    b"POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX: " + b"a" * 300_000 + b"\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32),  # a TLS hello on the plain port
])
def test_broken_http_is_refused_and_the_server_keeps_serving(served, request_bytes):
    reply = b""
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as s:
        try:
            s.sendall(request_bytes)
            s.shutdown(socket.SHUT_WR)
            while chunk := s.recv(65536):
                reply += chunk
        except ConnectionResetError:  # refused mid-send: waitress hung up on the oversize header
            pass
    status = reply.split(b"\r\n", 1)[0]
    assert reply == b"" or status.split()[1][:1] == b"4", status  # closed, or a 4xx: never a 5xx
    assert served.call("GET", "/api/health")[0] in (200, 503)  # and the next client is served


# ---- frames through the real pipeline ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline.from_config(EdgeConfig())


@pytest.mark.parametrize("frame, message", [
    (None, "frame is a NoneType"),
    ([[0, 0, 0]], "frame is a list"),
    (np.zeros((0, 0, 3), np.uint8), r"\(0, 0, 3\); expected uint8 HxWx3 .* not empty"),
    (np.zeros((0, 640, 3), np.uint8), "not empty"),
    (np.zeros((480, 640, 3), np.float32), "frame is float32"),
    (np.full((480, 640, 3), np.nan, np.float32), "frame is float32"),
    (np.zeros((480, 640, 4), np.uint8), r"\(480, 640, 4\)"),
    (np.zeros((480, 640, 1), np.uint8), r"\(480, 640, 1\)"),
    (np.zeros((1, 480, 640, 3), np.uint8), r"\(1, 480, 640, 3\)"),
    (np.zeros(640, np.uint8), r"\(640,\)"),
    (np.zeros((480, 640), bool), "frame is bool"),
    (np.zeros((480, 640, 3), np.uint16), "frame is uint16"),
])
def test_frames_of_the_wrong_kind_get_a_clear_value_error(pipeline, frame, message):
    with pytest.raises(ValueError, match=message):
        pipeline.process(frame, 0.0)


@pytest.mark.parametrize("timestamp", [math.nan, math.inf, -math.inf])
def test_a_non_finite_timestamp_is_refused(pipeline, timestamp):
    with pytest.raises(ValueError, match="timestamp .* is not a finite number of seconds"):
        pipeline.process(np.zeros((48, 48, 3), np.uint8), timestamp)


@pytest.mark.parametrize("frame", [
    np.zeros((1, 1, 3), np.uint8), np.zeros((1, 4000), np.uint8), np.zeros((4000, 1, 3), np.uint8),
    np.zeros((480, 640, 3), np.uint8), np.full((480, 640, 3), 255, np.uint8),
    np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8),
    np.zeros((480, 1280, 3), np.uint8)[:, ::2],  # a strided view, as a crop of a bigger buffer gives
    np.asfortranarray(np.zeros((480, 640, 3), np.uint8)),
], ids=["1x1", "1x4000", "4000x1", "black", "white", "noise", "strided", "fortran"])
def test_odd_but_valid_frames_give_sane_results(pipeline, frame):
    frame.setflags(write=False)  # the pipeline must not write into the camera's buffer either
    result = pipeline.process(frame, 1.0, 7)
    assert (result.width, result.height, result.index) == (frame.shape[1], frame.shape[0], 7)
    assert all(np.isfinite(f.box).all() and 0 <= f.score <= 1 for f in result.faces)


def demo_face_frame():
    """The first frame of the bundled demo clip in which the detector finds a face, and that face."""
    entry, path = model_entry("face_detection")
    detector = FaceDetector.from_manifest(entry, path)
    cap = cv2.VideoCapture(str(ROOT / "media/demo.mp4"))
    for _ in range(300):
        ok, frame = cap.read()
        assert ok, "the demo clip ended before a face was found"
        faces = detector.detect(frame)
        if faces:
            return frame, max(faces, key=lambda f: f.box[2] * f.box[3])
    raise AssertionError("no face in the demo clip's first 300 frames")


@pytest.mark.parametrize("side", ["left", "right", "top", "bottom"])
def test_faces_cut_by_the_frame_edge_give_sane_results(pipeline, side):
    frame, face = demo_face_frame()
    x, y, w, h = face.box
    # move the frame so that part of the face hangs over the edge: as much as the detector still finds
    for over in (0.3, 0.2, 0.1, 0.0):
        dx = {"left": -(x + over * w), "right": frame.shape[1] - (x + (1 - over) * w)}.get(side, 0)
        dy = {"top": -(y + over * h), "bottom": frame.shape[0] - (y + (1 - over) * h)}.get(side, 0)
        moved = cv2.warpAffine(frame, np.float32([[1, 0, dx], [0, 1, dy]]), (frame.shape[1], frame.shape[0]))
        seen = []
        for i in range(5):
            result = pipeline.process(moved, i / 30, i)
            for f in result.faces:
                assert np.isfinite(f.box).all() and 0 <= f.confidence <= 1
                assert abs(sum(f.probabilities.values()) - 1) < 1e-3
                assert f.label in {*pipeline.emotion.labels, "uncertain"}
            seen += result.faces
        if seen:
            break
    assert seen, "a face touching the edge should still be found"
    # the crop around it (1.2x the box) reaches past the edge: the case this test is about
    bx, by, bw, bh = max(seen, key=lambda f: f.box[2] * f.box[3]).box
    margin = 0.1 * max(bw, bh)
    beyond = {"left": bx - margin < 0, "top": by - margin < 0, "right": bx + bw + margin > frame.shape[1],
              "bottom": by + bh + margin > frame.shape[0]}
    assert beyond[side], (side, over, (bx, by, bw, bh))


def test_face_crops_at_and_beyond_the_edge():
    frame = np.full((120, 160, 3), 77, np.uint8)
    eyes = np.array([[0.0, 0.0], [10.0, 0.0]] + [[0.0, 0.0]] * 4)
    for box in [(-50, -50, 60, 60), (150, 110, 40, 40), (-1000, 5000, 30, 30), (0, 0, 1e6, 1e6), (0, 0, 0.5, 0.5)]:
        crop = face_crop(frame, Face(box, 0.9, eyes), CropSpec())
        assert crop.shape == (48, 48) and crop.dtype == np.uint8 and (crop == 77).all(), box  # edges replicate
    lost = np.full((6, 2), np.nan)
    assert face_crop(frame, Face((10, 10, 40, 40), 0.9, lost)).shape == (48, 48)  # upright, not a crash
    for box in [(0, 0, 0, 0), (0, 0, -5, -5), (0, 0, math.inf, 10), (math.nan, 0, 10, 10), (0, 0, math.nan, 10)]:
        with pytest.raises(ValueError, match="has no finite size or position"):
            face_crop(frame, Face(box, 0.9, eyes))


# ---- detector decoding -----------------------------------------------------------------------------------------


def test_decoding_refuses_outputs_that_do_not_fit_the_anchors():
    anchors = ssd_anchors()
    n = len(anchors)
    for boxes, scores in [(np.zeros((n - 1, 16)), np.zeros(n)), (np.zeros((n, 15)), np.zeros(n)),
                          (np.zeros((n, 16)), np.zeros((n, 1))), (np.zeros((1, n, 16)), np.zeros(n))]:
        with pytest.raises(ValueError, match="do not fit .* anchors; expected \\(N, 16\\) regressors"):
            BoxDecoder(anchors)(boxes, scores)


def test_decoding_drops_non_finite_detections():
    anchors = ssd_anchors()
    boxes, scores = np.zeros((len(anchors), 16)), np.full(len(anchors), -50.0)
    scores[[10, 20, 30, 40]] = [10.0, 10.0, 10.0, np.nan]
    boxes[10, 0], boxes[20, 7] = np.nan, np.inf
    detections = BoxDecoder(anchors)(boxes, scores)
    assert len(detections) == 1 and np.isfinite(detections).all() and detections[0, -1] == pytest.approx(1, abs=1e-4)
    assert np.allclose(detections[0, :2], anchors[30])


# ---- model files and config files ------------------------------------------------------------------------------


def damaged_models(tmp_path):
    data = (ROOT / "models/face_detector/blazeface_short_int8.tflite").read_bytes()
    rng = np.random.default_rng(0)
    cases = {f"cut_at_{n}": data[:n] for n in (0, 8, 1000, len(data) // 2, len(data) - 1)}
    cases["random_bytes"] = rng.bytes(len(data))
    cases["header_then_random"] = data[:64] + rng.bytes(len(data) - 64)
    cases["a_png"] = cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes()
    for name, content in cases.items():
        (tmp_path / f"{name}.tflite").write_bytes(content)
    return sorted(tmp_path.glob("*.tflite"))


def test_truncated_or_wrong_model_files_raise_model_load_error(tmp_path):
    for path in damaged_models(tmp_path):
        with pytest.raises(ModelLoadError, match=f"{path.name}: not a loadable TFLite model"):
            FaceDetector(path)
        with pytest.raises(ModelLoadError, match=f"{path.name}: not a loadable TFLite model"):
            EmotionModel(path, 0.0, 255.0, ["a"])
    _, emotion = model_entry("emotion")
    with pytest.raises(ModelLoadError, match=rf"{emotion.name}: not a BlazeFace model \(outputs \[\[1, 7\]\]\)"):
        FaceDetector(emotion)


@pytest.mark.parametrize("content, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8 text"),
    (b"\xef\xbb\xbf[web]\nport = 1\n", "not valid TOML"),  # a byte-order mark, as some editors write
    (b"[web\nport = 1\n", "not valid TOML"),
    (b"web = 1\n", "web: Input should be a valid dictionary"),
    (b"[web]\nport = \"http\"\n", "web.port: Input should be a valid integer"),
    (b"[web]\nport = 99999999999999999999\n", "web.port: Input should be less than or equal to 65535"),
    (b"[web]\nport = inf\n", "web.port: Input should be a finite number"),
    (b"[web]\nhost = \"\"\n", "web.host: String should have at least 1 character"),
    (b"[[web]]\nport = 1\n", "web: Input should be a valid dictionary"),
    (b"[source]\nspec = \"a\x00b\"\n", "not valid TOML"),
    (b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
    (b"[sessions]\nadvice = 5\n", "sessions.advice"),
    (b"[pipeline]\ntrack_iou = nan\n", "pipeline.track_iou"),
])
def test_broken_config_files_raise_config_error_naming_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "edge.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as error:
        load_config(path, {})
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value), str(error.value)


def test_the_cli_reports_a_broken_config_without_a_traceback(tmp_path):
    path = tmp_path / "edge.toml"
    path.write_bytes(b"\x00\xff garbage [[[")
    done = subprocess.run([sys.executable, "-m", "edge", "config", "--check", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith(f"error: {path}: ") and "Traceback" not in done.stderr


# ---- fuzzing (atheris): a short bounded session per target; fuzz/*.py say how to run longer ones -----------

@pytest.mark.parametrize("target, options, seeds", [
    ("fuzz.fuzz_detector_decode", ["-len_control=0"], []),
    ("fuzz.fuzz_config", [], [ROOT / "fuzz/seeds/config"]),
])
def test_fuzz_targets_survive_a_bounded_run(tmp_path, target, options, seeds):
    pytest.importorskip("atheris", reason="atheris has x86_64 wheels only (requirements/test.txt); make test "
                        "installs it there")
    corpus = tmp_path / "corpus"
    corpus.mkdir()  # libFuzzer adds new inputs to the first folder: keep them out of the repository
    done = subprocess.run([sys.executable, "-m", target, "-runs=2000", "-max_len=4096", "-seed=1",
                           f"-artifact_prefix={tmp_path}/", *options, str(corpus), *map(str, seeds)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Done 2000 runs" in done.stderr, done.stderr[-4000:]
    assert not list(tmp_path.glob("crash-*"))
