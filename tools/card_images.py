#!/usr/bin/python3
"""card_images: the pictures of models/README.md (the model card), made with glow_torch.

    card_images.py MODEL --faces DIR --out DIR [--scale 2] [--seed 0]

--faces holds aligned crops of public-domain portraits only (glowcam align of
samples/cache/portraits/* and of frames of samples/demo.mp4, at the model's size): no picture
derived from ../shared/data goes into the card. Writes into --out, named after the model:
  <name>-samples-t0.7.png   4x4 samples at temperature 0.7 (seed fixed)
  <name>-recon.png          per portrait: aligned crop, the crop at n_bits, decode(encode(crop))
                            (bit-identical to the n_bits crop), and decodes keeping only the
                            coarser levels' eps (finer levels set to 0: what each level carries)
  <name>-means.png          mean latent of each portrait's crops decoded, and an interpolation
                            between the two portraits' means
PNG files are written with ffmpeg (no PIL needed).
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import glow_torch as gt  # noqa: E402


def read_png(path, size):
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-vf", "scale=%d:%d:flags=area" % (size, size),
                          "-pix_fmt", "rgb24", "-f", "rawvideo", "-"], check=True, stdout=subprocess.PIPE).stdout
    return np.frombuffer(raw, np.uint8).reshape(size, size, 3)


def write_png(path, img, scale):
    h, w = img.shape[:2]
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "%dx%d" % (w, h),
                    "-i", "-", "-vf", "scale=%d:%d:flags=neighbor" % (w * scale, h * scale), "-frames:v", "1", path],
                   input=np.ascontiguousarray(img).tobytes(), check=True)
    print("card_images: wrote %s" % path)


def grid(imgs, cols, pad=2):
    imgs = [np.asarray(i) for i in imgs]
    s = imgs[0].shape[0]
    rows = (len(imgs) + cols - 1) // cols
    out = np.full((rows * (s + pad) + pad, cols * (s + pad) + pad, 3), 255, np.uint8)
    for i, im in enumerate(imgs):
        r, c = divmod(i, cols)
        out[pad + r * (s + pad):pad + r * (s + pad) + s, pad + c * (s + pad):pad + c * (s + pad) + s] = im
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--faces", required=True, help="folder of aligned public-domain crops (PNG)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--temperature", type=float, default=0.7)
    args = ap.parse_args()

    m = gt.Glow.from_file(args.model, dtype=torch.float64).eval()
    S, L = m.config["image_size"], m.config["n_levels"]
    name = os.path.splitext(os.path.basename(args.model))[0]
    os.makedirs(args.out, exist_ok=True)
    D = S * S * 3

    g = torch.Generator().manual_seed(args.seed)
    z = torch.randn(16, D, generator=g, dtype=torch.float64) * args.temperature
    write_png(os.path.join(args.out, "%s-samples-t%g.png" % (name, args.temperature)),
              grid(m.decode(z).numpy(), 4), args.scale)

    files = sorted(f for f in os.listdir(args.faces) if f.lower().endswith(".png"))
    if not files:
        raise SystemExit("card_images: no PNG crops in %s" % args.faces)
    # Groups: one per portrait, named by the part before the first '_' or '-' ... of the file.
    groups = {}
    for f in files:
        groups.setdefault(os.path.splitext(f)[0].split("_")[0].split("-")[0], []).append(f)
    shift = 8 - m.config["n_bits"]
    rec_rows, means = [], []
    offs = [0]
    for l in range(L):
        h = S >> (l + 1)
        offs.append(offs[-1] + h * h * (6 * 2 ** l if l < L - 1 else 12 * 2 ** l))
    for key, fs in sorted(groups.items()):
        x = np.stack([read_png(os.path.join(args.faces, f), S) for f in fs])
        lat, bpd = m.encode(x)
        back = m.decode(lat).numpy()
        q = (x >> shift) << shift
        exact = np.array_equal(back, q)
        print("card_images: %s: %d crops, bpd %.3f (mean), round trip exact: %s" % (key, len(fs), float(bpd.mean()), exact))
        row = [x[0], q[0], back[0]]
        for keep in range(1, L):  # keep the eps of the `keep` coarsest levels, zero the rest
            zz = lat[:1].clone()
            zz[:, :offs[L - keep]] = 0
            row.append(m.decode(zz).numpy()[0])
        rec_rows += row
        means.append(lat.mean(0, keepdim=True))
    write_png(os.path.join(args.out, "%s-recon.png" % name), grid(rec_rows, 3 + L - 1), args.scale)
    mimg = [m.decode(mu).numpy()[0] for mu in means]
    if len(means) >= 2:
        for t in np.linspace(0, 1, 6):
            mimg.append(m.decode((1 - t) * means[0] + t * means[1]).numpy()[0])
    write_png(os.path.join(args.out, "%s-means.png" % name), grid(mimg, len(mimg)), args.scale)


if __name__ == "__main__":
    main()
