"""atheris fuzz target: BlazeFace output decoding and weighted NMS (edge/detector.py) on arbitrary outputs.

Any shapes and values, NaN and infinity included, must end in a ValueError naming the shapes, or in finite
detections that satisfy BoxDecoder's contract, for float outputs and for int8 ones with any quantization. Run from the repository root:
  python -m fuzz.fuzz_detector_decode -runs=100000 -max_len=4096 -len_control=0
(tests/test_hostile_input.py runs a short bounded session on every test run).
"""
import math
import sys

import atheris
import numpy as np

with atheris.instrument_imports(include=["edge.blazeface", "edge.faces"]):
    from edge.blazeface import BoxDecoder, weighted_nms


def floats(fdp: atheris.FuzzedDataProvider, count: int) -> np.ndarray:
    """`count` float32s: raw bit patterns (NaN, infinities, huge, subnormal) or plausible model outputs,
    repeated when the input runs short, so that even short inputs give full arrays."""
    if fdp.ConsumeBool():
        raw = fdp.ConsumeBytes(count * 4)
        values = np.frombuffer(raw[:len(raw) // 4 * 4], np.float32)
    else:
        values = np.array(fdp.ConsumeFloatListInRange(count, -300.0, 300.0), np.float32)
    return np.resize(values, count) if len(values) else np.zeros(count, np.float32)


def int8s(fdp: atheris.FuzzedDataProvider, count: int) -> np.ndarray:
    values = np.frombuffer(fdp.ConsumeBytes(count), np.int8)
    return np.resize(values, count) if len(values) else np.zeros(count, np.int8)


def int8_output(fdp: atheris.FuzzedDataProvider) -> dict:
    """An int8 output tensor's details with any plausible quantization."""
    return {"dtype": np.int8, "quantization": (fdp.ConsumeFloatInRange(1e-4, 4.0), fdp.ConsumeIntInRange(-128, 127))}


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    n = fdp.ConsumeIntInRange(0, 64)
    # mostly consistent shapes, sometimes not: both paths must behave
    rows = n if fdp.ConsumeProbability() < 0.9 else fdp.ConsumeIntInRange(0, 64)
    cols = 16 if fdp.ConsumeProbability() < 0.9 else fdp.ConsumeIntInRange(0, 20)
    min_score = fdp.ConsumeProbability() if fdp.ConsumeBool() else fdp.ConsumeFloat()
    anchors = floats(fdp, n * 2).reshape(n, 2)
    scale = fdp.ConsumeFloatInRange(1.0, 512.0)
    if fdp.ConsumeBool():  # what an int8 model gives
        outputs = {"boxes": int8_output(fdp), "scores": int8_output(fdp)}
        raw_boxes, raw_scores = int8s(fdp, rows * cols).reshape(rows, cols), int8s(fdp, rows)
    else:
        outputs = {}
        raw_boxes, raw_scores = floats(fdp, rows * cols).reshape(rows, cols), floats(fdp, rows)
    try:
        detections = BoxDecoder(anchors, scale, min_score, **outputs)(raw_boxes, raw_scores)
    except ValueError as e:
        assert (rows, cols) != (n, 16), f"consistent shapes refused: {e}"
        assert "do not fit" in str(e)
        return
    assert (rows, cols) == (n, 16), "inconsistent shapes accepted"
    scores = detections[:, -1]
    assert detections.shape[1:] == (17,) and np.isfinite(detections).all()
    assert ((0 <= scores) & (scores <= 1)).all()
    if 0 <= min_score <= 1:
        assert (scores >= min_score * (1 - 1e-9) - 1e-12).all(), (scores.min(), min_score)
    elif not math.isnan(min_score) and min_score > 1:
        assert len(scores) == 0
    merged = weighted_nms(detections, fdp.ConsumeProbability())
    assert len(merged) <= len(detections) and (not len(detections) or merged)
    for m in merged:
        assert m.shape == (17,) and np.isfinite(m).all() and m[-1] in scores


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
