#!/usr/bin/env bash
# gpu_bench.sh: glowcam's Vulkan backend on one GPU machine, in one call, the most telling
# steps first, within a time budget (GPU_BENCH_BUDGET seconds, default 420; a step that no
# longer fits is skipped and says so):
#   1. every shader against its CPU twin (the fp32 kernels v1, v2 and conv3n.comp, the fp16
#      layouts, the cooperative matrix where offered);
#   2. the OpenAI configuration (6 levels, depth 32, width 512) at 256x256, the goal's size:
#      the default kernels (fp32 conv2.comp), with conv3n.comp for narrow 3x3, and fp16
#      cooperative matrices (conv_cm2.comp), profiled (timestamps: where the time goes
#      per op class and conv shape, GFLOP/s); then a larger batch (GPU_BENCH_BIG, 256:32);
#   3. PyTorch on CUDA (fp32 and TF32, same weights, same batches);
#   4. 64x64 and 128x128, glowcam then PyTorch;
#   5. whole models against the reference; the default kernels and fp16 against conv.comp;
#   6. tuning: conv3n.comp's split target, split-K's share; batch 1 (glowcam and PyTorch);
#      checks on the shipped trained models.
# What it measured lands in $OUT as it goes (gpu_bench.log, results.txt, ops.log, and
# runs.tgz: one log per glowcam run with its profile tables, model.log), so a run that is
# cut short still returns what it measured.
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
if [ $QUICK = 1 ]; then BUDGET=${GPU_BENCH_BUDGET:-100000}; else BUDGET=${GPU_BENCH_BUDGET:-420}; fi
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
# does a step that needs $1 seconds still fit? (else it says it is skipped)
have() { [ "$(left)" -ge "$1" ] && return 0; echo "   skipped: $2 (budget: $(left)s of ${BUDGET}s left)"; return 1; }
# a step's timeout: $1 seconds, cut to what is left of the budget
tmo() { local l; l=$(left); if [ "$l" -lt "$1" ]; then echo $(( l > 10 ? l : 10 )); else echo "$1"; fi; }

# ---- 1. every shader against its CPU twin ----
stamp "shader tests (fp32 v1 and v2, fp16 layouts v1 and v2, cooperative matrix v1 and v2 where offered)"
timeout "$(tmo 150)" "$BIN/test_glow_vk_ops" > "$TMP/ops.log" 2>&1; rc=$?
grep -E "Vulkan device|FAIL|coopmat:|PASS" "$TMP/ops.log" | head -30
awk '/max_rel=/ {split($0,a,"max_rel="); split(a[2],b," "); i=index($0," conv"); k=(i>0 && $0 ~ / conv[13]x[13]/)?substr($0,1,i-1):"other ops"; if (!(k in mx) || b[1]+0 > mx[k]) mx[k]=b[1]+0} END {for (k in mx) printf "  worst %-22s max_rel %.2e\n", k, mx[k]}' "$TMP/ops.log" | sort
[ $rc -eq 0 ] || { FAILED=1; echo "shader tests: FAILED (rc $rc)"; tail -20 "$TMP/ops.log"; }
cp "$TMP/ops.log" "$OUTDIR/" 2>/dev/null

# ---- the models: OpenAI configurations with random weights ----
if [ $QUICK = 1 ]; then
    SIZES="32 16"; MODEL_ARGS="--levels 2 --depth 2 --width 32"
    batch_main() { echo 4; }
else
    SIZES="256 64 128"; MODEL_ARGS="--levels 6 --depth 32 --width 512"
    batch_main() { case $1 in 64) echo 32;; 128) echo 16;; *) echo 8;; esac; }
fi
iters_for() { if [ $QUICK = 1 ] || [ "$1" = 256 ]; then echo 2; else echo 3; fi; }
# model SIZE: makes openai-SIZE on first use (so that the 256 runs start early)
model() {
    local f=$TMP/openai-$1.safetensors
    if [ ! -f "$f" ]; then
        stamp "making openai-$1 ($MODEL_ARGS, additive, 5 bits)" >&2
        "$PY" tools/make_random_model.py -o "$f" --size "$1" $MODEL_ARGS --coupling additive --n-bits 5 \
            --seed "$1" --name "openai-config-$1" >&2 || { echo "make_random_model failed" >&2; exit 1; }
        ls -la "$f" >&2
    fi
    echo "$f"
}

