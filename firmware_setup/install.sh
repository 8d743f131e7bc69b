#!/usr/bin/env bash
# Install (or update) the fer-edge appliance from this checkout or release bundle. Idempotent: a second
# run changes nothing and says so. Exit codes and what to do about each: firmware_setup/TECHNICIAN.md.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: sudo firmware_setup/install.sh [options]

Installs fer-edge on Raspberry Pi OS Bookworm (arm64, Python 3.11), NVIDIA JetPack 6 (Ubuntu 22.04,
Python 3.10) or another Debian-like system:
  apt packages, the app in /opt/fer-edge with a venv and the inference runtime that works here,
  the config in /etc/fer-edge/edge.toml (an edited one is never overwritten), an empty web token
  file /etc/fer-edge/web-token (root only; never overwritten), the models checked against
  models/manifest.json (sha256), the fer-edge system user (group video), and fer-edge.service
  installed, enabled and (re)started.

Options:
  --root DIR          install into the staging root DIR (e.g. a mounted image) instead of /: no apt,
                      no venv, nothing started and nothing changed outside DIR; the user is written
                      into DIR/etc/passwd with systemd-sysusers --root when DIR has one, otherwise
                      systemd-sysusers creates it at DIR's first boot; the unit is enabled by its
                      multi-user.target.wants symlink.
  --platform NAME     pi, jetson or debian instead of detecting it from etc/os-release,
                      proc/device-tree/model and etc/nv_tegra_release (read under --root DIR).
  --runtime NAME      ai-edge-litert or tflite-runtime instead of auto: ai-edge-litert, replaced by
                      tflite-runtime when a test inference with it fails; the choice is remembered.
  --skip-apt          do not install apt packages (they must be present already).
  --skip-venv         do not create or update /opt/fer-edge/.venv, and skip the test inference.
  --without-picamera2 on the pi platform, do not install python3-picamera2 (Debian arm64 images
                      without the Raspberry Pi repository; the emulated test uses this).
  --no-start          enable the service but do not (re)start it.
  -h, --help          this text.
EOF
}

log() { printf 'fer-edge install: %s\n' "$*"; }
die() {
	local code=$1
	shift
	printf 'fer-edge install: ERROR: %s\n' "$*" >&2
	exit "$code"
}

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=""
PLATFORM=auto
RUNTIME=auto
SKIP_APT=0
SKIP_VENV=0
PICAMERA2=1
START=1
while [ $# -gt 0 ]; do
	case $1 in
	--root)
		[ $# -ge 2 ] || die 2 "--root needs a directory"
		mkdir -p "$2"
		PREFIX=$(cd "$2" && pwd)
		[ "$PREFIX" != / ] || PREFIX=""
		shift
		;;
	--platform)
		[ $# -ge 2 ] || die 2 "--platform needs pi, jetson or debian"
		PLATFORM=$2
		shift
		;;
	--runtime)
		[ $# -ge 2 ] || die 2 "--runtime needs ai-edge-litert or tflite-runtime"
		RUNTIME=$2
		shift
		;;
	--skip-apt) SKIP_APT=1 ;;
	--skip-venv) SKIP_VENV=1 ;;
	--without-picamera2) PICAMERA2=0 ;;
	--no-start) START=0 ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die 2 "unknown option '$1' (see --help)" ;;
	esac
	shift
done
case $PLATFORM in auto | pi | jetson | debian) ;; *) die 2 "--platform must be pi, jetson or debian, not '$PLATFORM'" ;; esac
case $RUNTIME in auto | ai-edge-litert | tflite-runtime) ;; *) die 2 "--runtime must be ai-edge-litert or tflite-runtime, not '$RUNTIME'" ;; esac
if [ -n "$PREFIX" ]; then
	SKIP_APT=1
	SKIP_VENV=1
	log "staging into $PREFIX: no apt, no venv, nothing started"
elif [ "$(id -u)" != 0 ]; then
	die 3 "run as root: sudo $0 $*"
