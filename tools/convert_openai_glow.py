#!/usr/bin/python3
"""convert_openai_glow: OpenAI's pretrained CelebA-HQ Glow (the glow-demo graphs) -> glowcam.

    convert_openai_glow.py model GRAPH.pb OUT.safetensors [--name NAME] [--verify]
                           [--check-against OTHER.safetensors] [--fused-order bias-gain|gain-bias]
                           [--image-size N] [--n-bits N]
    convert_openai_glow.py attributes z_manipulate.npy OUTDIR [--raw] [--model MODEL.safetensors]

`model` reads a frozen TensorFlow GraphDef (graph_unoptimized.pb, preferred, or
graph_optimized.pb) with a protobuf wire-format reader written here (numpy only, no
TensorFlow), finds every weight through the graph's own ops, converts the layouts to
DESIGN.md's model format and writes OUT (OUT.tmp first, then renamed). Constants that
depend on the demo's fixed inputs (the label-embedding biases and scales of every step,
the top prior's mean and log-scale from the conditioning pyramid) are computed by
evaluating the graph's own nodes with a small numpy interpreter, fed with label 0 and a
downsampled image of 128s as the demo does. Anything it cannot find is listed by name
and nothing is written. --verify then runs the graph's own encoder (the interpreter again)
and glowcam's semantics on the converted tensors on one random image and compares the
latents. docs/openai-glow.md says what is known, what is assumed and how to check it.

`attributes` turns OpenAI's z_manipulate.npy (40 CelebA attribute directions, one per
row, in the latent layout glowcam uses) into glowcam attribute files OUTDIR/<Attribute>.safetensors.
Like OpenAI's demo it negates No_Beard and Young (so they point to "beard" and "old")
and scales Narrow_Eyes by 1.2; --raw keeps the rows as stored.

Exit codes: 0 done, 1 bad input (message names the file and what is wrong), 2 usage.
"""
import argparse
import math
import os
import re
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

PROG = "convert_openai_glow"


class ConvertError(Exception):
    pass


# ============================================================ protobuf wire format (GraphDef)

class ParseError(Exception):
    pass


def _varint(b, p, end):
    r = s = 0
    while True:
        if p >= end:
            raise ParseError("truncated varint at byte %d" % p)
        c = b[p]
        p += 1
        r |= (c & 0x7F) << s
        s += 7
        if not c & 0x80:
            return r, p


def _fields(b, p, end):
    """Yields (field, wiretype, value): int for varints, (start, stop) for the rest."""
    while p < end:
        tag, p = _varint(b, p, end)
        fn, wt = tag >> 3, tag & 7
        if wt == 0:
            v, p = _varint(b, p, end)
        elif wt == 2:
            n, p = _varint(b, p, end)
            if p + n > end:
                raise ParseError("field %d at byte %d claims %d bytes, %d left" % (fn, p, n, end - p))
            v = (p, p + n)
            p += n
        elif wt == 1 or wt == 5:
            n = 8 if wt == 1 else 4
            if p + n > end:
                raise ParseError("truncated fixed field at byte %d" % p)
            v = (p, p + n)
            p += n
        else:
            raise ParseError("bad wire type %d at byte %d" % (wt, p))
        yield fn, wt, v


def _sint(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _packed(b, wt, v, fmt=None, size=0):
    if wt == 2 and fmt:
        n = (v[1] - v[0]) // size
        return list(struct.unpack("<%d%s" % (n, fmt), b[v[0]:v[1]]))
    if wt == 2:
        out, p = [], v[0]
        while p < v[1]:
            x, p = _varint(b, p, v[1])
            out.append(x)
        return out
    if fmt:
        return [struct.unpack("<" + fmt, b[v[0]:v[1]])[0]]
    return [v]


NP_DT = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64,
         10: np.bool_, 19: np.float16}


class Tensor:
    """A TensorProto, decoded lazily (tensor_content stays a view of the file)."""

    def __init__(self, b, r):
        self.b, self.dtype, self.shape, self.content, self.vals = b, 0, [], None, []
        for fn, wt, v in _fields(b, r[0], r[1]):
            if fn == 1:
                self.dtype = v
            elif fn == 2:
                self.shape = _shape(b, v)
            elif fn == 4:
                self.content = v
            elif fn == 5:
                self.vals += _packed(b, wt, v, "f", 4)
            elif fn == 6:
                self.vals += _packed(b, wt, v, "d", 8)
            elif fn in (7, 10, 11):
                self.vals += [_sint(x) for x in _packed(b, wt, v)]
            elif fn == 13:  # half_val: float16 bits in int32 fields
                self.vals += list(np.array(_packed(b, wt, v), np.uint16).view(np.float16).astype(np.float32))

    def array(self):
        if self.dtype not in NP_DT:
            raise ConvertError("tensor of unsupported dtype %d" % self.dtype)
        dt = NP_DT[self.dtype]
        shape = [int(d) for d in self.shape]
        n = int(np.prod(shape)) if shape else 1
        if self.content is not None:
            a = np.frombuffer(self.b, dtype=np.dtype(dt).newbyteorder("<"), count=n, offset=self.content[0])
            if (self.content[1] - self.content[0]) != n * np.dtype(dt).itemsize:
                raise ConvertError("tensor_content has %d bytes for shape %s" % (self.content[1] - self.content[0], shape))
            return a.reshape(shape)
        v = self.vals
        if not v:
            return np.zeros(shape, dt)
        if len(v) < n:  # TensorFlow repeats the last value
            v = list(v) + [v[-1]] * (n - len(v))
        return np.array(v[:n], dtype=dt).reshape(shape)


def _shape(b, r):
    dims = []
    for fn, wt, v in _fields(b, r[0], r[1]):
        if fn == 2:
            size = 0
            for f2, w2, v2 in _fields(b, v[0], v[1]):
                if f2 == 1:
                    size = _sint(v2)
            dims.append(size)
    return dims


def _attr(b, r):
    for fn, wt, v in _fields(b, r[0], r[1]):
        if fn == 1:  # list
            out = []
            for f2, w2, v2 in _fields(b, v[0], v[1]):
                if f2 == 2:
                    out.append(bytes(b[v2[0]:v2[1]]).decode("utf-8", "replace"))
                elif f2 in (3, 6):
                    out += [_sint(x) for x in _packed(b, w2, v2)]
                elif f2 == 4:
                    out += _packed(b, w2, v2, "f", 4)
                elif f2 == 5:
                    out += [bool(x) for x in _packed(b, w2, v2)]
                elif f2 == 7:
                    out.append(_shape(b, v2))
            return out
        if fn == 2:
            return bytes(b[v[0]:v[1]]).decode("utf-8", "replace")
        if fn in (3, 6):
            return _sint(v)
        if fn == 4:
            return struct.unpack("<f", b[v[0]:v[1]])[0]
        if fn == 5:
            return bool(v)
        if fn == 7:
            return _shape(b, v)
        if fn == 8:
            return Tensor(b, v)
    return []


