#!/usr/bin/python3
"""crude_crops: the training photos centre-cropped to a square and box-resized, with no alignment.

Issue 8's reference figure (1.29 bits/dim after 14 minutes) came from "crudely cropped faces from
these sets"; this makes such a set, so that tools/train_glow.py can be compared on it and on the
aligned crops it ships from (same names, so the same held-out split by name hash).

    /usr/bin/python3 tools/crude_crops.py ../shared/data/train .dev/crude/crude64.npy [--size 64]

Writes OUT.npy (uint8 [N, S, S, 3]) and OUT.txt (one name per row, "utkface/FILE.png" and
"celeba/FILE.png" as tools/facepack.py names the aligned crops).
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from facepack import save_npy  # noqa: E402  (the aligned pack's writer: same files, same names)


def crude_crop(path, size):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    s = min(w, h)
    x, y = (w - s) // 2, (h - s) // 2
    return np.asarray(im.crop((x, y, x + s, y + s)).resize((size, size), Image.BOX))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("train_dir", help="../shared/data/train (its utkface/ and celeba/ folders)")
    ap.add_argument("out", help="OUT.npy (OUT.txt is written beside it)")
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()
    rows, names = [], []
    for sub in ("utkface", "celeba"):
        folder = os.path.join(args.train_dir, sub)
        if not os.path.isdir(folder):
            sys.exit("%s: no such folder" % folder)
        for f in sorted(os.listdir(folder)):
            if not f.lower().endswith((".jpg", ".jpeg", ".png")):
                continue
            try:
                rows.append(crude_crop(os.path.join(folder, f), args.size))
            except OSError as e:
                sys.exit("%s: cannot read (%s)" % (os.path.join(folder, f), e))
            names.append("%s/%s.png" % (sub, os.path.splitext(f)[0]))
    if not rows:
        sys.exit("%s: no photos" % args.train_dir)
    save_npy(args.out, np.stack(rows), names)
    print("%s: %d faces %dx%d" % (args.out, len(rows), args.size, args.size))


if __name__ == "__main__":
    main()
