#!/usr/bin/python3
"""train_glow: train a glowcam Glow model (DESIGN.md layout) with PyTorch, on CPU or CUDA.

The model itself is tools/glow_torch.py (the same code the C reference is tested
against), so what this exports loads in glowcam unchanged.

    # a 64x64 model of 3 levels, depth 8, width 128, for 30 minutes on the CPU
    nice -n 19 /usr/bin/python3 tools/train_glow.py --data .dev/data/celeba64.npy \\
        --levels 3 --depth 8 --width 128 --minutes 30 --out models/glowcam-64.safetensors
    # held-out bits/dim of any exported model on a data set's split (to compare models)
    /usr/bin/python3 tools/train_glow.py --data .dev/data/celeba64.npy --resume models/glowcam-64.safetensors --evaluate
    # go on from an exported model (optimizer state restarts; data-dependent init is skipped)
    /usr/bin/python3 tools/train_glow.py --data ... --resume models/glowcam-64.safetensors --minutes 30 --out ...

Data: one or more .npy files of uint8 [N, S, S, 3] aligned crops (tools/prepare_dataset.sh
makes them), each with a NAME.txt beside it listing the source file of every row. The
held-out split (5%) is chosen from a hash of those names, so it stays the same across
sessions, resumes and re-packings of the same faces. --downscale 2 averages 2x2 pixel
blocks (area) to make the 64x64 set from 128x128 crops.

Training: dequantization as in openai/glow (x = floor(u8/2^(8-n))/2^n - 0.5 + U(0, 1/2^n)),
random horizontal flips, Adam with linear warm-up then a linear decay over the last part of
the time budget, gradient-norm clipping, data-dependent actnorm init, random orthogonal
invconv init. Held-out bits/dim (with dequantization noise, fixed seed) after every epoch.
--ema D keeps an exponential moving average of the weights (Polyak averaging, as openai/glow
does): it is what gets evaluated next to the raw weights and what gets exported.
--vardeq trains a learnt dequantizer q(u | x) with the model (tools/dequant_torch.py, Flow++'s
variational dequantization): the loss and the held-out figure become that tighter bound on the
same discrete likelihood, the usual uniform figure is still printed beside it, and the
dequantizer is written next to the export (OUT.dequant.safetensors; --dequantizer FILE resumes it
or, with --evaluate, measures a model with it). glowcam itself never uses it.
--grow-depth K deepens a resumed model to K steps per level without changing its function (new
steps start as identities, tools/glow_grow.py), so extra capacity starts from the trained model.
--optimizer adamax and --logscale-lr 3 are openai/glow's other choices; from scratch on the 64x64
CelebA crops both trained slower here than the defaults (models/README.md gives the figures).
The export (safetensors, full metadata, written to a temp name then renamed) happens at
every checkpoint and at the end; extra metadata keys train.* record data, time, hardware,
steps and held-out bits/dim, accumulated over resumes.
"""
import argparse
import contextlib
import copy
import datetime
import json
import math
import os
import platform
import signal
import sys
import time
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dequant_torch as dq  # noqa: E402
import glow_grow  # noqa: E402
import glow_torch as gt  # noqa: E402
import st_io  # noqa: E402


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def hardware(device):
    if device.type == "cuda":
        return "%s (CUDA), PyTorch %s" % (torch.cuda.get_device_name(device), torch.__version__)
    cpu = platform.processor() or "CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %d threads, PyTorch %s" % (cpu, torch.get_num_threads(), torch.__version__)


def load_names(npy_path, n):
    txt = os.path.splitext(npy_path)[0] + ".txt"
    if os.path.exists(txt):
        with open(txt) as f:
            names = [l.rstrip("\n") for l in f]
        if len(names) != n:
            raise SystemExit("%s: %d names for %d images in %s" % (txt, len(names), n, npy_path))
        return names
    log("warning: %s missing: the held-out split falls back to row numbers" % txt)
    return ["%s:%d" % (os.path.basename(npy_path), i) for i in range(n)]


