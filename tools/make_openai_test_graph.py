#!/usr/bin/python3
"""make_openai_test_graph: a small synthetic copy of OpenAI's Glow demo graph, for testing
tools/convert_openai_glow.py without OpenAI's files.

    make_openai_test_graph.py --kind unoptimized|optimized --out DIR [--image-size 32
        --levels 3 --depth 3 --width 16 --seed 1] [--no-encoder-flow] [--drop NODE ...]

Writes DIR/graph.pb (a frozen TensorFlow GraphDef), DIR/input.png (a random RGB image),
DIR/input.npy (the same pixels, uint8 [S,S,3]) and DIR/reference.npy (float32 [1, S*S*3]:
the encoder's latent, glowcam's layout) plus DIR/info.json.

The graph has the node names, op structure and layouts of the demo graphs as far as
../shared/data/openai-glow shows them (README there):
  unoptimized: scopes model (encoder) and model_1 (decoder); weights are TensorFlow
    constant-folded nodes named VAR/read/_N__cf__N, exp(3*logs) factors are folded as
    .../Exp/_N__cf__N, inverse 1x1 kernels as model_1/L_1/S/invconv/Reshape/_N__cf__N;
    3x3 convolutions use OpenAI's edge padding (Pad + mask channel + VALID conv); every
    step adds a bias from a label embedding y_emb and a conditional branch f(cond)*0.0,
    the last step of each level scales by sigmoid(y_emb[h:] + 0*f + 2); each level ends
    with actnorm + invconv; the top prior comes from a pyramid over a downsampled image.
  optimized: scopes model_2 (encoder) and model_3 (decoder); the coupling network is in
    NCHW with fused weights f1/l_*_NCHW/{EW, G, B, EG, EB} (EdgeBias, blocksparse layout
    [K, 8]: the edge-padding channel folded into one bias per border class, EG = 1);
    the conditioning is frozen into constants (label 0, downsampled image 128).
    The names of the optimized graph's other weights and constants are not known from
    the partial copy; they are guesses documented in docs/openai-glow.md.

The reference latent is computed here in float64 numpy with TensorFlow's conventions
(NHWC, conv weights [kh, kw, in, out], out_j = sum_i z_i W[i][j]), independently of the
converter. The encoder input is floor(x/8)/32 - 0.5 + 1/64 (the demo's optimized graph;
the unoptimized one adds uniform noise instead, replaced by its mean here).
--no-encoder-flow leaves out the encoder's flow ops (the converter must then read the
decoder); --drop removes the named nodes (tests the converter's error messages).
"""
import argparse
import json
import os
import struct
import sys
import zlib

import numpy as np

DT_FLOAT, DT_INT32, DT_UINT8 = 1, 3, 4


# ---------------------------------------------------------------- protobuf wire format

def _varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field, wt):
    return _varint((field << 3) | wt)


def _ld(field, payload):
    return _key(field, 2) + _varint(len(payload)) + payload


def _vi(field, n):
    return _key(field, 0) + _varint(int(n))


def _shape_pb(dims):
    return b"".join(_ld(2, _vi(1, d)) for d in dims)


def _tensor_pb(arr, dtype):
    a = np.asarray(arr)
    out = _vi(1, dtype) + _ld(2, _shape_pb(a.shape))
    if a.size == 1:  # scalars as value fields, like TensorFlow writes them
        if dtype == DT_FLOAT:
            out += _ld(5, struct.pack("<f", float(a.reshape(-1)[0])))
        else:
            out += _ld(7, _varint(int(a.reshape(-1)[0])))
    else:
        np_dt = {DT_FLOAT: "<f4", DT_INT32: "<i4", DT_UINT8: "u1"}[dtype]
        out += _ld(4, np.ascontiguousarray(a, dtype=np_dt).tobytes())
    return out


def _attr_pb(v):
    kind, val = v
    if kind == "type":
        return _vi(6, val)
    if kind == "i":
        return _vi(3, val)
    if kind == "f":
        return _key(4, 5) + struct.pack("<f", val)
    if kind == "b":
        return _vi(5, 1 if val else 0)
    if kind == "s":
        return _ld(2, val.encode())
    if kind == "shape":
        return _ld(7, _shape_pb(val))
    if kind == "tensor":
        return _ld(8, _tensor_pb(*val))
    if kind == "list_i":
        return _ld(1, _ld(3, b"".join(_varint(x) for x in val)))
    raise ValueError(kind)


class Graph:
    def __init__(self):
        self.nodes = []  # (name, op, inputs, attrs)
        self.names = set()
        self.cf = 0

    def node(self, name, op, inputs=(), **attrs):
        if name in self.names:
            raise ValueError("duplicate node " + name)
        self.names.add(name)
        self.nodes.append((name, op, list(inputs), attrs))
        return name

    def const(self, name, arr, dtype=DT_FLOAT):
        return self.node(name, "Const", [], dtype=("type", dtype), value=("tensor", (arr, dtype)))

    def folded(self, base, arr):
        """A TensorFlow constant-folded node: BASE/_N__cf__N."""
        n = self.cf
        self.cf += 1
        return self.const("%s/_%d__cf__%d" % (base, n, n), np.asarray(arr, np.float32))

    def serialize(self, drop=()):
        out = bytearray()
        for name, op, inputs, attrs in self.nodes:
            if name in drop:
                continue
            nd = _ld(1, name.encode()) + _ld(2, op.encode())
            for i in inputs:
                nd += _ld(3, i.encode())
            for k in sorted(attrs):
                nd += _ld(5, _ld(1, k.encode()) + _ld(2, _attr_pb(attrs[k])))
            out += _ld(1, nd)
        out += _ld(4, _vi(1, 27))  # versions.producer
        return bytes(out)


F32 = ("type", DT_FLOAT)
I32 = ("type", DT_INT32)


# ---------------------------------------------------------------- graph pieces (TF op names)

def binop(g, op, name, a, b):
    return g.node(name, op, [a, b], T=F32)


def unop(g, op, name, a):
    return g.node(name, op, [a], T=F32)


