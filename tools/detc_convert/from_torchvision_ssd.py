"""torchvision SSD front end: an ssd300_vgg16 state_dict (+ a JSON config) -> a detc graph.

Architecture (torchvision 0.14, models/detection/ssd.py): SSD with SSDFeatureExtractorVGG (highres
False): VGG `features` up to conv4_3 (3x3 convs + ReLU, 2x2 max pools, the third with ceil_mode),
L2 normalisation of conv4_3 over channels times `scale_weight` (the first feature map), then
`extra`: [maxpool4, conv5_x, maxpool 3x3 s1 p1, fc6 (3x3 dilation 6), fc7 (1x1)], and four blocks
of 1x1 conv + 3x3 conv (stride 2 padding 1 twice, then stride 1 padding 0 twice), each with ReLU.
SSDHead: per feature map a 3x3 conv (padding 1) for the class logits [A*K] and one for the box
regression [A*4]. Layer widths and the VGG layer sequence are read from the checkpoint.

Graph (NHWC, f32): the trunk as conv2d / max_pool2d nodes; `l2_normalize` over channels (epsilon
1e-24 on the sum of squares: F.normalize's max(norm, 1e-12)); `scale_weight` is folded into the
first head's convolution weights (per input channel); each head's [1, h, w, A*K] output reshaped to
[h*w*A, K] (torchvision's view/permute/reshape, in NHWC a plain reshape), concatenated over the six
maps: `head/class_logits` [R, K], `head/box_regression` [R, 4]. `anchors` is a constant [R, 4]
(x0, y0, x1, y1 pixels): DefaultBoxGenerator's default boxes for the fixed input size, computed
here in float32 as torchvision does (aspect ratios, scales, steps from the config, clip to [0, 1]
in (cx, cy, w, h), then scaled to the image). `box_detections` with class-agnostic regression and
topk_candidates is SSD.postprocess_detections: softmax, decode (weights 10, 10, 5, 5), clip, per
class score > score_thresh then the topk_candidates best, batched NMS (nms_thresh), the first
detections_per_img.

Pipeline: "maskrcnn" kind (torchvision's GeneralizedRCNNTransform) with `fixed_size` [W, H]: the
image is resized to exactly the model size (aspect ratio not kept), normalised with the config's
image_mean / image_std (default ssd300_vgg16's: mean [0.48235, 0.45882, 0.40784], std 1/255),
boxes scaled back per axis.

Config keys: classes (required, background first); size [H, W] (default [300, 300]); image_mean,
image_std; score_thresh (0.01), nms_thresh (0.45), detections_per_img (200), topk_candidates (400);
aspect_ratios [[2], [2, 3], [2, 3], [2, 3], [2], [2]], scales [0.07, 0.15, 0.33, 0.51, 0.69, 0.87,
1.05], steps [8, 16, 32, 64, 100, 300] (torchvision's ssd300_vgg16 values).
"""

import math
from collections import OrderedDict

import numpy as np

from .errors import ConvertError
from .writer import DetcWriter

PRODUCER = "detc-convert torchvision-ssd 1"
SSD300_RATIOS = [[2], [2, 3], [2, 3], [2, 3], [2], [2]]
SSD300_SCALES = [0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05]
SSD300_STEPS = [8, 16, 32, 64, 100, 300]


def _num(raw, key, default, lo, hi, integer=False):
    v = raw.get(key, default)
    if (not isinstance(v, (int, float)) or isinstance(v, bool) or not (lo <= v <= hi)
            or (integer and float(v) != int(v))):
        raise ConvertError("config `%s` must be %s in %s..%s, found %.80r"
                           % (key, "an integer" if integer else "a number", lo, hi, v))
    return int(v) if integer else float(v)


def _classes_size(raw, default_size):
    classes = raw.get("classes")
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise ConvertError("config `classes` must be a list of at least 2 names, background first")
    size = raw.get("size", default_size)
    if (not isinstance(size, list) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and 64 <= v <= 4096 for v in size)):
        raise ConvertError("config `size` must be [height, width] in 64..4096, found %.80r" % (size,))
    return classes, size


