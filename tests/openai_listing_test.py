#!/usr/bin/python3
"""The converter against the structure of OpenAI's real demo graphs.

    openai_listing_test.py DATA_DIR TOOLS_DIR      (DATA_DIR = ${GLOWCAM_DATA}/openai-glow)

DATA_DIR holds node listings decoded from truncated copies of graph_unoptimized.pb and
graph_optimized.pb (names, ops, inputs, attributes, shapes; no weight values). This test
rebuilds the unoptimized graph's nodes from the listing, stands in for each weight beyond
the cut with a constant of the shape inferred there (0.5 everywhere, a random well-
conditioned matrix for the decoder's 1x1 kernels), and runs the converter's extraction
on it: every glowcam tensor must be found through the real graph's ops (the decoder's,
since the encoder's flow ops lie beyond the cut), the label-embedding biases and the top
prior must evaluate through the real conditioning ops, and the configuration and every
shape must come out as DESIGN.md says for a 256 px, 6 x 32, width 512 model. The values
are meaningless: this checks names, op structure, layouts and shapes only. The optimized
graph's one complete fused layer (model/5/31/f1/l_last_NCHW) is converted the same way.
"""
import os
import re
import sys
import types

import numpy as np

FAILS = []


def check(ok, what):
    print("%s: %s" % ("ok  " if ok else "FAIL", what))
    if not ok:
        FAILS.append(what)


TYPES = {"float32": 1, "float64": 2, "int32": 3, "uint8": 4, "int64": 9, "bool": 10}


class FakeTensor:
    def __init__(self, a):
        self.a = a

    def array(self):
        return self.a


def parse_attrs(s):
    out = {}
    for kv in filter(None, s.split(";")):
        k, _, v = kv.partition("=")
        if v.startswith("[") and v.endswith("]"):
            out[k] = [int(x) for x in v[1:-1].split(",") if x]
        elif v in ("true", "false"):
            out[k] = v == "true"
        elif re.match(r"^-?\d+$", v):
            out[k] = int(v)
        elif v in TYPES:
            out[k] = TYPES[v]
        else:
            out[k] = v
    return out


def shape_of(s):
    s = s.strip("[]")
    return [] if not s else [int(x) for x in s.split(",")]


def const_value(dtype, shape, attrs):
    v = attrs.get("value", "")
    dt = np.float32 if dtype == "float32" else (np.uint8 if dtype == "uint8" else np.int32)
    if v.startswith("border-mask"):
        m = np.zeros(shape, np.float32)
        m[:, 0], m[:, -1], m[:, :, 0], m[:, :, -1] = 1, 1, 1, 1
        return m
    if v.startswith("splat:"):
        return np.full(shape, float(v[6:]), dt)
    if v == "":
        raise ValueError("const without a value")
    return np.array([float(x) for x in v.split(",")], dt).reshape(shape)


