"""python -m edge analyze PATH...: faces and expressions of images, videos and folders (`-`: an image on
stdin), as a table, JSON Lines (one document per image or sampled frame) or CSV (one row per face), with
annotated copies on request. Every unreadable input is one `error:` line and makes the exit status 1;
the others are still analysed."""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from edge.analyze import CHOICES, AnalyzeError, Analyzer, Reading
from edge.tflite import ModelLoadError


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="image, video or folder of them; - reads one image from standard input")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="JSON Lines: one document per image or sampled frame")
    out.add_argument("--csv", action="store_true", help="CSV: one row per face, a column per expression")
    parser.add_argument("--draw", type=Path, metavar="DIR", help="write annotated copies of the images and "
                        "sampled frames into DIR")
    parser.add_argument("--every", type=float, default=1.0, metavar="S",
                        help="sample videos every S seconds (default: 1)")
    parser.add_argument("--detector", choices=CHOICES, default="auto",
                        help="short: BlazeFace short-range (int8, faces near the camera); full: full-range "
                        "(small faces, group photos); both: both, merged; auto (default): both on images, "
                        "short on videos")
    parser.add_argument("--min-score", type=float, metavar="S", help="face score threshold (default: each "
                        "detector's shipped one)")
    parser.add_argument("--emotion", metavar="NAME", help="manifest name of the expression model (default: "
                        "the first one, the device's)")
    parser.add_argument("--models", type=Path, metavar="DIR", help="models folder (default: the shipped models/)")


def stdin_image() -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(sys.stdin.buffer.read(), np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise AnalyzeError("-: standard input is not an image OpenCV can decode.")
    return image


def draw(reading: Reading, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    out = reading.image.copy()
    for f in reading.faces:
        x, y, w, h = (int(round(v)) for v in f.box)
        cv2.rectangle(out, (x, y), (x + w, y + h), (0, 200, 0), 2)
        label = f"{f.expression} {f.probabilities[f.expression]:.2f}"
        cv2.putText(out, label, (x, max(y - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 200, 0), 1, cv2.LINE_AA)
        for px, py in f.landmarks.values():
            cv2.circle(out, (int(px), int(py)), 2, (0, 0, 255), -1)
    stem = Path(reading.source).stem if reading.source != "-" else "stdin"
    name = f"{stem}_{reading.frame:06d}.jpg" if reading.frame is not None else f"{stem}.jpg"
    cv2.imwrite(str(folder / name), out)


class Output:
    """Writes readings as the chosen format, as they come (a long video streams its rows)."""

    def __init__(self, kind: str, labels: list[str]):
        self.kind, self.labels = kind, labels
        if kind == "csv":
            self.csv = csv.writer(sys.stdout)
            self.csv.writerow(["source", "frame", "time_s", "face", "track_id", "x", "y", "w", "h", "score",
                               "expression", *labels])
        elif kind == "table":
            print(f"{'source':32} {'frame':>6} {'face':>4} {'x':>7} {'y':>7} {'w':>6} {'h':>6} {'score':>5}  expression")

    def write(self, r: Reading) -> None:
        if self.kind == "json":
            print(json.dumps(r.as_dict()), flush=True)
        elif self.kind == "csv":
            for i, f in enumerate(r.faces):
                self.csv.writerow([r.source, "" if r.frame is None else r.frame,
                                   "" if r.time_s is None else round(r.time_s, 3), i,
                                   "" if f.track_id is None else f.track_id, *(round(v, 1) for v in f.box),
                                   round(f.score, 4), f.expression, *(round(f.probabilities[k], 4) for k in self.labels)])
        else:
            name, frame = Path(r.source).name[-32:], "-" if r.frame is None else str(r.frame)
            if not r.faces:
                print(f"{name:32} {frame:>6} {'-':>4}  (no face; detectors: {', '.join(r.detectors)})")
            for i, f in enumerate(r.faces):
                x, y, w, h = f.box
                print(f"{name:32} {frame:>6} {i:>4} {x:>7.1f} {y:>7.1f} {w:>6.1f} {h:>6.1f} {f.score:>5.2f}  "
                      f"{f.expression} ({f.probabilities[f.expression]:.2f})")


def progress_bar(name: str):
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int | None) -> None:
        shown = f"{done}/{total} frames ({100 * done / total:.0f} %)" if total else f"{done} frames"
        print(f"\r{name}: {shown}", end="" if not total or done < total else "\n", file=sys.stderr, flush=True)
    return show


def analyze(args) -> int:
    try:
        analyzer = Analyzer(args.detector, **({"models_dir": args.models} if args.models else {}),
                            emotion=args.emotion, min_score=args.min_score)
    except (AnalyzeError, ModelLoadError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Output("json" if args.json else "csv" if args.csv else "table", analyzer.emotion.labels)
    failed = 0
    for path in args.paths:
        try:
            readings = ([analyzer.analyze_image(stdin_image(), "-")] if path == "-" else
                        analyzer.analyze_path(path, args.every, progress_bar(Path(path).name)))
            for reading in readings:
                out.write(reading)
                if args.draw:
                    draw(reading, args.draw)
        except AnalyzeError as e:
            print(f"error: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0

