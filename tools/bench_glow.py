#!/usr/bin/python3
"""bench_glow: glowcam's Glow engine against the PyTorch implementation (tools/glow_torch.py)
on the same model files and the same faces, in one run; prints both times and their ratio.

    tools/bench_glow.py --glowcam build/src/cli/glowcam                 # CPU: glowcam --backend cpu vs torch, 2 threads
    tools/bench_glow.py --glowcam build/src/glow/glow-bench --cuda --backend vulkan --configs 64,128,256
    options: --configs 64,128 --batches 1,8 --iters 10 --threads 2 --faces DIR --workdir DIR --omp-passive

Configurations (random weights, tools/make_random_model.py, written once into --workdir):
    64:  64x64,   3 levels, depth 8,  width 128
    128: 128x128, 4 levels, depth 16, width 256
    256: 256x256, 6 levels, depth 32, width 512 (OpenAI's CelebA-HQ model; for GPUs)
Faces: the first PNG/JPEG of each folder under --faces (e.g. ../shared/data/identities),
scaled to the model's size; without --faces (or without PIL) deterministic synthetic faces.
Both engines see the same faces: they are written to an .npy that glowcam reads (--input).

Run it with Debian's /usr/bin/python3 (python3-torch, numpy). CPU mode runs PyTorch with
torch.set_num_threads(--threads) and glowcam with --threads; --cuda runs PyTorch on the GPU
(fp32) and glowcam with the --backend given (vulkan on a GPU machine).
Every figure depends on the machine's load at the time: rerun to confirm.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

CONFIGS = {
    "64": dict(size=64, levels=3, depth=8, width=128),
    "128": dict(size=128, levels=4, depth=16, width=256),
    "256": dict(size=256, levels=6, depth=32, width=512),
}


def make_model(workdir, name, cfg):
    path = os.path.join(workdir, "bench-%s.safetensors" % name)
    if not os.path.exists(path):
        cmd = [sys.executable, os.path.join(HERE, "make_random_model.py"), "-o", path, "--size", str(cfg["size"]),
               "--levels", str(cfg["levels"]), "--depth", str(cfg["depth"]), "--width", str(cfg["width"]),
               "--seed", "1", "--name", "bench-%s" % name]
        subprocess.run(cmd, check=True)
    return path


def load_faces(faces_dir, size, count):
    """uint8 [count, size, size, 3]: real faces when possible, else synthetic."""
    imgs = []
    if faces_dir:
        try:
            from PIL import Image
            for sub in sorted(os.listdir(faces_dir)):
                d = os.path.join(faces_dir, sub)
                if not os.path.isdir(d):
                    continue
                files = sorted(f for f in os.listdir(d) if f.lower().endswith((".png", ".jpg", ".jpeg")))
                if files:
                    im = Image.open(os.path.join(d, files[0])).convert("RGB").resize((size, size), Image.BILINEAR)
                    imgs.append(np.asarray(im, dtype=np.uint8))
        except ImportError:
            print("note: PIL missing, using synthetic faces", file=sys.stderr)
    if not imgs:
        rng = np.random.default_rng(1)
        cs = max(size // 4, 1)
        base = rng.integers(0, 256, size=(count, cs, cs, 3))
        img = np.repeat(np.repeat(base, size // cs, 1), size // cs, 2)
        img = np.clip(img + rng.integers(-40, 41, size=img.shape), 0, 255).astype(np.uint8)
        return img, "synthetic"
    out = np.stack([imgs[i % len(imgs)] for i in range(count)])
    return out, "%d real faces from %s" % (len(imgs), faces_dir)


def run_glowcam(args, model, inp, batch):
    exe = args.glowcam
    cmd = [exe] + ([] if os.path.basename(exe).startswith("glow-bench") else ["bench", "glow"])
    cmd += ["-m", model, "--batch", str(batch), "--backend", args.backend, "--iters", str(args.iters),
            "--warmup", str(args.warmup), "--input", inp]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit("glowcam failed: %s" % " ".join(cmd))
    m = re.search(r"^result (.*)$", p.stdout, re.M)
    if not m:
        raise SystemExit("no result line from: %s" % " ".join(cmd))
    res = dict(kv.split("=", 1) for kv in m.group(1).split())
    return res, p.stdout, " ".join(cmd)


def run_torch(args, model_path, faces, batch):
    import torch
    import glow_torch as gt
    dev = "cuda" if args.cuda else "cpu"
    m = gt.Glow.from_file(model_path).to(dev).eval()
    u8 = torch.from_numpy(np.ascontiguousarray(faces[:batch])).to(dev)

    def sync():
        if args.cuda:
            torch.cuda.synchronize()

    z = None
    for _ in range(args.warmup):
        z, _ = m.encode(u8)
        m.decode(z)
    sync()
    t0 = time.perf_counter()
    for _ in range(args.iters):
        z, _ = m.encode(u8)
    sync()
    enc = (time.perf_counter() - t0) / args.iters
    t0 = time.perf_counter()
    for _ in range(args.iters):
        back = m.decode(z)
    sync()
    dec = (time.perf_counter() - t0) / args.iters
    shift = 8 - m.config["n_bits"]
    q = (u8.to(torch.int32) >> shift) << shift
    mism = int((back.to(torch.int32) != q).sum())
    return enc / batch * 1e3, dec / batch * 1e3, mism


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--glowcam", required=True, help="path to glowcam or glow-bench")
    ap.add_argument("--configs", default="64,128", help="comma list of %s" % ",".join(CONFIGS))
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for both (0: glowcam's default)")
    ap.add_argument("--backend", default="cpu", help="glowcam backend (cpu, vulkan, auto, reference)")
    ap.add_argument("--cuda", action="store_true", help="PyTorch on CUDA instead of the CPU")
    ap.add_argument("--faces", help="folder of folders of face images (e.g. ../shared/data/identities)")
    ap.add_argument("--workdir", help="where the random models and inputs go (default: a temp dir)")
    ap.add_argument("--verbose", action="store_true", help="print glowcam's full report")
    ap.add_argument("--omp-passive", action="store_true",
                    help="OMP_WAIT_POLICY=PASSIVE for PyTorch: its OpenMP threads sleep instead of spinning "
                         "(on a busy machine spinning makes PyTorch 10-50x slower at 2 threads)")
    args = ap.parse_args()
    if args.omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # read when PyTorch's OpenMP starts, so before the import

    import torch
    if args.cuda:
        if not torch.cuda.is_available():
            raise SystemExit("--cuda: PyTorch sees no CUDA device")
        dev_name = torch.cuda.get_device_name(0)
    else:
        torch.set_num_threads(max(args.threads, 1))
        dev_name = "CPU, %d threads" % torch.get_num_threads()
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench_glow_")
    os.makedirs(workdir, exist_ok=True)
    batches = [int(b) for b in args.batches.split(",")]
    print("PyTorch %s on %s%s; glowcam %s --backend %s; %d timed calls after %d warm-up"
          % (torch.__version__, dev_name, ", OMP_WAIT_POLICY=PASSIVE" if args.omp_passive else "", args.glowcam,
             args.backend, args.iters, args.warmup))
    if not args.cuda:
        print("load average before the run: %.2f %.2f %.2f" % os.getloadavg())
    rows = []
    for name in args.configs.split(","):
        cfg = CONFIGS[name]
        model = make_model(workdir, name, cfg)
        faces, src = load_faces(args.faces, cfg["size"], max(batches))
        inp = os.path.join(workdir, "faces-%d.npy" % cfg["size"])
        np.save(inp, faces.astype(np.float32))
        print("\nconfig %s: %dx%d, L%d K%d W%d, faces: %s" % (name, cfg["size"], cfg["size"], cfg["levels"],
                                                             cfg["depth"], cfg["width"], src))
        for b in batches:
            res, out, cmd = run_glowcam(args, model, inp, b)
            if args.verbose:
                print(out)
            time.sleep(0.5)
            te, td, tmism = run_torch(args, model, faces, b)
            ge, gd = float(res["encode_ms"]), float(res["decode_ms"])
            row = (name, b, ge, te, gd, td, float(res.get("gflops", 0)), int(res.get("mismatches", 0)), tmism, cmd)
            rows.append(row)
            print("  batch %3d: encode glowcam %8.2f ms/face, torch %8.2f ms/face, ratio %5.2fx | decode glowcam "
                  "%8.2f, torch %8.2f, ratio %5.2fx | glowcam %.1f GFLOP/s, round-trip mismatches %d (torch %d)"
                  % (b, ge, te, te / ge, gd, td, td / gd, row[6], row[7], row[8]))
            sys.stdout.flush()
    print("\nsummary (ratio = torch time / glowcam time; > 1: glowcam faster)")
    print("%-6s %5s %12s %12s %7s %12s %12s %7s" % ("config", "batch", "enc glowcam", "enc torch", "ratio",
                                                  "dec glowcam", "dec torch", "ratio"))
    for r in rows:
        print("%-6s %5d %9.2f ms %9.2f ms %6.2fx %9.2f ms %9.2f ms %6.2fx" % (r[0], r[1], r[2], r[3], r[3] / r[2],
                                                                      r[4], r[5], r[5] / r[4]))


if __name__ == "__main__":
    main()
