#!/usr/bin/env bash
# Installs the Debian packages hallwatch needs to build, run its demo and run its tests.
# Installs only what is missing; never starts the system-wide mosquitto or influxd services.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  libmodbus-dev libmosquitto-dev libcurl4-openssl-dev libconfig-dev libsqlite3-dev
  libglib2.0-dev libjansson-dev libcmocka-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-plugins-base-apps
  mosquitto mosquitto-clients influxdb influxdb-client
  python3-pymodbus python3-serial python3-serial-asyncio
  python3-paho-mqtt mbpoll socat openssl curl sqlite3
  clang libclang-rt-14-dev
  dpkg-dev
  libsoup-3.0-dev libglib2.0-dev-bin libjs-chart.js libcrypt-dev chromium fonts-wqy-microhei
)

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done

# node and npm run the browser tests only (tests/browser); nothing of hallwatch's build needs
# them. A node from elsewhere with its own npm counts as present.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

install_browser_deps() {
  # playwright-core, pinned by tests/browser/package-lock.json, drives Debian's chromium.
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/browser"
  if [ -f "$dir/package-lock.json" ] && [ ! -d "$dir/node_modules/playwright-core" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund >&2)
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  install_browser_deps
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "hallwatch: missing packages: ${missing[*]}" >&2
  echo "hallwatch: run this script as root to install them" >&2
  exit 1
fi

echo "hallwatch: installing ${missing[*]}" >&2
# Refuse service starts during installation so that no system-wide broker or
# database ends up listening on its default port; tests and the demo start their own.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
install_browser_deps
