"""Post-training static int8 quantization of a converted float graph (detc-convert --quantize int8).

    detc-convert torchvision CKPT --config CFG --quantize int8 --calibrate DIR [--calibrate-count N]
                 [--calibration percentile|minmax] [--keep-float NAME,...] -o OUT.detc

Works on the DetcWriter graph any front end built, so every format gets it the same way:

1. Calibration. The float model is written to a temporary file and `detc run MODEL --image IMG --dump`
   runs it on the calibration images through the model's own pipeline (its resize and normalisation),
   dumping only the tensors that will be quantized. Each tensor's range is taken per image and combined
   over the images (the lowest low, the highest high).
   Method: `percentile` (the default) takes the 0.001st and 99.999th percentiles of each image's values,
   so that a handful of extreme activations (a bright pixel through the first layers, one large FPN
   response) does not stretch the scale for everything else; `minmax` takes the extremes. On the shapes
   Mask R-CNN the percentile ranges keep box and mask mAP within 0.005 of the float model (tests/
   test_quantize.py measures both).
2. Precision plan. A conv2d becomes int8 (i8 activations, asymmetric per tensor; i8 filters, symmetric
   per output channel; i32 bias at scale input x filter) unless it is named in --keep-float or every
   consumer of its output is float-only: the box head's predictors (class scores, box deltas) feed detection
   scoring, which stays float, and quantizing their last layer would only add error. Two predictors are the
   exception, convolutions whose input is int8 already, so that running them in float would first
   dequantize a large map: the mask logits (a 1x1 convolution over every detection's 28x28 features, read by
   mask_select, which keeps one class's logits for a sigmoid and a 0.5 threshold) and the RPN's objectness
   and deltas (1x1 convolutions over every FPN level's RPN features, read by rpn_proposals, which ranks
   anchors by objectness and decodes the top ones). They run in int8 and are dequantized for their reader:
   on R50 at 800x800 that drops a 10M-value dequantize and 3- and 12-channel float convolutions at P2; the
   shapes model's box and mask mAP stay within 0.01 of float (tests/test_quantize.py).
   add, max_pool2d and resize_nearest run in int8 when all their inputs are int8 (add requantizes; pooling and nearest resize keep their input's parameters), and so
   does ROIAlign (torchvision mode) when all its feature maps are: it computes each bin in float from the
   dequantized samples and quantizes it, exactly what dequantize -> float ROIAlign -> quantize gives, without
   the float copies of the FPN maps and of the pooled features. The mask head's transposed convolution
   (stride = kernel, no padding: one tap per output pixel) runs in int8 (its relu fused), which also lets
   the convolution before it run in int8. Every other op stays float: box
   decoding, proposals, NMS, the box head's fully connected layers and the mask probabilities.
3. Boundaries are explicit nodes. A float tensor T read by an int8 node gets `cast` T -> T/q8 (quantize);
   an int8 tensor keeps its float name for every float reader and graph output through `cast`
   T/q8 -> T (dequantize). The loader then checks every boundary like any other operand: an int8 op fed
   f32, or a float op fed int8, is a load-time error naming the node and the fix.
"""

import glob
import json
import math
import os
import shutil
import subprocess
import tempfile

import numpy as np

from .errors import ConvertError

