#!/usr/bin/env bash
# Writes random models of many configurations (numpy-only tools/make_random_model.py), then
# checks decode(encode(x)) == x exactly (after n_bits quantization) on random images and,
# with a 64x64 model, on real faces from ${GLOWCAM_DATA}/identities resized by libswscale.
#   test_glow_roundtrip.sh TEST_BINARY REPO_ROOT TMPDIR GLOWCAM_DATA
set -euo pipefail
bin=$1 root=$2 tmp=$3 data=$4
mkdir -p "$tmp"
py=/usr/bin/python3
mk() { name=$1; out=$tmp/$1.safetensors; shift; $py "$root/tools/make_random_model.py" -o "$out" --name "$name" "$@"; echo "$out"; }
models=(
  "$(mk aff_edge_b5    --size 16 --levels 2 --depth 3 --width 16 --seed 1)"
  "$(mk aff_noedge_b8  --size 16 --levels 3 --depth 2 --width 12 --no-edge-padding --n-bits 8 --seed 2)"
  "$(mk aff_post_b1    --size 8 --levels 1 --depth 4 --width 8 --level-post --n-bits 1 --seed 3)"
  "$(mk add_edge_b4    --size 16 --levels 2 --depth 2 --width 16 --coupling additive --n-bits 4 --seed 4)"
  "$(mk add_post_y_b5  --size 32 --levels 4 --depth 2 --width 8 --coupling additive --level-post --ybias all --yscale all --no-edge-padding --seed 5)"
  "$(mk add_ylast_b6   --size 16 --levels 2 --depth 3 --width 8 --coupling additive --ybias last --yscale last --n-bits 6 --seed 6)"
  "$(mk aff_l5_b7      --size 32 --levels 5 --depth 1 --width 8 --n-bits 7 --seed 7)"
)
face=$(mk face64 --size 64 --levels 3 --depth 2 --width 16 --level-post --seed 8)
face8=$(mk face64_b8 --size 64 --levels 3 --depth 2 --width 16 --coupling additive --yscale last --n-bits 8 --seed 9)
exec "$bin" --faces "$data/identities" 3 "$face" "$face8" -- "${models[@]}"
