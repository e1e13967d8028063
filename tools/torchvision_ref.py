#!/usr/bin/python3
"""Reference runner for Mask R-CNN: torchvision itself, every stage dumped in detc's layout.

    /usr/bin/python3 tools/torchvision_ref.py CKPT.pth --config CONFIG.json --image IMG [--image IMG ...]
                                              --out DIR [--stage-inputs] [--threads N]
                                              [--results RESULTS.json [--gt GT.json]] [--compact]
                                              [--only NAME,...]
    /usr/bin/python3 tools/torchvision_ref.py --random-r50 SEED --out DIR [--image IMG ...]
    /usr/bin/python3 tools/torchvision_ref.py (CKPT.pth --config CONFIG.json | --random-r50 SEED --out DIR)
                                              --image IMG ... --time [--runs N] [--warmup N] [--threads T]
                                              [--time-scope graph|full]

Needs Debian's python3-torch (1.13) and python3-torchvision (0.14). Runs torchvision's MaskRCNN in
eval mode on CPU (torch.set_num_threads(--threads), default 4) and, with forward hooks, writes what
every stage computed as .npy files in detc's dump convention (tools/README.md): DIR/NAME.npy, the
name with bytes outside [A-Za-z0-9._-] replaced by '_', and DIR/manifest.json
{"tensors": [{"name", "file", "dtype", "shape"}], ...}. With several images each gets DIR/STEM/.

Tensors are NHWC and named as tools/detc_convert/from_torchvision.py names detc's tensors, so
`detc compare DETC_DUMP DIR` pairs them by name:

  image [1,Hp,Wp,3] f32 (after torchvision's transform: normalised, resized, zero-padded) and
  image_size i32 [2] (resized, unpadded h, w): the graph inputs, exactly what detc is fed
  backbone/conv1, backbone/maxpool, backbone/layerL.B[/conv1|conv2|conv3|downsample] (after the
  folded BN and the ReLU where detc fuses one), C2..C5 (the last block of layer1..layer4)
  fpn/lateral/Pk, fpn/topdown/Pk, fpn/merged/Pk, P2..P6
  rpn/conv/Pk, rpn/objectness/Pk [1,h,w,A], rpn/deltas/Pk [1,h,w,4A], rpn/anchors/Pk [h*w*A,4]
  rpn/proposals [P,4] and rpn/proposals_count i32 [1]   (P = rpn_post_nms_top_n_test; rows past
                                                        the count are 0, as in detc)
  box/roi_features [P,7,7,C], box/fc6, box/fc7, box/class_logits [P,K], box/box_regression [P,4K]
  detections/boxes [D,4] (resized-image coordinates), detections/scores [D], detections/labels
  i32 [D], detections/count i32 [1]                     (D = box_detections_per_img)
  mask/roi_features [D,14,14,C], mask/fcn1.., mask/deconv, mask/deconv_relu, mask/logits
  [D,28,28,K], mask/probs [D,28,28]
  final/boxes [N,4] (original-image coordinates), final/scores [N], final/labels i32 [N],
  final/masks u8 [N,H,W] (pasted probability > 0.5): torchvision's returned result (not detc
  graph tensors: compare them with `detc detect --json`)

--stage-inputs also writes DIR/stages/STAGE/ (same layout) holding exactly what each stage received
(captured with forward pre-hooks / wrappers), under the detc names of the stage's inputs, and
DIR/stages.json {STAGE: {"inputs": [...], "outputs": [...]}}, so a stage can be run alone in detc
on the reference's own inputs (a sub-graph whose graph inputs are those names).

--compact writes small dumps for committing (tests/data/maskrcnn, see `make maskrcnn-refs`): the
tensors named in COMPACT_FULL are kept whole (the anchors for the first image only: they depend
only on the padded input size), each tensor T of COMPACT_SAMPLED is replaced by T@idx (i32 flat
indices, up to 512, within the valid rows) and T@val (f32 values there), the rest is left out;
`image` is replaced by its sha256 in the manifest (recompute it from the image file); final/masks
go to final.json as RLE.

--results FILE writes all images' final detections as a COCO results list (category_id = the
torchvision label, image_id from --gt's file names, else the file stem), masks as compressed RLE of
prob > 0.5 (what tools/coco_eval.py and torchvision's own references evaluate).

--time: latency instead of dumps (for tools/bench_maskrcnn.sh). Per image, after --warmup runs (default
1, not timed), --runs timed runs (default 10) under torch.no_grad() in eval mode with
torch.set_num_threads(--threads) (and one inter-op thread); prints one line per image:
  torchvision_ref time: FILE scope SCOPE input HpxWp threads T runs N median_ms M min_ms A max_ms B detections D
and then peak RSS lines (ru_maxrss after loading the model, after the runs). Scope `graph` (default)
times what `detc bench` times: from the transformed, padded image tensor to the roi_heads outputs
(backbone, rpn, roi_heads; masks as 28x28 probabilities), the transform (normalise, resize, pad) done
once before; `full` times model([image]) (transform and postprocess with mask pasting included).
With --time, --out is only used by --random-r50 (where it writes the weights).

--random-r50 SEED: torchvision's maskrcnn_resnet50_fpn(weights=None, num_classes=91) with weights
drawn from torch.manual_seed(SEED) (BatchNorm statistics and the predictor scaled so that the
network produces detections); writes DIR/random_r50_seedSEED.pth (torch.save of the state_dict)
and DIR/random_r50_seedSEED.json (the config), which detc-convert reads. Without --image it only
writes those two files.
"""

