"""Distil: train the Keras student on the teacher's soft targets plus the labels.

loss = (1 - alpha) * CE(labels, student) + alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T))
(Hinton et al. 2015). Without teacher logits (alpha ignored) it is plain supervised training, which is
how the mini-Xception baseline is trained by the same code.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from edge.preprocess import normalise  # noqa: E402
from training import tracking  # noqa: E402
from training.augment import augment  # noqa: E402
from training.config import ExperimentConfig  # noqa: E402
from training.data import EMOTIONS, FaceSet, load_splits, soft_labels  # noqa: E402
from training.models import INPUT_MEAN, INPUT_STD, build  # noqa: E402

K = len(EMOTIONS)


def model_path(cfg: ExperimentConfig) -> "os.PathLike":
    return cfg.run_dir / "student" / "best.keras"


def teacher_logits_for(cfg: ExperimentConfig, faces: FaceSet, split: str) -> np.ndarray:
    """The teacher's logits for these faces, matched by id; zeros when the experiment has no teacher."""
    if cfg.distil.teacher_logits is None:
        return np.zeros((len(faces), K), np.float32)
    with np.load(cfg.distil.teacher_logits) as t:
        ids, logits = t[f"{split}_ids"], t[f"{split}_logits"]
    pos = {int(i): n for n, i in enumerate(ids)}
    missing = [int(i) for i in faces.ids if int(i) not in pos]
    if missing:
        raise SystemExit(f"{cfg.distil.teacher_logits}: no teacher logits for {len(missing)} {split} faces "
                         f"(e.g. id {missing[0]}); rerun the teacher stage on this data.")
    return logits[[pos[int(i)] for i in faces.ids]].astype(np.float32)


def distillation_loss(temperature: float, alpha: float):
    """y_true packs [label targets (7) | teacher logits (7)]."""
    def loss(y_true, logits):
        labels, teacher = y_true[:, :K], y_true[:, K:]
        ce = keras.losses.categorical_crossentropy(labels, logits, from_logits=True)
        if alpha == 0:
            return ce
        t_prob = ops.softmax(teacher / temperature)
        kd = ops.sum(t_prob * (ops.log_softmax(teacher / temperature) - ops.log_softmax(logits / temperature)), -1)
        return (1 - alpha) * ce + alpha * temperature ** 2 * kd
    return loss


def label_accuracy(y_true, logits):
    return ops.cast(ops.argmax(y_true[:, :K], -1) == ops.argmax(logits, -1), "float32")


def inputs(faces: FaceSet) -> np.ndarray:
    return normalise(faces.x, INPUT_MEAN, INPUT_STD)[..., None]


def dataset(x: np.ndarray, y: np.ndarray, batch: int, erasing_p: float | None, seed: int) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if erasing_p is not None:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch)
    if erasing_p is not None:
        ds = ds.map(lambda xb, yb: (augment(xb, erasing_p), yb), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


class MlflowEpochLogger(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        tracking.log_epoch(dict(logs or {}), epoch + 1)


def load_initial_weights(model: keras.Model, path) -> None:
    try:
        model.load_weights(path)
    except (OSError, ValueError) as e:
        raise SystemExit(f"student.init_from = {path}: cannot start from it ({e}). It must be a .keras file "
                         f"saved by the distil stage for arch {model.name!r} at the same width.") from e


def compile_student(model: keras.Model, cfg: ExperimentConfig, steps: int) -> None:
    sc = cfg.student
    schedule = keras.optimizers.schedules.CosineDecay(sc.lr / 10, decay_steps=sc.epochs * steps,
                                                      warmup_target=sc.lr, warmup_steps=2 * steps)
    alpha = cfg.distil.alpha if cfg.distil.teacher_logits is not None else 0.0
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=sc.weight_decay),
                  loss=distillation_loss(cfg.distil.temperature, alpha), metrics=[label_accuracy])


def train(cfg: ExperimentConfig, train_set: FaceSet, val_set: FaceSet, epochs: int | None = None,
          out_dir=None, callbacks: list | None = None) -> tuple[keras.Model, dict]:
    """Train a student on these splits; returns the best-on-validation model and its history."""
    sc = cfg.student
    keras.utils.set_random_seed(cfg.seed)
    y_train = np.concatenate([soft_labels(train_set, sc.label_smoothing, cfg.data.ferplus_weight),
                              teacher_logits_for(cfg, train_set, "train")], 1)
    y_val = np.concatenate([soft_labels(val_set, 0.0), teacher_logits_for(cfg, val_set, "val")], 1)
    train_ds = dataset(inputs(train_set), y_train, sc.batch_size, sc.erasing_p, cfg.seed)
    val_ds = dataset(inputs(val_set), y_val, 512, None, cfg.seed)
    model = build(sc.arch, sc.width)
    if sc.init_from is not None:
        load_initial_weights(model, sc.init_from)
    compile_student(model, cfg, len(train_ds))
    cbs = list(callbacks or [])
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        cbs += [keras.callbacks.BackupAndRestore(str(out_dir / "backup")),  # resume after an interruption
                keras.callbacks.ModelCheckpoint(str(out_dir / "best.keras"), monitor="val_label_accuracy",
                                                mode="max", save_best_only=True),
                keras.callbacks.ModelCheckpoint(str(out_dir / "last.keras"))]
    cbs.append(keras.callbacks.EarlyStopping(monitor="val_label_accuracy", mode="max", patience=sc.patience,
                                             restore_best_weights=True))
    history = model.fit(train_ds, validation_data=val_ds, epochs=epochs or sc.epochs, callbacks=cbs, verbose=2)
    return model, history.history


def run(cfg: ExperimentConfig, config_path=None) -> None:
    train_set, val_set = load_splits(cfg.data)
    print(f"[distil] {cfg.student.arch}: {len(train_set)} train / {len(val_set)} val faces, "
          f"teacher {'none' if cfg.distil.teacher_logits is None else cfg.distil.teacher_logits}", flush=True)
    out_dir = model_path(cfg).parent
    with tracking.tracked_run(cfg, "distil", config_path):
        model, history = train(cfg, train_set, val_set, out_dir=out_dir, callbacks=[MlflowEpochLogger()])
        model.save(model_path(cfg))  # the restored best weights
        best = max(history["val_label_accuracy"])
        tracking.log_summary({"best_val_acc": best, "params": model.count_params()})
        tracking.log_artifacts(model_path(cfg))
    print(f"[distil] best val accuracy {best:.4f} -> {model_path(cfg)}", flush=True)
