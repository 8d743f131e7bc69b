"""Models: every file of models/manifest.json present with its sha256; inference fast enough for this board."""
from __future__ import annotations

import time

import cv2
import numpy as np

from edge.check.context import Context
from edge.check.result import FAIL, PASS, WARN, Result
from edge.manifest import load_manifest, model_entry
from edge.pipeline import Pipeline
from edge.tflite import ModelLoadError, runtime_name

WARMUP, RUNS = 5, 50
# p95 may exceed the budget now and then on a busy device (the daemon itself may be running); twice the
# budget means frames pile up behind the slow ones
TAIL_FACTOR = 2.0
REINSTALL = "reinstall the models (firmware_setup/install.sh verifies each sha256)"


def check_models(ctx: Context) -> Result:
    m = ctx.config.models
    try:
        manifest = load_manifest(m.dir)
        used = [model_entry("face_detection", m.detector, m.dir)[0], model_entry("emotion", m.emotion, m.dir)[0]]
    except ModelLoadError as e:
        return Result("models", FAIL, f"{e} The daemon cannot start without it: {REINSTALL}", {"dir": str(m.dir)})
    names = [e["name"] for e in used]
    others = []
    # the models the daemon does not load (float twins, baselines) are checked too: a corrupt one
    # points at a failing SD card or a botched copy before it hits the ones in use
    for entry in manifest["models"]:
        if entry.get("name") not in names:
            try:
                model_entry(entry.get("task"), entry.get("name"), m.dir)
            except ModelLoadError as e:
                others.append(str(e))
    data = {"dir": str(m.dir), "in_use": names, "listed": len(manifest["models"]), "problems": others}
    found = (f"detector {names[0]} and emotion model {names[1]} verified; "
             f"{len(manifest['models']) - len(others)} of {len(manifest['models'])} listed models intact")
    if others:
        return Result("models", WARN, f"{found}; models not in use are damaged: {' '.join(others)} "
                      f"{REINSTALL}; check the SD card (dmesg | grep -i mmc)", data)
    return Result("models", PASS, f"{found} in {m.dir}/", data)


def check_latency(ctx: Context) -> Result:
    budget = ctx.config.check.latency_budget_ms or ctx.board.latency_budget_ms
    whose = "check.latency_budget_ms" if ctx.config.check.latency_budget_ms else f"the {ctx.board.name} budget"
    try:
        pipeline = Pipeline.from_config(ctx.config)
    except ModelLoadError as e:
        return Result("latency", FAIL, f"not measured: the models do not load ({e}); fix the models row first",
                      {"budget_ms": budget})
    frame, on = ctx.frame, "a frame from the source"
    if frame is None:  # no camera frame: the detector costs the same on any image of that size
        s = ctx.config.source
        frame, on = np.full((s.height, s.width, 3), 128, np.uint8), "a grey frame (no camera frame)"
    detector, emotion = pipeline.detector, pipeline.emotion
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    face = cv2.resize(grey, (emotion.width, emotion.height), interpolation=cv2.INTER_AREA)
    detect_ms, classify_ms = [], []
    for i in range(WARMUP + RUNS):
        t0 = time.perf_counter()
        detector.detect(frame)
        t1 = time.perf_counter()
        emotion.probabilities(face)
        t2 = time.perf_counter()
        if i >= WARMUP:
            detect_ms.append((t1 - t0) * 1000)
            classify_ms.append((t2 - t1) * 1000)
    total = np.add(detect_ms, classify_ms)
    p50, p95 = float(np.percentile(total, 50)), float(np.percentile(total, 95))
    data = {"p50_ms": round(p50, 3), "p95_ms": round(p95, 3), "detect_p50_ms": round(float(np.median(detect_ms)), 3),
            "classify_p50_ms": round(float(np.median(classify_ms)), 3), "budget_ms": budget,
            "board": ctx.board.key, "runtime": runtime_name(), "threads": ctx.config.models.threads,
            "models": [m["name"] for m in pipeline.models], "runs": RUNS}
    found = (f"detector {data['detect_p50_ms']:.2f} ms + emotion {data['classify_p50_ms']:.2f} ms per face: "
             f"p50 {p50:.2f} ms, p95 {p95:.2f} ms over {RUNS} runs on {on} ({data['runtime']}, "
             f"{data['threads']} thread(s))")
    if p50 > budget:
        return Result("latency", FAIL, f"{found}: over {whose} of {budget:g} ms: check the thermal row "
                      "(a throttled CPU is slow), that models.detector/emotion name the int8 models, and "
                      "that nothing else keeps the CPU busy (top)", data)
    if p95 > TAIL_FACTOR * budget:
        return Result("latency", WARN, f"{found}: p95 over twice {whose} of {budget:g} ms: other processes "
                      "compete for the CPU (top); rerun when the device is idle", data)
    return Result("latency", PASS, f"{found}, within {whose} of {budget:g} ms", data)
