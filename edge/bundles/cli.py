"""python -m edge update-models: install a bundle, or roll back to the previous one."""
from __future__ import annotations

import sys
from pathlib import Path

from edge.bundles.store import install, rollback
from edge.config import load_config


def add_arguments(parser) -> None:
    parser.add_argument("bundle", type=Path, nargs="?", help="bundle: a folder or .tar/.tar.gz with manifest.json")
    parser.add_argument("--rollback", action="store_true", help="make the previous bundle current again")
    parser.add_argument("--config", type=Path, help="the daemon's TOML config: models.dir and the model names "
                        "that are self-tested (default: built-in defaults)")


def update_models(args) -> int:
    if (args.bundle is None) != args.rollback:
        print("error: give a bundle to install, or --rollback", file=sys.stderr)
        return 2
    config = load_config(args.config)
    for line in rollback(config) if args.rollback else install(args.bundle, config):
        print(line)
    return 0
