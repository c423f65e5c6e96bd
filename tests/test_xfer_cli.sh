#!/usr/bin/env bash
# The xfer commands end to end on a random model: identity build/info/show, the
# model check, sweep, attribute build + edit, eval (a video against itself must
# score a fidelity error of exactly 0 and a gain of 1), and bad input (exit codes,
# messages naming the file, no output left behind).
# usage: test_xfer_cli.sh GLOWCAM MODEL OTHER_MODEL DATA_DIR TMPDIR
set -uo pipefail
G=$1 M=$2 O=$3 DATA=$4 T=$5
ID=$DATA/identities
rm -rf "$T" && mkdir -p "$T"
fails=0
check() { # check DESCRIPTION CONDITION...
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
run() { # run NAME CMD...: stdout+stderr to $T/NAME.log, exit code to $T/NAME.rc
  local name=$1; shift
  "$@" >"$T/$name.log" 2>&1; echo $? >"$T/$name.rc"
  sed 's/^/    /' "$T/$name.log" | head -12
}
rc() { cat "$T/$1.rc"; }
has() { grep -q -- "$2" "$T/$1.log"; }

run build "$G" identity build "$ID/selena" -m "$M" -o "$T/selena.safetensors" --name selena
check "identity build: exit 0, 18 faces" [ "$(rc build)" = 0 ]
check "identity build: says 18 faces averaged" has build "18 faces averaged"
run build2 "$G" identity build "$ID/emma/emma1_aligned.png" "$ID/emma/emma2_aligned.png" -m "$M" -o "$T/emma.safetensors"
check "identity build from files: exit 0, name from the file" [ "$(rc build2)" = 0 ]
run info "$G" identity info "$T/emma.safetensors" -m "$M"
check "identity info: name and count" bash -c "grep -q 'name: *emma' '$T/info.log' && grep -q 'count: *2' '$T/info.log'"
run other "$G" identity info "$T/selena.safetensors" -m "$O"
check "identity with another model: exit 1" [ "$(rc other)" = 1 ]
check "identity with another model: names the identity and the model" bash -c "grep -q -- '$T/selena.safetensors' '$T/other.log' && grep -q -- '$O' '$T/other.log'"
run show "$G" identity show "$T/selena.safetensors" -m "$M" -o "$T/mean.png"
check "identity show: writes the mean face" [ "$(rc show)" = 0 -a -s "$T/mean.png" ]
run sweep "$G" sweep "$ID/expressions/selena_expression3_aligned.png" -m "$M" --source "$T/selena.safetensors" \
    --target "$T/emma.safetensors" --alphas 0:1:0.25 --cell 32 -o "$T/sweep.png"
check "sweep: 5 alphas, sheet written" bash -c "[ \$(cat '$T/sweep.rc') = 0 ] && [ -s '$T/sweep.png' ] && grep -q '5 alphas' '$T/sweep.log'"
mkdir -p "$T/pos" "$T/neg"
cp "$ID/expressions/selena_expression1_aligned.png" "$ID/expressions/selena_expression3_aligned.png" "$T/pos/"
cp "$ID/selena/selena15_aligned.png" "$ID/selena/selena16_aligned.png" "$T/neg/"
run attr "$G" attribute build --pos "$T/pos" --neg "$T/neg" -m "$M" -o "$T/smile.safetensors"
check "attribute build: exit 0, 2 and 2 faces" bash -c "[ \$(cat '$T/attr.rc') = 0 ] && grep -q '2 positive, 2 negative' '$T/attr.log'"
run edit "$G" edit "$ID/obama/obama1_aligned.png" --attribute "$T/smile.safetensors" --alpha 1 -m "$M" -o "$T/edit.png"
check "edit: one face edited and pasted back" bash -c "[ \$(cat '$T/edit.rc') = 0 ] && [ -s '$T/edit.png' ] && grep -q '1 face' '$T/edit.log'"
run eval "$G" eval "$DATA/videos/lp_d11.mp4" "$DATA/videos/lp_d11.mp4" --max-frames 8
check "eval of a video against itself: fidelity error 0, gain 1" bash -c "grep -q 'expression_fidelity_error=0.0000' '$T/eval.log' && grep -q 'expression_gain=1.000' '$T/eval.log'"
# -m left out: the shipped model is found from any directory ($GLOWCAM_MODELS here, so the
# random model stands in for it), not looked up relative to the working directory
mkdir -p "$T/models_env" "$T/elsewhere" && ln -sf "$(realpath "$M")" "$T/models_env/glowcam-64.safetensors"
run default env -C "$T/elsewhere" GLOWCAM_MODELS="$T/models_env" "$G" identity show "$T/selena.safetensors" -o mean2.png
check "identity show without -m, from another directory: the default model found" [ "$(rc default)" = 0 -a -s "$T/elsewhere/mean2.png" ]

# bad input
run missing "$G" identity build "$T/nothing_here" -m "$M" -o "$T/x.safetensors"
check "missing input: exit 1, names it, no output" bash -c "[ \$(cat '$T/missing.rc') = 1 ] && grep -q nothing_here '$T/missing.log' && [ ! -e '$T/x.safetensors' ]"
head -c 3000 /dev/zero | tr '\0' 'x' >"$T/garbage.png"
run garbage "$G" identity build "$T/garbage.png" -m "$M" -o "$T/x.safetensors"
check "not an image: exit 1, names it, no output" bash -c "[ \$(cat '$T/garbage.rc') = 1 ] && grep -q garbage.png '$T/garbage.log' && [ ! -e '$T/x.safetensors' ]"
{ printf 'P6\n64 64\n255\n'; head -c 12288 /dev/zero | tr '\0' '\200'; } >"$T/grey.ppm"
run noface "$G" identity build "$T/grey.ppm" "$T/grey.ppm" -m "$M" -o "$T/x.safetensors"
check "no face at all: exit 1, no output" bash -c "[ \$(cat '$T/noface.rc') = 1 ] && grep -q 'no face' '$T/noface.log' && [ ! -e '$T/x.safetensors' ]"
printf 'not safetensors' >"$T/bad.safetensors"
run badid "$G" identity info "$T/bad.safetensors"
check "corrupt identity file: exit 1, names it" bash -c "[ \$(cat '$T/badid.rc') = 1 ] && grep -q bad.safetensors '$T/badid.log'"
run badattr "$G" edit "$ID/obama/obama1_aligned.png" --attribute "$T/selena.safetensors" -m "$M" -o "$T/y.png"
check "an identity given as attribute: exit 1, no output" bash -c "[ \$(cat '$T/badattr.rc') = 1 ] && [ ! -e '$T/y.png' ]"
cp "$ID/obama/obama1_aligned.png" "$T/self.png" && cp "$T/self.png" "$T/self0.png"
run self "$G" edit "$T/self.png" --attribute "$T/smile.safetensors" -m "$M" -o "$T/./self.png"
check "edit onto its own input: exit 2, the image unchanged" bash -c "[ \$(cat '$T/self.rc') = 2 ] && grep -q 'replace the image' '$T/self.log' && cmp -s '$T/self.png' '$T/self0.png'"
run usage "$G" sweep "$ID/obama/obama1_aligned.png" --alphas 1:0:0.1 --source a --target b -o "$T/z.png"
check "bad alphas: usage error 2" [ "$(rc usage)" = 2 ]
run usage2 "$G" identity build -m "$M"
check "no inputs: usage error 2" [ "$(rc usage2)" = 2 ]

echo "$fails failures"
[ $fails = 0 ]
