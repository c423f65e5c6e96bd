#!/usr/bin/env bash
# gpu_bench.sh: glowcam's Vulkan backend on one GPU machine, in one call: correctness
# (every shader and whole models against the CPU reference, fp16/cooperative-matrix
# against fp32 on an OpenAI-size model), then speed against PyTorch on CUDA (fp32, same
# weights, same batch) for the OpenAI configurations (6 levels, depth 32, width 512)
# at 64x64, 128x128 and 256x256.
#
#   tools/gpu_bench.sh --prepare   here: builds .gpu/ (glow-bench and the two Vulkan test
#                                  programs, glow module only, + libcjson) to carry there
#   tools/gpu_bench.sh --quick     tiny models, same steps (a dry run on lavapipe and CPU torch)
#   tools/gpu_bench.sh             the real run (on the GPU machine)
#
# On the GPU machine (no compiler use, nothing installed; the Vulkan loader comes from .gl,
# see the README's GPU section), from the repository root:
#   for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; tools/gpu_bench.sh
# with .gl and .gpu carried. The log goes to $OUT/gpu_bench.log (or /tmp/gpu_bench/).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=$ROOT/.gpu
QUICK=0

if [ "${1:-}" = "--prepare" ]; then
    set -e
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
    cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DGLOWCAM_GLOW_ONLY=ON -DGLOWCAM_WITH_BLAS=OFF >/dev/null
    cmake --build build-gpu -j"$(nproc)" --target glow-bench test_glow_vk_ops test_glow_vk_model
    mkdir -p "$BIN"
    for t in glow-bench test_glow_vk_ops test_glow_vk_model; do
        cp "$(find build-gpu -type f -name "$t" -perm -u+x | head -1)" "$BIN/"
    done
    # cJSON has no static library in Debian: it travels beside the binaries
    lib=$(ldd "$BIN/glow-bench" | awk '/libcjson/ {print $3}')
    [ -n "$lib" ] && cp -L "$lib" "$BIN/"
    ls -la "$BIN"
    echo "prepared: carry .gl and .gpu"
    exit 0
fi
[ "${1:-}" = "--quick" ] && QUICK=1

OUTDIR=${OUT:-/tmp/gpu_bench}
mkdir -p "$OUTDIR"
LOG=$OUTDIR/gpu_bench.log
exec > >(tee "$LOG") 2>&1
T0=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - T0 ))s] $*"; }