# ---- glowcam runs: one glow-bench process per size, batch and kernel variant ----
RES=$OUTDIR/results.txt
: > "$RES"
mkdir -p "$TMP/runs"
# variants (environment of glow-bench): v2 = the defaults (fp32 conv2.comp); v2n: with
# conv3n.comp for narrow 3x3 (GLOWCAM_VK_NARROW=1); v2s: narrow 3x3 as a 1x1 GEMM of the 9
# taps + shift3.comp (GLOWCAM_VK_NARROW=shift); v1: conv.comp; cm2: fp16 cooperative matrices
# with the defaults (conv_cm2.comp for cout > 64); cm2n, cm2s: and narrow as v2n, v2s; coopmat:
# conv_cm.comp alone; g264, g1056, g1: v2n with conv3n.comp's split target
# (GLOWCAM_VK_NARROW_GRID; 1: never split); *ns: without split-K (GLOWCAM_VK_SPLITK=0)
# run_glow SIZE BATCH VARIANT [--profile]: its whole log lands in runs.tgz
run_glow() {
    local S=$1 B=$2 V=$3 P=${4:-} mma=fp32 conv=v2 cm=v2 sk=1 nar=0 grid=528 log line
    case $V in
    v2) ;; v2n) nar=1;; v2s) nar=shift;; v1) conv=v1;; cm2) mma=coopmat;; cm2n) mma=coopmat nar=1;;
    cm2s) mma=coopmat nar=shift;; coopmat) mma=coopmat cm=v1;;
    g264) nar=1 grid=264;; g1056) nar=1 grid=1056;; g1) nar=1 grid=1;;
    v2ns) sk=0;; v1ns) conv=v1 sk=0;; cm2ns) mma=coopmat sk=0;;
    *) echo "run_glow: unknown variant $V"; return 1;;
    esac
    log=$TMP/runs/glow-$S-b$B-$V.log
    stamp "glowcam $S x $S, batch $B, $V${P:+ (profiled)}"
    GLOWCAM_VK_MMA=$mma GLOWCAM_VK_CONV=$conv GLOWCAM_VK_CM=$cm GLOWCAM_VK_SPLITK=$sk GLOWCAM_VK_NARROW=$nar \
        GLOWCAM_VK_NARROW_GRID=$grid timeout "$(tmo 100)" "$BIN/glow-bench" \
        -m "$(model "$S")" --backend vulkan --batch "$B" --iters "$(iters_for "$S")" --warmup 1 $P \
        > "$log" 2>&1
    grep -E "^engine:|^encode|^decode|error|^  (encode|decode):" "$log"
    if [ -n "$P" ]; then  # the per-class table and the slowest conv shapes
        sed -n '/^where the GPU time goes/,/^convolutions by shape/p' "$log" | grep -v '^convolutions by shape'
        grep -A9 '^convolutions by shape' "$log"
        grep '^profile ' "$log" | sed "s/^profile /profile size=$S batch=$B var=$V /" >> "$RES"
    fi
    line=$(grep '^result' "$log")
    [ -n "$line" ] && echo "glowcam size=$S var=$V $line" >> "$RES"
    tar czf "$OUTDIR/runs.tgz" -C "$TMP" runs 2>/dev/null  # (at most 8 files come back)
}
glow_runs() { # NEED_S SIZE BATCH [--profile] VARIANT...
    local need=$1 S=$2 B=$3 P="" V
    shift 3
    [ "${1:-}" = --profile ] && { P=--profile; shift; }
    model "$S" > /dev/null
    for V in "$@"; do
        have "$need" "glowcam $S batch $B $V" && run_glow "$S" "$B" "$V" $P
    done
}
# ---- 3. PyTorch on CUDA, fp32 (and TF32 at the larger batches), same weights and batches ----
# run_torch NEED_S SIZE:BATCH...: one python process over those runs, within the budget
run_torch() {
    local need=$1; shift
    have "$need" "PyTorch $*" || return 0
    timeout "$(tmo 300)" "$PY" - "$TMP" "$QUICK" "$RES" "$(( T0 + BUDGET - 10 ))" "$@" <<'EOF'
import sys, time
import numpy as np
import torch
sys.path.insert(0, "tools")
import glow_torch as gt
tmp, quick, res, deadline = sys.argv[1], sys.argv[2] == "1", sys.argv[3], float(sys.argv[4])
runs = {}  # size -> batches, in the order given ("256:8 64:32 ...")
for a in sys.argv[5:]:
    s, b = a.split(":")
    runs.setdefault(int(s), []).append(int(b))
dev = "cuda" if torch.cuda.is_available() else "cpu"
torch.backends.cudnn.allow_tf32 = False      # fp32 proper (PyTorch's default lets convolutions use TF32)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.benchmark = True
if dev == "cpu":
    torch.set_num_threads(2)
out = open(res, "a")
for s in runs:
    if time.time() > deadline - 25:
        print("   skipped: PyTorch %d (budget)" % s)
        continue
    m = gt.Glow.from_file("%s/openai-%d.safetensors" % (tmp, s)).to(dev).eval()
    rng = np.random.default_rng(1)
    for b in runs[s]:
        for tf32 in ([False] if quick or b == 1 else [False, True]):
            if time.time() > deadline - 10:
                print("   skipped: PyTorch %d batch %d (budget)" % (s, b))
                continue
            torch.backends.cudnn.allow_tf32 = tf32
            img = rng.integers(0, 256, size=(b, s, s, 3), dtype=np.uint8)
            u8 = torch.from_numpy(img).to(dev)
            with torch.no_grad():
                z, _ = m.encode(u8)                         # warm-up (cuDNN picks its algorithms)
                m.decode(z)
                if dev == "cuda":
                    torch.cuda.synchronize()
                it = 2 if quick or s == 256 else 3
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
            out.flush()
    del m
    if dev == "cuda":
        torch.cuda.empty_cache()
EOF
}

