#!/usr/bin/env bash
# Install the face-recognition kiosk on Raspberry Pi OS Bookworm (64-bit) as a systemd service.
#
#   sudo scripts/install.sh                 install or upgrade (safe to run again)
#   sudo scripts/install.sh --uninstall     remove it; keeps /etc/kiosk and /var/lib/kiosk
#   sudo scripts/install.sh --uninstall --purge
#                                           remove those too, and the kiosk user
#   scripts/install.sh --prefix DIR         stage the files under DIR; commands that would change
#                                           the system are only printed ("would run: ...")
#   scripts/install.sh --dry-run            print every action, change nothing
#
# What lands where:
#   /opt/kiosk/venv                  Python venv with the kiosk (sees apt's picamera2), holding
#                                    exactly the versions locked in uv.lock (scripts/pi-requirements.txt)
#   /opt/kiosk/bin/kiosk-usb-import  USB-stick import helper
#   /usr/local/bin/kiosk             symlink to the venv's kiosk command
#   /etc/kiosk/config.yaml           configuration, written once and kept on re-install
#   /var/lib/kiosk                   encodings store and photos (0700, kiosk:kiosk)
#   /etc/systemd/system/kiosk.service, kiosk-import@.service, kiosk-web.service (the face library
#                                    page on 127.0.0.1, off until enabled)
#   /etc/udev/rules.d/99-kiosk-usb.rules
set -euo pipefail
# Installed files must be readable by the kiosk user whatever the caller's umask is.
umask 022

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=""
DRY_RUN=0
UNINSTALL=0
PURGE=0

while [ $# -gt 0 ]; do
    case $1 in
        --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
        --prefix=*) PREFIX=${1#--prefix=}; shift ;;
        --source) SOURCE_DIR=${2:?--source needs a directory}; shift 2 ;;
        --source=*) SOURCE_DIR=${1#--source=}; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        --uninstall) UNINSTALL=1; shift ;;
        --purge) PURGE=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ -n "$PREFIX" ]; then
    ROOT=$(realpath -m "$PREFIX")
    if [ "$ROOT" = / ]; then
        echo "--prefix / is the real system: leave out --prefix instead" >&2
        exit 2
    fi
else
    ROOT=""
fi
if [ "$PURGE" = 1 ] && [ "$UNINSTALL" = 0 ]; then
    echo "--purge only goes with --uninstall" >&2
    exit 2