INT8_OPS = ("conv2d", "fully_connected", "conv2d_transpose", "add", "max_pool2d", "resize_nearest", "roi_align")
CONV_LIKE = ("conv2d", "fully_connected", "conv2d_transpose")  # a filter and bias quantized per output channel
ELEMENTWISE = ("add", "max_pool2d", "resize_nearest", "roi_align")  # int8 when all their activation inputs are
PASS_THROUGH = ("max_pool2d", "resize_nearest")  # output keeps the input's quantization
SELECT_READERS = ("mask_select", "rpn_proposals")  # float readers of a predictor that may run in int8 (plan above)
SHAPE_ONLY = {"anchors": (0,)}  # inputs of float ops that read only the shape (any dtype)
IMAGE_EXT = (".jpg", ".jpeg", ".png")
Q8 = "/q8"
# int8 3x3 stride-1 convs with at least WINO_MIN_CHANNELS input and output channels and an output of at least
# WINO_MIN_TILES 4x4 tiles (all images of the batch: the mask head's ROIs) get conv2d's attribute
# "winograd": "int16" (Winograd F(4x4, 3x3) with exact int16 transforms: 4x fewer multiplies at half vpdpbusd's
# rate, an approximation of the direct int8 sum). Measured on R50-FPN 800x800 at 1 thread (Zen 4, ms, direct ->
# Winograd): 256 ch 200x200 109 -> 69, 100x100 27 -> 17, 50x50 6.6 -> 4.7, mask head 14x14 x 100 ROIs
# 52 -> 44; but 512 ch 25x25 (49 tiles) 6.6 -> 6.3 and 256 ch 25x25 1.7 -> 1.5, not worth their transformed
# filters (36 int16 per 9 int8 weights: 19 MB for a 512-channel conv); 64 ch 200x200 13 -> 13 (8.1 -> 6.9 once
# the output stage was one kernel and the mask head a canvas, but the shapes model's mask mAP then fell 0.0114
# below f32 with its 64-channel layers in Winograd: tests/test_quantize.py holds it within 0.01). The tiles are
# counted on the calibration images (their size, not the declared one), so filters over WINO_MAX_WEIGHTS
# (Ci x Co: 512-channel convs, whose maps are the smallest) stay direct whatever the calibration size.
WINO_MIN_CHANNELS = 128
WINO_MIN_TILES = 64
WINO_MAX_WEIGHTS = 256 * 256


# -- calibration --------------------------------------------------------------------------------
def find_detc(explicit=None):
    """The detc binary used for calibration: DETC_BIN, then the build tree, then PATH."""
    cands = [explicit, os.environ.get("DETC_BIN"),
             os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                          "build", "detc"),
             shutil.which("detc")]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise ConvertError("calibration runs the float model with the detc CLI, which was not found: build it (make) "
                       "or set DETC_BIN")


def calibration_images(directory, count):
    if not os.path.isdir(directory):
        raise ConvertError("--calibrate %s: not a directory of images" % directory)
    files = sorted(f for f in glob.glob(os.path.join(directory, "*")) if f.lower().endswith(IMAGE_EXT))
    if not files:
        raise ConvertError("--calibrate %s: no .jpg or .png images there" % directory)
    return files[:count] if count else files


def _range(x, method):
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 0.0, 0.0
    if method == "minmax" or x.size < 1000:
        return float(x.min()), float(x.max())
    lo, hi = np.percentile(x, [0.001, 99.999])
    return float(lo), float(hi)