def sslice(g, name, x, begin, end, strides, bmask, emask, shrink=0, T=F32):
    g.const(name + "/stack", np.array(begin, np.int32), DT_INT32)
    g.const(name + "/stack_1", np.array(end, np.int32), DT_INT32)
    g.const(name + "/stack_2", np.array(strides, np.int32), DT_INT32)
    return g.node(name, "StridedSlice", [x, name + "/stack", name + "/stack_1", name + "/stack_2"],
                  Index=I32, T=T, begin_mask=("i", bmask), end_mask=("i", emask),
                  ellipsis_mask=("i", 0), new_axis_mask=("i", 0), shrink_axis_mask=("i", shrink))


def ch_head(g, name, x, n):   # x[..., :n]
    return sslice(g, name, x, [0, 0, 0, 0], [0, 0, 0, n], [1, 1, 1, 1], 15, 7)


def ch_tail(g, name, x, n):   # x[..., n:]
    return sslice(g, name, x, [0, 0, 0, n], [0, 0, 0, 0], [1, 1, 1, 1], 7, 15)


def ch_step2(g, name, x, start):   # x[..., start::2]
    return sslice(g, name, x, [0, 0, 0, start], [0, 0, 0, 0], [1, 1, 1, 2], 15 if start == 0 else 7, 15)


def conv(g, name, x, w, padding="VALID", fmt="NHWC"):
    return g.node(name, "Conv2D", [x, w], T=F32, data_format=("s", fmt), dilations=("list_i", [1, 1, 1, 1]),
                  padding=("s", padding), strides=("list_i", [1, 1, 1, 1]), use_cudnn_on_gpu=("b", True))


def to_5bit(g, scope, x, names):
    """The graph's pixel preprocessing, floor(x / 8) / 32 - 0.5, as nodes scope/names[0..3]."""
    for nm, val, op in zip(names, (8.0, None, 32.0, 0.5), ("RealDiv", "Floor", "RealDiv", "Sub")):
        if val is None:
            x = unop(g, op, scope + "/" + nm, x)
        else:
            g.const(scope + "/%s/y" % nm, np.array(val, np.float32))
            x = binop(g, op, scope + "/" + nm, x, scope + "/%s/y" % nm)
    return x


def reshape(g, name, x, shape):
    g.const(name + "/shape", np.array(shape, np.int32), DT_INT32)
    return g.node(name, "Reshape", [x, name + "/shape"], T=F32, Tshape=I32)


def transpose(g, name, x, perm):
    g.const(name + "/perm", np.array(perm, np.int32), DT_INT32)
    return g.node(name, "Transpose", [x, name + "/perm"], T=F32, Tperm=I32)


def concat(g, name, a, b):
    g.const(name + "/axis", np.array(3, np.int32), DT_INT32)
    return g.node(name, "ConcatV2", [a, b, name + "/axis"], N=("i", 2), T=F32, Tidx=I32)


def edge_pad(g, scope, x, mask):
    """OpenAI's add_edge_padding: zero Pad, then a Tile of the shared border mask, concat last."""
    g.const(scope + "/Pad/paddings", np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32), DT_INT32)
    p = g.node(scope + "/Pad", "Pad", [x, scope + "/Pad/paddings"], T=F32, Tpaddings=I32)
    s = g.node(scope + "/Shape", "Shape", [p], T=F32, out_type=I32)
    ss = sslice(g, scope + "/strided_slice", s, [0], [1], [1], 0, 0, shrink=1, T=I32)
    for i in (1, 2, 3):
        g.const(scope + "/Tile/multiples/%d" % i, np.array(1, np.int32), DT_INT32)
    m = g.node(scope + "/Tile/multiples", "Pack", [ss] + [scope + "/Tile/multiples/%d" % i for i in (1, 2, 3)],
               N=("i", 4), T=I32, axis=("i", 0))
    t = g.node(scope + "/Tile", "Tile", [mask, m], T=F32, Tmultiples=I32)
    return concat(g, scope + "/concat", p, t)


def mask_array(h, w):
    m = np.zeros((1, h + 2, w + 2, 1), np.float32)
    m[:, 0, :, 0] = m[:, -1, :, 0] = m[:, :, 0, 0] = m[:, :, -1, 0] = 1.0
    return m


# ---------------------------------------------------------------- the model (TF conventions)

