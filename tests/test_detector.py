import json

import cv2
import numpy as np
import pytest

from edge.blazeface import BoxDecoder, Letterbox, raw_floor, score_logit, sigmoid, ssd_anchors, weighted_nms
from edge.crop import CropSpec, eye_angle, face_crop
from edge.detector import FaceDetector
from edge.faces import Face
from edge.manifest import model_entry
from edge.preprocess import InputEncoder, dequantize, normalise, quantize
from edge.tflite import ModelLoadError
from tests.conftest import ROOT

ENTRY, MODEL = model_entry("face_detection")


def test_anchors_match_mediapipe_layout():
    a = ssd_anchors()
    assert a.shape == (896, 2)
    assert np.allclose(a[0], [0.5 / 16, 0.5 / 16]) and np.allclose(a[1], a[0])  # 2 per cell at stride 8
    assert np.allclose(a[512], [0.5 / 8, 0.5 / 8]) and np.allclose(a[512:518], a[512])  # 6 per cell at 16


def test_decode_and_weighted_nms_on_known_outputs():
    anchors = np.array([[0.5, 0.5], [0.52, 0.5], [0.1, 0.1]], np.float32)
    raw = np.zeros((3, 16), np.float32)
    raw[:, 2:4] = 32  # 32/128 = a quarter of the input wide and high
    raw[1, 0] = -2.56  # centre moved back by 0.02: the same face as anchor 0
    raw[:, 4:6] = [-8, -8]  # first keypoint up-left of the anchor
    scores = np.array([3.0, 1.0, -5.0])  # sigmoid 0.95, 0.73, 0.007
    detections = BoxDecoder(anchors, 128.0, 0.5)(raw, scores)
    kept = detections[:, -1]
    assert len(detections) == 2 and np.allclose(kept, 1 / (1 + np.exp(-scores[:2])))
    assert np.allclose(detections[0, :4], [0.375, 0.375, 0.625, 0.625])
    assert np.allclose(detections[0, 4:6], [0.4375, 0.4375])
    merged = weighted_nms(detections, 0.3)
    assert len(merged) == 1 and merged[0][-1] == pytest.approx(kept[0])
    assert np.allclose(merged[0][:4], [0.375, 0.375, 0.625, 0.625], atol=1e-6)


@pytest.mark.parametrize("min_score", [0.0, 0.3, 0.6, 0.999999, 1.0])
@pytest.mark.parametrize("scale, zero_point", [(0.39, -12), (0.05, 100), (1.0, 0)])
def test_candidates_picked_on_raw_int8_scores_are_those_the_float_scores_pick(min_score, scale, zero_point):
    q = np.arange(-128, 128).astype(np.int8)
    floor = raw_floor({"dtype": np.int8, "quantization": (scale, zero_point)}, score_logit(min_score))
    assert np.array_equal(q >= floor, dequantize(q, scale, zero_point) >= score_logit(min_score))


@pytest.mark.parametrize("boxes_q, scores_q", [((0.39, -12), (0.39, 100)), ((0.05, 3), (0.8, -128))])
def test_folded_decoding_of_integer_outputs_equals_dequantizing_them_first(boxes_q, scores_q):
    anchors = ssd_anchors()
    rng = np.random.default_rng(0)
    raw_boxes = rng.integers(-128, 128, (len(anchors), 16)).astype(np.int8)
    raw_scores = rng.integers(-128, 128, len(anchors)).astype(np.int8)
    int8 = BoxDecoder(anchors, 128.0, 0.4, {"dtype": np.int8, "quantization": boxes_q},
                      {"dtype": np.int8, "quantization": scores_q})(raw_boxes, raw_scores)
    floats = BoxDecoder(anchors, 128.0, 0.4)(dequantize(raw_boxes, *boxes_q), dequantize(raw_scores, *scores_q))
    assert len(int8) == len(floats) > 0  # the same candidates, picked on the raw scores
    # dequantized to float32 first, the floats carry its rounding: a millionth of the input's width
    assert np.allclose(int8[:, :16], floats[:, :16], rtol=0, atol=1e-6)
    assert np.array_equal(int8[:, 16], floats[:, 16])
    assert np.array_equal(floats[:, 16], sigmoid(dequantize(raw_scores, *scores_q)[raw_scores >= raw_floor(
        {"dtype": np.int8, "quantization": scores_q}, score_logit(0.4))]))


def test_the_detector_finds_the_same_faces_as_decoding_every_anchor():
    detector = FaceDetector.from_manifest(ENTRY, MODEL)
    cap = cv2.VideoCapture(str(ROOT / "media/demo.mp4"))
    faces = 0
    for _ in range(40):
        ok, frame = cap.read()
        assert ok
        model_input, box = detector.prepare(frame)
        found = detector.infer(model_input, box)
        # every anchor dequantized first, then decoded as floats: what the folded decoding must equal
        detections = BoxDecoder(detector.anchors, float(detector.size), 0.3)(*detector.raw(model_input))
        expected = weighted_nms(detections, min_score=detector.min_score)
        assert len(found) == len(expected)
        for face, d in zip(found, expected):
            assert face.score == pytest.approx(d[-1], abs=1e-9)
            assert np.allclose(box.to_frame(d[0:4].reshape(2, 2)).ravel(),
                               [face.box[0], face.box[1], face.box[0] + face.box[2], face.box[1] + face.box[3]])
        faces += len(found)
    assert faces >= 30  # the demo clip shows a face in nearly every frame


