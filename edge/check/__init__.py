"""python -m edge check: the technician's self-test, one PASS / WARN / FAIL row per check.

Exit code 0 when nothing failed (warnings allowed), 1 when a check failed, 2 for bad arguments or
config. What each row means and how to fix it in the field: firmware_setup/SELF_TEST.md.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from edge.check.camera import check_camera
from edge.check.context import Context, System
from edge.check.dashboard import check_dashboard
from edge.check.host import check_clock, check_disk, check_service
from edge.check.models import check_latency, check_models
from edge.check.result import FAIL, Result, exit_code, overall, table
from edge.check.thermal import check_thermal
from edge.config import load_config
from edge.env_file import ENVIRONMENT_FILE_HELP, service_environment

# camera before latency, which runs the models on the camera's last frame
CHECKS: tuple[tuple[str, Callable[[Context], Result]], ...] = (
    ("camera", check_camera), ("models", check_models), ("latency", check_latency), ("thermal", check_thermal),
    ("disk", check_disk), ("clock", check_clock), ("service", check_service), ("dashboard", check_dashboard))


def run_checks(ctx: Context) -> list[Result]:
    results = []
    for name, check in CHECKS:
        try:
            results.append(check(ctx))
        except Exception as e:  # noqa: BLE001 - one broken check must not hide the other rows
            results.append(Result(name, FAIL, f"the check itself crashed ({type(e).__name__}: {e}); "
                                  "report this with the output of python -m edge check --json"))
    return results


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"--url takes the dashboard's base URL like http://127.0.0.1:8080, "
                                         f"not {text!r}")
    return text


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="the daemon's config, e.g. /etc/fer-edge/edge.toml "
                   "(default: built-in defaults and FER_EDGE_* variables)")
    p.add_argument("--environment-file", type=Path, metavar="ENVFILE", help=ENVIRONMENT_FILE_HELP)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--source", help="test this source instead of source.spec (e.g. /dev/video0, picamera2)")
    p.add_argument("--url", type=_url, help="dashboard base URL (default: from web.host and web.port)")
    # tests point the checks at a fake /proc, /sys and /run tree
    p.add_argument("--sysroot", type=Path, default=Path("/"), help=argparse.SUPPRESS)


def check(args: argparse.Namespace) -> int:
    config = load_config(args.config, service_environment(args.environment_file))
    if args.source:
        config = config.model_copy(update={"source": config.source.model_copy(update={"spec": args.source})})
    ctx = Context(config, System(args.sysroot), dashboard_url=args.url)
    results = run_checks(ctx)
    if args.json:
        print(json.dumps({"result": overall(results), "exit_code": exit_code(results), "board": ctx.board.name,
                          "board_model": ctx.board_model, "checks": [r.as_dict() for r in results]}, indent=1))
    else:
        print(f"fer-edge self-test on {ctx.board_model or ctx.board.name}\n")
        print(table(results), end="")
    return exit_code(results)
