#!/usr/bin/python3
"""OpenAI glow-demo conversion, end to end on synthetic demo graphs.

    openai_test.py --glowcam BIN --tools DIR --work DIR [--backends reference,auto]

For both graph kinds (and an unoptimized graph without the encoder's flow ops, which
makes the converter read the decoder): tools/make_openai_test_graph.py writes the graph,
an input image and its reference latent (float64 numpy, TensorFlow conventions);
tools/convert_openai_glow.py converts the graph; `glowcam encode` on the converted model
must give the reference latent (relative L2 error < 1e-4) and `glowcam decode` must give
back the input quantised to 5 bits. Then: missing nodes and a truncated graph give exit 1
with messages naming what is missing and no output file, and a z_manipulate-shaped array
(40 x 196608) converts to 40 attribute files with the demo's sign flips and scaling.
Every check prints what it measured.
"""
import argparse
import os
import shutil
import struct
import json
import subprocess
import sys

import numpy as np

FAILS = []


def check(ok, what):
    print("%s: %s" % ("ok  " if ok else "FAIL", what))
    if not ok:
        FAILS.append(what)


def run(cmd, expect=0):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != expect:
        print("command: %s\nexit %d (expected %d)\nstdout:\n%s\nstderr:\n%s" % (" ".join(cmd), r.returncode, expect,
                                                                          r.stdout, r.stderr))
        raise SystemExit("FAIL: %s exited %d" % (os.path.basename(cmd[1] if cmd[0].endswith("python3") else cmd[0]),
                                                 r.returncode))
    return r


