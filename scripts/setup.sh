#!/usr/bin/env bash
# Installs the Debian 12 packages glowcam needs (only those missing) and builds it.
# Usage: scripts/setup.sh [release|debug]   (as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(build-essential cmake pkg-config git glslc libvulkan-dev mesa-vulkan-drivers
      libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev libavdevice-dev
      libsdl2-dev libdlib-dev libdlib-data libopenblas-dev libcjson-dev libx264-dev
      ffmpeg xvfb xdotool python3-numpy python3-torch python3-pil)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
kind=${1:-release}
if [ "$kind" = debug ]; then
  cmake -S . -B build-debug -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build build-debug -j"$(nproc)"
else
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$(nproc)"
fi