import argparse
import hashlib
import json
import os
import sys
import time
import zlib
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "peer_env"))
import blas_threads  # noqa: E402

blas_threads.hold(sys.argv)  # --threads N holds OpenBLAS's pool too (torch's float convs use it), before numpy loads it
import numpy as np  # noqa: E402

import coco_eval  # noqa: E402  (RLE helpers)

LEVELS = ["P2", "P3", "P4", "P5", "P6"]
COMPACT_FULL = {"image_size", "rpn/proposals", "rpn/proposals_count", "box/class_logits", "box/box_regression",
                "detections/boxes", "detections/scores", "detections/labels", "detections/count", "mask/probs",
                "final/boxes", "final/scores", "final/labels"} | \
               {"rpn/objectness/" + k for k in LEVELS} | {"rpn/deltas/" + k for k in LEVELS}
COMPACT_ANCHORS = {"rpn/anchors/" + k for k in LEVELS}      # kept for the first image only
COMPACT_SAMPLED = {"backbone/conv1", "backbone/maxpool", "C2", "C3", "C4", "C5", "fpn/merged/P2", "box/roi_features",
                   "box/fc6", "box/fc7", "mask/roi_features", "mask/fcn1", "mask/fcn4", "mask/deconv_relu",
                   "mask/logits"} | set(LEVELS) | {"rpn/conv/" + k for k in LEVELS}
COMPACT_SAMPLES = 512

# stage -> (inputs, outputs), detc tensor names (see tools/detc_convert/from_torchvision.py)
STAGES = OrderedDict([
    ("backbone", (["image"], ["C2", "C3", "C4", "C5"])),
    ("fpn", (["C2", "C3", "C4", "C5"], LEVELS)),
    ("rpn_head", (LEVELS, ["rpn/objectness/" + k for k in LEVELS] + ["rpn/deltas/" + k for k in LEVELS])),
    ("anchors", (LEVELS + ["image"], ["rpn/anchors/" + k for k in LEVELS])),
    ("rpn_proposals", ([n for k in LEVELS for n in ("rpn/objectness/" + k, "rpn/deltas/" + k, "rpn/anchors/" + k)]
                       + ["image_size"], ["rpn/proposals", "rpn/proposals_count"])),
    ("box_roi_align", (["rpn/proposals", "rpn/proposals_count", "P2", "P3", "P4", "P5"], ["box/roi_features"])),
    ("box_head", (["box/roi_features"], ["box/class_logits", "box/box_regression"])),
    ("box_detections", (["box/class_logits", "box/box_regression", "rpn/proposals", "rpn/proposals_count",
                         "image_size"],
                        ["detections/boxes", "detections/scores", "detections/labels", "detections/count"])),
    ("mask_roi_align", (["detections/boxes", "detections/count", "P2", "P3", "P4", "P5"], ["mask/roi_features"])),
    ("mask_head", (["mask/roi_features", "detections/count"], ["mask/logits"])),  # count: rows to compute
    ("mask_select", (["mask/logits", "detections/labels", "detections/count"], ["mask/probs"])),
])


def file_name(name):
    return "".join(c if (c.isascii() and (c.isalnum() or c in "._-")) else "_" for c in name) + ".npy"


class Dump:
    def __init__(self, out_dir):
        self.dir = out_dir
        self.tensors = OrderedDict()   # name -> np array

    def put(self, name, arr):
        a = np.ascontiguousarray(arr)
        if a.dtype == np.float64:
            a = a.astype(np.float32)
        if a.dtype == np.int64:
            a = a.astype(np.int32)
        if a.dtype == np.bool_:
            a = a.astype(np.uint8)
        self.tensors[name] = a

    def write(self, extra=None, compact=False, counts=None, anchors=True, only=None):
        os.makedirs(self.dir, exist_ok=True)
        entries = []
        names = {}
        for name, a in self.tensors.items():
            if only is not None and name not in only:
                continue
            items = [(name, a, None)]
            if compact and name not in COMPACT_FULL and not (anchors and name in COMPACT_ANCHORS):
                if name not in COMPACT_SAMPLED:
                    continue
                items = _sampled(name, a, counts or {})
            for n, arr, of in items:
                f = file_name(n)
                if f in names:
                    raise SystemExit("torchvision_ref: tensor names %r and %r map to one file %s" % (names[f], n, f))
                names[f] = n
                np.save(os.path.join(self.dir, f), arr, allow_pickle=False)
                e = OrderedDict([("name", n), ("file", f), ("dtype", _dtype(arr)), ("shape", list(arr.shape))])
                if of is not None:
                    e["sample_of"] = of[0]
                    e["full_shape"] = of[1]
                entries.append(e)
        man = OrderedDict([("tensors", entries)])
        if "image" in self.tensors:
            man["image_sha256"] = hashlib.sha256(np.ascontiguousarray(self.tensors["image"]).tobytes()).hexdigest()
            man["image_shape"] = list(self.tensors["image"].shape)
        for k, v in (extra or {}).items():
            man[k] = v
        with open(os.path.join(self.dir, "manifest.json"), "w") as f:
            json.dump(man, f, indent=1)
            f.write("\n")


