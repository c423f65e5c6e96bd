#!/usr/bin/env bash
# Training end to end on a tiny configuration: glowcam align -> tools/facepack.py ->
# tools/train_glow.py (a few steps, then a resume) -> the export loads in glowcam
# (model-info, encode, decode) and its latents match PyTorch's (relative error < 1e-4),
# decode(encode(x)) == x at n_bits.  Exit 77 (ctest: skipped, with the reason printed)
# where python3-torch is missing.
# Usage: train_e2e.sh GLOWCAM SOURCE_DIR DATA_DIR WORK_DIR
set -euo pipefail
glowcam=$1 src=$2 data=$3 work=$4
py=/usr/bin/python3
if ! $py -c "import torch, numpy" 2>/dev/null; then
  echo "SKIPPED: python3-torch (or python3-numpy) is not installed; scripts/setup.sh installs it. CI has it."
  exit 77
fi
check="$py $src/tests/train_check.py"
rm -rf "$work"
mkdir -p "$work/in/utkface" "$work/in/celeba"
for s in utkface celeba; do
  ls "$data/train/$s" | sort | sed -n 1,8p | while read -r f; do ln -s "$data/train/$s/$f" "$work/in/$s/$f"; done
  "$glowcam" align "$work/in/$s" -o "$work/aligned/$s" --size 32 --recipe openai-eyes --reflect -j 2
done
$py "$src/tools/facepack.py" npy "$work/aligned/utkface" "$work/aligned/celeba" --size 32 --out "$work/faces32.npy"
# tools/crude_crops.py (the unaligned comparison set) names each photo as the aligned pack does,
# so both sets hold out the same photos
$py "$src/tools/crude_crops.py" "$work/in" "$work/crude32.npy" --size 32
$py -c "import numpy as np, sys; a = np.load(sys.argv[1]); sys.exit(0 if a.shape == (16, 32, 32, 3) and a.dtype == np.uint8 else 1)" \
  "$work/crude32.npy" || { echo "FAIL: crude32.npy is not 16 uint8 32x32 RGB crops"; exit 1; }
missing=$(comm -23 <(sort "$work/faces32.txt") <(sort "$work/crude32.txt"))
[ -z "$missing" ] || { echo "FAIL: aligned faces without a crude crop of the same name: $missing"; exit 1; }

t0=$(date +%s)
$py "$src/tools/train_glow.py" --data "$work/faces32.npy" --levels 2 --depth 2 --width 16 --steps 6 --batch 8 \
  --warmup 2 --holdout 0.25 --threads 2 --log-every 0 --out "$work/model.safetensors" | tee "$work/train.log"
grep -q "final: 6 steps" "$work/train.log" || { echo "FAIL: training did not run its 6 steps"; exit 1; }
bpd=$(sed -n 's/.*final:.*held-out bpd \([0-9.]*\).*/\1/p' "$work/train.log")
echo "held-out bits/dim after 6 steps: $bpd (finite and < 8 expected)"
$py -c "import sys, math; b = float(sys.argv[1]); sys.exit(0 if math.isfinite(b) and 0 < b < 8 else 1)" "$bpd" ||
  { echo "FAIL: held-out bpd $bpd"; exit 1; }
$py "$src/tools/train_glow.py" --data "$work/faces32.npy" --resume "$work/model.safetensors" --steps 2 --batch 8 \
  --warmup 1 --holdout 0.25 --threads 2 --log-every 0 --optimizer adamax --logscale-lr 3 \
  --out "$work/model2.safetensors" | tee "$work/train2.log"
grep -q "resumed from" "$work/train2.log" || { echo "FAIL: no resume"; exit 1; }
$check meta "$work/model2.safetensors"
grep -q '2 run(s)' <($check meta "$work/model2.safetensors") || { echo "FAIL: resume did not keep the history"; exit 1; }
$py -c "
import json, sys; sys.path.insert(0, sys.argv[2] + '/tools'); import st_io
last = json.loads(st_io.read(sys.argv[1])[1]['train.history'])[-1]
sys.exit(0 if last['optimizer'] == 'adamax' and last['logscale_lr'] == 3 else 1)" "$work/model2.safetensors" "$src" ||
  { echo "FAIL: the run's history does not record --optimizer adamax --logscale-lr 3"; exit 1; }
