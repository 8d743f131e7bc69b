"""The models committed in models/: manifest contract, sha256, and the same predictions under
ai-edge-litert and under tflite-runtime 2.14 with numpy < 2 (older Pi OS / JetPack images), where the
daemon's pipeline runs too, on JetPack 6's Python 3.10 when the machine has one."""
import json
import os
import subprocess
from hashlib import sha256

import numpy as np
import pytest

from edge.emotion import EmotionModel
from edge.tflite import ModelLoadError, load_interpreter, runtime_name
from tests.conftest import FIXTURES, ROOT

MODELS = ROOT / "models"
MANIFEST = json.loads((MODELS / "manifest.json").read_text())
EMOTION = [m for m in MANIFEST["models"] if m["task"] == "emotion"]
FACES = np.load(FIXTURES / "fer_publictest_70.npz")
TFLITE_PYTHON = ROOT / ".venv-tflite/bin/python"


def test_manifest_follows_the_contract():
    assert MANIFEST["schema"] == 1 and EMOTION
    primary = EMOTION[0]
    assert primary["precision"] == "int8"
    for m in EMOTION:
        assert sha256((MODELS / m["file"]).read_bytes()).hexdigest() == m["sha256"], m["file"]
        assert set(m["input"]) >= {"height", "width", "channels", "mean", "std"}
        assert m["labels"][:7] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def test_primary_model_is_small_int8_and_accurate_on_the_fixture():
    from training.ferplus import NO_MAJORITY, majority
    m = EMOTION[0]
    assert (MODELS / m["file"]).stat().st_size <= 1024 * 1024  # the budget of the vote-trained student
    interpreter = load_interpreter(MODELS / m["file"])
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    model = EmotionModel.from_manifest(m, MODELS / m["file"])
    pred = np.array([model.probabilities(f).argmax() for f in FACES["x"]])
    # 70 PublicTest faces, 10 per FER2013 label (disgust included): far above chance (1/7) on both measures.
    # It is trained on the crowd: the majority of the ten FER+ annotators is what it must agree with most.
    assert (pred == FACES["y"]).mean() >= 0.5
    crowd = majority(FACES["ferplus"])
    known = crowd != NO_MAJORITY
    assert known.sum() >= 60 and (pred[known] == crowd[known]).mean() >= 0.7


@pytest.fixture(scope="module")
def tflite_runtime_output() -> dict:
    if not TFLITE_PYTHON.exists():
        pytest.fail(f"{TFLITE_PYTHON} is missing: `make test` creates it from requirements/tflite-runtime.txt")
    done = subprocess.run([str(TFLITE_PYTHON), "tests/tflite_runtime_probe.py", str(MODELS),
                           str(FIXTURES / "fer_publictest_70.npz")], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_same_predictions_under_tflite_runtime_with_numpy1(tflite_runtime_output):
    other = tflite_runtime_output
    assert other["runtime"] == "tflite-runtime 2.14.0" and other["numpy"].startswith("1.")
    assert runtime_name().startswith("ai-edge-litert")
    for m in EMOTION:
        model = EmotionModel.from_manifest(m, MODELS / m["file"])
        litert = np.array([model.logits(f) for f in FACES["x"]])
        theirs = np.array(other["logits"][m["name"]])
        assert (litert.argmax(1) == theirs.argmax(1)).mean() >= 0.97, m["name"]
        # the runtimes' int8 kernels round differently: logits agree to a few quantization steps
        step = load_interpreter(MODELS / m["file"]).get_output_details()[0]["quantization"][0] or 1e-3
        assert np.abs(litert - theirs).mean() <= 1.5 * step and np.abs(litert - theirs).max() <= 5 * step, m["name"]


def test_detectors_find_the_faces_under_tflite_runtime_with_numpy1(tflite_runtime_output):
    # each probe frame is one FER face enlarged to 96x96 in the middle of a 192x192 frame
    for m in (m for m in MANIFEST["models"] if m["task"] == "face_detection"):
        found = 0
        for faces in tflite_runtime_output["faces"][m["name"]]:
            if faces:
                x, y, w, h = max(faces, key=lambda f: f["score"])["box"]
                assert 48 <= x + w / 2 <= 144 and 48 <= y + h / 2 <= 144 and 40 <= w <= 192, (m["name"], faces)
                found += 1
        assert found >= 12, (m["name"], found)  # FER faces are small and blurry for a detector


def test_the_pipeline_runs_on_the_older_runtime_and_python():
    """The daemon's own code path (config, video source, detect, crop, classify, track) in .venv-tflite, which
    the Makefile builds on a Python 3.10 (JetPack 6's) where the machine has one that can make a venv."""
    if not TFLITE_PYTHON.exists():
        pytest.fail(f"{TFLITE_PYTHON} is missing: `make test` creates it from requirements/tflite-runtime.txt")
    done = subprocess.run([str(TFLITE_PYTHON), "-m", "edge", "bench", "--source", "media/demo.mp4", "--frames", "15",
                           "--threads", "1", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PATH": os.environ["PATH"]})
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["runtime"] == "tflite-runtime 2.14.0" and report["device"]["packages"]["numpy"].startswith("1.")
    assert report["runs"][0]["faces_per_frame"] > 0.9  # the demo clip's face, found in (nearly) every frame


def test_corrupt_model_file_is_named_in_the_error(tmp_path):
    bad = tmp_path / "broken.tflite"
    bad.write_bytes((MODELS / EMOTION[0]["file"]).read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="broken.tflite: not a loadable TFLite model"):
        load_interpreter(bad)
    with pytest.raises(ModelLoadError, match="missing.tflite: model file not found"):
        load_interpreter(tmp_path / "missing.tflite")
