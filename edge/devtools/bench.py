"""python -m edge bench: per-stage latency and throughput of the production pipeline on this device.

Runs edge.pipeline.Pipeline itself (not a copy) on frames from a file, folder, camera or a synthetic
frame, for each thread count; optionally beside the float models and the `fer` package's approach
(OpenCV Haar cascade + float mini-Xception).
"""
from __future__ import annotations

import argparse
import json
import re
import resource
import time
from pathlib import Path

import cv2
import numpy as np

from edge import device_info
from edge.allocator import tune_allocator
from edge.check.thermal import THROTTLE_BITS
from edge.config import EdgeConfig, load_config
from edge.devtools.peers import MEDIAPIPE_MISSING, run_haar_peer, run_mediapipe_peer
from edge.manifest import float_version, load_manifest
from edge.pipeline import STAGES, Pipeline
from edge.sources import SourceError, open_source
from edge.tflite import runtime_name

DEMO = Path(__file__).resolve().parents[2] / "media/demo.mp4"
SYNTHETIC_FRAME = 12  # a demo frame where the shipped detector finds exactly one face, as the target assumes
WARMUP = 50  # XNNPACK and the caches settle over the first few dozen frames


def frame_supplier(spec: str):
    """A function returning the next frame (BGR uint8): 'synthetic' repeats one 640x480 frame with a face."""
    if spec == "synthetic":
        cap = cv2.VideoCapture(str(DEMO))
        cap.set(cv2.CAP_PROP_POS_FRAMES, SYNTHETIC_FRAME)
        ok, frame = cap.read()
        cap.release()
        if not ok:
            raise SourceError(f"{DEMO}: cannot read the demo clip for the synthetic frame")
        frame = cv2.resize(frame, (640, 480))
        return lambda: frame
    source = open_source("/dev/video0" if spec == "camera" else spec, loop=True, realtime=False)

    def next_frame():
        f = source.read()
        if f is None:
            raise SourceError(f"{spec}: the source ended")
        return f.image
    return next_frame


def percentiles(values: list[float]) -> dict:
    v = np.array(values)
    return {"p50_ms": float(np.percentile(v, 50)), "p95_ms": float(np.percentile(v, 95)),
            "p99_ms": float(np.percentile(v, 99)), "max_ms": float(v.max())}


def run_pipeline(config: EdgeConfig, spec: str, frames: int | None, seconds: float | None) -> dict:
    pipeline = Pipeline.from_config(config)
    models = pipeline.models
    next_frame = frame_supplier(spec)
    timings: dict[str, list[float]] = {s: [] for s in ("capture", *STAGES, "total")}
    for i in range(WARMUP):
        pipeline.process(next_frame(), i / 30, i)
    usage0, start, n, faces, detected = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter(), 0, 0, 0
    while (frames is None or n < frames) and (seconds is None or time.perf_counter() - start < seconds):
        t = time.perf_counter()
        image = next_frame()
        capture = (time.perf_counter() - t) * 1000
        result = pipeline.process(image, n / 30, n)
        timings["capture"].append(capture)
        faces += len(result.faces)
        detected += result.detected
        for stage, ms in result.timings_ms.items():
            timings[stage].append(ms + (capture if stage == "total" else 0))
        n += 1
    wall = time.perf_counter() - start
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime - usage0.ru_utime + usage1.ru_stime - usage0.ru_stime) / wall
    totals = timings.pop("total")
    return {"threads": config.models.threads, "models": [m["name"] for m in models], "frames": n,
            "stages": {k: percentiles(v) for k, v in timings.items()},
            "total": {**percentiles(totals), "fps": n / wall}, "cpu_share_of_one_core": cpu,
            "faces_per_frame": faces / max(n, 1), "detect_every": config.pipeline.detect_every,
            "detector_duty": detected / max(n, 1), "_totals": totals}


def every_frame(config: EdgeConfig) -> EdgeConfig:
    """The config with the detector on every frame (no cadence): the cost the cadence saves."""
    return config.model_copy(update={"pipeline": config.pipeline.model_copy(update={"detect_every": 1})})


def with_threads(config: EdgeConfig, threads: int) -> EdgeConfig:
    return config.model_copy(update={"models": config.models.model_copy(update={"threads": threads})})


# the config fields that name each task's model
MODEL_FIELDS = {"face_detection": "detector", "emotion": "emotion"}


def with_models(config: EdgeConfig, names: list[str]) -> EdgeConfig:
    """The config with the named manifest models in place of the configured ones: at most one per task."""
    manifest = load_manifest(config.models.dir)["models"]
    tasks = {m.get("name"): m.get("task") for m in manifest}
    chosen: dict[str, str] = {}
    for name in names:
        if tasks.get(name) not in MODEL_FIELDS:
            known = ", ".join(f"{n} ({t})" for n, t in tasks.items() if t in MODEL_FIELDS)
            raise SystemExit(f"--models: {config.models.dir / 'manifest.json'} has no face detector or emotion model "
                             f"named {name}; it lists: {known}.")
        field = MODEL_FIELDS[tasks[name]]
        if field in chosen:
            raise SystemExit(f"--models names two {tasks[name]} models ({chosen[field]}, {name}); give at most one "
                             "face detector and one emotion model.")
        chosen[field] = name
    return config.model_copy(update={"models": config.models.model_copy(update=chosen)})


