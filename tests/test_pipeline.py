import gc
import json
import weakref

import cv2
import numpy as np
import pytest

from edge.config import EdgeConfig
from edge.crop import face_crop
from edge.faces import iou
from edge.pipeline import STAGES, Pipeline
from edge.tracker import Tracker, iou_xywh, primary_index
from tests.conftest import ROOT


def test_tracker_keeps_ids_for_moving_faces_and_drops_lost_ones():
    tracker = Tracker(min_iou=0.3, max_missed=2)
    a, b = tracker.update([(0, 0, 100, 100), (300, 0, 100, 100)])
    assert (a.id, b.id) == (1, 2)
    moved = tracker.update([(305, 5, 100, 100), (10, 5, 100, 100)])  # order swapped, both moved a little
    assert [t.id for t in moved] == [2, 1]
    for _ in range(3):
        tracker.update([(10, 5, 100, 100)])
    assert [t.id for t in tracker.tracks] == [1]  # face 2 was missed 3 times > max_missed
    assert tracker.update([(300, 0, 100, 100)])[0].id == 3  # a returning face is a new face


def test_iou_agrees_with_an_array_computation_and_the_trackers_with_it_on_corners():
    rng = np.random.default_rng(1)
    boxes = np.concatenate([rng.uniform(0, 400, (200, 2)), rng.uniform(0, 200, (200, 2))], 1)
    boxes[:20, 2] = 0  # no area: overlaps nothing
    corners = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], 1)
    for a, ca in zip(boxes[:50], corners[:50]):
        overlap = np.clip(np.minimum(corners[:, 2:], ca[2:]) - np.maximum(corners[:, :2], ca[:2]), 0, None).prod(1)
        union = boxes[:, 2:].prod(1) + a[2:].prod() - overlap
        expected = np.where(union > 0, overlap / np.where(union > 0, union, 1), 0)
        assert np.allclose([iou(ca, cb) for cb in corners], expected, rtol=0, atol=1e-12)
        assert np.allclose([iou_xywh(a, b) for b in boxes], expected, rtol=0, atol=1e-12)
    assert iou_xywh((0, 0, 10, 10), (0, 0, 10, 10)) == 1
    assert iou_xywh((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(1 / 3)
    assert iou_xywh((0, 0, 10, 10), (2, 3, 4, 5)) == pytest.approx(20 / 100)  # one inside the other
    assert iou_xywh((0, 0, 10, 10), (10, 0, 10, 10)) == 0  # touching edges share no area


def test_smoothing_averages_over_the_window_only():
    mean = Tracker(smoothing_s=1.0).update([(0, 0, 10, 10)])[0].expression
    mean.add(0.0, np.array([1.0, 0.0]))
    assert np.allclose(mean.add(0.5, np.array([0.0, 1.0])), [0.5, 0.5])
    assert np.allclose(mean.add(2.0, np.array([0.0, 1.0])), [0.0, 1.0])  # old ones fell out


def test_smoothing_restarts_when_the_clock_goes_backwards():
    mean = Tracker(smoothing_s=1.0).update([(0, 0, 10, 10)])[0].expression
    for t in range(10):
        mean.add(100.0 + t / 10, np.array([1.0, 0.0]))
    assert np.allclose(mean.add(0.0, np.array([0.0, 1.0])), [0.0, 1.0])  # a restarted source
    assert len(mean) == 1


def test_primary_face_prefers_large_and_central():
    assert primary_index([], 640, 480) is None
    assert primary_index([(0, 0, 50, 50), (300, 200, 60, 60)], 640, 480) == 1
    assert primary_index([(0, 0, 200, 200), (300, 200, 60, 60)], 640, 480) == 0


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline.from_config(EdgeConfig())


def test_talking_face_video_gives_one_stable_face_with_expressions(shared_data, pipeline):
    cap = cv2.VideoCapture(str(shared_data / "media/videos/pyfeat_single_face_talking.mp4"))
    primary_ids, labels, i = set(), set(), 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        result = pipeline.process(frame, i / 30, i)
        assert set(result.timings_ms) == {*STAGES, "total"} and result.timings_ms["total"] > 0
        for face in result.faces:
            labels.add(face.label)
            assert abs(sum(face.probabilities.values()) - 1) < 1e-3
        assert result.primary_id in {f.id for f in result.faces} | {None}
        primary_ids.add(result.primary_id)
        i += 1
    # the man keeps one id all through (weak extra detections may come and go beside him)
    assert i > 60 and len(primary_ids - {None}) == 1 and labels <= {*pipeline.emotion.labels, "uncertain"}


def test_frames_of_the_wrong_kind_are_refused(pipeline):
    with pytest.raises(ValueError, match="expected uint8"):
        pipeline.process(np.zeros((480, 640, 3), np.float64), 0.0)
    assert pipeline.process(np.zeros((480, 640, 3), np.uint8), 0.0).faces == []


def test_faces_carry_the_crop_the_model_saw_and_never_show_it(pipeline):
    cap = cv2.VideoCapture(str(ROOT / "media/demo.mp4"))
    ok, frame = cap.read()
    cap.release()
    assert ok, "cannot decode the bundled demo clip"
    result = pipeline.process(frame, 0.0)
    assert result.faces, "the demo clip's first frame shows a face"
    detected = {f.box: f for f in pipeline.detector.detect(frame)}  # the same box, with its eye keypoints
    for face in result.faces:
        assert face.crop.shape == (48, 48) and face.crop.dtype == np.uint8
        assert np.array_equal(face.crop, face_crop(frame, detected[face.box], pipeline.crop))  # eye-aligned
        assert set(face.as_dict()) == {"id", "box", "detector_score", "label", "confidence", "probabilities"}
        assert "crop" not in repr(face)  # nor in a log line
    json.dumps(result.as_dict())  # an array anywhere in it would refuse to serialise
    # the crop is its own array, not a view: a kept result does not keep its frame alive
    alive = weakref.ref(frame)
    del frame
    gc.collect()
    assert alive() is None and result.faces[0].crop.sum() > 0
