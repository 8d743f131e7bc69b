"""The monitor's parts on their own: PSI and KL against hand-computed values, the ok/warn/alert
thresholds, the config checks, the sliding windows, the crop measures, the reference checks, and the
monitor fed synthetic frame results (its JSON endpoint and Prometheus export included)."""
import hashlib
import json
import shutil

import cv2
import numpy as np
import pytest

from edge.config import ConfigError, ModelsConfig, load_config
from edge.manifest import load_manifest
from edge.monitoring.drift import kl, psi, shares
from edge.monitoring.monitor import Monitor, judge
from edge.monitoring.quality import crop_quality
from edge.monitoring.reference import ReferenceStatsError, load_reference
from edge.monitoring.settings import MonitoringSettings
from edge.pipeline import FaceResult, FrameResult
from edge.state import LiveState
from edge.web.app import create_app
from edge.web.metrics import registry_for, render
from edge.windows import SlidingCounts, TimedRows
from tests.conftest import FIXTURES, ROOT

MODELS = ROOT / "models"
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def emotion_entry(models_dir=MODELS):
    return next(m for m in load_manifest(models_dir)["models"] if m["task"] == "emotion")


# ---- drift measures --------------------------------------------------------------------------------------------

def test_psi_and_kl_match_hand_computed_values():
    # counts 30/10 against 20/20, each bin + 0.5: o = (30.5, 10.5) / 41 = (0.743902, 0.256098), e = (0.5, 0.5)
    # PSI = 0.243902 ln(1.487805) + (-0.243902) ln(0.512195) = 0.096905 + 0.163181 = 0.260086
    # KL  = 0.743902 ln(1.487805) + 0.256098 ln(0.512195) = 0.295561 - 0.171349 = 0.124212
    assert psi(np.array([30, 10]), np.array([20, 20])) == pytest.approx(0.260086, abs=1e-5)
    assert kl(np.array([30, 10]), np.array([20, 20])) == pytest.approx(0.124212, abs=1e-5)
    # an empty bin stays finite: o = (10.5, 0.5) / 11; PSI = 0.454545 ln(1.909091) + 0.454545 ln(11) = 1.383874
    assert psi(np.array([10, 0]), np.array([5, 5])) == pytest.approx(1.383874, abs=1e-5)
    same = np.array([7, 3, 0, 12])
    assert psi(same, same) == 0 and kl(same, same) == 0
    assert psi(np.array([1, 9]), np.array([9, 1])) == pytest.approx(psi(np.array([9, 1]), np.array([1, 9])))
    assert shares(np.array([0, 0, 4])) == pytest.approx([0.5 / 5.5, 0.5 / 5.5, 4.5 / 5.5])


# ---- thresholds ------------------------------------------------------------------------------------------------

def test_states_follow_the_limits_on_both_sides():
    limits = {"low": (60.0, 40.0), "high": (195.0, 215.0)}
    assert judge(None, limits) == ("unknown", None)
    assert judge(100, limits) == ("ok", None)
    assert judge(60, limits) == ("ok", None)  # a limit itself is still within it
    assert judge(59.9, limits) == ("warn", "below 60")
    assert judge(39, limits) == ("alert", "below 40")
    assert judge(200, limits) == ("warn", "above 195")
    assert judge(216, limits) == ("alert", "above 215")
    assert judge(0.9, {"high": (0.5, 0.8)}) == ("alert", "above 0.8")
    assert judge(-5.0, {"high": (0.5, 0.8)}) == ("ok", None)


