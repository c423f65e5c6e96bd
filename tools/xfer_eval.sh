#!/usr/bin/env bash
# Expression-transfer figures on the shared data: builds the five identities of
# ../shared/data/identities, converts the first frames of a few clips of
# ../shared/data/videos onto two of them (source mean from a first pass), and
# prints `glowcam eval` for each. Reads the shared data in place (never copies it).
#
# usage: tools/xfer_eval.sh [MODEL] [FRAMES]   (run from the repository root after a
#        Release build in build/; GLOWCAM=path/to/glowcam and OUT=folder override)
set -euo pipefail
model=${1:-models/glowcam-64.safetensors}
frames=${2:-100}
G=${GLOWCAM:-build/src/cli/glowcam}
data=${GLOWCAM_DATA:-../shared/data}
out=${OUT:-/tmp/glowcam-xfer-eval}
mkdir -p "$out"
[ -x "$G" ] || { echo "xfer_eval: $G not built" >&2; exit 1; }
for p in emma obama selena taylor zac; do
  "$G" identity build "$data/identities/$p" -m "$model" -o "$out/$p.safetensors" --name "$p"
done
for clip in lp_d11 lp_d12 lp_d14 tpsmm_driving; do
  for t in emma obama; do
    o="$out/${clip}_to_$t.mp4"
    "$G" convert "$data/videos/$clip.mp4" -m "$model" --target "$out/$t.safetensors" --two-pass \
        --alpha 0.5 -n "$frames" -q -o "$o"
    echo "== $clip -> $t (alpha 0.5, linear, two-pass source mean, $frames frames)"
    "$G" eval "$data/videos/$clip.mp4" "$o" --max-frames "$frames" -m "$model" --target "$out/$t.safetensors"
  done
done