class Model:
    def __init__(self, rng, S, L, K, width, cc=8, cw=6):
        self.S, self.L, self.K, self.width, self.cc, self.cw = S, L, K, width, cc, cw
        self.p = {}
        r = lambda *shape, s=0.1: (rng.standard_normal(shape) * s)
        P = self.p
        for l in range(L):
            C = 12 * 2 ** l
            h = C // 2
            for s in range(K):
                v = "model/%d/%d" % (l, s)
                self._actnorm_inv(rng, v, C)
                P[v + "/f1/l_1/W"] = r(3, 3, h + 1, width, s=0.3 / np.sqrt(9 * h))
                P[v + "/f1/l_1/actnorm_center/b"] = r(1, 1, 1, width)
                P[v + "/f1/l_1/actnorm_scale/logs"] = r(1, 1, 1, width, s=0.05)
                P[v + "/f1/l_2/W"] = r(1, 1, width, width, s=1.0 / np.sqrt(width))
                P[v + "/f1/l_2/actnorm_center/b"] = r(1, 1, 1, width)
                P[v + "/f1/l_2/actnorm_scale/logs"] = r(1, 1, 1, width, s=0.05)
                P[v + "/f1/l_last/W"] = r(3, 3, width + 1, h, s=0.3 / np.sqrt(9 * width))
                P[v + "/f1/l_last/b"] = r(1, 1, 1, h)
                P[v + "/f1/l_last/logs"] = r(1, h, s=0.05)
                k = 2 * h if s == K - 1 else h
                P[v + "/y_emb/W"] = r(1, k)
                P[v + "/y_emb/b"] = r(1, k)
                P[v + "/y_emb/logs"] = r(1, k, s=0.05)
                P[v + "/f/l_1/W"] = r(3, 3, cc + 1, cw)
                P[v + "/f/l_1/actnorm_center/b"] = r(1, 1, 1, cw)
                P[v + "/f/l_1/actnorm_scale/logs"] = r(1, 1, 1, cw, s=0.05)
                P[v + "/f/l_2/W"] = r(3, 3, cw + 1, k)
                P[v + "/f/l_2/b"] = r(1, 1, 1, k)
                P[v + "/f/l_2/logs"] = r(1, k, s=0.05)
            self._actnorm_inv(rng, "model/%d" % l, C)
            if l < L - 1:
                P["model/pool%d/conv/W" % l] = r(3, 3, h + 1, C, s=0.3 / np.sqrt(9 * h))
                P["model/pool%d/conv/b" % l] = r(1, 1, 1, C)
                P["model/pool%d/conv/logs" % l] = r(1, C, s=0.05)
            v = "model/%d/cond0" % l
            P[v + "/l_1/W"] = r(3, 3, cc + 1, cw, s=0.3)
            P[v + "/l_1/actnorm_center/b"] = r(1, 1, 1, cw)
            P[v + "/l_1/actnorm_scale/logs"] = r(1, 1, 1, cw, s=0.05)
            P[v + "/l_2/W"] = r(3, 3, cw + 1, cc, s=0.1)
            P[v + "/l_2/b"] = r(1, 1, 1, cc)
            P[v + "/l_2/logs"] = r(1, cc, s=0.05)
        Ct = 12 * 2 ** (L - 1)
        P["model/cond0/W"] = r(3, 3, 4, cc, s=0.3)
        P["model/cond0/actnorm_center/b"] = r(1, 1, 1, cc)
        P["model/cond0/actnorm_scale/logs"] = r(1, 1, 1, cc, s=0.05)
        P["model/y_emb/W"] = r(1, cc)
        P["model/y_emb/b"] = r(1, cc)
        P["model/y_emb/logs"] = r(1, cc, s=0.05)
        P["model/Reshape_2"] = r(1, 1, 1, cc)
        P["model/prior/p2/W"] = r(3, 3, cc + 1, 2 * Ct, s=0.05)
        P["model/prior/p2/b"] = r(1, 1, 1, 2 * Ct)
        P["model/prior/p2/logs"] = r(1, 2 * Ct, s=0.05)
        for k in P:
            P[k] = P[k].astype(np.float32)

    def _actnorm_inv(self, rng, v, C):
        q = np.linalg.qr(rng.standard_normal((C, C)))[0]
        self.p[v + "/invconv/W"] = q + 0.2 * rng.standard_normal((C, C)) / np.sqrt(C)  # not orthogonal on purpose
        self.p[v + "/invconv/actnorm_center/b"] = rng.standard_normal((1, 1, 1, C)) * 0.1
        self.p[v + "/invconv/actnorm_scale/logs"] = rng.standard_normal((1, 1, 1, C)) * 0.05

    # float64 numpy forward, TensorFlow layouts, batch 1 (leading dim kept)
    def e(self, name):
        return np.exp(3.0 * self.p[name].astype(np.float64))

    def w(self, name):
        return self.p[name].astype(np.float64)


def np_conv_valid(x, w):
    n, H, W, C = x.shape
    kh, kw, _, K = w.shape
    Ho, Wo = H - kh + 1, W - kw + 1
    cols = np.concatenate([x[:, dy:dy + Ho, dx:dx + Wo, :] for dy in range(kh) for dx in range(kw)], axis=3)
    return cols.reshape(-1, kh * kw * C).dot(w.reshape(kh * kw * C, K)).reshape(n, Ho, Wo, K)


def np_edge_conv(x, w):
    n, H, W, C = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    m = np.broadcast_to(mask_array(H, W).astype(np.float64), (n, H + 2, W + 2, 1))
    return np_conv_valid(np.concatenate([xp, m], axis=3), w)