def _dtype(a):
    return {"float32": "f32", "int32": "i32", "uint8": "u8", "int64": "i64", "int8": "i8"}[str(a.dtype)]


def _sampled(name, a, counts):
    """(T@idx, T@val) for a big tensor: up to COMPACT_SAMPLES positions within its valid rows."""
    rows = a.shape[0]
    if name.startswith(("box/", "rpn/proposals")) and "rpn/proposals_count" in counts:
        rows = counts["rpn/proposals_count"]
    elif name.startswith("mask/") and "detections/count" in counts:
        rows = counts["detections/count"]
    per_row = int(np.prod(a.shape[1:])) if a.ndim > 1 else 1
    n = rows * per_row if a.ndim > 1 and a.shape[0] != 1 else a.size
    if n == 0:
        idx = np.zeros(0, dtype=np.int32)
    else:
        rs = np.random.RandomState(zlib.crc32(name.encode()) & 0x7FFFFFFF)
        idx = np.sort(rs.choice(n, size=min(n, COMPACT_SAMPLES), replace=False)).astype(np.int32)
    vals = a.reshape(-1)[idx].astype(np.float32)
    of = (name, list(a.shape))
    return [(name + "@idx", idx, of), (name + "@val", vals, of)]


def nhwc(t):
    """NCHW torch tensor -> a fresh NHWC numpy array (never aliasing a tensor that an in-place
    ReLU or += may change later)."""
    return np.array(t.detach().permute(0, 2, 3, 1).numpy(), order="C", copy=True)


def pad_rows(a, rows):
    a = np.asarray(a)
    out = np.zeros((rows,) + a.shape[1:], dtype=a.dtype)
    n = min(rows, a.shape[0])
    out[:n] = a[:n]
    return out


# -- model ------------------------------------------------------------------------------------------
def load_torch(threads):
    try:
        import torch
        import torchvision
    except ImportError as e:
        raise SystemExit("torchvision_ref: needs torch and torchvision (apt-get install python3-torch "
                         "python3-torchvision): %s" % e)
    torch.set_num_threads(threads)
    return torch, torchvision


def infer_arch(sd):
    """(depth, fpn channels, representation size, mask layers, num classes) from state_dict shapes."""
    pre = "backbone.body."
    bott = (pre + "layer1.0.conv3.weight") in sd
    counts = []
    for layer in range(1, 5):
        n = 0
        while (pre + "layer%d.%d.conv1.weight" % (layer, n)) in sd:
            n += 1
        counts.append(n)
    table = {(False, (2, 2, 2, 2)): 18, (False, (3, 4, 6, 3)): 34, (True, (3, 4, 6, 3)): 50,
             (True, (3, 4, 23, 3)): 101}
    depth = table.get((bott, tuple(counts)))
    if depth is None:
        raise SystemExit("torchvision_ref: not a ResNet-18/34/50/101 trunk: %s blocks %s"
                         % ("bottleneck" if bott else "basic", counts))
    k = "backbone.fpn.inner_blocks.0.0.weight"
    fpn_c = (sd[k] if k in sd else sd["backbone.fpn.inner_blocks.0.weight"]).shape[0]
    rep = sd["roi_heads.box_head.fc6.weight"].shape[0]
    layers = []
    i = 0
    while True:
        k = "roi_heads.mask_head.%d.0.weight" % i
        k2 = "roi_heads.mask_head.mask_fcn%d.weight" % (i + 1)
        if k in sd:
            layers.append(sd[k].shape[0])
        elif k2 in sd:
            layers.append(sd[k2].shape[0])
        else:
            break
        i += 1
    dim_reduced = sd["roi_heads.mask_predictor.conv5_mask.weight"].shape[1]
    k = sd["roi_heads.box_predictor.cls_score.weight"].shape[0]
    return depth, fpn_c, rep, layers, dim_reduced, k