def calibrate(writer, tensors, images, method="percentile", detc_bin=None):
    """({tensor name: (lo, hi)} over the images, {tensor name: shape of the last image}), from the float graph
    run by detc."""
    detc = find_detc(detc_bin)
    ranges, shapes = {}, {}
    tmp = tempfile.mkdtemp(prefix="detc-calib-")
    try:
        model = os.path.join(tmp, "float.detc")
        writer.write(model)
        for img in images:
            out = os.path.join(tmp, "dump")
            shutil.rmtree(out, ignore_errors=True)
            r = subprocess.run([detc, "run", model, "--image", img, "--dump", out, "--tensors", ",".join(tensors)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise ConvertError("calibration: detc run on %s failed:\n%s" % (img, r.stderr.strip()))
            with open(os.path.join(out, "manifest.json")) as f:
                manifest = json.load(f)
            for e in manifest["tensors"]:
                if e["name"] not in tensors:
                    continue
                x = np.load(os.path.join(out, e["file"])).astype(np.float32)
                shapes[e["name"]] = tuple(x.shape)
                lo, hi = _range(x.ravel(), method)
                old = ranges.get(e["name"])
                ranges[e["name"]] = (min(lo, old[0]), max(hi, old[1])) if old else (lo, hi)
        missing = [t for t in tensors if t not in ranges]
        if missing:
            raise ConvertError("calibration: detc did not dump %s" % ", ".join(missing[:5]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ranges, shapes


# -- the rewrite --------------------------------------------------------------------------------
def act_quant(lo, hi):
    """Asymmetric int8 parameters covering [lo, hi] (and 0, so that zero padding is exact)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-8:
        hi = lo + 1e-8
    scale = float(np.float32((hi - lo) / 255.0))
    zp = int(round(-128 - lo / scale))
    return {"scale": [scale], "zero_point": [max(-128, min(127, zp))], "axis": -1}


def filter_quant(w):
    """Symmetric per-output-channel int8 of an OHWI filter: (q, scales)."""
    o = w.shape[0]
    m = np.abs(w.reshape(o, -1)).max(axis=1).astype(np.float64)
    scale = np.where(m > 0, m / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.round(w / scale.reshape((o,) + (1,) * (w.ndim - 1))), -127, 127).astype(np.int8)
    return q, scale


def operand(n, k):
    """Input k of node n, or None when absent (omitted optional operands are written as "")."""
    return n["inputs"][k] if len(n["inputs"]) > k and n["inputs"][k] else None


class Plan:
    """Which nodes run in int8, and the tensors whose ranges calibration must measure."""

    def __init__(self, writer, keep_float=()):
        self.w = writer
        self.t = {t["name"]: t for t in writer.tensors}
        self.consumers = {}
        self.producer = {}
        for n in writer.nodes:
            for i in n["inputs"]:
                self.consumers.setdefault(i, []).append(n)
            for o in n["outputs"]:
                self.producer[o] = n
        self.keep = set(keep_float)
        unknown = sorted(k for k in self.keep if not any(n["name"] == k for n in writer.nodes))
        if unknown:
            raise ConvertError("--keep-float names no node of this graph: %s" % ", ".join(unknown))
        self.order = self._topological()
        self.shapes = {}
        self._choose(set())

    def _choose(self, exclude):
        """The int8 node set: convolutions and fully connected layers (see the module comment), then the
        elementwise and pooling nodes whose activation inputs are all int8."""
        skip = self.keep | exclude
        self.int8 = set()
        for n in self.order:
            if n["name"] in skip:
                continue
            if n["op"] == "conv2d_transpose" and self._convt_ok(n):  # its float readers take a dequantize
                self.int8.add(n["name"])
            if self._feeds_float_only(n) and not self._int8_predictor(n):
                continue
            if (n["op"] == "conv2d" and self._conv_ok(n)) or (n["op"] == "fully_connected" and self._fc_ok(n)):
                self.int8.add(n["name"])
        changed = True
        while changed:
            changed = False
            for n in self.order:
                if n["name"] in self.int8 or n["name"] in skip or n["op"] not in ELEMENTWISE:
                    continue
                if n["op"] == "roi_align" and (n.get("attrs") or {}).get("mode", "torchvision") != "torchvision":
                    continue
                acts = self.q8_inputs(n)
                if acts and all(self.producer.get(i, {}).get("name") in self.int8 for i in acts) and \
                        all(self.t[i].get("dtype") == "f32" for i in acts):
                    self.int8.add(n["name"])
                    changed = True
        self.nodes = [n for n in self.order if n["name"] in self.int8]

    def finish(self, shapes):
        """After calibration (which measured the shapes): a fully connected layer runs in int8 as a
        convolution whose kernel covers its input, [R, H, W, C] -> [R, 1, 1, N]; one whose input is not such
        a 4-D tensor (nor the output of another converted one) stays float."""
        self.shapes = shapes
        bad = set()
        for n in self.order:
            if n["name"] in self.int8 and n["op"] == "fully_connected":
                x = n["inputs"][0]
                from_fc = self.producer.get(x, {}).get("op") == "fully_connected" and \
                    self.producer[x]["name"] in self.int8 and self.producer[x]["name"] not in bad
                if not (from_fc or len(shapes.get(x, ())) == 4):
                    bad.add(n["name"])
        if bad:
            self._choose(bad)

    def _topological(self):
        """writer.nodes in an order where producers come first (front ends mostly write them so)."""
        done, order = set(), []
        pending = list(self.w.nodes)
        while pending:
            rest = []
            for n in pending:
                deps = [self.producer[i]["name"] for i in n["inputs"] if i in self.producer]
                if all(d in done for d in deps):
                    done.add(n["name"])
                    order.append(n)
                else:
                    rest.append(n)
            if len(rest) == len(pending):
                raise ConvertError("the graph has a cycle through %s" % rest[0]["name"])
            pending = rest
        return order

    def is_const(self, name):
        return name in self.t and id(self.t[name]) in self.w._data

    def q8_inputs(self, n):
        """The activation inputs an int8 node reads in int8: roi_align's feature maps (its boxes and count
        stay as they are), every non-constant input of the other elementwise ops."""
        if n["op"] == "roi_align":
            return list(n["inputs"][2:])
        return [i for i in n["inputs"] if not self.is_const(i)]

    def _conv_ok(self, n):
        x, f = n["inputs"][0], n["inputs"][1]
        b = operand(n, 2)
        return (self.t[x].get("dtype") == "f32" and not self.is_const(x) and self.is_const(f)
                and self.t[f].get("dtype") == "f32" and (b is None or self.is_const(b)))

    def _convt_ok(self, n):
        """A transposed convolution runs in int8 when each output pixel gets one tap (stride = kernel, no
        padding), as detc's quantized conv2d_transpose requires (the Mask R-CNN head's 2x2 stride 2)."""
        if not self._conv_ok(n):
            return False
        a = n.get("attrs") or {}
        kh, kw = self.t[n["inputs"][1]]["shape"][1:3]
        pad = a.get("padding", "valid")
        return (list(a.get("stride", [1, 1])) == [kh, kw] and (pad == "valid" or list(pad) == [0, 0, 0, 0])
                and list(a.get("output_padding", [0, 0])) == [0, 0] and list(a.get("dilation", [1, 1])) == [1, 1])

    def _fc_ok(self, n):
        x, wt = n["inputs"][0], n["inputs"][1]
        b = operand(n, 2)
        return (self.t[x].get("dtype") == "f32" and not self.is_const(x) and self.is_const(wt)
                and len(self.t[wt].get("shape", ())) == 2 and (b is None or self.is_const(b)))

    def _feeds_float_only(self, n):
        cons = self.consumers.get(n["outputs"][0], [])
        return bool(cons) and all(c["op"] not in INT8_OPS for c in cons) and n["outputs"][0] not in self.w.outputs

    def _int8_predictor(self, n):
        """A conv2d read only by SELECT_READERS whose input an int8 node produces: no quantize at its input."""
        cons = self.consumers.get(n["outputs"][0], [])
        return (n["op"] == "conv2d" and bool(cons) and all(c["op"] in SELECT_READERS for c in cons)
                and self.producer.get(n["inputs"][0], {}).get("name") in self.int8)

    def measured(self):
        """Float tensors whose range calibration measures: int8 outputs (except pass-through ones) and the
        float tensors quantized at the boundary."""
        need = []
        for n in self.nodes:
            if n["op"] not in PASS_THROUGH:
                need.append(n["outputs"][0])
            for i in n["inputs"][:1] if n["op"] in CONV_LIKE else self.q8_inputs(n):
                if not self.is_const(i) and self.producer.get(i, {}).get("name") not in self.int8:
                    need.append(i)
        return sorted(set(need))


def wino_ok(n, filter_shape, out_shape):
    """Whether int8 conv2d n qualifies for the int16 Winograd (see WINO_MIN_CHANNELS)."""
    a = n.get("attrs") or {}
    co, kh, kw, ci = filter_shape
    if (kh, kw) != (3, 3) or list(a.get("stride", [1, 1])) != [1, 1] or list(a.get("dilation", [1, 1])) != [1, 1]:
        return False
    if a.get("groups", 1) != 1 or ci < WINO_MIN_CHANNELS or co < WINO_MIN_CHANNELS or ci * co > WINO_MAX_WEIGHTS:
        return False
    return out_shape is not None and len(out_shape) == 4 and \
        out_shape[0] * ((out_shape[1] + 3) // 4) * ((out_shape[2] + 3) // 4) >= WINO_MIN_TILES


def apply(writer, plan, ranges, winograd=True):
    """Rewrites writer in place to the mixed-precision graph; returns a summary line. winograd: mark the convs
    that qualify (wino_ok) with "winograd": "int16"."""
    t = plan.t
    quant = {}  # float tensor name -> quant of its int8 version

    def q8_of(name):
        """The int8 version of float tensor `name` (made by a quantize node when its producer is float)."""
        qn = name + Q8
        if qn not in t:
            if name not in quant:
                quant[name] = act_quant(*ranges[name])
            obj = writer.add_activation(qn, "i8", quant=quant[name])
            t[qn] = obj
            writer.add_node(name + "/quantize", "cast", [name], [qn], {"to": "i8"})
        return qn

    removed_consts = set()
    produced_q8 = set()
    wino = 0
    for n in plan.nodes:
        out = n["outputs"][0]
        if n["op"] in CONV_LIKE:
            x, f = n["inputs"][0], n["inputs"][1]
            b = operand(n, 2)
            xq = x + Q8 if x in produced_q8 else q8_of(x)
            xs = t[xq]["quant"]["scale"][0]
            wf = np.frombuffer(writer._data[id(t[f])], dtype=np.float32).reshape(t[f]["shape"]).astype(np.float64)
            if n["op"] == "fully_connected":  # [N, K] over an [R, H, W, C] input: an HxW valid convolution
                xs4 = plan.shapes.get(x)
                hwc = list(xs4[1:]) if xs4 is not None and len(xs4) == 4 else [1, 1, wf.shape[1]]
                wf = wf.reshape([wf.shape[0]] + hwc)
            wq, ws = filter_quant(wf)
            fname = f + Q8
            if fname not in t:  # a filter shared by several convs (the RPN head on every level) is quantized once
                t[fname] = writer.add_constant(fname, "i8", list(wq.shape), wq,
                                               quant={"scale": [float(s) for s in ws], "zero_point": [0] * len(ws),
                                                      "axis": 0})
            bf = (np.frombuffer(writer._data[id(t[b])], dtype=np.float32).astype(np.float64) if b
                  else np.zeros(len(ws)))
            bscale = (np.float32(xs) * ws.astype(np.float32)).astype(np.float64)
            bq = np.clip(np.round(bf / bscale), -2 ** 31, 2 ** 31 - 1).astype(np.int32)
            bname = n["name"] + "/bias/i32"  # per node: its scale is this node's input scale x filter scale
            writer.add_constant(bname, "i32", [len(ws)], bq,
                                quant={"scale": [float(s) for s in bscale], "zero_point": [0] * len(ws), "axis": 0})
            removed_consts.update([f] + ([b] if b else []))
            n["inputs"] = [xq, fname, bname] + n["inputs"][3:]
            if n["op"] == "fully_connected":
                act = (n.get("attrs") or {}).get("activation", "none")
                n["op"] = "conv2d"
                n["attrs"] = {"stride": [1, 1], "dilation": [1, 1], "padding": [0, 0, 0, 0], "activation": act}
            elif winograd and wino_ok(n, wq.shape, plan.shapes.get(out)):
                n["attrs"] = dict(n.get("attrs") or {}, winograd="int16")
                wino += 1
            qo = act_quant(*ranges[out])
        else:
            q8_in = set(plan.q8_inputs(n))
            ins = []
            for i in n["inputs"]:
                ins.append(i if i not in q8_in else (i + Q8 if i in produced_q8 else q8_of(i)))
            n["inputs"] = ins
            qo = t[ins[0]]["quant"] if n["op"] in PASS_THROUGH else act_quant(*ranges[out])
        quant[out] = qo
        writer.add_activation(out + Q8, "i8", quant=qo)
        t[out + Q8] = writer.tensors[-1]
        n["outputs"] = [out + Q8] + n["outputs"][1:]
        produced_q8.add(out)
    # readers of shapes only (anchors' feature map) take the int8 version: no dequantize just for a shape
    for n in writer.nodes:
        if n["name"] not in plan.int8 and n["op"] in SHAPE_ONLY:
            for k in SHAPE_ONLY[n["op"]]:
                if k < len(n["inputs"]) and n["inputs"][k] in produced_q8:
                    n["inputs"][k] += Q8
    readers = {}  # after the rewiring: a float name is read by float nodes only
    for n in writer.nodes:
        for i in n["inputs"]:
            readers.setdefault(i, []).append(n)
    # int8 readers take the int8 version; float readers and graph outputs keep the float name
    dequantized = 0
    for out in sorted(produced_q8):
        float_readers = [c for c in readers.get(out, []) if c["name"] not in plan.int8]
        if float_readers or out in writer.outputs or _pipeline_reads(writer, out):
            writer.add_node(out + "/dequantize", "cast", [out + Q8], [out], {"to": "f32"})
            dequantized += 1
        else:
            writer.tensors.remove(t[out])
    # constants no node reads any more
    still = {i for n in writer.nodes for i in n["inputs"]}
    for c in removed_consts:
        if c not in still:
            writer.tensors.remove(t[c])
            del writer._data[id(t[c])]
    for obj in writer.tensors:  # the calibration build laid out the float constants: lay out anew, without holes
        obj.pop("offset", None)
        obj.pop("length", None)
    convs = sum(1 for n in plan.nodes if n["op"] in ("conv2d", "conv2d_transpose"))
    total = sum(1 for n in writer.nodes if n["op"] in CONV_LIKE)
    return ("int8: %d of %d convolutions and fully connected layers (%d of them Winograd int16), and %d other nodes, "
            "quantized; %d quantize and %d dequantize boundaries"
            % (convs, total, wino, len(plan.nodes) - convs,
               sum(1 for n in writer.nodes if n["name"].endswith("/quantize")), dequantized))


def _pipeline_reads(writer, name):
    return name in json.dumps(writer.pipeline or {})


def quantize_int8(writer, calib_dir, count=0, method="percentile", keep_float=(), detc_bin=None, winograd=True):
    """The whole pass: plan, calibrate, rewrite. Returns notes for the user. winograd: False leaves every conv
    direct (bit-exact int8 sums; detc-convert --no-winograd)."""
    if method not in ("percentile", "minmax"):
        raise ConvertError("--calibration must be percentile or minmax, not %r" % method)
    if writer.pipeline is None:
        raise ConvertError("--quantize needs a model with a pipeline: calibration runs the model's own "
                           "preprocessing on the images")
    plan = Plan(writer, keep_float)
    if not plan.nodes:
        raise ConvertError("--quantize int8: no float convolution to quantize in this graph")
    images = calibration_images(calib_dir, count)
    ranges, shapes = calibrate(writer, plan.measured(), images, method, detc_bin)
    plan.finish(shapes)
    summary = apply(writer, plan, ranges, winograd)
    return ["%s; calibrated on %d image%s of %s (%s ranges)"
            % (summary, len(images), "" if len(images) == 1 else "s", calib_dir, method)]


def _dump(detc, model, image, out):
    shutil.rmtree(out, ignore_errors=True)
    r = subprocess.run([detc, "run", model, "--image", image, "--dump", out], capture_output=True, text=True)
    if r.returncode != 0:
        raise ConvertError("quantization report: detc run %s on %s failed:\n%s" % (model, image, r.stderr.strip()))
    with open(os.path.join(out, "manifest.json")) as f:
        return {e["name"]: e for e in json.load(f)["tensors"]}


def report(float_model, int8_model, images, detc_bin=None, worst=12):
    """Where precision is lost: per int8 tensor T/q8 (dequantized with its scale and zero point) against the
    float model's T on the same images, the signal-to-quantization-noise ratio and cosine similarity, worst
    first. Lines of text."""
    detc = find_detc(detc_bin)
    tmp = tempfile.mkdtemp(prefix="detc-qreport-")
    acc = {}  # name -> [signal power, noise power, dot, |a|^2, |b|^2]
    try:
        for img in images:
            fm = _dump(detc, float_model, img, os.path.join(tmp, "f"))
            qm = _dump(detc, int8_model, img, os.path.join(tmp, "q"))
            for name, e in qm.items():
                base = name[:-len(Q8)] if name.endswith(Q8) else None
                if base is None or base not in fm or "scale" not in e:
                    continue
                q = np.load(os.path.join(tmp, "q", e["file"])).astype(np.float64)
                got = (q - e["zero_point"]) * e["scale"]
                ref = np.load(os.path.join(tmp, "f", fm[base]["file"])).astype(np.float64).reshape(got.shape)
                a = acc.setdefault(base, [0.0, 0.0, 0.0, 0.0, 0.0])
                a[0] += float(np.sum(ref * ref))
                a[1] += float(np.sum((got - ref) ** 2))
                a[2] += float(np.sum(ref * got))
                a[3] += float(np.sum(got * got))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = []
    for name, (p, n, dot, gg, _) in acc.items():
        snr = math.inf if n == 0 else (10 * math.log10(p / n) if p > 0 else -math.inf)
        cos = dot / math.sqrt(p * gg) if p > 0 and gg > 0 else 1.0
        rows.append((snr, cos, name))
    rows.sort()
    lines = ["quantization report over %d image%s: %d int8 tensors, worst %d by SQNR (dB; cosine)"
             % (len(images), "" if len(images) == 1 else "s", len(rows), min(worst, len(rows)))]
    lines += ["  %7.2f dB  %.6f  %s" % r for r in rows[:worst]]
    lines.append("(tensors computed per proposal or detection follow each model's own boxes: they compare row by "
                 "row only where both models keep the same boxes in the same order)")
    return lines


def sqnr_db(ref, got):
    """Signal to quantization noise of got against ref, in dB (inf when equal)."""
    ref = np.asarray(ref, dtype=np.float64).ravel()
    err = np.asarray(got, dtype=np.float64).ravel() - ref
    p, n = float(np.sum(ref * ref)), float(np.sum(err * err))
    return math.inf if n == 0 else (10 * math.log10(p / n) if p > 0 else -math.inf)