fi

APP=$PREFIX/opt/fer-edge
VENV=$APP/.venv
STATE=$APP/.installer # what the installer remembers between runs (never pruned)
ETC=$PREFIX/etc/fer-edge
CONF=$ETC/edge.toml
UNIT_NAME=fer-edge.service
UNIT=$PREFIX/etc/systemd/system/$UNIT_NAME
SYSUSERS=$PREFIX/usr/lib/sysusers.d/fer-edge.conf
WORK=$(mktemp -d)
# the test inference and config check run as root: no __pycache__ in /opt/fer-edge (the daemon cannot
# write there, and an unlisted file would count as a change on the next run)
export PYTHONDONTWRITEBYTECODE=1
trap 'rm -rf "$WORK"' EXIT
CHANGES=0

changed() {
	CHANGES=$((CHANGES + 1))
	log "changed: $*"
}

# Copy a file unless an identical one with the same mode is there already.
put_file() {
	local src=$1 dest=$2 mode=$3
	if [ -f "$dest" ] && [ ! -L "$dest" ] && cmp -s "$src" "$dest" && [ "$(stat -c %a "$dest")" = "${mode#0}" ]; then
		return 0
	fi
	install -D -m "$mode" "$src" "$dest"
	changed "${dest#"$PREFIX"}"
}

# ---- platform ------------------------------------------------------------------------------------
os_field() { # a field of the target's os-release, empty if absent
	[ -f "$PREFIX/etc/os-release" ] || return 0
	sed -n "s/^$1=//p" "$PREFIX/etc/os-release" | tr -d '"' | head -n 1
}

board_model() {
	local f
	for f in "$PREFIX/proc/device-tree/model" "$PREFIX/sys/firmware/devicetree/base/model"; do
		if [ -r "$f" ]; then
			tr -d '\0' <"$f"
			return 0
		fi
	done
}

detect_platform() {
	if [ -f "$PREFIX/etc/nv_tegra_release" ] || board_model | grep -q 'NVIDIA Jetson'; then
		echo jetson
	elif board_model | grep -q 'Raspberry Pi'; then
		echo pi
	else
		echo debian
	fi
}

[ "$PLATFORM" != auto ] || PLATFORM=$(detect_platform)
OS_ID=$(os_field ID)
OS_LIKE=$(os_field ID_LIKE)
OS_CODENAME=$(os_field VERSION_CODENAME)
MODEL=$(board_model || true)
log "platform: $PLATFORM (board: ${MODEL:-unknown}; os: ${OS_ID:-unknown} ${OS_CODENAME:-})"
case " $OS_ID $OS_LIKE " in
*" debian "* | *" ubuntu "*) ;;
*) [ -n "$PREFIX" ] || die 3 "this is not a Debian-like system (etc/os-release ID=${OS_ID:-none}): fer-edge installs on Raspberry Pi OS, JetPack (Ubuntu) or Debian" ;;
esac
case $PLATFORM in
pi)
	[ "$OS_CODENAME" = bookworm ] || log "note: Raspberry Pi OS Bookworm is the tested release; this is '${OS_CODENAME:-unknown}'"
	CAMERA=picamera2
	SYSTEM_SITE=1 # apt's picamera2 (and the numpy it is built against) must be visible in the venv
	;;
jetson)
	if [ -f "$PREFIX/etc/nv_tegra_release" ]; then
		L4T=$(sed -n 's/^# R\([0-9]*\).*/\1/p' "$PREFIX/etc/nv_tegra_release")
		[ "${L4T:-0}" -ge 36 ] || log "note: JetPack 6 (L4T R36) is the tested release; this is L4T R${L4T:-unknown}"
	fi
	CAMERA=/dev/video0
	SYSTEM_SITE=1 # JetPack's OpenCV, the one built with GStreamer for CSI cameras
	;;
debian)
	CAMERA=/dev/video0
	SYSTEM_SITE=0
	;;
esac

