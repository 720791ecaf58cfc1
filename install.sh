#!/usr/bin/env bash
# Install edge-alpr as a systemd service on Raspberry Pi OS (bookworm) or Debian 12.
#
#   sudo ./install.sh              install, or upgrade in place (run it again any time)
#   sudo ./install.sh --uninstall  remove the service, /opt/edge-alpr and the user
#   ./install.sh --dry-run [...]   print what would be done, change nothing
#   sudo ./install.sh --instance NAME               one camera of several: edge-alpr@NAME.service
#   sudo ./install.sh --uninstall --instance NAME   stop and disable that camera only
#
# Layout: code and venv in /opt/edge-alpr, models in /opt/edge-alpr/models, config in
# /etc/edge-alpr/config.yaml (written once, kept on upgrades), example watchlists in
# /etc/edge-alpr/lists/ (each written once, kept on upgrades), state (MQTT spool, crops) in
# /var/lib/edge-alpr, plate logs in /var/log/edge-alpr. An instance NAME has its config in
# /etc/edge-alpr/NAME.yaml (camera_id NAME), state in /var/lib/edge-alpr/NAME and logs in
# /var/log/edge-alpr/NAME; code, venv, models and the user are shared.
set -euo pipefail

# The unit to enable and the file it comes from; --instance changes these and the paths below.
SERVICE=edge-alpr
UNIT_FILE=edge-alpr.service
INSTANCE=""
readonly SERVICE_USER=edge-alpr
readonly PREFIX=/opt/edge-alpr
readonly VENV="$PREFIX/venv"
readonly MODELS="$PREFIX/models"
readonly CONF_DIR=/etc/edge-alpr
CONF="$CONF_DIR/config.yaml"
STATE_DIR=/var/lib/edge-alpr
LOG_DIR=/var/log/edge-alpr
UNIT="/etc/systemd/system/$SERVICE.service"
readonly TEMPLATE_UNIT=/etc/systemd/system/edge-alpr@.service
# Debian's own Python: the service user must be able to run it (a pyenv or conda Python
# under /root is unreadable to it, and ProtectHome= hides /home). Override with PYTHON=.
readonly PYTHON="${PYTHON:-/usr/bin/python3}"
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SRC

DRY_RUN=0
ACTION=install