def default_boxes(grid, image_hw, ratios, scales, steps, clip=True):
    """DefaultBoxGenerator's boxes (x0, y0, x1, y1 in pixels) for feature maps `grid` [(h, w), ...], float32."""
    f32 = np.float32
    ih, iw = image_hw
    out = []
    for k, (fh, fw) in enumerate(grid):
        s_k = scales[k]
        s_prime = math.sqrt(scales[k] * scales[k + 1])
        pairs = [[s_k, s_k], [s_prime, s_prime]]
        for ar in ratios[k]:
            sq = math.sqrt(ar)
            pairs += [[s_k * sq, s_k / sq], [s_k / sq, s_k * sq]]
        wh = np.array(pairs, f32)
        if clip:
            wh = np.clip(wh, f32(0), f32(1))
        if steps is not None:
            x_f, y_f = iw / steps[k], ih / steps[k]
        else:
            y_f, x_f = fh, fw
        sx = ((np.arange(fw).astype(f32) + f32(0.5)) / f32(x_f)).astype(f32)
        sy = ((np.arange(fh).astype(f32) + f32(0.5)) / f32(y_f)).astype(f32)
        yy, xx = np.meshgrid(sy, sx, indexing="ij")
        cxcy = np.stack([xx.reshape(-1), yy.reshape(-1)], -1)            # [P, 2]
        cxcy = np.repeat(cxcy, len(pairs), axis=0)                       # position-major, pair-minor
        whs = np.tile(wh, (fh * fw, 1))
        size = np.array([iw, ih], f32)
        x0y0 = (cxcy - f32(0.5) * whs) * size
        x1y1 = (cxcy + f32(0.5) * whs) * size
        out.append(np.concatenate([x0y0, x1y1], 1).astype(f32))
    return np.concatenate(out, 0)


