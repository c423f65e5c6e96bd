#!/usr/bin/python3
"""glow_torch: an independent PyTorch implementation of glowcam's Glow model (DESIGN.md).

It is the second opinion the C reference (src/glow/ref.c) is tested against, and the
base tools/train_glow.py builds on. Run with Debian's /usr/bin/python3 (python3-torch).

Module API
----------
    import glow_torch as gt
    cfg = gt.make_config(image_size=64, n_levels=3, depth=8, width=128, coupling="affine",
                         n_bits=5, edge_padding=True, level_post=False,
                         ybias="none", yscale="none")          # dict; "none" | "all" | "last"
    m = gt.Glow(cfg)                       # nn.Module (invconv random rotations, conv3/priors zero,
                                           # like OpenAI); m.state_dict() keys are exactly the
                                           # DESIGN.md tensor names (levels.0.steps.0.actnorm.bias, ...)
    m = gt.Glow.from_file(path)            # config from the file's __metadata__ (+ which ybias/yscale exist)
    m.save(path, meta={"name": ..})        # safetensors with full metadata (path.tmp, then rename)
    m.config                               # the config dict (metadata keys, Python types)

    x = m.preprocess(u8)                   # uint8 NHWC (tensor or ndarray) -> float NCHW, bin centres
    eps, logdet, logp = m.flow(x)          # differentiable: eps = list of NCHW tensors per level,
                                           # logdet and logp [N] (natural log, continuous x)
    bpd = m.nll_bpd(x)                     # [N] bits/dim incl. the D*log(2^n_bits) term; differentiable.
                                           # For training add uniform noise in [0, 1/2^n_bits) to
                                           # floor(u8/2^(8-n))/2^n - 0.5 yourself (m.dequantize(u8) does it).
    z, bpd = m.encode(u8)                  # no grad: latent [N, image_size^2*3] (DESIGN layout:
                                           # eps of each level, level 0 first, HWC) and bits/dim
    u8 = m.decode(z)                       # latent [N, D] -> uint8 NHWC tensor
    m.data_init(x)                         # optional: data-dependent actnorm init on one batch
                                           # (every actnorm, conv1/conv2 actnorms included)

Use m.double() for golden outputs. Parameters are created at zero/identity; random_init(m)
fills them like tools/make_random_model.py would (for tests).

CLI
---
    glow_torch.py golden MODEL --count N --seed S --out PREFIX
        writes PREFIX.input.npy (float32 [N,S,S,3], pixel values 0..255), PREFIX.latent.npy
        (float32 [N,D]) and PREFIX.bpd.npy (float32 [N]), computed in float64.
    glow_torch.py encode MODEL IMAGE.npy          prints bits/dim of each image in a uint8/float npy
    glow_torch.py resave MODEL OUT                load and save back (checks the writer)
"""
import argparse
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

META_INT = ("image_size", "n_levels", "depth", "width", "n_bits")
META_BOOL = ("edge_padding", "level_post")


def make_config(image_size=64, n_levels=3, depth=8, width=128, coupling="affine", n_bits=5,
                edge_padding=True, level_post=False, alignment="openai-eyes", ybias="none",
                yscale="none", name="", description="", training=""):
    for k in ("ybias", "yscale"):
        v = locals()[k]
        if v not in ("none", "all", "last"):
            raise ValueError("%s must be none, all or last" % k)
    if coupling not in ("affine", "additive"):
        raise ValueError("coupling must be affine or additive")
    if (ybias != "none" or yscale != "none") and coupling != "additive":
        raise ValueError("ybias/yscale exist for additive coupling only")
    if image_size % (2 ** n_levels):
        raise ValueError("image_size must be divisible by 2^n_levels")
    return dict(image_size=image_size, n_levels=n_levels, depth=depth, width=width, coupling=coupling,
                n_bits=n_bits, edge_padding=edge_padding, level_post=level_post, alignment=alignment,
                ybias=ybias, yscale=yscale, name=name, description=description, training=training)


