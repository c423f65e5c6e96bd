#!/usr/bin/env bash
# The fast kernels keep their per-invocation arrays (accumulators, prefetch registers) in
# registers: glslc leaves a loop over such an array rolled when its trip count is not a
# compile-time constant (a specialization constant, an early exit, an inner loop of varying
# count), the array then stays a Function-storage variable with dynamic indices, and GPU
# drivers put it in memory for the whole kernel. Measured on an H100: conv3n.comp with one
# such loop in its epilogue ran 4.6x slower than conv2.comp instead of faster.
# This compiles each kernel as the build does (glslc -O) to SPIR-V assembly and fails on any
# OpVariable of array type in Function storage. It first checks that it does find one in
# conv.comp (v1), which has them, so that the check itself can fail.
#   usage: spirv_registers.sh GLSLC SHADER_DIR 'name|source|flags' ...
set -uo pipefail
glslc=$1 dir=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
arrays() { # source flags -> count of Function-storage arrays
    # shellcheck disable=SC2086
    "$glslc" -S -fshader-stage=compute --target-env=vulkan1.2 -O $2 -o "$tmp/k.spvasm" "$dir/$1" || return 2
    grep -cE 'OpVariable %_ptr_Function__arr' "$tmp/k.spvasm"
}
n=$(arrays conv.comp "")
if [ "${n:-0}" -lt 1 ]; then
    echo "FAIL: the check finds no Function-storage array in conv.comp, which has them: it cannot fail"
    exit 1
fi
echo "self-check: conv.comp (v1, not a default kernel) has $n Function-storage array(s): found"
fail=0
for e in "$@"; do
    IFS='|' read -r name src flags <<<"$e"
    n=$(arrays "$src" "$flags")
    if [ "$n" != 0 ]; then
        echo "FAIL: $name ($src $flags): $n array(s) in Function storage (a rolled loop over them?)"
        fail=1
    else
        echo "ok: $name ($src $flags): its arrays live in registers"
    fi
done
exit $fail
