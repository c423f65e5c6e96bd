#!/usr/bin/env bash
# Builds glowcam's training sets from ../shared/data/train (UTKFace crop_part1 and the CelebA
# subset), re-aligned with `glowcam align --recipe openai-eyes`, the recipe the models declare.
# Everything goes under .dev/ (git-ignored): data derived from ../shared is never committed.
#
# Usage: tools/prepare_dataset.sh [--glowcam PATH] [--limit N] [--jobs J]
#   --glowcam PATH  the glowcam binary (default: build-train/src/cli/glowcam, then build/...)
#   --limit N       only the first N images of each set (quick tests)
#   --jobs J        align threads (default 2)
# The crops mirror the photo at its borders (align --reflect): UTKFace's tight 200x200 crops
# leave the top ~20% of an openai-eyes crop outside the photo, and replicated edge pixels
# would teach the model vertical streaks there.
#
# Makes (each step is skipped when its output exists; delete it to redo):
#   .dev/data/aligned128/{utkface,celeba}/*.png   128x128 crops (align runs once, at 128)
#   .dev/data/faces128_utkface.npy, faces128_celeba.npy (+ .txt names)   uint8 [N,128,128,3]
#   .dev/data/celeba64.npy (+ .txt)    CelebA, 128 -> 64 by 2x2 area averaging: the 64x64 model's
#                                      set. UTKFace is left out of it: its tight 200x200 crops put
#                                      45-65% of an openai-eyes crop outside the photo, and the model
#                                      learnt the mirrored borders (a second pair of eyes above the
#                                      head in samples) and spent bits/dim on them.
#   .dev/gpu/utkface128.jpgs.npz       UTKFace at 128, JPEG -q:v 4 (the 128 model: CelebA's 89x109
#                                      sources are too small for 128, a x1.7 upscale)
#   .dev/gpu/celeba64.jpgs.npz         CelebA at 64, JPEG -q:v 3 (18 MB)
#   .dev/gpu64/celeba64.jpgs.npz       the same, alone, for gpu_train.sh --only64
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${GLOWCAM_DATA:-$root/../shared/data}
py=/usr/bin/python3
glowcam=""
limit=0
jobs=2
while [ $# -gt 0 ]; do
  case $1 in
    --glowcam) glowcam=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    *) echo "usage: $0 [--glowcam PATH] [--limit N] [--jobs J]" >&2; exit 2 ;;
  esac
done
die() { echo "prepare_dataset: $*" >&2; exit 1; }
if [ -z "$glowcam" ]; then
  for c in "$root/build-train/src/cli/glowcam" "$root/build/src/cli/glowcam"; do
    [ -x "$c" ] && { glowcam=$c; break; }
  done
fi
[ -n "$glowcam" ] && [ -x "$glowcam" ] || die "no glowcam binary (build it: cmake -S . -B build-train -DCMAKE_BUILD_TYPE=Release && cmake --build build-train)"
for s in utkface celeba; do
  [ -d "$data/train/$s" ] || die "$data/train/$s missing (set GLOWCAM_DATA)"
done

out=$root/.dev/data
gpu=$root/.dev/gpu
mkdir -p "$out" "$gpu"

for s in utkface celeba; do
  dst=$out/aligned128/$s
  if [ ! -e "$dst/.done" ]; then
    rm -rf "$dst" "$dst.in"; mkdir -p "$dst"
    src=$data/train/$s
    if [ "$limit" -gt 0 ]; then
      mkdir -p "$dst.in"
      ls "$src" | sort | sed -n "1,${limit}p" | while read -r f; do ln -s "$src/$f" "$dst.in/$f"; done
      src=$dst.in
    fi
    echo "prepare_dataset: aligning $s ($(ls "$src" | wc -l) images) -> $dst" >&2
    t0=$(date +%s)
    nice -n 10 "$glowcam" align "$src" -o "$dst" --size 128 --recipe openai-eyes --reflect -j "$jobs" 2>"$out/align_$s.log" ||
      die "glowcam align failed on $s (see $out/align_$s.log)"
    rm -rf "$dst.in"
    echo "prepare_dataset: $s: $(ls "$dst" | grep -c '\.png$') crops in $(( $(date +%s) - t0 )) s; $(tail -n1 "$out/align_$s.log")" >&2
    touch "$dst/.done"
  fi
  [ -s "$out/faces128_$s.npy" ] || $py "$root/tools/facepack.py" npy "$dst" --size 128 --out "$out/faces128_$s.npy"
done

if [ ! -s "$out/celeba64.npy" ]; then
  $py - "$out" <<'EOF'
import sys, os, numpy as np
out = sys.argv[1]
a = np.load(os.path.join(out, "faces128_celeba.npy"))
n = a.shape[0]
a = np.floor(a.reshape(n, 64, 2, 64, 2, 3).astype(np.float32).mean(axis=(2, 4)) + 0.5).astype(np.uint8)
names = open(os.path.join(out, "faces128_celeba.txt")).read().splitlines()
np.save(os.path.join(out, "celeba64.tmp.npy"), a)
open(os.path.join(out, "celeba64.txt"), "w").write("".join(n + "\n" for n in names))
os.replace(os.path.join(out, "celeba64.tmp.npy"), os.path.join(out, "celeba64.npy"))
print("prepare_dataset: %s: %d faces 64x64" % (os.path.join(out, "celeba64.npy"), n))
EOF
fi

[ -s "$gpu/utkface128.jpgs.npz" ] || $py "$root/tools/facepack.py" jpeg "$out/faces128_utkface.npy" --q 4 --out "$gpu/utkface128.jpgs.npz"
[ -s "$gpu/celeba64.jpgs.npz" ] || $py "$root/tools/facepack.py" jpeg "$out/faces128_celeba.npy" --downscale 2 --q 3 --out "$gpu/celeba64.jpgs.npz"
mkdir -p "$root/.dev/gpu64"
[ -s "$root/.dev/gpu64/celeba64.jpgs.npz" ] || cp "$gpu/celeba64.jpgs.npz" "$root/.dev/gpu64/celeba64.jpgs.npz"
echo "prepare_dataset: done; GPU pack $(du -sh "$gpu" | cut -f1) in .dev/gpu" >&2
