"""python -m edge <command>

  run [--config FILE] [--source SPEC]                                     the daemon
  config --check FILE | --dump [FILE] | --schema                          check or show the configuration
         [--environment-file ENVFILE]                                     (ENVFILE read like EnvironmentFile=)
  detect IMAGE... [--json] [--min-score S] [--draw DIR] [--model NAME]   faces per image
  bench [--source FILE|DIR|camera|synthetic|SPEC] [--frames N | --seconds S] [--threads 1,2,4]
        [--models DETECTOR,EMOTION] [--compare] [--json] [--markdown]    latency and throughput
        [--plot FILE]
  check [--config FILE] [--environment-file ENVFILE] [--json]            technician's self-test (PASS/WARN/FAIL)
        [--source SPEC] [--url URL]
  update-models BUNDLE | --rollback [--config FILE]                       install a model bundle, or go back
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2

from edge.bundles.cli import add_arguments as add_update_arguments
from edge.bundles.cli import update_models
from edge.check import add_arguments as add_check_arguments
from edge.check import check
from edge.config import ConfigError, dump, json_schema, load_config
from edge.detector import FaceDetector
from edge.devtools.bench import add_arguments as add_bench_arguments
from edge.devtools.bench import bench
from edge.env_file import ENVIRONMENT_FILE_HELP, service_environment
from edge.manifest import model_entry
from edge.sources import SourceError
from edge.tflite import ModelLoadError


def detect(args) -> int:
    entry, path = model_entry("face_detection", args.model)
    detector = FaceDetector.from_manifest(entry, path, min_score=args.min_score)
    results, failed = [], 0
    for image in args.images:
        frame = cv2.imread(str(image))
        if frame is None:
            print(f"error: {image}: not a readable image", file=sys.stderr)
            failed += 1
            continue
        faces = detector.detect(frame)
        results.append({"image": str(image), "width": frame.shape[1], "height": frame.shape[0],
                        "faces": [f.as_dict() for f in faces]})
        if args.draw:
            args.draw.mkdir(parents=True, exist_ok=True)
            for f in faces:
                x, y, w, h = (int(round(v)) for v in f.box)
                cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 200, 0), 2)
                cv2.putText(frame, f"{f.score:.2f}", (x, max(y - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 200, 0), 1)
                for kx, ky in f.keypoints:
                    cv2.circle(frame, (int(kx), int(ky)), 2, (0, 0, 255), -1)
            cv2.imwrite(str(args.draw / Path(image).name), frame)
    if args.json:
        print(json.dumps({"model": entry["name"], "images": results}, indent=1))
    else:
        print(f"{'image':40} {'face':>4} {'x':>7} {'y':>7} {'w':>7} {'h':>7} {'score':>6}")
        for r in results:
            if not r["faces"]:
                print(f"{Path(r['image']).name:40} {'-':>4}")
            for i, f in enumerate(r["faces"]):
                x, y, w, h = f["box"]
                print(f"{Path(r['image']).name:40} {i:>4} {x:>7.1f} {y:>7.1f} {w:>7.1f} {h:>7.1f} {f['score']:>6.3f}")
    return 1 if failed else 0


def run(args) -> int:
    import logging

    from edge.app import Daemon
    config = load_config(args.config)
    if args.source:
        config = config.model_copy(update={"source": config.source.model_copy(update={"spec": args.source})})
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return Daemon(config).run()


def config_command(args) -> int:
    if args.schema:
        print(json.dumps(json_schema(), indent=1))
        return 0
    config = load_config(args.check or args.dump, service_environment(args.environment_file))
    if args.check:
        print(f"{args.check}: ok")
    else:
        print(dump(config), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("run", help="run the daemon")
    r.add_argument("--config", type=Path, help="TOML config file (default: built-in defaults)")
    r.add_argument("--source", help="override source.spec: a video, image folder, /dev/videoN, picamera2, ...")
    c = commands.add_parser("config", help="check or show the configuration")
    what = c.add_mutually_exclusive_group(required=True)
    what.add_argument("--check", type=Path, metavar="FILE", help="validate FILE")
    what.add_argument("--dump", type=Path, nargs="?", const=None, default=False, metavar="FILE",
                      help="print the effective configuration (defaults, FILE, environment, ENVFILE)")
    what.add_argument("--schema", action="store_true", help="print the JSON schema")
    c.add_argument("--environment-file", type=Path, metavar="ENVFILE",
                   help="with --check or --dump: " + ENVIRONMENT_FILE_HELP)
    p = commands.add_parser("detect", help="find faces in images")
    p.add_argument("images", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--min-score", type=float, help="score threshold (default: the model's)")
    p.add_argument("--draw", type=Path, metavar="DIR", help="write annotated copies here")
    p.add_argument("--model", help="manifest name of the detector (default: the first one)")
    b = commands.add_parser("bench", help="per-stage latency and throughput on this device")
    add_bench_arguments(b)
    k = commands.add_parser("check", help="technician's self-test: camera, models, latency, thermal, disk, "
                            "clock, service, dashboard")
    add_check_arguments(k)
    u = commands.add_parser("update-models", help="install a model bundle atomically (verified, self-tested, "
                            "previous one kept), or --rollback")
    add_update_arguments(u)
    args = parser.parse_args(argv)
    if args.command == "config" and args.schema and args.environment_file:
        c.error("--environment-file goes with --check or --dump: the schema does not depend on the environment")
    try:
        return {"run": run, "config": config_command, "detect": detect, "bench": bench,
                "check": check, "update-models": update_models}[args.command](args)
    except (ModelLoadError, ConfigError, SourceError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