def read_st(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    h = json.loads(data[8:8 + n])
    meta = h.pop("__metadata__", {})
    out = {}
    for k, v in h.items():
        b, e = v["data_offsets"]
        out[k] = np.frombuffer(data[8 + n + b:8 + n + e], "<f4").reshape(v["shape"])
    return out, meta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glowcam", required=True)
    ap.add_argument("--tools", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--backends", default="reference,auto")
    a = ap.parse_args()
    py = sys.executable
    gen = os.path.join(a.tools, "make_openai_test_graph.py")
    conv = os.path.join(a.tools, "convert_openai_glow.py")
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)

    # the last case has the demo's geometry (256 px, 6 levels: eps (128,128,6) ... (4,4,384),
    # 196,608 values) with a small depth and width
    geo = ["--image-size", "256", "--levels", "6", "--depth", "2", "--width", "8"]
    cases = [("unoptimized", []), ("optimized", []), ("unoptimized-decoder-only", ["--no-encoder-flow"]),
             ("optimized-demo-geometry", geo)]
    for name, extra in cases:
        d = os.path.join(a.work, name)
        run([py, gen, "--kind", name.split("-")[0], "--out", d] + extra)
        model = os.path.join(d, "model.safetensors")
        # --verify runs the graph's own encoder, absent from the decoder-only graph
        r = run([py, conv, "model", os.path.join(d, "graph.pb"), model] + ([] if "decoder-only" in name else ["--verify"]))
        print(r.stdout.strip())
        if name == "unoptimized-decoder-only":
            check("decoder" in r.stdout and "encoder" not in r.stdout.split("sources:")[1],
                  "%s: weights were read from the decoder ops" % name)
        ref = np.load(os.path.join(d, "reference.npy")).astype(np.float64).reshape(-1)
        # the reference backend is slow at 256 px under the sanitizers: auto (OpenBLAS) there
        for be in (a.backends.split(",") if "geometry" not in name else ["auto"]):
            z = os.path.join(d, "z-%s.npy" % be)
            r = run([a.glowcam, "encode", os.path.join(d, "input.png"), "-m", model, "-o", z, "--backend", be])
            got = np.load(z).astype(np.float64).reshape(-1)
            if got.shape != ref.shape:
                check(False, "%s/%s: latent has %d values, reference %d" % (name, be, got.size, ref.size))
                continue
            err = np.linalg.norm(got - ref) / np.linalg.norm(ref)
            check(err < 1e-4, "%s/%s: glowcam encode vs reference latent: relative L2 error %.3g (< 1e-4), "
                  "max abs %.3g over %d values" % (name, be, err, np.max(np.abs(got - ref)), ref.size))
            png = os.path.join(d, "dec-%s.png" % be)
            run([a.glowcam, "decode", os.path.join(d, "reference.npy"), "-m", model, "-o", png, "--backend", be])
            zd = os.path.join(d, "z-dec-%s.npy" % be)
            run([a.glowcam, "encode", png, "-m", model, "-o", zd, "--backend", be])
            err2 = np.linalg.norm(np.load(zd).astype(np.float64).reshape(-1) - ref) / np.linalg.norm(ref)
            check(err2 < 1e-4, "%s/%s: glowcam decode(reference latent) gives an image in the input's 5-bit bins: "
                  "it re-encodes to the reference with relative error %.3g" % (name, be, err2))

    # missing nodes: both the encoder and the decoder copy of one 1x1 kernel, and the
    # top prior of the encoder and of the decoder
    d = os.path.join(a.work, "missing")
    drops = ["model/1_1/2/invconv/Conv2D", "model_1/1_1/2/invconv/Conv2D", "model/prior/strided_slice",
             "model_1/prior/strided_slice"]
    run([py, gen, "--kind", "unoptimized", "--out", d] + sum((["--drop", x] for x in drops), []))
    out = os.path.join(d, "model.safetensors")
    r = run([py, conv, "model", os.path.join(d, "graph.pb"), out], expect=1)
    msg = r.stderr
    print(msg.strip())
    check("2 weight(s) not found" in msg and "levels.1.steps.2.invconv.weight" in msg
          and "model/1_1/2/invconv/Conv2D" in msg and "model_1/1_1/2/invconv/Conv2D" in msg
          and "top.mean" in msg and "graph.pb" in msg,
          "missing nodes: exit 1, the message names the tensors and the nodes looked for")
    check(not os.path.exists(out) and not os.path.exists(out + ".tmp"), "missing nodes: no output file written")

    # a truncated graph (like the partial copies that circulate)
    t = os.path.join(d, "truncated.pb")
    with open(os.path.join(a.work, "unoptimized", "graph.pb"), "rb") as f:
        data = f.read()
    with open(t, "wb") as f:
        f.write(data[:len(data) // 2])
    r = run([py, conv, "model", t, out], expect=1)
    print(r.stderr.strip())
    check("truncated" in r.stderr and "truncated.pb" in r.stderr, "truncated graph: exit 1, message says truncated")
    check(not os.path.exists(out), "truncated graph: no output file written")

    # z_manipulate-shaped input
    d = os.path.join(a.work, "attributes")
    os.makedirs(d)
    rng = np.random.default_rng(3)
    zm = rng.standard_normal((40, 196608)).astype(np.float32)
    np.save(os.path.join(d, "z_manipulate.npy"), zm)
    geo_model = os.path.join(a.work, "optimized-demo-geometry", "model.safetensors")
    r = run([py, conv, "attributes", os.path.join(d, "z_manipulate.npy"), os.path.join(d, "out"), "--model", geo_model])
    print(r.stdout.strip())
    files = sorted(os.listdir(os.path.join(d, "out")))
    check(len(files) == 40 and "Smiling.safetensors" in files and "No_Beard.safetensors" in files,
          "z_manipulate: %d attribute files written" % len(files))
    worst = 0.0
    tags = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
            "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
            "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
            "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
            "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()
    meta_ok = True
    for i, tag in enumerate(tags):
        t, meta = read_st(os.path.join(d, "out", tag + ".safetensors"))
        f = {"No_Beard": -1.0, "Young": -1.0, "Narrow_Eyes": 1.2}.get(tag, 1.0)
        worst = max(worst, float(np.max(np.abs(t["vector"] - zm[i] * f))))
        meta_ok &= (meta.get("kind") == "attribute" and meta.get("name") == tag and meta.get("model_sha256") == ""
                    and meta.get("glowcam.format") == "1" and ("row %d" % i) in meta.get("source", ""))
    check(worst < 1e-6, "z_manipulate: vectors = rows (No_Beard, Young negated, Narrow_Eyes x1.2): max abs diff %.3g"
          % worst)
    check(meta_ok, "z_manipulate: metadata kind/name/model_sha256/source as api.md fixes them")
    r = run([py, conv, "attributes", os.path.join(d, "z_manipulate.npy"), os.path.join(d, "small"), "--model",
             os.path.join(a.work, "optimized", "model.safetensors")], expect=1)
    check("196608" in r.stderr and "3072" in r.stderr, "z_manipulate: refused for a model with another latent size: %s"
          % r.stderr.strip())
    np.save(os.path.join(d, "bad.npy"), zm[:39])
    r = run([py, conv, "attributes", os.path.join(d, "bad.npy"), os.path.join(d, "bad")], expect=1)
    check("bad.npy" in r.stderr and "40" in r.stderr, "z_manipulate: a 39-row array is refused with a message: %s"
          % r.stderr.strip())

    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
