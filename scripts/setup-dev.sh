#!/usr/bin/env bash
# Create ./.venv with edge-alpr installed in editable mode. Usage: scripts/setup-dev.sh [EXTRAS]
# EXTRAS defaults to "test"; the full test suite uses "test,train,rapidocr".
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"

need_apt=()
command -v python3 >/dev/null || need_apt+=(python3 python3-venv)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [[ "$extras" == *test* ]]; then
  command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto mosquitto-clients)
  command -v tesseract >/dev/null || need_apt+=(tesseract-ocr)
  command -v openssl >/dev/null || need_apt+=(openssl)
  [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || need_apt+=(fonts-dejavu-core)
  [ -d /usr/share/fonts/truetype/liberation ] || need_apt+=(fonts-liberation)
  # tests/rtsp_server.py: GStreamer's RTSP server under Debian's python3 (H.264 and H.265 encoders)
  /usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0")' 2>/dev/null \
    && gst-inspect-1.0 x265enc >/dev/null 2>&1 \
    || need_apt+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools gstreamer1.0-plugins-base
                  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav)
fi
apt_install() {  # apt_install PACKAGE...: as root, through sudo, or fail naming them
  if [ "$(id -u)" = 0 ]; then
    echo "installing apt packages: $*"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "please install: $*" >&2
    return 1
  fi
}
if ((${#need_apt[@]})); then
  apt_install "${need_apt[@]}" || exit 1
fi
if [[ "$extras" == *train* ]] && command -v dpkg >/dev/null; then
  # The renderer's extra typefaces (edge_alpr.synth.fonts.MORE_FONT_PACKAGES), for training with
  # --typefaces more. Nothing else needs them, so a mirror without one is a warning, not a failure.
  fonts=()
  for pkg in fonts-roboto-unhinted fonts-roboto-slab fonts-open-sans fonts-urw-base35 fonts-paratype \
      fonts-bebas-neue fonts-beteckna fonts-crosextra-carlito fonts-lato fonts-inter fonts-noto-core \
      fonts-cantarell fonts-league-spartan fonts-b612 fonts-dosis fonts-arkpandora fonts-comic-neue; do
    dpkg -s "$pkg" >/dev/null 2>&1 || fonts+=("$pkg")
  done
  if ((${#fonts[@]})); then
    apt_install "${fonts[@]}" || echo "warning: typefaces not installed; training with --typefaces more draws fewer faces" >&2
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch==2.13.0 (CPU) is pinned by the train extra; pip takes it from the local wheel cache where
# one exists and never resolves to a CUDA build.
.venv/bin/python -m pip install -q -e ".[${extras}]"
echo ".venv ready with extras: ${extras}"
