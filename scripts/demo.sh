#!/usr/bin/env bash
# The main job: set-up (missing Debian packages), a Release build, the demo clip made from a
# public-domain portrait, and its conversion onto the shipped default target with the shipped model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release
samples/make_demo.sh
out=samples/demo-out.mp4
# the detail above the model's resolution from the default target's own portrait (the face
# judge: 0.255 from Collins' portrait against 0.329 with the default --detail narrow)
build/src/cli/glowcam convert samples/demo.mp4 -o "$out" --stats \
    --detail target --detail-photos samples/cache/portraits/astronaut.png --detail-gain 1 "$@"
echo "demo: wrote $out (input samples/demo.mp4, model models/glowcam-64.safetensors, target models/default-target.safetensors)"
