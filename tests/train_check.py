#!/usr/bin/python3
"""Checks for tests/train.cmake (the training tool and the shipped models).

    train_check.py roundtrip CROP.png BACK.png N_BITS      BACK == CROP at n_bits, exactly (numpy only)
    train_check.py latent MODEL LIST     each line of LIST: CROP.png LATENT.npy BPD BACK.png N_BITS, from
                                         glowcam encode/decode: the latent and bpd vs glow_torch (float64),
                                         relative error < 1e-4 (needs torch), and the round trip
    train_check.py meta MODEL                      the export's metadata has the DESIGN.md keys and train.*
    train_check.py dequant                         tools/dequant_torch.py: a new dequantizer is uniform
                                                   (log q = 0), and with random weights its log q is the
                                                   change of variables through the exact Jacobian (torch)
    train_check.py grow                            tools/glow_grow.py: a model deepened 2x and 3x encodes to
                                                   the same latents and bits/dim (float64) and decodes back;
                                                   depths that are not multiples are refused (torch)
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np


def read_png(path):
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                            "-of", "csv=p=0", path], check=True, stdout=subprocess.PIPE, text=True).stdout
    w, h = (int(v) for v in probe.strip().split(",")[:2])
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-pix_fmt", "rgb24", "-f", "rawvideo", "-"],
                         check=True, stdout=subprocess.PIPE).stdout
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3).copy()


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check_dequant():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    import torch
    import dequant_torch as dq
    torch.manual_seed(3)
    d = dq.Dequantizer(feat=4, hidden=8, steps=2).double()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64) - 0.5
    torch.manual_seed(7)
    v = torch.rand_like(x)
    torch.manual_seed(7)
    u, logq = d(x)
    print("new dequantizer: log q %s, max |u - its uniform draw| %.3g" % (logq.tolist(), float((u - v).abs().max())))
    if float(logq.abs().max()) != 0.0 or float((u - v).abs().max()) > 1e-9:
        fail("a new dequantizer must be the uniform one")
    # Random weights everywhere, then log q(u) against log p(e) - log|det du/de| from the Jacobian.
    with torch.no_grad():
        for p in d.parameters():
            p.copy_(torch.randn_like(p) * 0.15)
    x1 = x[:1]
    e0 = torch.randn_like(x1) * 1.5
    u, logq = d.transform(x1, e0)
    J = torch.autograd.functional.jacobian(lambda e: d.transform(x1, e.view_as(x1))[0].reshape(-1), e0.reshape(-1))
    want = float(dq.log_logistic(e0).sum() - torch.linalg.slogdet(J)[1])
    got = float(logq[0])
    print("random dequantizer: log q %.6f, from the %dx%d Jacobian %.6f; u in [%.3g, %.3g]" %
          (got, J.shape[0], J.shape[1], want, float(u.min()), float(u.max())))
    if not abs(got - want) < 1e-6 * max(1.0, abs(want)) or not (0 < float(u.min()) and float(u.max()) < 1):
        fail("log q(u | x) is not the change of variables of the dequantizer's map")


def check_grow():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    import torch
    import glow_grow
    import glow_torch as gt
    torch.manual_seed(5)
    for edge in (False, True):
        cfg = gt.make_config(image_size=16, n_levels=2, depth=2, width=8, coupling="affine", n_bits=5,
                             edge_padding=edge, level_post=False)
        m = gt.Glow(cfg).double()
        gt.random_init(m, seed=11, scale=0.5)
        u8 = torch.randint(0, 256, (3, 16, 16, 3), dtype=torch.uint8)
        z0, b0 = m.encode(u8)
        for depth in (4, 6):
            big, new = glow_grow.deepen(m, depth)
            glow_grow.init_new_steps(big, new, m.dequantize(u8))
            z1, b1 = big.encode(u8)
            rel = float((z1 - z0).norm() / z0.norm())
            db = float((b1 - b0).abs().max())
            back = big.decode(z1)
            same = bool((back == m.postprocess(m.preprocess(u8))).all())
            moved = sum(float(p.abs().sum()) for st in new for p in (st.coupling.conv1.actnorm.logscale,
                                                                     st.coupling.conv2.actnorm.logscale))
            print("deepen depth 2 -> %d (edge padding %s): %d new steps, latent relative error %.3g, max |d bpd| %.3g, "
                  "round trip %s, hidden actnorms initialised from data: %s" %
                  (depth, edge, len(new), rel, db, "exact" if same else "NOT exact", moved > 0))
            if big.config["depth"] != depth or len(new) != 2 * (depth - 2):
                fail("the deepened model has depth %d with %d new steps" % (big.config["depth"], len(new)))
            if not rel < 1e-12 or not db < 1e-12 or not same or not moved > 0:
                fail("deepening changed what the model computes (or skipped the data-dependent init)")
    for bad in (2, 3):
        try:
            glow_grow.deepen(m, bad)
        except ValueError as e:
            print("depth %d refused: %s" % (bad, e))
        else:
            fail("deepen accepted depth %d for a depth-2 model" % bad)


def main():
    cmd = sys.argv[1]
    if cmd == "roundtrip":
        crop, back, nb = read_png(sys.argv[2]), read_png(sys.argv[3]), int(sys.argv[4])
        q = (crop >> (8 - nb)) << (8 - nb)
        diff = int((q != back).sum())
        print("round trip %s: %d of %d values differ from the crop at %d bits (max |d| %d)" %
              (os.path.basename(sys.argv[2]), diff, q.size, nb, int(np.abs(q.astype(int) - back.astype(int)).max())))
        if diff:
            fail("decode(encode(x)) is not x at n_bits")
    elif cmd == "latent":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
        import torch
        import glow_torch as gt
        m = gt.Glow.from_file(sys.argv[2], dtype=torch.float64)
        worst = 0.0
        lines = [l.split() for l in open(sys.argv[3]) if l.strip()]
        for crop, lat, bc, back, nb in lines:
            x = read_png(crop)
            z, bpd = m.encode(x[None])
            z = z.numpy()[0]
            zc = np.load(lat).reshape(-1).astype(np.float64)
            if zc.size != z.size:
                fail("%s: glowcam latent has %d floats, PyTorch %d" % (lat, zc.size, z.size))
            rel = np.linalg.norm(zc - z) / max(np.linalg.norm(z), 1e-30)
            worst = max(worst, rel)
            print("latent %s: %d floats, relative error glowcam vs PyTorch %.3g (max |d| %.3g); bpd glowcam %.4f, PyTorch %.4f" %
                  (os.path.basename(crop), z.size, rel, float(np.abs(zc - z).max()), float(bc), float(bpd[0])))
            if not rel < 1e-4:
                fail("latents differ (relative error must be < 1e-4)")
            if not abs(float(bc) - float(bpd[0])) < 1e-3:
                fail("bits/dim differ")
            q = (x >> (8 - int(nb))) << (8 - int(nb))
            diff = int((q != read_png(back)).sum())
            print("round trip %s: %d of %d values differ from the crop at %s bits" % (os.path.basename(crop), diff, q.size, nb))
            if diff:
                fail("decode(encode(x)) is not x at n_bits")
        print("%d latents, worst relative error %.3g (bound 1e-4)" % (len(lines), worst))
    elif cmd == "meta":
        with open(sys.argv[2], "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            meta = json.loads(f.read(n))["__metadata__"]
        need = ["glowcam.format", "image_size", "n_levels", "depth", "width", "coupling", "n_bits", "edge_padding",
                "alignment", "level_post", "name", "description", "training", "train.seconds", "train.hardware",
                "train.data", "train.heldout_bpd", "train.history"]
        missing = [k for k in need if k not in meta]
        print("metadata: %d keys; alignment %s; training: %s" % (len(meta), meta.get("alignment"), meta.get("training")))
        if missing:
            fail("metadata keys missing: %s" % missing)
        if meta["alignment"] != "openai-eyes":
            fail("alignment is %s" % meta["alignment"])
        float(meta["train.heldout_bpd"])
    elif cmd == "dequant":
        check_dequant()
    elif cmd == "grow":
        check_grow()
    else:
        fail("unknown check %s" % cmd)


if __name__ == "__main__":
    main()