def build_model(torch, torchvision, sd, cfg):
    from functools import partial
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool
    from torchvision.ops.misc import FrozenBatchNorm2d

    depth, fpn_c, rep, layers, dim_reduced, k = infer_arch(sd)
    norm = partial(FrozenBatchNorm2d, eps=float(cfg.get("bn_eps", 1e-5)))
    body = getattr(torchvision.models, "resnet%d" % depth)(weights=None, norm_layer=norm)
    in_ch = [64, 128, 256, 512] if depth < 50 else [256, 512, 1024, 2048]
    backbone = BackboneWithFPN(body, {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"}, in_ch,
                               out_channels=fpn_c, extra_blocks=LastLevelMaxPool())
    sizes = cfg.get("anchor_sizes", [32, 64, 128, 256, 512])
    sizes = tuple(tuple(s) if isinstance(s, list) else (s,) for s in sizes)
    ratios = (tuple(cfg.get("aspect_ratios", [0.5, 1.0, 2.0])),) * len(sizes)
    dilation = cfg.get("mask_dilation", 1)
    mh = cfg.get("mask_head", "")
    if "mask_dilation" not in cfg and isinstance(mh, str) and "dilation" in mh:
        dilation = int(mh.split("dilation")[1].strip(" )"))
    model = MaskRCNN(
        backbone, num_classes=None, min_size=cfg["min_size"], max_size=cfg["max_size"],
        image_mean=cfg.get("image_mean", [0.485, 0.456, 0.406]), image_std=cfg.get("image_std", [0.229, 0.224, 0.225]),
        rpn_anchor_generator=AnchorGenerator(sizes, ratios),
        rpn_pre_nms_top_n_test=cfg.get("rpn_pre_nms_top_n_test", 1000),
        rpn_post_nms_top_n_test=cfg.get("rpn_post_nms_top_n_test", 1000),
        rpn_nms_thresh=cfg.get("rpn_nms_thresh", 0.7), rpn_score_thresh=cfg.get("rpn_score_thresh", 0.0),
        box_score_thresh=cfg.get("box_score_thresh", 0.05), box_nms_thresh=cfg.get("box_nms_thresh", 0.5),
        box_detections_per_img=cfg.get("box_detections_per_img", 100),
        box_head=TwoMLPHead(fpn_c * 7 * 7, rep), box_predictor=FastRCNNPredictor(rep, k),
        mask_head=MaskRCNNHeads(fpn_c, layers, dilation), mask_predictor=MaskRCNNPredictor(layers[-1], dim_reduced, k))
    tsd = OrderedDict((name, torch.from_numpy(np.ascontiguousarray(v))) for name, v in sd.items())
    missing, unexpected = model.load_state_dict(tsd, strict=False)
    unexpected = [u for u in unexpected if not u.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit("torchvision_ref: the checkpoint does not fit the model: missing %s, unexpected %s"
                         % (missing[:5], unexpected[:5]))
    return model.eval()


def coco_names(torchvision):
    try:
        from torchvision.models._meta import _COCO_CATEGORIES
        return list(_COCO_CATEGORIES)
    except ImportError:
        return ["__background__"] + ["class%d" % i for i in range(1, 91)]


def random_r50(torch, torchvision, seed, out_dir):
    """maskrcnn_resnet50_fpn(weights=None, num_classes=91), seeded; saved as .pth + config."""
    from torchvision.models.detection import maskrcnn_resnet50_fpn
    torch.manual_seed(seed)
    model = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                last = name.endswith("bn3") or name.endswith("downsample.1")
                lo, hi = (0.1, 0.3) if last else (0.5, 1.0)
                m.weight.copy_(lo + (hi - lo) * torch.rand(c, generator=g))
                m.bias.copy_(0.1 * torch.randn(c, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=g))
        rp = model.rpn.head
        rp.cls_logits.weight.mul_(20.0)
        rp.bbox_pred.weight.mul_(5.0)
        model.roi_heads.box_predictor.cls_score.weight.mul_(40.0)
        model.roi_heads.box_predictor.bbox_pred.weight.mul_(5.0)
    os.makedirs(out_dir, exist_ok=True)
    pth = os.path.join(out_dir, "random_r50_seed%d.pth" % seed)
    torch.save(model.state_dict(), pth)
    cfg = OrderedDict([
        ("arch", "torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, num_classes=91), random "
                 "weights, torch.manual_seed(%d)" % seed),
        ("backbone", "resnet50 + FPN"), ("fpn_channels", 256), ("box_head", "TwoMLPHead(256*7*7, 1024)"),
        ("mask_head", "MaskRCNNHeads(256, 4 x 256, dilation 1)"),
        ("classes", coco_names(torchvision)), ("min_size", 800), ("max_size", 1333),
        ("image_mean", [0.485, 0.456, 0.406]), ("image_std", [0.229, 0.224, 0.225]),
        ("rpn_pre_nms_top_n_test", 1000), ("rpn_post_nms_top_n_test", 1000), ("rpn_nms_thresh", 0.7),
        ("box_score_thresh", 0.05), ("box_nms_thresh", 0.5), ("box_detections_per_img", 100)])
    cfg_path = os.path.join(out_dir, "random_r50_seed%d.json" % seed)
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")
    print("torchvision_ref: wrote %s and %s" % (pth, cfg_path), file=sys.stderr)
    return model.eval(), cfg


# -- running with hooks ------------------------------------------------------------------------------
class Recorder:
    def __init__(self, torch, model, cfg, stage_inputs):
        self.torch = torch
        self.model = model
        self.P = int(cfg.get("rpn_post_nms_top_n_test", 1000))
        self.D = int(cfg.get("box_detections_per_img", 100))
        self.stage_inputs = stage_inputs
        self.handles = []
        self.restore = []

    def start(self, dump):
        self.d = dump
        self.stages = OrderedDict((s, OrderedDict()) for s in STAGES)
        self.rpn_convs = []
        self.mask_fcn = []
        self.lat = {}
        m = self.model
        body = m.backbone.body
        h = self.handles
        put = dump.put

        def fwd(fn):
            return lambda mod, inp, out: fn(mod, inp, out)

        h.append(m.transform.register_forward_hook(fwd(self._transform)))
        h.append(body.relu.register_forward_hook(fwd(lambda mod, i, o: put("backbone/conv1", nhwc(o)))))
        h.append(body.maxpool.register_forward_hook(fwd(lambda mod, i, o: put("backbone/maxpool", nhwc(o)))))
        for li in range(1, 5):
            layer = getattr(body, "layer%d" % li)
            for b, blk in enumerate(layer):
                tag = "backbone/layer%d.%d" % (li, b)
                out = "C%d" % (li + 1) if b == len(layer) - 1 else tag
                h.append(blk.register_forward_hook(fwd(lambda mod, i, o, out=out: put(out, nhwc(o)))))
                bns = ["bn1", "bn2", "bn3"] if hasattr(blk, "bn3") else ["bn1", "bn2"]
                for j, bn in enumerate(bns):
                    relu = j < len(bns) - 1
                    h.append(getattr(blk, bn).register_forward_hook(fwd(
                        lambda mod, i, o, n="%s/conv%d" % (tag, j + 1), r=relu:
                        put(n, np.maximum(nhwc(o), 0) if r else nhwc(o)))))
                if blk.downsample is not None:
                    h.append(blk.downsample.register_forward_hook(fwd(
                        lambda mod, i, o, n=tag + "/downsample": put(n, nhwc(o)))))
        fpn = m.backbone.fpn
        if self.stage_inputs:
            h.append(m.backbone.register_forward_pre_hook(
                lambda mod, inp: self._stage("backbone", {"image": nhwc(inp[0])})))
            h.append(fpn.register_forward_pre_hook(
                lambda mod, inp: self._stage("fpn", {"C%d" % (j + 2): nhwc(v) for j, v in enumerate(inp[0].values())})))
        for j, blk in enumerate(fpn.inner_blocks):
            h.append(blk.register_forward_hook(fwd(lambda mod, i, o, j=j: self._lateral(j, o))))
        h.append(m.backbone.register_forward_hook(fwd(self._fpn_out)))
        h.append(m.rpn.head.conv.register_forward_hook(fwd(lambda mod, i, o: self.rpn_convs.append(nhwc(o)))))
        h.append(m.rpn.head.register_forward_hook(fwd(self._rpn_head)))
        h.append(m.rpn.anchor_generator.register_forward_hook(fwd(self._anchors)))
        h.append(m.rpn.register_forward_hook(fwd(self._proposals)))
        h.append(m.roi_heads.box_roi_pool.register_forward_hook(fwd(
            lambda mod, i, o: put("box/roi_features", pad_rows(nhwc(o), self.P)))))
        h.append(m.roi_heads.box_head.fc6.register_forward_hook(fwd(
            lambda mod, i, o: put("box/fc6", pad_rows(np.maximum(o.detach().numpy(), 0), self.P)))))
        h.append(m.roi_heads.box_head.fc7.register_forward_hook(fwd(
            lambda mod, i, o: put("box/fc7", pad_rows(np.maximum(o.detach().numpy(), 0), self.P)))))
        h.append(m.roi_heads.box_predictor.register_forward_hook(fwd(self._predictor)))
        h.append(m.roi_heads.register_forward_hook(fwd(self._roi_heads)))
        h.append(m.roi_heads.mask_roi_pool.register_forward_hook(fwd(
            lambda mod, i, o: put("mask/roi_features", pad_rows(nhwc(o), self.D)))))
        for j, blk in enumerate(m.roi_heads.mask_head):
            h.append(blk.register_forward_hook(fwd(
                lambda mod, i, o, n="mask/fcn%d" % (j + 1): put(n, pad_rows(nhwc(o), self.D)))))
        mp = m.roi_heads.mask_predictor
        h.append(mp.conv5_mask.register_forward_hook(fwd(
            lambda mod, i, o: put("mask/deconv", pad_rows(nhwc(o), self.D)))))
        h.append(mp.relu.register_forward_hook(fwd(
            lambda mod, i, o: put("mask/deconv_relu", pad_rows(nhwc(o), self.D)))))
        h.append(mp.mask_fcn_logits.register_forward_hook(fwd(
            lambda mod, i, o: put("mask/logits", pad_rows(nhwc(o), self.D)))))
        if self.stage_inputs:
            self._stage_input_hooks()

    def _stage(self, stage, tensors):
        self.stages[stage].update(tensors)

    def _stage_input_hooks(self):
        import torchvision.models.detection.roi_heads as rh
        m = self.model
        h = self.handles
        P, D = self.P, self.D

        def levels(feats):
            return {k: nhwc(v) for k, v in zip(LEVELS, feats)}

        h.append(m.rpn.head.register_forward_pre_hook(lambda mod, inp: self._stage("rpn_head", levels(inp[0]))))

        def anchors_pre(mod, inp):
            image_list, feats = inp
            t = levels(feats)
            t["image"] = nhwc(image_list.tensors)
            self._stage("anchors", t)
        h.append(m.rpn.anchor_generator.register_forward_pre_hook(anchors_pre))

        def box_pool_pre(mod, inp):
            feats, boxes, shapes = inp
            t = {k: nhwc(v) for k, v in zip(LEVELS, feats.values()) if k != "P6"}
            t["rpn/proposals"] = pad_rows(boxes[0].detach().numpy(), P)
            t["rpn/proposals_count"] = np.array([len(boxes[0])], dtype=np.int32)
            self._stage("box_roi_align", t)
        h.append(m.roi_heads.box_roi_pool.register_forward_pre_hook(box_pool_pre))
        h.append(m.roi_heads.box_head.register_forward_pre_hook(
            lambda mod, inp: self._stage("box_head", {"box/roi_features": pad_rows(nhwc(inp[0]), P)})))

        def mask_pool_pre(mod, inp):
            feats, boxes, shapes = inp
            t = {k: nhwc(v) for k, v in zip(LEVELS, feats.values()) if k != "P6"}
            t["detections/boxes"] = pad_rows(boxes[0].detach().numpy(), D)
            t["detections/count"] = np.array([len(boxes[0])], dtype=np.int32)
            self._stage("mask_roi_align", t)
        h.append(m.roi_heads.mask_roi_pool.register_forward_pre_hook(mask_pool_pre))
        h.append(m.roi_heads.mask_head.register_forward_pre_hook(
            lambda mod, inp: self._stage("mask_head", {
                "mask/roi_features": pad_rows(nhwc(inp[0]), D),
                "detections/count": np.array([inp[0].shape[0]], dtype=np.int32)})))

        orig_post = m.roi_heads.postprocess_detections

        def post(class_logits, box_regression, proposals, image_shapes):
            self._stage("box_detections", {
                "box/class_logits": pad_rows(class_logits.detach().numpy(), P),
                "box/box_regression": pad_rows(box_regression.detach().numpy(), P),
                "rpn/proposals": pad_rows(proposals[0].detach().numpy(), P),
                "rpn/proposals_count": np.array([len(proposals[0])], dtype=np.int32),
                "image_size": np.array(image_shapes[0], dtype=np.int32)})
            return orig_post(class_logits, box_regression, proposals, image_shapes)
        m.roi_heads.postprocess_detections = post
        self.restore.append(lambda: delattr(m.roi_heads, "postprocess_detections"))

        orig_inf = rh.maskrcnn_inference

        def inference(x, labels):
            self._stage("mask_select", {
                "mask/logits": pad_rows(nhwc(x), D),
                "detections/labels": pad_rows(labels[0].numpy().astype(np.int32), D),
                "detections/count": np.array([len(labels[0])], dtype=np.int32)})
            return orig_inf(x, labels)
        rh.maskrcnn_inference = inference
        self.restore.append(lambda: setattr(rh, "maskrcnn_inference", orig_inf))

    def stop(self):
        for h in self.handles:
            h.remove()
        self.handles = []
        for r in self.restore:
            r()
        self.restore = []

    # hooks
    def _transform(self, mod, inp, out):
        image_list = out[0]
        self.d.put("image", nhwc(image_list.tensors))
        self.image_size = [int(v) for v in image_list.image_sizes[0]]
        self.d.put("image_size", np.array(self.image_size, dtype=np.int32))

    def _lateral(self, j, o):
        self.lat[j] = o.detach().clone()
        self.d.put("fpn/lateral/%s" % LEVELS[j], nhwc(o))

    def _fpn_out(self, mod, inp, out):
        torch = self.torch
        vals = list(out.values())
        for k, v in zip(LEVELS, vals):
            self.d.put(k, nhwc(v))
        # top-down path, recomputed exactly as torchvision's FPN.forward does it
        last = self.lat[3]
        for j in (2, 1, 0):
            td = torch.nn.functional.interpolate(last, size=self.lat[j].shape[-2:], mode="nearest")
            self.d.put("fpn/topdown/%s" % LEVELS[j], nhwc(td))
            last = self.lat[j] + td
            self.d.put("fpn/merged/%s" % LEVELS[j], nhwc(last))

    def _rpn_head(self, mod, inp, out):
        logits, deltas = out
        for k, lo, de in zip(LEVELS, logits, deltas):
            self.d.put("rpn/objectness/" + k, nhwc(lo))
            self.d.put("rpn/deltas/" + k, nhwc(de))
        for k, c in zip(LEVELS, self.rpn_convs):
            self.d.put("rpn/conv/" + k, c)
        self.level_sizes = [lo.shape[1] * lo.shape[2] * lo.shape[3] for lo in logits]
        if self.stage_inputs:
            t = {}
            for k, lo, de in zip(LEVELS, logits, deltas):
                t["rpn/objectness/" + k] = nhwc(lo)
                t["rpn/deltas/" + k] = nhwc(de)
            self._stage("rpn_proposals", t)

    def _anchors(self, mod, inp, out):
        a = out[0].detach().numpy()
        image_list, feats = inp
        start = 0
        t = {}
        for k, f in zip(LEVELS, feats):
            n = f.shape[-2] * f.shape[-1] * mod.num_anchors_per_location()[0]
            self.d.put("rpn/anchors/" + k, a[start:start + n])
            t["rpn/anchors/" + k] = a[start:start + n]
            start += n
        if self.stage_inputs:
            t["image_size"] = np.array([int(v) for v in image_list.image_sizes[0]], dtype=np.int32)
            self._stage("rpn_proposals", t)

    def _proposals(self, mod, inp, out):
        boxes = out[0][0].detach().numpy()
        self.d.put("rpn/proposals", pad_rows(boxes, self.P))
        self.d.put("rpn/proposals_count", np.array([len(boxes)], dtype=np.int32))

    def _predictor(self, mod, inp, out):
        scores, deltas = out
        self.d.put("box/class_logits", pad_rows(scores.detach().numpy(), self.P))
        self.d.put("box/box_regression", pad_rows(deltas.detach().numpy(), self.P))

    def _roi_heads(self, mod, inp, out):
        r = out[0][0]
        n = len(r["boxes"])
        self.d.put("detections/boxes", pad_rows(r["boxes"].detach().numpy(), self.D))
        self.d.put("detections/scores", pad_rows(r["scores"].detach().numpy(), self.D))
        self.d.put("detections/labels", pad_rows(r["labels"].numpy().astype(np.int32), self.D))
        self.d.put("detections/count", np.array([n], dtype=np.int32))
        self.d.put("mask/probs", pad_rows(r["masks"][:, 0].detach().numpy(), self.D))


def load_image(torchvision, path):
    from PIL import Image
    from torchvision.transforms.functional import to_tensor
    with Image.open(path) as im:
        return to_tensor(im.convert("RGB"))


def _maxrss_kib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux


def time_model(torch, torchvision, model, images, args):
    """--time: per image, median/min/max latency over args.runs runs after args.warmup runs."""
    rss_loaded = _maxrss_kib()
    model.eval()
    for path in images:
        img = load_image(torchvision, path)
        with torch.no_grad():
            if args.time_scope == "graph":
                il, _ = model.transform([img])

                def step():
                    feats = model.backbone(il.tensors)
                    props, _ = model.rpn(il, feats)
                    dets, _ = model.roi_heads(feats, props, il.image_sizes)
                    return dets[0]
                hp, wp = il.tensors.shape[-2:]
            else:
                def step():
                    return model([img])[0]
                hp, wp = model.transform([img])[0].tensors.shape[-2:]
            for _ in range(args.warmup):
                step()
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                res = step()
                times.append((time.perf_counter() - t0) * 1e3)
        print("torchvision_ref time: %s scope %s input %dx%d threads %d runs %d median_ms %.3f min_ms %.3f "
              "max_ms %.3f detections %d" % (os.path.basename(path), args.time_scope, hp, wp, torch.get_num_threads(),
                                             args.runs, float(np.median(times)), min(times), max(times),
                                             len(res["boxes"])))
        sys.stdout.flush()
    print("torchvision_ref peak RSS: after loading the model %d KiB, after the runs %d KiB"
          % (rss_loaded, _maxrss_kib()))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("checkpoint", nargs="?", help="torchvision Mask R-CNN state_dict (.pth)")
    p.add_argument("--config", help="the model's config JSON (as for detc-convert torchvision)")
    p.add_argument("--random-r50", type=int, metavar="SEED",
                   help="use torchvision's maskrcnn_resnet50_fpn with seeded random weights instead")
    p.add_argument("--image", action="append", default=[], help="input image (repeatable; a directory = its images)")
    p.add_argument("--out", help="output directory (required, except with --time and a checkpoint)")
    p.add_argument("--stage-inputs", action="store_true", help="also dump what each stage received")
    p.add_argument("--compact", action="store_true", help="small dumps (sampled big tensors) for committing")
    p.add_argument("--no-dumps", action="store_true", help="write only --results (no per-stage dumps)")
    p.add_argument("--results", help="write all images' detections as a COCO results list")
    p.add_argument("--gt", help="COCO ground truth, for image ids in --results")
    p.add_argument("--only", metavar="NAME,...", help="dump only these tensors (default: all)")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--time", action="store_true", help="time the model instead of dumping (see below)")
    p.add_argument("--runs", type=int, default=10, help="--time: timed runs per image (default 10)")
    p.add_argument("--warmup", type=int, default=1, help="--time: untimed runs first (default 1)")
    p.add_argument("--time-scope", choices=("graph", "full"), default="graph",
                   help="--time: graph (as detc bench: transform excluded) or full (model([image]))")
    args = p.parse_args(argv)
    if (args.checkpoint is None) == (args.random_r50 is None):
        p.error("give a checkpoint (with --config) or --random-r50 SEED")
    if args.out is None and (not args.time or args.random_r50 is not None):
        p.error("the following arguments are required: --out")
    if args.time and (args.runs < 1 or args.warmup < 0 or args.threads < 1):
        p.error("--time needs --runs >= 1, --warmup >= 0, --threads >= 1")
    torch, torchvision = load_torch(args.threads)
    if args.time:
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
    t0 = time.time()
    if args.random_r50 is not None:
        model, cfg = random_r50(torch, torchvision, args.random_r50, args.out)
    else:
        if not args.config:
            p.error("a checkpoint needs --config")
        with open(args.config) as f:
            cfg = json.load(f)
        sys.path.insert(0, HERE)
        from detc_convert import torch_pickle
        sd = torch_pickle.state_dict(torch_pickle.load(args.checkpoint), args.checkpoint)
        model = build_model(torch, torchvision, sd, cfg)
    t_load = time.time() - t0

    images = []
    for a in args.image:
        if os.path.isdir(a):
            images += sorted(os.path.join(a, f) for f in os.listdir(a)
                             if f.lower().endswith((".png", ".jpg", ".jpeg")))
        else:
            images.append(a)
    if not images:
        return 0
    if args.time:
        return time_model(torch, torchvision, model, images, args)
    ids = {}
    if args.gt:
        with open(args.gt) as f:
            for im in json.load(f)["images"]:
                ids[os.path.basename(im["file_name"])] = im["id"]
    rec = Recorder(torch, model, cfg, args.stage_inputs)
    results = []
    timings = []
    for path in images:
        stem = os.path.splitext(os.path.basename(path))[0]
        out_dir = args.out if len(images) == 1 else os.path.join(args.out, stem)
        dump = Dump(out_dir)
        img = load_image(torchvision, path)
        hooks = not args.no_dumps
        if hooks:
            rec.start(dump)
        t1 = time.time()
        with torch.no_grad():
            res = model([img])[0]
        dt = time.time() - t1
        if hooks:
            rec.stop()
        timings.append(dt)
        boxes = res["boxes"].numpy()
        masks = (res["masks"][:, 0] > 0.5).numpy().astype(np.uint8)
        n = len(boxes)
        if args.results:
            iid = ids.get(os.path.basename(path), stem)
            for j in range(n):
                x0, y0, x1, y1 = (float(v) for v in boxes[j])
                results.append({"image_id": iid, "category_id": int(res["labels"][j]),
                                "score": float(res["scores"][j]), "bbox": [x0, y0, x1 - x0, y1 - y0],
                                "segmentation": {"size": list(masks.shape[1:]),
                                                 "counts": coco_eval.rle_to_string(coco_eval.rle_encode(masks[j]))}})
        if args.no_dumps:
            continue
        dump.put("final/boxes", boxes.reshape(-1, 4))
        dump.put("final/scores", res["scores"].numpy())
        dump.put("final/labels", res["labels"].numpy().astype(np.int32))
        extra = OrderedDict([("producer", "tools/torchvision_ref.py (torch %s, torchvision %s)"
                              % (torch.__version__, torchvision.__version__)),
                             ("source", os.path.basename(args.checkpoint) if args.checkpoint
                              else "random_r50 seed %d" % args.random_r50),
                             ("image_file", os.path.basename(path)),
                             ("original_size", [int(img.shape[1]), int(img.shape[2])]),
                             ("timing_s", {"model_load": round(t_load, 3), "forward_with_hooks": round(dt, 3),
                                           "threads": args.threads})])
        counts = {"rpn/proposals_count": int(dump.tensors["rpn/proposals_count"][0]),
                  "detections/count": int(dump.tensors["detections/count"][0])}
        if args.compact:
            fin = {"masks": [{"size": list(masks.shape[1:]),
                              "counts": coco_eval.rle_to_string(coco_eval.rle_encode(masks[j]))} for j in range(n)]}
            os.makedirs(out_dir, exist_ok=True)
            with open(os.path.join(out_dir, "final.json"), "w") as f:
                json.dump(fin, f)
        else:
            dump.put("final/masks", masks.reshape((n,) + tuple(img.shape[1:])))
        only = set(args.only.split(",")) if args.only else None
        dump.write(extra, compact=args.compact, counts=counts, anchors=path == images[0], only=only)
        if args.stage_inputs:
            sdir = os.path.join(out_dir, "stages")
            for s, tensors in rec.stages.items():
                sd_ = Dump(os.path.join(sdir, s))
                for name in STAGES[s][0]:
                    if name in tensors:
                        sd_.put(name, tensors[name])
                    else:
                        print("torchvision_ref: stage %s: input %s was not captured" % (s, name), file=sys.stderr)
                sd_.write(compact=args.compact, counts=counts)
            with open(os.path.join(out_dir, "stages.json"), "w") as f:
                json.dump(OrderedDict((s, {"inputs": i, "outputs": o}) for s, (i, o) in STAGES.items()), f, indent=1)
        print("torchvision_ref: %s: %d detections, forward %.3f s -> %s" % (os.path.basename(path), n, dt, out_dir),
              file=sys.stderr)
    if args.results:
        if os.path.dirname(args.results):
            os.makedirs(os.path.dirname(args.results), exist_ok=True)
        with open(args.results, "w") as f:
            json.dump(results, f)
    print("torchvision_ref: %d image(s), model load %.2f s, forward median %.3f s (min %.3f, max %.3f), %d threads"
          % (len(images), t_load, float(np.median(timings)), min(timings), max(timings), args.threads),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