S1=${SIZES%% *}  # 256 (the goal's size), or the quick run's first
# the goal names no batch: a larger batch of the first size fills the GPU better (GPU_BENCH_BIG)
if [ $QUICK = 1 ]; then BIG=${GPU_BENCH_BIG:-32:8}; else BIG=${GPU_BENCH_BIG:-256:32}; fi
# ---- 2. the goal's size first: the defaults, the two narrow 3x3 paths, fp16; profiled ----
glow_runs "$([ "$S1" = 256 ] && echo 50 || echo 25)" "$S1" "$(batch_main "$S1")" --profile v2 v2n v2s cm2 cm2n cm2s
for SB in $BIG; do glow_runs 40 "${SB%%:*}" "${SB##*:}" v2 v2n v2s cm2 cm2s; done
# ---- 3. PyTorch on CUDA, same weights and batches ----
stamp "PyTorch on the same model(s), batches $(batch_main "$S1") and $BIG"
run_torch 40 "$S1:$(batch_main "$S1")" $BIG
# ---- 4. the other sizes, glowcam then PyTorch ----
runs=""
for S in $SIZES; do
    [ "$S" = "$S1" ] && continue
    glow_runs 25 "$S" "$(batch_main "$S")" --profile v2
    glow_runs 25 "$S" "$(batch_main "$S")" cm2 v2n
    runs="$runs $S:$(batch_main "$S")"
done
[ -n "$runs" ] && { stamp "PyTorch at$runs"; run_torch 30 $runs; }
# ---- 5. whole models against the reference; the default kernels against conv.comp ----
stamp "whole-model tests against the reference (the default kernels, v1, fp16, profile)"
if have 30 "whole-model tests"; then
    timeout "$(tmo 120)" "$BIN/test_glow_vk_model" "$TMP/models" > "$TMP/runs/model.log" 2>&1; rc=$?
    grep -E "latent max_rel|FAIL|PASS|Vulkan device|wall time" "$TMP/runs/model.log" | head -40
    [ $rc -eq 0 ] || { FAILED=1; echo "model tests: FAILED (rc $rc)"; tail -20 "$TMP/runs/model.log"; }
    tar czf "$OUTDIR/runs.tgz" -C "$TMP" runs 2>/dev/null
fi
S0=$(echo $SIZES | tr ' ' '\n' | sort -n | head -1)
stamp "the default kernels and fp16 against conv.comp on openai-$S0"
if have 30 "the openai-$S0 check"; then
    timeout "$(tmo 120)" "$BIN/test_glow_vk_model" --check "$(model "$S0")" 4 2>&1 | grep -vE "^\s*$" |
        tail -16 || echo "(the check reported failures: see above)"
fi
# ---- 6. tuning: conv3n.comp's split target, split-K's share; batch 1 ----
glow_runs "$([ "$S1" = 256 ] && echo 40 || echo 20)" "$S1" "$(batch_main "$S1")" g264 g1056 g1 v2ns
for S in $SIZES; do glow_runs "$([ "$S" = 256 ] && echo 30 || echo 20)" "$S" 1 v2 cm2; done
stamp "PyTorch at batch 1"
runs=""; for S in $SIZES; do runs="$runs $S:1"; done
run_torch 30 $runs
# fp16 and the default kernels against conv.comp on the shipped trained models
for M in models/glowcam-64.safetensors models/glowcam-128.safetensors; do
    [ -f "$M" ] && [ $QUICK = 0 ] || continue  # minutes on lavapipe
    stamp "fp16 and the default kernels against conv.comp on $M"
    have 40 "the $M check" &&
        { timeout "$(tmo 90)" "$BIN/test_glow_vk_model" --check "$M" 4 2>&1 | grep -E "max_rel|diff|PASS|FAIL" || true; }