def test_config_rejects_limits_in_the_wrong_order_and_unknown_keys(tmp_path):
    config = tmp_path / "edge.toml"
    config.write_text("[monitoring]\nbrightness_low = [40, 60]\n")
    with pytest.raises(ConfigError, match=r"edge\.toml: monitoring\.brightness_low: the alert limit 60 is above the "
                                          r"warn limit 40"):
        load_config(config, {})
    config.write_text("[monitoring]\nno_face_share_high = [0.8, 0.5]\n")
    with pytest.raises(ConfigError, match=r"monitoring\.no_face_share_high: the alert limit 0\.5 is below"):
        load_config(config, {})
    config.write_text("[monitoring]\nbrightness_lo = [60, 40]\n")
    with pytest.raises(ConfigError, match=r"monitoring\.brightness_lo: Extra inputs are not permitted"):
        load_config(config, {})
    config.write_text("[monitoring]\nquality_window_s = 10\nbrightness_low = [70, 50]\n")
    m = load_config(config, {}).monitoring
    assert m.quality_window_s == 10 and m.brightness_low == (70, 50) and m.brightness_high == (195, 215)


# ---- windows ---------------------------------------------------------------------------------------------------

def test_timed_rows_drop_what_is_older_than_the_window():
    rows = TimedRows(10, 2)
    for t in range(25):
        rows.add(float(t), t, -t)
    assert len(rows) == 10 and rows.column(0).tolist() == list(range(15, 25))
    rows.evict(30.0)
    assert len(rows) == 4 and rows.column(1).tolist() == [-21, -22, -23, -24]


def test_sliding_counts_keep_exact_sums_over_whole_seconds():
    counts = SlidingCounts(3, 3)
    counts.add(0.5, 0)
    counts.add(1.2, 1)
    counts.add(1.7, 2, 0.25)
    counts.add(4.1, 0)
    assert counts.total.tolist() == [1, 1, 0.25]  # second 1 still overlaps the window (1.1, 4.1]
    counts.add(5.0, 1)
    assert counts.total.tolist() == [1, 1, 0]  # seconds 0 and 1 are out
    counts.evict(100.0)
    assert counts.total.tolist() == [0, 0, 0]


# ---- crop measures ---------------------------------------------------------------------------------------------

def test_sharpness_sees_blur_but_not_darkness():
    faces = np.load(FIXTURES / "fer_publictest_70.npz")["x"]
    for face in faces[:10]:
        b, c, s = crop_quality(face)
        db, dc, ds = crop_quality((face * 0.3).astype(np.uint8))
        assert db == pytest.approx(0.3 * b, abs=1) and dc == pytest.approx(0.3 * c, abs=1)
        assert ds == pytest.approx(s, rel=0.25)  # contrast-normalised: a dim face is not a blurred one
        assert crop_quality(cv2.GaussianBlur(face, (0, 0), 2))[2] < 0.3 * s
    assert crop_quality(np.full((48, 48), 128, np.uint8)) == (128, 0, 0)


# ---- the reference file ----------------------------------------------------------------------------------------

def test_shipped_reference_loads_and_describes_the_training_faces():
    entry = emotion_entry()
    ref = load_reference(entry, MODELS)
    assert ref.model == entry["name"] and list(ref.labels) == entry["labels"] == LABELS
    assert ref.class_counts.sum() > 20000 and (ref.class_counts > 0).all()
    assert 0.4 < ref.confidence_mean < 0.9
    assert 100 < ref.medians["brightness"] < 160 and 0.3 < ref.medians["sharpness"] < 1.5
    assert "face_size" in ref.medians  # device-calibrated from the shared clips


def test_reference_problems_are_named(tmp_path):
    entry = emotion_entry()
    (tmp_path / "emotion").mkdir()
    copy = tmp_path / entry["reference_stats"]
    shutil.copyfile(MODELS / entry["reference_stats"], copy)
    assert load_reference(entry, tmp_path).model == entry["name"]
    with pytest.raises(ReferenceStatsError, match="names no reference_stats file; make one with `python -m training"):
        load_reference({k: v for k, v in entry.items() if k != "reference_stats"}, tmp_path)
    data = json.loads(copy.read_text())
    data["model"]["sha256"] = "0" * 64
    copy.write_text(json.dumps(data))
    with pytest.raises(ReferenceStatsError, match="sha256 does not match the manifest's reference_stats_sha256"):
        load_reference(entry, tmp_path)
    resigned = dict(entry, reference_stats_sha256=hashlib.sha256(copy.read_bytes()).hexdigest())
    with pytest.raises(ReferenceStatsError, match="computed for another model file"):
        load_reference(resigned, tmp_path)
    copy.unlink()
    with pytest.raises(ReferenceStatsError, match="cannot read the reference statistics"):
        load_reference(entry, tmp_path)


