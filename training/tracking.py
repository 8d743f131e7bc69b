"""Run tracking with MLflow's local file store (runs/mlruns): config, git commit, data hashes,
per-epoch metrics and artifacts of every stage. Browse with ``mlflow ui --backend-store-uri runs/mlruns``.

The file store rather than SQLite: parallel teacher processes write to it without locking, it needs no
database packages on a bare GPU machine, and a run made elsewhere is merged by copying its folder.
"""
from __future__ import annotations

import subprocess
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import mlflow

from training.config import ExperimentConfig
from training.data import file_sha256


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def init_store(cfg: ExperimentConfig) -> None:
    """Point MLflow at runs/mlruns and create the experiment (once, before parallel writers)."""
    cfg.runs_dir.mkdir(parents=True, exist_ok=True)
    # MLflow 3.7 announces the file store's deprecation on every start; it is supported in the pinned version.
    warnings.filterwarnings("ignore", message="The filesystem tracking backend", category=FutureWarning)
    mlflow.set_tracking_uri((cfg.runs_dir / "mlruns").resolve().as_uri())
    mlflow.set_experiment(cfg.name)


@contextmanager
def tracked_run(cfg: ExperimentConfig, stage: str, config_path: str | Path | None = None) -> Iterator[None]:
    """Open an MLflow run for one stage; log the config, the commit and the data files' sha256."""
    init_store(cfg)
    with mlflow.start_run(run_name=stage):
        mlflow.set_tags({"stage": stage, "git_commit": git_commit()})
        mlflow.log_params(_flatten(cfg.model_dump(mode="json")))
        mlflow.log_params({f"sha256.{name}": file_sha256(src.path)
                           for name, src in (("train", cfg.data.train), ("val", cfg.data.val))})
        if config_path is not None:
            mlflow.log_artifact(str(config_path))
        yield


def log_epoch(metrics: dict[str, float], epoch: int) -> None:
    mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=epoch)


def log_artifacts(*paths: str | Path) -> None:
    for p in paths:
        p = Path(p)
        if p.is_dir():
            mlflow.log_artifacts(str(p), artifact_path=p.name)
        elif p.exists():
            mlflow.log_artifact(str(p))


def log_summary(metrics: dict[str, float]) -> None:
    mlflow.log_metrics({k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))})