class SSDConverter:
    def __init__(self, sd, raw, name, bn_eps=1e-5):
        self.sd = sd
        self.raw = raw
        self.used = set()
        self.w = DetcWriter(name=name, producer=PRODUCER)
        self.notes = []

    def get(self, key, ndim):
        if key not in self.sd:
            raise ConvertError("checkpoint has no tensor %r (is it torchvision's ssd300_vgg16?)" % key)
        a = self.sd[key]
        self.used.add(key)
        if a.ndim != ndim or a.dtype.kind != "f":
            raise ConvertError("checkpoint tensor %r has shape %s / %s, expected %d-D float"
                               % (key, list(a.shape), a.dtype, ndim))
        if not np.all(np.isfinite(a)):
            raise ConvertError("checkpoint tensor %r contains NaN or infinity" % key)
        return a.astype(np.float64)

    def act(self, name, dtype="f32"):
        self.w.add_activation(name, dtype)
        return name

    def const(self, name, arr, dtype="f32"):
        arr = np.ascontiguousarray(arr, dtype=np.float32 if dtype == "f32" else np.int32)
        self.w.add_constant(name, dtype, list(arr.shape), arr)
        return name

    def conv(self, out, x, prefix, hw, stride=1, pad=0, dilation=1, relu=True, in_scale=None):
        w = self.get(prefix + ".weight", 4)
        b = self.get(prefix + ".bias", 1)
        if b.shape != (w.shape[0],):
            raise ConvertError("%s.bias has shape %s, expected [%d]" % (prefix, list(b.shape), w.shape[0]))
        if w.shape[1] != self.c:
            raise ConvertError("%s.weight has shape %s: %d input channels, the tensor it reads has %d"
                               % (prefix, list(w.shape), w.shape[1], self.c))
        if in_scale is not None:
            w = w * in_scale.reshape(1, -1, 1, 1)
        kh, kw = w.shape[2:]
        self.const(out + "/filter", w.transpose(0, 2, 3, 1))
        self.const(out + "/bias", b)
        self.w.add_node(out, "conv2d", [x, out + "/filter", out + "/bias"], [self.act(out)],
                        OrderedDict([("stride", [stride, stride]), ("dilation", [dilation, dilation]),
                                     ("padding", [pad, pad, pad, pad]), ("activation", "relu" if relu else "none")]))
        h = (hw[0] + 2 * pad - dilation * (kh - 1) - 1) // stride + 1
        wd = (hw[1] + 2 * pad - dilation * (kw - 1) - 1) // stride + 1
        if h < 1 or wd < 1:
            raise ConvertError("%s: a %dx%d input leaves no output (the model size is too small)" % (prefix, hw[0], hw[1]))
        self.c = w.shape[0]
        return out, (h, wd)

    def pool(self, out, x, hw, k, s, p, ceil=False):
        h, w = hw

        def size(n):
            if ceil:
                o = -(-(n + 2 * p - k) // s) + 1
                if (o - 1) * s >= n + p:
                    o -= 1
                return o
            return (n + 2 * p - k) // s + 1
        oh, ow = size(h), size(w)
        extra_b = (oh - 1) * s + k - (h + 2 * p)
        extra_r = (ow - 1) * s + k - (w + 2 * p)
        self.w.add_node(out, "max_pool2d", [x], [self.act(out)],
                        OrderedDict([("kernel", [k, k]), ("stride", [s, s]),
                                     ("padding", [p, p, p + max(0, extra_b), p + max(0, extra_r)])]))
        return out, (oh, ow)

    def vgg_sequence(self, prefix, x, hw, pools_before, tag):
        """Convs (3x3, padding 1, ReLU) and 2x2 max pools of a torchvision VGG `features` slice: a conv at
        index i is followed by its ReLU at i + 1; an index holding no conv and no ReLU is a max pool."""
        idx = sorted({int(k[len(prefix):].split(".")[0]) for k in self.sd
                      if k.startswith(prefix) and k[len(prefix):].split(".")[0].isdigit()
                      and k[len(prefix):].count(".") == 1})
        if not idx:
            raise ConvertError("checkpoint has no %s*.weight (torchvision's VGG layers)" % prefix)
        i = 0
        pools = pools_before
        last = max(idx)
        while i <= last:
            if i in idx:
                x, hw = self.conv("%s/conv%d" % (tag, i), x, "%s%d" % (prefix, i), hw, pad=1)
                i += 2
            else:
                pools += 1
                x, hw = self.pool("%s/pool%d" % (tag, i), x, hw, 2, 2, 0, ceil=(pools == 3))
                i += 1
        return x, hw, i, pools

    def finish(self, cls_outs, reg_outs, anchors, classes, H, W, defaults):
        """Concatenated head rows, anchors, SSD's postprocess (box_detections), outputs and the pipeline."""
        raw = self.raw
        d = defaults or dict(score=0.01, nms=0.45, dets=200, topk=400, mean=[0.48235, 0.45882, 0.40784],
                             std=[1.0 / 255.0] * 3)
        mean = raw.get("image_mean", d["mean"])
        std = raw.get("image_std", d["std"])
        for key, v in (("image_mean", mean), ("image_std", std)):
            if (not isinstance(v, list) or len(v) != 3
                    or not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in v)):
                raise ConvertError("config `%s` must be a list of 3 numbers" % key)
        if not all(t > 0 for t in std):
            raise ConvertError("config `image_std` must be positive")
        score = _num(raw, "score_thresh", d["score"], 0.0, 1.0)
        nms = _num(raw, "nms_thresh", d["nms"], 0.0, 1.0)
        dets = _num(raw, "detections_per_img", d["dets"], 1, 1 << 16, True)
        topk = _num(raw, "topk_candidates", d["topk"], 1, 1 << 20, True)
        for k in self.sd:
            if k.startswith("head.") and k not in self.used:
                raise ConvertError("module %r cannot be placed (more head layers than feature maps)" % k.rsplit(".", 1)[0])
        self.w.add_node("head/class_logits", "concat", cls_outs, [self.act("head/class_logits")], {"axis": 0})
        self.w.add_node("head/box_regression", "concat", reg_outs, [self.act("head/box_regression")], {"axis": 0})
        self.const("anchors", anchors)
        self.const("anchors_count", np.array([anchors.shape[0]]), "i32")
        outs = ["detections/boxes", "detections/scores", "detections/labels", "detections/count"]
        self.w.add_node("detections", "box_detections",
                        ["head/class_logits", "head/box_regression", "anchors", "anchors_count", "image_size"],
                        [self.act(outs[0]), self.act(outs[1]), self.act(outs[2], "i32"), self.act(outs[3], "i32")],
                        OrderedDict([("score_threshold", float(np.float32(score))),
                                     ("nms_threshold", float(np.float32(nms))),
                                     ("detections_per_img", dets), ("weights", [10.0, 10.0, 5.0, 5.0]),
                                     ("min_size", 0.0), ("topk_candidates", topk)]))
        unused = sorted(k for k in self.sd if k not in self.used)
        if unused:
            raise ConvertError("%d checkpoint tensors are not part of torchvision's %s as detc builds it: "
                               "module %r cannot be placed (%s)" % (len(unused), self.arch, unused[0].rsplit(".", 1)[0],
                                                                    ", ".join(unused[:6])))
        self.w.inputs = ["image", "image_size"]
        self.w.outputs = outs
        self.w.labels = list(classes)
        self.w.pipeline = OrderedDict([
            ("kind", "maskrcnn"),
            ("input", OrderedDict([
                ("tensor", "image"), ("image_size", "image_size"), ("color", "rgb"), ("resize", "bilinear"),
                ("min_size", min(H, W)), ("max_size", max(H, W)), ("fixed_size", [W, H]),
                ("mean", [float(v) for v in mean]), ("std", [float(v) for v in std]), ("size_divisible", 1)])),
            ("outputs", OrderedDict([
                ("boxes", "detections/boxes"), ("scores", "detections/scores"), ("labels", "detections/labels"),
                ("count", "detections/count")])),
        ])

    def run(self):
        raw = self.raw
        classes, (H, W) = _classes_size(raw, [300, 300])
        ratios = raw.get("aspect_ratios", SSD300_RATIOS)
        scales = raw.get("scales", SSD300_SCALES)
        steps = raw.get("steps", SSD300_STEPS)
        if (not isinstance(ratios, list) or not all(isinstance(r, list) for r in ratios)
                or not isinstance(scales, list) or len(scales) != len(ratios) + 1
                or not (steps is None or (isinstance(steps, list) and len(steps) == len(ratios)))):
            raise ConvertError("config `aspect_ratios` (a list per feature map), `scales` (one more) and `steps` "
                               "(one per map) do not fit together")

        self.w.add_activation("image", "f32", [1, H, W, 3])
        self.w.add_activation("image_size", "i32", [2])
        self.c = 3
        # conv4_3
        x, hw, _, pools = self.vgg_sequence("backbone.features.", "image", (H, W), 0, "vgg")
        c43 = x
        scale = self.get("backbone.scale_weight", 1)
        if scale.shape != (self.c,):
            raise ConvertError("backbone.scale_weight has shape %s, expected [%d]" % (list(scale.shape), self.c))
        self.w.add_node("vgg/conv4_3_norm", "l2_normalize", [c43], [self.act("vgg/conv4_3_norm")],
                        OrderedDict([("axis", -1), ("epsilon", 1e-24)]))
        maps = [("vgg/conv4_3_norm", hw, self.c, scale)]
        # extra.0: maxpool4, conv5_x, then the fc block (maxpool 3x3 s1 p1, fc6, fc7)
        fc = None
        for j in range(64):
            if ("backbone.extra.0.%d.1.weight" % j) in self.sd:
                fc = j
                break
        if fc is None:
            raise ConvertError("module 'backbone.extra.0' cannot be placed: no fc6/fc7 block "
                               "(backbone.extra.0.N.1.weight, backbone.extra.0.N.3.weight)")
        i = 0
        while i < fc:
            if ("backbone.extra.0.%d.weight" % i) in self.sd:
                x, hw = self.conv("extra0/conv%d" % i, x, "backbone.extra.0.%d" % i, hw, pad=1)
                i += 2
            else:
                pools += 1
                x, hw = self.pool("extra0/pool%d" % i, x, hw, 2, 2, 0, ceil=(pools == 3))
                i += 1
        x, hw = self.pool("extra0/pool5", x, hw, 3, 1, 1)
        x, hw = self.conv("extra0/fc6", x, "backbone.extra.0.%d.1" % fc, hw, pad=6, dilation=6)
        x, hw = self.conv("extra0/fc7", x, "backbone.extra.0.%d.3" % fc, hw)
        maps.append((x, hw, self.c, None))
        n_extra = 1
        while ("backbone.extra.%d.0.weight" % n_extra) in self.sd:
            n_extra += 1
        if n_extra != 5:
            raise ConvertError("backbone.extra has %d blocks; torchvision's SSD300 has 5 (SSD512's highres layout is "
                               "not supported): module 'backbone.extra.%d' cannot be placed" % (n_extra, n_extra - 1)
                               if n_extra > 5 else "backbone.extra has %d blocks, expected 5" % n_extra)
        for e in range(1, 5):
            p = "backbone.extra.%d." % e
            x, hw = self.conv("extra%d/conv1" % e, x, p + "0", hw)
            stride, pad = (2, 1) if e <= 2 else (1, 0)
            x, hw = self.conv("extra%d/conv2" % e, x, p + "2", hw, stride=stride, pad=pad)
            maps.append((x, hw, self.c, None))
        if len(maps) != len(ratios):
            raise ConvertError("%d feature maps but %d aspect_ratios entries" % (len(maps), len(ratios)))
        # heads
        K = len(classes)
        cls_outs, reg_outs = [], []
        for i, (fm, fhw, fc_c, sc) in enumerate(maps):
            a = 2 + 2 * len(ratios[i])
            for kind, cols, outs in (("classification", K, cls_outs), ("regression", 4, reg_outs)):
                key = "head.%s_head.module_list.%d" % (kind, i)
                wshape = self.sd.get(key + ".weight", np.zeros(0)).shape
                if tuple(wshape) != (a * cols, fc_c, 3, 3):
                    raise ConvertError("%s.weight has shape %s, expected [%d, %d, 3, 3] (%d anchors x %d)"
                                       % (key, list(wshape), a * cols, fc_c, a, cols))
                self.c = fc_c
                tag = "head/%s%d" % ("cls" if kind == "classification" else "reg", i)
                y, _ = self.conv(tag, fm, key, fhw, pad=1, relu=False, in_scale=sc)
                self.w.add_node(tag + "/rows", "reshape", [y], [self.act(tag + "/rows")],
                                {"shape": [fhw[0] * fhw[1] * a, cols]})
                outs.append(tag + "/rows")
        for k in self.sd:
            if k.startswith("head.") and k not in self.used:
                raise ConvertError("module %r cannot be placed (more head layers than feature maps)" % k.rsplit(".", 1)[0])
        anchors = default_boxes([m[1] for m in maps], (H, W), ratios, scales, steps)
        self.finish(cls_outs, reg_outs, anchors, classes, H, W, None)
        self.notes.append("ssd300_vgg16 layout: VGG to conv4_3 (%d channels) + 5 extra blocks, %d feature maps "
                          "%s, %d anchors, %d classes, input [1, %d, %d, 3] (fixed size)"
                          % (maps[0][2], len(maps), [m[1][0] for m in maps], anchors.shape[0], K, H, W))
        return self.w


