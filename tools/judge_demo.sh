#!/bin/bash
# The demo judged (models/README.md): the independent face judge's recognition distances of
# the converted demo's frames to the default target's portrait and to the source frame each
# came from (< 0.6 = same person), every 5th frame. Uses only the project's own public-domain
# demo material (samples/make_demo.sh); writes nothing but a scratch folder.
#
#   tools/judge_demo.sh [JUDGE_DIR] [OUTPUT] [INPUT] [TARGET_PHOTO]
#   defaults: /tmp/judge samples/demo-out.mp4 samples/demo.mp4 samples/cache/portraits/astronaut.png
#
# JUDGE_DIR: a copy of ../shared/tools/judge with `npm ci` run in it. Make the output first
# (scripts/demo.sh, or glowcam convert with other options to compare).
set -euo pipefail
cd "$(dirname "$0")/.."
JUDGE=${1:-/tmp/judge}
OUT=${2:-samples/demo-out.mp4}
IN=${3:-samples/demo.mp4}
PHOTO=${4:-samples/cache/portraits/astronaut.png}
EVERY=${EVERY:-5}
for f in "$OUT" "$IN" "$PHOTO"; do
    [ -s "$f" ] || { echo "judge_demo: $f is missing (run scripts/demo.sh first)" >&2; exit 1; }
done
[ -f "$JUDGE/judge.mjs" ] && [ -d "$JUDGE/node_modules" ] ||
    { echo "judge_demo: $JUDGE is not a judge copy with node_modules (cp -r ../shared/tools/judge; npm ci)" >&2; exit 1; }
J=$(cd "$JUDGE" && pwd)/judge.mjs
W=$(mktemp -d /tmp/judge_demo.XXXXXX)
trap 'rm -rf "$W"' EXIT
PY=python3
$PY -c 'import numpy' 2>/dev/null || PY=/usr/bin/python3

node "$J" describe --no-landmarks --quiet "$PHOTO" >"$W/target.jsonl"
node "$J" video "$IN" --every "$EVERY" --descriptors --no-landmarks --quiet >"$W/src.jsonl"
node "$J" video "$OUT" --every "$EVERY" --descriptors --no-landmarks --quiet >"$W/out.jsonl"

$PY - "$W" "$OUT" "$PHOTO" <<'EOF'
import json, sys, numpy as np
W, out, photo = sys.argv[1:4]
jl = lambda p: [json.loads(l) for l in open(p) if l.strip()]
t = jl(W + "/target.jsonl")[0]
if not t.get("face"):
    sys.exit("judge_demo: no face in " + photo)
tgt = np.array(t["descriptor"])
src = {d["frame"]: d for d in jl(W + "/src.jsonl") if d.get("face")}
n, nf, dt, rt, rs = 0, 0, [], 0, 0
for d in jl(W + "/out.jsonl"):
    s = src.get(d["frame"])
    if not s:
        continue  # no face in the source frame: nothing was transferred
    n += 1
    if not d.get("face"):
        nf += 1
        continue
    e = np.array(d["descriptor"])
    dt.append(float(np.linalg.norm(e - tgt)))
    rt += dt[-1] < 0.6
    rs += float(np.linalg.norm(e - np.array(s["descriptor"]))) < 0.6
if not n:
    sys.exit("judge_demo: no face in the judged source frames")
print(f"{out}: {n} frames judged; mean distance to {photo} {np.mean(dt):.3f}; "
      f"recognised as the target {rt / n:.0%}, as the source {rs / n:.0%}, no face {nf / n:.0%}")
EOF