def float_models(config: EdgeConfig) -> EdgeConfig | None:
    """The same config with the float versions of the configured models, where the manifest has them."""
    m = config.models
    det, emo = float_version("face_detection", m.detector, m.dir), float_version("emotion", m.emotion, m.dir)
    if det is None or emo is None:
        return None
    return config.model_copy(update={"models": m.model_copy(update={"detector": det[0]["name"],
                                                                     "emotion": emo[0]["name"]})})


def thermal_line(before: dict, after: dict) -> str:
    """Temperatures, CPU clocks and the Pi's throttling flags before and after the runs: a run that heated the
    board into throttling is not comparable with one that did not."""
    parts = [f"{name} {before['zones_c'][name]:.1f} -> {c:.1f} C" for name, c in after["zones_c"].items()
             if name in before["zones_c"]]
    parts += [f"{name} {before['cpu_clocks'][name]['mhz']:.0f} -> {c['mhz']:.0f} MHz "
              f"(may run at {c['allowed_mhz']:.0f}, at most {c['max_mhz']:.0f})"
              for name, c in after["cpu_clocks"].items() if name in before["cpu_clocks"]]
    if before["vcgencmd_temp"] or after["vcgencmd_temp"]:
        parts.append(f"vcgencmd {before['vcgencmd_temp']} -> {after['vcgencmd_temp']}")
    if before["vcgencmd_throttled"] or after["vcgencmd_throttled"]:
        m = re.search(r"0x[0-9a-fA-F]+", after["vcgencmd_throttled"] or "")
        now = [what for bit, (what, _) in THROTTLE_BITS.items() if m and int(m.group(), 16) & (1 << bit)]
        verdict = f" ({', '.join(now)} now: not comparable with an unthrottled run)" if now else ""
        parts.append(f"{before['vcgencmd_throttled']} -> {after['vcgencmd_throttled']}{verdict}")
    return "Temperature before -> after: " + ("; ".join(parts) if parts else "no thermal sensor readable here") + "."


def markdown(report: dict) -> str:
    device = report["device"]
    # a Jetson's speed depends on its power mode: nvpmodel -q says "NV Power Mode: 15W", then the mode's number
    power = f" ({device['jetson_power_mode'].splitlines()[0]})" if device["jetson_power_mode"] else ""
    lines = [f"Device: {device['cpu']} ({device['cores']} cores), {device['board'] or device['machine']}{power}, "
             f"{device['os']}; "
             f"runtime {report['runtime']}; source {report['source']}; models {' + '.join(report['models'])}.", "",
             "| threads | stage | p50 ms | p95 ms | p99 ms | max ms |", "|---|---|---|---|---|---|"]
    for run in report["runs"]:
        for stage, p in [*run["stages"].items(), ("total", run["total"])]:
            lines.append(f"| {run['threads']} | {stage} | {p['p50_ms']:.3f} | {p['p95_ms']:.3f} | "
                         f"{p['p99_ms']:.3f} | {p['max_ms']:.3f} |")
        lines.append(f"| {run['threads']} | **fps / CPU** | {run['total']['fps']:.1f} fps | "
                     f"{100 * run['cpu_share_of_one_core']:.0f} % of a core | detector on "
                     f"{100 * run['detector_duty']:.0f} % of frames | (detect_every {run['detect_every']}) |")
    if report["comparisons"]:
        base = report["runs"][0]["total"]["p50_ms"]
        lines += ["", "| pipeline (1st thread setting) | total p50 ms | fps | vs the one above |", "|---|---|---|---|",
                  f"| {' + '.join(report['models'])} (detect_every {report['runs'][0]['detect_every']}) | {base:.3f} | "
                  f"{report['runs'][0]['total']['fps']:.1f} | 1.0x |"]
        for c in report["comparisons"]:
            lines.append(f"| {c['name']} | {c['total']['p50_ms']:.3f} | {c['total']['fps']:.1f} | "
                         f"{c['slower_than_shipped_x']:.2f}x {'slower' if c['slower_than_shipped_x'] >= 1 else 'faster'} |")
    lines += ["", thermal_line(report["thermal_before"], report["thermal_after"])]
    if report["notes"]:
        lines += ["", *report["notes"]]
    lines += ["", f"Peak resident memory {report['peak_rss_mb']:.0f} MB. Models: " +
              ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in report["model_sizes"].items()) + "."]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    try:
        import matplotlib
    except ImportError as e:
        raise SystemExit("--plot needs matplotlib (pip install matplotlib)") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for run in report["runs"]:
        ax.hist(run["_totals"], bins=50, alpha=0.6, label=f"{run['threads']} thread(s)")
    ax.set_xlabel("total latency per frame (ms)")
    ax.set_ylabel("frames")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def parse_threads(text: str) -> list[int]:
    try:
        threads = [int(t) for t in text.split(",")]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--threads takes numbers like 1,2,4, not '{text}'") from e
    if not threads or min(threads) < 1:
        raise argparse.ArgumentTypeError("--threads must be positive numbers like 1,2,4")
    return threads