# --evaluate on the first model's split gives the held-out figure its training ended with
ev=$($py "$src/tools/train_glow.py" --data "$work/faces32.npy" --resume "$work/model.safetensors" --evaluate \
  --holdout 0.25 --threads 2 | sed -n 's/.*: held-out bpd \([0-9.]*\).*/\1/p')
echo "--evaluate: held-out bpd $ev (the training's final figure: $bpd)"
[ -n "$ev" ] && [ "$ev" = "$bpd" ] || { echo "FAIL: --evaluate gave '$ev', training ended with $bpd"; exit 1; }
# --iw K: the importance-weighted figure is at most its draws' mean single bound, which is near
# the usual one (other noise)
iw=$($py "$src/tools/train_glow.py" --data "$work/faces32.npy" --resume "$work/model.safetensors" --evaluate \
  --iw 4 --holdout 0.25 --threads 2 | grep importance-weighted)
echo "--evaluate --iw 4: $iw"
$py -c "
import re, sys
iw, one = map(float, re.search(r'bpd ([0-9.]+) importance.*one at a time: ([0-9.]+)', sys.argv[1]).groups())
ok = iw <= one and abs(one - float(sys.argv[2])) < 0.05 and one - iw < 0.5
sys.exit(0 if ok else 1)" "$iw" "$bpd" || { echo "FAIL: --iw figures out of order or far from $bpd"; exit 1; }
# --ema: the export is the moving average, not the raw weights: --evaluate on it gives the
# averaged figure, and the raw one differs after 2 steps at decay 0.5
$py "$src/tools/train_glow.py" --data "$work/faces32.npy" --resume "$work/model.safetensors" --steps 2 --batch 8 \
  --warmup 1 --holdout 0.25 --threads 2 --log-every 0 --ema 0.5 --out "$work/model_ema.safetensors" | tee "$work/train_ema.log"
read -r avg raw < <(sed -n 's/.*final:.*held-out bpd \([0-9.]*\) .*averaged weights, \([0-9.]*\) with the raw.*/\1 \2/p' "$work/train_ema.log")
ev=$($py "$src/tools/train_glow.py" --data "$work/faces32.npy" --resume "$work/model_ema.safetensors" --evaluate \
  --holdout 0.25 --threads 2 | sed -n 's/.*: held-out bpd \([0-9.]*\).*/\1/p')
echo "--ema 0.5: averaged $avg, raw $raw, --evaluate on the export $ev"
[ -n "$avg" ] && [ "$ev" = "$avg" ] && [ "$avg" != "$raw" ] ||
  { echo "FAIL: the export should be the averaged weights ($avg), not the raw ones ($raw): --evaluate gave '$ev'"; exit 1; }
grep -q 'moving average, decay 0.5' <($check meta "$work/model_ema.safetensors") ||
  { echo "FAIL: the export's training metadata does not say it holds averaged weights"; exit 1; }
# --vardeq: the learnt dequantizer is written beside the export, and --evaluate with it gives the
# figure the training ended with (the bound's noise comes from a fixed seed)
$py "$src/tests/train_check.py" dequant
$py "$src/tools/train_glow.py" --data "$work/faces32.npy" --resume "$work/model.safetensors" --steps 3 --batch 8 \
  --warmup 1 --holdout 0.25 --threads 2 --log-every 0 --vardeq --out "$work/model_vd.safetensors" | tee "$work/train_vd.log"
