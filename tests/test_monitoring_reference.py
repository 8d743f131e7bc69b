"""`python -m training reference` on a copy of the shipped models: the statistics file it writes, the
manifest entry that names it (everything else in the manifest kept), and that the device loads it."""
import json
import shutil
import subprocess
import sys
from hashlib import sha256

import pytest

from edge.manifest import load_manifest
from edge.monitoring.reference import load_reference
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # training's reference stage: make test runs it, make test-fast does not

CONFIG = """
name = "fer_student"
seed = 0
runs_dir = "{tmp}/runs"
[data]
train = {{ path = "{data}/fer2013/fer2013_train.npz" }}
val = {{ path = "{data}/fer2013/fer2013_publictest.npz" }}
limit = 400
[reference]
max_faces = 300
calibration_videos = ["{data}/media/videos/pyfeat_single_face_talking.mp4"]
[export]
name = "fer_student"
models_dir = "{tmp}/models"
"""


def test_reference_stage_writes_the_file_and_names_it_in_the_manifest(shared_data, tmp_path):
    shutil.copytree(ROOT / "models", tmp_path / "models", ignore=shutil.ignore_patterns("*reference.json", "reports"))
    before = json.loads((tmp_path / "models/manifest.json").read_text())
    for m in before["models"]:  # as after a fresh export: no reference named yet
        for key in ("reference_stats", "reference_stats_sha256"):
            m.pop(key, None)
    (tmp_path / "models/manifest.json").write_text(json.dumps(before, indent=2))
    config = tmp_path / "reference.toml"
    config.write_text(CONFIG.format(tmp=tmp_path, data=shared_data))

    def run():
        done = subprocess.run([sys.executable, "-m", "training", "reference", "--config", str(config)], cwd=ROOT,
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    out = run()
    path = tmp_path / "models/emotion/fer_student_reference.json"
    stats = json.loads(path.read_text())
    assert stats["data"]["faces"] == 300 and "300 drawn with seed 0" in stats["data"]["selection"]
    assert sum(stats["predictions"]["class_counts"]) == 300
    assert sum(stats["quality"]["brightness"]["counts"]) == 300 and len(stats["quality"]["sharpness"]["edges"]) == 31
    assert 0 < stats["predictions"]["confidence"]["mean"] < 1
    size = stats["face_size"]
    assert size["frames"] == 72 and size["videos"] == ["pyfeat_single_face_talking.mp4"]
    assert 100 < size["percentiles"]["p50"] < 300  # a webcam close-up at 640x360
    assert "300 training faces" in out and "face size: p50" in out

    after = load_manifest(tmp_path / "models")
    entry = next(m for m in after["models"] if m["name"] == "fer_student_int8")
    assert entry["reference_stats"] == "emotion/fer_student_reference.json"
    assert entry["reference_stats_sha256"] == sha256(path.read_bytes()).hexdigest()
    assert stats["model"]["sha256"] == entry["sha256"]
    # only the two fields were added: order of entries and every other field unchanged
    assert [{k: v for k, v in m.items() if not k.startswith("reference_stats")} for m in after["models"]] \
        == before["models"]
    assert load_reference(entry, tmp_path / "models").class_counts.sum() == 300

    first = path.read_bytes()
    run()
    assert path.read_bytes() == first  # no timestamps: the same data and model give the same file
