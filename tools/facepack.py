#!/usr/bin/python3
"""facepack: pack aligned face crops for tools/train_glow.py.

    facepack.py npy DIR... --size S --out FACES.npy
        every *.png under the DIRs (sorted, decoded by ffmpeg) -> uint8 [N, S, S, 3] FACES.npy
        and FACES.txt (one source name per row, "<dir name>/<file name>": train_glow.py hashes
        these to choose its held-out split)
    facepack.py jpeg FACES.npy --out FACES.jpgs.npz [--q 3] [--downscale 2]
        -> one compact file of JPEGs (ffmpeg's mjpeg, -q:v Q, 4:2:0) with the names, to carry
        the training set to a GPU machine (the 64 MiB limit); ~2.5 KB per 128x128 face at q 3
    facepack.py unpack FACES.jpgs.npz --out FACES.npy [--downscale 2] [--limit N]
        decodes it again with whatever the machine has: PIL, OpenCV or torchvision (no ffmpeg);
        --downscale averages 2x2 blocks (area), --limit keeps the first N faces
"""
import argparse
import io
import os
import subprocess
import sys
import tempfile

import numpy as np


def die(msg):
    print("facepack: " + msg, file=sys.stderr)
    sys.exit(1)


def save_npy(path, arr, names):
    tmp = path + ".tmp.npy"
    np.save(tmp, arr)
    os.replace(tmp, path)
    txt = os.path.splitext(path)[0] + ".txt"
    with open(txt + ".tmp", "w") as f:
        f.write("".join(n + "\n" for n in names))
    os.replace(txt + ".tmp", txt)


def cmd_npy(args):
    files, names = [], []
    for d in args.dirs:
        if not os.path.isdir(d):
            die("%s: not a folder" % d)
        for fn in sorted(os.listdir(d)):
            if fn.lower().endswith(".png"):
                files.append(os.path.abspath(os.path.join(d, fn)))
                names.append("%s/%s" % (os.path.basename(os.path.normpath(d)), fn))
    if not files:
        die("no .png files in %s" % " ".join(args.dirs))
    S = args.size
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as lst:
        for f in files:
            lst.write("file '%s'\nduration 0.04\n" % f.replace("'", "'\\''"))
    try:
        raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "concat", "-safe", "0", "-i", lst.name,
                              "-vf", "scale=%d:%d:flags=area" % (S, S), "-fps_mode", "passthrough",
                              "-pix_fmt", "rgb24", "-f", "rawvideo", "-"], check=True, stdout=subprocess.PIPE).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        die("ffmpeg could not decode the crops (%s)" % e)
    finally:
        os.unlink(lst.name)
    n = len(raw) // (S * S * 3)
    if n != len(files):
        die("ffmpeg gave %d frames for %d files" % (n, len(files)))
    arr = np.frombuffer(raw, np.uint8).reshape(n, S, S, 3)
    save_npy(args.out, arr, names)
    print("facepack: %s: %d faces %dx%d" % (args.out, n, S, S))


def cmd_jpeg(args):
    a = np.load(args.faces)
    names = open(os.path.splitext(args.faces)[0] + ".txt").read().splitlines()
    if args.downscale > 1:
        f = args.downscale
        n, s = a.shape[0], a.shape[1]
        a = np.floor(a.reshape(n, s // f, f, s // f, f, 3).astype(np.float32).mean(axis=(2, 4)) + 0.5).astype(np.uint8)
    n, S = a.shape[0], a.shape[1]
    with tempfile.TemporaryDirectory() as td:
        p = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                            "-s", "%dx%d" % (S, S), "-i", "-", "-q:v", str(args.q), "-pix_fmt", "yuvj420p",
                            os.path.join(td, "%06d.jpg")], input=a.tobytes())
        if p.returncode != 0:
            die("ffmpeg could not encode JPEGs")
        blobs = [open(os.path.join(td, "%06d.jpg" % (i + 1)), "rb").read() for i in range(n)]
    offs = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    tmp = args.out + ".tmp.npz"
    np.savez(tmp, jpeg=np.frombuffer(b"".join(blobs), np.uint8), offsets=offs,
             names=np.array(names), size=np.array([S]))
    os.replace(tmp, args.out)
    print("facepack: %s: %d faces %dx%d, %.1f MB (%.0f bytes per face)" %
          (args.out, n, S, S, os.path.getsize(args.out) / 1e6, offs[-1] / n))


def decoder():
    try:
        from PIL import Image
        return "PIL", lambda b: np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))
    except ImportError:
        pass
    try:
        import cv2
        return "OpenCV", lambda b: cv2.cvtColor(cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR),
                                                cv2.COLOR_BGR2RGB)
    except ImportError:
        pass
    try:
        import torch
        import torchvision.io as tio
        return "torchvision", lambda b: tio.decode_jpeg(torch.frombuffer(bytearray(b), dtype=torch.uint8),
                                                        mode=tio.ImageReadMode.RGB).permute(1, 2, 0).numpy()
    except ImportError:
        pass
    die("no JPEG decoder: needs PIL, OpenCV or torchvision")


def cmd_unpack(args):
    z = np.load(args.pack)
    jp, offs, names, S = z["jpeg"].tobytes(), z["offsets"], [str(s) for s in z["names"]], int(z["size"][0])
    how, dec = decoder()
    n = len(offs) - 1
    if args.limit > 0:
        n = min(n, args.limit)
    f = args.downscale
    if S % f:
        die("size %d not divisible by --downscale %d" % (S, f))
    out = np.empty((n, S // f, S // f, 3), np.uint8)
    for i in range(n):
        img = dec(jp[offs[i]:offs[i + 1]])
        if img.shape != (S, S, 3):
            die("%s: face %d decodes to %s" % (args.pack, i, img.shape))
        if f > 1:
            img = np.floor(img.reshape(S // f, f, S // f, f, 3).astype(np.float32).mean(axis=(1, 3)) + 0.5)
        out[i] = img
    save_npy(args.out, out, names[:n])
    print("facepack: %s: %d faces %dx%d decoded with %s" % (args.out, n, S // f, S // f, how))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("npy")
    p.add_argument("dirs", nargs="+")
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("jpeg")
    p.add_argument("faces")
    p.add_argument("--out", required=True)
    p.add_argument("--q", type=int, default=3)
    p.add_argument("--downscale", type=int, default=1)
    p = sub.add_parser("unpack")
    p.add_argument("pack")
    p.add_argument("--out", required=True)
    p.add_argument("--downscale", type=int, default=1)
    p.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    {"npy": cmd_npy, "jpeg": cmd_jpeg, "unpack": cmd_unpack}[args.cmd](args)


if __name__ == "__main__":
    main()