def parse_models(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("--models takes manifest names like blazeface_short_int8,fer_student_int8")
    return names


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", default="synthetic", help="FILE, DIR, camera (/dev/video0), synthetic (default) "
                   "or any source the daemon takes (picamera2, /dev/videoN, gst:...)")
    how_long = p.add_mutually_exclusive_group()
    how_long.add_argument("--frames", type=int, help="frames per thread setting (default 300)")
    how_long.add_argument("--seconds", type=float, help="seconds per thread setting")
    p.add_argument("--threads", type=parse_threads, default=[1], help="comma-separated, e.g. 1,2,4")
    p.add_argument("--models", type=parse_models, metavar="NAME[,NAME]",
                   help="manifest names of the face detector and/or emotion model to run instead of the configured "
                        "ones, e.g. blazeface_full_float,mini_xception_int8")
    p.add_argument("--compare", action="store_true", help="also time the float models and Haar + mini-Xception")
    p.add_argument("--config", type=Path, help="daemon config (models dir, pipeline settings)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON document (instead of the "
                   "Markdown tables, unless --markdown)")
    p.add_argument("--markdown", action="store_true", help="with --json, also print the Markdown tables after it "
                   "(without --json they are the default output)")
    p.add_argument("--plot", type=Path, metavar="FILE", help="latency histogram PNG")


def bench(args) -> int:
    if args.frames is not None and args.frames < 1:
        raise SystemExit("--frames must be at least 1")
    frames = args.frames if args.frames or args.seconds else 300
    # the daemon's malloc settings: each frame read from a file or camera is then a fresh mmap, as in the daemon,
    # and capture (page faults) and the first stages to touch it (cache misses) cost what they cost there
    allocator_tuned = tune_allocator()
    base = load_config(args.config)
    if args.models:
        base = with_models(base, args.models)
    thermal_before = device_info.thermal()
    runs = []
    for threads in args.threads:
        run = run_pipeline(with_threads(base, threads), args.source, frames, args.seconds)
        runs.append(run)
    comparisons, notes = [], []
    if args.compare:  # each at the first thread setting, beside the shipped pipeline's first run
        first = with_threads(base, args.threads[0])
        if first.pipeline.detect_every > 1:
            r = run_pipeline(every_frame(first), args.source, frames or 100, args.seconds)
            comparisons.append({"name": f"shipped models, detector on every frame ({' + '.join(r['models'])})",
                                "total": r["total"], "detector_duty": r["detector_duty"]})
        floats = float_models(first)
        if floats is not None:
            for config in (floats, with_models(floats, ["mini_xception_float"])):
                r = run_pipeline(every_frame(config), args.source, frames or 100, args.seconds)
                comparisons.append({"name": f"float models, every frame ({' + '.join(r['models'])})",
                                    "total": r["total"], "detector_duty": r["detector_duty"]})
        peers = [run_peer(first, frame_supplier(args.source), min(frames or 50, 50))
                 for run_peer in (run_haar_peer, run_mediapipe_peer)]
        if peers[1] is None:
            notes.append(MEDIAPIPE_MISSING)
        for peer in filter(None, peers):
            totals = peer.pop("totals_ms")
            comparisons.append({**peer, "total": {**percentiles(totals), "fps": 1000 / float(np.mean(totals))}})
        for c in comparisons:  # against the shipped pipeline at the first thread setting, as printed
            c["slower_than_shipped_x"] = c["total"]["p50_ms"] / runs[0]["total"]["p50_ms"]
    manifest = load_manifest(base.models.dir)["models"]
    report = {"device": device_info.describe(), "thermal_before": thermal_before, "thermal_after": device_info.thermal(),
              "runtime": runtime_name(), "source": args.source, "models": runs[0]["models"],
              "daemon_allocator_settings": allocator_tuned, "runs": runs,
              "stages": runs[0]["stages"], "total": runs[0]["total"], "comparisons": comparisons,
              "notes": notes,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "model_sizes": {m["name"]: (base.models.dir / m["file"]).stat().st_size for m in manifest}}
    if args.plot:
        plot(report, args.plot)
    for run in runs:
        run.pop("_totals")
    if args.json:
        print(json.dumps(report, indent=1))
    if args.markdown or not args.json:
        print(markdown(report))
    return 0