fi
if [ -z "$PREFIX" ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
    echo "installing into the system needs root: sudo $0 $*" >&2
    exit 1
fi
for needed in pyproject.toml config.yaml systemd/kiosk.service scripts/pi-requirements.txt; do
    if [ ! -e "$SOURCE_DIR/$needed" ]; then
        echo "$SOURCE_DIR is not a kiosk checkout (no $needed); use --source DIR" >&2
        exit 2
    fi
done

# Where things go; every path carries the --prefix root.
OPT_DIR=$ROOT/opt/kiosk
VENV=$OPT_DIR/venv
UNIT_DIR=$ROOT/etc/systemd/system
RULES_DIR=$ROOT/etc/udev/rules.d
CONFIG_DIR=$ROOT/etc/kiosk
DATA_DIR=$ROOT/var/lib/kiosk
COMMAND_LINK=$ROOT/usr/local/bin/kiosk
REQUIREMENTS=$SOURCE_DIR/scripts/pi-requirements.txt
UNITS=(kiosk.service kiosk-import@.service kiosk-web.service)
RULES=99-kiosk-usb.rules

step() {
    echo "==> $*"
}

# Print a command the way a shell would read it back: single quotes only where needed.
show() {
    local arg line="would run:" quote="'"
    for arg in "$@"; do
        if [[ $arg =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
            line+=" $arg"
        else
            line+=" $quote${arg//$quote/$quote\\$quote$quote}$quote"
        fi
    done
    echo "$line"
}

# True under --prefix or --dry-run, where commands that change the real system are only printed.
printing_only() {
    [ -n "$PREFIX" ] || [ "$DRY_RUN" = 1 ]
}

# A command that changes the real system (packages, users, services, pip, ownership):
# only printed under --prefix or --dry-run.
system() {
    if printing_only; then
        show "$@"
    else
        "$@"
    fi
}

# A command that writes files below the (possibly prefixed) root: only printed under --dry-run.
files() {
    if [ "$DRY_RUN" = 1 ]; then
        show "$@"
    else
        "$@"
    fi
}

# Whether this system's apt offers picamera2 (Raspberry Pi OS does; plain Debian does not).
HAVE_PICAMERA2=1

install_packages() {
    step "apt packages"
    # python3-picamera2 comes from apt: it is tied to the system's libcamera and cannot come
    # from pip. --no-install-recommends skips the Qt/OpenGL preview stack a kiosk does not use.
    # python3-venv and python3-pip build the venv; everything else comes as pip wheels, except
    # what SDL's fullscreen (KMSDRM) output loads at run time and pygame's wheel does not carry:
    # libgbm, libEGL, libGLESv2 and Mesa's drivers (without libGLESv2 the screen does not open:
    # "EGL not initialized").
    local packages=(python3-venv python3-pip libgbm1 libegl1 libgles2 libgl1-mesa-dri)
    system apt-get update
    if printing_only || apt-cache show python3-picamera2 >/dev/null 2>&1; then
        packages+=(python3-picamera2)
    else
        HAVE_PICAMERA2=0
        echo "warning: apt has no python3-picamera2 here (not Raspberry Pi OS?): only USB cameras will work" >&2
    fi
    system env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
}

create_user() {
    step "system user kiosk"
    # No login, no home of its own; video/render/input give camera, GPU, framebuffer and touch.
    if printing_only; then
        system useradd --system --user-group --home-dir /var/lib/kiosk --no-create-home \
            --shell /usr/sbin/nologin kiosk
        system usermod --append --groups video,render,input kiosk
        return
    fi
    if ! id kiosk >/dev/null 2>&1; then
        useradd --system --user-group --home-dir /var/lib/kiosk --no-create-home \
            --shell /usr/sbin/nologin kiosk
    fi
    local group existing=()
    for group in video render input; do
        if getent group "$group" >/dev/null; then
            existing+=("$group")
        fi
    done
    if [ ${#existing[@]} -gt 0 ]; then
        usermod --append --groups "$(IFS=,; echo "${existing[*]}")" kiosk
    fi
}

install_python() {
    step "Python venv $VENV"
    # --system-site-packages lets the venv import apt's picamera2 (and libcamera's bindings).
    if [ ! -x "$VENV/bin/python" ]; then
        system python3 -m venv --system-site-packages "$VENV"
    fi
    local pip=("$VENV/bin/pip" install --disable-pip-version-check --no-deps)
    # Exactly the versions in uv.lock, each checked against its hash (`make lock` writes the
    # list). --no-deps: the list is complete, and it leaves out face_recognition's `dlib` source
    # package (an hour of compiling on a Pi), which the prebuilt dlib-bin wheel provides.
    system "${pip[@]}" --require-hashes --requirement "$REQUIREMENTS"
    # The kiosk itself, built with the locked setuptools now in the venv.
    system "${pip[@]}" --no-build-isolation "$SOURCE_DIR"
    # Models that ship in no Python package (recognition.encoder: mobilefacenet), checksums pinned.
    system "$VENV/bin/python" "$SOURCE_DIR/scripts/fetch-models"
}

install_files() {
    step "files"
    files mkdir -p "$OPT_DIR/bin" "$UNIT_DIR" "$RULES_DIR" "$CONFIG_DIR" "$(dirname "$COMMAND_LINK")"
    files install -m 0755 "$SOURCE_DIR/scripts/kiosk-usb-import" "$OPT_DIR/bin/kiosk-usb-import"
    local unit
    for unit in "${UNITS[@]}"; do
        files install -m 0644 "$SOURCE_DIR/systemd/$unit" "$UNIT_DIR/$unit"
    done
    files install -m 0644 "$SOURCE_DIR/systemd/$RULES" "$RULES_DIR/$RULES"
    # The link points at the installed venv, as seen on the target system.
    files ln -sfn /opt/kiosk/venv/bin/kiosk "$COMMAND_LINK"

    # The configuration is the administrator's once written: a re-install never overwrites it.
    if [ -e "$CONFIG_DIR/config.yaml" ]; then
        echo "keeping $CONFIG_DIR/config.yaml"
    elif [ "$DRY_RUN" = 1 ]; then
        echo "would write: $CONFIG_DIR/config.yaml from $SOURCE_DIR/config.yaml with data_dir: /var/lib/kiosk"
    else
        # The screen's snapshot goes to the runtime folder, for the web page's status.
        sed -e 's|^data_dir:.*|data_dir: /var/lib/kiosk|' \
            -e 's|^  snapshot_path: ""|  snapshot_path: /run/kiosk/screen.png|' \
            "$SOURCE_DIR/config.yaml" >"$CONFIG_DIR/config.yaml.new"
        chmod 0644 "$CONFIG_DIR/config.yaml.new"
        mv "$CONFIG_DIR/config.yaml.new" "$CONFIG_DIR/config.yaml"
    fi

    # The sandbox opened only as far as the config asks: network to the MQTT broker, GPIO for the
    # door (drop-ins in kiosk.service.d; none while both are off, as they are by default).
    system "$VENV/bin/kiosk" --config "$CONFIG_DIR/config.yaml" sandbox --write --dir "$UNIT_DIR/kiosk.service.d"

    # Face encodings and photos are biometric data: readable by the kiosk user only.
    files mkdir -p "$DATA_DIR"
    files chmod 0700 "$DATA_DIR"
    system chown kiosk:kiosk "$DATA_DIR"
    # The web page's secret (0600, the kiosk user's), made once and kept on re-install. The
    # address with it is not printed here, where install logs would keep it.
    system runuser -u kiosk -- env KIOSK_DATA_DIR=/var/lib/kiosk \
        "$VENV/bin/kiosk" --config /etc/kiosk/config.yaml web --url >/dev/null 2>&1
    echo "the face library page: sudo systemctl enable --now kiosk-web; sudo kiosk web --url prints its address"
}

start_service() {
    step "systemd"
    if ! printing_only && [ ! -d /run/systemd/system ]; then
        # A chroot or an image being built: the units are enabled and start at the next boot.
        systemctl enable kiosk.service
        echo "systemd is not running here: kiosk.service is enabled and starts at the next boot"
        return
    fi
    system systemctl daemon-reload
    system udevadm control --reload
    if ! printing_only && systemctl is-active --quiet kiosk.service; then
        # Already running the previous version: restart it on the new one.
        systemctl enable kiosk.service
        systemctl restart kiosk.service
        systemctl try-restart kiosk-web.service
    else
        system systemctl enable --now kiosk.service
    fi
}

check_install() {
    step "checks"
    # The whole vision stack (numpy, OpenCV, dlib and its models) loads, beside apt's picamera2.
    if [ "$HAVE_PICAMERA2" = 1 ]; then
        system "$VENV/bin/python" -c "import picamera2, kiosk.vision.engine"
    else
        system "$VENV/bin/python" -c "import kiosk.vision.engine"
    fi
    # As the service user: it sees the devices and files the service sees, and anything it
    # creates in /var/lib/kiosk is not owned by root.
    system runuser -u kiosk -- env KIOSK_DATA_DIR=/var/lib/kiosk \
        "$VENV/bin/kiosk" --config /etc/kiosk/config.yaml doctor
}

uninstall() {
    step "removing the kiosk"
    # Each of these may find nothing to do on a partly removed install.
    system systemctl disable --now kiosk.service || true
    system systemctl disable --now kiosk-web.service || true
    system systemctl stop "kiosk-import@*.service" || true
    local unit
    for unit in "${UNITS[@]}"; do
        files rm -f "$UNIT_DIR/$unit"
    done
    files rm -f "$RULES_DIR/$RULES" "$COMMAND_LINK" "$UNIT_DIR"/kiosk.service.d/kiosk-{mqtt,door}.conf
    files rm -rf "$OPT_DIR"
    if printing_only || [ -d /run/systemd/system ]; then
        system systemctl daemon-reload
        system udevadm control --reload
    fi
    if [ "$PURGE" = 1 ]; then
        step "purging configuration, data and the kiosk user"
        files rm -rf "$CONFIG_DIR" "$DATA_DIR"
        system userdel kiosk || true
    else
        echo "kept $CONFIG_DIR and $DATA_DIR (--purge removes them)"
    fi
}

if [ "$UNINSTALL" = 1 ]; then
    uninstall
    exit 0
fi
install_packages
create_user
install_python
install_files
start_service
check_install
step "done"