# ---- models: refuse a bundle whose models do not match the manifest, before touching anything ----
manifest_entries() { # "sha256 file" per file a manifest pins: each model's file, and any X with an X_sha256
	python3 -c 'import json, sys
for m in json.load(open(sys.argv[1]))["models"]:
    print(m["sha256"], m["file"])
    for key, value in m.items():
        if key.endswith("_sha256") and isinstance(m.get(key[:-7]), str):
            print(value, m[key[:-7]])' "$1"
}

verify_models() {
	local dir=$1 entries sha file actual bad=0
	entries=$(manifest_entries "$dir/manifest.json") ||
		die 4 "$dir/manifest.json is missing or not a valid manifest: restore the models folder from the release bundle"
	while read -r sha file; do
		if [ ! -f "$dir/$file" ]; then
			printf 'fer-edge install: ERROR: %s: model file missing (listed in manifest.json)\n' "$dir/$file" >&2
			bad=1
		else
			actual=$(sha256sum "$dir/$file" | cut -d ' ' -f 1)
			if [ "$actual" != "$sha" ]; then
				printf 'fer-edge install: ERROR: %s: sha256 %s does not match manifest.json (%s)%s\n' "$dir/$file" \
					"$actual" "$sha" "$(head -c 200 "$dir/$file" | grep -q git-lfs && echo '; it is a git-lfs pointer, not the model')" >&2
				bad=1
			fi
		fi
	done <<<"$entries"
	[ "$bad" = 0 ] || die 4 "model verification failed in $dir: the files are corrupt, incomplete or replaced; copy the release bundle again (or run 'git lfs pull' in a checkout) and rerun"
}

command -v python3 >/dev/null || die 3 "python3 is missing: install it (apt-get install python3) and rerun"
verify_models "$SRC/models"
log "models: $(manifest_entries "$SRC/models/manifest.json" | wc -l) files match manifest.json"

# ---- apt -----------------------------------------------------------------------------------------
APT_PACKAGES=(python3 python3-venv python3-pip ca-certificates v4l-utils)
if [ "$PLATFORM" = pi ]; then
	APT_PACKAGES+=(python3-numpy)
	[ "$PICAMERA2" = 0 ] || APT_PACKAGES+=(python3-picamera2)
fi
if [ "$SKIP_APT" = 1 ]; then
	log "apt: skipped (${APT_PACKAGES[*]} must be present)"
else
	missing=()
	for p in "${APT_PACKAGES[@]}"; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		export DEBIAN_FRONTEND=noninteractive
		# the mirror this device's apt sources name (one-line or deb822 format), for the error message
		mirror=$(grep -rhoE '^[[:space:]]*(deb|URIs:)[^#]*(https?|ftp)://[^/[:space:]]+' /etc/apt/sources.list /etc/apt/sources.list.d 2>/dev/null |
			grep -oE '(https?|ftp)://[^/[:space:]]+' | head -n 1)
		apt-get update -q >/dev/null ||
			die 5 "apt-get update failed: check the network (can this device reach ${mirror:-the Debian mirror in its apt sources}?), the date (timedatectl) and /etc/apt/sources.list*"
		apt-get install -y -q --no-install-recommends "${missing[@]}" ||
			die 5 "apt-get install ${missing[*]} failed$([ "$PLATFORM" = pi ] && echo ' (python3-picamera2 comes from the Raspberry Pi OS repository; on plain Debian use --without-picamera2)')"
		changed "apt packages ${missing[*]}"
	fi
fi

# ---- the app in /opt/fer-edge --------------------------------------------------------------------
app_files() { # paths relative to SRC
	(
		cd "$SRC"
		find edge -type f ! -path '*/__pycache__/*' ! -name '*.pyc'
		find firmware_setup -type f
		find models -type f ! -path '*/reports/*' # evaluation reports stay in the repository
		printf '%s\n' media/demo.mp4 media/README.md requirements/runtime.txt requirements/tflite-runtime.txt \
			systemd/fer-edge.service README.md PRIVACY.md
	) | sort -u
}

