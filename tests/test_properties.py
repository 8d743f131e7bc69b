"""Property tests (hypothesis) for the geometry and decoding every frame goes through: the letterbox
mapping, face crops, IoU, anchors, box decoding and weighted non-max suppression."""
import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge.blazeface import ANCHOR_LAYOUTS, BoxDecoder, Letterbox, ssd_anchors, weighted_nms
from edge.crop import CropSpec, face_crop
from edge.faces import Face, iou

SIZES = st.sampled_from(sorted(ANCHOR_LAYOUTS))
SIDE = st.integers(1, 5000)
FINITE = {"allow_nan": False, "allow_infinity": False}


@given(SIDE, SIDE, SIZES, st.floats(0, 1), st.floats(0, 1))
def test_letterbox_round_trip_from_frame_to_model_and_back(width, height, size, u, v):
    box = Letterbox.fit(width, height, size)
    # the image fills one side of the square input, keeps its aspect to the pixel, and is centred
    assert max(box.width, box.height) == size and box.width <= size and box.height <= size
    assert abs(box.width * height - box.height * width) <= max(width, height)
    assert box.pad_x == (size - box.width) // 2 and box.pad_y == (size - box.height) // 2
    # a frame point, mapped into the model input the way Letterbox.apply resizes and pads
    px, py = u * width, v * height
    model = np.array([(px * box.width / width + box.pad_x) / size, (py * box.height / height + box.pad_y) / size])
    assert (0 <= model).all() and (model <= 1).all()
    back = box.to_frame(model)
    assert math.isclose(back[0], px, abs_tol=1e-6 * width) and math.isclose(back[1], py, abs_tol=1e-6 * height)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 700), st.integers(1, 700), SIZES, st.integers(1, 255))
def test_letterbox_image_lies_exactly_where_the_mapping_says(width, height, size, value):
    box = Letterbox.fit(width, height, size)
    out = box.apply(np.full((height, width, 3), value, np.uint8))
    assert out.shape == (size, size, 3)
    inside = np.zeros((size, size), bool)
    inside[box.pad_y:box.pad_y + box.height, box.pad_x:box.pad_x + box.width] = True
    assert (out[inside] == value).all() and (out[~inside] == 0).all()


boxes_xyxy = st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3), st.floats(1e-2, 1e3), st.floats(1e-2, 1e3)).map(
    lambda b: np.array([b[0], b[1], b[0] + b[2], b[1] + b[3]]))


@given(boxes_xyxy, st.lists(boxes_xyxy, min_size=1, max_size=20))
def test_iou_is_between_0_and_1_symmetric_and_1_with_itself(box, others):
    values = np.array([iou(box, o) for o in others])
    assert ((0 <= values) & (values <= 1 + 1e-9)).all()
    assert np.allclose(values, [iou(o, box) for o in others])
    assert math.isclose(iou(box, box), 1.0, rel_tol=1e-9)
    apart = box + np.array([box[2] - box[0] + 1, 0, box[2] - box[0] + 1, 0])  # moved right, past its own width
    assert iou(box, apart) == 0


@given(SIZES)
def test_anchors_are_inside_the_input_and_as_many_as_the_model_has_outputs(size):
    anchors = ssd_anchors(size, *ANCHOR_LAYOUTS[size])
    assert len(anchors) == {128: 896, 192: 2304}[size]
    assert ((0 < anchors) & (anchors < 1)).all()
    # one centre per grid cell: 16x16 and 8x8 cells at 128 px (strides 8 and 16), 48x48 at 192 px (stride 4)
    assert len(np.unique(anchors, axis=0)) == {128: 16 * 16 + 8 * 8, 192: 48 * 48}[size]


@st.composite
def raw_outputs(draw):
    size = draw(SIZES)
    anchors = ssd_anchors(size, *ANCHOR_LAYOUTS[size])
    n = len(anchors)
    boxes = draw(arrays(np.float32, (n, 16), elements=st.floats(-200, 200, width=32)))
    scores = draw(arrays(np.float32, n, elements=st.floats(-120, 120, width=32)))
    min_score = draw(st.floats(0.05, 0.95))
    return boxes, scores, anchors, float(size), min_score


