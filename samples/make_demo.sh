#!/usr/bin/env bash
# Makes glowcam's demo input from public-domain portraits that Debian packages ship:
#   grace_hopper_512x512.jpg (package facedetect) and astronaut.png (python3-skimage).
# The .debs are fetched with `apt-get download` into samples/cache/ and unpacked with
# `dpkg -x` (nothing is installed). Then ffmpeg turns Grace Hopper's portrait into a
# 5 s, 512x512, 25 fps clip with a slow pan, zoom and tilt (so detection, tracking and
# compositing see moving frames) and a generated AAC track (so audio pass-through runs).
#
# Usage: samples/make_demo.sh [--force]
# Makes (idempotent; nothing is redone when the outputs exist, unless --force):
#   samples/cache/portraits/grace_hopper.jpg, samples/cache/portraits/astronaut.png
#   samples/demo.mp4
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache="$here/cache"
portraits="$cache/portraits"
clip="$here/demo.mp4"
force=0
[ "${1:-}" = --force ] && force=1

die() { echo "make_demo: $*" >&2; exit 1; }
command -v ffmpeg >/dev/null || die "ffmpeg not found (scripts/setup.sh installs it)"
mkdir -p "$portraits"

# fetch PACKAGE PATH-IN-PACKAGE OUTPUT: the file from the package's .deb.
fetch() {
  local pkg=$1 inner=$2 out=$3
  [ -s "$out" ] && [ $force = 0 ] && return 0
  local deb
  deb=$(ls "$cache/${pkg}"_*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    # apt-get download writes into the working directory; the _apt sandbox
    # warning (when run as root in a folder _apt cannot write) is harmless.
    (cd "$cache" && apt-get download -q "$pkg" >/dev/null 2>"$cache/apt-$pkg.log") ||
      die "apt-get download $pkg failed (see $cache/apt-$pkg.log; needs network and apt sources)"
    deb=$(ls "$cache/${pkg}"_*.deb 2>/dev/null | head -n1 || true)
    [ -n "$deb" ] || die "apt-get download $pkg left no .deb in $cache"
  fi
  local x="$cache/x-$pkg"
  rm -rf "$x"
  dpkg -x "$deb" "$x" || die "dpkg -x $deb failed"
  [ -s "$x/$inner" ] || die "$deb has no $inner"
  cp "$x/$inner" "$out.tmp" && mv "$out.tmp" "$out"
  rm -rf "$x"
}

fetch facedetect usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg "$portraits/grace_hopper.jpg"
fetch python3-skimage usr/lib/python3/dist-packages/skimage/data/astronaut.png "$portraits/astronaut.png"

if [ -s "$clip" ] && [ $force = 0 ]; then
  exit 0
fi

# The portrait is upscaled 4x first so that zoompan's whole-pixel crop offsets move
# by a quarter of a source pixel (no visible judder). It is tilted by up to ±4
# degrees (rotate, on the large picture so the corners it fills stay outside the
# crop), then zoompan crops a window that zooms 1.25x-1.45x and pans ±24 source
# pixels, then scales to 512x512. Audio: a quiet 440 Hz tone with a 2 Hz tremolo.
secs=5
vf="scale=2048:2048:flags=bicubic,"
vf+="rotate=a='0.07*sin(2*PI*t/${secs})':fillcolor=gray,"
vf+="zoompan=z='1.35+0.10*sin(2*PI*on/(25*${secs}))'"
vf+=":x='iw/2-iw/zoom/2+96*sin(2*PI*on/(25*${secs})+1)'"
vf+=":y='ih/2-ih/zoom/2+64*sin(4*PI*on/(25*${secs}))'"
vf+=":d=1:s=512x512:fps=25,format=yuv420p"
tmp="$here/.demo.tmp.mp4"
rm -f "$tmp"
if ! ffmpeg -nostdin -hide_banner -loglevel error -y \
    -loop 1 -framerate 25 -t $secs -i "$portraits/grace_hopper.jpg" \
    -f lavfi -t $secs -i "sine=frequency=440:sample_rate=48000,tremolo=f=2:d=0.5,volume=0.3" \
    -vf "$vf" -c:v libx264 -preset veryfast -crf 18 -r 25 \
    -c:a aac -b:a 96k -shortest -movflags +faststart "$tmp"; then
  rm -f "$tmp"
  die "ffmpeg failed to make $clip"
fi
mv "$tmp" "$clip"
echo "make_demo: wrote $clip" >&2
