"""Search: an Optuna (TPE) study over what moves consensus accuracy: the blend of targets, width,
learning rate, weight decay, mixup, erasing and (with a teacher) its weight and temperature.

Each trial trains a student for ``search.epochs`` on the whole training set (or ``search.train_subset``
faces) and is scored on PublicTest's consensus accuracy; unpromising trials are pruned after each epoch.
The study lives in runs/<name>/search.db (SQLite) and every trial checkpoints in runs/<name>/search/:
started again, the study continues, and a trial cut off mid-way is retried from its last epoch. Its table
and parameter-importance plot are written to ``search.results_dir`` to be kept with the code.
"""
from __future__ import annotations

import csv
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import optuna
from optuna.storages import RDBStorage, RetryFailedTrialCallback

from training import distil, tracking
from training.config import ExperimentConfig
from training.data import load_splits
from training.metrics import figure


def suggest(trial: optuna.Trial, cfg: ExperimentConfig) -> ExperimentConfig:
    raw = cfg.model_dump()
    label = trial.suggest_float("label_weight", 0.0, 0.5)
    raw["targets"].update(votes=1.0 - label, label=label)
    raw["student"].update(width=trial.suggest_categorical("width", [0.5, 0.75, 1.0]),
                          lr=trial.suggest_float("lr", 1e-3, 1e-2, log=True),
                          weight_decay=trial.suggest_float("weight_decay", 1e-5, 2e-3, log=True),
                          mixup_alpha=trial.suggest_categorical("mixup_alpha", [0.0, 0.2, 0.4]),
                          erasing_p=trial.suggest_float("erasing_p", 0.0, 0.5),
                          epochs=cfg.search.epochs, max_minutes=None)
    if cfg.targets.teacher_logits is not None:
        raw["targets"].update(teacher=trial.suggest_float("teacher_weight", 0.0, 1.0),
                              temperature=trial.suggest_float("temperature", 1.0, 6.0))
    return ExperimentConfig.model_validate(raw)


def trial_dir(cfg: ExperimentConfig, params: dict) -> Path:
    """Checkpoints of one setting: a retried trial (same parameters) resumes from its last epoch."""
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    return cfg.run_dir / "search" / key


def write_table(study: optuna.Study, path: Path) -> None:
    keys = sorted({k for t in study.trials for k in t.params})
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trial", "state", "consensus", "epochs", *keys])
        for t in study.trials:
            w.writerow([t.number, t.state.name, "" if t.value is None else f"{t.value:.4f}",
                        len(t.intermediate_values), *(f"{t.params[k]:.5g}" if k in t.params else "" for k in keys)])


def plot_importance(importance: dict, title: str, path: Path) -> None:
    names = list(importance)[::-1]
    with figure(path, (6, 3.5)) as (_, ax):
        ax.barh(names, [importance[n] for n in names])
        ax.set_xlabel("importance for consensus accuracy (PED-ANOVA)")
        ax.set_title(title)


def run(cfg: ExperimentConfig, config_path=None) -> optuna.Study:
    train, val = load_splits(cfg.data)
    if cfg.search.train_subset < len(train):
        rng = np.random.default_rng(cfg.seed)
        train = train.subset(np.sort(rng.choice(len(train), cfg.search.train_subset, replace=False)))
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    # heartbeats (which find trials cut off by a stopped session) are marked experimental in optuna 4.6
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    storage = RDBStorage(f"sqlite:///{cfg.run_dir / 'search.db'}", heartbeat_interval=60, grace_period=180,
                         failed_trial_callback=RetryFailedTrialCallback(max_retry=3))
    before = {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(storage)}.get(cfg.name, 0)
    # seeded by the trials so far: a continued study must not draw the first session's settings again
    study = optuna.create_study(study_name=cfg.name, storage=storage, direction="maximize", load_if_exists=True,
                                sampler=optuna.samplers.TPESampler(seed=cfg.seed + before),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=3))

    def objective(trial: optuna.Trial) -> float:
        trial_cfg = suggest(trial, cfg)

        def report(metrics: dict, epoch: int) -> None:
            trial.report(metrics["consensus"], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        _, state = distil.train(trial_cfg, train, val, trial_dir(cfg, trial.params), report)
        return state["best"]

    done = sum(t.state.is_finished() for t in study.trials)
    with tracking.tracked_run(cfg, "search", config_path):
        study.optimize(objective, n_trials=max(cfg.search.trials - done, 0))
        results = cfg.search.results_dir
        results.mkdir(parents=True, exist_ok=True)
        table = results / f"{cfg.name}.csv"
        write_table(study, table)
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        best = {"consensus": study.best_value, "params": study.best_params, "trials": len(study.trials),
                "complete": len(complete), "epochs_per_trial": cfg.search.epochs, "train_faces": len(train)}
        if len(complete) >= 3:
            best["importance"] = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.PedAnovaImportanceEvaluator())  # fANOVA needs scikit-learn
            plot_importance(best["importance"], f"{cfg.name}: {len(complete)} complete trials",
                            results / f"{cfg.name}_importance.png")
        (results / f"{cfg.name}_best.json").write_text(json.dumps(best, indent=1) + "\n")
        tracking.log_summary({"best_consensus": study.best_value})
        tracking.log_artifacts(table, results / f"{cfg.name}_best.json")
    print(f"[search] best consensus {study.best_value:.4f} with {study.best_params} -> {table}")
    return study