usage() {
    # The comment block at the top of this file, without the '# '.
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

say() { printf '==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# Run a command, or only show it with --dry-run.
run() {
    if ((DRY_RUN)); then
        printf '+'
        printf ' %q' "$@"
        printf '\n'
    else
        "$@"
    fi
}

is_raspberry_pi() {
    grep -qs 'Raspberry Pi' /proc/device-tree/model
}

# picamera2 comes from Raspberry Pi OS's own apt archive (it needs the matching libcamera).
# The archive, not the board, decides: a Pi-image build runs this in a chroot on another
# machine, and plain Debian on a Pi has no python3-picamera2 to install.
has_picamera2_apt() {
    grep -qsr 'archive.raspberrypi' /etc/apt/sources.list /etc/apt/sources.list.d/
}

systemd_running() {
    [[ -d /run/systemd/system ]]
}

parse_args() {
    while (($#)); do
        case "$1" in
            --uninstall) ACTION=uninstall ;;
            --dry-run) DRY_RUN=1 ;;
            --instance)
                (($# > 1)) || die "--instance needs a name"
                use_instance "$2"
                shift
                ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown option: $1" ;;
        esac
        shift
    done
}

# One camera of several: the template unit edge-alpr@.service, run as edge-alpr@NAME.
use_instance() {
    local name="$1"
    [[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] \
        || die "--instance '$name': use only letters, digits, '_' and '-' (it names the camera, its unit and its files)"
    [[ "$name" != config ]] || die "--instance config: the name is taken by the one-camera /etc/edge-alpr/config.yaml"
    INSTANCE="$name"
    SERVICE="edge-alpr@$name"
    UNIT_FILE="edge-alpr@.service"
    UNIT="$TEMPLATE_UNIT"
    CONF="$CONF_DIR/$name.yaml"
    STATE_DIR="/var/lib/edge-alpr/$name"
    LOG_DIR="/var/log/edge-alpr/$name"
}

# The default config for instance NAME: its camera id, and state and logs in its own folders
# (the unit lets it write nowhere else).
instance_config() {
    local name="$1"
    sed -e "s|^camera_id: .*|camera_id: $name|" \
        -e "s|/var/lib/edge-alpr/|/var/lib/edge-alpr/$name/|g" \
        -e "s|/var/log/edge-alpr\$|/var/log/edge-alpr/$name|" \
        "$SRC/config/default.yaml"
}

check_platform() {
    if ((EUID != 0 && !DRY_RUN)); then
        die "run as root (sudo $0), or with --dry-run to see what it would do"
    fi
    local id="unknown" id_like=""
    if [[ -r /etc/os-release ]]; then
        id="$(sed -n 's/^ID=//p' /etc/os-release | tr -d '"')"
        id_like="$(sed -n 's/^ID_LIKE=//p' /etc/os-release | tr -d '"')"
    fi
    if [[ "$id" != debian && "$id" != raspbian && "$id_like" != *debian* ]]; then
        warn "made for Raspberry Pi OS / Debian; this is '$id', continuing anyway"
    fi
    [[ -x "$PYTHON" ]] || die "$PYTHON is not installed (apt-get install python3)"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "edge-alpr needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)"
}

# --- install --------------------------------------------------------------------------------

install_packages() {
    # python3-venv: the service's venv. libglib2.0-0: OpenCV's wheels load it.
    local wanted=(python3-venv python3-pip libglib2.0-0)
    if has_picamera2_apt; then
        wanted+=(python3-picamera2)
    else
        say "not Raspberry Pi OS (no archive.raspberrypi.com in apt's sources): skipping python3-picamera2;" \
            "USB, RTSP and file sources work, source.kind: picamera2 does not"
    fi
    local missing=() pkg
    for pkg in "${wanted[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]})); then
        say "installing packages: ${missing[*]}"
        run apt-get update
        run apt-get install -y --no-install-recommends "${missing[@]}"
    else
        say "packages already installed"
    fi
    if ! command -v mosquitto_sub >/dev/null; then
        say "optional: 'apt-get install mosquitto-clients' gives mosquitto_sub to watch the MQTT events"
    fi
}

create_user() {
    if id -u "$SERVICE_USER" >/dev/null 2>&1; then
        say "user $SERVICE_USER exists"
    else
        say "creating system user $SERVICE_USER"
        run useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "edge-alpr daemon" "$SERVICE_USER"
    fi
    if getent group video >/dev/null; then
        run usermod --append --groups video "$SERVICE_USER"
    fi
}

copy_source() {
    say "copying the project to $PREFIX/src"
    local parts=(pyproject.toml edge_alpr config systemd install.sh) part
    for part in README.md LICENSE; do
        [[ -e "$SRC/$part" ]] && parts+=("$part")
    done
    run install -d -m 755 "$PREFIX"
    run rm -rf "$PREFIX/src.new"
    run install -d -m 755 "$PREFIX/src.new"
    if ((DRY_RUN)); then
        printf '+ tar -C %q -cf - %s | tar -C %q -xf -\n' "$SRC" "${parts[*]}" "$PREFIX/src.new"
    else
        tar -C "$SRC" --exclude=__pycache__ --exclude='*.pyc' -cf - "${parts[@]}" | tar -C "$PREFIX/src.new" -xf -
    fi
    # Swap in one step, so an interrupted copy never leaves half a tree behind.
    run rm -rf "$PREFIX/src"
    run mv "$PREFIX/src.new" "$PREFIX/src"
}

# True when the venv exists and was made from $PYTHON with the wanted site-packages setting
# (an OS upgrade to a new Python, or a venv from elsewhere, gets a fresh one).
venv_matches() {
    local system_site="$1" cfg="$VENV/pyvenv.cfg"
    [[ -x "$VENV/bin/python" && -r "$cfg" ]] || return 1
    grep -qx "home = $(dirname "$PYTHON")" "$cfg" || return 1
    grep -qx "include-system-site-packages = $system_site" "$cfg"
}

install_venv() {
    local venv_args=() system_site=false
    if has_picamera2_apt; then
        # apt's python3-picamera2 lives in the system site-packages.
        venv_args+=(--system-site-packages)
        system_site=true
    fi
    if venv_matches "$system_site"; then
        say "updating the venv $VENV"
    else
        say "creating the venv $VENV"
        run rm -rf "$VENV"
        run "$PYTHON" -m venv "${venv_args[@]}" "$VENV"
    fi
    local pip_args=(--upgrade --no-cache-dir --disable-pip-version-check)
    if has_picamera2_apt; then
        # picamera2's compiled helpers from apt are built against numpy 1.x; a numpy 2 in
        # the venv would shadow the system one and break their import.
        run install -m 644 /dev/stdin "$PREFIX/constraints.txt" <<<'numpy<2'
        pip_args+=(--constraint "$PREFIX/constraints.txt")
    fi
    say "installing edge-alpr into the venv (downloads wheels from PyPI)"
    run "$VENV/bin/pip" install "${pip_args[@]}" "$PREFIX/src"
}

install_models() {
    run install -d -m 755 "$MODELS"
    local found=0 model
    for model in "$SRC"/models/*.tflite "$SRC"/models/*.json; do
        [[ -f "$model" ]] || continue
        run install -m 644 "$model" "$MODELS/"
        found=1
    done
    if ((found)); then
        say "models installed in $MODELS"
    else
        warn "no models in $SRC/models: the service cannot start (exit code 3) until" \
            "plate_detector_int8.tflite and plate_reader_int8.tflite (+ .json cards) are in $MODELS"
    fi
}

install_config() {
    run install -d -m 750 -o root -g "$SERVICE_USER" "$CONF_DIR"
    if [[ -e "$CONF" ]]; then
        say "keeping the existing config $CONF"
    else
        say "writing the default config to $CONF"
        if [[ -n "$INSTANCE" ]]; then
            run install -m 640 -o root -g "$SERVICE_USER" /dev/stdin "$CONF" <<<"$(instance_config "$INSTANCE")"
        else
            run install -m 640 -o root -g "$SERVICE_USER" "$SRC/config/default.yaml" "$CONF"
        fi
    fi
    # The config may hold the MQTT password: readable by the service, not by everyone.
    run chown root:"$SERVICE_USER" "$CONF"
    run chmod 640 "$CONF"
    if ((!DRY_RUN)) && ! "$VENV/bin/edge-alpr" check-config "$CONF" >/dev/null; then
        warn "$CONF has the problems listed above; fix them, then: systemctl restart $SERVICE"
    fi
}

# The example watchlists (config/lists/*.csv) into /etc/edge-alpr/lists/, where the example
# configs look for them. Each is copied only when absent: installers edit them into the site's
# own lists, which an upgrade must never replace. OWNER:GROUP is for the tests.
install_lists() {
    local dest="${1:-$CONF_DIR/lists}" owner="${2:-root:$SERVICE_USER}" list target
    run install -d -m 750 -o "${owner%%:*}" -g "${owner##*:}" "$dest"
    for list in "$SRC"/config/lists/*.csv; do
        [[ -f "$list" ]] || continue
        target="$dest/$(basename "$list")"
        if [[ -e "$target" ]]; then
            say "keeping the existing list $target"
        else
            say "writing the example list $target"
            # Plates are personal data: readable by the service, not by everyone.
            run install -m 640 -o "${owner%%:*}" -g "${owner##*:}" "$list" "$target"
        fi
    done
}

install_dirs() {
    run install -d -m 750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR" "$LOG_DIR"
}

install_unit() {
    run install -m 644 "$SRC/systemd/$UNIT_FILE" "$UNIT"
    if ! systemd_running; then
        # A chroot (a Pi-image build) or a container: systemctl can still enable the unit
        # offline (the symlink in multi-user.target.wants), so it starts at the next boot.
        if command -v systemctl >/dev/null; then
            run systemctl enable "$SERVICE"
            say "systemd is not running here (a chroot or container?): the service is installed and" \
                "enabled, not started; it starts at the next boot"
        else
            say "no systemd here: the unit is installed, not enabled"
        fi
        say "start it by hand: sudo -u $SERVICE_USER $VENV/bin/edge-alpr run --config $CONF"
        return
    fi
    run systemctl daemon-reload
    if systemctl is-active --quiet "$SERVICE"; then
        say "restarting $SERVICE with the new version"
        run systemctl enable "$SERVICE"
        run systemctl restart "$SERVICE"
    else
        run systemctl enable --now "$SERVICE"
    fi
    say "status: systemctl status $SERVICE; logs: journalctl -u $SERVICE -f"
}

do_install() {
    install_packages
    create_user
    copy_source
    install_venv
    install_models
    install_dirs
    install_config
    install_lists
    install_unit
    say "edge-alpr is installed. Edit $CONF, then: systemctl restart $SERVICE"
}

# --- uninstall ------------------------------------------------------------------------------

# --uninstall --instance NAME: that camera stops; code, unit template and the others stay.
uninstall_instance() {
    if command -v systemctl >/dev/null; then
        if systemd_running; then
            run systemctl disable --now "$SERVICE" || true
        else
            run systemctl disable "$SERVICE" || true
        fi
    fi
    say "$SERVICE is stopped and disabled. Kept: $CONF, the watchlists in $CONF_DIR/lists, $STATE_DIR and $LOG_DIR."
}

# Every enabled camera instance, for a full uninstall.
disable_instances() {
    local link
    for link in /etc/systemd/system/*.target.wants/edge-alpr@*.service; do
        [[ -e "$link" || -L "$link" ]] || continue
        if systemd_running; then
            run systemctl disable --now "$(basename "$link")" || true
        else
            run systemctl disable "$(basename "$link")" || true
        fi
    done
    if [[ -e "$TEMPLATE_UNIT" ]]; then
        run rm -f "$TEMPLATE_UNIT"
    fi
}

do_uninstall() {
    if [[ -n "$INSTANCE" ]]; then
        uninstall_instance
        return
    fi
    disable_instances
    if systemd_running; then
        if systemctl list-unit-files "$SERVICE.service" >/dev/null 2>&1; then
            run systemctl disable --now "$SERVICE" || true
        fi
    else
        say "systemd is not running here: nothing to stop"
        if [[ -e "$UNIT" ]] && command -v systemctl >/dev/null; then
            run systemctl disable "$SERVICE" || true  # offline: removes the enable symlink
        fi
    fi
    if [[ -e "$UNIT" ]]; then
        run rm -f "$UNIT"
        if systemd_running; then
            run systemctl daemon-reload
        fi
    fi
    if [[ -e "$PREFIX" ]]; then
        say "removing $PREFIX (code, venv, models)"
        run rm -rf "$PREFIX"
    fi
    if id -u "$SERVICE_USER" >/dev/null 2>&1; then
        run userdel "$SERVICE_USER"
    fi
    say "kept: $LOG_DIR (plate logs), $STATE_DIR (MQTT spool, crops) and $CONF_DIR (config, watchlists in $CONF_DIR/lists)."
    say "remove them by hand if they are no longer needed: rm -rf $LOG_DIR $STATE_DIR $CONF_DIR"
}

main() {
    parse_args "$@"
    # Whatever the caller's umask, the code must be readable by the service user.
    umask 022
    check_platform
    if ((DRY_RUN)); then
        say "dry run: nothing is changed"
    fi
    case "$ACTION" in
        install) do_install ;;
        uninstall) do_uninstall ;;
    esac
}

# Sourced (the tests call instance_config), it only defines the functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
