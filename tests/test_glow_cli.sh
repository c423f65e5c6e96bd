#!/usr/bin/env bash
# glowcam encode / decode / model-info: round trip through .npy and PNG/JPEG, errors
# that name the file with exit 1, usage errors with exit 2, no output left on failure.
#   test_glow_cli.sh GLOWCAM TEST_DATA_DIR TMPDIR
set -uo pipefail
G=$1 data=$2 tmp=$3
rm -rf "$tmp" && mkdir -p "$tmp" && cd "$tmp" || exit 1
m=$data/affine_edge.safetensors   # 16x16, latent 768
small=$data/affine_post.safetensors # 8x8, latent 192
fails=0
ok()   { echo "ok   $*"; }
bad()  { echo "FAIL $*"; fails=$((fails + 1)); }
# expect RC DESCRIPTION NEEDLE -- command...: exit code RC and NEEDLE (if any) in stderr
expect() {
  local want=$1 what=$2 needle=$3; shift 4
  "$@" >out.txt 2>err.txt; local rc=$?
  if [ "$rc" != "$want" ]; then bad "$what: exit $rc, expected $want ($(head -c 300 err.txt))"; return; fi
  if [ -n "$needle" ] && ! grep -qF -- "$needle" err.txt; then bad "$what: stderr lacks '$needle': $(head -c 300 err.txt)"; return; fi
  ok "$what (exit $rc${needle:+, names $needle})"
}
# a zero latent as .npy, written by hand so the test needs no Python
zeros_npy() { # N OUT
  local hdr="{'descr': '<f4', 'fortran_order': False, 'shape': ($1,), }"
  local total=$(( 10 + ${#hdr} + 1 )); local pad=$(( (64 - total % 64) % 64 ))
  { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( (${#hdr} + pad + 1) % 256 )))\\x$(printf %02x $(( (${#hdr} + pad + 1) / 256 )))";
    printf '%s%*s\n' "$hdr" $pad ''; head -c $(( $1 * 4 )) /dev/zero; } > "$2"
}
zeros_npy 768 z0.npy
zeros_npy 192 zsmall.npy
sed "1s/<f4/<f8/" z0.npy > zf8.npy # the same header with another dtype

expect 0 "model-info" "" -- "$G" model-info "$m"
grep -q "image_size:   16" out.txt && ok "model-info prints image_size" || bad "model-info output: $(cat out.txt)"
expect 0 "decode zero latent to PNG" "" -- "$G" decode z0.npy -m "$m" -o a.png
expect 0 "encode PNG" "" -- "$G" encode a.png -m "$m" -o l1.npy --backend reference
grep -q "bits/dim" out.txt && ok "encode prints bits/dim: $(cat out.txt)" || bad "encode output: $(cat out.txt)"
expect 0 "decode latent" "" -- "$G" decode l1.npy -m "$m" -o b.png --backend reference
expect 0 "encode with the default backend" "" -- "$G" encode b.png -m "$m" -o lauto.npy
expect 0 "encode again" "" -- "$G" encode b.png -m "$m" -o l2.npy --backend reference
cmp -s l1.npy l2.npy && ok "the latents of both PNGs are identical" || bad "latents differ"
# a.png may hold 255 where the model's last bin decodes to 248 (DESIGN's clip); from b.png on it is exact
expect 0 "decode again" "" -- "$G" decode l2.npy -m "$m" -o c.png --backend reference
cmp -s b.png c.png && ok "decode(encode(b.png)) is b.png byte for byte" || bad "round trip PNGs differ"
expect 0 "decode to JPEG" "" -- "$G" decode l1.npy -m "$m" -o d.jpg
expect 0 "encode JPEG" "" -- "$G" encode d.jpg -m "$m" -o l3.npy
expect 0 "decode small model" "" -- "$G" decode zsmall.npy -m "$small" -o s.png
expect 1 "decode a float64 latent: names the dtype" "zf8.npy: .npy dtype is '<f8', expected float32" -- "$G" decode zf8.npy -m "$m" -o f8.png
[ ! -e f8.png ] && ok "no output for a float64 latent" || bad "f8.png written"
# runtime errors: exit 1, the file named, no output left behind
expect 1 "wrong-size image" "s.png" -- "$G" encode s.png -m "$m" -o wrong.npy
[ ! -e wrong.npy ] && [ ! -e wrong.npy.tmp ] && ok "no output after a failed encode" || bad "output left after a failure"
expect 1 "missing image" "nonexistent.png" -- "$G" encode nonexistent.png -m "$m" -o x.npy
echo "not an image" > notimage.png
expect 1 "not an image" "notimage.png" -- "$G" encode notimage.png -m "$m" -o x.npy
expect 1 "latent of the wrong length" "l1.npy" -- "$G" decode l1.npy -m "$small" -o x.png
echo "garbage" > bad.safetensors
expect 1 "malformed model" "bad.safetensors" -- "$G" model-info bad.safetensors
expect 1 "an image given as the model" "a.png: not a safetensors file" -- "$G" encode a.png -m a.png -o x.npy
head -c 200 "$m" > cut.safetensors
expect 1 "a model cut short" "cut.safetensors: cut short or corrupt" -- "$G" model-info cut.safetensors
mkdir -p adir
expect 1 "model is a folder" "adir" -- "$G" model-info adir
expect 1 "missing model" "nomodel.safetensors" -- "$G" encode a.png -m nomodel.safetensors -o x.npy
expect 1 "latent not .npy" "a.png" -- "$G" decode a.png -m "$m" -o x.png
expect 1 "unknown output type" "x.gif" -- "$G" decode l1.npy -m "$m" -o x.gif
[ ! -e x.npy ] && [ ! -e x.png ] && [ ! -e x.gif ] && ok "no outputs after the failures" || bad "outputs left after failures"
# usage errors: exit 2
expect 2 "encode without -m" "" -- "$G" encode a.png -o x.npy
expect 2 "encode without -o" "" -- "$G" encode a.png -m "$m"
expect 2 "encode unknown option" "--bogus" -- "$G" encode a.png -m "$m" -o x.npy --bogus
expect 2 "encode unknown backend" "nope" -- "$G" encode a.png -m "$m" -o x.npy --backend nope
expect 2 "encode two images" "" -- "$G" encode a.png b.png -m "$m" -o x.npy
expect 2 "decode without arguments" "" -- "$G" decode
expect 2 "model-info without a model" "" -- "$G" model-info
expect 0 "encode --help" "" -- "$G" encode --help
grep -q "usage: glowcam encode" out.txt && ok "encode --help prints usage" || bad "encode --help output"
expect 0 "decode --help" "" -- "$G" decode --help
expect 0 "model-info --help" "" -- "$G" model-info --help
echo "glow_cli: $fails failures"
[ $fails = 0 ]
