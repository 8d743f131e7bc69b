"""The detection cadence (edge/pipeline.py): the detector runs on the first frame, every detect_every frames
while faces are in view, every frame while none is, and at once when a kept face's crop changes; the
expression model runs on every frame. The quality guard (edge/devtools/cadence_guard.py) on a shared clip."""
import cv2
import numpy as np
import pytest

from edge.config import EdgeConfig
from edge.devtools.cadence_guard import TARGETS, guard
from edge.pipeline import Pipeline, similarity

CLIP = "media/videos/pyfeat_WolfgangLanger_Pexels_expressions.mp4"


def config(**pipeline) -> EdgeConfig:
    return EdgeConfig.model_validate({"pipeline": pipeline})


def frames(shared_data, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(shared_data / CLIP))
    out = [cap.read()[1] for _ in range(n)]
    cap.release()
    return out


class Counting:
    """The real detector, counting its runs."""

    def __init__(self, detector):
        self.detector, self.runs = detector, 0

    def prepare(self, image):
        return self.detector.prepare(image)

    def infer(self, model_input, box):
        self.runs += 1
        return self.detector.infer(model_input, box)


def test_the_detector_runs_on_the_cadence_and_the_classifier_on_every_frame(shared_data):
    pipeline = Pipeline.from_config(config(detect_every=3))
    pipeline.detector = counting = Counting(pipeline.detector)
    clip = frames(shared_data, 30)
    results = [pipeline.process(f, i / 24, i) for i, f in enumerate(clip)]
    flags = [r.detected for r in results]
    assert flags[:6] == [True, False, False, True, False, False] or sum(flags) > 10  # early redetects allowed
    assert counting.runs == sum(flags) and 10 <= sum(flags) <= 15  # a still face: about every 3rd frame
    assert all(len(r.faces) == 1 for r in results)  # a face on every frame, detected or kept
    assert all(r.timings_ms["classify"] > 0 for r in results)
    assert all(r.timings_ms["detect"] == 0 for r, d in zip(results, flags) if not d)
    assert len({r.faces[0].id for r in results}) == 1  # one track throughout


def test_a_changed_face_or_an_empty_view_is_detected_at_once(shared_data):
    pipeline = Pipeline.from_config(config(detect_every=30))
    face, other = frames(shared_data, 1)[0], np.ascontiguousarray(np.fliplr(frames(shared_data, 1)[0]))
    assert pipeline.process(face, 0.0).detected and not pipeline.process(face, 0.04).detected
    moved = pipeline.process(other, 0.08)  # the face jumped to the other side: its crop no longer matches
    assert moved.detected and abs(moved.faces[0].box[0] - pipeline.process(face, 0.12).faces[0].box[0]) > 50
    empty = np.full_like(face, 128)
    assert [pipeline.process(empty, 0.2 + i / 24).detected for i in range(4)] == [True] * 4  # nobody: search all


def test_similarity_of_crops():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (48, 48), np.uint8)
    assert similarity(a, a) == pytest.approx(1.0)
    assert similarity(a, (a // 2 + 60).astype(np.uint8)) > 0.99  # the same face in other light
    assert similarity(a, rng.integers(0, 256, (48, 48), np.uint8)) < 0.2
    assert similarity(np.full((48, 48), 7, np.uint8), np.full((48, 48), 9, np.uint8)) == 1.0
    assert similarity(a, np.full((48, 48), 128, np.uint8)) == 0.0  # a face, then a covered lens


@pytest.mark.slow  # three pipelines over a 20 s clip
def test_the_quality_guard_holds_on_the_shared_expressions_clip(shared_data):
    figures = guard(config(), shared_data / CLIP)
    assert figures["detect_every"] == 3 and figures["missed"] == [], figures
    assert figures["expression_agreement"] >= TARGETS["expression_agreement"]
    assert figures["median_box_iou"] >= TARGETS["median_box_iou"] and figures["entry_ms"] <= TARGETS["entry_ms"]
    assert figures["detector_duty"] < 0.5  # what the cadence is for