@settings(max_examples=60, deadline=None)
@given(raw_outputs())
def test_decoding_places_boxes_and_keypoints_relative_to_their_anchors(outputs):
    boxes, scores, anchors, scale, min_score = outputs
    detections = BoxDecoder(anchors, scale, min_score)(boxes, scores)
    kept_scores = detections[:, -1]
    logit = math.log(min_score / (1 - min_score))
    keep = scores >= logit
    assert len(detections) == keep.sum() and detections.shape[1:] == (17,)
    assert np.isfinite(detections).all() and ((min_score - 1e-6 <= kept_scores) & (kept_scores <= 1)).all()
    assert np.allclose(kept_scores, 1 / (1 + np.exp(-scores[keep].astype(np.float64))), rtol=0, atol=1e-12)
    raw, a = boxes[keep].astype(np.float64), anchors[keep]
    centre = (detections[:, 0:2] + detections[:, 2:4]) / 2
    assert np.allclose(centre, raw[:, 0:2] / scale + a, atol=1e-5)
    assert np.allclose(detections[:, 2:4] - detections[:, 0:2], raw[:, 2:4] / scale, atol=1e-5)
    assert np.allclose(detections[:, 4:16].reshape(-1, 6, 2), raw[:, 4:16].reshape(-1, 6, 2) / scale + a[:, None],
                       atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(boxes_xyxy, st.floats(0.5, 1)), min_size=1, max_size=30), st.floats(0.1, 0.9))
def test_weighted_nms_merges_within_the_hull_and_keeps_the_best_scores(items, threshold):
    boxes = np.stack([b for b, _ in items])
    scores = np.array([s for _, s in items])
    detections = np.concatenate([boxes, np.zeros((len(items), 12)), scores[:, None]], 1)
    merged = np.array(weighted_nms(detections, threshold))
    assert 1 <= len(merged) <= len(items)
    assert set(merged[:, -1]) <= set(scores) and merged[0, -1] == scores.max()
    assert (merged[:, :4] >= boxes.min(0) - 1e-6).all() and (merged[:, :4] <= boxes.max(0) + 1e-6).all()


@settings(max_examples=80, deadline=None)
@given(st.integers(8, 320), st.integers(8, 320), st.floats(-400, 700, **FINITE), st.floats(-400, 700, **FINITE),
       st.floats(0.5, 600), st.floats(0.5, 600),
       arrays(np.float64, (6, 2), elements=st.floats(-1e4, 1e4, **FINITE)), st.integers(0, 255))
def test_any_face_box_gives_a_crop_that_only_repeats_frame_pixels(width, height, x, y, w, h, keypoints, value):
    """Faces at or beyond the edge: the crop repeats the frame's edge pixels and never invents any."""
    frame = np.full((height, width, 3), value, np.uint8)
    crop = face_crop(frame, Face((x, y, w, h), 0.9, keypoints), CropSpec())
    assert crop.shape == (48, 48) and crop.dtype == np.uint8 and (crop == value).all()


@settings(max_examples=80, deadline=None)
@given(st.integers(60, 400), st.integers(60, 400), st.floats(0, 1), st.floats(0, 1), st.floats(4, 200))
def test_an_upright_crop_takes_exactly_the_square_around_the_box(width, height, u, v, w):
    """With eye alignment off, the crop samples the box_scale-times square around the (shifted) box centre."""
    spec = CropSpec(align_eyes=False)
    side = spec.box_scale * w
    cx, cy = side / 2 + 2 + u * (width - side - 4), side / 2 + 2 + v * (height - side - 4)
    assume(width > side + 4 and height > side + 4)
    frame = np.zeros((height, width), np.uint8)
    top = cy - side / 2
    frame[max(0, math.floor(top) - 1):math.ceil(top + side) + 1,
          max(0, math.floor(cx - side / 2) - 1):math.ceil(cx + side / 2) + 1] = 255
    # the box whose crop square that is: centre shifted down by center_shift_y * side of the box
    x, y = cx - w / 2, cy - w / 2 - spec.center_shift_y * w
    crop = face_crop(frame, Face((x, y, w, w), 0.9, np.zeros((6, 2))), spec)
    assert (crop == 255).all()