class Node:
    __slots__ = ("name", "op", "inputs", "attr")

    def __init__(self, b, r):
        self.name, self.op, self.inputs, self.attr = "", "", [], {}
        for fn, wt, v in _fields(b, r[0], r[1]):
            if fn == 1:
                self.name = bytes(b[v[0]:v[1]]).decode("utf-8", "replace")
            elif fn == 2:
                self.op = bytes(b[v[0]:v[1]]).decode("utf-8", "replace")
            elif fn == 3:
                s = bytes(b[v[0]:v[1]]).decode("utf-8", "replace")
                if not s.startswith("^"):  # control dependencies carry no data
                    self.inputs.append(s)
            elif fn == 5:
                k = val = None
                for f2, w2, v2 in _fields(b, v[0], v[1]):
                    if f2 == 1:
                        k = bytes(b[v2[0]:v2[1]]).decode("utf-8", "replace")
                    elif f2 == 2:
                        val = _attr(b, v2)
                self.attr[k] = val


def read_graph(path):
    with open(path, "rb") as f:
        b = f.read()
    nodes = {}
    p, end = 0, len(b)
    try:
        while p < end:
            tag, q = _varint(b, p, end)
            fn, wt = tag >> 3, tag & 7
            if wt != 2:
                raise ParseError("byte %d: not a GraphDef (top-level field %d has wire type %d)" % (p, fn, wt))
            n, q = _varint(b, q, end)
            if q + n > end:
                raise ParseError("the file is truncated: field %d at byte %d needs %d bytes, %d are left "
                                 "(after %d complete nodes)" % (fn, p, n, end - q, len(nodes)))
            if fn == 1:
                nd = Node(b, (q, q + n))
                nodes[nd.name] = nd
            p = q + n
    except ParseError as e:
        raise ConvertError("%s: %s" % (path, e))
    if not nodes:
        raise ConvertError("%s: no nodes: not a TensorFlow GraphDef" % path)
    return nodes


# ============================================================ numpy interpreter for the ops the graphs use

def _in(name):
    """'node:1' -> ('node', 1)."""
    if ":" in name:
        n, i = name.rsplit(":", 1)
        if i.isdigit():
            return n, int(i)
    return name, 0


def conv2d(x, w, padding, strides=(1, 1, 1, 1), fmt="NHWC"):
    if fmt == "NCHW":
        return conv2d(x.transpose(0, 2, 3, 1), w, padding, (1, 1, 1, 1), "NHWC").transpose(0, 3, 1, 2)
    if list(strides) != [1, 1, 1, 1]:
        raise ConvertError("Conv2D with strides %s is not supported" % (strides,))
    kh, kw, cin, cout = w.shape
    if padding == "SAME":
        x = np.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
    n, H, W, C = x.shape
    if C != cin:
        raise ConvertError("Conv2D: input has %d channels, kernel expects %d" % (C, cin))
    Ho, Wo = H - kh + 1, W - kw + 1
    if kh == 1 and kw == 1:
        return x.reshape(-1, C).dot(w.reshape(C, cout)).reshape(n, Ho, Wo, cout)
    out = None  # one GEMM per tap: no 9x im2col copy (the real model's level 0 is 128x128x513)
    for dy in range(kh):
        for dx in range(kw):
            t = np.ascontiguousarray(x[:, dy:dy + Ho, dx:dx + Wo, :]).reshape(-1, C).dot(w[dy, dx])
            out = t if out is None else out + t
    return out.reshape(n, Ho, Wo, cout)


def edge_classes(H, W):
    """Border class of each output pixel of a 3x3 SAME conv, blocksparse ConvEdgeBias order
    (classes sorted by their first pixel): 0 top-left, 1 top, 2 top-right, 3 left, 4 right,
    5 bottom-left, 6 bottom, 7 bottom-right; -1 inside."""
    if H < 3 or W < 3:
        raise ConvertError("edge bias on a %dx%d image: fewer than 8 border classes" % (H, W))
    c = np.full((H, W), -1)
    c[0, :], c[-1, :], c[:, 0], c[:, -1] = 1, 6, 3, 4
    c[0, 0], c[0, -1], c[-1, 0], c[-1, -1] = 0, 2, 5, 7
    return c


def strided_slice(x, begin, end, strides, a):
    bm, em, sm = a.get("begin_mask", 0), a.get("end_mask", 0), a.get("shrink_axis_mask", 0)
    if a.get("ellipsis_mask", 0) or a.get("new_axis_mask", 0):
        raise ConvertError("StridedSlice with ellipsis/new-axis masks is not supported")
    idx = []
    for i in range(len(begin)):
        if sm >> i & 1:
            idx.append(int(begin[i]))
            continue
        b = None if bm >> i & 1 else int(begin[i])
        e = None if em >> i & 1 else int(end[i])
        idx.append(slice(b, e, int(strides[i])))
    return x[tuple(idx)]