app_files >"$WORK/files"
while read -r f; do
	case $f in firmware_setup/*.sh) mode=0755 ;; *) mode=0644 ;; esac
	put_file "$SRC/$f" "$APP/$f" "$mode"
done <"$WORK/files"
# files of an older version that this one no longer has
if [ -d "$APP" ]; then
	# __pycache__: what a technician's `python -m edge check` as root leaves behind is not a stale file
	(cd "$APP" && find . \( -path ./.venv -o -path ./.installer -o -name __pycache__ \) -prune -o -type f -print |
		sed 's|^\./||' | sort) >"$WORK/present"
	while read -r f; do
		rm -f "$APP/$f"
		changed "removed ${APP#"$PREFIX"}/$f"
	done < <(comm -23 "$WORK/present" "$WORK/files")
	find "$APP" -mindepth 1 -maxdepth 1 -type d ! -name .venv ! -name .installer -exec find {} -depth -type d -empty -delete \;
fi
verify_models "$APP/models"

# ---- config --------------------------------------------------------------------------------------
sed "s|@CAMERA@|$CAMERA|" "$SRC/firmware_setup/edge.toml" >"$WORK/edge.toml"
sha() { sha256sum <"$1" | cut -d ' ' -f 1; }
if [ ! -f "$CONF" ] || [ "$(sha "$CONF")" = "$(cat "$STATE/edge.toml.sha256" 2>/dev/null)" ]; then
	put_file "$WORK/edge.toml" "$CONF" 0644 # new, or still our own earlier default: safe to update
	if [ -f "$CONF.dist" ]; then
		rm -f "$CONF.dist"
		changed "removed ${CONF#"$PREFIX"}.dist"
	fi
elif cmp -s "$WORK/edge.toml" "$CONF"; then
	: # already the current default
else
	log "config: $CONF was edited, kept as it is; the new default is $CONF.dist"
	put_file "$WORK/edge.toml" "$CONF.dist" 0644
fi
# remember which text was ours, so that an unedited default can be updated by the next version
if cmp -s "$WORK/edge.toml" "$CONF"; then
	sha "$CONF" >"$WORK/conf.sha256"
	put_file "$WORK/conf.sha256" "$STATE/edge.toml.sha256" 0644
fi
[ -f "$ETC/environment" ] || put_file "$SRC/firmware_setup/environment" "$ETC/environment" 0600
# the web token, handed to the service as its web-token credential (LoadCredential= in the unit). systemd
# refuses to start a unit whose credential file is missing, so there is always one: empty means no token.
if [ ! -f "$ETC/web-token" ]; then
	: >"$WORK/web-token"
	put_file "$WORK/web-token" "$ETC/web-token" 0600
fi

# ---- venv and inference runtime ------------------------------------------------------------------
pin() { grep -E "^$1[=<>; ]" "$2"; } # the requirement lines of package $1 in file $2
drop() { grep -Ev "^($1)[=<>; ]" "$2" || true; }

# requirements/runtime.txt adapted to this platform and runtime; pins come from requirements/*.txt only
compose_requirements() {
	local runtime=$1 req=$APP/requirements/runtime.txt tfl=$APP/requirements/tflite-runtime.txt
	local dropped=numpy
	[ "$runtime" = ai-edge-litert ] || dropped="$dropped|ai-edge-litert"
	if [ "$PLATFORM" = jetson ] && /usr/bin/python3 -c 'import cv2' 2>/dev/null; then
		dropped="$dropped|opencv-python-headless" # JetPack's own OpenCV, built with GStreamer for CSI cameras
	fi
	drop "$dropped" "$req"
	[ "$runtime" = ai-edge-litert ] || pin tflite-runtime "$tfl"
	case $PLATFORM in
	pi) ;;                      # numpy: the system's, held by the constraint below
	jetson) pin numpy "$tfl" ;; # numpy 1.x: what JetPack's OpenCV is built against
	debian) if [ "$runtime" = ai-edge-litert ]; then pin numpy "$req"; else pin numpy "$tfl"; fi ;;
	esac
}

pip_has() { "$VENV/bin/python" -m pip show "$1" >/dev/null 2>&1; }

pip_install() {
	local runtime=$1
	compose_requirements "$runtime" >"$WORK/requirements.txt"
	: >"$WORK/constraints.txt"
	if [ "$PLATFORM" = pi ]; then
		/usr/bin/python3 -c 'import numpy; print("numpy==" + numpy.__version__)' >"$WORK/constraints.txt" 2>/dev/null ||
			die 6 "the system numpy (apt python3-numpy) is missing: picamera2 needs it; install it or rerun without --skip-apt"
	fi
	local other=tflite-runtime
	[ "$runtime" = ai-edge-litert ] || other=ai-edge-litert
	# edge.tflite prefers ai-edge-litert when both are importable: keep exactly one
	! pip_has "$other" || "$VENV/bin/python" -m pip uninstall -q -y "$other" ||
		die 6 "could not remove $other from $VENV"
	"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$WORK/requirements.txt" \
		-c "$WORK/constraints.txt" ||
		die 6 "pip could not install the runtime into $VENV (requirements: $(tr '\n' ' ' <"$WORK/requirements.txt")): check the network and free space (df -h /opt), then rerun"
	echo "$runtime" >"$VENV/fer-edge-runtime"
}

smoke_test() { # one frame through the installed pipeline with the installed config and models
	(cd "$APP" && timeout 900 "$VENV/bin/python" -m edge bench --config "$CONF" --source synthetic --frames 1 --json) \
		>"$WORK/smoke.json" 2>"$WORK/smoke.err"
}

if [ "$SKIP_VENV" = 1 ]; then
	log "venv: skipped$([ -n "$PREFIX" ] && echo ' (staging root: run install.sh on the device to create it)')"
else
	PY_VERSION=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
	python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
		die 3 "Python $PY_VERSION is too old: fer-edge needs 3.10 or newer (JetPack 6, Raspberry Pi OS Bookworm)"
	want_site=$([ "$SYSTEM_SITE" = 1 ] && echo true || echo false)
	if [ -f "$VENV/pyvenv.cfg" ] && ! grep -q "^include-system-site-packages = $want_site" "$VENV/pyvenv.cfg"; then
		rm -rf "$VENV" # made for another platform setting: start again
	fi
	if [ ! -x "$VENV/bin/python" ]; then
		venv_options=()
		[ "$SYSTEM_SITE" = 0 ] || venv_options+=(--system-site-packages)
		python3 -m venv "${venv_options[@]}" "$VENV" ||
			die 6 "python3 -m venv failed: is python3-venv installed? (apt-get install python3-venv)"
		changed "venv ${VENV#"$PREFIX"} (Python $PY_VERSION)"
	fi
	"$VENV/bin/python" -m pip freeze --all >"$WORK/freeze.before" 2>/dev/null
	chosen=$RUNTIME
	[ "$chosen" != auto ] || chosen=$(cat "$VENV/fer-edge-runtime" 2>/dev/null || echo ai-edge-litert)
	pip_install "$chosen"
	rc=0
	smoke_test || rc=$?
	if [ "$rc" != 0 ]; then
		if [ "$RUNTIME" = auto ] && [ "$chosen" = ai-edge-litert ]; then
			log "runtime: a test inference with ai-edge-litert failed (exit $rc$([ "$rc" = 139 ] && echo ', SIGSEGV'): $(tail -n 1 "$WORK/smoke.err")); switching to tflite-runtime"
			chosen=tflite-runtime
			pip_install "$chosen"
			smoke_test || die 7 "a test inference failed with tflite-runtime too (exit $?): $(tail -n 5 "$WORK/smoke.err")"
		else
			die 7 "a test inference with $chosen failed (exit $rc): $(tail -n 5 "$WORK/smoke.err")"
		fi
	fi
	"$VENV/bin/python" -m pip freeze --all >"$WORK/freeze.after" 2>/dev/null
	cmp -s "$WORK/freeze.before" "$WORK/freeze.after" || changed "venv packages ($(diff "$WORK/freeze.before" "$WORK/freeze.after" | sed -n 's/^> //p' | tr '\n' ' '))"
	log "runtime: $("$VENV/bin/python" -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["runtime"], "- test frame through the pipeline: %.1f ms" % r["total"]["p50_ms"])' "$WORK/smoke.json")"
	# as the service sees it: with the token of its credential and the FER_EDGE_* variables of its
	# EnvironmentFile= (a config bound beyond loopback may rely on either; FER_EDGE_HOST may need a token)
	# (env -i: the service starts without this shell's variables)
	(cd "$APP" && env -i CREDENTIALS_DIRECTORY="$ETC" "$VENV/bin/python" -m edge config --check "$CONF" \
		--environment-file "$ETC/environment" >/dev/null 2>"$WORK/config.err") ||
		die 8 "$CONF is not valid for this version, with the overrides in $ETC/environment: $(tail -n 3 "$WORK/config.err") (fix the setting named there in either file; the new default config is in ${CONF}.dist or $APP/firmware_setup/edge.toml)"
fi

# ---- user and service ----------------------------------------------------------------------------
put_file "$SRC/firmware_setup/fer-edge.sysusers" "$SYSUSERS" 0644
passwd_file=$PREFIX/etc/passwd
if grep -q '^fer-edge:' "$passwd_file" 2>/dev/null; then
	: # present
elif command -v systemd-sysusers >/dev/null && [ -f "$passwd_file" ]; then
	systemd-sysusers ${PREFIX:+--root="$PREFIX"} fer-edge.conf || die 9 "systemd-sysusers could not create the fer-edge user"
	changed "user fer-edge (group video)"
elif [ -z "$PREFIX" ]; then
	getent group video >/dev/null || groupadd --system video
	useradd --system --user-group --groups video --home-dir /var/lib/fer-edge --no-create-home \
		--shell /usr/sbin/nologin --comment "fer-edge appliance daemon" fer-edge || die 9 "useradd fer-edge failed"
	changed "user fer-edge (group video)"
else
	log "user: $PREFIX has no etc/passwd; systemd-sysusers creates fer-edge at its first boot from ${SYSUSERS#"$PREFIX"}"
fi

put_file "$SRC/systemd/$UNIT_NAME" "$UNIT" 0644
WANTS=$PREFIX/etc/systemd/system/$(sed -n 's/^WantedBy=//p' "$UNIT").wants/$UNIT_NAME
if [ -z "$PREFIX" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	if ! systemctl is-enabled --quiet "$UNIT_NAME"; then
		systemctl enable --quiet "$UNIT_NAME" || die 9 "systemctl enable $UNIT_NAME failed"
		changed "enabled $UNIT_NAME"
	fi
	if [ "$START" = 1 ]; then
		if [ "$CHANGES" -gt 0 ]; then systemctl restart "$UNIT_NAME"; else systemctl start "$UNIT_NAME"; fi ||
			die 9 "$UNIT_NAME did not start: see journalctl -u fer-edge -n 50"
	fi
elif [ "$(readlink "$WANTS" 2>/dev/null)" != "/etc/systemd/system/$UNIT_NAME" ]; then
	# no running systemd (staging root, chroot): enabling is this symlink, exactly what systemctl makes
	mkdir -p "$(dirname "$WANTS")"
	ln -sfn "/etc/systemd/system/$UNIT_NAME" "$WANTS"
	changed "enabled $UNIT_NAME (${WANTS#"$PREFIX"})"
fi

if [ "$CHANGES" = 0 ]; then
	log "done: already up to date, nothing changed"
else
	log "done: $CHANGES change(s)"
fi
