#!/usr/bin/env python3
"""Fill the first-boot templates with one booth's settings and write them to a flashed card's boot partition.

    python3 firmware_setup/provision/render.py --env booth-01.env --boot /media/$USER/bootfs \
        --bundle fer-edge.tar.gz [--imager-bookworm]

Writes user-data, network-config and meta-data (cloud-init: Raspberry Pi OS from Trixie on, Ubuntu
images), fer-edge-firstboot.service and the release bundle as fer-edge.tar.gz; with --imager-bookworm
also firstrun.sh and its cmdline.txt hook (Raspberry Pi OS Bookworm, which has no cloud-init). Every
placeholder needs a value and every value a placeholder (a typo is an error, not a silent default).
Standard library only: runs on any technician laptop with Python 3.8+.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLOUD_INIT = ("user-data", "network-config", "meta-data")
PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")
CMDLINE_HOOK = ("systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot "
                "systemd.unit=kernel-command-line.target")
CHECKS = {  # what a value must look like, and what to do if it does not
    "HOSTNAME": (r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", "lower-case letters, digits and '-', up to 63"),
    "ADMIN_USER": (r"[a-z_][a-z0-9_-]{0,31}", "a Linux user name: lower-case, starting with a letter"),
    "ADMIN_PASSWORD_HASH": (r"\$[0-9a-z]+\$\S+", "a crypt hash: the output of `openssl passwd -6`"),
    "SSH_PUBLIC_KEY": (r"(ssh-(ed25519|rsa)|ecdsa-sha2-\S+|sk-\S+) [A-Za-z0-9+/=]+( .*)?",
                       "one public key line, e.g. the content of ~/.ssh/id_ed25519.pub"),
    "WIFI_SSID": (r".{1,32}", "1 to 32 characters"),
    "WIFI_PASSWORD": (r".{8,63}", "8 to 63 characters (WPA2-PSK)"),
    "WIFI_COUNTRY": (r"[A-Z]{2}", "an ISO 3166 two-letter country code, e.g. GB"),
    "TIMEZONE": (r"[A-Za-z_]+(/[A-Za-z0-9_+-]+)*", "a tz database name, e.g. Europe/London"),
}


class RenderError(ValueError):
    pass


def read_env(path: Path) -> dict[str, str]:
    values = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Z][A-Z0-9_]*", key.strip()):
            raise RenderError(f"{path}:{number}: expected KEY=value, got {line!r}")
        values[key.strip()] = value
    return values


def check(values: dict[str, str], wanted: set[str], source: Path) -> None:
    missing, unknown = sorted(wanted - values.keys()), sorted(values.keys() - wanted)
    if missing or unknown:
        raise RenderError(f"{source}: " + "; ".join(
            part for part in (f"missing {', '.join(missing)}" if missing else "",
                              f"unknown {', '.join(unknown)} (a typo?)" if unknown else "") if part)
            + f". The keys are: {', '.join(sorted(wanted))} (see booth.env.example)")
    for key, value in values.items():
        pattern, advice = CHECKS.get(key, (r".+", "a value"))
        if not re.fullmatch(pattern, value) or "\n" in value:
            raise RenderError(f"{source}: {key}={value!r} is not valid: expected {advice}")


def fill(template: str, values: dict[str, str], quote) -> str:
    return PLACEHOLDER.sub(lambda m: quote(values[m.group(1)]), template)


def yaml_quoted(value: str) -> str:
    return json.dumps(value)[1:-1]  # JSON string escapes are valid in a YAML double-quoted scalar


def shell_quoted(value: str) -> str:
    return value.replace("'", "'\\''")  # the template puts each value inside '...'


def render(values: dict[str, str], boot: Path, bundle: Path | None, bookworm: bool, source: Path) -> list[str]:
    templates = {name: (HERE / name).read_text(encoding="utf-8") for name in CLOUD_INIT}
    if bookworm:
        templates["firstrun.sh"] = (HERE / "firstrun.sh").read_text(encoding="utf-8")
        if not (boot / "cmdline.txt").is_file():
            raise RenderError(f"{boot}/cmdline.txt not found: --boot must be the card's boot partition")
    check(values, {m for t in templates.values() for m in PLACEHOLDER.findall(t)}, source)
    written = []
    for name, template in templates.items():
        (boot / name).write_text(fill(template, values, shell_quoted if name.endswith(".sh") else yaml_quoted),
                                 encoding="utf-8", newline="\n")
        written.append(name)
    shutil.copyfile(HERE / "fer-edge-firstboot.service", boot / "fer-edge-firstboot.service")
    written.append("fer-edge-firstboot.service")
    if bookworm:
        cmdline = (boot / "cmdline.txt").read_text(encoding="utf-8").strip()
        if "systemd.run=" not in cmdline:
            (boot / "cmdline.txt").write_text(f"{cmdline} {CMDLINE_HOOK}\n", encoding="utf-8", newline="\n")
            written.append("cmdline.txt (first-boot hook appended)")
    if bundle is not None:
        shutil.copyfile(bundle, boot / "fer-edge.tar.gz")
        written.append("fer-edge.tar.gz")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", type=Path, required=True, help="the booth's settings (see booth.env.example)")
    parser.add_argument("--boot", type=Path, required=True, help="the mounted boot partition (bootfs)")
    parser.add_argument("--bundle", type=Path, help="release bundle: git archive --prefix=fer-edge/ -o fer-edge.tar.gz HEAD")
    parser.add_argument("--imager-bookworm", action="store_true",
                        help="also firstrun.sh + cmdline.txt hook, for Raspberry Pi OS Bookworm (no cloud-init)")
    args = parser.parse_args(argv)
    try:
        if not args.boot.is_dir():
            raise RenderError(f"{args.boot} is not a directory: mount the card's boot partition and pass its path")
        if args.bundle is not None and not args.bundle.is_file():
            raise RenderError(f"{args.bundle}: no such bundle")
        written = render(read_env(args.env), args.boot, args.bundle, args.imager_bookworm, args.env)
    except (OSError, RenderError) as e:
        print(f"render: error: {e}", file=sys.stderr)
        return 2
    print(f"render: wrote {', '.join(written)} to {args.boot}")
    if args.bundle is None and not (args.boot / "fer-edge.tar.gz").exists():
        print("render: note: no fer-edge.tar.gz on the card yet: pass --bundle, or the first boot installs nothing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