class Evaluator:
    """Evaluates graph nodes with numpy. Placeholders come from feeds; RandomUniform gives
    0.5 (its mean: the demo's dequantisation noise becomes OpenAI's optimized-graph offset);
    Mul by a constant scalar 0.0 is 0 without evaluating the other side (the demo's dropped
    conditional branch)."""

    def __init__(self, nodes, feeds=None):
        self.nodes, self.feeds, self.cache, self.constness = nodes, dict(feeds or {}), {}, {}

    def node(self, name):
        n = self.nodes.get(name)
        if n is None:
            raise ConvertError("node %s is missing" % name)
        return n

    def is_const(self, name):
        name = _in(name)[0]
        if name in self.constness:
            return self.constness[name]
        stack, order = [name], []
        while stack:  # iterative: the graphs are deep
            n = stack.pop()
            if n in self.constness or n in order:
                continue
            order.append(n)
            nd = self.nodes.get(n)
            if nd is not None:
                stack += [_in(i)[0] for i in nd.inputs]
        for n in reversed(order):
            nd = self.nodes.get(n)
            if nd is None or nd.op in ("Placeholder", "PlaceholderWithDefault", "RandomUniform", "RandomStandardNormal"):
                self.constness[n] = False
            elif nd.op == "Const":
                self.constness[n] = True
            else:
                self.constness[n] = all(self.constness.get(_in(i)[0], False) for i in nd.inputs)
        return self.constness[name]

    def const_input(self, opname):
        """The one input of OPNAME that does not depend on graph inputs, evaluated."""
        nd = self.node(opname)
        c = [i for i in nd.inputs if self.is_const(i)]
        if len(c) != 1:
            raise ConvertError("%s (%s) has %d constant inputs, expected 1" % (opname, nd.op, len(c)))
        return np.asarray(self.ev(c[0]))

    def ev(self, name):
        name, idx = _in(name)
        if idx:
            raise ConvertError("output %d of %s: multi-output ops are not supported" % (idx, name))
        if name in self.cache:
            return self.cache[name]
        # iterative post-order so that deep chains do not hit Python's recursion limit
        stack = [name]
        while stack:
            n = stack[-1]
            if n in self.cache:
                stack.pop()
                continue
            nd = self.node(n)
            need = [] if self._lazy(nd) else [_in(i)[0] for i in nd.inputs if _in(i)[0] not in self.cache]
            if need:
                stack += need
                continue
            try:
                self.cache[n] = self._run(nd)
            except (ValueError, IndexError, TypeError, KeyError, np.linalg.LinAlgError) as e:
                raise ConvertError("evaluating %s (%s): %s" % (n, nd.op, e))
            stack.pop()
        return self.cache[name]

    def ev_many(self, names):
        """Evaluates NAMES, dropping each intermediate value once its last consumer has run
        (the real model's encoder has gigabytes of activations)."""
        want = [_in(n)[0] for n in names]
        order, seen, stack = [], set(), [(n, False) for n in want]
        while stack:  # iterative post-order over what is needed
            n, done = stack.pop()
            if done:
                order.append(n)
                continue
            if n in seen or n in self.cache:
                continue
            seen.add(n)
            nd = self.node(n)
            stack.append((n, True))
            if not self._lazy(nd):
                stack += [(_in(i)[0], False) for i in nd.inputs]
        refs = {}
        for n in order:
            nd = self.nodes[n]
            if not self._lazy(nd):
                for i in nd.inputs:
                    refs[_in(i)[0]] = refs.get(_in(i)[0], 0) + 1
        for n in order:
            nd = self.nodes[n]
            try:
                self.cache[n] = self._run(nd)
            except (ValueError, IndexError, TypeError, KeyError, np.linalg.LinAlgError) as e:
                raise ConvertError("evaluating %s (%s): %s" % (n, nd.op, e))
            if self._lazy(nd):
                continue
            for i in nd.inputs:
                j = _in(i)[0]
                refs[j] -= 1
                if refs[j] == 0 and j not in want and j in seen and self.nodes[j].op != "Const":
                    del self.cache[j]
        return [self.cache[n] for n in want]

    def _lazy(self, nd):
        if nd.op != "Mul":
            return False
        for i in nd.inputs:
            j = _in(i)[0]
            x = self.nodes.get(j)
            if x is not None and x.op == "Const":
                v = x.attr["value"].array()
                if v.size == 1 and float(v.reshape(-1)[0]) == 0.0:
                    return True
        return False

    def _run(self, nd):
        op, a = nd.op, nd.attr
        if op == "Const":
            return a["value"].array()
        if op in ("Placeholder", "PlaceholderWithDefault"):
            if nd.name not in self.feeds:
                raise ConvertError("placeholder %s has no value" % nd.name)
            return self.feeds[nd.name]
        if self._lazy(nd):
            return np.float32(0.0)
        x = [self.cache[_in(i)[0]] for i in nd.inputs]
        f = np.float32
        if op in ("Identity", "StopGradient", "Snapshot"):
            return x[0]
        if op in ("Add", "AddV2", "BiasAdd"):
            return x[0] + x[1]
        if op == "Sub":
            return x[0] - x[1]
        if op == "Mul":
            return x[0] * x[1]
        if op in ("RealDiv", "Div"):
            return x[0] / x[1]
        if op == "Maximum":
            return np.maximum(x[0], x[1])
        if op == "Minimum":
            return np.minimum(x[0], x[1])
        if op == "Neg":
            return -x[0]
        if op == "Exp":
            return np.exp(x[0])
        if op == "Log":
            return np.log(x[0])
        if op == "Floor":
            return np.floor(x[0])
        if op == "Relu":
            return np.maximum(x[0], 0)
        if op == "Sigmoid":
            return (1.0 / (1.0 + np.exp(-x[0]))).astype(x[0].dtype)
        if op == "Square":
            return x[0] * x[0]
        if op == "Sqrt":
            return np.sqrt(x[0])
        if op == "ClipByValue":
            return np.clip(x[0], x[1], x[2])
        if op == "Cast":
            return x[0].astype(NP_DT[a["DstT"]])
        if op == "Reshape":
            return x[0].reshape([int(d) for d in np.asarray(x[1]).reshape(-1)])
        if op == "Transpose":
            return np.transpose(x[0], [int(d) for d in x[1]])
        if op == "Pad":
            return np.pad(x[0], [(int(p[0]), int(p[1])) for p in x[1]])
        if op == "Shape":
            return np.array(np.shape(x[0]), np.int32)
        if op == "StridedSlice":
            return strided_slice(np.asarray(x[0]), x[1], x[2], x[3], a)
        if op == "Pack":
            return np.stack([np.asarray(v) for v in x], axis=a.get("axis", 0))
        if op == "Tile":
            return np.tile(x[0], [int(m) for m in x[1]])
        if op == "ConcatV2":
            return np.concatenate(x[:-1], axis=int(x[-1]))
        if op in ("Sum", "Mean", "Prod", "Max", "Min"):
            fn = {"Sum": np.sum, "Mean": np.mean, "Prod": np.prod, "Max": np.max, "Min": np.min}[op]
            ax = tuple(int(i) for i in np.asarray(x[1]).reshape(-1))
            return fn(x[0], axis=ax, keepdims=bool(a.get("keep_dims", False))).astype(np.asarray(x[0]).dtype)
        if op == "Abs":
            return np.abs(x[0])
        if op in ("ZerosLike", "OnesLike"):
            return (np.zeros_like if op == "ZerosLike" else np.ones_like)(x[0])
        if op == "Fill":
            return np.full([int(d) for d in x[0]], x[1])
        if op == "MatrixDeterminant":
            return np.asarray(np.linalg.det(x[0]), x[0].dtype)
        if op == "Squeeze":
            dims = a.get("squeeze_dims") or []
            return np.squeeze(x[0], axis=tuple(dims)) if dims else np.squeeze(x[0])
        if op == "ExpandDims":
            return np.expand_dims(x[0], int(x[1]))
        if op == "OneHot":
            idx, depth, on, off = np.asarray(x[0]), int(x[1]), x[2], x[3]
            if a.get("axis", -1) != -1:
                raise ConvertError("OneHot with axis %s is not supported" % a.get("axis"))
            out = np.full(idx.shape + (depth,), off, dtype=np.asarray(on).dtype)
            for i, v in np.ndenumerate(idx):
                if 0 <= v < depth:
                    out[i + (int(v),)] = on
            return out
        if op == "MatMul":
            p, q = x
            if a.get("transpose_a"):
                p = p.T
            if a.get("transpose_b"):
                q = q.T
            return p.dot(q)
        if op == "MatrixInverse":
            return np.linalg.inv(x[0].astype(np.float64)).astype(x[0].dtype)
        if op == "Conv2D":
            return conv2d(x[0], x[1], a.get("padding", "VALID"), a.get("strides", [1, 1, 1, 1]),
                          a.get("data_format", "NHWC")).astype(f)
        if op == "AvgPool":
            if a.get("ksize") != [1, 2, 2, 1] or a.get("strides") != [1, 2, 2, 1] or a.get("data_format", "NHWC") != "NHWC":
                raise ConvertError("AvgPool %s: only 2x2/2 NHWC is supported" % nd.name)
            n, H, W, C = x[0].shape
            if H % 2 or W % 2:
                raise ConvertError("AvgPool %s on odd size %dx%d" % (nd.name, H, W))
            return x[0].reshape(n, H // 2, 2, W // 2, 2, C).mean(axis=(2, 4)).astype(x[0].dtype)
        if op in ("RandomUniform",):
            return np.full([int(d) for d in x[0]], 0.5, np.float32)
        if op == "EdgeBias":  # blocksparse: y = y * EG[:, cls] + EB[:, cls] on border pixels
            y, g, b = x[0], x[1], x[2]
            nchw = a.get("layout", 1) == 0
            if not nchw:
                y = y.transpose(0, 3, 1, 2)
                g, b = g.T, b.T
            cls = edge_classes(y.shape[2], y.shape[3])
            y = y.copy()
            for c in range(8):
                m = cls == c
                y[:, :, m] = y[:, :, m] * g[:, c][None, :, None] + b[:, c][None, :, None]
            return y if nchw else y.transpose(0, 2, 3, 1)
        raise ConvertError("op %s (%s) is not supported by this converter's interpreter" % (op, nd.name))


# ============================================================ finding the weights

def log_checked(v, what):
    v = np.asarray(v, np.float64)
    if np.any(v <= 0):
        raise ConvertError("%s: a scale factor is <= 0, so it is not exp(3*logs)" % what)
    return np.log(v)


class Extractor:
    def __init__(self, nodes, args):
        self.nodes, self.args = nodes, args
        self.opt = any(n.startswith("model_2/") for n in nodes)
        self.E, self.D = ("model_2", "model_3") if self.opt else ("model", "model_1")
        self.ev = Evaluator(nodes, {})
        self.missing, self.sources, self.notes = [], {}, []
        self.out = {}

    # -- candidates: each returns an array, or None when its node is absent
    def op(self, name):
        return None if name not in self.nodes else self.ev.const_input(name)

    def var(self, name):
        """A variable under its own name, or TensorFlow's folded VAR/read[/_N__cf__N]."""
        if name in self.nodes:
            return self.ev.ev(name)
        for cand in (name + "/read",):
            if cand in self.nodes:
                return self.ev.ev(cand)
        pre = name + "/read/_"
        for n in self.nodes:
            if n.startswith(pre) and re.match(r"^\d+__cf__\d+$", n[len(pre):]):
                return self.ev.ev(n)
        return None

    def value(self, name):
        return None if name not in self.nodes else np.asarray(self.ev.ev(name))

    def find(self, label, cands):
        """cands: [(description, thunk)]: first that finds its node wins."""
        for desc, thunk in cands:
            try:
                v = thunk()
            except ConvertError as e:
                raise ConvertError("%s: %s" % (label, e))
            if v is not None:
                kind = desc.split(":")[0]
                self.sources[kind] = self.sources.get(kind, 0) + 1
                return np.asarray(v, np.float64)
        self.missing.append("%s (looked for %s)" % (label, ", ".join(d.split(": ", 1)[1] for d, _ in cands)))
        return None

    def put(self, name, v, shape=None):
        if v is None:
            return
        v = np.asarray(v, np.float64)
        if shape is not None:
            if v.size != int(np.prod(shape)):
                raise ConvertError("%s: found %d values, expected shape %s" % (name, v.size, shape))
            v = v.reshape(shape)
        self.out[name] = v.astype(np.float32)

    # -- blocks
    def actnorm_invconv(self, out, fl, v, C):
        """Actnorm + invconv of a step (fl = L_1/S) or a level's end (fl = L_1); v = variable scope."""
        E, D = self.E, self.D
        b = self.find(out + ".actnorm.bias", [
            ("encoder: %s/%s/invconv/actnorm_center/add" % (E, fl), lambda: self.op("%s/%s/invconv/actnorm_center/add" % (E, fl))),
            ("decoder: %s/%s/invconv/actnorm_center/sub" % (D, fl), lambda: self.op("%s/%s/invconv/actnorm_center/sub" % (D, fl))),
            ("variable: %s/invconv/actnorm_center/b" % v, lambda: self.var(v + "/invconv/actnorm_center/b"))])
        ls = self.find(out + ".actnorm.logscale", [
            ("encoder: %s/%s/invconv/actnorm_scale/mul_1" % (E, fl),
             lambda: self._log(self.op("%s/%s/invconv/actnorm_scale/mul_1" % (E, fl)), 1, out)),
            ("decoder: %s/%s/invconv/actnorm_scale/mul_1" % (D, fl),
             lambda: self._log(self.op("%s/%s/invconv/actnorm_scale/mul_1" % (D, fl)), -1, out)),
            ("variable: %s/invconv/actnorm_scale/logs" % v, lambda: self._x3(self.var(v + "/invconv/actnorm_scale/logs")))])
        W = self.find(out + ".invconv.weight", [
            ("encoder: %s/%s/invconv/Conv2D" % (E, fl), lambda: self.op("%s/%s/invconv/Conv2D" % (E, fl))),
            ("decoder: %s/%s/invconv/Conv2D" % (D, fl), lambda: self._inv(self.op("%s/%s/invconv/Conv2D" % (D, fl)), C)),
            ("variable: %s/invconv/W" % v, lambda: self.var(v + "/invconv/W"))])
        self.put(out + ".actnorm.bias", b, [C])
        self.put(out + ".actnorm.logscale", ls, [C])
        if W is not None:
            if W.size != C * C:
                raise ConvertError("%s.invconv.weight: %d values, expected %dx%d" % (out, W.size, C, C))
            self.put(out + ".invconv.weight", W.reshape(C, C).T)  # TF out_j = sum_i z_i W[i][j]

    def _log(self, v, sign, what):
        return None if v is None else sign * log_checked(v, what)

    @staticmethod
    def _x3(v):
        return None if v is None else 3.0 * np.asarray(v, np.float64)

    @staticmethod
    def _inv(v, C):
        return None if v is None else np.linalg.inv(np.asarray(v, np.float64).reshape(C, C))

    def conv_layer(self, out, scopes, var_w, var_b, var_logs, kind, cin, cout, edge_ok):
        """One convolution + bias + exp(logscale): kind 'actnorm' (x+b)*exp(l) after the conv, or
        'zeros' (conv2d_zeros: + b, * exp(3 logs)). scopes: op scopes to try (encoder first)."""
        if kind == "actnorm":
            addn, muln = "actnorm_center/add", "actnorm_scale/mul_1"
        else:
            addn, muln = "add", "mul_1"
        wc, bc, lc = [], [], []
        for sc in scopes:
            side = "encoder" if sc.startswith(self.E + "/") else "decoder"
            wc.append(("%s: %s/Conv2D" % (side, sc), lambda sc=sc: self.op(sc + "/Conv2D")))
            bc.append(("%s: %s/%s" % (side, sc, addn), lambda sc=sc: self.op("%s/%s" % (sc, addn))))
            lc.append(("%s: %s/%s" % (side, sc, muln), lambda sc=sc: self._log(self.op("%s/%s" % (sc, muln)), 1, out)))
        wc.append(("variable: " + var_w, lambda: self.var(var_w)))
        bc.append(("variable: " + var_b, lambda: self.var(var_b)))
        lc.append(("variable: " + var_logs, lambda: self._x3(self.var(var_logs))))
        W = self.find(out + ".weight", wc)
        b = self.find(out + (".actnorm.bias" if kind == "actnorm" else ".bias"), bc)
        ls = self.find(out + (".actnorm.logscale" if kind == "actnorm" else ".logscale"), lc)
        self._put_conv(out, W, b, ls, kind, cin, cout, edge_ok)

    def _put_conv(self, out, W, b, ls, kind, cin, cout, edge_ok):
        if W is not None:
            if W.ndim != 4 or W.shape[3] != cout or W.shape[2] not in (cin, cin + 1):
                raise ConvertError("%s.weight: shape %s, expected [kh, kw, %d(+1), %d]" % (out, list(W.shape), cin, cout))
            if W.shape[2] == cin + 1:
                if not edge_ok:
                    raise ConvertError("%s.weight: an edge-padding channel on a 1x1 convolution" % out)
                self.edge.add(True)
            elif W.shape[0] > 1:
                self.edge.add(False)
            self.put(out + ".weight", W.transpose(3, 2, 0, 1))
        sfx = ".actnorm" if kind == "actnorm" else ""
        self.put(out + sfx + ".bias", b, [cout])
        self.put(out + sfx + ".logscale", ls, [cout])

    def fused_layer(self, out, pre, kind, cin, cout, edge):
        """Optimized graph: PRE/{EW, G, B[, EG, EB]} (NCHW fused conv + gain/bias + edge bias)."""
        need = ["EW", "G", "B"] + (["EG", "EB"] if edge else [])
        got = {}
        for k in need:
            v = self.value(pre + "/" + k)
            if v is None:
                self.missing.append("%s (looked for %s/%s)" % (out, pre, k))
            got[k] = v
        if any(v is None for v in got.values()):
            return
        self.sources["fused"] = self.sources.get("fused", 0) + 1
        EW = got["EW"].astype(np.float64)
        G = got["G"].astype(np.float64).reshape(-1)
        B = got["B"].astype(np.float64).reshape(-1)
        if EW.shape[2] != cin or EW.shape[3] != cout or G.size != cout or B.size != cout:
            raise ConvertError("%s: EW %s, G %d, B %d do not fit %d -> %d channels" % (pre, list(EW.shape), G.size, B.size, cin, cout))
        if edge:
            EG, EB = got["EG"].astype(np.float64), got["EB"].astype(np.float64)
            if EG.shape != (cout, 8) or EB.shape != (cout, 8):
                raise ConvertError("%s: EG/EB have shapes %s/%s, expected [%d, 8]" % (pre, EG.shape, EB.shape, cout))
            dev = float(np.max(np.abs(EG - 1.0)))
            if dev > 1e-5:
                raise ConvertError("%s/EG differs from 1 by up to %.3g: edge gains cannot be expressed as the "
                                   "edge-padding channel glowcam uses" % (pre, dev))
            EW = np.concatenate([EW, edge_taps(EB)[:, :, None, :]], axis=2)
            self.edge.add(True)
        if self.args.fused_order == "gain-bias":  # y = conv*G + B = (conv + B/G)*G
            B = B / G
        self.put(out + ".weight", EW.transpose(3, 2, 0, 1))
        sfx = ".actnorm" if kind == "actnorm" else ""
        self.put(out + sfx + ".bias", B)
        self.put(out + sfx + ".logscale", log_checked(G, pre + "/G"))

    def step_bias(self, out, l, s, h):
        """ybias (and yscale) of a step: the graph's own nodes evaluated with label 0 and the
        downsampled image of 128s; else the y_emb variables (linear_zeros with label 0)."""
        E, D = self.E, self.D
        shift = scale = None
        src = None
        for M in (E, D):
            if "%s/%d/%d/add" % (M, l, s) in self.nodes:
                shift = self.spatial_const(self.ev.ev("%s/%d/%d/add" % (M, l, s)), h, out + ".ybias")
                if "%s/%d/%d/Sigmoid" % (M, l, s) in self.nodes:
                    scale = self.spatial_const(self.ev.ev("%s/%d/%d/Sigmoid" % (M, l, s)), h, out + ".yscale")
                src = "graph"
                break
        if src is None:
            v = "model/%d/%d/y_emb" % (l, s)
            W, b, logs = self.var(v + "/W"), self.var(v + "/b"), self.var(v + "/logs")
            if W is None or b is None or logs is None:
                self.missing.append("%s (looked for %s/%d/%d/add, %s/%d/%d/add, variables %s/{W,b,logs})" % (
                    out + ".ybias", E, l, s, D, l, s, v))
                return
            y = ((W[0] + b.reshape(-1)) * np.exp(3.0 * logs.reshape(-1).astype(np.float64))).reshape(-1)
            if y.size == 2 * h:
                shift, scale = y[:h], 1.0 / (1.0 + np.exp(-(y[h:] + 2.0)))
            else:
                shift = y
            src = "variable"
        self.sources[src + "-ybias"] = self.sources.get(src + "-ybias", 0) + 1
        self.put(out + ".ybias", shift, [h])
        if scale is not None:
            self.put(out + ".yscale", scale, [h])

    @staticmethod
    def spatial_const(v, h, what):
        v = np.asarray(v, np.float64)
        if v.size % h or v.shape[-1] != h:
            raise ConvertError("%s: value of shape %s, expected %d channels" % (what, list(v.shape), h))
        flat = v.reshape(-1, h)
        if np.max(np.abs(flat - flat[0])) > 1e-6 * max(1.0, np.max(np.abs(flat))):
            raise ConvertError("%s varies over the image (the conditional branch is not constant): glowcam "
                               "cannot represent it" % what)
        return flat[0]

    def detect(self):
        pat = re.compile(r"^model(?:_\d)?/(\d+)(?:_1)?/(\d+)/(?:invconv|f1)/")
        ls = set()
        for n in self.nodes:
            m = pat.match(n)
            if m:
                ls.add((int(m.group(1)), int(m.group(2))))
        if not ls:
            raise ConvertError("no flow steps found (no node named model*/L/S/invconv/... or .../f1/...): "
                               "not OpenAI's Glow graph")
        L = max(l for l, _ in ls) + 1
        K = max(s for _, s in ls) + 1
        absent = [(l, s) for l in range(L) for s in range(K) if (l, s) not in ls]
        if absent:
            raise ConvertError("steps %s have no nodes (levels 0..%d, steps 0..%d expected)" % (
                ", ".join("%d/%d" % x for x in absent[:10]), L - 1, K - 1))
        # image size: the encoder's squeeze or the decoder's last reshape
        S = self.args.image_size
        if not S:
            for name, pos, fac, n in (("%s/Reshape_4/shape" % self.D, 1, 1, 4), ("%s/Reshape_3/shape" % self.E, 1, 2, 6),
                                      ("%s/Reshape_4/shape" % self.E, 1, 2, 4)):
                v = self.value(name)
                if v is not None and v.size == n:
                    S = int(v.reshape(-1)[pos]) * fac
                    break
        if not S:
            raise ConvertError("cannot tell the image size (no %s/Reshape_4/shape or %s/Reshape_3/shape): "
                               "give --image-size" % (self.D, self.E))
        nb = self.args.n_bits
        if not nb:
            for name in ("%s/truediv_3/y" % self.E, "%s/mul_1/y" % self.D):
                v = self.value(name)
                if v is not None and v.size == 1 and float(v) > 1:
                    nb = int(round(math.log2(float(v))))
                    break
        if not nb:
            nb = 5
            self.notes.append("n_bits not found in the graph (%s/truediv_3/y): assumed 5" % self.E)
        return S, L, K, nb

    def run(self):
        S, L, K, nb = self.detect()
        H0 = S // 2
        feeds = {}
        for name, val in (("input/label", np.zeros([1], np.int32)),):
            if name in self.nodes:
                feeds[name] = val
        if "input/downsampled_image" in self.nodes:
            shp = self.nodes["input/downsampled_image"].attr.get("shape") or []
            hw = [int(d) for d in shp[1:3]] if len(shp) == 4 and all(int(d) > 0 for d in shp[1:3]) else [H0, H0]
            feeds["input/downsampled_image"] = np.full([1] + hw + [3], 128, np.uint8)
        self.ev = Evaluator(self.nodes, feeds)
        self.edge = set()
        width = None
        E, D = self.E, self.D
        level_post = any(n.startswith(("%s/0_1/invconv/" % E, "%s/0_1/invconv/" % D, "model/0/invconv/"))
                         for n in self.nodes)
        for l in range(L):
            C = 12 * 2 ** l
            h = C // 2
            for s in range(K):
                pre, fl, v = "levels.%d.steps.%d" % (l, s), "%d_1/%d" % (l, s), "model/%d/%d" % (l, s)
                self.actnorm_invconv(pre, fl, v, C)
                nn = pre + ".coupling"
                if width is None:
                    w = self.var(v + "/f1/l_1/W")
                    if w is None:
                        w = self.value(v + "/f1/l_1_NCHW/EW")
                    if w is None:
                        for M in (E, D):
                            if "%s/%s/f1/l_1/Conv2D" % (M, fl) in self.nodes:
                                w = self.op("%s/%s/f1/l_1/Conv2D" % (M, fl))
                                break
                    if w is None:
                        raise ConvertError("cannot find the coupling network of level 0 step 0 (%s/f1/l_1/W)" % v)
                    width = int(np.asarray(w).shape[3])
                if v + "/f1/l_1_NCHW/EW" in self.nodes:
                    self.fused_layer(nn + ".conv1", v + "/f1/l_1_NCHW", "actnorm", h, width, True)
                    self.fused_layer(nn + ".conv2", v + "/f1/l_2_NCHW", "actnorm", width, width, False)
                    self.fused_layer(nn + ".conv3", v + "/f1/l_last_NCHW", "zeros", width, h, True)
                else:
                    sc = ["%s/%s/f1" % (E, fl), "%s/%s/f1" % (D, fl)]
                    self.conv_layer(nn + ".conv1", [x + "/l_1" for x in sc], v + "/f1/l_1/W", v + "/f1/l_1/actnorm_center/b",
                                    v + "/f1/l_1/actnorm_scale/logs", "actnorm", h, width, True)
                    self.conv_layer(nn + ".conv2", [x + "/l_2" for x in sc], v + "/f1/l_2/W", v + "/f1/l_2/actnorm_center/b",
                                    v + "/f1/l_2/actnorm_scale/logs", "actnorm", width, width, False)
                    self.conv_layer(nn + ".conv3", [x + "/l_last" for x in sc], v + "/f1/l_last/W", v + "/f1/l_last/b",
                                    v + "/f1/l_last/logs", "zeros", width, h, True)
                self.step_bias(nn, l, s, h)
            if level_post:
                self.actnorm_invconv("levels.%d.post" % l, "%d_1" % l, "model/%d" % l, C)
            if l < L - 1:
                sc = ["%s/pool%d/conv" % (E, l), "%s/pool%d/conv" % (D, l)]
                v = "model/pool%d/conv" % l
                self.conv_layer("levels.%d.prior" % l, sc, v + "/W", v + "/b", v + "/logs", "zeros", h, C, True)
        # top prior: mean and log-scale from the conditioning path
        Ct, Ht = 12 * 2 ** (L - 1), S // 2 ** L
        for M in (E, D):
            if "%s/prior/strided_slice" % M in self.nodes and "%s/prior/strided_slice_1" % M in self.nodes:
                mean = np.asarray(self.ev.ev("%s/prior/strided_slice" % M), np.float64)
                logs = np.asarray(self.ev.ev("%s/prior/strided_slice_1" % M), np.float64)
                self.put("top.mean", mean, [Ht, Ht, Ct])
                self.put("top.logscale", logs, [Ht, Ht, Ct])
                self.sources["graph-prior"] = 1
                break
        else:
            self.missing.append("top.mean, top.logscale (looked for %s/prior/strided_slice{,_1}, %s/prior/strided_slice{,_1})"
                                % (E, D))
        if self.missing:
            lines = self.missing[:25]
            more = len(self.missing) - len(lines)
            raise ConvertError("%d weight(s) not found:\n  %s%s" % (len(self.missing), "\n  ".join(lines),
                                                                    "\n  ... and %d more" % more if more else ""))
        if len(self.edge) > 1:
            raise ConvertError("some 3x3 convolutions have an edge-padding channel and some do not")
        meta = {"glowcam.format": "1", "image_size": str(S), "n_levels": str(L), "depth": str(K), "width": str(width),
                "coupling": "additive", "n_bits": str(nb), "edge_padding": "true" if True in self.edge else "false",
                "alignment": "openai-eyes", "level_post": "true" if level_post else "false"}
        return self.out, meta


def edge_taps(EB):
    """Inverse of the edge-bias folding: the 3x3 taps [3, 3, K] of the edge-padding channel whose
    sums over the outside taps of each border class give EB [K, 8]. The centre tap never sees
    the border: 0."""
    TL, T, TR, Lf, R, BL, B, BR = (EB[:, i] for i in range(8))
    a, c = T + Lf - TL, T + R - TR          # corners: (0,0), (0,2)
    f, hh = Lf + B - BL, R + B - BR         # (2,0), (2,2)
    w = np.zeros((3, 3, EB.shape[0]))
    w[0, 0], w[0, 2], w[2, 0], w[2, 2] = a, c, f, hh
    w[0, 1], w[1, 0] = T - a - c, Lf - a - f
    w[1, 2], w[2, 1] = R - c - hh, B - f - hh
    return w


# ============================================================ glowcam semantics in numpy (for --verify)

def np_squeeze(x):
    n, H, W, C = x.shape
    return x.reshape(n, H // 2, 2, W // 2, 2, C).transpose(0, 1, 3, 5, 2, 4).reshape(n, H // 2, W // 2, 4 * C)


def g_conv(x, w, edge):
    """x NHWC, w [out, in, kh, kw] (glowcam layout); 3x3 'same' with optional edge channel."""
    wt = w.transpose(2, 3, 1, 0)
    if w.shape[2] == 1:
        return conv2d(x, wt, "VALID")
    n, H, W, _ = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    if edge:
        m = np.ones((n, H + 2, W + 2, 1), x.dtype)
        m[:, 1:-1, 1:-1] = 0
        xp = np.concatenate([xp, m], axis=3)
    return conv2d(xp, wt, "VALID")


def glowcam_encode(t, meta, u8):
    nb, L, K = int(meta["n_bits"]), int(meta["n_levels"]), int(meta["depth"])
    edge = meta["edge_padding"] == "true"
    x = np.floor(u8.astype(np.float64) / 2 ** (8 - nb)) / 2 ** nb - 0.5 + 1.0 / 2 ** (nb + 1)
    z = np_squeeze(x[None])
    eps = []
    class T64(dict):  # float64 on access: a whole float64 copy of the real model is 1.4 GB
        def __getitem__(self, k):
            return dict.__getitem__(self, k).astype(np.float64)

        def get(self, k, d=None):
            return self[k] if k in self else d
    T = T64(t)

    def an_inv(z, p):
        z = (z + T[p + ".actnorm.bias"]) * np.exp(T[p + ".actnorm.logscale"])
        return z.dot(T[p + ".invconv.weight"].T)

    for l in range(L):
        C = z.shape[3]
        h = C // 2
        for s in range(K):
            p = "levels.%d.steps.%d" % (l, s)
            z = an_inv(z, p)
            c = p + ".coupling"
            a = g_conv(z[..., :h], T[c + ".conv1.weight"], edge)
            a = np.maximum((a + T[c + ".conv1.actnorm.bias"]) * np.exp(T[c + ".conv1.actnorm.logscale"]), 0)
            a = g_conv(a, T[c + ".conv2.weight"], edge)
            a = np.maximum((a + T[c + ".conv2.actnorm.bias"]) * np.exp(T[c + ".conv2.actnorm.logscale"]), 0)
            a = (g_conv(a, T[c + ".conv3.weight"], edge) + T[c + ".conv3.bias"]) * np.exp(T[c + ".conv3.logscale"])
            b = z[..., h:] + a + T.get(c + ".ybias", 0.0)
            if c + ".yscale" in T:
                b = b * T[c + ".yscale"]
            z = np.concatenate([z[..., :h], b], axis=3)
        if "levels.%d.post.invconv.weight" % l in T:
            z = an_inv(z, "levels.%d.post" % l)
        if l < L - 1:
            p = "levels.%d.prior" % l
            hp = (g_conv(z[..., :h], T[p + ".weight"], edge) + T[p + ".bias"]) * np.exp(T[p + ".logscale"])
            eps.append((z[..., h:] - hp[..., 0::2]) / np.exp(hp[..., 1::2]))
            z = np_squeeze(z[..., :h])
        else:
            eps.append((z - T["top.mean"][None]) / np.exp(T["top.logscale"][None]))
    return np.concatenate([e.reshape(-1) for e in eps])


def verify(nodes, ex, tensors, meta):
    """Runs the graph's own encoder (interpreter) and glowcam's semantics on one random image."""
    S, L = int(meta["image_size"]), int(meta["n_levels"])
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, size=(S, S, 3), dtype=np.uint8)
    feeds = dict(ex.ev.feeds)
    inp = [n for n in ("input/image", "input/enc_x") if n in nodes]
    if not inp:
        raise ConvertError("--verify: no encoder input (input/image or input/enc_x)")
    feeds[inp[0]] = u8[None]
    ev = Evaluator(nodes, feeds)
    outs = ["%s/pool%d/truediv_1" % (ex.E, l) for l in range(L - 1)] + ["%s/truediv_4" % ex.E]
    absent = [o for o in outs if o not in nodes]
    if absent:
        raise ConvertError("--verify: the graph has no encoder outputs %s" % ", ".join(absent))
    ref = np.concatenate([np.asarray(v, np.float64).reshape(-1) for v in ev.ev_many(outs)])
    got = glowcam_encode(tensors, meta, u8)
    err = float(np.linalg.norm(got - ref) / max(np.linalg.norm(ref), 1e-30))
    return err, float(np.max(np.abs(got - ref)))


# ============================================================ main

TAGS = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
        "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
        "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
        "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
        "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()
DEMO_FACTOR = {"No_Beard": -1.0, "Young": -1.0, "Narrow_Eyes": 1.2}


def cmd_model(a):
    nodes = read_graph(a.graph)
    ex = Extractor(nodes, a)
    try:
        tensors, meta = ex.run()
    except ConvertError as e:
        raise ConvertError("%s: %s" % (a.graph, e))
    meta["name"] = a.name
    meta["description"] = ("OpenAI's pretrained CelebA-HQ Glow (glow-demo), converted from %s by "
                           "tools/convert_openai_glow.py" % os.path.basename(a.graph))
    meta["training"] = "OpenAI: CelebA-HQ 256x256, 5 bits, additive coupling (Kingma & Dhariwal 2018)"
    src = ", ".join("%s %d" % kv for kv in sorted(ex.sources.items()))
    print("%s: %s: %s graph, %d levels x %d steps, width %d, image %s, n_bits %s, edge padding %s; %d tensors "
          "(sources: %s)" % (PROG, a.graph, "optimized" if ex.opt else "unoptimized", int(meta["n_levels"]),
                              int(meta["depth"]), int(meta["width"]), meta["image_size"], meta["n_bits"],
                              meta["edge_padding"], len(tensors), src))
    for n in ex.notes:
        print("%s: note: %s" % (PROG, n))
    bad = [k for k, v in tensors.items() if not np.all(np.isfinite(v))]
    if bad:
        raise ConvertError("%s: non-finite values in %s" % (a.graph, ", ".join(bad[:5])))
    if a.verify:
        err, mx = verify(nodes, ex, tensors, meta)
        print("%s: verify: graph encoder vs converted model on a random image: relative error %.3g, max abs %.3g"
              % (PROG, err, mx))
        if not err < 1e-4:
            raise ConvertError("%s: --verify failed: relative error %.3g (limit 1e-4)" % (a.graph, err))
    if a.check_against:
        other, _ = st_io.read(a.check_against)
        worst = 0.0
        for k, v in tensors.items():
            if k not in other or other[k].shape != v.shape:
                raise ConvertError("%s: %s is missing or shaped differently" % (a.check_against, k))
            d = float(np.max(np.abs(other[k] - v)) / max(float(np.max(np.abs(v))), 1e-12))
            worst = max(worst, d)
        print("%s: check-against %s: largest relative difference %.3g" % (PROG, a.check_against, worst))
    st_io.write(a.out, tensors, meta)
    print("%s: wrote %s" % (PROG, a.out))


def cmd_attributes(a):
    try:
        z = np.load(a.npy, allow_pickle=False)
    except Exception as e:  # numpy raises several kinds for bad files
        raise ConvertError("%s: cannot read as .npy: %s" % (a.npy, e))
    if z.ndim != 2 or z.shape[0] != len(TAGS) or not np.issubdtype(z.dtype, np.floating):
        raise ConvertError("%s: shape %s %s, expected %d float rows (one per CelebA attribute)" % (
            a.npy, list(z.shape), z.dtype, len(TAGS)))
    D = z.shape[1]
    if a.model:
        _, meta = st_io.read(a.model)
        want = int(meta.get("image_size", 0)) ** 2 * 3
        if want != D:
            raise ConvertError("%s: rows have %d values but %s's latent has %d" % (a.npy, D, a.model, want))
    if not np.all(np.isfinite(z)):
        raise ConvertError("%s: non-finite values" % a.npy)
    os.makedirs(a.outdir, exist_ok=True)
    for i, tag in enumerate(TAGS):
        f = 1.0 if a.raw else DEMO_FACTOR.get(tag, 1.0)
        note = "" if f == 1.0 else (", negated as in OpenAI's demo" if f == -1.0 else ", scaled by %g as in OpenAI's demo" % f)
        # count_pos/count_neg are left out: OpenAI's counts are not in the file
        meta = {"glowcam.format": "1", "kind": "attribute", "name": tag, "model_sha256": "",
                "source": "OpenAI %s row %d, %s%s" % (os.path.basename(a.npy), i, tag, note)}
        st_io.write(os.path.join(a.outdir, tag + ".safetensors"), {"vector": (z[i].astype(np.float64) * f).astype(np.float32)}, meta)
    print("%s: wrote %d attribute vectors of %d values to %s%s" % (PROG, len(TAGS), D, a.outdir,
                                                                   " (rows as stored)" if a.raw else
                                                                   " (No_Beard, Young negated; Narrow_Eyes x1.2)"))


def main():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("model", help="convert a glow-demo graph (.pb) to a glowcam model")
    m.add_argument("graph")
    m.add_argument("out")
    m.add_argument("--name", default="openai-celebahq-256")
    m.add_argument("--verify", action="store_true", help="run the graph's encoder and compare (slow on the real model)")
    m.add_argument("--check-against", help="compare every tensor with another conversion (e.g. of the other graph)")
    m.add_argument("--fused-order", choices=("bias-gain", "gain-bias"), default="bias-gain",
                   help="optimized graph: y = (conv + B) * G (default) or conv * G + B")
    m.add_argument("--image-size", type=int, default=0)
    m.add_argument("--n-bits", type=int, default=0)
    t = sub.add_parser("attributes", help="z_manipulate.npy -> glowcam attribute files")
    t.add_argument("npy")
    t.add_argument("outdir")
    t.add_argument("--raw", action="store_true", help="keep rows as stored (no demo sign flips/scaling)")
    t.add_argument("--model", help="check the vectors' length against this model")
    a = ap.parse_args()
    try:
        if a.cmd == "model":
            cmd_model(a)
        else:
            cmd_attributes(a)
    except ConvertError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 1
    except OSError as e:
        print("%s: error: %s: %s" % (PROG, e.filename or "", e.strerror), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
