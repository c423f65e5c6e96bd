"""glow_grow: deepen a trained Glow without changing what it computes (net2net for flows).

    import glow_grow
    big, new = glow_grow.deepen(model, 16)     # depth 8 -> 16; `new`: the inserted Step modules
    glow_grow.init_new_steps(big, new, x)      # data-dependent init of their hidden actnorms

A step is inserted before every original step (new depth = a multiple of the old one), so the
deeper model starts as exactly the trained one and training only has to learn what the extra
steps add: a fresh depth-16 model would need the 1.6M images the depth-8 one has seen.

An inserted step is an identity:
- its coupling's last convolution is zero (as in every new Glow step), so the affine coupling
  only multiplies its second half by sigmoid(0 + 2); its actnorm divides those channels by the
  same factor beforehand (and their log-determinants cancel);
- its invconv is a channel permutation that swaps the halves, so its coupling updates the half
  the previous coupling conditioned on (an identity invconv would repeat the previous split);
  the original step after it absorbs the permutation: its actnorm's vectors are permuted and
  its invconv weight becomes W P^T, which computes the same function.
"""
import math

import torch

import glow_torch as gt


def _swap(c):
    """perm[o] = the input channel that output o takes: the halves exchanged."""
    h = c // 2
    return list(range(h, c)) + list(range(h))


def deepen(model, depth):
    cfg = model.config
    k0 = cfg["depth"]
    if depth <= k0 or depth % k0:
        raise ValueError("new depth %d must be a multiple of the model's depth %d, above it" % (depth, k0))
    if cfg["coupling"] != "affine" or cfg["ybias"] != "none" or cfg["yscale"] != "none":
        raise ValueError("deepen supports affine couplings without ybias/yscale")
    per = depth // k0                      # steps per original step: per - 1 new ones, then the original
    big = gt.Glow(dict(cfg, depth=depth)).to(next(model.parameters()).dtype)
    new = []
    with torch.no_grad():
        big.top.load_state_dict(model.top.state_dict())
        for lev, blev in zip(model.levels, big.levels):
            if lev.prior is not None:
                blev.prior.load_state_dict(lev.prior.state_dict())
            if lev.post is not None:
                blev.post.load_state_dict(lev.post.state_dict())
            c = lev.c
            perm = torch.tensor(_swap(c))
            P = torch.eye(c, dtype=torch.float64)[perm]           # (P x)[o] = x[perm[o]]
            s2 = math.log(torch.sigmoid(torch.tensor(2.0, dtype=torch.float64)).item())
            for k, st in enumerate(lev.steps):
                for j in range(per - 1):
                    ns = blev.steps[k * per + j]
                    ns.actnorm.bias.zero_()
                    # the channels the coupling scales are those P moves into the second half
                    ls = torch.zeros(c, dtype=torch.float64)
                    ls[perm[c // 2:]] = -s2
                    ns.actnorm.logscale.copy_(ls)
                    ns.invconv.weight.copy_(P)
                    ns.coupling.conv3.weight.zero_()
                    ns.coupling.conv3.bias.zero_()
                    ns.coupling.conv3.logscale.zero_()
                    new.append(ns)
                orig = blev.steps[k * per + per - 1]
                orig.load_state_dict(st.state_dict())
                if (per - 1) % 2:
                    # each new step swaps the halves, so after an odd count the input is P x:
                    # permute the actnorm's vectors and fold P^T into the invconv
                    orig.actnorm.bias.copy_(st.actnorm.bias[perm])
                    orig.actnorm.logscale.copy_(st.actnorm.logscale[perm])
                    orig.invconv.weight.copy_((st.invconv.weight.double() @ P.t()).to(st.invconv.weight.dtype))
    return big, new


def init_new_steps(model, new, x):
    """Data-dependent init of the inserted steps' conv1/conv2 actnorms (x: a preprocessed batch).
    The model's output does not change: their conv3 is still zero."""
    for st in new:
        st.coupling.conv1.actnorm.init_pending = True
        st.coupling.conv2.actnorm.init_pending = True
    with torch.no_grad():
        model.flow(x)