def np_squeeze(x):
    n, H, W, C = x.shape
    x = x.reshape(n, H // 2, 2, W // 2, 2, C).transpose(0, 1, 3, 5, 2, 4)
    return x.reshape(n, H // 2, W // 2, 4 * C)


def reference_cond(m):
    """The conditioning pyramid fed with the demo's constants: label 0, image of 128s."""
    S, L = m.S, m.L
    xd = np.full((1, S // 2, S // 2, 3), 128.0)
    xd = np.floor(xd / 8) / 32 - 0.5
    onehot = np.ones((1, 1))
    y = (onehot.dot(m.w("model/y_emb/W")) + m.w("model/y_emb/b")) * m.e("model/y_emb/logs")
    c = (np_edge_conv(xd, m.w("model/cond0/W")) + m.w("model/cond0/actnorm_center/b")) * m.e("model/cond0/actnorm_scale/logs")
    c = c + (y.reshape(1, 1, 1, -1) + m.w("model/Reshape_2"))
    for l in range(L):
        if l > 0:
            n, H, W, C = c.shape
            c = c.reshape(n, H // 2, 2, W // 2, 2, C).mean(axis=(2, 4))
        v = "model/%d/cond0" % l
        t = np.maximum(c, 0)
        t = (np_edge_conv(t, m.w(v + "/l_1/W")) + m.w(v + "/l_1/actnorm_center/b")) * m.e(v + "/l_1/actnorm_scale/logs")
        t = np.maximum(t, 0)
        t = (np_edge_conv(t, m.w(v + "/l_2/W")) + m.w(v + "/l_2/b")) * m.e(v + "/l_2/logs").reshape(1, 1, 1, -1)
        c = c + t
    hp = (np_edge_conv(np.maximum(c, 0), m.w("model/prior/p2/W")) + m.w("model/prior/p2/b")) \
        * m.e("model/prior/p2/logs").reshape(1, 1, 1, -1)
    Ct = hp.shape[3] // 2
    return hp[..., :Ct], hp[..., Ct:]


def ybias(m, l, s):
    v = "model/%d/%d/y_emb" % (l, s)
    y = (np.ones((1, 1)).dot(m.w(v + "/W")) + m.w(v + "/b")) * m.e(v + "/logs")
    return y.reshape(-1)


def reference_encode(m, u8):
    x = u8.astype(np.float64)[None]
    x = np.floor(x / 8) / 32 - 0.5 + 1.0 / 64
    z = np_squeeze(x)
    eps = []
    top_mean, top_logs = reference_cond(m)
    for l in range(m.L):
        C = z.shape[3]
        h = C // 2
        for s in range(m.K):
            v = "model/%d/%d" % (l, s)
            z = (z + m.w(v + "/invconv/actnorm_center/b")) * m.e(v + "/invconv/actnorm_scale/logs")
            z = z.dot(m.w(v + "/invconv/W"))
            z1, z2 = z[..., :h], z[..., h:]
            t = np_edge_conv(z1, m.w(v + "/f1/l_1/W"))
            t = np.maximum((t + m.w(v + "/f1/l_1/actnorm_center/b")) * m.e(v + "/f1/l_1/actnorm_scale/logs"), 0)
            t = np_conv_valid(t, m.w(v + "/f1/l_2/W"))
            t = np.maximum((t + m.w(v + "/f1/l_2/actnorm_center/b")) * m.e(v + "/f1/l_2/actnorm_scale/logs"), 0)
            t = np_edge_conv(t, m.w(v + "/f1/l_last/W"))
            t = (t + m.w(v + "/f1/l_last/b")) * m.e(v + "/f1/l_last/logs").reshape(1, 1, 1, -1)
            y = ybias(m, l, s)
            if s == m.K - 1:
                z2 = (z2 + t + y[:h]) * (1.0 / (1.0 + np.exp(-(y[h:] + 2.0))))
            else:
                z2 = z2 + t + y
            z = np.concatenate([z1, z2], axis=3)
        v = "model/%d" % l
        z = (z + m.w(v + "/invconv/actnorm_center/b")) * m.e(v + "/invconv/actnorm_scale/logs")
        z = z.dot(m.w(v + "/invconv/W"))
        if l < m.L - 1:
            z1, z2 = z[..., :h], z[..., h:]
            v = "model/pool%d/conv" % l
            hp = (np_edge_conv(z1, m.w(v + "/W")) + m.w(v + "/b")) * m.e(v + "/logs").reshape(1, 1, 1, -1)
            eps.append((z2 - hp[..., 0::2]) / np.exp(hp[..., 1::2]))
            z = np_squeeze(z1)
        else:
            eps.append((z - top_mean) / np.exp(top_logs))
    return np.concatenate([e.reshape(1, -1) for e in eps], axis=1)


# ---------------------------------------------------------------- graph writers

class Writer:
    def __init__(self, m, kind, enc_flow=True):
        self.m, self.kind, self.g = m, kind, Graph()
        self.opt = kind == "optimized"
        self.E, self.D = ("model_2", "model_3") if self.opt else ("model", "model_1")
        self.enc_flow = enc_flow
        self.wcache = {}
        self.masks = {}

    # a weight as the graph stores it: VAR/read/_N__cf__N (unoptimized) or VAR (optimized)
    def var(self, name, arr=None):
        if name not in self.wcache:
            a = self.m.p[name] if arr is None else arr
            if self.opt:
                self.wcache[name] = self.g.const(name, a)
            else:
                self.wcache[name] = self.g.folded(name + "/read", a)
        return self.wcache[name]

    def mask(self, H):
        if H not in self.masks:
            S2 = self.m.S // 2
            name = "model/cond0/Const" if H == S2 else "model/%d/cond0/l_1/Const" % (int(np.log2(S2 // H)))
            self.masks[H] = self.g.const(name, mask_array(H, H))
        return self.masks[H]

    def escale(self, opname, var, sign=1.0):
        """exp(sign*3*logs) of variable VAR: one folded constant in the unoptimized graph,
        Mul + Exp ops on the variable in the optimized one."""
        g = self.g
        logs = self.m.p[var].astype(np.float64)
        if not self.opt:
            return g.folded(opname, np.exp(sign * 3.0 * logs).astype(np.float32))
        base = opname.rsplit("/", 1)[0]
        g.const(base + "/mul/y", np.array(3.0 * sign, np.float32))
        return unop(g, "Exp", opname, binop(g, "Mul", base + "/mul", self.var(var), base + "/mul/y"))

    # -- pieces
    def edge_conv_act(self, scope, x, H, wvar, bvar, lvar, zeros=False, sign=1.0):
        """conv2d (actnorm) or conv2d_zeros (b + Exp) with edge padding, NHWC."""
        g = self.g
        c = conv(g, scope + "/Conv2D", edge_pad(g, scope, x, self.mask(H)), self.var(wvar))
        if zeros:
            a = binop(g, "Add", scope + "/add", c, self.var(bvar))
            return binop(g, "Mul", scope + "/mul_1", a, self.escale(scope + "/Exp", lvar))
        a = binop(g, "Add", scope + "/actnorm_center/add", c, self.var(bvar))
        return binop(g, "Mul", scope + "/actnorm_scale/mul_1", a, self.escale(scope + "/actnorm_scale/Exp", lvar))

    def f1_nhwc(self, F, v, x, H):
        g = self.g
        t = self.edge_conv_act(F + "/f1/l_1", x, H, v + "/f1/l_1/W", v + "/f1/l_1/actnorm_center/b",
                               v + "/f1/l_1/actnorm_scale/logs")
        t = unop(g, "Relu", F + "/f1/Relu", t)
        c = conv(g, F + "/f1/l_2/Conv2D", t, self.var(v + "/f1/l_2/W"))
        a = binop(g, "Add", F + "/f1/l_2/actnorm_center/add", c, self.var(v + "/f1/l_2/actnorm_center/b"))
        t = binop(g, "Mul", F + "/f1/l_2/actnorm_scale/mul_1", a,
                  self.escale(F + "/f1/l_2/actnorm_scale/Exp", v + "/f1/l_2/actnorm_scale/logs"))
        t = unop(g, "Relu", F + "/f1/Relu_1", t)
        return self.edge_conv_act(F + "/f1/l_last", t, H, v + "/f1/l_last/W", v + "/f1/l_last/b",
                                  v + "/f1/l_last/logs", zeros=True)

    def fused(self, v, layer, edge):
        """Optimized weights of one f1 layer: EW (no mask channel), G, B, and EG/EB [K, 8]."""
        key = (v, layer)
        if key in self.wcache:
            return self.wcache[key]
        m = self.m
        W = m.p[v + "/f1/%s/W" % layer]
        if layer == "l_last":
            b, logs = m.p[v + "/f1/l_last/b"], m.p[v + "/f1/l_last/logs"]
        else:
            b, logs = m.p[v + "/f1/%s/actnorm_center/b" % layer], m.p[v + "/f1/%s/actnorm_scale/logs" % layer]
        K = W.shape[3]
        s = v + "/f1/%s_NCHW/" % layer
        out = {}
        if edge:
            wm = W[:, :, -1, :].astype(np.float64)  # mask-channel taps [3,3,K]
            W = W[:, :, :-1, :]
            top, bot, lef, rig = wm[0].sum(0), wm[2].sum(0), wm[:, 0].sum(0), wm[:, 2].sum(0)
            # blocksparse ConvEdgeBias classes, in order of first output position:
            # top-left, top, top-right, left, right, bottom-left, bottom, bottom-right
            eb = np.stack([top + lef - wm[0, 0], top, top + rig - wm[0, 2], lef, rig,
                           bot + lef - wm[2, 0], bot, bot + rig - wm[2, 2]], axis=1)
            out["EG"] = self.g.const(s + "EG", np.ones((K, 8), np.float32))
            out["EB"] = self.g.const(s + "EB", eb.astype(np.float32))
        out["G"] = self.g.const(s + "G", np.exp(3.0 * logs.astype(np.float64)).reshape(1, K, 1, 1).astype(np.float32))
        out["B"] = self.g.const(s + "B", b.reshape(1, K, 1, 1))
        out["EW"] = self.g.const(s + "EW", W)
        self.wcache[key] = out
        return out

    def f1_nchw(self, F, v, x):
        g = self.g
        t = transpose(g, F + "/transpose", x, [0, 3, 1, 2])
        for layer, edge, relu in (("l_1", True, "Relu"), ("l_2", False, "Relu_1"), ("l_last", True, None)):
            w = self.fused(v, layer, edge)
            sc = F + "/f1/%s_NCHW" % layer
            t = conv(g, sc + "/Conv2D", t, w["EW"], padding="SAME", fmt="NCHW")
            if edge:
                lut = g.const(sc + "/edge_bias_lut", np.zeros(16, np.int32), DT_INT32)
                t = g.node(sc + "/EdgeBias", "EdgeBias", [t, w["EG"], w["EB"], lut], layout=("i", 0),
                           entries=("i", 0), inference=("b", True), bench=("i", 0))
            t = binop(g, "Add", sc + "/add", t, w["B"])
            t = binop(g, "Mul", sc + "/mul", t, w["G"])
            if relu:
                t = unop(g, "Relu", F + "/f1/" + relu, t)
        return transpose(g, F + "/transpose_1", t, [0, 2, 3, 1])

    def actnorm_invconv(self, F, v, x, C):
        g = self.g
        a = binop(g, "Add", F + "/invconv/actnorm_center/add", x, self.var(v + "/invconv/actnorm_center/b"))
        a = binop(g, "Mul", F + "/invconv/actnorm_scale/mul_1", a,
                  self.escale(F + "/invconv/actnorm_scale/Exp", v + "/invconv/actnorm_scale/logs"))
        W = self.m.p[v + "/invconv/W"]
        if self.opt:
            w = reshape(g, F + "/invconv/Reshape", self.var(v + "/invconv/W"), [1, 1, C, C])
        else:
            w = g.folded(F + "/invconv/Reshape", W.reshape(1, 1, C, C))
        return conv(g, F + "/invconv/Conv2D", a, w, padding="SAME")

    def inv_invconv_actnorm(self, F, v, x, C):
        """Decoder: inverse 1x1 conv, then actnorm reversed (x * exp(-3 logs) - b)."""
        g = self.g
        Winv = np.linalg.inv(self.m.p[v + "/invconv/W"].astype(np.float64)).astype(np.float32)
        c = conv(g, F + "/invconv/Conv2D", x, g.folded(F + "/invconv/Reshape", Winv.reshape(1, 1, C, C)), padding="SAME")
        a = binop(g, "Mul", F + "/invconv/actnorm_scale/mul_1", c,
                  self.escale(F + "/invconv/actnorm_scale/Exp", v + "/invconv/actnorm_scale/logs", sign=-1.0))
        return binop(g, "Sub", F + "/invconv/actnorm_center/sub", a, self.var(v + "/invconv/actnorm_center/b"))

    def step_conditioning(self, S, l, s, cond, H, yinput):
        """y_emb + 0*f(cond) of one step (ops under S = scope/l/s). Returns (shift, scale or None)."""
        g, m = self.g, self.m
        v = "model/%d/%d" % (l, s)
        last = s == m.K - 1
        h = 12 * 2 ** l // 2
        k = 2 * h if last else h
        if self.opt:  # frozen into constants
            y = ybias(m, l, s)
            if last:
                shift = g.const(S + "/add", y[:h].reshape(1, 1, 1, h).astype(np.float32))
                sc = 1.0 / (1.0 + np.exp(-(y[h:] + 2.0)))
                return shift, g.const(S + "/Sigmoid", sc.reshape(1, 1, 1, h).astype(np.float32))
            return g.const(S + "/add", y.reshape(1, 1, 1, h).astype(np.float32)), None
        mm = g.node(S + "/y_emb/MatMul", "MatMul", [yinput, self.var(v + "/y_emb/W")], T=F32,
                    transpose_a=("b", False), transpose_b=("b", False))
        a = binop(g, "Add", S + "/y_emb/add", mm, self.var(v + "/y_emb/b"))
        a = binop(g, "Mul", S + "/y_emb/mul_1", a, self.escale(S + "/y_emb/Exp", v + "/y_emb/logs"))
        r = reshape(g, S + "/Reshape", a, [-1, 1, 1, k])
        t = unop(g, "Relu", S + "/Relu", cond)
        t = self.edge_conv_act(S + "/f/l_1", t, H, v + "/f/l_1/W", v + "/f/l_1/actnorm_center/b",
                               v + "/f/l_1/actnorm_scale/logs")
        t = unop(g, "Relu", S + "/f/Relu", t)
        f = self.edge_conv_act(S + "/f/l_2", t, H, v + "/f/l_2/W", v + "/f/l_2/b", v + "/f/l_2/logs", zeros=True)
        if not last:
            g.const(S + "/mul/y", np.array(0.0, np.float32))
            z = binop(g, "Mul", S + "/mul", f, S + "/mul/y")
            return binop(g, "Add", S + "/add", r, z), None
        a0 = ch_head(g, S + "/strided_slice", r, h)
        f0 = ch_step2(g, S + "/strided_slice_1", f, 0)
        g.const(S + "/mul/y", np.array(0.0, np.float32))
        shift = binop(g, "Add", S + "/add", a0, binop(g, "Mul", S + "/mul", f0, S + "/mul/y"))
        a1 = ch_tail(g, S + "/strided_slice_2", r, h)
        f1 = ch_step2(g, S + "/strided_slice_3", f, 1)
        g.const(S + "/mul_1/y", np.array(0.0, np.float32))
        t = binop(g, "Add", S + "/add_1", a1, binop(g, "Mul", S + "/mul_1", f1, S + "/mul_1/y"))
        g.const(S + "/add_2/y", np.array(2.0, np.float32))
        return shift, unop(g, "Sigmoid", S + "/Sigmoid", binop(g, "Add", S + "/add_2", t, S + "/add_2/y"))

    def cond_pyramid(self, M):
        """Downsampled image + label -> per-level features (returns names of M/l/add) and y input."""
        g, m = self.g, self.m
        S2 = m.S // 2
        oh = g.node(M + "/one_hot", "OneHot", ["input/label:0", M + "/one_hot/depth", M + "/one_hot/on_value",
                                                M + "/one_hot/off_value"], T=I32, TI=I32, axis=("i", -1))
        g.const(M + "/one_hot/depth", np.array(1, np.int32), DT_INT32)
        g.const(M + "/one_hot/on_value", np.array(1, np.int32), DT_INT32)
        g.const(M + "/one_hot/off_value", np.array(0, np.int32), DT_INT32)
        yin = g.node(M + "/Cast_2", "Cast", [oh], SrcT=I32, DstT=F32, Truncate=("b", False))
        mm = g.node(M + "/y_emb/MatMul", "MatMul", [yin, self.var("model/y_emb/W")], T=F32,
                    transpose_a=("b", False), transpose_b=("b", False))
        a = binop(g, "Add", M + "/y_emb/add", mm, self.var("model/y_emb/b"))
        a = binop(g, "Mul", M + "/y_emb/mul_1", a, self.escale(M + "/y_emb/Exp", "model/y_emb/logs"))
        r = reshape(g, M + "/Reshape_1", a, [-1, 1, 1, m.cc])
        if M == "model":
            self.reshape2 = g.folded("model/Reshape_2", m.p["model/Reshape_2"])
        enc = M == "model"  # the decoder copy names its two adds add, add_1 (observed)
        y0 = binop(g, "Add", M + ("/add_1" if enc else "/add"), r, self.reshape2)
        c = g.node(M + "/Cast", "Cast", ["input/downsampled_image:0"], SrcT=("type", DT_UINT8), DstT=F32,
                   Truncate=("b", False))
        c = to_5bit(g, M, c, ("truediv", "Floor", "truediv_1", "sub"))
        c = self.edge_conv_act(M + "/cond0", c, S2, "model/cond0/W", "model/cond0/actnorm_center/b",
                               "model/cond0/actnorm_scale/logs")
        c = binop(g, "Add", M + ("/add_2" if enc else "/add_1"), c, y0)
        feats = []
        H = S2
        for l in range(m.L):
            if l > 0:
                c = g.node(M + "/avg_pool" + ("" if l == 1 else "_%d" % (l - 1)), "AvgPool", [c], T=F32,
                           data_format=("s", "NHWC"), ksize=("list_i", [1, 2, 2, 1]), padding=("s", "SAME"),
                           strides=("list_i", [1, 2, 2, 1]))
                H //= 2
            v = "model/%d/cond0" % l
            t = unop(g, "Relu", M + "/%d/Relu" % l, c)
            t = self.edge_conv_act(M + "/%d/cond0/l_1" % l, t, H, v + "/l_1/W", v + "/l_1/actnorm_center/b",
                                   v + "/l_1/actnorm_scale/logs")
            t = unop(g, "Relu", M + "/%d/cond0/Relu" % l, t)
            t = self.edge_conv_act(M + "/%d/cond0/l_2" % l, t, H, v + "/l_2/W", v + "/l_2/b", v + "/l_2/logs",
                                   zeros=True)
            c = binop(g, "Add", M + "/%d/add" % l, c, t)
            feats.append(c)
        return feats, yin

    def top_prior(self, M, feats):
        g, m = self.g, self.m
        Ct = 12 * 2 ** (m.L - 1)
        if self.opt:
            mean, logs = reference_cond(m)
            return (g.const(M + "/prior/strided_slice", mean.astype(np.float32)),
                    g.const(M + "/prior/strided_slice_1", logs.astype(np.float32)))
        t = unop(g, "Relu", M + "/Relu", feats[-1])
        hp = self.edge_conv_act(M + "/prior/p2", t, m.S // 2 ** m.L, "model/prior/p2/W", "model/prior/p2/b",
                                "model/prior/p2/logs", zeros=True)
        return ch_head(g, M + "/prior/strided_slice", hp, Ct), ch_tail(g, M + "/prior/strided_slice_1", hp, Ct)

    def write(self):
        g, m = self.g, self.m
        S, L, K = m.S, m.L, m.K
        g.node("input/image" if not self.opt else "input/enc_x", "Placeholder", [], dtype=("type", DT_UINT8),
               shape=("shape", [-1, S, S, 3]))
        if not self.opt:
            g.node("input/downsampled_image", "Placeholder", [], dtype=("type", DT_UINT8),
                   shape=("shape", [-1, S // 2, S // 2, 3]))
            g.node("input/label", "Placeholder", [], dtype=I32, shape=("shape", [-1]))
            feats, yin = self.cond_pyramid("model")
        else:
            feats, yin = [None] * L, None
        E = self.E
        # encoder
        x = g.node(E + "/Cast_1", "Cast", ["input/image:0" if not self.opt else "input/enc_x:0"],
                   SrcT=("type", DT_UINT8), DstT=F32, Truncate=("b", False))
        x = to_5bit(g, E, x, ("truediv_2", "Floor_1", "truediv_3", "sub_1"))
        if self.opt:
            g.const(E + "/add/y", np.array(1.0 / 64, np.float32))
            x = binop(g, "Add", E + "/add", x, E + "/add/y")
        else:  # z + uniform(0, 1/32)
            sh = g.node(E + "/Shape", "Shape", [x], T=F32, out_type=I32)
            ru = g.node(E + "/random_uniform/RandomUniform", "RandomUniform", [sh], T=I32, dtype=F32,
                        seed=("i", 0), seed2=("i", 0))
            g.const(E + "/random_uniform/max", np.array(1.0 / 32, np.float32))
            g.const(E + "/random_uniform/min", np.array(0.0, np.float32))
            rs = binop(g, "Sub", E + "/random_uniform/sub", E + "/random_uniform/max", E + "/random_uniform/min")
            rm = binop(g, "Mul", E + "/random_uniform/mul", ru, rs)
            rn = binop(g, "Add", E + "/random_uniform", rm, E + "/random_uniform/min")
            x = binop(g, "Add", E + "/add", x, rn)
        x = reshape(g, E + "/Reshape_3", x, [-1, S // 2, 2, S // 2, 2, 3])
        x = transpose(g, E + "/transpose", x, [0, 1, 3, 5, 2, 4])
        z = reshape(g, E + "/Reshape_4", x, [-1, S // 2, S // 2, 12])
        top = self.top_prior(E, feats)
        for l in range(L):
            C = 12 * 2 ** l
            h = C // 2
            H = S // 2 ** (l + 1)
            for s in range(K):
                F, v = "%s/%d_1/%d" % (E, l, s), "model/%d/%d" % (l, s)
                shift, scale = self.step_conditioning("%s/%d/%d" % (E, l, s), l, s, feats[l], H, yin)
                if not self.enc_flow:
                    continue
                z = self.actnorm_invconv(F, v, z, C)
                z1, z2 = ch_head(g, F + "/strided_slice", z, h), ch_tail(g, F + "/strided_slice_1", z, h)
                t = self.f1_nchw(F, v, z1) if self.opt else self.f1_nhwc(F, v, z1, H)
                z2 = binop(g, "Add", F + "/add", z2, t)
                z2 = binop(g, "Add", F + "/add_1", z2, shift)
                if scale is not None:
                    z2 = binop(g, "Mul", F + "/mul", z2, scale)
                z = concat(g, F + "/concat", z1, z2)
            if not self.enc_flow:
                continue
            z = self.actnorm_invconv("%s/%d_1" % (E, l), "model/%d" % l, z, C)
            if l < L - 1:
                P = "%s/pool%d" % (E, l)
                z1, z2 = ch_head(g, P + "/strided_slice", z, h), ch_tail(g, P + "/strided_slice_1", z, h)
                hp = self.edge_conv_act(P + "/conv", z1, H, "model/pool%d/conv/W" % l, "model/pool%d/conv/b" % l,
                                        "model/pool%d/conv/logs" % l, zeros=True)
                mean, logs = ch_step2(g, P + "/strided_slice_2", hp, 0), ch_step2(g, P + "/strided_slice_3", hp, 1)
                d = binop(g, "Sub", P + "/sub_1", z2, mean)
                binop(g, "RealDiv", P + "/truediv_1", d, unop(g, "Exp", P + "/Exp_1", logs))
                z = reshape(g, P + "/Reshape", z1, [-1, H // 2, 2, H // 2, 2, h])
                z = transpose(g, P + "/transpose", z, [0, 1, 3, 5, 2, 4])
                z = reshape(g, P + "/Reshape_1", z, [-1, H // 2, H // 2, 4 * h])
            else:
                d = binop(g, "Sub", E + "/sub_2", z, top[0])
                binop(g, "RealDiv", E + "/truediv_4", d, unop(g, "Exp", E + "/Exp", top[1]))
        self.write_decoder()
        return g

    def write_decoder(self):
        g, m = self.g, self.m
        S, L, K = m.S, m.L, m.K
        D = self.D
        if not self.opt:
            feats, yin = self.cond_pyramid(D)
        else:
            feats, yin = [None] * L, None
        top = self.top_prior(D, feats)
        Ct = 12 * 2 ** (L - 1)
        ph = ["Placeholder" + ("" if i == 0 else "_%d" % i) if not self.opt else "dec_eps_%d" % i for i in range(L)]
        for i, name in enumerate(ph):
            Hs = S // 2 ** (i + 1)
            cs = 6 * 2 ** i if i < L - 1 else Ct
            g.node(name, "Placeholder", [], dtype=F32, shape=("shape", [-1, Hs, Hs, cs]))
        z = binop(g, "Add", D + "/add_2", top[0], binop(g, "Mul", D + "/mul", unop(g, "Exp", D + "/Exp", top[1]),
                                                          ph[L - 1] + ":0"))
        for l in reversed(range(L)):
            C = 12 * 2 ** l
            h = C // 2
            H = S // 2 ** (l + 1)
            if l < L - 1:
                P = "%s/pool%d" % (D, l)
                z = reshape(g, P + "/Reshape", z, [-1, H // 2, H // 2, h, 2, 2])
                z = transpose(g, P + "/transpose", z, [0, 1, 4, 2, 5, 3])
                z1 = reshape(g, P + "/Reshape_1", z, [-1, H, H, h])
                hp = self.edge_conv_act(P + "/conv", z1, H, "model/pool%d/conv/W" % l, "model/pool%d/conv/b" % l,
                                        "model/pool%d/conv/logs" % l, zeros=True)
                mean, logs = ch_step2(g, P + "/strided_slice", hp, 0), ch_step2(g, P + "/strided_slice_1", hp, 1)
                z2 = binop(g, "Add", P + "/add_1", mean,
                           binop(g, "Mul", P + "/mul_1", unop(g, "Exp", P + "/Exp_1", logs), ph[l] + ":0"))
                z = concat(g, P + "/concat", z1, z2)
            z = self.inv_invconv_actnorm("%s/%d_1" % (D, l), "model/%d" % l, z, C)
            for s in reversed(range(K)):
                F, v = "%s/%d_1/%d" % (D, l, s), "model/%d/%d" % (l, s)
                shift, scale = self.step_conditioning("%s/%d/%d" % (D, l, s), l, s, feats[l], H, yin) \
                    if not self.opt else (self.g_name(E=self.E, l=l, s=s, what="add"),
                                          self.g_name(E=self.E, l=l, s=s, what="Sigmoid") if s == K - 1 else None)
                z1, z2 = ch_head(g, F + "/strided_slice", z, h), ch_tail(g, F + "/strided_slice_1", z, h)
                if scale is not None:
                    z2 = binop(g, "RealDiv", F + "/truediv", z2, scale)
                z2 = binop(g, "Sub", F + "/sub", z2, shift)
                t = self.f1_nchw(F, v, z1) if self.opt else self.f1_nhwc(F, v, z1, H)
                z2 = binop(g, "Sub", F + "/sub_1", z2, t)
                z = concat(g, F + "/concat", z1, z2)
                z = self.inv_invconv_actnorm(F, v, z, C)
        z = reshape(g, D + "/Reshape_3", z, [-1, S // 2, S // 2, 3, 2, 2])
        z = transpose(g, D + "/transpose", z, [0, 1, 4, 2, 5, 3])
        z = reshape(g, D + "/Reshape_4", z, [-1, S, S, 3])
        for nm, val, op in (("add_3", 0.5, "Add"), ("mul_1", 32.0, "Mul")):
            g.const(D + "/%s/y" % nm, np.array(val, np.float32))
            z = binop(g, op, D + "/" + nm, z, D + "/%s/y" % nm)
        z = unop(g, "Floor", D + "/Floor_1", z)
        g.const(D + "/mul_2/y", np.array(8.0, np.float32))
        z = binop(g, "Mul", D + "/mul_2", z, D + "/mul_2/y")
        g.const(D + "/clip_by_value/clip_value_min", np.array(0.0, np.float32))
        g.const(D + "/clip_by_value/clip_value_max", np.array(255.0, np.float32))
        z = g.node(D + "/clip_by_value", "ClipByValue", [z, D + "/clip_by_value/clip_value_min",
                                                         D + "/clip_by_value/clip_value_max"], T=F32)
        g.node(D + "/Cast_1", "Cast", [z], SrcT=F32, DstT=("type", DT_UINT8), Truncate=("b", False))

    @staticmethod
    def g_name(E, l, s, what):
        return "%s/%d/%d/%s" % (E, l, s, what)


def write_png(path, rgb):
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    with open(path + ".tmp", "wb") as f:
        f.write(png)
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kind", choices=("unoptimized", "optimized"), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--levels", type=int, default=3)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-encoder-flow", action="store_true")
    ap.add_argument("--drop", action="append", default=[])
    ap.add_argument("--no-reference", action="store_true", help="skip the reference latent (full-size timing runs)")
    a = ap.parse_args()
    S, L = a.image_size, a.levels
    if S % 2 ** L or S // 2 ** L < 3 or a.depth < 2:
        sys.exit("make_openai_test_graph: need image_size divisible by 2^levels with the top level >= 3x3, depth >= 2")
    rng = np.random.default_rng(a.seed)
    m = Model(rng, S, L, a.depth, a.width)
    u8 = rng.integers(0, 256, size=(S, S, 3), dtype=np.uint8)
    ref = None if a.no_reference else reference_encode(m, u8).astype(np.float32)
    g = Writer(m, a.kind, enc_flow=not a.no_encoder_flow).write()
    for d in a.drop:
        if d not in g.names:
            sys.exit("make_openai_test_graph: --drop %s: no such node" % d)
    os.makedirs(a.out, exist_ok=True)
    data = g.serialize(drop=set(a.drop))
    with open(os.path.join(a.out, "graph.pb.tmp"), "wb") as f:
        f.write(data)
    os.replace(os.path.join(a.out, "graph.pb.tmp"), os.path.join(a.out, "graph.pb"))
    write_png(os.path.join(a.out, "input.png"), u8)
    np.save(os.path.join(a.out, "input.npy"), u8)
    if ref is not None:
        np.save(os.path.join(a.out, "reference.npy"), ref)
    info = dict(kind=a.kind, image_size=S, n_levels=L, depth=a.depth, width=a.width, seed=a.seed,
                nodes=len(g.nodes) - len(a.drop), bytes=len(data), latent=S * S * 3)
    with open(os.path.join(a.out, "info.json"), "w") as f:
        json.dump(info, f, indent=1)
    print("make_openai_test_graph: %s graph, %d nodes, %d bytes -> %s" % (a.kind, info["nodes"], len(data), a.out))


if __name__ == "__main__":
    main()