def test_low_scoring_detections_only_join_better_clusters():
    # x0, y0, x1, y1, 12 keypoint coordinates, score: a face (0.9), a weaker copy shifted right that overlaps
    # it (0.4), and a weak detection on its own elsewhere (0.45)
    rows = [[0.2, 0.2, 0.4, 0.4] + [0.0] * 12 + [0.9], [0.22, 0.2, 0.42, 0.4] + [0.0] * 12 + [0.4],
            [0.7, 0.7, 0.8, 0.8] + [0.0] * 12 + [0.45]]
    merged = weighted_nms(np.array(rows), 0.3, min_score=0.5)
    assert len(merged) == 1 and merged[0][-1] == pytest.approx(0.9)
    assert merged[0][0] == pytest.approx((0.2 * 0.9 + 0.22 * 0.4) / 1.3)  # the weak copy moved the box
    assert len(weighted_nms(np.array(rows), 0.3)) == 2  # without min_score the lone weak one is a face


def test_letterbox_maps_back_to_frame_pixels():
    box = Letterbox.fit(640, 480, 128)
    assert (box.width, box.height, box.pad_x, box.pad_y) == (128, 96, 0, 16)
    assert np.allclose(box.to_frame(np.array([[0.5, 0.5]])), [[320, 240]])
    image = box.apply(np.full((480, 640, 3), 200, np.uint8))
    assert image.shape == (128, 128, 3) and image[:16].max() == 0 and image[16:112].min() == 200


def test_letterbox_shrinks_large_frames_like_area_averaging():
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (0, 0), 1.5)
    box = Letterbox.fit(640, 480, 128)
    area = cv2.resize(frame, (128, 96), interpolation=cv2.INTER_AREA).astype(float)
    linear = cv2.resize(frame, (128, 96), interpolation=cv2.INTER_LINEAR).astype(float)
    ours = box.apply(frame)[16:112].astype(float)
    # much closer to a true area average than plain bilinear sampling, which aliases
    assert np.abs(ours - area).mean() < 0.5 * np.abs(linear - area).mean()


@pytest.mark.parametrize("dtype, quantization", [(np.int8, (0.0078125, 0)), (np.int8, (0.011, -7)),
                                                 (np.uint8, (0.02, 128)), (np.float32, (0.0, 0))])
def test_input_encoder_matches_normalise_then_quantize(dtype, quantization):
    pixels = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    encoded = InputEncoder(127.5, 127.5, {"dtype": dtype, "quantization": quantization})(pixels)
    expected = normalise(pixels, 127.5, 127.5)
    if dtype != np.float32:
        expected = quantize(expected, *quantization, dtype)
    assert encoded.dtype == dtype and encoded.shape == pixels.shape and np.array_equal(encoded, expected)


@pytest.fixture(scope="module")
def detector():
    return FaceDetector.from_manifest(ENTRY, MODEL)


def test_finds_the_face_in_single_face_photos_and_nothing_in_blank_frames(shared_data, detector):
    for name in ("pyfeat_single_face", "facerec_obama", "pyfeat_surprise_white"):
        frame = cv2.imread(str(shared_data / f"media/photos/{name}.jpg"))
        faces = detector.detect(frame)
        assert len(faces) >= 1, name
        x, y, w, h = faces[0].box
        assert 0.1 * frame.shape[1] < w < frame.shape[1] and 0 <= x + w / 2 <= frame.shape[1], name
    for blank in (np.zeros((480, 640, 3), np.uint8), np.full((480, 640, 3), 255, np.uint8)):
        assert detector.detect(blank) == []


def test_bad_frames_are_refused_clearly(detector):
    with pytest.raises(ValueError, match="expected uint8 HxWx3"):
        detector.detect(np.zeros((480, 640, 3), np.float32))
    with pytest.raises(ValueError, match="expected uint8 HxWx3"):
        detector.detect(np.zeros((480, 640, 4), np.uint8))


@pytest.mark.parametrize("box", [(-40, -40, 120, 120), (600, 440, 100, 100), (10, 10, 2, 2), (-500, -500, 2000, 2000)])
def test_crops_at_edges_and_of_tiny_or_huge_faces(box):
    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    x, y, w, h = box
    keypoints = np.array([[x + 0.3 * w, y + 0.4 * h], [x + 0.7 * w, y + 0.4 * h]] + [[x, y]] * 4)
    crop = face_crop(frame, Face(box, 0.9, keypoints))
    assert crop.shape == (48, 48) and crop.dtype == np.uint8


def test_crop_levels_the_eyes():
    frame = np.zeros((200, 200), np.uint8)
    cv2.line(frame, (50, 50), (150, 150), 255, 3)  # a diagonal: the eye line of a face tilted 45 degrees
    face = Face((50, 50, 100, 100), 0.9, np.array([[60, 60], [140, 140]] + [[0, 0]] * 4, float))
    assert eye_angle(face) == pytest.approx(np.pi / 4)
    crop = face_crop(frame, face, CropSpec(box_scale=1.0, center_shift_y=0.0))
    rows = crop.sum(1)
    assert rows.argmax() in range(22, 26)  # the diagonal became a horizontal line through the middle


def test_corrupt_or_mismatched_model_names_the_file(tmp_path):
    models = tmp_path / "models"
    (models / "face_detector").mkdir(parents=True)
    broken = models / ENTRY["file"]
    broken.write_bytes(MODEL.read_bytes()[:5000])
    (models / "manifest.json").write_text(json.dumps({"schema": 1, "models": [ENTRY]}))
    with pytest.raises(ModelLoadError, match=r"blazeface_short_int8.tflite: sha256 .* does not match"):
        model_entry("face_detection", models_dir=models)
    with pytest.raises(ModelLoadError, match="blazeface_short_int8.tflite: not a loadable TFLite model"):
        FaceDetector(broken)
    with pytest.raises(ModelLoadError, match="no emotion model"):
        model_entry("emotion", models_dir=models)
