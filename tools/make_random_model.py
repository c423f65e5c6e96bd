#!/usr/bin/python3
"""make_random_model: write a random-weight glowcam model of any configuration (numpy only).

    tools/make_random_model.py -o m.safetensors --size 16 --levels 2 --depth 2 --width 16 \
        [--coupling affine|additive] [--n-bits 5] [--no-edge-padding] [--level-post] \
        [--ybias none|all|last] [--yscale none|all|last] [--seed 1] [--scale 1.0]

The weights are small but not trivial, so every part of the model changes the result:
orthogonal invconv times a near-identity diagonal (non-zero log-determinant), actnorm
biases/log-scales around 0 +- 0.1, conv weights ~ scale/sqrt(fan_in), non-zero split
priors and top prior, positive yscale. Tests need no trained model.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402


def tensor_shapes(cfg):
    """(name, shape) of every tensor, in DESIGN.md order."""
    out = []
    S, L, K, W = cfg["image_size"], cfg["n_levels"], cfg["depth"], cfg["width"]
    e = 1 if cfg["edge_padding"] else 0
    affine = cfg["coupling"] == "affine"
    for l in range(L):
        C = 12 * 2 ** l
        for k in range(K):
            p = "levels.%d.steps.%d." % (l, k)
            out += [(p + "actnorm.bias", (C,)), (p + "actnorm.logscale", (C,)), (p + "invconv.weight", (C, C)),
                    (p + "coupling.conv1.weight", (W, C // 2 + e, 3, 3)),
                    (p + "coupling.conv1.actnorm.bias", (W,)), (p + "coupling.conv1.actnorm.logscale", (W,)),
                    (p + "coupling.conv2.weight", (W, W, 1, 1)),
                    (p + "coupling.conv2.actnorm.bias", (W,)), (p + "coupling.conv2.actnorm.logscale", (W,))]
            cout = C if affine else C // 2
            out += [(p + "coupling.conv3.weight", (cout, W + e, 3, 3)),
                    (p + "coupling.conv3.bias", (cout,)), (p + "coupling.conv3.logscale", (cout,))]
            for kind in ("ybias", "yscale"):
                if cfg[kind] == "all" or (cfg[kind] == "last" and k == K - 1):
                    out.append((p + "coupling." + kind, (C // 2,)))
        if cfg["level_post"]:
            p = "levels.%d.post." % l
            out += [(p + "actnorm.bias", (C,)), (p + "actnorm.logscale", (C,)), (p + "invconv.weight", (C, C))]
        if l < L - 1:
            p = "levels.%d.prior." % l
            out += [(p + "weight", (C, C // 2 + e, 3, 3)), (p + "bias", (C,)), (p + "logscale", (C,))]
    h = S >> L
    C = 12 * 2 ** (L - 1)
    out += [("top.mean", (h, h, C)), ("top.logscale", (h, h, C))]
    return out


def random_tensors(cfg, seed=1, scale=1.0):
    rng = np.random.default_rng(seed)
    t = {}
    for name, shape in tensor_shapes(cfg):
        if name.endswith("invconv.weight"):
            q, _ = np.linalg.qr(rng.standard_normal(shape))
            v = q @ np.diag(np.exp(0.1 * rng.standard_normal(shape[0])))
        elif name.endswith("yscale"):
            v = np.exp(0.1 * rng.standard_normal(shape))
        elif len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            s = scale / np.sqrt(fan_in)
            if ".conv3." in name or ".prior." in name:
                s *= 0.5  # OpenAI starts these at zero; keep them smaller than the hidden convs
            v = s * rng.standard_normal(shape)
        else:
            v = 0.1 * rng.standard_normal(shape)
        t[name] = v.astype(np.float32)
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--levels", type=int, default=2)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--coupling", choices=("affine", "additive"), default="affine")
    ap.add_argument("--n-bits", type=int, default=5)
    ap.add_argument("--no-edge-padding", action="store_true")
    ap.add_argument("--level-post", action="store_true")
    ap.add_argument("--ybias", choices=("none", "all", "last"), default="none")
    ap.add_argument("--yscale", choices=("none", "all", "last"), default="none")
    ap.add_argument("--alignment", choices=("openai-eyes", "ffhq-quad"), default="openai-eyes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0, help="conv weight scale")
    ap.add_argument("--name", default="random")
    a = ap.parse_args()
    if (a.ybias != "none" or a.yscale != "none") and a.coupling != "additive":
        ap.error("--ybias/--yscale need --coupling additive")
    if a.size % (2 ** a.levels):
        ap.error("--size must be divisible by 2^levels")
    cfg = dict(image_size=a.size, n_levels=a.levels, depth=a.depth, width=a.width, coupling=a.coupling,
               n_bits=a.n_bits, edge_padding=not a.no_edge_padding, level_post=a.level_post,
               ybias=a.ybias, yscale=a.yscale)
    meta = {"glowcam.format": "1", "image_size": a.size, "n_levels": a.levels, "depth": a.depth,
            "width": a.width, "coupling": a.coupling, "n_bits": a.n_bits,
            "edge_padding": "false" if a.no_edge_padding else "true", "alignment": a.alignment,
            "level_post": "true" if a.level_post else "false", "name": a.name,
            "description": "random weights (seed %d) for tests" % a.seed,
            "training": "none: tools/make_random_model.py"}
    st_io.write(a.out, random_tensors(cfg, a.seed, a.scale), meta)


if __name__ == "__main__":
    main()