done
# ---- 7. the shipped models' own speed, default kernels: batch 1 (the live filter), 8 (files) ----
for M in models/glowcam-64.safetensors models/glowcam-128.safetensors; do
    [ -f "$M" ] || continue
    for B in 1 8; do
        have 15 "$M batch $B" || continue
        [ $QUICK = 1 ] && [ "$B$M" != 1models/glowcam-64.safetensors ] && continue  # lavapipe: one
        log=$TMP/runs/shipped-$(basename "$M" .safetensors)-b$B.log
        stamp "$M, batch $B, default kernels"
        timeout "$(tmo 40)" "$BIN/glow-bench" -m "$M" --backend vulkan --batch "$B" \
            --iters "$([ $QUICK = 1 ] && echo 1 || echo 20)" --warmup 1 > "$log" 2>&1
        grep -E "^engine:|^encode|^decode|error" "$log"
        line=$(grep '^result' "$log")
        [ -n "$line" ] && echo "shipped model=$(basename "$M" .safetensors) $line" >> "$RES"
    done
done
tar czf "$OUTDIR/runs.tgz" -C "$TMP" runs 2>/dev/null

# ---- summary ----
stamp "summary (faces/s = encode+decode per second)"
"$PY" - "$RES" <<'EOF'
import re, sys
rows, prof, shipped = {}, {}, []
for line in open(sys.argv[1]):
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    if line.startswith("shipped "):
        shipped.append(kv)
        continue
    if line.startswith("profile "):
        if "class" in kv:
            prof.setdefault((int(kv["size"]), int(kv["batch"]), kv["var"]), []).append(kv)
        continue
    s, b = int(kv["size"]), int(kv["batch"])
    key = kv["var"] if line.startswith("glowcam") else line.split()[0]
    rows.setdefault((s, b), {})[key] = float(kv["faces_per_s"])
order = ["v2", "v2n", "v2s", "v1", "cm2", "cm2n", "cm2s", "coopmat", "g264", "g1056", "g1", "v2ns", "cm2ns", "v1ns"]
cols = [c for c in order if any(c in r for r in rows.values())] + ["torch", "torch_tf32"]
print("%5s %5s " % ("size", "batch") + "".join("%11s" % c for c in cols) + "%9s %9s" % ("v2/pt", "best/pt"))
best256 = ratio256 = 0
for (s, b) in sorted(rows):
    r = rows[(s, b)]
    t = r.get("torch", 0)
    g = [r[c] for c in cols[:-2] if c in r]
    best = max(g) if g else 0
    print("%5d %5d " % (s, b) + "".join("%11s" % ("%.2f" % r[c] if c in r else "-") for c in cols) +
          "%9s %9s" % ("%.2f" % (r["v2"] / t) if t and "v2" in r else "-", "%.2f" % (best / t) if t and best else "-"))
    if s == 256 and best > best256:
        best256, ratio256 = best, best / t if t else 0
    for a, n, what in (("v2n", "v2", "conv3n.comp for narrow 3x3"), ("cm2n", "cm2", "conv3n.comp (fp16)"),
                       ("v2s", "v2", "narrow 3x3 as 1x1 GEMM + shift"), ("cm2s", "cm2", "1x1 GEMM + shift (fp16)"),
                       ("v2", "v2ns", "split-K"), ("cm2", "cm2ns", "split-K (fp16)"), ("v2", "v1", "fp32 v2 over v1"),
                       ("cm2", "coopmat", "fp16 cm2 over cm v1")):
        if a in r and n in r:
            print("  %d batch %d: %s: %.2f faces/s with, %.2f without (%.2fx)" % (s, b, what, r[a], r[n], r[a] / r[n]))
for kv in shipped:
    print("shipped %s batch %s: encode %s ms + decode %s ms per face, %s faces/s" %
          (kv["model"], kv["batch"], kv["encode_ms"], kv["decode_ms"], kv["faces_per_s"]))
if best256:
    print("256x256: best %.1f faces/s (goal >= 100), %.2fx PyTorch fp32 at that batch (goal >= 2)" % (best256, ratio256))
if prof:
    print("\nGPU time per encode call by op class, ms | GFLOP/s (profiled runs; tables in runs.tgz):")
    names = [k["class"] for k in next(iter(prof.values()))]
    print("%5s %5s %-6s" % ("size", "batch", "var") + "".join("%15s" % n for n in names))
    for (s, b, v) in sorted(prof):
        d = {k["class"]: k for k in prof[(s, b, v)]}
        print("%5d %5d %-6s" % (s, b, v) + "".join("%15s" % ("%.2f|%.3g" % (float(d[n]["encode_ms"]), float(d[n]["gflops"])))
                                                   if n in d else "-" for n in names))
EOF
stamp "done (correctness: $([ $FAILED = 0 ] && echo passed || echo FAILED)); budget ${BUDGET}s"
rm -rf "$TMP"
exit $FAILED