# ---- the monitor on synthetic results --------------------------------------------------------------------------

FACE = np.load(FIXTURES / "fer_publictest_70.npz")["x"][3]


def result(index: int, label: str | None, confidence: float = 0.9, total_ms: float = 3.0,
           crop: np.ndarray | None = FACE) -> FrameResult:
    faces = []
    if label is not None:
        p = {name: (confidence if name == label else (1 - confidence) / 6) for name in LABELS}
        faces = [FaceResult(1, (56.0, 56.0, 80.0, 80.0), 0.9, label, confidence, p, crop)]
    return FrameResult(index, index / 30, 192, 192, faces, 1 if faces else None, {"total": total_ms})


def running_state(models_dir=MODELS) -> LiveState:
    entry = emotion_entry(models_dir)
    return LiveState(models=[{"name": entry["name"], "task": "emotion", "sha256": entry["sha256"]}])


def test_monitor_judges_windows_of_synthetic_frames():
    settings = MonitoringSettings(min_samples=10, drift_min_faces=20, quality_samples_per_s=1000,
                                  drift_reference="training")
    state = running_state()
    monitor = Monitor(settings, ModelsConfig(dir=MODELS), state)
    assert monitor.snapshot(now=0.0)["state"] == "unknown"  # nothing seen yet
    for i in range(60):  # 2 s at 30 fps: one happy face, confident
        monitor.observe(result(i, "happy"), now=i / 30)
    snap = monitor.snapshot(now=2.0)
    m = snap["metrics"]
    assert snap["reference"]["model"] == "fer_student_int8"
    assert m["no_face_share"]["value"] == 0 and m["no_face_share"]["state"] == "ok"
    assert m["brightness"]["samples"] == 60 and m["face_size"]["value"] == 80
    assert [m[q]["value"] for q in ("brightness", "contrast", "sharpness")] == pytest.approx(crop_quality(FACE),
                                                                                           abs=1e-4)
    assert m["fps"]["value"] == pytest.approx(30, rel=0.02) and m["latency_p95_ms"]["value"] == 3.0
    assert m["prediction_psi"]["shares"]["happy"] == 1.0 and m["prediction_psi"]["samples"] == 60
    assert m["prediction_psi"]["value"] > 1 and m["prediction_psi"]["state"] == "alert"  # one class only
    assert m["confidence_drop"]["value"] == pytest.approx(monitor.reference.confidence_mean - 0.9, abs=1e-4)
    assert m["confidence_drop"]["state"] == "ok"
    for i in range(60, 150):  # nobody in view for 3 s, slow frames, and some frames failing
        monitor.observe(result(i, None, total_ms=200.0), now=i / 30)
        state.errors += i % 3 == 0
    snap = monitor.snapshot(now=5.0)
    m = snap["metrics"]
    assert m["no_face_share"]["value"] == pytest.approx(0.6) and m["no_face_share"]["state"] == "warn"
    assert m["error_rate"]["value"] == pytest.approx(30 / 180, abs=1e-4)
    assert m["latency_p95_ms"]["state"] == "alert" and m["error_rate"]["state"] == "alert"
    assert snap["state"] == "alert"
    assert any(r.startswith("Failed frames alert:") and "see the daemon log" in r for r in snap["reasons"])
    assert m["brightness"]["state"] == "ok"  # the faces of the first 2 s are still in the 30 s window


