#!/usr/bin/python3
"""Post-training int8 quantization (detc-convert --quantize int8) on the shapes Mask R-CNN.

    /usr/bin/python3 tests/test_quantize.py        (DETC_BIN: the detc binary, default build/detc)

The float model and the int8 model (calibrated on ../shared/models/maskrcnn_r18fpn_shapes/calib, which is
not the validation set) detect the 40 validation images; COCO box and mask mAP (tools/coco_eval.py, COCO's
definition) against the ground truth must agree within 0.01. Also: the int8 file is under 0.3x the float
one, its convolutions are int8 with float at the box predictors, every boundary is a cast node, --keep-float
keeps a node float, and the option errors. The int8 3x3 convs with 128 channels or more carry conv2d's
"winograd": "int16" (the int16 Winograd, an approximation of the direct sum): the mAPs hold with it, and
with --no-winograd (no attribute: exact direct int8 sums), both printed. The mixed-precision load-time checks
are zoo cases (tests/zoo/gen_zoo.py, `mixed_*`). Prints "N passed, M failed[, K skipped]".
"""

import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import coco_eval as ce  # noqa: E402

SHAPES = os.path.join(ROOT, "..", "shared", "models", "maskrcnn_r18fpn_shapes")
CONVERT = os.path.join(ROOT, "tools", "detc-convert")
MAP_TOLERANCE = 0.01
passed = failed = skipped = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL " + what)


def detc_bin():
    b = os.environ.get("DETC_BIN", os.path.join("build", "detc"))
    return b if os.path.isabs(b) else os.path.join(ROOT, b)


def convert(out, *extra):
    cmd = [CONVERT, "torchvision", os.path.join(SHAPES, "maskrcnn_r18fpn_shapes.pth"), "--config",
           os.path.join(SHAPES, "config.json"), "-o", out] + list(extra)
    env = dict(os.environ, DETC_BIN=detc_bin())
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def header(path):
    with open(path, "rb") as f:
        blob = f.read()
    n = int.from_bytes(blob[12:16], "little")
    return json.loads(blob[32:32 + n]), len(blob)


