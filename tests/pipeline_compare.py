#!/usr/bin/python3
"""pipeline_compare: compare a converted video with a plain re-encode of the same input.

    pipeline_compare.py OUT.mp4 PLAIN.mp4 FACES.jsonl [--min-face-diff 4] [--min-far-psnr 40]
    pipeline_compare.py --psnr A.mp4 B.mp4 [--min-psnr 40]

FACES.jsonl is `glowcam faces` output for the input. "Far from the face" is every pixel
more than half a face box away from the frame's face box; the face region is the box
itself. Prints the figures and exits 1 when a bound is missed.
"""
import json
import subprocess
import sys

import numpy as np


def frames(path):
    info = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                           "stream=width,height", "-of", "csv=p=0", path],
                          check=True, capture_output=True, text=True).stdout.strip().split(",")
    w, h = int(info[0]), int(info[1])
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3).astype(np.float64)


def psnr(a, b):
    mse = np.mean((a - b) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def main(argv):
    args = argv[1:]

    def opt(name, default):
        if name in args:
            i = args.index(name)
            v = float(args[i + 1])
            del args[i:i + 2]
            return v
        return default

    if args and args[0] == "--psnr":
        bound = opt("--min-psnr", 40.0)
        a, b = frames(args[1]), frames(args[2])
        n = min(len(a), len(b))
        p = psnr(a[:n], b[:n])
        worst = min(psnr(a[i], b[i]) for i in range(n))
        print("psnr %s vs %s: %d frames, overall %.2f dB, worst frame %.2f dB (bound %.0f)" % (args[1], args[2], n, p, worst, bound))
        return 0 if len(a) == len(b) and worst > bound else 1

    min_face_diff = opt("--min-face-diff", 4.0)
    min_far = opt("--min-far-psnr", 40.0)
    out, plain = frames(args[0]), frames(args[1])
    faces = [json.loads(l) for l in open(args[2]) if l.strip()]
    if len(out) != len(plain):
        print("frame counts differ: %d vs %d" % (len(out), len(plain)))
        return 1
    far_se, far_n, face_diffs, worst_far = 0.0, 0, [], 99.0
    for i in range(len(out)):
        fl = [f for f in faces if f["frame"] == i]
        if not fl or not fl[0]["faces"]:
            continue
        x0, y0, x1, y1 = fl[0]["faces"][0]["box"]
        h, w = out.shape[1:3]
        m = 0.5 * max(x1 - x0, y1 - y0)
        yy, xx = np.mgrid[0:h, 0:w]
        far = (xx < x0 - m) | (xx > x1 + m) | (yy < y0 - m) | (yy > y1 + m)
        inside = (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)
        d = (out[i] - plain[i]) ** 2
        if far.any():
            se = d[far].sum()
            far_se += se
            far_n += far.sum() * 3
            worst_far = min(worst_far, 99.0 if se == 0 else 10 * np.log10(255.0 ** 2 * far.sum() * 3 / se))
        face_diffs.append(np.abs(out[i] - plain[i])[inside].mean())
    if not face_diffs or not far_n:
        print("no frame with a face and a far region to compare")
        return 1
    far_psnr = 99.0 if far_se == 0 else 10 * np.log10(255.0 ** 2 * far_n / far_se)
    fd = np.array(face_diffs)
    print("%d frames with a face: far from the face PSNR %.2f dB (worst frame %.2f, bound %.0f); "
          "face box mean |diff| %.2f (min frame %.2f, bound %.1f)"
          % (len(fd), far_psnr, worst_far, min_far, fd.mean(), fd.min(), min_face_diff))
    ok = far_psnr > min_far and fd.mean() > min_face_diff
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
