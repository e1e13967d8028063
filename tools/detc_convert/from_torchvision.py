"""torchvision front end: a Faster/Mask R-CNN state_dict (+ a JSON config) -> the graph of models/maskrcnn.md.

    detc-convert torchvision CKPT.pth --config CONFIG.json -o OUT.detc

Architecture, recognised from the checkpoint's tensors (recognise(); a config `arch` naming a builder
is checked against it): torchvision 0.14's
  maskrcnn_resnet50_fpn / fasterrcnn_resnet50_fpn (v1): FPN convs with bias, RPNHead with one 3x3
    conv, TwoMLPHead (fc6, fc7), MaskRCNNHeads convs with bias (Mask R-CNN only);
  maskrcnn_resnet50_fpn_v2 / fasterrcnn_resnet50_fpn_v2: FPN convs without bias followed by
    BatchNorm, RPNHead(conv_depth=2), FastRCNNConvFCHead (4 x conv3x3+BN+ReLU, flatten, Linear+ReLU),
    MaskRCNNHeads convs + BatchNorm (Mask R-CNN only);
the trunk a ResNet-18/34 (BasicBlock) or ResNet-50/101/152 (Bottleneck, stride on the 3x3 conv as
torchvision does), ResNeXt (grouped 3x3 convs: conv2d's `groups`; groups and width per group read
from the weights) or a wide ResNet; BackboneWithFPN over layer1..layer4 with LastLevelMaxPool,
MultiScaleRoIAlign, FastRCNNPredictor, MaskRCNNPredictor. A checkpoint without a mask head is a
Faster R-CNN: the same graph without the mask branch (the pipeline's `masks` output is absent).
Recognised but refused, naming the module that cannot be placed: SSD300 VGG16, SSDlite MobileNetV3,
RetinaNet, FCOS, Keypoint R-CNN, Faster R-CNN MobileNetV3-FPN. Layer sizes are read from the
checkpoint's tensor shapes and checked against the config where the config states them.

Weights:
  - BatchNorm (FrozenBatchNorm2d, or BatchNorm2d's running statistics) folded into the preceding
    conv: w' = w * g / sqrt(v + eps), b' = beta - mean * g / sqrt(v + eps), computed in float64 and
    rounded once to float32. eps is 1e-5, FrozenBatchNorm2d's default since torchvision 0.8; config
    `bn_eps` overrides it. torchvision's own COCO_V1 weights (maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth)
    are run by torchvision with eps 0.0 (`overwrite_eps(model, 0.0)` in maskrcnn_resnet50_fpn), so
    convert them with "bn_eps": 0.0 to get torchvision's numbers.
  BatchNorm2d after the v2 FPN, box head and mask head convs (no conv bias) is folded the same way.
  - conv filters OIHW -> OHWI; ConvTranspose2d [Ci, Co, KH, KW] -> [Co, KH, KW, Ci].
  - fc6 of the box head: torchvision flattens roi features NCHW ([C, 7, 7]); detc's are NHWC
    ([7, 7, C]), so fc6's columns are permuted to (y, x, c) order.
  - RPN bbox_pred keeps torchvision's channel order (anchor-major, [A, 4] per position) in NHWC.

Config (JSON object; the keys of shared/models/maskrcnn_r18fpn_shapes/config.json):
  classes                 required: names, index 0 = background
  min_size, max_size      required: torchvision's transform sizes
  image_mean, image_std   default ImageNet's
  rpn_pre_nms_top_n_test  default 1000      rpn_post_nms_top_n_test  default 1000
  rpn_nms_thresh          default 0.7       rpn_score_thresh         default 0.0
  box_score_thresh        default 0.05      box_nms_thresh           default 0.5
  box_detections_per_img  default 100
  arch                    optional text naming the torchvision builder (e.g. "maskrcnn_resnet50_fpn_v2"),
                          checked against the checkpoint
  backbone                optional text naming the trunk ("resnet18 + FPN ...", "resnext50_32x4d"), or
  backbone_depth          optional 18 / 34 / 50 / 101 / 152 (checked against the checkpoint)
  fpn_channels            optional, checked
  box_head                optional text "TwoMLPHead(IN, REPR)", or representation_size, checked
  mask_head               optional text "MaskRCNNHeads(C, N x W, dilation D)", or
  mask_layers [W, ...] and mask_dilation, checked (the dilation cannot be read from the weights)
  anchor_sizes            default [32, 64, 128, 256, 512] (one per level)
  aspect_ratios           default [0.5, 1.0, 2.0]
  size_divisible          default 32
  bn_eps                  default 1e-5
Unknown keys are ignored (the shapes config carries notes such as "training").
"""

import math
import re
from collections import OrderedDict

import numpy as np

from .errors import ConvertError
from .writer import DetcWriter

PRODUCER = "detc-convert torchvision 1"

DEPTHS = {18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]),
          50: ("bottleneck", [3, 4, 6, 3]), 101: ("bottleneck", [3, 4, 23, 3]),
          152: ("bottleneck", [3, 8, 36, 3])}
# torchvision detection builders this front end recognises (config `arch` may name one), and what each is
ARCHS = OrderedDict([
    ("maskrcnn_resnet50_fpn_v2", ("maskrcnn", 2)), ("maskrcnn_resnet50_fpn", ("maskrcnn", 1)),
    ("fasterrcnn_resnet50_fpn_v2", ("fasterrcnn", 2)), ("fasterrcnn_resnet50_fpn", ("fasterrcnn", 1)),
    ("fasterrcnn_mobilenet_v3_large_320_fpn", ("fasterrcnn", 1)),
    ("fasterrcnn_mobilenet_v3_large_fpn", ("fasterrcnn", 1)),
])
# builders recognised but not converted (yet): the tensors that give them away and the reason
NOT_COVERED = [
    ("retinanet_resnet50_fpn_v2", "retinanet_resnet50_fpn_v2"), ("retinanet_resnet50_fpn", "retinanet_resnet50_fpn"),
    ("fcos_resnet50_fpn", "fcos_resnet50_fpn"), ("keypointrcnn_resnet50_fpn", "keypointrcnn_resnet50_fpn"),
]
LEVELS = ["P2", "P3", "P4", "P5", "P6"]
ROI_LEVELS = ["P2", "P3", "P4", "P5"]
SPATIAL_SCALES = [0.25, 0.125, 0.0625, 0.03125]


def c_name(layer):
    """Name of a trunk stage's output (layer1 -> C2 ... layer4 -> C5)."""
    return "C%d" % (layer + 1)


def _f(x):
    return float(np.float32(x))