def mean_ap(model, tmp, gt):
    out = os.path.join(tmp, os.path.basename(model) + ".json")
    r = subprocess.run([detc_bin(), "detect", model, os.path.join(SHAPES, "val"), "--json", out, "--threshold",
                        "0.05"], capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr
    with open(out) as f:
        dets = json.load(f)
    images, cats, _ = ce.load_gt(gt)
    results = ce.detections_from_any(dets, images, cats)
    return (ce.evaluate(gt, results, "bbox")["AP"], ce.evaluate(gt, results, "segm")["AP"]), ""


def main():
    global skipped
    if not os.path.isfile(os.path.join(SHAPES, "maskrcnn_r18fpn_shapes.pth")):
        print("SKIP ../shared/models/maskrcnn_r18fpn_shapes is absent: int8 accuracy not checked")
        skipped += 1
        return
    with tempfile.TemporaryDirectory() as tmp:
        f32, q8, keep, direct = (os.path.join(tmp, n) for n in ("f32.detc", "int8.detc", "keep.detc", "direct.detc"))
        r = convert(f32)
        check(r.returncode == 0, "float conversion: %s" % r.stderr)
        calib = ["--quantize", "int8", "--calibrate", os.path.join(SHAPES, "calib"), "--calibrate-count", "16"]
        r = convert(q8, *calib)
        check(r.returncode == 0 and "int8: 51 of 53 convolutions and fully connected layers" in r.stderr,
              "int8 conversion: %s" % r.stderr)
        if failed:
            return
        hf, size_f = header(f32)
        hq, size_q = header(q8)
        check(size_q <= 0.3 * size_f, "int8 file %d bytes is not under 0.3x the float %d" % (size_q, size_f))
        tensors = {t["name"]: t for t in hq["tensors"]}
        nodes = {n["name"]: n for n in hq["nodes"]}
        conv = nodes["backbone/layer1.0/conv1"]
        check(tensors[conv["inputs"][0]]["dtype"] == "i8" and tensors[conv["inputs"][1]]["dtype"] == "i8"
              and tensors[conv["inputs"][1]]["quant"]["axis"] == 0 and tensors[conv["inputs"][2]]["dtype"] == "i32",
              "trunk conv runs in int8 with per-channel filters: %s" % conv)
        check(nodes["box/fc6"]["op"] == "conv2d" and tensors[nodes["box/fc6"]["inputs"][1]]["shape"][1:3] == [7, 7],
              "box head fc6 runs as a 7x7 int8 convolution")
        for pred in ("box/class_logits", "box/box_regression"):
            check(tensors[nodes[pred]["inputs"][0]]["dtype"] == "f32", "predictor %s stays float" % pred)
        for pred in ("rpn/objectness/P2", "rpn/deltas/P6"):
            check(tensors[nodes[pred]["inputs"][0]]["dtype"] == "i8" and tensors[nodes[pred]["outputs"][0]]["dtype"]
                  == "i8" and nodes[pred + "/dequantize"]["outputs"][0] in nodes["rpn/proposals"]["inputs"],
                  "RPN predictor %s runs in int8 on the RPN conv's int8 output, dequantized for the proposals: %s"
                  % (pred, nodes[pred]))
        logits = nodes["mask/logits"]
        check(tensors[logits["inputs"][0]]["dtype"] == "i8" and tensors[logits["outputs"][0]]["dtype"] == "i8"
              and nodes["mask/logits/dequantize"]["outputs"] == [nodes["mask/probs"]["inputs"][0]],
              "mask logits run in int8 on the deconvolution's int8 output, dequantized for mask_select: %s" % logits)
        for name in ("box/roi_features", "mask/roi_features", "mask/deconv"):
            check(tensors[nodes[name]["outputs"][0]]["dtype"] == "i8" and
                  all(tensors[i]["dtype"] == "i8" for i in nodes[name]["inputs"][2 if "roi" in name else 0:][:4]
                      if tensors[i]["dtype"] != "i32"),
                  "%s runs in int8 on int8 inputs: %s" % (name, nodes[name]))
        check(not any(n.startswith(("P2/", "P3/", "P4/", "P5/", "P6/")) for n in nodes),
              "no FPN level is dequantized (ROIAlign reads int8, anchors read shapes): %s" % sorted(nodes))
        casts = [n for n in hq["nodes"] if n["op"] == "cast"]
        check(all(n["name"].endswith(("/quantize", "/dequantize")) for n in casts)
              and nodes["image/quantize"]["inputs"] == ["image"],
              "boundaries are cast nodes: %s" % [n["name"] for n in casts])
        wino = sorted(n["name"] for n in hq["nodes"] if (n.get("attrs") or {}).get("winograd") == "int16")
        check("P2" in wino and "mask/fcn1" in wino and "backbone/layer1.0/conv2" not in wino
              and all(tensors[nodes[n]["inputs"][1]]["shape"][1:3] == [3, 3] for n in wino),
              "int8 3x3 convs of >= 128 channels (not the 64-channel layer1) carry winograd int16: %s" % wino)
        r = convert(direct, *(calib + ["--no-winograd"]))
        hd, _ = header(direct) if r.returncode == 0 else ({"nodes": []}, 0)
        check(r.returncode == 0 and hd["nodes"] and
              not any((n.get("attrs") or {}).get("winograd") for n in hd["nodes"]),
              "--no-winograd writes no winograd attribute: %s" % r.stderr)
        r = convert(keep, "--no-winograd")
        check(r.returncode == 1 and "apply with --quantize int8" in r.stderr, "--no-winograd without --quantize: %s"
              % r.stderr)
        r = subprocess.run([detc_bin(), "validate", q8], capture_output=True, text=True)
        check(r.returncode == 0, "int8 model validates: %s" % r.stderr)
        gt = json.load(open(os.path.join(SHAPES, "val", "instances_val.json")))
        ap_f, err_f = mean_ap(f32, tmp, gt)
        ap_q, err_q = mean_ap(q8, tmp, gt)
        ap_d, err_d = mean_ap(direct, tmp, gt)
        check(ap_f is not None and ap_q is not None and ap_d is not None, "detect: %s %s %s" % (err_f, err_q, err_d))
        if ap_f and ap_q and ap_d:
            print("  mAP box %.4f -> %.4f, mask %.4f -> %.4f (float -> int8 with Winograd int16); int8 direct "
                  "(--no-winograd) box %.4f, mask %.4f" % (ap_f[0], ap_q[0], ap_f[1], ap_q[1], ap_d[0], ap_d[1]))
            for name, ap in (("Winograd", ap_q), ("direct", ap_d)):
                check(abs(ap[0] - ap_f[0]) <= MAP_TOLERANCE, "%s int8 box mAP moved by %.4f" % (name, ap[0] - ap_f[0]))
                check(abs(ap[1] - ap_f[1]) <= MAP_TOLERANCE, "%s int8 mask mAP moved by %.4f" % (name, ap[1] - ap_f[1]))
            check(ap_f[0] > 0.7 and ap_f[1] > 0.7, "the float model detects (mAP %s)" % (ap_f,))
        r = convert(keep, *(calib[:-1] + ["2", "--keep-float", "backbone/conv1"]))
        hk, _ = header(keep) if r.returncode == 0 else ({"nodes": [], "tensors": []}, 0)
        kn = {n["name"]: n for n in hk["nodes"]}
        kt = {t["name"]: t for t in hk["tensors"]}
        check(r.returncode == 0 and kt[kn["backbone/conv1"]["inputs"][1]]["dtype"] == "f32"
              and "backbone/maxpool/quantize" in kn,
              "--keep-float keeps backbone/conv1 float, quantized after its max pool: %s" % r.stderr)
        r = convert(keep, *(calib[:-1] + ["2", "--keep-float", "no/such/node"]))
        check(r.returncode == 1 and "--keep-float names no node of this graph: no/such/node" in r.stderr,
              "unknown --keep-float: %s" % r.stderr)
        r = convert(keep, "--quantize", "int8")
        check(r.returncode == 1 and "needs --calibrate DIR" in r.stderr, "--quantize without images: %s" % r.stderr)
        r = convert(keep, "--quantize", "int8", "--calibrate", os.path.join(SHAPES, "config.json"))
        check(r.returncode == 1 and "not a directory of images" in r.stderr, "bad --calibrate: %s" % r.stderr)


main()
print("%d passed, %d failed%s" % (passed, failed, ", %d skipped" % skipped if skipped else ""))
sys.exit(1 if failed else 0)
