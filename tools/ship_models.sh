#!/usr/bin/env bash
# Ships trained models: checks them, copies them into models/, rebuilds the default target
# identity (an identity is bound to its model's SHA-256) and remakes the model card's pictures
# and results table. Only public-domain portraits (samples/make_demo.sh) are used for pictures.
#
# Usage: tools/ship_models.sh DIR|MODEL...
#   DIR: a folder holding glowcam-64.safetensors and/or glowcam-128.safetensors (e.g. what
#        tools/gpu_train.sh wrote to $OUT); MODEL: such files directly.
# Needs: a glowcam build (build-train/ or build/; GLOWCAM=path overrides), /usr/bin/python3 with
# torch (card pictures). Commit afterwards:
#   git add models/ && git commit -m "models: ..." -- models/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
die() { echo "ship_models: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: $0 DIR|MODEL..."
glowcam=${GLOWCAM:-}
if [ -z "$glowcam" ]; then
  for c in "$root/build-train/src/cli/glowcam" "$root/build/src/cli/glowcam"; do
    [ -x "$c" ] && { glowcam=$c; break; }
  done
fi
[ -n "$glowcam" ] || die "no glowcam build (cmake -S . -B build-train -DCMAKE_BUILD_TYPE=Release && cmake --build build-train)"

files=()
for a in "$@"; do
  if [ -d "$a" ]; then
    for n in glowcam-64 glowcam-128; do [ -s "$a/$n.safetensors" ] && files+=("$a/$n.safetensors"); done
  else
    files+=("$a")
  fi
done
[ ${#files[@]} -gt 0 ] || die "no glowcam-64/128.safetensors in $*"

"$root/samples/make_demo.sh"
work=$root/.dev/ship
rm -rf "$work"; mkdir -p "$work"
for f in "${files[@]}"; do
  name=$(basename "$f" .safetensors)
  info=$("$glowcam" model-info "$f") || die "$f does not load in glowcam"
  S=$(echo "$info" | sed -n 's/^image_size: *\([0-9]*\).*/\1/p')
  nb=$(echo "$info" | sed -n 's/^n_bits: *\([0-9]*\).*/\1/p')
  al=$(echo "$info" | sed -n 's/^alignment: *//p')
  [ "$al" = openai-eyes ] || die "$f: alignment $al, expected openai-eyes"
  faces=$work/faces$S
  if [ ! -d "$faces" ]; then
    "$glowcam" align "$root/samples/cache/portraits" -o "$faces" --size "$S" -j 2 2>/dev/null
    "$glowcam" align "$root/samples/demo.mp4" -o "$faces" --size "$S" --every 5 2>/dev/null
  fi
  # exact round trip through glowcam on the portraits before anything is shipped
  for c in "$faces/astronaut.png" "$faces/grace_hopper.png"; do
    out=$("$glowcam" encode "$c" -m "$f" -o "$work/z.npy")
    "$glowcam" decode "$work/z.npy" -m "$f" -o "$work/back.png"
    $py "$root/tests/train_check.py" roundtrip "$c" "$work/back.png" "$nb" >/dev/null || die "$f: round trip of $c not exact"
    echo "ship_models: $name: $out (round trip exact)"
  done
  cp "$f" "$root/models/$name.safetensors.tmp" && mv "$root/models/$name.safetensors.tmp" "$root/models/$name.safetensors"
  # train_glow.py --vardeq's learnt dequantizer: ships beside its model so that the card's
  # variational figure can be measured again (--evaluate --dequantizer); glowcam never reads it
  dq=${f%.safetensors}.dequant.safetensors
  if [ -s "$dq" ]; then
    cp "$dq" "$root/models/$name.dequant.safetensors.tmp" && mv "$root/models/$name.dequant.safetensors.tmp" "$root/models/$name.dequant.safetensors"
  else
    rm -f "$root/models/$name.dequant.safetensors"
  fi
  mkdir -p "$root/models/card"
  $py "$root/tools/card_images.py" "$root/models/$name.safetensors" --faces "$faces" --out "$root/models/card" \
    --scale $((128 / S > 1 ? 128 / S : 1)) 2>&1 | grep -v -i "warn\|from_numpy" || true
  "$glowcam" sample -m "$root/models/$name.safetensors" --temperature 0.7 -n 16 --seed 1 -o "$root/models/card/$name-glowcam-sample-t0.7.png"
done

m64=$root/models/glowcam-64.safetensors
if [ -s "$m64" ]; then
  # The default target: Eileen Collins' NASA portrait (public domain). One photo, so its
  # variance is 0: use it with the linear method (the default), not --method variance.
  "$glowcam" identity build "$root/samples/cache/portraits/astronaut.png" -m "$m64" \
    -o "$root/models/default-target.safetensors" --name "Eileen Collins (NASA portrait, public domain; samples/make_demo.sh)"
  "$glowcam" identity show "$root/models/default-target.safetensors" -m "$m64" -o "$root/models/card/default-target-mean.png" || true
fi

# results table of the model card, from the files' own metadata
$py - "$root/models" <<'EOF'
import json, os, re, sys
sys.path.insert(0, os.path.join(os.path.dirname(sys.argv[1]), "tools"))
import st_io
d = sys.argv[1]
head = ["model", "held-out bits/dim, dequantized (the usual bound)", "with the learnt dequantizer (a tighter bound)",
        "at bin centres (what `glowcam encode` prints)", "faces held out", "training", "hardware", "images seen", "runs"]
body = []
for n in ("glowcam-64", "glowcam-128"):
    p = os.path.join(d, n + ".safetensors")
    if not os.path.exists(p):
        continue
    _, m = st_io.read(p)
    hist = json.loads(m.get("train.history", "[]"))
    last = hist[-1] if hist else {}
    bv, bc = last.get("heldout_bpd_vardeq"), last.get("heldout_bpd_centres")
    body.append(["`%s.safetensors`" % n, m.get("train.heldout_bpd", "?"),
                 "%.4f (`%s.dequant.safetensors`)" % (bv, n) if bv is not None else "-",
                 "%.4f" % bc if bc is not None else "?", m.get("train.heldout_faces", "?"),
                 "%.1f min" % (float(m.get("train.seconds", 0)) / 60),
                 "; ".join(sorted({h.get("hardware", "?") for h in hist})), m.get("train.images_seen", "?"),
                 str(len(hist))])
# the learnt-dequantizer column only when a shipped model has one (train_glow.py --vardeq)
if all(r[2] == "-" for r in body):
    head, body = head[:2] + head[3:], [r[:2] + r[3:] for r in body]
row = lambda cells: "| " + " | ".join(cells) + " |"
rows = [row(head), "|" + "---|" * len(head)] + [row(r) for r in body]
table = "\n".join(rows)
readme = os.path.join(d, "README.md")
s = open(readme).read()
s = re.sub(r"<!-- results -->.*<!-- /results -->", lambda _: "<!-- results -->\n" + table + "\n<!-- /results -->", s, flags=re.S)
open(readme, "w").write(s)
print(table)
EOF
echo "ship_models: done; now: git add models/ && git commit -m 'models: ...' -- models/" >&2