def squeeze(x):
    """NCHW: out[c*4 + dy*2 + dx][y][x] = in[c][2y+dy][2x+dx] (OpenAI's squeeze2d)."""
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(n, c * 4, h // 2, w // 2)


def unsqueeze(x):
    n, c, h, w = x.shape
    x = x.reshape(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c // 4, h * 2, w * 2)


def conv3x3(x, weight, edge):
    """3x3 'SAME' conv; with edge padding an extra input channel is 1 outside the image."""
    if not edge:
        return F.conv2d(x, weight, padding=1)
    n, _, h, w = x.shape
    xp = F.pad(x, (1, 1, 1, 1))
    ones = F.pad(torch.zeros(n, 1, h, w, dtype=x.dtype, device=x.device), (1, 1, 1, 1), value=1.0)
    return F.conv2d(torch.cat([xp, ones], 1), weight)


class ActNorm(nn.Module):
    """y = (x + bias) * exp(logscale), per channel."""

    def __init__(self, c):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(c))
        self.logscale = nn.Parameter(torch.zeros(c))
        self.init_pending = False

    def forward(self, x):
        if self.init_pending:
            with torch.no_grad():
                mean = x.mean(dim=(0, 2, 3))
                std = (x - mean.view(1, -1, 1, 1)).pow(2).mean(dim=(0, 2, 3)).sqrt()
                self.bias.copy_(-mean)
                self.logscale.copy_(-torch.log(std + 1e-6))
            self.init_pending = False
        y = (x + self.bias.view(1, -1, 1, 1)) * torch.exp(self.logscale).view(1, -1, 1, 1)
        return y, x.shape[2] * x.shape[3] * self.logscale.sum()

    def reverse(self, y):
        return y * torch.exp(-self.logscale).view(1, -1, 1, 1) - self.bias.view(1, -1, 1, 1)


class InvConv(nn.Module):
    """y[o] = sum_i W[o][i] x[i]."""

    def __init__(self, c):
        super().__init__()
        # a random rotation, as OpenAI initializes it (identity would leave channels unmixed)
        self.weight = nn.Parameter(torch.linalg.qr(torch.randn(c, c))[0])

    def forward(self, x):
        y = F.conv2d(x, self.weight.view(*self.weight.shape, 1, 1))
        return y, x.shape[2] * x.shape[3] * torch.linalg.slogdet(self.weight)[1]

    def reverse(self, y):
        w = torch.inverse(self.weight)
        return F.conv2d(y, w.view(*w.shape, 1, 1))


class ConvActNorm(nn.Module):
    """conv (no bias) -> actnorm -> ReLU (conv1: 3x3 with optional edge padding, conv2: 1x1)."""

    def __init__(self, cin, cout, k, edge):
        super().__init__()
        self.k, self.edge = k, edge
        extra = 1 if (edge and k == 3) else 0
        self.weight = nn.Parameter(torch.randn(cout, cin + extra, k, k) * 0.05)
        self.actnorm = ActNorm(cout)

    def forward(self, x):
        h = conv3x3(x, self.weight, self.edge) if self.k == 3 else F.conv2d(x, self.weight)
        return F.relu(self.actnorm(h)[0])


class ConvZeros(nn.Module):
    """3x3 conv, h = (conv + bias) * exp(logscale) (OpenAI's conv2d_zeros)."""

    def __init__(self, cin, cout, edge):
        super().__init__()
        self.edge = edge
        self.weight = nn.Parameter(torch.zeros(cout, cin + (1 if edge else 0), 3, 3))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.logscale = nn.Parameter(torch.zeros(cout))

    def forward(self, x):
        h = conv3x3(x, self.weight, self.edge)
        return (h + self.bias.view(1, -1, 1, 1)) * torch.exp(self.logscale).view(1, -1, 1, 1)


class Coupling(nn.Module):
    def __init__(self, c, width, affine, edge, ybias, yscale):
        super().__init__()
        self.affine = affine
        self.conv1 = ConvActNorm(c // 2, width, 3, edge)
        self.conv2 = ConvActNorm(width, width, 1, False)
        self.conv3 = ConvZeros(width, c if affine else c // 2, edge)
        self.ybias = nn.Parameter(torch.zeros(c // 2)) if ybias else None
        self.yscale = nn.Parameter(torch.ones(c // 2)) if yscale else None

    def nn(self, a):
        return self.conv3(self.conv2(self.conv1(a)))

    def forward(self, x):
        a, b = x.chunk(2, 1)
        h = self.nn(a)
        if self.affine:
            s = torch.sigmoid(h[:, 1::2] + 2.0)
            b = (b + h[:, 0::2]) * s
            ld = torch.log(s).sum(dim=(1, 2, 3))
        else:
            b = b + h
            ld = torch.zeros((), dtype=x.dtype, device=x.device)
            if self.ybias is not None:
                b = b + self.ybias.view(1, -1, 1, 1)
            if self.yscale is not None:
                b = b * self.yscale.view(1, -1, 1, 1)
                ld = x.shape[2] * x.shape[3] * torch.log(self.yscale).sum()
        return torch.cat([a, b], 1), ld

    def reverse(self, y):
        a, b = y.chunk(2, 1)
        h = self.nn(a)
        if self.affine:
            b = b / torch.sigmoid(h[:, 1::2] + 2.0) - h[:, 0::2]
        else:
            if self.yscale is not None:
                b = b / self.yscale.view(1, -1, 1, 1)
            if self.ybias is not None:
                b = b - self.ybias.view(1, -1, 1, 1)
            b = b - h
        return torch.cat([a, b], 1)


class Step(nn.Module):
    def __init__(self, c, width, affine, edge, ybias, yscale):
        super().__init__()
        self.actnorm = ActNorm(c)
        self.invconv = InvConv(c)
        self.coupling = Coupling(c, width, affine, edge, ybias, yscale)

    def forward(self, x):
        x, l1 = self.actnorm(x)
        x, l2 = self.invconv(x)
        x, l3 = self.coupling(x)
        return x, l1 + l2 + l3

    def reverse(self, y):
        return self.actnorm.reverse(self.invconv.reverse(self.coupling.reverse(y)))


class Post(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.actnorm = ActNorm(c)
        self.invconv = InvConv(c)

    def forward(self, x):
        x, l1 = self.actnorm(x)
        x, l2 = self.invconv(x)
        return x, l1 + l2

    def reverse(self, y):
        return self.actnorm.reverse(self.invconv.reverse(y))


class Level(nn.Module):
    def __init__(self, cfg, l):
        super().__init__()
        c = 12 * 2 ** l
        self.c = c
        affine = cfg["coupling"] == "affine"
        edge = bool(cfg["edge_padding"])
        k = cfg["depth"]

        def want(kind, i):
            return cfg[kind] == "all" or (cfg[kind] == "last" and i == k - 1)

        self.steps = nn.ModuleList(
            [Step(c, cfg["width"], affine, edge, want("ybias", i), want("yscale", i)) for i in range(k)])
        self.post = Post(c) if cfg["level_post"] else None
        self.prior = ConvZeros(c // 2, c, edge) if l < cfg["n_levels"] - 1 else None


class Top(nn.Module):
    def __init__(self, h, c):
        super().__init__()
        self.mean = nn.Parameter(torch.zeros(h, h, c))     # HWC, as in the file
        self.logscale = nn.Parameter(torch.zeros(h, h, c))


def gaussian_logp(z, mean, logs):
    return (-0.5 * (math.log(2 * math.pi) + 2.0 * logs + (z - mean) ** 2 * torch.exp(-2.0 * logs))).sum(dim=(1, 2, 3))


class Glow(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.config = dict(cfg)
        L, S = cfg["n_levels"], cfg["image_size"]
        self.levels = nn.ModuleList([Level(cfg, l) for l in range(L)])
        self.top = Top(S >> L, 12 * 2 ** (L - 1))

    # ---- files -------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path, dtype=torch.float32):
        tensors, meta = st_io.read(path)
        cfg = config_from_meta(meta, tensors)
        m = cls(cfg)
        sd = m.state_dict()
        missing = sorted(set(sd) - set(tensors))
        extra = sorted(set(tensors) - set(sd))
        if missing or extra:
            raise ValueError("%s: missing tensors %s, unexpected %s" % (path, missing[:5], extra[:5]))
        for k in sd:
            if tuple(sd[k].shape) != tensors[k].shape:
                raise ValueError("%s: tensor %s has shape %s, expected %s" % (path, k, tensors[k].shape, tuple(sd[k].shape)))
        m.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
        return m.to(dtype)

    def save(self, path, meta=None):
        cfg = dict(self.config)
        if meta:
            cfg.update(meta)
        md = {"glowcam.format": "1"}
        for k in META_INT:
            md[k] = str(int(cfg[k]))
        for k in META_BOOL:
            md[k] = "true" if cfg[k] else "false"
        for k in ("coupling", "alignment", "name", "description", "training"):
            md[k] = str(cfg.get(k, ""))
        tensors = {k: v.detach().cpu().double().numpy().astype(np.float32) for k, v in self.state_dict().items()}
        st_io.write(path, tensors, md)

    # ---- flow --------------------------------------------------------------------------------
    @property
    def n_bins(self):
        return 2 ** self.config["n_bits"]

    def _as_nchw_u8(self, u8):
        if isinstance(u8, np.ndarray):
            u8 = torch.from_numpy(np.ascontiguousarray(u8))
        return u8.to(device=self.top.mean.device, dtype=torch.int64).permute(0, 3, 1, 2)

    def preprocess(self, u8):
        """uint8 NHWC -> NCHW at the centre of each n_bits bin (DESIGN.md preprocess)."""
        q = torch.div(self._as_nchw_u8(u8), 2 ** (8 - self.config["n_bits"]), rounding_mode="floor")
        dt = self.top.mean.dtype
        return q.to(dt) / self.n_bins - 0.5 + 1.0 / (2 * self.n_bins)

    def dequantize(self, u8):
        """Like preprocess but with uniform noise inside the bin (for training)."""
        q = torch.div(self._as_nchw_u8(u8), 2 ** (8 - self.config["n_bits"]), rounding_mode="floor")
        dt = self.top.mean.dtype
        x = q.to(dt) / self.n_bins - 0.5
        return x + torch.rand_like(x) / self.n_bins

    def postprocess(self, x):
        v = torch.floor((x + 0.5) * self.n_bins) * (256 // self.n_bins)
        return v.clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()

    def flow(self, x):
        n = x.shape[0]
        logdet = torch.zeros(n, dtype=x.dtype, device=x.device)
        logp = torch.zeros(n, dtype=x.dtype, device=x.device)
        eps = []
        z = x
        L = len(self.levels)
        for l, lev in enumerate(self.levels):
            z = squeeze(z)
            for st in lev.steps:
                z, ld = st(z)
                logdet = logdet + ld
            if lev.post is not None:
                z, ld = lev.post(z)
                logdet = logdet + ld
            if l < L - 1:
                z1, z2 = z.chunk(2, 1)
                h = lev.prior(z1)
                mean, logs = h[:, 0::2], h[:, 1::2]
                logp = logp + gaussian_logp(z2, mean, logs)
                eps.append((z2 - mean) * torch.exp(-logs))
                z = z1
            else:
                mean = self.top.mean.permute(2, 0, 1).unsqueeze(0)
                logs = self.top.logscale.permute(2, 0, 1).unsqueeze(0)
                logp = logp + gaussian_logp(z, mean, logs)
                eps.append((z - mean) * torch.exp(-logs))
        return eps, logdet, logp

    def nll_bpd(self, x):
        eps, logdet, logp = self.flow(x)
        D = x[0].numel()
        nll = -(logdet + logp) + D * math.log(self.n_bins)
        return nll / (D * math.log(2.0))

    def latent_from_eps(self, eps):
        return torch.cat([e.permute(0, 2, 3, 1).reshape(e.shape[0], -1) for e in eps], 1)

    def eps_from_latent(self, z):
        """latent [N, D] -> list of NCHW eps per level."""
        out, off = [], 0
        S, L = self.config["image_size"], self.config["n_levels"]
        for l in range(L):
            h = S >> (l + 1)
            c = 12 * 2 ** l
            ce = c if l == L - 1 else c // 2
            cnt = h * h * ce
            out.append(z[:, off:off + cnt].reshape(-1, h, h, ce).permute(0, 3, 1, 2))
            off += cnt
        return out

    @torch.no_grad()
    def encode(self, u8):
        x = self.preprocess(u8)
        eps, logdet, logp = self.flow(x)
        D = x[0].numel()
        bpd = (-(logdet + logp) + D * math.log(self.n_bins)) / (D * math.log(2.0))
        return self.latent_from_eps(eps), bpd

    @torch.no_grad()
    def decode(self, latent):
        if isinstance(latent, np.ndarray):
            latent = torch.from_numpy(latent)
        latent = latent.to(device=self.top.mean.device, dtype=self.top.mean.dtype)
        eps = self.eps_from_latent(latent)
        L = len(self.levels)
        z = None
        for l in range(L - 1, -1, -1):
            lev = self.levels[l]
            if l == L - 1:
                mean = self.top.mean.permute(2, 0, 1).unsqueeze(0)
                logs = self.top.logscale.permute(2, 0, 1).unsqueeze(0)
                z = mean + torch.exp(logs) * eps[l]
            else:
                h = lev.prior(z)
                z2 = h[:, 0::2] + torch.exp(h[:, 1::2]) * eps[l]
                z = torch.cat([z, z2], 1)
            if lev.post is not None:
                z = lev.post.reverse(z)
            for st in reversed(lev.steps):
                z = st.reverse(z)
            z = unsqueeze(z)
        return self.postprocess(z)

    def data_init(self, x):
        """Data-dependent init of every actnorm from one batch (x: preprocessed NCHW)."""
        for mod in self.modules():
            if isinstance(mod, ActNorm):
                mod.init_pending = True
        with torch.no_grad():
            self.flow(x)


def config_from_meta(meta, tensors=None):
    def need(k):
        if k not in meta:
            raise ValueError("metadata %s missing" % k)
        return meta[k]

    if need("glowcam.format") != "1":
        raise ValueError("glowcam.format is not 1")
    cfg = {k: int(need(k)) for k in META_INT}
    for k in META_BOOL:
        cfg[k] = {"true": True, "false": False}[need(k)]
    cfg["coupling"] = need("coupling")
    cfg["alignment"] = meta.get("alignment", "openai-eyes")
    for k in ("name", "description", "training"):
        cfg[k] = meta.get(k, "")
    for kind in ("ybias", "yscale"):
        cfg[kind] = "none"
        if tensors is not None:
            K = cfg["depth"]
            have = [[("levels.%d.steps.%d.coupling.%s" % (l, k, kind)) in tensors for k in range(K)]
                    for l in range(cfg["n_levels"])]
            if all(all(h) for h in have):
                cfg[kind] = "all"
            elif all(h[K - 1] and not any(h[:K - 1]) for h in have):
                cfg[kind] = "last"
            elif any(any(h) for h in have):
                raise ValueError("%s present in an unsupported pattern of steps" % kind)
    return cfg


def random_init(m, seed=0, scale=1.0):
    """Random weights like tools/make_random_model.py (for tests of this module alone)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in m.named_parameters():
            r = torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype)
            if name.endswith("invconv.weight"):
                q, _ = torch.linalg.qr(r)
                p.copy_(q)
            elif name.endswith("yscale"):
                p.copy_(torch.exp(0.1 * r))
            elif p.dim() == 4:
                p.copy_(r * scale / math.sqrt(p[0].numel()))
            else:
                p.copy_(0.1 * r)


def _golden(args):
    m = Glow.from_file(args.model, dtype=torch.float64)
    S = m.config["image_size"]
    rng = np.random.default_rng(args.seed)
    # smooth-ish images: a random low-resolution pattern upsampled plus noise, so that
    # the coupling networks see structure as well as noise
    base = rng.integers(0, 256, size=(args.count, max(S // 4, 1), max(S // 4, 1), 3))
    img = np.repeat(np.repeat(base, S // base.shape[1], 1), S // base.shape[2], 2)
    img = np.clip(img + rng.integers(-40, 41, size=img.shape), 0, 255).astype(np.uint8)
    z, bpd = m.encode(img)
    back = m.decode(z).numpy()
    shift = 8 - m.config["n_bits"]
    q = (img >> shift) << shift
    if not np.array_equal(back, q):
        print("warning: torch round trip differs in %d values" % int((back != q).sum()), file=sys.stderr)
    np.save(args.out + ".input.npy", img.astype(np.float32))
    np.save(args.out + ".latent.npy", z.numpy().astype(np.float32))
    np.save(args.out + ".bpd.npy", bpd.numpy().astype(np.float32))
    print("%s: %d images, bpd %s, |latent| max %.3f" % (args.out, args.count, np.round(bpd.numpy(), 4), float(z.abs().max())))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("golden")
    g.add_argument("model")
    g.add_argument("--count", type=int, default=2)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--out", required=True)
    e = sub.add_parser("encode")
    e.add_argument("model")
    e.add_argument("images")
    r = sub.add_parser("resave")
    r.add_argument("model")
    r.add_argument("out")
    args = ap.parse_args()
    if args.cmd == "golden":
        _golden(args)
    elif args.cmd == "encode":
        m = Glow.from_file(args.model, dtype=torch.float64)
        img = np.load(args.images)
        z, bpd = m.encode(np.clip(np.round(img), 0, 255).astype(np.uint8))
        for b in bpd.numpy():
            print("%.6f" % b)
    else:
        Glow.from_file(args.model).save(args.out)


if __name__ == "__main__":
    main()
