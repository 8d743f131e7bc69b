"""python -m edge <command>

  run [--config FILE] [--source SPEC] [--environment-file ENVFILE]       the daemon
  config --check FILE | --dump [FILE] | --schema                          check or show the configuration
         [--environment-file ENVFILE]                                     (ENVFILE read like EnvironmentFile=)
  analyze PATH... [--json | --csv] [--draw DIR] [--every S]             faces and expressions of images,
          [--detector auto|short|full|both] [--min-score S]              videos, folders (- : stdin)
          [--emotion NAME] [--models DIR]
  bench [--config FILE] [--source FILE|DIR|camera|synthetic|SPEC] [--frames N | --seconds S]
        [--threads 1,2,4] [--models DETECTOR,EMOTION] [--compare] [--json]   latency and throughput
        [--markdown] [--plot FILE]
  check [--config FILE] [--environment-file ENVFILE] [--json]            technician's self-test (PASS/WARN/FAIL)
        [--source SPEC] [--url URL]
  update-models BUNDLE | --rollback [--config FILE]                       install a model bundle, or go back
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge import __version__
from edge.analyze_cli import add_arguments as add_analyze_arguments
from edge.analyze_cli import analyze
from edge.bundles.cli import add_arguments as add_update_arguments
from edge.bundles.cli import update_models
from edge.check import add_arguments as add_check_arguments
from edge.check import check
from edge.config import ConfigError, dump, json_schema, load_config
from edge.devtools.bench import add_arguments as add_bench_arguments
from edge.devtools.bench import bench
from edge.env_file import ENVIRONMENT_FILE_HELP, service_environment
from edge.sources import SourceError
from edge.tflite import ModelLoadError


def run(args) -> int:
    import logging

    from edge.app import Daemon
    config = load_config(args.config, service_environment(args.environment_file))
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m edge", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fer-edge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("run", help="run the daemon")
    r.add_argument("--config", type=Path, help="TOML config file (default: built-in defaults)")
    r.add_argument("--source", help="override source.spec: a video, image folder, /dev/videoN, picamera2, ...")
    r.add_argument("--environment-file", type=Path, metavar="ENVFILE", help=ENVIRONMENT_FILE_HELP)
    c = commands.add_parser("config", help="check or show the configuration")
    what = c.add_mutually_exclusive_group(required=True)
    what.add_argument("--check", type=Path, metavar="FILE", help="validate FILE")
    what.add_argument("--dump", type=Path, nargs="?", const=None, default=False, metavar="FILE",
                      help="print the effective configuration (defaults, FILE, environment, ENVFILE)")
    what.add_argument("--schema", action="store_true", help="print the JSON schema")
    c.add_argument("--environment-file", type=Path, metavar="ENVFILE",
                   help="with --check or --dump: " + ENVIRONMENT_FILE_HELP)
    a = commands.add_parser("analyze", help="faces and expressions of images, videos and folders")
    add_analyze_arguments(a)
    b = commands.add_parser("bench", help="per-stage latency and throughput on this device")
    add_bench_arguments(b)
    k = commands.add_parser("check", help="technician's self-test: camera, models, latency, thermal, disk, "
                            "clock, service, dashboard")
    add_check_arguments(k)
    u = commands.add_parser("update-models", help="install a model bundle atomically (verified, self-tested, "
                            "previous one kept), or --rollback")
    add_update_arguments(u)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "config" and args.schema and args.environment_file:
        parser.error("--environment-file goes with --check or --dump: the schema does not depend on the environment")
    try:
        return {"run": run, "config": config_command, "analyze": analyze, "bench": bench,
                "check": check, "update-models": update_models}[args.command](args)
    except (ModelLoadError, ConfigError, SourceError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