def test_drift_is_judged_against_the_booths_own_baseline_once_it_is_complete():
    settings = MonitoringSettings(min_samples=10, drift_min_faces=30, baseline_faces=60)
    monitor = Monitor(settings, ModelsConfig(dir=MODELS), running_state())
    for i in range(60):  # one person, mostly happy: far from FER2013's mix, and no reason for an alarm
        monitor.observe(result(i, "happy" if i % 4 else "neutral"), now=i / 30)
    psi_ = monitor.snapshot(now=2.0)["metrics"]["prediction_psi"]
    assert psi_["state"] == "unknown" and psi_["compared_with"] == "baseline"
    assert (psi_["baseline_faces"], psi_["baseline_needs"], psi_["samples"]) == (60, 60, 0)  # still learning
    for i in range(60, 120):  # the same population after the baseline: judged, and ok
        monitor.observe(result(i, "happy" if i % 4 else "neutral"), now=i / 30)
    psi_ = monitor.snapshot(now=4.0)["metrics"]["prediction_psi"]
    assert psi_["state"] == "ok" and psi_["value"] < 0.05 and psi_["reference_shares"]["happy"] == 0.75
    for i in range(120, 300):  # then the booth's faces change (a camera turned to a wall poster, say)
        monitor.observe(result(i, "sad"), now=i / 30)
    psi_ = monitor.snapshot(now=10.0)["metrics"]["prediction_psi"]
    assert psi_["state"] == "alert" and psi_["shares"]["sad"] > 0.7
    training = Monitor(settings.model_copy(update={"drift_reference": "training"}), ModelsConfig(dir=MODELS),
                       running_state())
    for i in range(60):  # the same first faces against the training faces' mix: the alarm the baseline avoids
        training.observe(result(i, "happy" if i % 4 else "neutral"), now=i / 30)
    assert training.snapshot(now=2.0)["metrics"]["prediction_psi"]["state"] == "alert"


def test_quality_figures_come_from_the_crops_the_model_saw():
    dark = (FACE * 0.2).astype(np.uint8)
    monitor = Monitor(MonitoringSettings(min_samples=10, quality_samples_per_s=1000, drift_reference="training"),
                      ModelsConfig(dir=MODELS), running_state())
    for i in range(30):  # the face's box is the same every frame: only its crop tells the light
        monitor.observe(result(i, "happy", crop=dark), now=i / 30)
    m = monitor.snapshot(now=1.0)["metrics"]
    assert m["brightness"]["value"] == pytest.approx(crop_quality(dark)[0], abs=1e-4)
    assert m["brightness"]["value"] < 40 and m["brightness"]["state"] == "alert"
    for i in range(30, 60):  # faces built without a crop: counted as faces and predictions, not measured
        monitor.observe(result(i, "sad", crop=None), now=i / 30)
    m = monitor.snapshot(now=2.0)["metrics"]
    assert m["brightness"]["samples"] == m["face_size"]["samples"] == 30
    assert m["no_face_share"]["value"] == 0 and m["prediction_psi"]["shares"]["sad"] == 0.5


def test_faces_are_measured_at_the_configured_rate_whatever_the_frame_rate():
    for fps in (30, 7, 60):
        monitor = Monitor(MonitoringSettings(quality_samples_per_s=5), ModelsConfig(dir=MODELS), running_state())
        for i in range(10 * fps):
            monitor.observe(result(i, "happy"), now=i / fps)
        assert abs(monitor.snapshot(now=10.0)["metrics"]["brightness"]["samples"] - min(fps, 5) * 10) <= 1, fps


def test_monitor_without_a_reference_still_judges_input_quality(tmp_path):
    shutil.copytree(MODELS, tmp_path / "models", ignore=shutil.ignore_patterns("*reference.json", "reports"))
    manifest = json.loads((tmp_path / "models/manifest.json").read_text())
    for m in manifest["models"]:
        m.pop("reference_stats", None)
    (tmp_path / "models/manifest.json").write_text(json.dumps(manifest))
    settings = MonitoringSettings(min_samples=10, drift_min_faces=10, drift_reference="training")
    monitor = Monitor(settings, ModelsConfig(dir=tmp_path / "models"), running_state(tmp_path / "models"))
    for i in range(40):
        monitor.observe(result(i, "sad"), now=i / 5)
    snap = monitor.snapshot(now=8.0)
    assert "names no reference_stats file" in snap["reference"]["error"]
    assert snap["metrics"]["prediction_psi"]["state"] == "unknown" and snap["metrics"]["brightness"]["state"] == "ok"
    assert snap["metrics"]["prediction_psi"]["shares"]["sad"] == 1.0  # counted all the same


