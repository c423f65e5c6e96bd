#!/bin/bash
# Detail above the model's resolution (issue 8): converts a few clips with each --detail
# choice and measures (1) detail: variance of the Laplacian of the luminance over the inner
# face box of the output frames, relative to the same on the source frames, and (2)
# identity: the independent judge's face-recognition distances of the output frames to the
# target's photos and to the source frame they came from (< 0.6 = same person).
# Everything it writes goes to a scratch folder: no image derived from ../shared/data is
# kept in the repository.
#
#   tools/detail_study.sh [GLOWCAM] [JUDGE_DIR] [PERSON] [FRAMES] [CLIPS...]
#   e.g. tools/detail_study.sh build-detail-rel/src/cli/glowcam /tmp/judge emma 100 lp_d3 lp_d11
#   (the defaults: the six choices and five clips of the table in docs/pipeline.md)
#
# JUDGE_DIR: a copy of ../shared/tools/judge with `npm ci` run in it.
set -euo pipefail
cd "$(dirname "$0")/.."
GC=${1:-build-detail-rel/src/cli/glowcam}
JUDGE=${2:-/tmp/judge}
PERSON=${3:-emma}
FRAMES=${4:-100}
shift $(($# < 4 ? $# : 4))
CLIPS=("$@")
[ ${#CLIPS[@]} -gt 0 ] || CLIPS=(lp_d3 lp_d11 lp_d0 lp_d6 lp_d9)
DATA=${GLOWCAM_DATA:-../shared/data}
MODEL=${MODEL:-models/glowcam-64.safetensors}
EVERY=${EVERY:-5}
# choice name : --detail : --detail-gain
CHOICES=${CHOICES:-"none:none:1 full:full:1 narrow:narrow:1 narrow-0.75:narrow:0.75 narrow-0.5:narrow:0.5 full-0.5:full:0.5"}
# DETAIL_PHOTOS=PATH: the photos of --detail target (default: the person's, as the identity)
# WORK=DIR keeps the converted clips and the judge's answers there (and reuses them)
if [ -n "${WORK:-}" ]; then
    W=$WORK
    mkdir -p "$W"
else
    W=$(mktemp -d /tmp/detail_study.XXXXXX)
    trap 'rm -rf "$W"' EXIT
fi
PY=python3
$PY -c 'import numpy' 2>/dev/null || PY=/usr/bin/python3

[ -x "$GC" ] || { echo "detail_study: no glowcam at $GC (build it first)" >&2; exit 1; }
[ -f "$JUDGE/judge.mjs" ] && [ -d "$JUDGE/node_modules" ] ||
    { echo "detail_study: $JUDGE is not a judge copy with node_modules (cp -r ../shared/tools/judge; npm ci)" >&2; exit 1; }
J=$(cd "$JUDGE" && pwd)/judge.mjs

"$GC" identity build "$DATA/identities/$PERSON" -m "$MODEL" -o "$W/target.safetensors" >/dev/null 2>&1
node "$J" describe --no-landmarks --quiet "$DATA/identities/$PERSON"/* >"$W/target.jsonl"

for clip in "${CLIPS[@]}"; do
    in="$DATA/videos/$clip.mp4"
    # the source, cut the same way as the outputs (the judge samples frames by index)
    [ -s "$W/$clip.src.jsonl" ] || node "$J" video "$in" --every "$EVERY" --max-frames $((FRAMES / EVERY)) --descriptors --no-landmarks --quiet \
        >"$W/$clip.src.jsonl"
    for c in $CHOICES; do
        IFS=: read -r name det gain <<<"$c"
        out="$W/$clip.$name.mp4"
        [ -s "$W/$clip.$name.jsonl" ] && continue
        photos=()  # --detail target: the detail of the target's own photos (those of its identity)
        [ "$det" = target ] && photos=(--detail-photos "${DETAIL_PHOTOS:-$DATA/identities/$PERSON}")
        "$GC" convert "$in" -o "$out" -t "$W/target.safetensors" -m "$MODEL" --frames "$FRAMES" \
            --detail "$det" --detail-gain "$gain" "${photos[@]}" --stats -q 2>"$W/$clip.$name.log"
        node "$J" video "$out" --every "$EVERY" --max-frames $((FRAMES / EVERY)) --descriptors --no-landmarks \
            --quiet >"$W/$clip.$name.jsonl"
    done
done

$PY - "$W" "$EVERY" "$FRAMES" "$DATA" "$CHOICES" "${CLIPS[@]}" <<'EOF'
import json, subprocess, sys, numpy as np
W, every, frames, data, choices, clips = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5].split(), sys.argv[6:]

def jl(p):
    return [json.loads(l) for l in open(p) if l.strip()]

tgt = [np.array(d["descriptor"]) for d in jl(W + "/target.jsonl") if d.get("face")]

def gray_frames(path, n):
    # luminance planes of the first n frames (ffmpeg's gray: BT.601 luma)
    pr = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-frames:v", str(n), "-f", "rawvideo",
                         "-pix_fmt", "gray", "-"], capture_output=True, check=True)
    pr2 = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height", "-of", "csv=p=0", path], capture_output=True, text=True, check=True)
    w, h = map(int, pr2.stdout.strip().split(",")[:2])
    a = np.frombuffer(pr.stdout, np.uint8)
    return a[: a.size // (w * h) * w * h].reshape(-1, h, w).astype(np.float64)

def lapvar(img, box):
    x, y, w, h = box
    # the inner 60% of the judge's face box: inside the pasted mask
    x0, y0, x1, y1 = int(x + 0.2 * w), int(y + 0.2 * h), int(x + 0.8 * w), int(y + 0.8 * h)
    r = img[max(y0 - 1, 0):y1 + 1, max(x0 - 1, 0):x1 + 1]
    lap = r[:-2, 1:-1] + r[2:, 1:-1] + r[1:-1, :-2] + r[1:-1, 2:] - 4 * r[1:-1, 1:-1]
    return lap.var()

rows = {}
for clip in clips:
    src = {d["frame"]: d for d in jl(f"{W}/{clip}.src.jsonl") if d.get("face")}
    sg = gray_frames(f"{data}/videos/{clip}.mp4", frames)
    for c in ["source"] + [c.split(":")[0] for c in choices]:
        r = rows.setdefault(c, {"ls": 0.0, "lo": 0.0, "n": 0, "dt": [], "ds": [], "t": 0, "s": 0, "nf": 0, "ms": []})
        if c == "source":
            og, od = sg, src
        else:
            og = gray_frames(f"{W}/{clip}.{c}.mp4", frames)
            od = {d["frame"]: d for d in jl(f"{W}/{clip}.{c}.jsonl")}
            for l in open(f"{W}/{clip}.{c}.log"):
                if l.split()[:1] == ["composite"]:
                    r["ms"].append(float(l.split()[2]))  # CPU ms/frame
        for f, s in src.items():
            if f >= len(og) or f >= len(sg):
                continue
            r["ls"] += lapvar(sg[f], s["box"])
            r["lo"] += lapvar(og[f], s["box"])
            r["n"] += 1
            d = od.get(f)
            if not d or not d.get("face"):
                r["nf"] += 1  # no face found: counts as neither
                continue
            e = np.array(d["descriptor"])
            dt = float(np.mean([np.linalg.norm(e - t) for t in tgt]))
            ds = float(np.linalg.norm(e - np.array(s["descriptor"])))
            r["dt"].append(dt)
            r["ds"].append(ds)
            r["t"] += dt < 0.6
            r["s"] += ds < 0.6

print(f"clips {' '.join(clips)}, first {frames} frames, every {every}th judged; target {len(tgt)} photos")
print("| choice | detail (Laplacian var, output/source) | mean dist to target photos | recognised as target | mean dist to source frame | recognised as source | no face | composite CPU ms/frame |")
print("|---|---|---|---|---|---|---|---|")
for c, r in rows.items():
    n = r["n"]
    ms = f"{np.mean(r['ms']):.1f}" if r["ms"] else "-"
    print(f"| {c} | {r['lo'] / r['ls']:.3f} | {np.mean(r['dt']):.3f} | {r['t'] / n:.0%} | {np.mean(r['ds']):.3f} | "
          f"{r['s'] / n:.0%} | {r['nf'] / n:.0%} | {ms} |")
EOF
