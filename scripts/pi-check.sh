#!/usr/bin/env bash
# The emulated Raspberry Pi check: the project on a real Debian bookworm arm64 root under qemu.
#
#   sudo scripts/pi-check.sh [--keep]     (--keep: leave the work folder, unmounted, for a look)
#
# 1. a bookworm arm64 root from Debian's packages (debootstrap), cached as a tarball in
#    ~/.cache/edge-alpr/ under a hash of what goes into it ($PI_CHECK_CACHE to move it);
# 2. the project's own install.sh inside it as root, as a Pi-image build runs it (a chroot, so
#    no running systemd: the unit is installed and enabled, not started);
# 3. under QEMU_CPU=cortex-a72 (Pi 4) and cortex-a76 (Pi 5), as the service user: edge-alpr
#    version, check-config, detect --json on generated stills (tiles: see write_commands), read
#    on generated crops and run on a generated clip with --events-jsonl; the same commands on
#    x86 with the repo's .venv (the two CPUs run side by side);
#    scripts/pi_compare.py fails on any other plate text or event, or a box edge over 2 px
#    (or 2 % of the box's side) apart;
# 4. install.sh --uninstall inside the root, and what it must remove is gone.
#
# Needs root (chroot, mounts), binfmt_misc (arm64 binaries run through qemu-user-static) and
# the network (Debian mirror, PyPI). Every mount is undone on exit, failure or Ctrl-C.
set -euo pipefail

readonly REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly CACHE="${PI_CHECK_CACHE:-$HOME/.cache/edge-alpr}"
readonly MIRROR="${PI_CHECK_MIRROR:-http://deb.debian.org/debian}"
readonly SUITE=bookworm
# What the Raspberry Pi OS Lite base already has that install.sh relies on; install.sh adds
# the rest (python3-venv, python3-pip, libglib2.0-0) with apt, as it would on a Pi.
readonly BASE_PACKAGES=python3,systemd,ca-certificates
readonly CPUS=(cortex-a72 cortex-a76)
readonly CPU_NAMES=("Pi 4" "Pi 5")
readonly HOST_VENV="$REPO/.venv"
readonly IN_ROOT=/home/pi/edge-alpr   # where a Pi user would clone the project
readonly CHECK_DIR=/tmp/pi-check      # inputs and outputs inside the root
readonly WHEELS_IN_ROOT=/var/cache/pi-check-wheels

KEEP=0
WORK=""
WHEELS=""
ROOT=""
STARTED=$SECONDS
TIMINGS=()

say() { printf '==> %s\n' "$*"; }
fail() { printf '\nPI CHECK FAILED: %s\n' "$*" >&2; exit 1; }

# Run a named step, print how long it took, keep the figure for the summary.
step() {
    local name="$1" start=$SECONDS
    shift
    printf '\n== %s\n' "$name"
    "$@"
    TIMINGS+=("$(printf '%5ds  %s' $((SECONDS - start)) "$name")")
}

# --- mounts and clean-up ----------------------------------------------------------------------

# Mount points under the root, deepest first (from the kernel's own table).
mounts_under_root() {
    [[ -n "$ROOT" ]] || return 0
    awk -v root="$ROOT" '$5 == root || index($5, root "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

unmount_all() {
    local point
    for point in $(mounts_under_root); do
        umount "$point" 2>/dev/null || umount --lazy "$point" || true
    done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    unmount_all
    local left
    left="$(mounts_under_root)"
    if [[ -n "$left" ]]; then
        # Deleting the root now would reach into the host's /dev or /proc through the mounts.
        printf 'PI CHECK: could not unmount %s; left %s in place\n' "$left" "$WORK" >&2
        rc=$((rc ? rc : 1))
    elif [[ -n "$WORK" && -d "$WORK" ]]; then
        if ((KEEP)); then
            say "kept $WORK (nothing mounted)"
        else
            rm -rf --one-file-system "$WORK"
        fi
    fi
    print_timings
    if ((rc)); then
        printf '== emulated Pi check: FAILED (exit %d) after %ds\n' "$rc" $((SECONDS - STARTED)) >&2
    else
        printf '== emulated Pi check: passed in %ds\n' $((SECONDS - STARTED))
    fi
    exit "$rc"
}

mount_root() {
    mount -t proc proc "$ROOT/proc"
    mount --bind /dev "$ROOT/dev"
    mount --bind /dev/pts "$ROOT/dev/pts"
    mkdir -p "$ROOT$WHEELS_IN_ROOT"
    mount --bind "$WHEELS" "$ROOT$WHEELS_IN_ROOT"
    mount -o remount,bind,ro "$ROOT$WHEELS_IN_ROOT"
    # pip's configuration may point at local wheel folders or indexes: the same, read-only.
    local dir
    for dir in $(pip_local_dirs); do
        mkdir -p "$ROOT$dir"
        mount --bind "$dir" "$ROOT$dir"
        mount -o remount,bind,ro "$ROOT$dir"
    done
}

# Folders named in the host's pip configuration and PIP_* variables (find-links, file:// indexes).
pip_local_dirs() {
    { cat /etc/pip.conf "$HOME/.config/pip/pip.conf" "$HOME/.pip/pip.conf" 2>/dev/null; env | grep '^PIP_'; } \
        | grep -oE '(file://)?/[^ "]+' | sed 's|^file://||; s|/simple/*$||' | sort -u \
        | while read -r dir; do [[ -d "$dir" && "$dir" != /etc* ]] && echo "$dir"; done
}

# Run a command inside the root with a clean environment (plus pip's and the proxy's settings).
in_root() {
    local env_vars=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
                    DEBIAN_FRONTEND=noninteractive)
    local name
    for name in $(compgen -e | grep -E '^(PIP_|https?_proxy$|HTTPS?_PROXY$|no_proxy$|NO_PROXY$|QEMU_CPU$)'); do
        env_vars+=("$name=${!name}")
    done
    env -i "${env_vars[@]}" chroot "$ROOT" "$@"
}

