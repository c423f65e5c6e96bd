#!/usr/bin/env bash
# The shipped models (models/glowcam-*.safetensors) round-trip real faces exactly after the
# n_bits quantization, and give them a plausible bits/dim (< 2.5: a trained face model; an
# untrained one gives ~4+). Faces: thesis identity photos from DATA_DIR, re-aligned.
# Usage: train_shipped.sh GLOWCAM SOURCE_DIR DATA_DIR WORK_DIR
set -euo pipefail
glowcam=$1 src=$2 data=$3 work=$4
py=/usr/bin/python3
models=$(ls "$src"/models/glowcam-*.safetensors 2>/dev/null || true)
[ -n "$models" ] || { echo "FAIL: no shipped model models/glowcam-*.safetensors"; exit 1; }
rm -rf "$work"; mkdir -p "$work/in"
for p in emma obama; do
  f=$(ls "$data/identities/$p" | sort | sed -n 1p)
  ln -s "$data/identities/$p/$f" "$work/in/$p.png"
done
for m in $models; do
  info=$("$glowcam" model-info "$m")
  S=$(echo "$info" | sed -n 's/^image_size: *\([0-9]*\).*/\1/p')
  nb=$(echo "$info" | sed -n 's/^n_bits: *\([0-9]*\).*/\1/p')
  echo "$(basename "$m"): ${S}x${S}, n_bits $nb; $(echo "$info" | sed -n 's/^training: *//p')"
  rm -rf "$work/al"
  "$glowcam" align "$work/in" -o "$work/al" --size "$S" --recipe openai-eyes -j 2
  for crop in "$work/al"/*.png; do
    out=$("$glowcam" encode "$crop" -m "$m" -o "$work/z.npy")
    echo "  $out"
    b=$(echo "$out" | sed -n 's/.*: \([0-9.]*\) bits\/dim.*/\1/p')
    $py -c "import sys; sys.exit(0 if float(sys.argv[1]) < 2.5 else 1)" "$b" || { echo "FAIL: bits/dim $b >= 2.5"; exit 1; }
    "$glowcam" decode "$work/z.npy" -m "$m" -o "$work/back.png"
    $py "$src/tests/train_check.py" roundtrip "$crop" "$work/back.png" "$nb"
  done
done
echo "PASS"
