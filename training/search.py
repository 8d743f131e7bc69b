"""Search: a small Optuna (TPE) study over the student settings that matter most for distillation.

Each trial trains the student for a few epochs on a subset of Training and scores it on PublicTest;
unpromising trials are pruned after each epoch. The study lives in runs/<name>/search.db (resumable);
its table is written to search.results_dir (training/search_results/) to be kept with the code.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import keras
import numpy as np
import optuna

from training import distil, tracking
from training.config import ExperimentConfig
from training.data import load_splits


def suggest(trial: optuna.Trial, cfg: ExperimentConfig) -> ExperimentConfig:
    raw = cfg.model_dump()
    raw["student"].update(lr=trial.suggest_float("lr", 1e-3, 1e-2, log=True),
                          weight_decay=trial.suggest_float("weight_decay", 1e-5, 1e-3, log=True),
                          erasing_p=trial.suggest_float("erasing_p", 0.0, 0.5))
    if cfg.distil.teacher_logits is not None:
        raw["distil"].update(temperature=trial.suggest_float("temperature", 1.5, 8.0),
                             alpha=trial.suggest_float("alpha", 0.3, 0.95))
    return ExperimentConfig.model_validate(raw)


class PruneOnEpoch(keras.callbacks.Callback):
    def __init__(self, trial: optuna.Trial):
        super().__init__()
        self.trial = trial

    def on_epoch_end(self, epoch, logs=None):
        self.trial.report(float(logs["val_label_accuracy"]), epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned()


def write_table(study: optuna.Study, path: Path) -> None:
    keys = sorted({k for t in study.trials for k in t.params})
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trial", "state", "val_accuracy", *keys])
        for t in study.trials:
            w.writerow([t.number, t.state.name, "" if t.value is None else f"{t.value:.4f}",
                        *(f"{t.params[k]:.5g}" if k in t.params else "" for k in keys)])


def run(cfg: ExperimentConfig, config_path=None) -> optuna.Study:
    train, val = load_splits(cfg.data)
    rng = np.random.default_rng(cfg.seed)
    subset = train.subset(np.sort(rng.choice(len(train), min(cfg.search.train_subset, len(train)), replace=False)))
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(study_name=cfg.name, storage=f"sqlite:///{cfg.run_dir / 'search.db'}",
                                direction="maximize", load_if_exists=True,
                                sampler=optuna.samplers.TPESampler(seed=cfg.seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1))

    def objective(trial: optuna.Trial) -> float:
        trial_cfg = suggest(trial, cfg)
        _, history = distil.train(trial_cfg, subset, val, epochs=cfg.search.epochs, callbacks=[PruneOnEpoch(trial)])
        return max(history["val_label_accuracy"])

    with tracking.tracked_run(cfg, "search", config_path):
        study.optimize(objective, n_trials=cfg.search.trials)
        results = cfg.search.results_dir
        results.mkdir(parents=True, exist_ok=True)
        table = results / f"{cfg.name}.csv"
        write_table(study, table)
        best = {"val_accuracy": study.best_value, "params": study.best_params,
                "trials": len(study.trials), "epochs_per_trial": cfg.search.epochs,
                "train_subset": len(subset)}
        (results / f"{cfg.name}_best.json").write_text(json.dumps(best, indent=1) + "\n")
        tracking.log_summary({"best_val_acc": study.best_value})
        tracking.log_artifacts(table, results / f"{cfg.name}_best.json")
    print(f"[search] best val accuracy {study.best_value:.4f} with {study.best_params} -> {table}")
    return study
