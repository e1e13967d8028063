#!/usr/bin/python3
"""torchvision's detection architectures on seeded random weights: references for detc.

    /usr/bin/python3 tools/torchvision_archs.py --write-refs tests/data/tv_archs [--arch NAME ...]
    /usr/bin/python3 tools/torchvision_archs.py --time [--arch NAME ...] [--runs N] [--threads T]
    /usr/bin/python3 tools/torchvision_archs.py --checkpoint DIR [--arch NAME ...]

Each architecture in ARCHS is torchvision's own model class, built as its builder builds it (the
published state_dict layout: the same module names; v1 checkpoints as published, FrozenBatchNorm
without num_batches_tracked), with small widths where the builder allows (FPN, heads) so that the
tests stay fast. The weights are not torch's: random_state() draws them with numpy alone from the
layout (name, shape) and the seed, so tests/test_torchvision_archs.py rebuilds exactly the same
checkpoint where torch is not installed (CI) and compares detc with the references stored here.

--write-refs DIR writes, per architecture, DIR/NAME/layout.json ({"config": detc-convert's config,
"tensors": [[name, shape, dtype], ...], "seed", "image_seed", "image_hw"}) and DIR/NAME/ref.npz:
torchvision's values under detc's tensor names (NHWC): small tensors whole (rpn/proposals,
box/class_logits, detections/*, mask/probs), feature maps (C2..C5, P2..P6) as T@idx / T@val (256
sampled flat indices and their values).

--checkpoint DIR writes each architecture's seeded checkpoint as torch.save writes it (DIR/NAME.pth)
and its config (DIR/NAME.json), the input of `tools/detc-convert torchvision`.

--time prints torchvision's latency (median of --runs, after one warm-up) from the image tensor to
roi_heads' outputs, the scope `detc run` times on the converted graph.

Needs Debian's python3-torch (1.13) and python3-torchvision (0.14) for --write-refs / --time;
random_state(), make_image() and ARCHS' configs need numpy only.
"""

import argparse
import json
import os
import sys
import time
import zlib
from collections import OrderedDict

import numpy as np

LEVELS = ["P2", "P3", "P4", "P5", "P6"]
CLASSES = ["__background__", "square", "circle", "triangle", "star", "ring"]
HW = (128, 160)   # image (already "transformed": min_size/max_size leave it as is), multiples of 32


def base_config(arch, note):
    return OrderedDict([
        ("arch", arch), ("note", note), ("classes", CLASSES), ("min_size", HW[0]), ("max_size", HW[1]),
        ("rpn_pre_nms_top_n_test", 200), ("rpn_post_nms_top_n_test", 60),
        ("box_score_thresh", 0.05), ("box_nms_thresh", 0.5), ("box_detections_per_img", 12)])


