#!/usr/bin/env bash
# Regenerates the small committed models and golden outputs under tests/data/glow/:
# random-weight models (tools/make_random_model.py) and their latents and bits/dim from
# the independent PyTorch implementation (tools/glow_torch.py, float64).
# Needs /usr/bin/python3 with numpy and torch (Debian's python3-torch); CI does not run it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/data/glow
mkdir -p "$out"
py=/usr/bin/python3
mk() { name=$1; shift; $py tools/make_random_model.py -o "$out/$name.safetensors" --name "$name" "$@"; }
mk affine_edge      --size 16 --levels 2 --depth 2 --width 16 --coupling affine --seed 11
mk additive_post_y  --size 16 --levels 3 --depth 2 --width 8 --coupling additive --no-edge-padding \
                    --level-post --ybias all --yscale last --seed 12
mk affine_post      --size 8 --levels 2 --depth 3 --width 8 --coupling affine --no-edge-padding \
                    --level-post --n-bits 8 --seed 13
mk additive_edge_y  --size 8 --levels 1 --depth 2 --width 8 --coupling additive --ybias last --yscale all \
                    --n-bits 3 --seed 14
# the log-determinant test's tiny model: 4x4, two levels, affine with edge padding and level_post
mk tiny4            --size 4 --levels 2 --depth 2 --width 8 --coupling affine --level-post --seed 15 --scale 2
for name in affine_edge additive_post_y affine_post additive_edge_y tiny4; do
  $py tools/glow_torch.py golden "$out/$name.safetensors" --count 2 --seed 7 --out "$out/$name"
done
du -sh "$out"