# --- steps ------------------------------------------------------------------------------------

check_host() {
    ((EUID == 0)) || fail "needs root (chroot, mounts): sudo $0"
    local missing=() tool
    for tool in debootstrap qemu-aarch64-static update-binfmts zstd git; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    if ((${#missing[@]})); then
        say "installing debootstrap qemu-user-static binfmt-support zstd (missing: ${missing[*]})"
        # A fresh machine may have no package lists yet: update once and try again.
        apt-get install -y --no-install-recommends debootstrap qemu-user-static binfmt-support zstd git >/dev/null \
            || { apt-get update -qq && apt-get install -y --no-install-recommends debootstrap qemu-user-static \
                     binfmt-support zstd git >/dev/null; } \
            || fail "could not apt-get install debootstrap qemu-user-static binfmt-support zstd"
    fi
    [[ -x "$HOST_VENV/bin/edge-alpr" ]] || fail "$HOST_VENV/bin/edge-alpr is missing: run ./test.sh or scripts/setup-dev.sh first"
    # arm64 programs run through qemu-user-static, registered with the kernel's binfmt_misc
    # (flag F: the interpreter is opened now, so it works inside the chroot too).
    if [[ ! -e /proc/sys/fs/binfmt_misc/status ]]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
            || fail "binfmt_misc is not available (mount -t binfmt_misc failed): arm64 programs cannot run here"
    fi
    update-binfmts --enable qemu-aarch64 2>/dev/null || true
    grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
        || fail "qemu-aarch64 is not registered in binfmt_misc (update-binfmts --enable qemu-aarch64)"
    say "binfmt_misc: qemu-aarch64 $(sed -n 's/^interpreter //p' /proc/sys/fs/binfmt_misc/qemu-aarch64)," \
        "$(qemu-aarch64-static --version | head -1)"
}

cache_key() {
    printf '%s\n' "debootstrap --arch=arm64 --variant=minbase --include=$BASE_PACKAGES $SUITE $MIRROR" "format 1" \
        | sha256sum | cut -c1-16
}

base_root() {
    local tarball
    tarball="$CACHE/pi-root-$SUITE-arm64-$(cache_key).tar.zst"
    mkdir -p "$ROOT"
    if [[ -f "$tarball" ]]; then
        say "cached root: $tarball ($(du -h "$tarball" | cut -f1))"
        tar -C "$ROOT" --numeric-owner -I zstd -xf "$tarball"
        return
    fi
    say "no cached root; debootstrap $SUITE arm64 from $MIRROR (a few minutes; cached afterwards as $tarball)"
    if ! debootstrap --arch=arm64 --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$ROOT" "$MIRROR" \
        >"$WORK/debootstrap.log" 2>&1; then
        tail -n 30 "$WORK/debootstrap.log" >&2
        fail "debootstrap failed (log above; the mirror is $MIRROR, set PI_CHECK_MIRROR for another)"
    fi
    unmount_all  # debootstrap may leave its /proc behind on some paths
    rm -rf "$ROOT/var/cache/apt/archives/"*.deb
    mkdir -p "$CACHE"
    tar -C "$ROOT" --numeric-owner -I 'zstd -T0 -3' -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    say "cached $tarball ($(du -h "$tarball" | cut -f1))"
}

# The arm64 wheels install.sh's pip installs, fetched natively here (pip download for the Pi's
# Python 3.11 and glibc, as .ci/run checks them) and cached under a hash of pyproject.toml; pip
# in the root installs from them with no index. Under qemu, pip's own downloads and resolution
# against PyPI were most of install.sh's 6.6 minutes on a busy 2-core machine.
arm64_wheels() {
    WHEELS="$CACHE/wheels-cp311-aarch64-$(sha256sum "$REPO/pyproject.toml" | cut -c1-16)"
    if [[ -d "$WHEELS" ]]; then
        say "cached wheels: $WHEELS ($(ls "$WHEELS" | wc -l) files)"
        return
    fi
    local requirements platforms=() minor
    requirements="$(python3 - "$REPO/pyproject.toml" <<'PY'
import sys
import tomllib
project = tomllib.load(open(sys.argv[1], "rb"))
print("\n".join(project["project"]["dependencies"] + project["build-system"]["requires"]))
PY
)" || fail "could not read the dependencies from pyproject.toml"
    for minor in $(seq 17 36); do platforms+=(--platform "manylinux_2_${minor}_aarch64"); done
    platforms+=(--platform manylinux2014_aarch64 --platform any)
    mapfile -t requirements <<<"$requirements"
    rm -rf "$WHEELS.part"
    python3 -m pip download -q --disable-pip-version-check --only-binary=:all: --python-version 3.11 \
        --implementation cp --abi cp311 "${platforms[@]}" -d "$WHEELS.part" "${requirements[@]}" 2>&1 \
        | grep -v 'is ignored: it is neither a file nor a directory' >&2 || true
    [[ -n "$(ls "$WHEELS.part" 2>/dev/null)" ]] || fail "pip download of the arm64 wheels failed (output above)"
    mv "$WHEELS.part" "$WHEELS"
    say "downloaded $(ls "$WHEELS" | wc -l) arm64 wheels into $WHEELS"
}

prepare_root() {
    mount_root
    # The host's trust store (it may hold a proxy's CA) and pip's configuration.
    cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
    [[ -f /etc/pip.conf ]] && cp /etc/pip.conf "$ROOT/etc/pip.conf"
    if [[ -f "$HOME/.config/pip/pip.conf" ]]; then
        mkdir -p "$ROOT/root/.config/pip"
        cp "$HOME/.config/pip/pip.conf" "$ROOT/root/.config/pip/pip.conf"
    fi
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
    # As in an image build: packages installed now must not try to start services.
    printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
    chmod 755 "$ROOT/usr/sbin/policy-rc.d"
    say "arm64 root: $(in_root sh -c '. /etc/os-release; echo "$PRETTY_NAME, $(uname -m), $(python3 --version)"')"
    # The working tree as a clone has it: tracked and new files, no .venv, no .git.
    mkdir -p "$ROOT$IN_ROOT"
    git -C "$REPO" ls-files -z --cached --others --exclude-standard \
        | tar -C "$REPO" --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$ROOT$IN_ROOT" -xf -
    say "copied the working tree to $IN_ROOT ($(du -sh "$ROOT$IN_ROOT" | cut -f1))"
}

run_install() {
    say "running install.sh inside the arm64 root (chroot, as a Pi-image build does)"
    if ! in_root env PIP_FIND_LINKS="$WHEELS_IN_ROOT" PIP_NO_INDEX=1 bash -c "cd $IN_ROOT && ./install.sh" 2>&1 \
        | grep --line-buffered -v 'is ignored: it is neither a file nor a directory' | sed -u 's/^/    [arm64] /'; then
        fail "install.sh failed inside the arm64 root (its output is above)"
    fi
    local problems=()
    [[ -x "$ROOT/opt/edge-alpr/venv/bin/edge-alpr" ]] || problems+=("no /opt/edge-alpr/venv/bin/edge-alpr")
    in_root id -u edge-alpr >/dev/null 2>&1 || problems+=("no user edge-alpr")
    [[ -f "$ROOT/etc/systemd/system/edge-alpr.service" ]] || problems+=("no unit /etc/systemd/system/edge-alpr.service")
    [[ "$(in_root systemctl is-enabled edge-alpr.service 2>/dev/null)" == enabled ]] \
        || problems+=("the unit is not enabled (systemctl is-enabled edge-alpr)")
    [[ "$(in_root stat -c '%a %U:%G' /etc/edge-alpr/config.yaml 2>/dev/null)" == "640 root:edge-alpr" ]] \
        || problems+=("/etc/edge-alpr/config.yaml is not 640 root:edge-alpr")
    ((${#problems[@]} == 0)) || fail "install.sh inside the root: $(IFS=';'; echo "${problems[*]}")"
    say "installed: venv, user edge-alpr, unit enabled (not started: no systemd in a chroot), config 640 root:edge-alpr"
}

make_inputs() {
    "$HOST_VENV/bin/python" "$REPO/scripts/pi_compare.py" inputs "$WORK/in"
    say "generated: $(ls "$WORK/in/stills" | wc -l) stills, $(ls "$WORK/in/crops" | wc -l) crops, a clip of" \
        "$("$HOST_VENV/bin/python" -c 'import cv2,sys; c=cv2.VideoCapture(sys.argv[1]); print(int(c.get(7)))' \
            "$WORK/in/clip.mp4") frames"
    mkdir -p "$ROOT$CHECK_DIR"
    cp -r "$WORK/in" "$ROOT$CHECK_DIR/in"
    write_commands "$ROOT$CHECK_DIR/commands.sh"
}

# The commands both sides run: commands.sh EDGE_ALPR CONFIG IN OUT
# detect runs the stills with detector.strategy.mode tiles, not the default auto: the check
# compares arm64's int8 numerics with x86's, and tiles (640 px views into the 320 px model, a
# 2x shrink) keep one rounding step of the box outputs to a few pixels (1.2 px measured with
# the first detector; 2.7 px on a 210 px plate with 2026.12.05, within pi_compare's 2 % of a side).
# auto adds the whole 1280 px frame, shrunk 4x, where one step became an 8.5 px box difference
# on one still though both CPUs computed correctly. auto itself is covered by the tests on x86.
write_commands() {
    cat >"$1" <<'SH'
#!/bin/sh
set -e
edge=$1 config=$2 in=$3 out=$4
mkdir -p "$out"
printf 'outputs:\n  plate_log: {directory: %s/plate-log}\n  spool: {path: %s/spool.sqlite3}\n' "$out" "$out" >"$out/run.yaml"
printf 'detector:\n  strategy: {mode: tiles}\n' >"$out/detect.yaml"
"$edge" version >"$out/version.txt"
"$edge" check-config "$config" >"$out/check-config.txt"
"$edge" detect --json --config "$out/detect.yaml" "$in"/stills/*.png >"$out/detect.jsonl" 2>"$out/detect.log"
"$edge" read --json "$in"/crops/*.png >"$out/read.jsonl" 2>"$out/read.log"
"$edge" run --config "$out/run.yaml" --source "$in/clip.mp4" --events-jsonl "$out/events.jsonl" \
    --no-print-events 2>"$out/run.log"
SH
    chmod 755 "$1"
}

# x86 runs the root's copy of the project (PYTHONPATH before the .venv's editable install, and
# its models), not the live working tree: in a shared tree, code edited between the copy and
# this step once put the x86 boxes 4 to 9 px from arm64's, which matched the copied code's.
run_x86() {
    local out="$WORK/out-x86" snapshot="$ROOT$IN_ROOT"
    PYTHONPATH="$snapshot" EDGE_ALPR_MODELS="$snapshot/models" sh "$ROOT$CHECK_DIR/commands.sh" \
        "$HOST_VENV/bin/edge-alpr" "$snapshot/config/default.yaml" "$WORK/in" "$out" \
        || fail "the commands failed on x86 (logs in $out)"
    # From /, as the console script sees it (python -c would put the working folder, the repo, first).
    [[ "$(cd / && PYTHONPATH="$snapshot" "$HOST_VENV/bin/python" -c 'import edge_alpr; print(edge_alpr.__file__)')" \
        == "$snapshot/"* ]] || fail "x86 did not import the copied project from $snapshot"
    say "x86: $(head -1 "$out/version.txt"), $(wc -l <"$out/events.jsonl") events"
}

run_arm() {
    local cpu="$1" name="$2" out="$CHECK_DIR/out-$1"
    install -d -o "$(in_root id -u edge-alpr)" "$ROOT$CHECK_DIR/out-$cpu"
    # The CPU's features as a program sees them: the Pi 4's A72 has no dot-product instructions.
    local hwcap
    hwcap="$(QEMU_CPU="$cpu" in_root env LD_SHOW_AUXV=1 /bin/true | sed -n 's/^AT_HWCAP: *\(0x\)\{0,1\}//p')"
    say "QEMU_CPU=$cpu ($name): AT_HWCAP 0x$hwcap, dot product (asimddp, bit 20)" \
        "$( (((16#$hwcap >> 20) & 1)) && echo yes || echo no)"
    if ! QEMU_CPU="$cpu" in_root runuser -u edge-alpr -- env EDGE_ALPR_MODELS=/opt/edge-alpr/models \
        "$CHECK_DIR/commands.sh" /opt/edge-alpr/venv/bin/edge-alpr /etc/edge-alpr/config.yaml "$CHECK_DIR/in" "$out"; then
        tail -n 20 "$ROOT$out"/*.log >&2 || true
        fail "the commands failed on arm64 under QEMU_CPU=$cpu (logs above)"
    fi
    sed 's/^/    [arm64 '"$cpu"'] /' "$ROOT$out/version.txt"
    head -4 "$ROOT$out/check-config.txt" | sed 's/^/    [arm64 '"$cpu"'] /'
    "$HOST_VENV/bin/python" "$REPO/scripts/pi_compare.py" compare "$WORK/out-x86" "$ROOT$out" --label "$cpu, $name" \
        || fail "arm64 under QEMU_CPU=$cpu ($name) does not match x86 (differences above)"
}

# Both CPUs at once: each emulated run is mostly one busy thread (Python under qemu), so on a
# 2-core machine side by side takes about as long as one. Each writes its own log, printed
# whole afterwards, so the two never interleave; any failure fails the check.
run_arm_all() {
    local i pids=() failed=()
    for i in "${!CPUS[@]}"; do
        (run_arm "${CPUS[$i]}" "${CPU_NAMES[$i]}") >"$WORK/arm-${CPUS[$i]}.log" 2>&1 &
        pids+=($!)
    done
    for i in "${!CPUS[@]}"; do
        wait "${pids[$i]}" || failed+=("${CPUS[$i]} (${CPU_NAMES[$i]})")
    done
    for i in "${!CPUS[@]}"; do
        printf -- '-- QEMU_CPU=%s (%s)\n' "${CPUS[$i]}" "${CPU_NAMES[$i]}"
        cat "$WORK/arm-${CPUS[$i]}.log"
    done
    ((${#failed[@]} == 0)) || fail "arm64 under QEMU_CPU=${failed[*]}: see its log above"
}

run_uninstall() {
    if ! in_root bash -c "cd $IN_ROOT && ./install.sh --uninstall" 2>&1 | sed -u 's/^/    [arm64] /'; then
        fail "install.sh --uninstall failed inside the arm64 root (its output is above)"
    fi
    local left=()
    [[ ! -e "$ROOT/opt/edge-alpr" ]] || left+=("/opt/edge-alpr")
    [[ ! -e "$ROOT/etc/systemd/system/edge-alpr.service" ]] || left+=("the unit")
    [[ ! -e "$ROOT/etc/systemd/system/multi-user.target.wants/edge-alpr.service" ]] || left+=("the unit's enable link")
    ! in_root id -u edge-alpr >/dev/null 2>&1 || left+=("user edge-alpr")
    [[ -f "$ROOT/etc/edge-alpr/config.yaml" ]] || left+=("(the config should be kept, and is gone)")
    ((${#left[@]} == 0)) || fail "install.sh --uninstall left: ${left[*]}"
    say "uninstalled: /opt/edge-alpr, the unit, its enable link and the user are gone; the config is kept"
}

print_timings() {
    ((${#TIMINGS[@]})) || return 0
    printf '\n== emulated Pi check: timings\n'
    printf '%s\n' "${TIMINGS[@]}"
    printf '%5ds  total\n' $((SECONDS - STARTED))
}

main() {
    case "${1:-}" in
        --keep) KEEP=1 ;;
        "") ;;
        -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) fail "unknown option: $1 (expected --keep)" ;;
    esac
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    step "host: root, qemu-user-static, binfmt_misc" check_host
    mkdir -p /var/tmp
    WORK="$(mktemp -d /var/tmp/edge-alpr-pi.XXXXXX)"
    ROOT="$WORK/root"
    step "Debian $SUITE arm64 root" base_root
    step "arm64 wheels for install.sh's pip (pip download on x86, cached)" arm64_wheels
    step "root prepared: mounts, CA bundle, pip config, the project" prepare_root
    step "install.sh inside the arm64 root" run_install
    step "inputs generated on x86 (edge_alpr.synth)" make_inputs
    step "the commands on x86 (.venv)" run_x86
    step "the commands on arm64 under QEMU_CPU=${CPUS[*]} (side by side), each compared with x86" run_arm_all
    step "install.sh --uninstall inside the arm64 root" run_uninstall
}

main "$@"