vd=$(sed -n 's/.*final:.*held-out bpd \([0-9.]*\) with the learnt dequantizer.*/\1/p' "$work/train_vd.log")
[ -s "$work/model_vd.dequant.safetensors" ] || { echo "FAIL: --vardeq wrote no model_vd.dequant.safetensors"; exit 1; }
ev=$($py "$src/tools/train_glow.py" --data "$work/faces32.npy" --resume "$work/model_vd.safetensors" --evaluate \
  --dequantizer "$work/model_vd.dequant.safetensors" --holdout 0.25 --threads 2 |
  sed -n 's/.*: held-out bpd \([0-9.]*\) with the learnt dequantizer.*/\1/p')
echo "--vardeq: training's final bound $vd, --evaluate --dequantizer on the export $ev"
[ -n "$vd" ] && [ "$ev" = "$vd" ] || { echo "FAIL: --evaluate --dequantizer gave '$ev', training ended with '$vd'"; exit 1; }
iw=$($py "$src/tools/train_glow.py" --data "$work/faces32.npy" --resume "$work/model_vd.safetensors" --evaluate \
  --dequantizer "$work/model_vd.dequant.safetensors" --iw 4 --holdout 0.25 --threads 2 | grep importance-weighted)
echo "--evaluate --dequantizer --iw 4: $iw"
$py -c "
import re, sys
iw, one = map(float, re.search(r'bpd ([0-9.]+) importance.*learnt dequant.*one at a time: ([0-9.]+)', sys.argv[1]).groups())
sys.exit(0 if iw <= one and abs(one - float(sys.argv[2])) < 0.05 else 1)" "$iw" "$vd" ||
  { echo "FAIL: --iw with the learnt dequantizer out of order or far from $vd"; exit 1; }
grep -q 'learnt dequantizer model_vd.dequant.safetensors' <($check meta "$work/model_vd.safetensors") ||
  { echo "FAIL: the export's training metadata does not give the learnt dequantizer's figure"; exit 1; }
# --grow-depth: a resumed model deepened from 2 to 4 steps per level (the function-preserving
# growth itself is checked in float64 by train_check.py grow); glowcam loads it below
$check grow
$py "$src/tools/train_glow.py" --data "$work/faces32.npy" --resume "$work/model.safetensors" --grow-depth 4 --steps 2 \
  --batch 8 --warmup 1 --holdout 0.25 --threads 2 --log-every 0 --out "$work/model_grown.safetensors" | tee "$work/train_grow.log"
$py -c "
import json, sys; sys.path.insert(0, sys.argv[2] + '/tools'); import st_io
meta = st_io.read(sys.argv[1])[1]
last = json.loads(meta['train.history'])[-1]
sys.exit(0 if meta['depth'] == '4' and last.get('grown', '').startswith('depth 2 -> 4') else 1)" "$work/model_grown.safetensors" "$src" ||
  { echo "FAIL: the grown export is not depth 4, or its history does not record the growth"; exit 1; }
echo "training wall time (all runs, incl. start-up): $(( $(date +%s) - t0 )) s"

for model in model2 model_grown; do
  "$glowcam" model-info "$work/$model.safetensors"
  : >"$work/list.txt"
  n=0
  for crop in $(ls "$work/aligned/utkface"/*.png | sed -n 1,2p) $(ls "$work/aligned/celeba"/*.png | sed -n 1p); do
    for be in reference cpu; do
      out=$("$glowcam" encode "$crop" -m "$work/$model.safetensors" -o "$work/z$n.npy" --backend $be)
      echo "$model, $be: $out"
      b=$(echo "$out" | sed -n 's/.*: \([0-9.]*\) bits\/dim.*/\1/p')
      "$glowcam" decode "$work/z$n.npy" -m "$work/$model.safetensors" -o "$work/back$n.png" --backend $be
      echo "$crop $work/z$n.npy $b $work/back$n.png 5" >>"$work/list.txt"
      n=$((n + 1))
    done
  done
  $check latent "$work/$model.safetensors" "$work/list.txt"
  echo "PASS: $model: $n latents (reference and cpu backends) match PyTorch and round-trip exactly"
done