def main():
    data, tools = sys.argv[1], sys.argv[2]
    sys.path.insert(0, tools)
    import convert_openai_glow as cv

    def node(name, op, inputs, attr):
        n = cv.Node.__new__(cv.Node)
        n.name, n.op, n.inputs, n.attr = name, op, [i for i in inputs if i and not i.startswith("^")], attr
        return n

    nodes = {}
    for line in open(os.path.join(data, "unoptimized_nodes.tsv")):
        if line.startswith("#"):
            continue
        f = line.rstrip("\n").split("\t")
        name, op, inputs, dtype, shape, content, attrs = f
        if content.startswith("TRUNCATED") or "<CUT>" in inputs:
            continue
        if op == "Const":
            raw = dict(kv.partition("=")[::2] for kv in attrs.split(";") if kv).get("value", "")
            a = {"value": FakeTensor(const_value(dtype, shape_of(shape), {"value": raw}))}
        else:
            a = parse_attrs(attrs)
        nodes[name] = node(name, op, inputs.split(",") if inputs else [], a)
    rng = np.random.default_rng(0)
    n_ref = 0
    for line in open(os.path.join(data, "unoptimized_undecoded_refs.tsv")):
        if line.startswith("#"):
            continue
        name, _, _, role, dtype, shp = line.rstrip("\n").split("\t")
        if role == "Placeholder":
            nodes[name] = node(name, "Placeholder", [], {"dtype": TYPES[dtype]})
            continue
        if shp == "?":  # model*/Reshape_2, added to Reshape_1 [-1,1,1,128] (README)
            shp = "[1,1,1,128]"
        shape = [int(eval(d.replace("?", "8"))) for d in shp.strip("[]").split(",")]  # hidden widths unknown: 8
        if "/invconv/Reshape/" in name:
            c = shape[-1]
            a = (np.linalg.qr(rng.standard_normal((c, c)))[0] + 0.1 * np.eye(c)).reshape(shape).astype(np.float32)
        else:
            a = np.broadcast_to(np.float32(0.5), shape)
        nodes[name] = node(name, "Const", [], {"value": FakeTensor(a)})
        n_ref += 1
    print("listing: %d nodes (%d weights beyond the cut stood in by constants of their inferred shapes)"
          % (len(nodes), n_ref))

    shapes = {}

    class Ex(cv.Extractor):
        def put(self, name, v, shape=None):  # keep shapes only: 170M values are not needed
            if v is None:
                return
            v = np.asarray(v)
            if shape is not None:
                if v.size != int(np.prod(shape)):
                    raise cv.ConvertError("%s: %d values, expected %s" % (name, v.size, shape))
                v = v.reshape(shape)
            shapes[name] = tuple(v.shape)
            if not np.all(np.isfinite(v)):
                raise cv.ConvertError("%s: non-finite" % name)

    args = types.SimpleNamespace(fused_order="bias-gain", image_size=0, n_bits=0)
    ex = Ex(nodes, args)
    try:
        _, meta = ex.run()
    except cv.ConvertError as e:
        check(False, "extraction on the real unoptimized structure: %s" % e)
        return 1
    print("sources:", ", ".join("%s %d" % kv for kv in sorted(ex.sources.items())))
    want = {"image_size": "256", "n_levels": "6", "depth": "32", "width": "512", "n_bits": "5",
            "edge_padding": "true", "level_post": "true", "coupling": "additive"}
    check(all(meta.get(k) == v for k, v in want.items()),
          "configuration read from the real graph: %s" % {k: meta.get(k) for k in want})
    expect = {}
    for l in range(6):
        C = 12 * 2 ** l
        h = C // 2
        for s in range(32):
            p = "levels.%d.steps.%d" % (l, s)
            expect.update({p + ".actnorm.bias": (C,), p + ".actnorm.logscale": (C,), p + ".invconv.weight": (C, C),
                           p + ".coupling.conv1.weight": (512, h + 1, 3, 3), p + ".coupling.conv2.weight": (512, 512, 1, 1),
                           p + ".coupling.conv3.weight": (h, 513, 3, 3), p + ".coupling.conv3.bias": (h,),
                           p + ".coupling.conv3.logscale": (h,), p + ".coupling.ybias": (h,)})
            for c in ("conv1", "conv2"):
                expect[p + ".coupling.%s.actnorm.bias" % c] = expect[p + ".coupling.%s.actnorm.logscale" % c] = (512,)
            if s == 31:
                expect[p + ".coupling.yscale"] = (h,)
        p = "levels.%d.post" % l
        expect.update({p + ".actnorm.bias": (C,), p + ".actnorm.logscale": (C,), p + ".invconv.weight": (C, C)})
        if l < 5:
            expect.update({"levels.%d.prior.weight" % l: (C, h + 1, 3, 3), "levels.%d.prior.bias" % l: (C,),
                           "levels.%d.prior.logscale" % l: (C,)})
    expect.update({"top.mean": (4, 4, 384), "top.logscale": (4, 4, 384)})
    wrong = [k for k in expect if shapes.get(k) != expect[k]]
    extra = [k for k in shapes if k not in expect]
    check(not wrong and not extra, "all %d tensors found with DESIGN.md's shapes (%d wrong or missing%s, %d unexpected)"
          % (len(expect), len(wrong), (": " + ", ".join("%s %s" % (k, shapes.get(k)) for k in wrong[:5])) if wrong else "",
             len(extra)))
    check(ex.sources.get("decoder", 0) == 6 * 32 * 12 + 6 * 3 + 5 * 3 and ex.sources.get("encoder", 0) == 0,
          "flow weights read from the decoder's ops (the encoder's lie beyond the cut): %d" % ex.sources.get("decoder", 0))
    check(ex.sources.get("graph-ybias", 0) == 192, "192 step biases evaluated through the graph's y_emb ops")
    check(ex.sources.get("graph-prior", 0) == 1, "top prior evaluated through the graph's conditioning pyramid")

    # optimized graph: the one complete fused coupling layer
    onodes = {}
    for line in open(os.path.join(data, "optimized_nodes.tsv")):
        if line.startswith("#"):
            continue
        name, op, inputs, dtype, shape, content, attrs = line.rstrip("\n").split("\t")
        if "/f1/l_last_NCHW/" in name and not content.startswith("TRUNCATED"):
            a = np.ones(shape_of(shape), np.float32) if name.endswith("/EG") else \
                rng.standard_normal(shape_of(shape)).astype(np.float32) * 0.1 + (1.0 if name.endswith("/G") else 0.0)
            onodes[name] = node(name, "Const", [], {"value": FakeTensor(a)})
    ex = Ex(onodes, args)
    ex.edge = set()
    ex.fused_layer("levels.5.steps.31.coupling.conv3", "model/5/31/f1/l_last_NCHW", "zeros", 512, 192, True)
    check(not ex.missing and shapes.get("levels.5.steps.31.coupling.conv3.weight") == (192, 513, 3, 3),
          "optimized graph: fused layer model/5/31/f1/l_last_NCHW {EW,G,B,EG,EB} -> conv3 weight %s"
          % (shapes.get("levels.5.steps.31.coupling.conv3.weight"),))
    # edge gains other than 1 have no edge-padding equivalent: refused, naming the layer
    onodes["model/5/31/f1/l_last_NCHW/EG"].attr["value"] = FakeTensor(np.full((192, 8), 1.5, np.float32))
    ex = Ex(onodes, args)
    ex.edge = set()
    try:
        ex.fused_layer("levels.5.steps.31.coupling.conv3", "model/5/31/f1/l_last_NCHW", "zeros", 512, 192, True)
        msg = ""
    except cv.ConvertError as e:
        msg = str(e)
    check("model/5/31/f1/l_last_NCHW/EG" in msg and "differs from 1" in msg,
          "optimized graph: EG != 1 is refused with a message: %s" % msg)
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