# name -> (builder description, config, seed)
ARCHS = OrderedDict([
    ("fasterrcnn_resnet50_fpn", (
        "torchvision.models.detection.fasterrcnn_resnet50_fpn(num_classes=6), published widths "
        "(FPN 256, TwoMLPHead 1024), FrozenBatchNorm layout", 11)),
    ("fasterrcnn_resnet50_fpn_v2", (
        "FasterRCNN as fasterrcnn_resnet50_fpn_v2 builds it (resnet50, FPN + BatchNorm2d, RPNHead(conv_depth=2), "
        "FastRCNNConvFCHead(4 convs + BN, 1 fc)) with FPN 64, head convs 64, fc 128", 12)),
    ("maskrcnn_resnet50_fpn_v2", (
        "MaskRCNN as maskrcnn_resnet50_fpn_v2 builds it (FPN + BN, 2-conv RPN head, FastRCNNConvFCHead, "
        "MaskRCNNHeads + BN) with FPN 64, head convs 64, fc 128, mask head 4 x 64", 13)),
    ("maskrcnn_resnext50_32x4d_fpn", (
        "MaskRCNN (v1 heads) over resnext50_32x4d + FPN 64, TwoMLPHead 128, MaskRCNNHeads 4 x 64, "
        "FrozenBatchNorm layout", 14)),
    ("fasterrcnn_resnet152_fpn", (
        "FasterRCNN (v1 heads) over resnet152 + FPN 64, TwoMLPHead 128, FrozenBatchNorm layout", 15)),
    ("fasterrcnn_mobilenet_v3_large_fpn", (
        "torchvision.models.detection.fasterrcnn_mobilenet_v3_large_fpn(num_classes=6), published widths (FPN 256 "
        "on features 13 and 16, 15 anchors per position on 3 levels, TwoMLPHead 1024)", 18)),
    ("ssd300_vgg16", (
        "SSD as ssd300_vgg16 builds it (SSDFeatureExtractorVGG, DefaultBoxGenerator, SSDHead, 300x300) over a "
        "narrow VGG-16 (conv widths 16, 32, 64, 64/512, 64/512: conv4_3 and conv5_3 keep their 512 channels)", 16)),
    ("ssdlite320_mobilenet_v3_large", (
        "ssdlite320_mobilenet_v3_large(num_classes=6) as published (weights_backbone=None: reduced tail, "
        "BatchNorm eps 0.001), 320x320", 17)),
])
SSD_VGG_CFG = [16, "M", 32, "M", 64, 64, 64, "M", 64, 64, 512, "M", 64, 64, 512, "M"]


def config_for(name):
    desc, seed = ARCHS[name]
    if name.startswith("ssd"):
        return OrderedDict([("arch", name), ("note", desc), ("classes", CLASSES),
                            ("size", [320, 320] if "lite" in name else [300, 300]),
                            ("score_thresh", 0.2), ("nms_thresh", 0.45), ("detections_per_img", 30),
                            ("topk_candidates", 100)]), seed
    builder = name if name in ("fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2",
                               "maskrcnn_resnet50_fpn_v2", "fasterrcnn_mobilenet_v3_large_fpn") else (
        "maskrcnn_resnet50_fpn" if name.startswith("maskrcnn") else "fasterrcnn_resnet50_fpn")
    cfg = base_config(builder, desc)
    if "resnext" in name:
        cfg["backbone"] = "resnext50_32x4d + FPN"
    elif "152" in name:
        cfg["backbone"] = "resnet152 + FPN"
    elif "mobilenet" in name:
        cfg["rpn_score_thresh"] = 0.05
    return cfg, seed


# -- numpy only ---------------------------------------------------------------------------------------
def _rng(name, seed):
    return np.random.RandomState((zlib.crc32(name.encode()) ^ (seed * 2654435761)) & 0x7FFFFFFF)


def random_state(tensors, seed):
    """name -> numpy array for the layout [[name, shape, dtype], ...]: weights that keep activations in
    range through a deep random network and make the heads detect something."""
    sd = OrderedDict()
    for name, shape, dtype in tensors:
        shape = tuple(shape)
        if dtype != "float32":
            sd[name] = np.zeros(shape, np.int64)
            continue
        r = _rng(name, seed)
        leaf = name.rsplit(".", 1)[-1]
        bn_like = leaf in ("running_mean", "running_var") or (len(shape) == 1 and (
            name.rsplit(".", 1)[0] + ".running_var") in _NAMES)
        if leaf == "running_var":
            a = 0.5 + 1.5 * r.rand(*shape)
        elif leaf == "running_mean":
            a = 0.1 * r.randn(*shape)
        elif bn_like and leaf == "weight":
            last = name.endswith(("bn3.weight", "downsample.1.weight")) or (".bn2." in name and "layer" in name
                                                                               and _BASIC[0])
            a = (0.1 + 0.2 * r.rand(*shape)) if last else (0.5 + 0.5 * r.rand(*shape))
        elif leaf == "scale_weight":   # SSD's L2Norm scale (torchvision initialises it to 20)
            a = 20.0 * (0.5 + r.rand(*shape))
        elif bn_like and leaf == "bias":
            a = 0.1 * r.randn(*shape)
        elif leaf == "bias":
            a = 0.02 * r.randn(*shape)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            if "conv5_mask" in name:
                fan_in = shape[0]
            a = r.randn(*shape) * np.sqrt(2.0 / fan_in)
            if "rpn.head.cls_logits" in name:
                a *= 3.0
            elif "rpn.head.bbox_pred" in name:
                a *= 0.3
            elif "box_predictor.cls_score" in name:
                a *= 3.0
            elif "box_predictor.bbox_pred" in name:
                a *= 0.1
        sd[name] = a.astype(np.float32)
    return sd