def test_monitor_follows_a_model_update(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(MODELS, models, ignore=shutil.ignore_patterns("reports"))
    state = running_state(models)
    monitor = Monitor(MonitoringSettings(min_samples=5, drift_min_faces=5, drift_reference="training"),
                      ModelsConfig(dir=models), state)
    for i in range(40):
        monitor.observe(result(i, "happy"), now=i / 30)
    assert monitor.snapshot(now=2.1)["metrics"]["prediction_psi"]["samples"] == 40
    # an update puts the baseline first (edge/bundles/store.py swaps the folder; the watcher updates LiveState)
    manifest = json.loads((models / "manifest.json").read_text())
    manifest["models"].sort(key=lambda m: m["name"] != "mini_xception_int8")
    (models / "manifest.json").write_text(json.dumps(manifest))
    baseline = manifest["models"][0]
    state.models = [{"name": baseline["name"], "task": "emotion", "sha256": baseline["sha256"]}]
    for i in range(40):
        monitor.observe(result(40 + i, "sad"), now=2.2 + i / 30)
    snap = monitor.snapshot(now=4.6)
    assert snap["reference"] == {"file": "emotion/mini_xception_reference.json", "model": "mini_xception_int8"}
    psi_ = snap["metrics"]["prediction_psi"]
    assert psi_["shares"]["sad"] == 1.0 and psi_["samples"] < 40  # the old model's predictions are gone
    assert snap["metrics"]["confidence_drop"]["reference_mean"] == pytest.approx(
        load_reference(baseline, models).confidence_mean, abs=1e-4)


def test_endpoint_and_prometheus_export():
    state = running_state()
    client = create_app(state).test_client()
    answer = client.get("/api/monitoring")
    assert answer.status_code == 503 and "has not started" in answer.get_json()["error"]
    clock = [0.0]  # the web thread's snapshot() reads the monitor's own clock
    monitor = Monitor(MonitoringSettings(min_samples=5), ModelsConfig(dir=MODELS), state, lambda: clock[0])
    state.report("monitoring", monitor.snapshot)  # as the daemon composes it
    for i in range(40):  # past the first second: the evaluation after the first frame is a second old
        clock[0] = i / 30
        monitor.observe(result(i, None))
    body = client.get("/api/monitoring").get_json()
    assert body["state"] == "alert" and body["metrics"]["no_face_share"]["value"] == 1.0
    text = render(registry_for(state)).decode()
    assert 'fer_edge_monitoring_metric_state{group="quality",metric="no_face_share"} 2.0' in text
    assert 'fer_edge_monitoring_value{group="quality",metric="no_face_share"} 1.0' in text
    assert "fer_edge_monitoring_state 2.0" in text
    assert 'metric="brightness"' not in text  # no face measured: left out, not exported as 0


def test_a_snapshot_asked_for_during_the_first_evaluation_is_never_empty(monkeypatch):
    """/metrics on a daemon just started raised KeyError('state'): another thread's first evaluation had set
    its time but not yet its snapshot."""
    import threading
    import time as time_module
    monitor = Monitor(MonitoringSettings(), ModelsConfig(dir=MODELS), running_state())
    publish = monitor._publish

    def slow_publish(figures):
        time_module.sleep(0.3)
        publish(figures)
    monitor._publish = slow_publish
    first = threading.Thread(target=monitor.snapshot)
    first.start()
    time_module.sleep(0.1)  # the first evaluation is under way
    assert "state" in monitor.snapshot()
    first.join()