def convert(state, raw, name, arch="ssd300_vgg16"):
    c = (SSDLiteConverter if arch.startswith("ssdlite") else SSDConverter)(state, raw, name)
    c.arch = arch
    return c.run(), c.notes


# -- SSDlite ------------------------------------------------------------------------------------------
# torchvision's mobilenet_v3_large blocks 1..15 (features.1..15): stride and activation (the weights give
# the widths, kernel sizes and which blocks have squeeze-and-excitation, not these)
MNV3_LARGE_STRIDES = [1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1]
MNV3_LARGE_HS = [False] * 6 + [True] * 9
SSDLITE_RATIOS = [[2, 3]] * 6


class SSDLiteConverter(SSDConverter):
    """ssdlite320_mobilenet_v3_large: MobileNetV3-Large trunk split at C4's expansion (SSDLiteFeatureExtractor-
    MobileNet), 4 extra blocks (1x1, depthwise 3x3 stride 2, 1x1; BatchNorm, ReLU6), SSDLiteHead (depthwise
    3x3 + BN + ReLU6, then a 1x1 conv). BatchNorm (eps 0.001, the builder's norm_layer) folded into the
    convolutions; Hardswish as `hard_swish`; squeeze-and-excitation as `mean` over H, W, two 1x1 convs
    (ReLU; then +3 folded into the bias and ReLU6), `mul` by 1/6 (Hardsigmoid) and a broadcasting `mul`."""

    def __init__(self, sd, raw, name):
        SSDConverter.__init__(self, sd, raw, name)
        self.eps = _num(raw, "bn_eps", 0.001, 0.0, 1.0)

    def cna(self, out, x, prefix, hw, stride=1, act="none", extra_bias=0.0, relu6=False):
        """Conv2dNormActivation `prefix` (.0 conv without bias, .1 BatchNorm), or a plain conv with bias
        when prefix.weight exists; depthwise when the filter is [C, 1, k, k] over C channels."""
        if (prefix + ".weight") in self.sd:
            w = self.get(prefix + ".weight", 4)
            b = self.get(prefix + ".bias", 1)
        else:
            w = self.get(prefix + ".0.weight", 4)
            bn = prefix + ".1"
            g, beta = self.get(bn + ".weight", 1), self.get(bn + ".bias", 1)
            mean, var = self.get(bn + ".running_mean", 1), self.get(bn + ".running_var", 1)
            if (bn + ".num_batches_tracked") in self.sd:
                self.used.add(bn + ".num_batches_tracked")
            o = w.shape[0]
            if any(a.shape != (o,) for a in (g, beta, mean, var)):
                raise ConvertError("%s: BatchNorm of %s channels after a conv of %d" % (bn, list(g.shape), o))
            scale = g / np.sqrt(var + self.eps)
            w = w * scale.reshape(o, 1, 1, 1)
            b = beta - mean * scale
        b = b + extra_bias
        o, ci, kh, kw = w.shape
        dw = ci == 1 and o == self.c and self.c > 1
        if not dw and ci != self.c:
            raise ConvertError("%s: a conv over %d channels, the tensor it reads has %d" % (prefix, ci, self.c))
        pad = (kh - 1) // 2
        conv_act = "relu6" if relu6 else ("relu" if act == "relu" else "none")
        name = out if act != "hs" else out + "/conv"
        attrs = OrderedDict([("stride", [stride, stride]), ("dilation", [1, 1]), ("padding", [pad, pad, pad, pad]),
                             ("activation", conv_act)])
        if dw:
            self.const(name + "/filter", w[:, 0].transpose(1, 2, 0)[None])
            attrs["depth_multiplier"] = 1
            op = "depthwise_conv2d"
        else:
            self.const(name + "/filter", w.transpose(0, 2, 3, 1))
            op = "conv2d"
        self.const(name + "/bias", b)
        self.w.add_node(name, op, [x, name + "/filter", name + "/bias"], [self.act(name)], attrs)
        if act == "hs":
            self.w.add_node(out, "hard_swish", [name], [self.act(out)], {})
        self.c = o
        return out, ((hw[0] + 2 * pad - kh) // stride + 1, (hw[1] + 2 * pad - kw) // stride + 1)

    def se(self, out, x, prefix):
        c = self.c
        self.w.add_node(out + "/pool", "mean", [x], [self.act(out + "/pool")],
                        OrderedDict([("axes", [1, 2]), ("keep_dims", True)]))
        h, _ = self.cna(out + "/fc1", out + "/pool", prefix + ".fc1", (1, 1), act="relu")
        g, _ = self.cna(out + "/fc2", h, prefix + ".fc2", (1, 1), extra_bias=3.0, relu6=True)
        if self.c != c:
            raise ConvertError("%s.fc2 gives %d channels, the block has %d" % (prefix, self.c, c))
        self.const(out + "/sixth", np.array([1.0 / 6.0]))
        self.w.add_node(out + "/gate", "mul", [g, out + "/sixth"], [self.act(out + "/gate")], {"activation": "none"})
        self.w.add_node(out, "mul", [x, out + "/gate"], [self.act(out)], {"activation": "none"})
        return out

    def block(self, tag, x, hw, mods, stride, hs, residual_ok=True):
        """An InvertedResidual's modules `mods` (prefixes: expand?, depthwise, SE?, project)."""
        cin, inp = self.c, x
        act = "hs" if hs else "relu"
        for j, p in enumerate(mods):
            if (p + ".fc1.weight") in self.sd:
                x = self.se("%s/se" % tag, x, p)
                continue
            w = self.sd.get(p + ".0.weight")
            if w is None:
                raise ConvertError("module %r cannot be placed in a MobileNetV3 block" % p)
            is_dw = w.shape[1] == 1 and w.shape[0] == self.c and self.c > 1 and w.shape[2] > 1
            last = j == len(mods) - 1
            if is_dw:
                x, hw = self.cna("%s/depthwise" % tag, x, p, hw, stride=stride, act=act)
            elif last:
                x, hw = self.cna("%s/project" % tag, x, p, hw)
            else:
                x, hw = self.cna("%s/expand" % tag, x, p, hw, act=act)
        if residual_ok and stride == 1 and cin == self.c:
            self.w.add_node(tag, "add", [inp, x], [self.act(tag)], {"activation": "none"})
            return tag, hw
        return x, hw

    def run(self):
        raw = self.raw
        classes, (H, W) = _classes_size(raw, [320, 320])
        sd = self.sd
        self.w.add_activation("image", "f32", [1, H, W, 3])
        self.w.add_activation("image_size", "i32", [2])
        self.c = 3
        f0, f1 = "backbone.features.0.", "backbone.features.1."
        for k in (f0 + "0.0.weight", f0 + "13.0.weight", f1 + "0.1.0.weight"):
            if k not in sd:
                raise ConvertError("module %r cannot be placed: not torchvision's ssdlite320_mobilenet_v3_large "
                                   "trunk (no %s)" % (k.rsplit(".", 2)[0], k))
        x, hw = self.cna("mnv3/stem", "image", f0 + "0", (H, W), stride=2, act="hs")

        def mods_of(prefix):   # the numbered sub-modules (block[1:] keeps its indices 1, 2, ...)
            idx = sorted({int(k[len(prefix):].split(".")[0]) for k in sd
                          if k.startswith(prefix) and k[len(prefix):].split(".")[0].isdigit()})
            return ["%s%d" % (prefix, j) for j in idx]
        for b in range(1, 13):
            p = f0 + "%d.block." % b
            if (p + "0.0.weight") not in sd:
                raise ConvertError("module %r cannot be placed (MobileNetV3-Large has blocks 1..15)" % (f0 + str(b)))
            x, hw = self.block("mnv3/block%d" % b, x, hw, mods_of(p), MNV3_LARGE_STRIDES[b - 1], MNV3_LARGE_HS[b - 1])
        # block 13, split: its expansion ends feature map 0
        x, hw = self.cna("mnv3/block13/expand", x, f0 + "13", hw, act="hs")
        maps = [(x, hw, self.c)]
        x, hw = self.block("mnv3/block13", x, hw, mods_of(f1 + "0."), 2, True, residual_ok=False)
        for b in (14, 15):
            p = f1 + "%d.block." % (b - 13)
            x, hw = self.block("mnv3/block%d" % b, x, hw, mods_of(p), 1, True)
        x, hw = self.cna("mnv3/last", x, f1 + "3", hw, act="hs")
        maps.append((x, hw, self.c))
        for e in range(4):
            p = "backbone.extra.%d." % e
            x, hw = self.cna("extra%d/conv1" % e, x, p + "0", hw, relu6=True)
            x, hw = self.cna("extra%d/depthwise" % e, x, p + "1", hw, stride=2, relu6=True)
            x, hw = self.cna("extra%d/conv2" % e, x, p + "2", hw, relu6=True)
            maps.append((x, hw, self.c))
        K = len(classes)
        cls_outs, reg_outs = [], []
        for i, (fm, fhw, fc_c) in enumerate(maps):
            a = 6
            for kind, cols, outs in (("classification", K, cls_outs), ("regression", 4, reg_outs)):
                key = "head.%s_head.module_list.%d" % (kind, i)
                tag = "head/%s%d" % ("cls" if kind == "classification" else "reg", i)
                self.c = fc_c
                y, _ = self.cna(tag + "/depthwise", fm, key + ".0", fhw, relu6=True)
                wshape = sd.get(key + ".1.weight", np.zeros(0)).shape
                if tuple(wshape) != (a * cols, fc_c, 1, 1):
                    raise ConvertError("%s.1.weight has shape %s, expected [%d, %d, 1, 1]" % (key, list(wshape), a * cols, fc_c))
                y, _ = self.cna(tag, y, key + ".1", fhw)
                self.w.add_node(tag + "/rows", "reshape", [y], [self.act(tag + "/rows")],
                                {"shape": [fhw[0] * fhw[1] * a, cols]})
                outs.append(tag + "/rows")
        n = len(maps)
        scales = [0.2 + (0.95 - 0.2) * k / (n - 1.0) for k in range(n)] + [1.0]
        anchors = default_boxes([m[1] for m in maps], (H, W), SSDLITE_RATIOS, scales, None)
        self.finish(cls_outs, reg_outs, anchors, classes, H, W,
                    dict(score=0.001, nms=0.55, dets=300, topk=300, mean=[0.5] * 3, std=[0.5] * 3))
        self.notes.append("ssdlite320_mobilenet_v3_large layout: MobileNetV3-Large (split at C4's expansion, %d "
                          "channels) + 4 extra blocks, feature maps %s, %d anchors, %d classes, input [1, %d, %d, 3] "
                          "(fixed size)" % (maps[0][2], [m[1][0] for m in maps], anchors.shape[0], K, H, W))
        return self.w