_NAMES = set()
_BASIC = [False]


def state_for(layout):
    _NAMES.clear()
    _NAMES.update(n for n, _s, _d in layout["tensors"])
    _BASIC[0] = "backbone.body.layer1.0.conv3.weight" not in _NAMES
    return random_state(layout["tensors"], layout["seed"])


def make_image(seed, hw=HW):
    """A smooth normalised image [1, H, W, 3] (what torchvision's transform would hand the backbone)."""
    r = np.random.RandomState(seed)
    h, w = hw
    lo = r.randn(h // 16 + 2, w // 16 + 2, 3)
    ys = np.linspace(0, h // 16, h)
    xs = np.linspace(0, w // 16, w)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    fy = (ys - y0)[:, None, None]
    fx = (xs - x0)[None, :, None]
    img = (lo[y0][:, x0] * (1 - fy) * (1 - fx) + lo[y0 + 1][:, x0] * fy * (1 - fx)
           + lo[y0][:, x0 + 1] * (1 - fy) * fx + lo[y0 + 1][:, x0 + 1] * fy * fx)
    img += 0.3 * r.randn(h, w, 3)
    return (1.5 * img[None]).astype(np.float32)


def make_photo(seed=7, hw=(150, 200)):
    """An RGB uint8 picture [H, W, 3] for the end-to-end check (the pipelines' resize and normalisation)."""
    img = make_image(seed, (-(-hw[0] // 32) * 32, -(-hw[1] // 32) * 32))[0, :hw[0], :hw[1]]
    return np.clip(np.round(128 + 60 * img), 0, 255).astype(np.uint8)


def write_png(path, rgb):
    """A minimal PNG writer (8-bit RGB, no interlace), numpy + zlib only."""
    import struct

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def end_to_end(torch, model, rgb):
    """torchvision's whole model (transform, network, postprocess) on an RGB uint8 picture."""
    x = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0
    with torch.no_grad():
        r = model([x])[0]
    return {"final/boxes": r["boxes"].numpy().reshape(-1, 4), "final/scores": r["scores"].numpy(),
            "final/labels": r["labels"].numpy().astype(np.int32)}


# --published: the builders themselves at their published widths and input sizes (91 COCO classes), for
# latency and checkpoints (too big for tests/data: their references are not stored)
PUBLISHED = OrderedDict([
    ("ssd300_vgg16", dict(size=[300, 300])),
    ("ssdlite320_mobilenet_v3_large", dict(size=[320, 320])),
    ("fasterrcnn_mobilenet_v3_large_320_fpn", dict(min_size=320, max_size=640, rpn_pre_nms_top_n_test=150,
                                                   rpn_post_nms_top_n_test=150, rpn_score_thresh=0.05)),
    ("maskrcnn_resnet50_fpn_v2", dict(min_size=512, max_size=512)),
    ("fasterrcnn_resnet50_fpn", dict(min_size=512, max_size=512)),
])


def published(torch, name):
    """(model, layout) of torchvision's own builder `name` with seeded numpy weights."""
    import torchvision.models.detection as D
    kw = dict(PUBLISHED[name])
    size = kw.pop("size", None)
    model = getattr(D, name)(weights=None, weights_backbone=None, num_classes=91, **kw)
    classes = ["__background__"] + ["class%d" % i for i in range(1, 91)]
    cfg = OrderedDict([("arch", name), ("classes", classes)])
    if size:
        cfg["size"] = size
    else:
        cfg.update(kw)
    frozen = name.endswith("resnet50_fpn")
    tensors = [[n, list(t.shape), "float32" if t.dtype == torch.float32 else "int64"]
               for n, t in model.state_dict().items() if not (frozen and n.endswith("num_batches_tracked"))]
    hw = size or [kw["min_size"], kw["min_size"]]
    return model, OrderedDict([("config", cfg), ("seed", 99), ("image_seed", 1099), ("image_hw", hw),
                               ("tensors", tensors)])


# -- torch --------------------------------------------------------------------------------------------
def build(torch, name):
    import torchvision
    from torchvision.models.detection import FasterRCNN, MaskRCNN, fasterrcnn_resnet50_fpn
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.models.detection.faster_rcnn import FastRCNNConvFCHead, FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.models.detection.rpn import RPNHead
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool
    from torchvision.ops.misc import FrozenBatchNorm2d
    nn = torch.nn
    cfg, _seed = config_for(name)
    if name == "ssd300_vgg16":
        from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
        from torchvision.models.detection.ssd import SSD, SSDFeatureExtractorVGG
        from torchvision.models.vgg import make_layers
        backbone = SSDFeatureExtractorVGG(make_layers(SSD_VGG_CFG), highres=False)
        anchors = DefaultBoxGenerator([[2], [2, 3], [2, 3], [2, 3], [2], [2]],
                                      scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05], steps=[8, 16, 32, 64, 100, 300])
        model = SSD(backbone, anchors, (300, 300), len(CLASSES), image_mean=[0.48235, 0.45882, 0.40784],
                    image_std=[1.0 / 255.0] * 3, score_thresh=cfg["score_thresh"], nms_thresh=cfg["nms_thresh"],
                    detections_per_img=cfg["detections_per_img"], topk_candidates=cfg["topk_candidates"])
        return model, False
    if name == "ssdlite320_mobilenet_v3_large":
        from torchvision.models.detection import ssdlite320_mobilenet_v3_large
        return ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=len(CLASSES),
                                             score_thresh=cfg["score_thresh"], nms_thresh=cfg["nms_thresh"],
                                             detections_per_img=cfg["detections_per_img"],
                                             topk_candidates=cfg["topk_candidates"]), False
    common = dict(min_size=cfg["min_size"], max_size=cfg["max_size"],
                  rpn_pre_nms_top_n_test=cfg["rpn_pre_nms_top_n_test"],
                  rpn_post_nms_top_n_test=cfg["rpn_post_nms_top_n_test"],
                  box_score_thresh=cfg["box_score_thresh"], box_nms_thresh=cfg["box_nms_thresh"],
                  box_detections_per_img=cfg["box_detections_per_img"])
    k = len(CLASSES)
    if name == "fasterrcnn_mobilenet_v3_large_fpn":
        from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn
        return fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=k,
                                                 rpn_score_thresh=cfg["rpn_score_thresh"], **common), False
    if name == "fasterrcnn_resnet50_fpn":
        return fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=k,
                                       trainable_backbone_layers=5, **common), True
    v2 = name.endswith("_v2")
    norm = nn.BatchNorm2d if v2 else FrozenBatchNorm2d
    trunk = {"maskrcnn_resnext50_32x4d_fpn": "resnext50_32x4d", "fasterrcnn_resnet152_fpn": "resnet152"}.get(
        name, "resnet50")
    body = getattr(torchvision.models, trunk)(weights=None, norm_layer=norm)
    c = 64
    backbone = BackboneWithFPN(body, {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
                               [256, 512, 1024, 2048], c, extra_blocks=LastLevelMaxPool(),
                               norm_layer=nn.BatchNorm2d if v2 else None)
    rpn_head = RPNHead(c, 3, conv_depth=2 if v2 else 1)
    if v2:
        box_head = FastRCNNConvFCHead((c, 7, 7), [c] * 4, [128], norm_layer=nn.BatchNorm2d)
    else:
        box_head = TwoMLPHead(c * 49, 128)
    kw = dict(rpn_head=rpn_head, box_head=box_head, box_predictor=FastRCNNPredictor(128, k), **common)
    if name.startswith("maskrcnn"):
        model = MaskRCNN(backbone, num_classes=None,
                         mask_head=MaskRCNNHeads(c, [c] * 4, 1, norm_layer=nn.BatchNorm2d if v2 else None),
                         mask_predictor=MaskRCNNPredictor(c, c, k), **kw)
    else:
        model = FasterRCNN(backbone, num_classes=None, **kw)
    return model, not v2


def layout_for(torch, name):
    model, frozen = build(torch, name)
    cfg, seed = config_for(name)
    tensors = []
    for n, t in model.state_dict().items():
        if frozen and n.endswith("num_batches_tracked"):
            continue   # the published v1 layout (FrozenBatchNorm2d) has none
        tensors.append([n, list(t.shape), "float32" if t.dtype == torch.float32 else "int64"])
    return model, OrderedDict([("config", cfg), ("seed", seed), ("image_seed", seed + 1000),
                               ("image_hw", cfg["size"] if name.startswith("ssd") else list(HW)),
                               ("tensors", tensors)])


def load(torch, model, sd):
    tsd = OrderedDict((n, torch.from_numpy(np.ascontiguousarray(v))) for n, v in sd.items())
    missing, unexpected = model.load_state_dict(tsd, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit("torchvision_archs: state_dict mismatch: missing %s unexpected %s" % (missing[:4], unexpected[:4]))
    return model.eval()


def nhwc(t):
    return t.detach().permute(0, 2, 3, 1).contiguous().numpy()


def pad_rows(a, rows):
    a = np.asarray(a)
    out = np.zeros((rows,) + a.shape[1:], a.dtype)
    out[:min(rows, len(a))] = a[:rows]
    return out


def reference(torch, model, layout, image):
    """torchvision's stage values under detc's names (full arrays) and the forward time."""
    from torchvision.models.detection.image_list import ImageList
    cfg = layout["config"]
    x = torch.from_numpy(image).permute(0, 3, 1, 2).contiguous()
    il = ImageList(x, [tuple(image.shape[1:3])])
    out = OrderedDict()
    if "size" in cfg:   # SSD
        D = cfg["detections_per_img"]
        with torch.no_grad():
            feats = list(model.backbone(x).values())
            head = model.head(feats)
            anchors = model.anchor_generator(il, feats)
            dets = model.postprocess_detections(head, anchors, il.image_sizes)
        for name, f in zip(SSDLITE_MAPS if "lite" in layout["config"]["arch"] else SSD_MAPS[1:],
                           feats if "lite" in layout["config"]["arch"] else feats[1:]):
            out[name] = nhwc(f)
        out["head/class_logits"] = head["cls_logits"][0].numpy()
        out["head/box_regression"] = head["bbox_regression"][0].numpy()
        out["anchors"] = anchors[0].numpy()
        d = dets[0]
        out["detections/boxes"] = pad_rows(d["boxes"].numpy(), D)
        out["detections/scores"] = pad_rows(d["scores"].numpy(), D)
        out["detections/labels"] = pad_rows(d["labels"].numpy().astype(np.int32), D)
        out["detections/count"] = np.array([len(d["boxes"])], np.int32)
        return out
    P, D = cfg["rpn_post_nms_top_n_test"], cfg["box_detections_per_img"]
    got = {}
    h = model.roi_heads.box_predictor.register_forward_hook(lambda m, i, o: got.update(pred=o))
    with torch.no_grad():
        body = model.backbone.body(x)
        feats = model.backbone.fpn(body)
        props, _ = model.rpn(il, feats)
        dets, _ = model.roi_heads(feats, props, il.image_sizes)
    h.remove()
    levels = LEVELS if len(feats) == 5 else ["P4", "P5", "P6"]
    for j, v in enumerate(body.values()):
        out["C%d" % (j + 2 + 5 - len(feats))] = nhwc(v)
    for k, v in zip(levels, feats.values()):
        out[k] = nhwc(v)
    out["rpn/proposals"] = pad_rows(props[0].numpy(), P)
    out["rpn/proposals_count"] = np.array([len(props[0])], np.int32)
    out["box/class_logits"] = pad_rows(got["pred"][0].numpy(), P)
    d = dets[0]
    out["detections/boxes"] = pad_rows(d["boxes"].numpy(), D)
    out["detections/scores"] = pad_rows(d["scores"].numpy(), D)
    out["detections/labels"] = pad_rows(d["labels"].numpy().astype(np.int32), D)
    out["detections/count"] = np.array([len(d["boxes"])], np.int32)
    if "masks" in d:
        out["mask/probs"] = pad_rows(d["masks"][:, 0].numpy(), D)
    return out


def time_forward(torch, model, rgb, runs):
    """Median ms of backbone + heads + postprocess on the transformed picture (what `detc bench` times)."""
    with torch.no_grad():
        il, _ = model.transform([torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0])
    x = il.tensors

    def step():
        if hasattr(model, "anchor_generator"):   # SSD
            feats = list(model.backbone(x).values())
            head = model.head(feats)
            return model.postprocess_detections(head, model.anchor_generator(il, feats), il.image_sizes)
        feats = model.backbone(x)
        props, _ = model.rpn(il, feats)
        return model.roi_heads(feats, props, il.image_sizes)
    with torch.no_grad():
        step()
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            step()
            ts.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(ts))


SSD_MAPS = ["vgg/conv4_3_norm", "extra0/fc7", "extra1/conv2", "extra2/conv2", "extra3/conv2", "extra4/conv2"]
SSDLITE_MAPS = ["mnv3/block13/expand", "mnv3/last", "extra0/conv2", "extra1/conv2", "extra2/conv2", "extra3/conv2"]
SAMPLED = (["C2", "C3", "C4", "C5"] + LEVELS + SSD_MAPS + SSDLITE_MAPS
           + ["head/class_logits", "head/box_regression"])


def compact(ref):
    out = OrderedDict()
    for k, v in ref.items():
        if k in SAMPLED:
            flat = v.reshape(-1)
            r = np.random.RandomState(zlib.crc32(k.encode()) & 0x7FFFFFFF)
            idx = np.sort(r.choice(flat.size, min(256, flat.size), replace=False)).astype(np.int32)
            out[k + "@idx"] = idx
            out[k + "@val"] = flat[idx].astype(np.float32)
            out[k + "@shape"] = np.array(v.shape, np.int32)
        else:
            out[k] = v
    return out


def check_cli(torch, name, model, layout, d):
    """--check: the CLI path end to end (torch.save -> detc-convert -> detc detect) against torchvision."""
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(d, exist_ok=True)
    pth, cfg, out = (os.path.join(d, name + ext) for ext in (".pth", ".json", ".detc"))
    names = set(n for n, _s, _t in layout["tensors"])
    torch.save(OrderedDict((n, t) for n, t in model.state_dict().items() if n in names), pth)
    with open(cfg, "w") as f:
        json.dump(layout["config"], f, indent=1)
    r = subprocess.run([os.path.join(root, "tools", "detc-convert"), "torchvision", pth, "--config", cfg, "-o", out],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if r.returncode:
        return "%s: detc-convert failed: %s" % (name, r.stdout[-500:])
    hw = tuple(layout["image_hw"]) if "size" in layout["config"] else (150, 200)
    rgb = make_photo(layout["image_seed"], hw)
    png = os.path.join(d, name + ".png")
    write_png(png, rgb)
    js = os.path.join(d, name + "_detect.json")
    detc = os.environ.get("DETC_BIN") or os.path.join(root, "build", "detc")
    r = subprocess.run([detc, "detect", out, png, "--threshold", "0", "--json", js], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    if r.returncode:
        return "%s: detc detect failed: %s" % (name, r.stdout[-500:])
    dets = json.load(open(js))["images"][0]["detections"]
    ref = end_to_end(torch, model, rgb)
    rb = ref["final/boxes"]
    n = min(len(dets), len(rb))
    gb = np.array([x["box"] for x in dets], np.float64).reshape(-1, 4)[:n]
    classes = layout["config"]["classes"]
    labels = [x["label"] for x in dets][:n] == [classes[i] for i in ref["final/labels"][:n]]
    rel = float(np.max(np.abs(gb - rb[:n]) / np.maximum(np.abs(rb[:n]), 1.0))) if n else 0.0
    sd = float(np.max(np.abs(np.array([x["score"] for x in dets][:n]) - ref["final/scores"][:n]))) if n else 0.0
    ok = len(dets) == len(rb) and labels and rel <= 1e-3 and sd <= 1e-4
    return ("%s: %s: detc %d detections, torchvision %d, labels equal %s, boxes max rel %.1e, scores max abs %.1e "
            "(%dx%d picture)" % (name, "agree" if ok else "DIFFER", len(dets), len(rb), labels, rel, sd, hw[1], hw[0]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--write-refs", metavar="DIR")
    p.add_argument("--time", action="store_true")
    p.add_argument("--checkpoint", metavar="DIR",
                   help="write DIR/NAME.pth (torch.save of the state_dict) and DIR/NAME.json (the config) for "
                        "tools/detc-convert torchvision")
    p.add_argument("--arch", action="append", choices=list(ARCHS) + list(PUBLISHED))
    p.add_argument("--published", action="store_true",
                   help="the builders at published widths (PUBLISHED; with --time / --checkpoint)")
    p.add_argument("--check", metavar="DIR",
                   help="write each checkpoint to DIR, convert it with tools/detc-convert torchvision, run `detc "
                        "detect` (DETC_BIN, default build/detc) on a picture and compare with torchvision's model")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--time-png", metavar="DIR", help="--time: also write the timed picture as DIR/NAME.png "
                   "(for `detc bench MODEL DIR/NAME.png`)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    for name in args.arch or list(PUBLISHED if args.published else ARCHS):
        model, layout = (published if args.published else layout_for)(torch, name)
        model = load(torch, model, state_for(layout))
        image = make_image(layout["image_seed"], tuple(layout["image_hw"]))
        if args.check:
            print(check_cli(torch, name, model, layout, args.check))
            sys.stdout.flush()
            continue
        if args.checkpoint:
            os.makedirs(args.checkpoint, exist_ok=True)
            sd = OrderedDict((n, t) for n, t in model.state_dict().items()
                             if any(n == m for m, _s, _d in layout["tensors"]))
            torch.save(sd, os.path.join(args.checkpoint, name + ".pth"))
            with open(os.path.join(args.checkpoint, name + ".json"), "w") as f:
                json.dump(layout["config"], f, indent=1)
            print("torchvision_archs: wrote %s/%s.pth and .json" % (args.checkpoint, name), file=sys.stderr)
            continue
        if args.time:
            hw = tuple(layout["image_hw"]) if not args.published else tuple(layout["image_hw"])
            rgb = make_photo(layout["image_seed"], hw if args.published else (150, 200))
            png = os.path.join(args.time_png or ".", "%s.png" % name)
            if args.time_png:
                os.makedirs(args.time_png, exist_ok=True)
                write_png(png, rgb)
            print("torchvision_archs time: %s median_ms %.1f threads %d runs %d picture %dx%d%s"
                  % (name, time_forward(torch, model, rgb, args.runs), args.threads, args.runs, rgb.shape[1],
                     rgb.shape[0], " (%s)" % png if args.time_png else ""))
            sys.stdout.flush()
            continue
        ref = reference(torch, model, layout, image)
        d = os.path.join(args.write_refs, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "layout.json"), "w") as f:
            json.dump(layout, f, separators=(",", ":"))
        ref.update(end_to_end(torch, model, make_photo()))
        np.savez_compressed(os.path.join(d, "ref.npz"), **compact(ref))
        print("torchvision_archs: %s: %d proposals, %d detections (labels %s) -> %s"
              % (name, int(ref.get("rpn/proposals_count", [0])[0]), int(ref["detections/count"][0]),
                 ref["detections/labels"][:int(ref["detections/count"][0])].tolist(), d), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
