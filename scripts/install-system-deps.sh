#!/usr/bin/env bash
# Debian/Ubuntu packages: shared libraries that Open3D's and OpenCV's wheels load at import time,
# chromium (with a font) for the GUI agent's end-to-end browser tests, and Xvfb with Tk's
# library (which Python's tkinter loads) for the desktop executor's tests.
# Google's Material Icons font (Apache-2.0): the glyphs `sensorium train embed --pairs material-icons:N`
# trains the GUI agent's icon model on (its tests render a few).
# Installs only what is missing; needs root (or sudo). Elsewhere: install the equivalents
# of libusb-1.0, libGL, libgomp and a Chromium with your system's package manager.
set -euo pipefail
need=()
for pkg in libusb-1.0-0 libgl1 libgomp1 chromium fonts-dejavu-core xvfb libtk8.6 fonts-material-design-icons-iconfont; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "missing system libraries (${need[*]}) and no apt-get: install them with your package manager" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing system packages: ${need[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
