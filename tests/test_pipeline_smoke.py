"""The whole training pipeline on a tiny subset with tiny models: teacher, distil, quantize, evaluate,
export (to a temporary models/), then the shared contract checker on what was exported."""
import json
import subprocess
import sys
from hashlib import sha256

import pytest

from tests.conftest import ROOT, SHARED

pytestmark = pytest.mark.slow  # training runs: make test runs it, make test-fast does not

SMOKE = """
name = "smoke"
runs_dir = "{tmp}/runs"
[data]
train = {{ path = "{data}/fer2013/fer2013_train.npz" }}
val = {{ path = "{data}/fer2013/fer2013_publictest.npz" }}
limit = 400
[teacher]
width = 8
seeds = [0]
epochs = 1
device = "cpu"
[student]
width = 0.25
epochs = 1
batch_size = 64
[targets]
votes = 0.5
label = 0.25
teacher = 0.25
teacher_logits = "{tmp}/runs/smoke/teacher/teacher_logits.npz"
[quantize]
representative_samples = 50
[search]
trials = 2
epochs = 1
train_subset = 200
results_dir = "{tmp}/search"
[export]
name = "smoke"
models_dir = "{tmp}/project/models"
"""


def training(*args):
    return subprocess.run([sys.executable, "-m", "training", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def smoke(shared_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("smoke")
    config = tmp / "smoke.toml"
    config.write_text(SMOKE.format(tmp=tmp, data=shared_data))
    for stage in ("teacher", "all"):
        done = training(stage, "--config", str(config))
        assert done.returncode == 0, done.stderr[-3000:]
    return tmp, config


def test_export_writes_manifest_files_and_card(smoke):
    tmp, _ = smoke
    models = tmp / "project/models"
    manifest = json.loads((models / "manifest.json").read_text())
    assert manifest["schema"] == 1
    names = [m["name"] for m in manifest["models"]]
    assert names == ["smoke_int8", "smoke_float"]
    for m in manifest["models"]:
        assert sha256((models / m["file"]).read_bytes()).hexdigest() == m["sha256"]
        assert m["labels"] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
        assert m["input"]["height"] == 48 and m["input"]["channels"] == 1
    card = (models / "emotion/MODEL_CARD.md").read_text()
    assert "smoke_int8" in card and "{" not in card  # every placeholder filled
    report = json.loads((models / "emotion/reports/smoke/metrics.json").read_text())
    assert 0 <= report["int8"]["accuracy"] <= 1 and report["int8"]["n"] == 400
    crowd = report["int8"]["crowd"]  # both measures, side by side
    assert 0 <= crowd["consensus"] <= 1 and 300 < crowd["consensus_n"] < 400 and crowd["kl"] > 0
    assert 0.5 < report["label_vs_consensus"] < 0.8
    assert report["int8"]["latency_ms"]["p50"] > 0 and report["parameters"] > 0 and report["multiply_adds"] > 0
    assert manifest["models"][0]["metrics"]["publictest_consensus"] == round(crowd["consensus"], 4)
    for plot in ("confusion.png", "vote_calibration.png"):
        assert (models / "emotion/reports/smoke" / plot).stat().st_size > 5000
    assert "consensus" in card and "FER2013-label accuracy" in card


def test_every_stage_is_tracked_in_mlflow(smoke):
    tmp, _ = smoke
    import mlflow
    mlflow.set_tracking_uri((tmp / "runs/mlruns").as_uri())
    runs = mlflow.search_runs(experiment_names=["smoke"], output_format="list")
    by_stage = {r.data.tags["stage"]: r for r in runs}
    assert {"teacher-seed0", "distil", "quantize", "evaluate", "export"} <= set(by_stage)
    distil = by_stage["distil"]
    assert len(distil.data.params["sha256.train"]) == 64 and distil.data.tags["git_commit"]
    for metric in ("consensus", "label_accuracy"):
        history = mlflow.MlflowClient().get_metric_history(distil.info.run_id, metric)
        assert len(history) == 1  # one point per epoch


def test_shared_checker_accepts_the_export(smoke):
    tmp, _ = smoke
    done = subprocess.run([sys.executable, str(SHARED / "tools/check_emotion_model.py"), str(tmp / "project")],
                          capture_output=True, text=True, timeout=300)
    result = json.loads(done.stdout.strip().splitlines()[-1].removeprefix("RESULT "))
    assert done.returncode == 0, result
    assert result["model"]["name"] == "smoke_int8" and result["model"]["input_dtype"] == "int8"


def test_search_records_its_trials(smoke):
    tmp, config = smoke
    done = training("search", "--config", str(config))
    assert done.returncode == 0, done.stderr[-3000:]
    rows = (tmp / "search/smoke.csv").read_text().splitlines()
    assert rows[0].startswith("trial,state,consensus") and len(rows) == 3
    best = json.loads((tmp / "search/smoke_best.json").read_text())
    assert set(best["params"]) == {"label_weight", "width", "lr", "weight_decay", "mixup_alpha", "erasing_p",
                                   "teacher_weight", "temperature"}
    again = training("search", "--config", str(config), "--set", "search.trials=3")
    assert again.returncode == 0, again.stderr[-3000:]  # the study continues from its SQLite file
    assert len((tmp / "search/smoke.csv").read_text().splitlines()) == 4


def test_a_stopped_run_continues_from_its_last_epoch(smoke):
    tmp, config = smoke
    args = ("distil", "--config", str(config), "--set", "name=smoke_resume", "--set", "student.epochs=2")
    first = training(*args, "--set", "student.max_minutes=0.0001")  # stops after its first epoch
    assert first.returncode == 0 and "epoch 1/2" in first.stdout and "epoch 2/2" not in first.stdout
    second = training(*args)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming after epoch 1" in second.stdout and "epoch 2/2" in second.stdout
    changed = training(*args[:-1], "student.epochs=3")
    assert changed.returncode != 0 and "other settings" in changed.stderr


def test_a_warm_restart_starts_from_the_finished_run_and_refuses_another_shape(smoke):
    tmp, config = smoke
    best = tmp / "runs/smoke/student/best.pt"
    done = training("distil", "--config", str(config), "--set", "name=smoke_restart", "--set",
                    f"student.init_from={best}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp / "runs/smoke_restart/student/best.pt").is_file()
    import mlflow
    mlflow.set_tracking_uri((tmp / "runs/mlruns").as_uri())
    first, restart = (mlflow.search_runs(experiment_names=[name], filter_string="tags.stage = 'distil'",
                                         output_format="list")[0] for name in ("smoke", "smoke_restart"))
    assert restart.data.params["student.init_from"] == str(best) and first.data.params["student.init_from"] == "None"
    wider = training("distil", "--config", str(config), "--set", "name=smoke_wider", "--set",
                     f"student.init_from={best}", "--set", "student.width=0.5")
    assert wider.returncode != 0 and "does not fit" in wider.stderr and "same arch and width" in wider.stderr


def test_students_trained_here_form_a_teacher_without_training_one(smoke):
    import numpy as np
    tmp, config = smoke
    ensemble = tmp / "ensemble.toml"  # beside smoke.toml, which it extends
    ensemble.write_text(f'extends = "smoke.toml"\nname = "smoke_ensemble"\n[teacher]\nmembers = ["{config}", "{config}"]\n')
    done = training("teacher", "--config", str(ensemble))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("member smoke (student x0.25)") == 2 and "teacher seed" not in done.stdout
    with np.load(tmp / "runs/smoke_ensemble/teacher/teacher_logits.npz") as t:
        assert t["train_logits"].shape == (400, 7) and t["val_logits"].shape == (400, 7)
        assert len(set(t["train_ids"].tolist())) == 400 and np.isfinite(t["train_logits"]).all()
        assert t["val_logits"].std() > 0  # real predictions, not a constant


def test_bad_config_stops_with_the_key_named(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[data]\ntrain = { path = "a" }\nval = { path = "b" }\n[export]\nname = "x"\n'
                   '[student]\nwidth_typo = 2\n')
    done = training("distil", "--config", str(bad))
    assert done.returncode == 2 and "student.width_typo" in done.stderr


def test_missing_dataset_stops_with_a_clear_message(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'name = "x"\n[data]\ntrain = {{ path = "{tmp_path}/none.npz" }}\n'
                   f'val = {{ path = "{tmp_path}/none.npz" }}\n[export]\nname = "x"\n')
    done = training("distil", "--config", str(cfg))
    assert done.returncode == 2 and "none.npz: no such file" in done.stderr
