#!/usr/bin/env bash
# How locked down fer-edge.service is: `systemd-analyze security` (target: exposure <= 2.0) and
# `systemd-analyze verify` (target: clean). Prints both and exits 1 if a target is missed.
# Usage: firmware_setup/unit_security.sh [UNIT_FILE]   (default: the repository's systemd/fer-edge.service;
#        on a device: firmware_setup/unit_security.sh /etc/systemd/system/fer-edge.service)
set -euo pipefail

TARGET=2.0
UNIT=${1:-$(dirname "$0")/../systemd/fer-edge.service}
[ -f "$UNIT" ] || {
	echo "unit_security: $UNIT: no such unit file" >&2
	exit 2
}
command -v systemd-analyze >/dev/null || {
	echo "unit_security: systemd-analyze is missing (Debian package systemd)" >&2
	exit 2
}

# The settings that still cost exposure, then the overall figure.
report=$(systemd-analyze security --offline=yes --no-pager "$UNIT" 2>&1) || true
printf '%s\n' "$report" | grep -E '^✗' || true
exposure=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || {
	printf 'unit_security: no exposure figure in the output of systemd-analyze security:\n%s\n' "$report" >&2
	exit 2
}
echo "exposure: $exposure (target <= $TARGET)"

# verify checks that ExecStart= exists; where the app is not installed (a development machine) that
# one line is expected and reported as such, every other line counts.
exec_path=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$UNIT")
verify=$(systemd-analyze verify "$UNIT" 2>&1) || true
if [ ! -x "$exec_path" ]; then
	expected="Command $exec_path is not executable"
	grep -q "$expected" <<<"$verify" && echo "verify: note: $exec_path is not installed on this machine (expected off the device)"
	verify=$(grep -v "$expected" <<<"$verify" || true)
fi
if [ -z "$verify" ]; then
	echo "verify: clean"
else
	printf 'verify: problems:\n%s\n' "$verify"
fi

awk -v e="$exposure" -v t="$TARGET" 'BEGIN { exit !(e <= t) }' && [ -z "$verify" ]