# -- config -------------------------------------------------------------------------------------
class Config:
    NUMBERS = OrderedDict([
        # key: (default or None if required, kind, lo, hi)
        ("min_size", (None, "int", 1, 1 << 15)),
        ("max_size", (None, "int", 1, 1 << 15)),
        ("rpn_pre_nms_top_n_test", (1000, "int", 1, 1 << 20)),
        ("rpn_post_nms_top_n_test", (1000, "int", 1, 1 << 20)),
        ("rpn_nms_thresh", (0.7, "float", 0.0, 1.0)),
        ("rpn_score_thresh", (0.0, "float", 0.0, 1.0)),
        ("box_score_thresh", (0.05, "float", 0.0, 1.0)),
        ("box_nms_thresh", (0.5, "float", 0.0, 1.0)),
        ("box_detections_per_img", (100, "int", 1, 1 << 16)),
        ("size_divisible", (32, "int", 1, 1024)),
        ("bn_eps", (1e-5, "float", 0.0, 1.0)),
    ])

    def __init__(self, obj, where="config"):
        errs = []
        if not isinstance(obj, dict):
            raise ConvertError("%s: must be a JSON object, not %s" % (where, type(obj).__name__))
        self.raw = obj
        c = obj.get("classes")
        if c is None:
            errs.append("`classes` is missing: a list of class names, index 0 the background "
                        "(e.g. [\"__background__\", \"square\", ...])")
        elif (not isinstance(c, list) or len(c) < 2 or not all(isinstance(s, str) for s in c)):
            errs.append("`classes` must be a list of at least 2 strings (background first), found %.80r" % (c,))
        self.classes = c if isinstance(c, list) else []
        for key, (default, kind, lo, hi) in self.NUMBERS.items():
            v = obj.get(key, default)
            if v is None:
                errs.append("`%s` is missing (a number)" % key)
                continue
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
            if ok and kind == "int" and (not float(v).is_integer()):
                ok = False
            if not ok or not (lo <= v <= hi) or (isinstance(v, float) and not math.isfinite(v)):
                errs.append("`%s` must be %s in %s..%s, found %.80r"
                            % (key, "an integer" if kind == "int" else "a number", lo, hi, v))
                continue
            setattr(self, key, int(v) if kind == "int" else float(v))
        for key, default in (("image_mean", [0.485, 0.456, 0.406]), ("image_std", [0.229, 0.224, 0.225])):
            v = obj.get(key, default)
            if (not isinstance(v, list) or len(v) != 3
                    or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
                    or (key == "image_std" and not all(x > 0 for x in v))):
                errs.append("`%s` must be a list of 3 numbers%s, found %.80r"
                            % (key, " > 0" if key == "image_std" else "", v))
                v = default
            setattr(self, key, [float(x) for x in v])
        self.anchor_sizes_given = "anchor_sizes" in obj
        self.rpn_score_thresh_given = "rpn_score_thresh" in obj
        v = obj.get("anchor_sizes", [32, 64, 128, 256, 512])
        if (not isinstance(v, list) or not 1 <= len(v) <= 8):
            errs.append("`anchor_sizes` must list one size (or a list of sizes) for each FPN level (5 for ResNet "
                        "trunks, 3 for MobileNetV3), "
                        "found %.80r" % (v,))
            v = [32, 64, 128, 256, 512]
        sizes = []
        for s in v:
            s = s if isinstance(s, list) else [s]
            if not s or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in s):
                errs.append("`anchor_sizes`: %.80r is not a positive number or list of them" % (s,))
                s = [32]
            sizes.append([float(x) for x in s])
        self.anchor_sizes = sizes
        v = obj.get("aspect_ratios", [0.5, 1.0, 2.0])
        if (not isinstance(v, list) or not v
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in v)):
            errs.append("`aspect_ratios` must be a list of positive numbers, found %.80r" % (v,))
            v = [0.5, 1.0, 2.0]
        self.aspect_ratios = [float(x) for x in v]
        # architecture statements, all optional, checked against the weights later
        self.depth = None
        if "backbone_depth" in obj:
            self.depth = obj["backbone_depth"]
            if self.depth not in DEPTHS:
                errs.append("`backbone_depth` must be one of 18, 34, 50, 101, 152, found %.80r" % (self.depth,))
                self.depth = None
        elif isinstance(obj.get("backbone"), str):
            m = re.search(r"res(?:net|next)\s*(\d+)", obj["backbone"], re.I)
            if not m or int(m.group(1)) not in DEPTHS:
                errs.append("`backbone` %.80r does not name resnet18/34/50/101/152 or resnext50/101"
                            % obj["backbone"])
            else:
                self.depth = int(m.group(1))
        self.fpn_channels = self._int(obj, "fpn_channels", errs)
        self.representation_size = self._int(obj, "representation_size", errs)
        if self.representation_size is None and isinstance(obj.get("box_head"), str):
            m = re.search(r"TwoMLPHead\s*\(\s*([^,]+),\s*(\d+)\s*\)", obj["box_head"])
            if not m and "FastRCNNConvFCHead" in obj["box_head"]:
                pass   # the conv/fc widths are read from the weights
            elif not m:
                errs.append("`box_head` %.80r is not of the form \"TwoMLPHead(IN, SIZE)\"" % obj["box_head"])
            else:
                self.representation_size = int(m.group(2))
        self.mask_layers = None
        self.mask_dilation = 1
        if "mask_layers" in obj:
            v = obj["mask_layers"]
            if not isinstance(v, list) or not v or not all(isinstance(x, int) and x > 0 for x in v):
                errs.append("`mask_layers` must be a list of positive integers, found %.80r" % (v,))
            else:
                self.mask_layers = v
        if "mask_dilation" in obj:
            d = obj["mask_dilation"]
            if not isinstance(d, int) or isinstance(d, bool) or not 1 <= d <= 64:
                errs.append("`mask_dilation` must be an integer in 1..64, found %.80r" % (d,))
            else:
                self.mask_dilation = d
        elif isinstance(obj.get("mask_head"), str):
            m = re.search(r"MaskRCNNHeads\s*\(\s*(\d+)\s*,\s*(\d+)\s*x\s*(\d+)\s*(?:,\s*dilation\s*(\d+))?\s*\)",
                          obj["mask_head"])
            if not m:
                errs.append("`mask_head` %.80r is not of the form \"MaskRCNNHeads(IN, N x WIDTH, dilation D)\""
                            % obj["mask_head"])
            else:
                if self.mask_layers is None:
                    self.mask_layers = [int(m.group(3))] * int(m.group(2))
                if m.group(4):
                    self.mask_dilation = int(m.group(4))
        if errs:
            raise ConvertError("%s: %d problem%s:\n%s" % (where, len(errs), "" if len(errs) == 1 else "s",
                                                        "\n".join(errs)))

    @staticmethod
    def _int(obj, key, errs):
        if key not in obj:
            return None
        v = obj[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            errs.append("`%s` must be a positive integer, found %.80r" % (key, v))
            return None
        return v


# -- recognition ---------------------------------------------------------------------------------
def _module_of(key):
    """The module a state_dict key belongs to (the key without its parameter name)."""
    return key.rsplit(".", 1)[0] if "." in key else key


def _has_prefix(sd, prefix):
    return any(k.startswith(prefix) for k in sd)


def recognise(sd):
    """Which torchvision detection builder produced state_dict `sd`: returns a dict
    {family: "maskrcnn"|"fasterrcnn", version: 1|2, arch: builder name}; raises ConvertError naming the
    module it could not place for anything else."""
    if not sd:
        raise ConvertError("the checkpoint holds no tensors")
    if _has_prefix(sd, "head.classification_head.") or _has_prefix(sd, "head.regression_head."):
        if "backbone.scale_weight" in sd and _has_prefix(sd, "backbone.extra.0."):
            return {"family": "ssd", "version": 1, "arch": "ssd300_vgg16", "masks": False}
        if (_has_prefix(sd, "backbone.features.0.0.0.") and _has_prefix(sd, "backbone.features.1.")
                and _has_prefix(sd, "head.classification_head.module_list.0.0.0.")):
            return {"family": "ssd", "version": 1, "arch": "ssdlite320_mobilenet_v3_large", "masks": False}
        if "backbone.scale_weight" in sd:
            arch = "ssd300_vgg16"
        elif _has_prefix(sd, "head.classification_head.module_list."):
            arch = "ssdlite320_mobilenet_v3_large" if _has_prefix(sd, "backbone.features.0.0.") else "an SSD"
        elif _has_prefix(sd, "head.regression_head.bbox_ctrness."):
            arch = "fcos_resnet50_fpn"
        else:
            arch = "retinanet_resnet50_fpn(_v2)"
        raise ConvertError("this checkpoint is torchvision's %s (module 'head.classification_head' and "
                           "'head.regression_head'); detc-convert torchvision converts Faster/Mask R-CNN with a "
                           "ResNet/ResNeXt FPN backbone, ssd300_vgg16 and ssdlite320_mobilenet_v3_large only, it "
                           "cannot place module "
                           "'head.classification_head'"
                           % arch)
    if _has_prefix(sd, "roi_heads.keypoint_head."):
        raise ConvertError("this checkpoint is torchvision's keypointrcnn_resnet50_fpn: module "
                           "'roi_heads.keypoint_head' cannot be placed (Keypoint R-CNN is not supported)")
    if not _has_prefix(sd, "rpn.head.") or not _has_prefix(sd, "roi_heads.box_predictor."):
        mods = list(OrderedDict((".".join(k.split(".")[:2]), 1) for k in sd))
        raise ConvertError("not a torchvision detection checkpoint this front end knows: no module 'rpn.head' and "
                           "'roi_heads.box_predictor' (a Faster/Mask R-CNN state_dict); its modules are %s%s"
                           % (", ".join(repr(m) for m in mods[:8]), ", ..." if len(mods) > 8 else ""))
    mobile = "backbone.body.0.0.weight" in sd and _has_prefix(sd, "backbone.body.16.")
    if mobile and not (_has_prefix(sd, "roi_heads.mask_head.") or _has_prefix(sd, "backbone.fpn.inner_blocks.0.1.")):
        return {"family": "fasterrcnn", "version": 1, "arch": "fasterrcnn_mobilenet_v3_large_fpn", "masks": False,
                "mobile": True}
    if "backbone.body.0.0.weight" in sd or not _has_prefix(sd, "backbone.body.layer1."):
        if _has_prefix(sd, "backbone.body.0."):
            raise ConvertError("module 'backbone.body.0' cannot be placed: a MobileNet trunk other than "
                               "fasterrcnn_mobilenet_v3_large_fpn's (mobilenet_v3_large features 0..16, FPN on 13 and "
                               "16, no mask head)")
        first = next((k for k in sd if k.startswith("backbone.")), "backbone")
        raise ConvertError("module %r cannot be placed: the trunk is not a ResNet/ResNeXt "
                           "(backbone.body.conv1, backbone.body.layer1..layer4)" % _module_of(first))
    masks = _has_prefix(sd, "roi_heads.mask_head.") or _has_prefix(sd, "roi_heads.mask_predictor.")
    v2 = (_has_prefix(sd, "backbone.fpn.inner_blocks.0.1.") or _has_prefix(sd, "roi_heads.box_head.0.")
          or "rpn.head.conv.1.0.weight" in sd)
    family = "maskrcnn" if masks else "fasterrcnn"
    version = 2 if v2 else 1
    arch = "%s_resnet50_fpn%s" % (family, "_v2" if v2 else "")
    return {"family": family, "version": version, "arch": arch, "masks": masks}


def check_arch(found, arch_text):
    """Config `arch` (free text naming a torchvision builder) against what the checkpoint holds."""
    if not isinstance(arch_text, str):
        return
    for name, _spec in NOT_COVERED:
        if name in arch_text:
            raise ConvertError("config's arch names torchvision's %s, which detc-convert torchvision does not convert "
                               "(Faster/Mask R-CNN with a ResNet/ResNeXt FPN backbone only)" % name)
    if found["family"] == "ssd":
        other = "ssd300_vgg16" if found["arch"].startswith("ssdlite") else "ssdlite320_mobilenet_v3_large"
        if re.search(r"rcnn", arch_text) or other in arch_text:
            raise ConvertError("config's arch says %r, but the checkpoint holds torchvision's %s"
                               % (arch_text, found["arch"]))
        return
    for name, (family, version) in ARCHS.items():
        if re.search(r"\b%s\b" % re.escape(name), arch_text):
            if ((family, version) != (found["family"], found["version"])
                    or ("mobilenet" in name) != ("mobilenet" in found["arch"])):
                raise ConvertError("config's arch says %s, but the checkpoint holds a %s (%s)"
                                   % (name, found["arch"].replace("resnet50", "resnet") if "resnet" in found["arch"]
                                      else found["arch"],
                                      "mask head present" if found["masks"] else "no mask head"))
            return


# -- converter ----------------------------------------------------------------------------------
class _Converter:
    def __init__(self, sd, cfg, name, input_size):
        self.sd = sd
        self.cfg = cfg
        self.errors = []
        self.notes = []
        self.used = set()
        self.w = DetcWriter(name=name, producer=PRODUCER)
        self.input_size = input_size
        self.shared_consts = {}

    # -- weights ------------------------------------------------------------------------------
    def has(self, key):
        return key in self.sd

    def get(self, key, ndim=None, alt=()):
        """The float64 array of a state_dict entry (or of the first alternative name present)."""
        for k in (key,) + tuple(alt):
            if k in self.sd:
                a = self.sd[k]
                self.used.add(k)
                if ndim is not None and a.ndim != ndim:
                    raise ConvertError("checkpoint tensor %r has shape %s, expected %d dimensions"
                                       % (k, list(a.shape), ndim))
                if a.dtype.kind != "f":
                    raise ConvertError("checkpoint tensor %r is %s, expected floating point" % (k, a.dtype))
                if not np.all(np.isfinite(a)):
                    raise ConvertError("checkpoint tensor %r contains NaN or infinity" % k)
                return a.astype(np.float64)
        raise ConvertError("checkpoint has no tensor %r%s (is it a torchvision Mask R-CNN state_dict?)"
                           % (key, " (nor %s)" % ", ".join(repr(a) for a in alt) if alt else ""))

    def fold_bn(self, w, bn):
        """Fold BatchNorm `bn` (prefix) into conv weights w [O, ...]; returns (w', b')."""
        g = self.get(bn + ".weight", 1)
        beta = self.get(bn + ".bias", 1)
        mean = self.get(bn + ".running_mean", 1)
        var = self.get(bn + ".running_var", 1)
        if bn + ".num_batches_tracked" in self.sd:
            self.used.add(bn + ".num_batches_tracked")
        o = w.shape[0]
        for nm, a in (("weight", g), ("bias", beta), ("running_mean", mean), ("running_var", var)):
            if a.shape != (o,):
                raise ConvertError("%s.%s has shape %s, expected [%d] (the conv has %d output channels)"
                                   % (bn, nm, list(a.shape), o, o))
        if np.any(var + self.cfg.bn_eps <= 0):
            raise ConvertError("%s.running_var + eps (%g) is not positive for some channel" % (bn, self.cfg.bn_eps))
        scale = g / np.sqrt(var + self.cfg.bn_eps)
        return w * scale.reshape((o,) + (1,) * (w.ndim - 1)), beta - mean * scale

    def const(self, name, arr, dtype="f32"):
        arr = np.ascontiguousarray(arr, dtype=np.float32 if dtype == "f32" else np.int32)
        self.w.add_constant(name, dtype, list(arr.shape), arr)
        return name

    # -- nodes --------------------------------------------------------------------------------
    def act(self, name, dtype="f32"):
        self.w.add_activation(name, dtype)
        return name

    def conv(self, out, x, wkey, bias=None, bn=None, stride=1, pad=0, dilation=1, activation="none",
             consts=None, count=None, groups=1, bias_add=0.0):
        """conv2d node; weights from `wkey` (OIHW), bias from key `bias` or folded from BN `bn`.
        `consts` reuses already written constants (shared RPN head); `count` names a row count tensor
        (only that many images of the batch are computed: the mask head runs on the detections only)."""
        if consts is None:
            w = self.get(wkey, 4)
            if bn is not None:
                w, b = self.fold_bn(w, bn)
            elif bias is not None:
                b = self.get(bias, 1)
                if b.shape != (w.shape[0],):
                    raise ConvertError("%s has shape %s, expected [%d]" % (bias, list(b.shape), w.shape[0]))
            else:
                b = np.zeros(w.shape[0])
            b = b + bias_add
            base = wkey[:-len(".weight")] if wkey.endswith(".weight") else wkey
            if groups > 1 and groups == w.shape[0] and w.shape[1] == 1:   # depthwise: depthwise_conv2d
                wn = self.const(base + "/filter", w[:, 0].transpose(1, 2, 0)[None])
                bname = self.const(base + "/bias", b)
                attrs = OrderedDict([("stride", [stride, stride]), ("dilation", [dilation, dilation]),
                                     ("padding", [pad, pad, pad, pad]), ("activation", activation),
                                     ("depth_multiplier", 1)])
                self.w.add_node(out, "depthwise_conv2d", [x, wn, bname], [self.act(out)], attrs)
                return out, None
            wn = self.const(base + "/filter", w.transpose(0, 2, 3, 1))
            bname = self.const(base + "/bias", b)
            consts = (wn, bname, w.shape)
        wn, bname, shape = consts
        attrs = OrderedDict([("stride", [stride, stride]), ("dilation", [dilation, dilation]),
                             ("padding", [pad, pad, pad, pad]), ("activation", activation)])
        if groups != 1:
            attrs["groups"] = groups
        self.w.add_node(out, "conv2d", [x, wn, bname] + ([count] if count else []), [self.act(out)], attrs)
        return out, consts

    def add(self, out, a, b, activation="none"):
        self.w.add_node(out, "add", [a, b], [self.act(out)], {"activation": activation})
        return out

    # -- graph pieces -------------------------------------------------------------------------
    def trunk(self):
        sd = self.sd
        pre = "backbone.body."
        kind = "bottleneck" if (pre + "layer1.0.conv3.weight") in sd else "basic"
        counts = []
        for layer in range(1, 5):
            n = 0
            while (pre + "layer%d.%d.conv1.weight" % (layer, n)) in sd:
                n += 1
            counts.append(n)
        depth = None
        for d, (k, c) in DEPTHS.items():
            if k == kind and c == counts:
                depth = d
        if depth is None:
            raise ConvertError("the checkpoint's trunk (%s blocks per layer %s) is not ResNet-18/34/50/101/152; "
                               "module 'backbone.body.layer1' cannot be placed" % (kind, counts))
        if self.cfg.depth is not None and self.cfg.depth != depth:
            raise ConvertError("config says ResNet-%d, but the checkpoint holds ResNet-%d (%s blocks %s)"
                               % (self.cfg.depth, depth, kind, counts))
        self.depth = depth
        self.groups = 1
        self.width = 64
        if kind == "bottleneck":
            w1 = sd[pre + "layer1.0.conv1.weight"].shape
            w2 = sd[pre + "layer1.0.conv2.weight"].shape
            if len(w2) != 4 or len(w1) != 4 or w2[1] < 1 or w1[0] % w2[1]:
                raise ConvertError("%slayer1.0.conv2.weight has shape %s, not a (grouped) 3x3 conv over the %s "
                                   "channels of conv1" % (pre, list(w2), w1[0]))
            self.groups = w1[0] // w2[1]
            self.width = w1[0] // self.groups
        self.trunk_name = ("ResNeXt-%d %dx%dd" % (depth, self.groups, self.width) if self.groups > 1
                           else "ResNet-%d" % depth if self.width == 64 else "ResNet-%d (width %d)" % (depth, self.width))
        x, _ = self.conv("backbone/conv1", "image", pre + "conv1.weight", bn=pre + "bn1", stride=2, pad=3,
                         activation="relu")
        self.w.add_node("backbone/maxpool", "max_pool2d", [x], [self.act("backbone/maxpool")],
                        OrderedDict([("kernel", [3, 3]), ("stride", [2, 2]), ("padding", [1, 1, 1, 1])]))
        x = "backbone/maxpool"
        channels = []
        for layer in range(1, 5):
            for b in range(counts[layer - 1]):
                p = pre + "layer%d.%d." % (layer, b)
                tag = "backbone/layer%d.%d" % (layer, b)
                stride = 2 if (layer > 1 and b == 0) else 1
                out = c_name(layer) if b == counts[layer - 1] - 1 else tag
                if kind == "basic":
                    h, _ = self.conv(tag + "/conv1", x, p + "conv1.weight", bn=p + "bn1", stride=stride, pad=1,
                                     activation="relu")
                    h, _ = self.conv(tag + "/conv2", h, p + "conv2.weight", bn=p + "bn2", pad=1)
                else:
                    h, _ = self.conv(tag + "/conv1", x, p + "conv1.weight", bn=p + "bn1", activation="relu")
                    h, _ = self.conv(tag + "/conv2", h, p + "conv2.weight", bn=p + "bn2", stride=stride, pad=1,
                                     activation="relu", groups=self.groups)
                    h, _ = self.conv(tag + "/conv3", h, p + "conv3.weight", bn=p + "bn3")
                if (p + "downsample.0.weight") in sd:
                    idn, _ = self.conv(tag + "/downsample", x, p + "downsample.0.weight", bn=p + "downsample.1",
                                       stride=stride)
                elif stride != 1 or b == 0 and layer > 1:
                    raise ConvertError("%sdownsample.0.weight is missing (block changes stride/width)" % p)
                else:
                    idn = x
                x = self.add(out, h, idn, activation="relu")
            last = p + ("conv3.weight" if kind == "bottleneck" else "conv2.weight")
            channels.append(self.sd[last].shape[0])
        self.trunk_outs = [c_name(i) for i in range(1, 5)]
        self.levels = LEVELS
        self.roi_levels = ROI_LEVELS
        self.scales = SPATIAL_SCALES
        return channels

    def mobile_trunk(self):
        """torchvision's mobilenet_v3_large `features` as _mobilenet_extractor(fpn=True) returns them:
        the FPN reads features[13] (C4's block, ending at stride 32) and features[16] (the last 1x1 conv)."""
        from .from_torchvision_ssd import MNV3_LARGE_HS, MNV3_LARGE_STRIDES
        sd = self.sd
        pre = "backbone.body."
        for i in (0, 13, 16):
            if (pre + "%d.0.weight" % i) not in sd and (pre + "%d.block.0.0.weight" % i) not in sd:
                raise ConvertError("module %r cannot be placed: the trunk is not torchvision's mobilenet_v3_large "
                                   "(features 0..16)" % (pre + str(i)))
        if (pre + "17.0.weight") in sd or _has_prefix(sd, pre + "17."):
            raise ConvertError("module %r cannot be placed: mobilenet_v3_large has features 0..16" % (pre + "17"))

        def cna(out, x, p, stride=1, act="none", bias_add=0.0):
            w = sd[p + ".0.weight"]
            k = w.shape[2]
            groups = w.shape[0] if (w.shape[1] == 1 and w.shape[0] > 1 and k > 1) else 1
            conv_act = {"relu": "relu", "relu6": "relu6"}.get(act, "none")
            name = out + "/conv" if act == "hs" else out
            self.conv(name, x, p + ".0.weight", bn=p + ".1", stride=stride, pad=(k - 1) // 2, activation=conv_act,
                      groups=groups, bias_add=bias_add)
            if act == "hs":
                self.w.add_node(out, "hard_swish", [name], [self.act(out)], {})
            return out, w.shape[0]

        x, c = cna("backbone/stem", "image", pre + "0", stride=2, act="hs")
        self.depth = "mobilenet_v3_large"
        for b in range(1, 16):
            p = pre + "%d.block." % b
            if (p + "0.0.weight") not in sd:
                raise ConvertError("module %r cannot be placed (mobilenet_v3_large has blocks 1..15)" % (pre + str(b)))
            idx = sorted({int(k[len(p):].split(".")[0]) for k in sd if k.startswith(p)})
            tag = "backbone/block%d" % b
            act = "hs" if MNV3_LARGE_HS[b - 1] else "relu"
            inp, cin = x, c
            for j, i in enumerate(idx):
                m = "%s%d" % (p, i)
                if (m + ".fc1.weight") in sd:
                    se = tag + "/se"
                    self.w.add_node(se + "/pool", "mean", [x], [self.act(se + "/pool")],
                                    OrderedDict([("axes", [1, 2]), ("keep_dims", True)]))
                    h, _ = self.conv(se + "/fc1", se + "/pool", m + ".fc1.weight", bias=m + ".fc1.bias",
                                     activation="relu")
                    g, _ = self.conv(se + "/fc2", h, m + ".fc2.weight", bias=m + ".fc2.bias", activation="relu6",
                                     bias_add=3.0)
                    self.const(se + "/sixth", np.array([1.0 / 6.0]))
                    self.w.add_node(se + "/gate", "mul", [g, se + "/sixth"], [self.act(se + "/gate")],
                                    {"activation": "none"})
                    self.w.add_node(se, "mul", [x, se + "/gate"], [self.act(se)], {"activation": "none"})
                    x = se
                    continue
                w = sd[m + ".0.weight"]
                dw = w.shape[1] == 1 and w.shape[0] == c and c > 1 and w.shape[2] > 1
                if dw:
                    x, c = cna(tag + "/depthwise", x, m, stride=MNV3_LARGE_STRIDES[b - 1], act=act)
                elif j == len(idx) - 1:
                    x, c = cna("C4" if b == 13 else tag + "/project", x, m)
                else:
                    x, c = cna(tag + "/expand", x, m, act=act)
            out = "C4" if b == 13 else tag
            if MNV3_LARGE_STRIDES[b - 1] == 1 and cin == c:
                x = self.add(out, inp, x)
        c4 = "C4"
        c4_c = sd[pre + "13.block.%d.0.weight" % max(
            int(k[len(pre + "13.block."):].split(".")[0]) for k in sd if k.startswith(pre + "13.block."))].shape[0]
        x, c5_c = cna("C5", x, pre + "16", act="hs")
        self.trunk_outs = [c4, "C5"]
        # features[13] ends with C4's stride-2 depthwise: both FPN inputs are at stride 32, so torchvision's
        # MultiScaleRoIAlign infers the scale 1/32 for both and its LevelMapper (levels 5..5) pools every box
        # from the first map
        self.levels = ["P4", "P5", "P6"]
        self.roi_levels = ["P4"]
        self.scales = [0.03125]
        self.trunk_name = "MobileNetV3-Large"
        return [c4_c, c5_c]

    def fpn(self, channels):
        pre = "backbone.fpn."

        def key(blocks, i, what):  # torchvision >= 0.13 names blocks X.i.0.*, older ones X.i.*
            new = "%s%s.%d.0.%s" % (pre, blocks, i, what)
            return new if new in self.sd else "%s%s.%d.%s" % (pre, blocks, i, what)

        def conv(out, x, blocks, i, pad):
            # v1: conv with bias; v2 (norm_layer=BatchNorm2d): conv without bias, then BN (X.i.1)
            bn = "%s%s.%d.1" % (pre, blocks, i)
            if (bn + ".running_mean") in self.sd:
                return self.conv(out, x, key(blocks, i, "weight"), bn=bn, pad=pad)[0]
            return self.conv(out, x, key(blocks, i, "weight"), bias=key(blocks, i, "bias"), pad=pad)[0]

        n = len(channels)   # levels: self.levels[:n] from the trunk outputs self.trunk_outs
        for i in range(n):
            if key("inner_blocks", i, "weight") not in self.sd:
                raise ConvertError("checkpoint has no %s (FPN lateral %d)" % (key("inner_blocks", i, "weight"), i))
        if key("inner_blocks", n, "weight") in self.sd:
            raise ConvertError("module 'backbone.fpn.inner_blocks.%d' cannot be placed: the trunk gives %d levels" % (n, n))
        fpn_c = self.sd[key("inner_blocks", 0, "weight")].shape[0]
        if self.cfg.fpn_channels is not None and self.cfg.fpn_channels != fpn_c:
            raise ConvertError("config says fpn_channels %d, the checkpoint's FPN has %d"
                               % (self.cfg.fpn_channels, fpn_c))
        for i in range(n):
            wshape = self.sd[key("inner_blocks", i, "weight")].shape
            if tuple(wshape[1:]) != (channels[i], 1, 1) or wshape[0] != fpn_c:
                raise ConvertError("%s has shape %s, expected [%d, %d, 1, 1]"
                                   % (key("inner_blocks", i, "weight"), list(wshape), fpn_c, channels[i]))
        self.fpn_c = fpn_c
        lat = {}
        L = self.levels
        for i in range(n - 1, -1, -1):
            lat[i] = conv("fpn/lateral/%s" % L[i], self.trunk_outs[i], "inner_blocks", i, 0)
        last = lat[n - 1]
        conv(L[n - 1], last, "layer_blocks", n - 1, 1)
        for i in range(n - 2, -1, -1):
            td = "fpn/topdown/%s" % L[i]
            self.w.add_node(td, "resize_nearest", [last, lat[i]], [self.act(td)], {})
            last = self.add("fpn/merged/%s" % L[i], lat[i], td)
            conv(L[i], last, "layer_blocks", i, 1)
        self.w.add_node(L[n], "max_pool2d", [L[n - 1]], [self.act(L[n])],
                        OrderedDict([("kernel", [1, 1]), ("stride", [2, 2]), ("padding", [0, 0, 0, 0])]))

    def rpn(self):
        cfg = self.cfg
        if "rpn.head.conv.0.0.weight" in self.sd:
            convs = []
            while "rpn.head.conv.%d.0.weight" % len(convs) in self.sd:
                convs.append("rpn.head.conv.%d.0." % len(convs))
        else:
            convs = ["rpn.head.conv."]
        self.rpn_depth = len(convs)
        a = len(cfg.aspect_ratios)
        na = [len(s) * a for s in cfg.anchor_sizes]
        if len(set(na)) != 1:
            raise ConvertError("anchor_sizes give %s anchors per position on the levels; the shared RPN head "
                               "needs the same number on every level" % na)
        na = na[0]
        cls_shape = self.sd.get("rpn.head.cls_logits.weight", np.zeros((0,))).shape
        if tuple(cls_shape) != (na, self.fpn_c, 1, 1):
            raise ConvertError("rpn.head.cls_logits.weight has shape %s, expected [%d, %d, 1, 1] (%d anchors per "
                               "position from anchor_sizes x aspect_ratios)" % (list(cls_shape), na, self.fpn_c, na))
        shared = [None, None, None] + [None] * len(convs)
        ins = []
        if len(cfg.anchor_sizes) != len(self.levels):
            raise ConvertError("config's anchor_sizes has %d entries, the FPN has %d levels (%s)"
                               % (len(cfg.anchor_sizes), len(self.levels), ", ".join(self.levels)))
        for li, lvl in enumerate(self.levels):
            h = lvl
            for j, cp in enumerate(convs):
                name = "rpn/conv/%s" % lvl if j == len(convs) - 1 else "rpn/conv%d/%s" % (j + 1, lvl)
                h, shared[3 + j] = self.conv(name, h, cp + "weight", bias=cp + "bias", pad=1, activation="relu",
                                             consts=shared[3 + j])
            o, shared[1] = self.conv("rpn/objectness/%s" % lvl, h, "rpn.head.cls_logits.weight",
                                     bias="rpn.head.cls_logits.bias", consts=shared[1])
            d, shared[2] = self.conv("rpn/deltas/%s" % lvl, h, "rpn.head.bbox_pred.weight",
                                     bias="rpn.head.bbox_pred.bias", consts=shared[2])
            an = "rpn/anchors/%s" % lvl
            self.w.add_node(an, "anchors", [lvl, "image"], [self.act(an)],
                            OrderedDict([("sizes", cfg.anchor_sizes[li]), ("aspect_ratios", cfg.aspect_ratios)]))
            ins += [o, d, an]
        bp = self.sd.get("rpn.head.bbox_pred.weight", np.zeros((0,))).shape
        if tuple(bp) != (4 * na, self.fpn_c, 1, 1):
            raise ConvertError("rpn.head.bbox_pred.weight has shape %s, expected [%d, %d, 1, 1]"
                               % (list(bp), 4 * na, self.fpn_c))
        self.w.add_node("rpn/proposals", "rpn_proposals", ins + ["image_size"],
                        [self.act("rpn/proposals"), self.act("rpn/proposals_count", "i32")],
                        OrderedDict([("pre_nms_top_n", cfg.rpn_pre_nms_top_n_test),
                                     ("post_nms_top_n", cfg.rpn_post_nms_top_n_test),
                                     ("nms_threshold", _f(cfg.rpn_nms_thresh)),
                                     ("min_size", 1e-3),
                                     ("score_threshold", _f(cfg.rpn_score_thresh))]))

    def roi_align(self, out, boxes, count, size):
        self.w.add_node(out, "roi_align", [boxes, count] + self.roi_levels, [self.act(out)],
                        OrderedDict([("output_size", size), ("sampling_ratio", 2), ("aligned", False),
                                     ("spatial_scales", self.scales), ("canonical_scale", 224),
                                     ("canonical_level", 4), ("mode", "torchvision")]))

    def fc(self, out, x, w, b, activation):
        base = out
        self.const(base + "/weights", w)
        self.const(base + "/bias", b)
        self.w.add_node(out, "fully_connected", [x, base + "/weights", base + "/bias"], [self.act(out)],
                        {"activation": activation})

    def conv_fc_head(self):
        """FastRCNNConvFCHead (the v2 box head): N x (3x3 conv + BatchNorm + ReLU), flatten, Linear + ReLU.
        Returns (the tensor feeding the predictor, its width)."""
        c = self.fpn_c
        x = "box/roi_features"
        i = 0
        while "roi_heads.box_head.%d.0.weight" % i in self.sd:
            p = "roi_heads.box_head.%d." % i
            if (p + "1.running_mean") in self.sd:
                x, _ = self.conv("box/conv%d" % (i + 1), x, p + "0.weight", bn=p + "1", pad=1, activation="relu")
            else:
                x, _ = self.conv("box/conv%d" % (i + 1), x, p + "0.weight", bias=p + "0.bias", pad=1,
                                 activation="relu")
            c = self.sd[p + "0.weight"].shape[0]
            i += 1
        self.box_convs = i
        # then Flatten (index i), and Linear, ReLU pairs
        fcs = ["roi_heads.box_head.%d." % j for j in range(i + 1, i + 33, 2)
               if ("roi_heads.box_head.%d.weight" % j) in self.sd]
        if not fcs:
            raise ConvertError("module 'roi_heads.box_head' cannot be placed: neither TwoMLPHead (fc6, fc7) nor "
                               "FastRCNNConvFCHead (convs, then Linear layers)")
        rep = None
        for k, fp in enumerate(fcs):
            w = self.get(fp + "weight", 2)
            b = self.get(fp + "bias", 1)
            if k == 0:
                if w.shape[1] != c * 49:
                    raise ConvertError("%sweight has shape %s, expected [N, %d] (%d channels x 7 x 7)"
                                       % (fp, list(w.shape), c * 49, c))
                w = w.reshape(w.shape[0], c, 7, 7).transpose(0, 2, 3, 1).reshape(w.shape[0], 49 * c)
            elif w.shape[1] != rep:
                raise ConvertError("%sweight has shape %s, expected [N, %d]" % (fp, list(w.shape), rep))
            if b.shape != (w.shape[0],):
                raise ConvertError("%sbias has shape %s, expected [%d]" % (fp, list(b.shape), w.shape[0]))
            rep = w.shape[0]
            name = "box/fc%d" % (k + 1)
            self.fc(name, x, w, b, "relu")
            x = name
        return x, rep

    def box_head(self):
        cfg = self.cfg
        c = self.fpn_c
        if "roi_heads.box_head.fc6.weight" not in self.sd:
            self.roi_align("box/roi_features", "rpn/proposals", "rpn/proposals_count", 7)
            x, rep = self.conv_fc_head()
            self.box_head_name = "FastRCNNConvFCHead(%d convs, fc %d)" % (self.box_convs, rep)
            self.predictor(x, rep)
            return
        w6 = self.get("roi_heads.box_head.fc6.weight", 2)
        b6 = self.get("roi_heads.box_head.fc6.bias", 1)
        rep = w6.shape[0]
        self.box_head_name = "TwoMLPHead(%d)" % rep
        if w6.shape[1] != c * 49:
            raise ConvertError("roi_heads.box_head.fc6.weight has shape %s, expected [N, %d] (%d channels x 7 x 7)"
                               % (list(w6.shape), c * 49, c))
        w7 = self.get("roi_heads.box_head.fc7.weight", 2)
        b7 = self.get("roi_heads.box_head.fc7.bias", 1)
        for nm, a, want in (("fc6.bias", b6, (rep,)), ("fc7.weight", w7, (rep, rep)), ("fc7.bias", b7, (rep,))):
            if a.shape != want:
                raise ConvertError("roi_heads.box_head %s has shape %s, expected %s" % (nm, list(a.shape), list(want)))
        self.roi_align("box/roi_features", "rpn/proposals", "rpn/proposals_count", 7)
        # torchvision flattens [C, 7, 7]; detc's rows are [7, 7, C]
        w6 = w6.reshape(rep, c, 7, 7).transpose(0, 2, 3, 1).reshape(rep, 49 * c)
        self.fc("box/fc6", "box/roi_features", w6, b6, "relu")
        self.fc("box/fc7", "box/fc6", w7, b7, "relu")
        self.predictor("box/fc7", rep)

    def predictor(self, x, rep):
        cfg = self.cfg
        if cfg.representation_size is not None and cfg.representation_size != rep:
            raise ConvertError("config's box head has representation size %d, the checkpoint's has %d"
                               % (cfg.representation_size, rep))
        wc = self.get("roi_heads.box_predictor.cls_score.weight", 2)
        bc = self.get("roi_heads.box_predictor.cls_score.bias", 1)
        wb = self.get("roi_heads.box_predictor.bbox_pred.weight", 2)
        bb = self.get("roi_heads.box_predictor.bbox_pred.bias", 1)
        k = wc.shape[0]
        if k != len(cfg.classes):
            raise ConvertError("config lists %d classes (background included), the checkpoint's cls_score has %d"
                               % (len(cfg.classes), k))
        for nm, a, want in (("cls_score.weight", wc, (k, rep)), ("cls_score.bias", bc, (k,)),
                            ("bbox_pred.weight", wb, (4 * k, rep)), ("bbox_pred.bias", bb, (4 * k,))):
            if a.shape != want:
                raise ConvertError("roi_heads %s has shape %s, expected %s" % (nm, list(a.shape), list(want)))
        self.num_classes = k
        self.fc("box/class_logits", x, wc, bc, "none")
        self.fc("box/box_regression", x, wb, bb, "none")
        outs = ["detections/boxes", "detections/scores", "detections/labels", "detections/count"]
        self.w.add_node("detections", "box_detections",
                        ["box/class_logits", "box/box_regression", "rpn/proposals", "rpn/proposals_count",
                         "image_size"],
                        [self.act(outs[0]), self.act(outs[1]), self.act(outs[2], "i32"), self.act(outs[3], "i32")],
                        OrderedDict([("score_threshold", _f(cfg.box_score_thresh)),
                                     ("nms_threshold", _f(cfg.box_nms_thresh)),
                                     ("detections_per_img", cfg.box_detections_per_img),
                                     ("weights", [10.0, 10.0, 5.0, 5.0]),
                                     ("min_size", 1e-2)]))

    def mask_head(self):
        cfg = self.cfg
        self.roi_align("mask/roi_features", "detections/boxes", "detections/count", 14)
        x = "mask/roi_features"
        layers = []
        i = 0
        while True:
            new = "roi_heads.mask_head.%d.0.weight" % i
            old = "roi_heads.mask_head.mask_fcn%d.weight" % (i + 1)
            if new in self.sd and ("roi_heads.mask_head.%d.1.running_mean" % i) in self.sd:
                layers.append((new, None, "roi_heads.mask_head.%d.1" % i))   # v2: conv + BatchNorm
            elif new in self.sd:
                layers.append((new, new[:-len("weight")] + "bias", None))
            elif old in self.sd:
                layers.append((old, old[:-len("weight")] + "bias", None))
            else:
                break
            i += 1
        if not layers:
            raise ConvertError("checkpoint has no mask head (roi_heads.mask_head.0.0.weight)")
        widths = [self.sd[wk].shape[0] for wk, _, _ in layers]
        if cfg.mask_layers is not None and cfg.mask_layers != widths:
            raise ConvertError("config's mask head has layers %s, the checkpoint's has %s" % (cfg.mask_layers, widths))
        d = cfg.mask_dilation
        for i, (wk, bk, bn) in enumerate(layers):
            x, _ = self.conv("mask/fcn%d" % (i + 1), x, wk, bias=bk, bn=bn, pad=d, dilation=d, activation="relu",
                             count="detections/count")
        wt = self.get("roi_heads.mask_predictor.conv5_mask.weight", 4)   # [Ci, Co, 2, 2]
        bt = self.get("roi_heads.mask_predictor.conv5_mask.bias", 1)
        if wt.shape[0] != widths[-1] or wt.shape[2:] != (2, 2) or bt.shape != (wt.shape[1],):
            raise ConvertError("roi_heads.mask_predictor.conv5_mask has weight %s / bias %s, expected [%d, Co, 2, 2] "
                               "/ [Co]" % (list(wt.shape), list(bt.shape), widths[-1]))
        self.const("mask/deconv/filter", wt.transpose(1, 2, 3, 0))
        self.const("mask/deconv/bias", bt)
        # the mask head runs on the `detections/count` rows only (the rest of the 100 are zero); the ReLU
        # after conv5_mask is fused (its output keeps the name torchvision_ref.py gives the ReLU's output)
        self.w.add_node("mask/deconv", "conv2d_transpose",
                        [x, "mask/deconv/filter", "mask/deconv/bias", "detections/count"],
                        [self.act("mask/deconv_relu")],
                        OrderedDict([("stride", [2, 2]), ("padding", [0, 0, 0, 0]), ("activation", "relu")]))
        lw = self.sd.get("roi_heads.mask_predictor.mask_fcn_logits.weight", np.zeros((0,))).shape
        if tuple(lw) != (self.num_classes, wt.shape[1], 1, 1):
            raise ConvertError("roi_heads.mask_predictor.mask_fcn_logits.weight has shape %s, expected [%d, %d, 1, 1]"
                               % (list(lw), self.num_classes, wt.shape[1]))
        self.conv("mask/logits", "mask/deconv_relu", "roi_heads.mask_predictor.mask_fcn_logits.weight",
                  bias="roi_heads.mask_predictor.mask_fcn_logits.bias", count="detections/count")
        self.w.add_node("mask/probs", "mask_select", ["mask/logits", "detections/labels", "detections/count"],
                        [self.act("mask/probs")], {})

    def run(self):
        cfg = self.cfg
        if self.input_size is not None:
            hp, wp = self.input_size
        else:
            s = -(-cfg.max_size // cfg.size_divisible) * cfg.size_divisible
            hp = wp = s
        self.found = recognise(self.sd)
        check_arch(self.found, cfg.raw.get("arch"))
        self.w.add_activation("image", "f32", [1, hp, wp, 3])
        self.w.add_activation("image_size", "i32", [2])
        mobile = "backbone.body.0.0.weight" in self.sd
        if mobile and not cfg.anchor_sizes_given:   # the builder's AnchorGenerator: 5 sizes on each of 3 levels
            cfg.anchor_sizes = [[32.0, 64.0, 128.0, 256.0, 512.0]] * 3
        if mobile and not cfg.rpn_score_thresh_given:
            cfg.rpn_score_thresh = 0.05             # fasterrcnn_mobilenet_v3_large(_320)_fpn's default
            self.notes.append("rpn_score_thresh 0.05 (fasterrcnn_mobilenet_v3_large_fpn's default; the config "
                              "does not say)")
        channels = self.mobile_trunk() if mobile else self.trunk()
        self.fpn(channels)
        self.rpn()
        self.box_head()
        masks = self.found["masks"]
        if masks:
            self.mask_head()
        unused = sorted(k for k in self.sd if k not in self.used)
        if unused:
            mods = list(OrderedDict((_module_of(k), 1) for k in unused))
            raise ConvertError("%d checkpoint tensors are not part of a torchvision %s as detc builds it: module%s "
                               "%s cannot be placed (tensors %s%s)"
                               % (len(unused), self.found["arch"], "s" if len(mods) > 1 else "",
                                  ", ".join(repr(m) for m in mods[:6]) + (", ..." if len(mods) > 6 else ""),
                                  ", ".join(unused[:8]), ", ..." if len(unused) > 8 else ""))
        self.w.inputs = ["image", "image_size"]
        self.w.outputs = ["detections/boxes", "detections/scores", "detections/labels", "detections/count"]
        if masks:
            self.w.outputs.append("mask/probs")
        self.w.labels = list(cfg.classes)
        self.w.pipeline = OrderedDict([
            ("kind", "maskrcnn"),
            ("input", OrderedDict([
                ("tensor", "image"), ("image_size", "image_size"), ("color", "rgb"), ("resize", "bilinear"),
                ("min_size", cfg.min_size), ("max_size", cfg.max_size),
                ("mean", cfg.image_mean), ("std", cfg.image_std), ("size_divisible", cfg.size_divisible)])),
            ("outputs", OrderedDict([
                ("boxes", "detections/boxes"), ("scores", "detections/scores"), ("labels", "detections/labels"),
                ("count", "detections/count")] + ([("masks", "mask/probs"),
                                                   ("mask_threshold", 0.5), ("mask_padding", 1)] if masks else []))),
        ])
        self.notes.append("%s v%d layout (the modules of torchvision's %s): %s + FPN(%d%s), RPN head %d conv%s, %s, "
                          "%s, %d classes, input declared [1, %d, %d, 3] (the pipeline resizes it per image)"
                          % ("Mask R-CNN" if masks else "Faster R-CNN", self.found["version"], self.found["arch"],
                             self.trunk_name, self.fpn_c,
                             ", BatchNorm" if self.found["version"] == 2 else "", self.rpn_depth,
                             "s" if self.rpn_depth > 1 else "", self.box_head_name,
                             "mask head" if masks else "no mask head (Faster R-CNN)", self.num_classes, hp, wp))
        return self.w


def convert(state, config, name, input_size=None):
    """state: name -> numpy array (a torchvision detection state_dict); config: dict (or Config).
    Returns (DetcWriter, notes). Raises ConvertError."""
    found = recognise(state)
    if found["family"] == "ssd":
        from . import from_torchvision_ssd
        raw = config.raw if isinstance(config, Config) else config
        if not isinstance(raw, dict):
            raise ConvertError("config: must be a JSON object")
        check_arch(found, raw.get("arch"))
        if input_size is not None:
            raise ConvertError("--input-size does not apply to SSD: its input is the config's `size`")
        return from_torchvision_ssd.convert(state, raw, name, found["arch"])
    cfg = config if isinstance(config, Config) else Config(config)
    if input_size is not None:
        h, w = input_size
        if h % cfg.size_divisible or w % cfg.size_divisible or h < 1 or w < 1:
            raise ConvertError("--input-size %dx%d: both must be positive multiples of size_divisible (%d)"
                               % (h, w, cfg.size_divisible))
    c = _Converter(state, cfg, name, input_size)
    w = c.run()
    return w, c.notes
