import numpy as np
import pytest

from tests.conftest import require_module
from training.metrics import calibration, classification_report, confusion, plot_confusion, plot_reliability


def logits_for(pred, k=7, margin=5.0):
    z = np.zeros((len(pred), k))
    z[np.arange(len(pred)), pred] = margin
    return z


def test_report_on_known_predictions():
    y = np.array([0, 0, 1, 1, 3, 3, 3, 6])
    pred = np.array([0, 1, 1, 1, 3, 3, 6, 6])
    r = classification_report(y, logits_for(pred))
    assert r["accuracy"] == pytest.approx(6 / 8)
    angry, disgust, happy = r["per_class"]["angry"], r["per_class"]["disgust"], r["per_class"]["happy"]
    assert angry["precision"] == 1.0 and angry["recall"] == 0.5
    assert disgust["precision"] == pytest.approx(2 / 3) and disgust["recall"] == 1.0
    assert happy["recall"] == pytest.approx(2 / 3) and happy["support"] == 3
    # classes never seen nor predicted count as F1 0 in the macro average
    f1s = [c["f1"] for c in r["per_class"].values()]
    assert r["macro_f1"] == pytest.approx(np.mean(f1s))
    assert np.array(r["confusion"]).sum() == 8 and r["confusion"][3][6] == 1


def test_confusion_rows_are_true_classes():
    cm = confusion(np.array([2, 2, 5]), np.array([2, 4, 5]))
    assert cm[2, 2] == 1 and cm[2, 4] == 1 and cm[5, 5] == 1 and cm.sum() == 3


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_overconfident():
    probs = np.full((10, 7), 0.0)
    probs[:, 0] = 0.8
    probs[:, 1] = 0.2
    y = np.array([0] * 8 + [1] * 2)  # 80 % right at 80 % confidence
    assert calibration(probs, y)[0] == pytest.approx(0.0, abs=1e-9)
    probs[:, 0], probs[:, 1] = 0.99, 0.01
    assert calibration(probs, y)[0] == pytest.approx(0.19)


def test_plots_are_written(tmp_path):
    require_module("matplotlib")
    y = np.random.default_rng(0).integers(0, 7, 200)
    r = classification_report(y, np.random.default_rng(1).normal(size=(200, 7)))
    plot_confusion(np.array(r["confusion"]), "t", tmp_path / "c.png")
    plot_reliability(r["reliability"], r["ece"], "t", tmp_path / "r.png")
    assert (tmp_path / "c.png").stat().st_size > 5000 and (tmp_path / "r.png").stat().st_size > 5000
