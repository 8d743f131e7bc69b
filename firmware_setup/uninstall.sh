#!/usr/bin/env bash
# Remove what firmware_setup/install.sh installed. Keeps the config (/etc/fer-edge), the kiosk session
# data (/var/lib/fer-edge), the logs and the fer-edge user unless --purge.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: sudo firmware_setup/uninstall.sh [--root DIR] [--purge]

Stops and disables fer-edge.service and removes it, the app in /opt/fer-edge (venv included) and the
sysusers.d entry.
  --root DIR   remove from the staging root DIR instead of / (nothing outside DIR is touched)
  --purge      also remove /etc/fer-edge (config, token), /var/lib/fer-edge (kiosk session data),
               /var/log/fer-edge and the fer-edge user
  -h, --help   this text
EOF
}

log() { printf 'fer-edge uninstall: %s\n' "$*"; }
die() {
	printf 'fer-edge uninstall: ERROR: %s\n' "$*" >&2
	exit 2
}

PREFIX=""
PURGE=0
while [ $# -gt 0 ]; do
	case $1 in
	--root)
		{ [ $# -ge 2 ] && [ -d "$2" ]; } || die "--root needs an existing directory"
		PREFIX=$(cd "$2" && pwd)
		[ "$PREFIX" != / ] || PREFIX=""
		shift
		;;
	--purge) PURGE=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	shift
done
[ -n "$PREFIX" ] || [ "$(id -u)" = 0 ] || die "run as root: sudo $0 $*"

UNIT_NAME=fer-edge.service
LIVE=0
[ -n "$PREFIX" ] || [ ! -d /run/systemd/system ] || LIVE=1

remove() {
	local path
	for path in "$@"; do
		if [ -e "$PREFIX$path" ] || [ -L "$PREFIX$path" ]; then
			rm -rf "$PREFIX$path"
			log "removed $path"
		fi
	done
}

if [ "$LIVE" = 1 ] && systemctl cat "$UNIT_NAME" >/dev/null 2>&1; then
	systemctl disable --now --quiet "$UNIT_NAME" || true
	log "stopped and disabled $UNIT_NAME"
fi
for wants in "$PREFIX"/etc/systemd/system/*.wants/"$UNIT_NAME"; do
	[ -L "$wants" ] && remove "${wants#"$PREFIX"}"
done
remove /etc/systemd/system/$UNIT_NAME /opt/fer-edge /usr/lib/sysusers.d/fer-edge.conf
[ "$LIVE" = 0 ] || systemctl daemon-reload

if [ "$PURGE" = 1 ]; then
	remove /etc/fer-edge /var/lib/fer-edge /var/lib/private/fer-edge /var/log/fer-edge
	if grep -q '^fer-edge:' "$PREFIX/etc/passwd" 2>/dev/null; then
		if [ -z "$PREFIX" ]; then
			userdel fer-edge
		else
			# the staging root's own tools are not ours to run: edit its account files directly
			for f in passwd shadow group gshadow; do
				[ ! -f "$PREFIX/etc/$f" ] ||
					sed -i -e '/^fer-edge:/d' -e '/^video:/{s/$/,/;s/\([:,]\)fer-edge,/\1/;s/,$//}' "$PREFIX/etc/$f"
			done
		fi
		log "removed user fer-edge"
	fi
else
	log "kept /etc/fer-edge and /var/lib/fer-edge (session data); --purge removes them"
fi
log "done"
