"""FER+ votes -> training targets and the crowd's majority, and the consensus figures computed exactly as
the shared checker computes them."""
import importlib.util

import numpy as np
import pytest

from tests.conftest import SHARED
from training import ferplus
from training.data import EMOTIONS, FaceSet
from training.metrics import consensus_report
from training.targets import blend, keep_for_training

# FER+ column order: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
VOTES = np.array([
    [6, 2, 0, 0, 2, 0, 0, 0, 0, 0],  # neutral majority
    [0, 0, 0, 0, 0, 0, 0, 6, 2, 2],  # contempt majority: no 7-class majority
    [1, 0, 0, 0, 0, 0, 0, 0, 9, 0],  # unknown majority: dropped from training
    [4, 4, 0, 0, 0, 0, 0, 0, 0, 2],  # tie neutral / happiness
    [-1] * 10,                        # votes unknown
    [0, 1, 0, 0, 0, 0, 0, 0, 0, 9],  # not a face
    [0, 0, 0, 7, 0, 0, 0, 3, 0, 0],  # sadness, with contempt votes left out of the shares
], np.int16)


def face_set(y):
    return FaceSet(np.zeros((len(VOTES), 48, 48), np.uint8), np.asarray(y), np.arange(len(VOTES)), VOTES)


def test_majority_drops_what_the_checker_drops():
    got = ferplus.majority(VOTES)
    assert got.tolist() == [EMOTIONS.index("neutral"), -1, -1, -1, -1, -1, EMOTIONS.index("sad")]


def test_shares_leave_contempt_out_and_unknown_rows_empty():
    s = ferplus.shares(VOTES)
    assert s[0, EMOTIONS.index("neutral")] == pytest.approx(0.6) and s[0, EMOTIONS.index("angry")] == pytest.approx(0.2)
    assert s[6, EMOTIONS.index("sad")] == pytest.approx(1.0)  # 7 of the 7 non-contempt votes
    assert np.isnan(s[1]).all() and np.isnan(s[4]).all()  # contempt only; unknown
    assert np.allclose(np.nansum(s, 1)[[0, 3, 5, 6]], 1)


def test_training_keeps_faces_with_a_readable_expression():
    # face 1 (contempt, unknown, NF only) has no vote for any of the 7 classes: nothing to learn from
    assert keep_for_training(face_set([6] * 7), votes_weight=1.0).tolist() == [True, False, False, True, False,
                                                                              False, True]
    assert keep_for_training(face_set([6] * 7), votes_weight=0.0).all()  # labels only: every face counts


def test_blend_weights_mix_votes_label_and_teacher():
    faces = face_set([3] * 7)
    votes_only = blend(faces, 1, 0, 0)
    assert votes_only[0, EMOTIONS.index("neutral")] == pytest.approx(0.6)
    assert votes_only[4, 3] == pytest.approx(1.0)  # no votes known: the label stands in
    half = blend(faces, 1, 1, 0)
    assert half[0, 3] == pytest.approx(0.5 + 0.5 * 0.2) and half[0, 6] == pytest.approx(0.3)
    teacher = np.zeros((7, 7), np.float32)
    teacher[:, 2] = 10.0
    mixed = blend(faces, 0, 1, 1, teacher_logits=teacher, temperature=1.0)
    assert mixed[0, 2] == pytest.approx(0.5, abs=1e-3) and mixed[0, 3] == pytest.approx(0.5, abs=1e-3)
    for t in (votes_only, half, mixed):
        assert np.allclose(t.sum(1), 1)
    with pytest.raises(ValueError, match="all 0"):
        blend(faces, 0, 0, 0)


def test_consensus_report_reads_the_crowd():
    logits = np.full((7, 7), -5.0)
    logits[:, EMOTIONS.index("neutral")] = 5.0  # always neutral
    r = consensus_report(VOTES, logits)
    assert r["consensus_n"] == 2 and r["consensus"] == pytest.approx(0.5)  # right on face 0, wrong on face 6
    assert r["per_class"]["neutral"] == {"accuracy": 1.0, "support": 1}
    assert r["per_class"]["sad"] == {"accuracy": 0.0, "support": 1}
    perfect = consensus_report(VOTES[[0]], np.log(np.maximum(ferplus.shares(VOTES[[0]]), 1e-30)))
    assert perfect["kl"] == pytest.approx(0.0, abs=1e-6) and perfect["vote_calibration_error"] == pytest.approx(0, abs=1e-6)
    assert r["kl"] > 1.0


def test_consensus_is_computed_as_the_shared_checker_computes_it(shared_data):
    spec = importlib.util.spec_from_file_location("checker", SHARED / "tools/check_emotion_model.py")
    checker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checker)
    data = dict(np.load(shared_data / "fer2013/fer2013_publictest.npz"))
    logits = np.random.default_rng(0).normal(size=(len(data["y"]), 7))
    theirs = checker.consensus(logits.argmax(1), data["y"].astype(int), data)
    ours = consensus_report(data["ferplus"], logits)
    assert ours["consensus"] == pytest.approx(theirs["consensus"], abs=1e-12)
    assert ours["consensus_n"] == theirs["consensus_n"] and ours["share"] == pytest.approx(theirs["share"], abs=1e-6)
