"""python -m training <stage> --config training/configs/<experiment>.toml [--set key=value ...]

Stages, in pipeline order: teacher, distil, quantize, evaluate, export, reference; ``all`` runs distil
to reference (the teacher needs a GPU and is run on its own); ``search`` tunes the student's settings
with Optuna; ``reference`` writes the statistics the device's monitor compares against.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from training.config import ConfigError, load_config, tomllib
from training.data import DatasetError

STAGES = {  # stage -> module whose run(cfg, config_path) carries it out
    "teacher": "training.teacher",
    "distil": "training.distil",
    "quantize": "training.quantize",
    "evaluate": "training.evaluate",
    "export": "training.export",
    "reference": "training.reference_stats",
    "search": "training.search",
}
ALL = ("distil", "quantize", "evaluate", "export", "reference")


def parse_override(text: str) -> tuple[str, object]:
    """KEY=VALUE with VALUE read as TOML (numbers, booleans, lists), else as a plain string."""
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--set expects key=value, got '{text}'")
    try:
        return key, tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=[*STAGES, "all"])
    parser.add_argument("--config", required=True, help="experiment TOML file")
    parser.add_argument("--set", dest="overrides", action="append", type=parse_override, default=[],
                        metavar="KEY=VALUE", help="override a config value, e.g. --set student.epochs=1")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, dict(args.overrides))
        for stage in ALL if args.stage == "all" else (args.stage,):
            importlib.import_module(STAGES[stage]).run(cfg, args.config)
    except (ConfigError, DatasetError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
