#!/usr/bin/python3
"""dequant_torch: a learnt dequantizer q(u | x) for training and evaluating glowcam's Glow models
(variational dequantization, Ho et al., Flow++, 2019).

A Glow model is a density on continuous images; the data are n_bits integers. Training and
evaluation fill each integer's bin with noise u in [0, 1)^D and bound the discrete likelihood:

    -log P(x) <= E_q[ -log p(x + u/2^n) + D log 2^n + log q(u | x) ]

With q uniform (log q = 0) that is the usual bound of openai/glow and train_glow.py. A q learnt
together with the model tightens it: the model no longer has to spread its density evenly over
every bin, and the bound is still a valid bound on the same discrete likelihood. q is used
only in training and evaluation; glowcam never needs it (it encodes at the bin centres).

q here: e ~ Logistic(0, 1)^D, y = f(e; x), u = sigmoid(y), where f is a small conditional flow
(an elementwise affine map, then affine couplings over a squeeze, each conditioned on features
of the bin-centre image). Its last convolutions start at zero, so f starts as the identity and
u = sigmoid(e) is exactly uniform: training starts from the uniform bound, not above it.

    import dequant_torch as dq
    d = dq.Dequantizer()                       # nn.Module
    u, logq = d(x_centre)                      # x_centre: NCHW bin centres (Glow.preprocess);
                                               # u in (0, 1), logq [N] natural log
    d.save(path, meta) / dq.Dequantizer.from_file(path)
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import glow_torch as gt  # noqa: E402
import st_io  # noqa: E402


def log_logistic(v):
    """log density of Logistic(0, 1) elementwise: -v - 2 softplus(-v)."""
    return -v - 2.0 * F.softplus(-v)


def soft_clamp(s, bound=3.0):
    """logscales bounded to (-bound, bound), identity near 0, so an early step cannot blow up."""
    return bound * torch.tanh(s / bound)


def zero_conv(cin, cout, k):
    c = nn.Conv2d(cin, cout, k, padding=k // 2)
    nn.init.zeros_(c.weight)
    nn.init.zeros_(c.bias)
    return c


class Coupling(nn.Module):
    """Affine coupling on a 12-channel squeezed noise: the half `which` is moved, conditioned on
    the other half and the image features."""

    def __init__(self, feat_ch, hidden, which):
        super().__init__()
        self.which = which
        self.net = nn.Sequential(nn.Conv2d(6 + feat_ch, hidden, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(hidden, hidden, 1), nn.ReLU(), zero_conv(hidden, 12, 3))

    def forward(self, y, feat):
        a, b = y[:, :6], y[:, 6:]
        keep, move = (a, b) if self.which == 0 else (b, a)
        h = self.net(torch.cat([keep, feat], 1))
        shift, logs = h[:, 0::2], soft_clamp(h[:, 1::2])
        move = move * torch.exp(logs) + shift
        out = torch.cat([keep, move], 1) if self.which == 0 else torch.cat([move, keep], 1)
        return out, logs.flatten(1).sum(1)


class Dequantizer(nn.Module):
    def __init__(self, feat=16, hidden=48, steps=2):
        super().__init__()
        self.config = {"feat": feat, "hidden": hidden, "steps": steps}
        self.features = nn.Sequential(nn.Conv2d(3, feat, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(feat, feat, 3, padding=1), nn.ReLU())
        fch = 4 * feat  # after squeeze
        self.elementwise = zero_conv(fch, 24, 3)
        self.couplings = nn.ModuleList([Coupling(fch, hidden, i % 2) for i in range(2 * steps)])

    def forward(self, x_centre):
        """Draws u ~ q(u | x) in (0, 1) with the shape of x_centre, and log q(u | x) per image."""
        v = torch.rand_like(x_centre).clamp(1e-6, 1.0 - 1e-6)
        return self.transform(x_centre, torch.log(v) - torch.log1p(-v))   # e ~ Logistic(0, 1)

    def transform(self, x_centre, e):
        """u = sigmoid(f(e; x)) and log q(u | x) for given logistic noise e."""
        feat = gt.squeeze(self.features(x_centre))
        y = gt.squeeze(e)
        h = self.elementwise(feat)
        logs = soft_clamp(h[:, 1::2])
        y = y * torch.exp(logs) + h[:, 0::2]
        logdet = logs.flatten(1).sum(1)
        for c in self.couplings:
            y, ld = c(y, feat)
            logdet = logdet + ld
        y = gt.unsqueeze(y)
        # density of u = sigmoid(y): base density, minus the flow's and the sigmoid's log-Jacobians
        # (log sigmoid'(y) is log_logistic(y)).
        logq = log_logistic(e).flatten(1).sum(1) - logdet - log_logistic(y).flatten(1).sum(1)
        return torch.sigmoid(y), logq

    def save(self, path, meta=None):
        md = {"glowcam.dequantizer": "1"}
        md.update({k: str(v) for k, v in self.config.items()})
        md.update({k: str(v) for k, v in (meta or {}).items()})
        st_io.write(path, {k: v.detach().cpu().float().numpy() for k, v in self.state_dict().items()}, md)

    @classmethod
    def from_file(cls, path):
        tensors, meta = st_io.read(path)
        if meta.get("glowcam.dequantizer") != "1":
            raise SystemExit("%s: not a dequantizer file (no glowcam.dequantizer in its metadata)" % path)
        d = cls(int(meta["feat"]), int(meta["hidden"]), int(meta["steps"]))
        d.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()})
        return d


def bound_bpd(model, deq, u8):
    """Bits/dim per image of the variational bound: model.nll_bpd at x + u/2^n plus log q."""
    xc = model.preprocess(u8)
    u, logq = deq(xc)
    x = xc - 0.5 / model.n_bins + u / model.n_bins
    D = xc[0].numel()
    return model.nll_bpd(x) + logq / (D * 0.6931471805599453)
