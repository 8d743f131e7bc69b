"""python -m edge.devtools.monitor_bench: what the monitor adds to each frame, beside what the pipeline costs.

The clip is decoded first (decoding is not measured), then every frame runs through the production
pipeline and the monitor, the monitor's clock being the clip's own time so that its sampling and its
once-a-second evaluation happen as often as on a device filming in real time.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from edge.config import ConfigError, load_config
from edge.monitoring.monitor import Monitor
from edge.pipeline import Pipeline
from edge.state import LiveState

DEMO = Path(__file__).resolve().parents[2] / "media/demo.mp4"


def read_clip(path: Path, frames: int | None) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SystemExit(f"error: cannot open {path}: give a video file OpenCV can decode (--source)")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    images = []
    while frames is None or len(images) < frames:
        ok, image = cap.read()
        if not ok:
            break
        images.append(image)
    cap.release()
    if not images:
        raise SystemExit(f"error: {path} has no frame")
    return images, fps


def summary(ms: list[float]) -> dict:
    v = np.array(ms)
    return {"mean_ms": round(float(v.mean()), 4), "p50_ms": round(float(np.median(v)), 4),
            "p99_ms": round(float(np.percentile(v, 99)), 4), "max_ms": round(float(v.max()), 4)}


def measure(config, images: list[np.ndarray], fps: float) -> dict:
    pipeline = Pipeline.from_config(config)
    models = pipeline.models
    monitor = Monitor(config.monitoring, config.models, LiveState(models=models))
    monitor.snapshot(now=-1.0)  # loads the model's reference: start-up work, not per-frame work
    pipeline_ms, observe_ms, evaluating_ms = [], [], []
    for i, image in enumerate(images):
        t0 = time.perf_counter()
        result = pipeline.process(image, i / fps, i)
        t1 = time.perf_counter()
        evaluates = i / fps - monitor._evaluated_at >= 1.0
        monitor.observe(result, now=i / fps)
        t2 = time.perf_counter()
        pipeline_ms.append((t1 - t0) * 1000)
        (evaluating_ms if evaluates else observe_ms).append((t2 - t1) * 1000)
    added = observe_ms + evaluating_ms
    return {"frames": len(images), "clip_fps": round(fps, 2), "pipeline": summary(pipeline_ms),
            "monitor_per_frame": summary(added), "monitor_without_evaluation": summary(observe_ms),
            "evaluations": {"count": len(evaluating_ms), **summary(evaluating_ms)},
            "monitor_share_of_pipeline": round(float(np.mean(added) / np.mean(pipeline_ms)), 4),
            "state": monitor.snapshot(now=len(images) / fps)["state"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge.devtools.monitor_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=DEMO, help="video file (default: the bundled demo clip)")
    parser.add_argument("--frames", type=int, default=None, help="first N frames only")
    parser.add_argument("--config", type=Path, default=None, help="daemon config (models, monitoring limits)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as e:
        raise SystemExit(f"error: {e}") from e
    images, fps = read_clip(args.source, args.frames)
    report = measure(config, images, fps)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    p, m, e = report["pipeline"], report["monitor_per_frame"], report["evaluations"]
    print(f"{report['frames']} frames of {args.source.name} at {report['clip_fps']} fps")
    print(f"pipeline: mean {p['mean_ms']:.3f} ms, p50 {p['p50_ms']:.3f} ms per frame")
    print(f"monitor:  mean {m['mean_ms']:.4f} ms, p50 {m['p50_ms']:.4f} ms, p99 {m['p99_ms']:.4f} ms per frame "
          f"({100 * report['monitor_share_of_pipeline']:.1f} % of the pipeline)")
    print(f"          of which {e['count']} evaluations (once a second): mean {e['mean_ms']:.3f} ms, "
          f"max {e['max_ms']:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