# ---- the Vulkan loader and the NVIDIA driver's ICD ----
if ! ldconfig -p | grep -q 'libvulkan.so.1'; then
    if ls .gl/*.deb >/dev/null 2>&1; then
        for f in .gl/*.deb; do dpkg -x "$f" /; done
        ldconfig
    fi
fi
if ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1 &&
    [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    export VK_ICD_FILENAMES=$VK_DRIVER_FILES
fi
export LD_LIBRARY_PATH=$BIN${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PYTHONUNBUFFERED=1
# the python3 that has numpy and torch (Debian's /usr/bin/python3 here; the image's python3 there)
PY=${PYTHON:-python3}
if ! "$PY" -c 'import numpy, torch' 2>/dev/null && /usr/bin/python3 -c 'import numpy, torch' 2>/dev/null; then
    PY=/usr/bin/python3
fi
if [ ! -x "$BIN/glow-bench" ]; then
    echo "gpu_bench: $BIN/glow-bench missing: run tools/gpu_bench.sh --prepare on the build machine and carry .gpu"
    exit 1
fi
if ldd "$BIN/glow-bench" | grep -q 'not found'; then
    echo "gpu_bench: glow-bench misses libraries:"; ldd "$BIN/glow-bench"; exit 1
fi
stamp "machine"
nvidia-smi -L 2>/dev/null || echo "(no nvidia-smi)"
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' 2>&1 | tail -1

TMP=$(mktemp -d /tmp/gpu_bench.XXXXXX)
FAILED=0

# ---- correctness: shaders and tiny models against the CPU reference ----
stamp "shader tests (fp32, fp16 layout, cooperative matrix where offered)"
timeout 240 "$BIN/test_glow_vk_ops" > "$TMP/ops.log" 2>&1; rc=$?
grep -E "Vulkan device|FAIL|coopmat|PASS" "$TMP/ops.log" | head -40
awk '/max_rel=/ {split($0,a,"max_rel="); split(a[2],b," "); k=($1=="fp32"||$1=="fp16"||$1=="coopmat")?$1" conv":"other ops"; if (!(k in mx) || b[1]+0 > mx[k]) mx[k]=b[1]+0} END {for (k in mx) printf "  worst %-12s max_rel %.2e\n", k, mx[k]}' "$TMP/ops.log"
[ $rc -eq 0 ] || { FAILED=1; echo "shader tests: FAILED (rc $rc)"; tail -20 "$TMP/ops.log"; }
stamp "whole-model tests against the reference"
timeout 240 "$BIN/test_glow_vk_model" "$TMP/models" > "$TMP/model.log" 2>&1; rc=$?
grep -E "latent max_rel|FAIL|PASS|Vulkan device" "$TMP/model.log" | head -40
[ $rc -eq 0 ] || { FAILED=1; echo "model tests: FAILED (rc $rc)"; tail -20 "$TMP/model.log"; }

# ---- the models: OpenAI configurations with random weights ----
if [ $QUICK = 1 ]; then
    SIZES="16 32"; MODEL_ARGS="--levels 2 --depth 2 --width 32"
    batches() { echo "1 4"; }
else
    SIZES="64 128 256"; MODEL_ARGS="--levels 6 --depth 32 --width 512"
    batches() { case $1 in 64) echo "1 8 32";; 128) echo "1 8 16";; *) echo "1 4 8";; esac; }
fi
stamp "making models ($MODEL_ARGS, additive, 5 bits)"
for S in $SIZES; do
    "$PY" tools/make_random_model.py -o "$TMP/openai-$S.safetensors" --size "$S" $MODEL_ARGS \
        --coupling additive --n-bits 5 --seed "$S" --name "openai-config-$S" || { echo "make_random_model failed"; exit 1; }
done
ls -la "$TMP"/openai-*.safetensors

# ---- fp16 / cooperative matrix against fp32 on the smallest OpenAI-size model ----
S0=${SIZES%% *}
stamp "fp16 path against fp32 on openai-$S0"
timeout 180 "$BIN/test_glow_vk_model" --check "$TMP/openai-$S0.safetensors" 4 2>&1 | grep -vE "^\s*$" | tail -12 ||
    echo "(fp16 check reported failures: see above)"

# ---- and on the shipped trained models (trained weights, not random ones) ----
for M in models/glowcam-64.safetensors models/glowcam-128.safetensors; do
    [ -f "$M" ] && [ $QUICK = 0 ] || continue  # minutes on lavapipe
    stamp "fp16 path against fp32 on $M"
    timeout 120 "$BIN/test_glow_vk_model" --check "$M" 4 2>&1 | grep -E "max_rel|diff|round trip|PASS|FAIL" || true
done

# ---- glowcam speed ----
RES=$OUTDIR/results.txt
: > "$RES"
for S in $SIZES; do
    for MMA in fp32 coopmat; do
        for B in $(batches "$S"); do
            if [ $QUICK = 1 ]; then it=2; else it=$(( S == 256 ? 3 : 5 )); fi
            stamp "glowcam $S x $S, $MMA, batch $B"
            GLOWCAM_VK_MMA=$MMA timeout 150 "$BIN/glow-bench" -m "$TMP/openai-$S.safetensors" --backend vulkan \
                --batch "$B" --iters "$it" --warmup 1 > "$TMP/b.log" 2>&1
            grep -E "^engine:|^encode|^decode|^result|error" "$TMP/b.log"
            line=$(grep '^result' "$TMP/b.log")
            [ -n "$line" ] && echo "glowcam size=$S mma=$MMA $line" >> "$RES"
        done
    done
done

# ---- PyTorch on CUDA, fp32, same weights and batches ----
stamp "PyTorch fp32 on the same models"
"$PY" - "$TMP" "$QUICK" "$RES" $SIZES <<'EOF'
import sys, time
import numpy as np
import torch
sys.path.insert(0, "tools")
import glow_torch as gt
tmp, quick, res, sizes = sys.argv[1], sys.argv[2] == "1", sys.argv[3], [int(s) for s in sys.argv[4:]]
dev = "cuda" if torch.cuda.is_available() else "cpu"
torch.backends.cudnn.allow_tf32 = False      # fp32 proper (PyTorch's default lets convolutions use TF32)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.benchmark = True
if dev == "cpu":
    torch.set_num_threads(2)
def batches(s):
    return [1, 4] if quick else {64: [1, 8, 32], 128: [1, 8, 16]}.get(s, [1, 4, 8])
out = open(res, "a")
for s in sizes:
    m = gt.Glow.from_file("%s/openai-%d.safetensors" % (tmp, s)).to(dev).eval()
    rng = np.random.default_rng(1)
    for b in batches(s):
        for tf32 in ([False] if quick or b != batches(s)[-1] else [False, True]):
            torch.backends.cudnn.allow_tf32 = tf32
            img = rng.integers(0, 256, size=(b, s, s, 3), dtype=np.uint8)
            u8 = torch.from_numpy(img).to(dev)
            with torch.no_grad():
                z, _ = m.encode(u8)                         # warm-up (cuDNN picks its algorithms)
                m.decode(z)
                if dev == "cuda":
                    torch.cuda.synchronize()
                it = 2 if quick else (3 if s == 256 else 5)
                t0 = time.time()
                for _ in range(it):
                    z, _ = m.encode(u8)
                if dev == "cuda":
                    torch.cuda.synchronize()
                enc = (time.time() - t0) / it
                t0 = time.time()
                for _ in range(it):
                    back = m.decode(z)
                if dev == "cuda":
                    torch.cuda.synchronize()
                dec = (time.time() - t0) / it
            q = (img >> 3) << 3
            mism = int((back.cpu().numpy() != q).sum())
            tag = "torch_tf32" if tf32 else "torch"
            line = "%s size=%d batch=%d encode_ms=%.4f decode_ms=%.4f faces_per_s=%.2f mismatches=%d device=%s" % (
                tag, s, b, enc / b * 1e3, dec / b * 1e3, b / (enc + dec), mism, dev)
            print(line, flush=True)
            out.write(line + "\n")
    del m
    if dev == "cuda":
        torch.cuda.empty_cache()
EOF

# ---- summary ----
stamp "summary (faces/s = encode+decode per second)"
"$PY" - "$RES" <<'EOF'
import re, sys
rows = {}
for line in open(sys.argv[1]):
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    s, b = int(kv["size"]), int(kv["batch"])
    key = line.split()[0] + ("/" + kv["mma"] if "mma" in kv else "")
    rows.setdefault((s, b), {})[key] = float(kv["faces_per_s"])
print("%5s %5s %14s %14s %12s %12s %10s %10s" % ("size", "batch", "glowcam fp32", "glowcam fp16", "torch fp32",
                                                  "torch tf32", "fp32/torch", "best/torch"))
best256 = ratio256 = 0
for (s, b) in sorted(rows):
    r = rows[(s, b)]
    g32, g16, t, t32 = r.get("glowcam/fp32", 0), r.get("glowcam/coopmat", 0), r.get("torch", 0), r.get("torch_tf32", 0)
    best = max(g32, g16)
    print("%5d %5d %14.2f %14.2f %12.2f %12s %10s %10s" % (s, b, g32, g16, t, "%.2f" % t32 if t32 else "-",
          "%.2f" % (g32 / t) if t else "-", "%.2f" % (best / t) if t else "-"))
    if s == 256 and best > best256:
        best256, ratio256 = best, best / t if t else 0
if best256:
    print("256x256: best %.1f faces/s (goal >= 100), %.2fx PyTorch fp32 at that batch (goal >= 2)" % (best256, ratio256))
EOF
stamp "done (correctness: $([ $FAILED = 0 ] && echo passed || echo FAILED))"
cp "$TMP"/*.log "$OUTDIR/" 2>/dev/null
rm -rf "$TMP"
exit $FAILED
