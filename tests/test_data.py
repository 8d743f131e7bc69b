import csv

import cv2
import numpy as np
import pytest

from training.data import EMOTIONS, DatasetError, FaceSet, clean_train, load, load_splits


def faces(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), rng.integers(0, 7, n)


def write_csv(path, rows, header=("emotion", "pixels", "Usage")):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def test_npz_with_ferplus_votes(tmp_path):
    x, y = faces(5)
    votes = np.full((5, 10), -1, np.int8)
    votes[0] = [6, 2, 0, 0, 2, 0, 0, 0, 0, 0]  # neutral 6, happiness 2, anger 2
    np.savez(tmp_path / "a.npz", x=x, y=y.astype(np.int8), ferplus=votes)
    got = load(tmp_path / "a.npz")
    assert (got.x == x).all() and (got.y == y).all() and (got.ids == np.arange(5)).all()
    assert (got.ferplus == votes).all()  # raw counts, read by training.ferplus
    assert (got.subset(np.array([0, 2])).ferplus == votes[[0, 2]]).all()


def test_npz_with_misshapen_votes_says_so(tmp_path):
    x, y = faces(3)
    np.savez(tmp_path / "a.npz", x=x, y=y.astype(np.int8), ferplus=np.zeros((3, 8), np.int8))
    with pytest.raises(DatasetError, match=r"ferplus is \(3, 8\); expected \(N,10\)"):
        load(tmp_path / "a.npz")


def test_kaggle_csv_reads_one_usage(tmp_path):
    x, y = faces(4)
    usage = ["Training", "PublicTest", "Training", "PrivateTest"]
    write_csv(tmp_path / "fer2013.csv", [(int(l), " ".join(map(str, im.ravel())), u) for im, l, u in zip(x, y, usage)])
    train = load(tmp_path / "fer2013.csv", "Training")
    assert len(train) == 2 and (train.x == x[[0, 2]]).all() and (train.y == y[[0, 2]]).all()
    assert list(train.ids) == [0, 2]
    assert (load(tmp_path / "fer2013.csv", "PublicTest").x == x[[1]]).all()


def test_image_folder(tmp_path):
    x, _ = faces(3)
    for im, label in zip(x, ("happy", "sad", "happy")):
        (tmp_path / label).mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / label / f"{im.sum()}.png"), im)
    got = load(tmp_path)
    assert sorted(got.y.tolist()) == [EMOTIONS.index("happy")] * 2 + [EMOTIONS.index("sad")]
    assert {im.tobytes() for im in got.x} == {im.tobytes() for im in x}  # lossless


def written(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing.npz", "no such file"),
    (lambda p: written(p / "bad.npz", b"not a zip"), "not a readable .npz"),
    (lambda p: np.savez(p / "nox.npz", y=np.zeros(2)) or p / "nox.npz", "missing arrays"),
    (lambda p: np.savez(p / "size.npz", x=np.zeros((2, 32, 32), np.uint8), y=np.zeros(2)) or p / "size.npz",
     r"expected uint8 \(N,48,48\)"),
    (lambda p: np.savez(p / "lab.npz", x=np.zeros((2, 48, 48), np.uint8), y=np.array([0, 9])) or p / "lab.npz",
     "label 9 is not a FER2013 class"),
    (lambda p: written(p / "x.json", b"{}"), "unknown dataset format"),
])
def test_bad_files_say_what_is_wrong(tmp_path, make, message):
    with pytest.raises(DatasetError, match=message):
        load(make(tmp_path))


def test_bad_csv(tmp_path):
    write_csv(tmp_path / "cols.csv", [(0, "1 2", "Training")], header=("label", "pixels", "Usage"))
    with pytest.raises(DatasetError, match="expected the Kaggle columns"):
        load(tmp_path / "cols.csv")
    write_csv(tmp_path / "short.csv", [(0, "1 2 3", "Training")])
    with pytest.raises(DatasetError, match="row 1 has 3 pixels"):
        load(tmp_path / "short.csv")
    with pytest.raises(DatasetError, match="unknown split"):
        load(tmp_path / "short.csv", "Validation")


def test_bad_folders(tmp_path):
    (tmp_path / "joy").mkdir()
    with pytest.raises(DatasetError, match=r"unknown label folder\(s\) \['joy'\]"):
        load(tmp_path)
    (tmp_path / "joy").rmdir()
    (tmp_path / "happy").mkdir()
    cv2.imwrite(str(tmp_path / "happy" / "big.png"), np.zeros((64, 64), np.uint8))
    with pytest.raises(DatasetError, match="image is 64x64; expected 48x48"):
        load(tmp_path)


def test_clean_train_drops_validation_copies_and_blanks():
    x, y = faces(6)
    x[5] = 7  # a blank placeholder
    val = FaceSet(x[[1, 3]].copy(), y[[1, 3]], np.arange(2))
    cleaned, stats = clean_train(FaceSet(x, y, np.arange(6)), val)
    assert list(cleaned.ids) == [0, 2, 4]
    assert stats == {"dropped_val_copies": 2, "dropped_blank": 1, "kept": 3}


def test_shared_fer2013_splits_load_and_clean(shared_data):
    class Src:
        def __init__(self, p):
            self.path, self.split = p, "Training"

    class Data:
        train = Src(shared_data / "fer2013/fer2013_train.npz")
        val = Src(shared_data / "fer2013/fer2013_publictest.npz")
        limit = None

    train, val = load_splits(Data)
    assert len(val) == 3589 and val.class_counts().tolist() == [467, 56, 496, 895, 653, 415, 607]
    # the README's 280 PublicTest images that also sit in Training are gone from Training
    assert 28709 - len(train) >= 280
    assert not {im.tobytes() for im in train.x} & {im.tobytes() for im in val.x}