def load_data(paths, downscale):
    arrays, names = [], []
    for p in paths:
        try:
            a = np.load(p, mmap_mode="r")
        except (OSError, ValueError) as e:
            raise SystemExit("%s: cannot read (%s)" % (p, e))
        if a.dtype != np.uint8 or a.ndim != 4 or a.shape[3] != 3 or a.shape[1] != a.shape[2]:
            raise SystemExit("%s: expected uint8 [N, S, S, 3], got %s %s" % (p, a.dtype, a.shape))
        nm = load_names(p, a.shape[0])
        a = np.ascontiguousarray(a)
        if downscale > 1:
            n, s = a.shape[0], a.shape[1]
            if s % downscale:
                raise SystemExit("%s: size %d not divisible by --downscale %d" % (p, s, downscale))
            out = np.empty((n, s // downscale, s // downscale, 3), np.uint8)
            for i in range(0, n, 1024):  # in chunks: float copies of the whole set are large
                blk = a[i:i + 1024].reshape(-1, s // downscale, downscale, s // downscale, downscale, 3)
                out[i:i + 1024] = np.floor(blk.astype(np.float32).mean(axis=(2, 4)) + 0.5).astype(np.uint8)
            a = out
        arrays.append(a)
        names += nm
    if len({a.shape[1] for a in arrays}) != 1:
        raise SystemExit("data files have different image sizes: %s" % [a.shape for a in arrays])
    return np.concatenate(arrays, 0), names


def split_heldout(names, frac):
    """Held-out rows: the crc32 of the source name decides, so the split is stable."""
    cut = int(round(frac * 1000))
    held = np.array([zlib.crc32(n.encode()) % 1000 < cut for n in names])
    return np.nonzero(~held)[0], np.nonzero(held)[0]


def orthogonal_invconv(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("invconv.weight"):
                q, _ = torch.linalg.qr(torch.randn(p.shape, generator=g, dtype=torch.float64))
                p.copy_(q.to(p.dtype))


def batch_u8(data, idx, device, flip):
    """uint8 NHWC batch on the device, each image flipped left-right with probability 1/2."""
    b = data[idx]
    if flip:
        f = torch.rand(b.shape[0], device=b.device) < 0.5
        b = torch.where(f.view(-1, 1, 1, 1), b.flip(2), b)
    return b.to(device, non_blocking=True)


@contextlib.contextmanager
def evaluating(model, device, seed):
    """Eval mode and a fixed seed for the dequantization noise; training's random state (CPU
    and CUDA) and train mode come back afterwards."""
    state = torch.random.get_rng_state()
    cstate = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    torch.manual_seed(seed)
    model.eval()
    try:
        yield
    finally:
        model.train()
        torch.random.set_rng_state(state)
        if cstate is not None:
            torch.cuda.set_rng_state(cstate, device)


@torch.no_grad()
def heldout_bpd(model, data, idx, device, batch):
    """Mean bits/dim of the held-out faces, with dequantization noise from a fixed seed
    (the usual continuous bound), and at the bin centres (what glowcam encode prints)."""
    if len(idx) == 0:
        return float("nan"), float("nan")
    tot_n, tot_c = 0.0, 0.0
    with evaluating(model, device, 1234):
        for i in range(0, len(idx), batch):
            u8 = data[torch.from_numpy(idx[i:i + batch]).to(device)]
            tot_n += float(model.nll_bpd(model.dequantize(u8)).double().sum())
            tot_c += float(model.nll_bpd(model.preprocess(u8)).double().sum())
    return tot_n / len(idx), tot_c / len(idx)


def draw_bpd(model, deq, u8):
    """Bits/dim per image of one dequantization draw: uniform noise, or the learnt dequantizer's
    bound when deq is given (what training minimises)."""
    return dq.bound_bpd(model, deq, u8) if deq is not None else model.nll_bpd(model.dequantize(u8))


@torch.no_grad()
def heldout_bpd_iw(model, data, idx, device, batch, k, deq=None):
    """Mean bits/dim of the held-out faces, importance-weighted over k dequantization draws:
    -log2 of the mean over draws of p(x + u) / q(u | x), per dimension (q uniform, or the learnt
    dequantizer). Each draw alone gives the single-draw bound; their log-mean-exp is a tighter
    bound on the same discrete likelihood (it tends to -log2 P(x) as k grows; Flow++, Ho et al.
    2019), so the gap to the usual figure is what the dequantization costs, not what the model
    lacks. Returns it and the mean of the same draws' single bounds (never below it:
    log-mean-exp >= mean of logs)."""
    tot, tot1 = 0.0, 0.0
    with evaluating(model, device, 4321):
        for i in range(0, len(idx), batch):
            u8 = data[torch.from_numpy(idx[i:i + batch]).to(device)]
            D = 3 * u8.shape[1] * u8.shape[2]
            bpd = torch.stack([draw_bpd(model, deq, u8).double() for _ in range(k)])  # [k, n]
            ll = -bpd * D * math.log(2.0)
            tot += float((-(torch.logsumexp(ll, 0) - math.log(k)) / (D * math.log(2.0))).sum())
            tot1 += float(bpd.mean(0).sum())
    return tot / len(idx), tot1 / len(idx)


@torch.no_grad()
def heldout_bpd_vardeq(model, deq, data, idx, device, batch):
    """Mean bits/dim of the held-out faces under the learnt dequantizer's bound (noise from a
    fixed seed, like heldout_bpd)."""
    tot = 0.0
    with evaluating(model, device, 1234):
        for i in range(0, len(idx), batch):
            u8 = data[torch.from_numpy(idx[i:i + batch]).to(device)]
            tot += float(dq.bound_bpd(model, deq, u8).double().sum())
    return tot / len(idx)


def dequantizer_path(out):
    base = out[:-len(".safetensors")] if out.endswith(".safetensors") else out
    return base + ".dequant.safetensors"


def export(model, path, extra):
    """m.save() writes the DESIGN.md metadata; the train.* keys are added to that file."""
    tmp = path + ".export"
    model.save(tmp)
    tensors, meta = st_io.read(tmp)
    meta.update({k: str(v) for k, v in extra.items()})
    st_io.write(path, tensors, meta)
    os.remove(tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--data", nargs="+", required=True, help="uint8 [N,S,S,3] .npy file(s)")
    ap.add_argument("--data-desc", default="", help="what the data is (goes into the metadata)")
    ap.add_argument("--downscale", type=int, default=1, help="area-average the images by this factor")
    ap.add_argument("--out", help="exported model (.safetensors)")
    ap.add_argument("--resume", help="start from this exported model (its configuration wins)")
    ap.add_argument("--levels", type=int, default=3)
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--coupling", choices=("affine", "additive"), default="affine")
    ap.add_argument("--edge-padding", action="store_true")
    ap.add_argument("--n-bits", type=int, default=5)
    ap.add_argument("--name", default="")
    ap.add_argument("--description", default="")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=200, help="warm-up steps (linear from 0)")
    ap.add_argument("--decay", type=float, default=0.3,
                    help="fraction of the time budget at the end over which lr decays linearly to 10%%")
    ap.add_argument("--clip", type=float, default=50.0, help="gradient-norm clip")
    ap.add_argument("--optimizer", choices=("adam", "adamax"), default="adam",
                    help="adamax is openai/glow's default")
    ap.add_argument("--logscale-lr", type=float, default=1.0, metavar="F",
                    help="learning rate factor for the log-scale parameters (actnorm, zero convolutions, "
                         "top prior): openai/glow stores them divided by its logscale_factor 3, which under "
                         "Adam is the same as F = 3")
    ap.add_argument("--ema", type=float, default=0.0, metavar="D",
                    help="export a moving average of the weights, w_avg += (1 - D) (w - w_avg) after every "
                         "step (e.g. 0.999; 0: export the raw weights)")
    ap.add_argument("--init-batch", type=int, default=256, help="images for data-dependent init")
    ap.add_argument("--holdout", type=float, default=0.05)
    ap.add_argument("--minutes", type=float, default=0, help="time budget (0: --epochs decides)")
    ap.add_argument("--epochs", type=float, default=0, help="epochs (0: --minutes decides)")
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (tests)")
    ap.add_argument("--checkpoint-minutes", type=float, default=10)
    ap.add_argument("--eval-max", type=int, default=2000, help="at most this many held-out faces per eval")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-flip", action="store_true")
    ap.add_argument("--log-every", type=float, default=30, help="seconds between progress lines")
    ap.add_argument("--evaluate", action="store_true",
                    help="print the held-out bits/dim of the --resume model on this data's split and exit "
                         "(no training, nothing written): compares models on the same faces")
    ap.add_argument("--iw", type=int, default=0, metavar="K",
                    help="with --evaluate: also the importance-weighted bits/dim over K dequantization draws "
                         "(a tighter bound on the same discrete likelihood)")
    ap.add_argument("--vardeq", action="store_true",
                    help="train a learnt dequantizer with the model (variational dequantization, Flow++)")
    ap.add_argument("--vardeq-size", default="16,48,2", metavar="F,H,S",
                    help="a new dequantizer's feature channels, hidden channels and coupling pairs")
    ap.add_argument("--dequantizer", metavar="FILE",
                    help="a dequantizer file (OUT.dequant.safetensors) to resume, or to evaluate with")
    ap.add_argument("--grow-depth", type=int, default=0, metavar="K",
                    help="with --resume: deepen the model to K steps per level (a multiple of its depth) "
                         "by inserting identity steps (tools/glow_grow.py), then train")
    args = ap.parse_args()
    if args.grow_depth and not args.resume:
        ap.error("--grow-depth needs --resume MODEL")
    if args.evaluate:
        if not args.resume:
            ap.error("--evaluate needs --resume MODEL")
    elif not args.out:
        ap.error("give --out")
    elif args.minutes <= 0 and args.epochs <= 0 and args.steps <= 0:
        ap.error("give --minutes, --epochs or --steps")
    if not 0.0 <= args.ema < 1.0:
        ap.error("--ema must be in [0, 1)")

    t_start = time.time()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    dev = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                       ("cpu" if args.device == "auto" else args.device))
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    data_np, names = load_data(args.data, args.downscale)
    S = data_np.shape[1]
    tr_idx, ho_idx = split_heldout(names, args.holdout)
    if len(tr_idx) < 1:
        raise SystemExit("no training images")
    # The whole set lives on the device as uint8 (64x64x3 x 20k faces = 250 MB).
    data = torch.from_numpy(data_np).to(dev)
    del data_np
    ho_eval = ho_idx[:args.eval_max]
    log("data: %d faces %dx%d (%d train, %d held out, %d used per eval) on %s" %
        (len(names), S, S, len(tr_idx), len(ho_idx), len(ho_eval), dev))

    def init_batch():
        """The training faces, dequantized, that data-dependent initialisation sees (seeded)."""
        g = torch.Generator().manual_seed(args.seed)
        pick = tr_idx[torch.randperm(len(tr_idx), generator=g)[:args.init_batch].numpy()]
        return model.dequantize(data[torch.from_numpy(pick).to(dev)])

    history = []
    prev = {"seconds": 0.0, "images": 0, "steps": 0}
    if args.resume:
        model = gt.Glow.from_file(args.resume)
        if model.config["image_size"] != S:
            raise SystemExit("%s is %dx%d, the data %dx%d" % (args.resume, model.config["image_size"],
                                                               model.config["image_size"], S, S))
        _, meta = st_io.read(args.resume)
        try:
            history = json.loads(meta.get("train.history", "[]"))
        except ValueError:
            history = []
        for h in history:
            prev["seconds"] += float(h.get("seconds", 0))
            prev["images"] += int(h.get("images", 0))
            prev["steps"] += int(h.get("steps", 0))
        log("resumed from %s (%d earlier runs, %.1f min, %d images seen)" %
            (args.resume, len(history), prev["seconds"] / 60, prev["images"]))
        model = model.to(dev)
        if args.grow_depth:
            k0 = model.config["depth"]
            try:
                model, new_steps = glow_grow.deepen(model, args.grow_depth)
            except ValueError as e:
                raise SystemExit("%s: %s" % (args.resume, e))
            glow_grow.init_new_steps(model, new_steps, init_batch())
            grown = "depth %d -> %d (tools/glow_grow.py: identity steps inserted)" % (k0, args.grow_depth)
            log("grown: " + grown)
    else:
        cfg = gt.make_config(image_size=S, n_levels=args.levels, depth=args.depth, width=args.width,
                             coupling=args.coupling, n_bits=args.n_bits, edge_padding=args.edge_padding,
                             level_post=False, alignment="openai-eyes")
        model = gt.Glow(cfg)
        orthogonal_invconv(model, args.seed)
        model = model.to(dev)
        model.data_init(init_batch())
    deq = None
    if args.dequantizer:
        deq = dq.Dequantizer.from_file(args.dequantizer).to(dev)
        log("dequantizer from %s" % args.dequantizer)
    elif args.vardeq:
        deq = dq.Dequantizer(*(int(v) for v in args.vardeq_size.split(","))).to(dev)
    if args.evaluate:
        bpd, bpd_c = heldout_bpd(model, data, ho_eval, dev, max(args.batch, 256))
        log("%s: held-out bpd %.4f (bin centres %.4f) on %d faces" % (args.resume, bpd, bpd_c, len(ho_eval)))
        if deq is not None:
            log("%s: held-out bpd %.4f with the learnt dequantizer %s" %
                (args.resume, heldout_bpd_vardeq(model, deq, data, ho_eval, dev, max(args.batch, 256)),
                 args.dequantizer))
        if args.iw > 0:
            iw, one = heldout_bpd_iw(model, data, ho_eval, dev, max(args.batch, 64), args.iw, deq)
            log("%s: held-out bpd %.4f importance-weighted over %d %sdequantization draws (the same draws one at "
                "a time: %.4f)" % (args.resume, iw, args.iw, "learnt " if deq is not None else "", one))
        return
    cfg = model.config
    nparam = sum(p.numel() for p in model.parameters())
    if deq is not None:
        log("learnt dequantizer: %s, %.2fM parameters" %
            (deq.config, sum(p.numel() for p in deq.parameters()) / 1e6))
    log("model: %dx%d, %d levels, depth %d, width %d, %s coupling, edge padding %s, n_bits %d, %.2fM parameters" %
        (S, S, cfg["n_levels"], cfg["depth"], cfg["width"], cfg["coupling"], cfg["edge_padding"],
         cfg["n_bits"], nparam / 1e6))

    logscales = [p for n, p in model.named_parameters() if n.endswith("logscale")]
    others = [p for n, p in model.named_parameters() if not n.endswith("logscale")]
    if deq is not None:
        others += list(deq.parameters())
    groups = [{"params": others, "lr_factor": 1.0}, {"params": logscales, "lr_factor": args.logscale_lr}]
    opt = (torch.optim.Adamax if args.optimizer == "adamax" else torch.optim.Adam)(groups, lr=args.lr)
    # The averaged copy starts from the initialised or resumed weights; it is never trained.
    # The dequantizer is averaged with it: the bound is a figure of the pair.
    avg = copy.deepcopy(model) if args.ema > 0 else None
    avg_deq = copy.deepcopy(deq) if args.ema > 0 and deq is not None else None
    for m in (avg, avg_deq):
        if m is not None:
            for p in m.parameters():
                p.requires_grad_(False)
    out_model = avg if avg is not None else model
    out_deq = avg_deq if avg_deq is not None else deq
    trained = list(model.parameters()) + (list(deq.parameters()) if deq is not None else [])
    averaged = (list(avg.parameters()) + (list(avg_deq.parameters()) if avg_deq is not None else [])
                if avg is not None else [])
    budget = args.minutes * 60.0
    steps_per_epoch = max(1, len(tr_idx) // args.batch)
    max_steps = args.steps if args.steps > 0 else (int(args.epochs * steps_per_epoch) if args.epochs > 0 else 0)
    hw = hardware(dev)
    run = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"), "hardware": hw,
           "data": args.data_desc or ",".join(os.path.basename(p) for p in args.data),
           "faces_train": len(tr_idx), "faces_heldout": len(ho_idx), "batch": args.batch, "lr": args.lr,
           "ema": args.ema, "optimizer": args.optimizer, "logscale_lr": args.logscale_lr, "vardeq": deq is not None,
           "seconds": 0.0, "images": 0, "steps": 0, "heldout_bpd": None}
    if args.grow_depth:
        run["grown"] = grown
    state = {"stop": False}

    def on_signal(signum, frame):
        state["stop"] = True
        log("signal %d: stopping after this step, then exporting" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def do_export(final):
        run["seconds"] = round(time.time() - t_train, 1)
        hist = history + [run]
        secs = prev["seconds"] + run["seconds"]
        imgs = prev["images"] + run["images"]
        bpd = run["heldout_bpd"]
        bpd_s = "%.4f" % bpd if bpd is not None else "n/a"
        training = ("%.1f min in %d run(s), last on %s; %d images seen (%.1f epochs of %d faces); "
                    "held-out bits/dim %s (%d faces, dequantized); data: %s, aligned openai-eyes" %
                    (secs / 60, len(hist), hw, imgs, imgs / max(1, len(tr_idx)), len(tr_idx), bpd_s,
                     len(ho_idx), run["data"]))
        ema = " (weights: moving average, decay %g)" % args.ema if avg is not None else ""
        if deq is not None and run.get("heldout_bpd_vardeq") is not None:
            training += ("; %.4f with the learnt dequantizer %s (variational bound)" %
                         (run["heldout_bpd_vardeq"], os.path.basename(dequantizer_path(args.out))))
        out_model.config["name"] = args.name or model.config.get("name") or "glowcam-%d" % S
        out_model.config["description"] = (args.description or model.config.get("description") or
                                           "glowcam's own %dx%d Glow face model, trained with tools/train_glow.py" %
                                           (S, S))
        out_model.config["training"] = training + ema
        extra = {"train.history": json.dumps(hist, separators=(",", ":")), "train.seconds": "%.0f" % secs,
                 "train.images_seen": str(imgs), "train.hardware": hw, "train.data": run["data"],
                 "train.heldout_bpd": bpd_s, "train.heldout_faces": str(len(ho_idx)),
                 "train.tool": "tools/train_glow.py"}
        export(out_model, args.out, extra)
        if deq is not None:
            bv = run.get("heldout_bpd_vardeq")
            out_deq.save(dequantizer_path(args.out), {"model": os.path.basename(args.out),
                                                      "train.heldout_bpd_vardeq": "%.4f" % bv if bv is not None else "n/a"})
        log("%s %s (held-out bpd %s)" % ("exported" if final else "checkpoint", args.out, bpd_s))

    def evaluate_run():
        """Held-out figures of what gets exported (and of the raw weights, with --ema)."""
        bn, bc = heldout_bpd(out_model, data, ho_eval, dev, max(args.batch, 256))
        run["heldout_bpd"] = bn
        run["heldout_bpd_centres"] = bc
        msg = "%.4f (bin centres %.4f)" % (bn, bc)
        if deq is not None:
            bv = heldout_bpd_vardeq(out_model, out_deq, data, ho_eval, dev, max(args.batch, 256))
            run["heldout_bpd_vardeq"] = bv
            msg = "%.4f with the learnt dequantizer, uniform %s" % (bv, msg)
        if avg is not None:
            rn, _ = heldout_bpd(model, data, ho_eval, dev, max(args.batch, 256))
            run["heldout_bpd_raw"] = rn
            msg += " with the averaged weights, %.4f with the raw ones" % rn
        return msg

    model.train()
    t_train = time.time()
    t_log = t_ckpt = t_train
    step, epoch = 0, 0
    run_loss, run_n, gnorm_max = 0.0, 0, 0.0
    done = False
    while not done:
        perm = torch.from_numpy(tr_idx[np.random.permutation(len(tr_idx))]).to(dev)
        for b in range(steps_per_epoch):
            el = time.time() - t_train
            if state["stop"] or (budget > 0 and el >= budget) or (max_steps and step >= max_steps):
                done = True
                break
            frac = el / budget if budget > 0 else (step / max_steps if max_steps else 0)
            lr = args.lr * min(1.0, (step + 1) / max(1, args.warmup))
            if args.decay > 0 and frac > 1 - args.decay:
                lr *= 1.0 - 0.9 * min(1.0, (frac - (1 - args.decay)) / args.decay)
            for gr in opt.param_groups:
                gr["lr"] = lr * gr["lr_factor"]
            u8 = batch_u8(data, perm[b * args.batch:(b + 1) * args.batch], dev, not args.no_flip)
            loss = draw_bpd(model, deq, u8).mean()
            lossv = float(loss.detach())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gn = float(torch.nn.utils.clip_grad_norm_(trained, args.clip))
            if not math.isfinite(gn) or not math.isfinite(lossv):
                log("step %d: non-finite loss or gradient (%s, %s): step skipped" % (step, lossv, gn))
                opt.zero_grad(set_to_none=True)
                continue
            opt.step()
            if avg is not None:
                with torch.no_grad():
                    for pa, p in zip(averaged, trained):
                        pa.lerp_(p, 1.0 - args.ema)
            step += 1
            run["steps"] = step
            run["images"] += u8.shape[0]
            run_loss += lossv * u8.shape[0]
            run_n += u8.shape[0]
            gnorm_max = max(gnorm_max, gn)
            now = time.time()
            if now - t_log >= args.log_every:
                log("epoch %d step %d: train bpd %.4f, lr %.2e, grad norm max %.2f, %.1f img/s" %
                    (epoch, step, run_loss / max(1, run_n), lr, gnorm_max, run["images"] / (now - t_train)))
                run_loss, run_n, gnorm_max, t_log = 0.0, 0, 0.0, now
            if args.checkpoint_minutes > 0 and now - t_ckpt >= args.checkpoint_minutes * 60:
                do_export(False)
                t_ckpt = time.time()
        else:
            epoch += 1
            bpd_s = evaluate_run()
            log("epoch %d done (step %d, %.1f min): held-out bpd %s" %
                (epoch, step, (time.time() - t_train) / 60, bpd_s))
    bpd_s = evaluate_run()
    run["epochs"] = round(run["images"] / max(1, len(tr_idx)), 2)
    log("final: %d steps, %d images (%.2f epochs), %.1f min, held-out bpd %s" %
        (step, run["images"], run["epochs"], (time.time() - t_train) / 60, bpd_s))
    do_export(True)
    log("total wall time %.1f min" % ((time.time() - t_start) / 60))


if __name__ == "__main__":
    main()
