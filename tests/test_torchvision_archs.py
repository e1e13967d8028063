#!/usr/bin/python3
"""torchvision's detection family in detc: each architecture of tools/torchvision_archs.py converted
and run, stage by stage and end to end, against torchvision itself.

Run: DETC_BIN=build/detc python3 tests/test_torchvision_archs.py [NAME ...]
     (prints "N passed, M failed[, K skipped]" last; exit 1 on a failure)

Per architecture (Faster R-CNN v1/v2, Mask R-CNN v2, Mask R-CNN over ResNeXt-50 32x4d, Faster R-CNN
over ResNet-152): the checkpoint is rebuilt from tests/data/tv_archs/NAME/layout.json (the
published state_dict layout, weights drawn by numpy from the seed: tools/torchvision_archs.py),
converted with detc-convert's torchvision front end, and run with `detc run` on the stored seeded
image. References:
  - stored: tests/data/tv_archs/NAME/ref.npz (written by `make tv-archs-refs`), always checked;
  - live: where Debian's python3-torch / python3-torchvision are installed (and DETC_QUICK is not
    1), torchvision runs the same checkpoint now and detc is compared with it too.
Compared: the trunk outputs C2..C5 and FPN levels P2..P6 (256 sampled values each in stored mode,
whole when live), rpn/proposals, box/class_logits, the detections (count, labels equal, boxes max
relative difference <= 1e-3, scores 1e-4) and, for Mask R-CNN, the masks (IoU of prob > 0.5 >= 0.99).
Also: the refusals (SSD, SSDlite, MobileNet-FPN, RetinaNet layouts; config `arch` disagreeing).
"""

import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import torchvision_archs as tva  # noqa: E402
from detc_convert import from_torchvision  # noqa: E402
from detc_convert.errors import ConvertError  # noqa: E402
from scratch import scratch_dir  # noqa: E402

DETC = os.environ.get("DETC_BIN") or os.path.join(ROOT, "build", "detc")
DATA = os.path.join(ROOT, "tests", "data", "tv_archs")
TMP = scratch_dir("detc_tv_archs_")
FEATURES = ["C2", "C3", "C4", "C5"] + tva.LEVELS
RESULTS = []


def have_torch():
    if os.environ.get("DETC_QUICK") == "1":
        return False
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
        return True
    except ImportError:
        return False


def report(name, fn):
    try:
        msg = fn()
        RESULTS.append("ok")
        print("ok   %s%s" % (name, (": " + msg) if msg else ""))
    except Skip as e:
        RESULTS.append("skip")
        print("skip %s: %s" % (name, e))
    except Exception as e:  # noqa: BLE001 (a test harness reports every failure)
        RESULTS.append("fail")
        print("FAIL %s: %s: %s" % (name, type(e).__name__, e))


class Skip(Exception):
    pass


def close(a, b, rtol=1e-3, atol_frac=1e-4):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    if b.size == 0:
        return True, 0.0
    scale = float(np.max(np.abs(b))) or 1.0
    lim = rtol * np.abs(b) + atol_frac * scale
    return bool(np.all(np.abs(a - b) <= lim)), float(np.max(np.abs(a - b) / lim))


def box_rel(a, b):
    """max |a - b| / max(|b|, 1) over box coordinates (pixels)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if b.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1.0)))


def convert(name, layout):
    cfg = layout["config"]
    sd = tva.state_for(layout)
    ssd = name.startswith("ssd")
    w, notes = from_torchvision.convert(sd, cfg, name, input_size=None if ssd else tuple(layout["image_hw"]))
    path = os.path.join(TMP, name + ".detc")
    w.write(path)
    return path, notes


def run_detc(name, model, image, wanted):
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "image.npy"), image)
    np.save(os.path.join(d, "image_size.npy"), np.array(image.shape[1:3], np.int32))
    out = os.path.join(d, "out")
    args = [DETC, "run", model, "--input", "image=" + os.path.join(d, "image.npy"),
            "--input", "image_size=" + os.path.join(d, "image_size.npy"), "--dump", out,
            "--tensors", ",".join(wanted)]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    if p.returncode != 0:
        raise AssertionError("detc run failed (%d): %s" % (p.returncode, (p.stderr or p.stdout)[-1500:]))
    got = {}
    for k in wanted:
        f = os.path.join(out, k.replace("/", "_") + ".npy")
        if os.path.exists(f):
            got[k] = np.load(f)
    missing = [k for k in wanted if k not in got]
    assert not missing, "detc run dumped no %s" % missing
    return got


def feature(ref, k):
    """(reference values, flat indices or None) of feature map k, whole or sampled."""
    if k in ref:
        return ref[k].reshape(-1), None
    return ref[k + "@val"], ref[k + "@idx"]


def compare_detections(got, ref):
    """Graph detections: the same count and labels, boxes within 1e-3 relative, scores 1e-4."""
    n = int(ref["detections/count"][0])
    gn = int(got["detections/count"][0])
    assert gn == n, "%d detections, torchvision %d" % (gn, n)
    gl, rl = got["detections/labels"][:n], ref["detections/labels"][:n]
    assert np.array_equal(gl, rl), "labels %s, torchvision %s" % (gl.tolist(), rl.tolist())
    br = box_rel(got["detections/boxes"][:n], ref["detections/boxes"][:n])
    assert br <= 1e-3, "detection boxes: max rel diff %.3g > 1e-3" % br
    sd = float(np.max(np.abs(got["detections/scores"][:n] - ref["detections/scores"][:n]))) if n else 0.0
    assert sd <= 1e-4, "scores differ by %.3g" % sd
    return n, br, sd


def compare(got, ref, masks):
    lines = []
    for k in FEATURES:
        if k not in got:
            continue
        rv, idx = feature(ref, k)
        gv = got[k].reshape(-1)
        gv = gv if idx is None else gv[idx]
        ok, worst = close(gv, rv)
        assert ok, "%s differs from torchvision (worst %.3g of the tolerance)" % (k, worst)
    n_p = int(ref["rpn/proposals_count"][0])
    assert int(got["rpn/proposals_count"][0]) == n_p, "%d proposals, torchvision %d" % (
        int(got["rpn/proposals_count"][0]), n_p)
    pr = box_rel(got["rpn/proposals"][:n_p], ref["rpn/proposals"][:n_p])
    assert pr <= 1e-3, "proposals differ: max rel %.3g" % pr
    ok, worst = close(got["box/class_logits"][:n_p], ref["box/class_logits"][:n_p])
    assert ok, "box/class_logits differ (worst %.3g of the tolerance)" % worst
    n, br, sd = compare_detections(got, ref)
    lines.append("%d detections, labels equal, boxes max rel %.1e, scores max abs %.1e" % (n, br, sd))
    if masks:
        ious = []
        for i in range(n):
            a = got["mask/probs"][i] > 0.5
            b = ref["mask/probs"][i] > 0.5
            u = np.logical_or(a, b).sum()
            ious.append(1.0 if u == 0 else np.logical_and(a, b).sum() / u)
        mi = min(ious) if ious else 1.0
        assert mi >= 0.99, "mask IoU %.4f < 0.99" % mi
        lines.append("mask IoU min %.4f" % mi)
    return ", ".join(lines)


def compare_ssd(got, ref, anchors, maps):
    for k in maps + ["head/class_logits", "head/box_regression"]:
        rv, idx = feature(ref, k)
        gv = got[k].reshape(-1)
        gv = gv if idx is None else gv[idx]
        ok, worst = close(gv, rv)
        assert ok, "%s differs from torchvision (worst %.3g of the tolerance)" % (k, worst)
    ar = box_rel(anchors, ref["anchors"])
    assert ar <= 1e-5, "anchors (DefaultBoxGenerator) differ: max rel %.3g" % ar
    n, br, sd = compare_detections(got, ref)
    return "%d detections, labels equal, boxes max rel %.1e, scores max abs %.1e, anchors max rel %.1e" % (n, br, sd, ar)


def arch_tests(name, live):
    d = os.path.join(DATA, name)
    layout = json.load(open(os.path.join(d, "layout.json")))
    stored = dict(np.load(os.path.join(d, "ref.npz")))
    masks = name.startswith("maskrcnn")
    state = {}

    def conv():
        model, notes = convert(name, layout)
        state["model"] = model
        return notes[-1] if notes else ""
    report("%s convert" % name, conv)

    def validate():
        if "model" not in state:
            raise Skip("not converted")
        p = subprocess.run([DETC, "validate", state["model"]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        assert p.returncode == 0, p.stdout[-1500:]
    report("%s validate" % name, validate)

    ssd = name.startswith("ssd")
    dets = ["detections/boxes", "detections/scores", "detections/labels", "detections/count"]
    if ssd:
        maps = tva.SSDLITE_MAPS if "lite" in name else tva.SSD_MAPS[1:]
        wanted = maps + ["head/class_logits", "head/box_regression"] + dets
    else:
        feats = [k for k in FEATURES if k in stored or (k + "@val") in stored]
        wanted = feats + ["rpn/proposals", "rpn/proposals_count", "box/class_logits"] + dets + (
            ["mask/probs"] if masks else [])

    def cmp(got, ref):
        if ssd:
            from detc_convert import from_torchvision_ssd as fs
            c = layout["config"]
            if "lite" in name:
                grid = [(20, 20), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]
                scales = [0.2 + 0.75 * k / 5.0 for k in range(6)] + [1.0]
                anchors = fs.default_boxes(grid, tuple(c["size"]), fs.SSDLITE_RATIOS, scales, None)
            else:
                grid = [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
                anchors = fs.default_boxes(grid, tuple(c["size"]), fs.SSD300_RATIOS, fs.SSD300_SCALES,
                                           fs.SSD300_STEPS)
            return compare_ssd(got, ref, anchors, maps)
        return compare(got, ref, masks)
    image = tva.make_image(layout["image_seed"], tuple(layout["image_hw"]))

    def run():
        if "model" not in state:
            raise Skip("not converted")
        state["got"] = run_detc(name, state["model"], image, wanted)
    report("%s run" % name, run)

    def vs_stored():
        if "got" not in state:
            raise Skip("no detc outputs")
        return cmp(state["got"], stored)
    report("%s vs stored torchvision" % name, vs_stored)

    def detect():
        if "model" not in state:
            raise Skip("not converted")
        if "final/boxes" not in stored:
            raise Skip("no end-to-end reference stored (make tv-archs-refs)")
        photo = os.path.join(TMP, "photo.png")
        if not os.path.exists(photo):
            tva.write_png(photo, tva.make_photo())
        out = os.path.join(TMP, name + "_detect.json")
        p = subprocess.run([DETC, "detect", state["model"], photo, "--json", out, "--threshold", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
        assert p.returncode == 0, (p.stderr or p.stdout)[-1500:]
        dets = json.load(open(out))["images"][0]["detections"]
        rb, rs, rl = stored["final/boxes"], stored["final/scores"], stored["final/labels"]
        assert len(dets) == len(rb), "%d detections, torchvision %d" % (len(dets), len(rb))
        gb = np.array([d["box"] for d in dets], np.float64).reshape(-1, 4)
        gs = np.array([d["score"] for d in dets], np.float64)
        names = layout["config"]["classes"]
        gl = [d["label"] for d in dets]
        want = [names[int(i)] for i in rl]
        assert gl == want, "labels %s, torchvision %s" % (gl, want)
        br = box_rel(gb, rb)
        assert br <= 1e-3, "boxes (original pixels): max rel diff %.3g > 1e-3" % br
        sd = float(np.max(np.abs(gs - rs))) if len(rs) else 0.0
        assert sd <= 1e-4, "scores differ by %.3g" % sd
        return "`detc detect` on a 200x150 picture: %d detections, labels equal, boxes max rel %.1e, scores %.1e" % (
            len(dets), br, sd)
    report("%s detect (resize, normalisation, scale-back)" % name, detect)

    if live:
        def vs_live():
            if "got" not in state:
                raise Skip("no detc outputs")
            import torch
            torch.set_num_threads(2)
            model, lay = tva.layout_for(torch, name)
            assert lay["tensors"] == layout["tensors"], "the stored layout is not torchvision's (make tv-archs-refs)"
            model = tva.load(torch, model, tva.state_for(layout))
            ref = tva.reference(torch, model, layout, image)
            return cmp(state["got"], ref)
        report("%s vs live torchvision" % name, vs_live)


def refusals():
    def layout_keys(keys):
        return {k: np.zeros((1,), np.float32) for k in keys}
    cfg = {"classes": ["bg", "a"], "min_size": 64, "max_size": 64}
    cases = [
        ("ssd300_vgg16 without its extra blocks", ["backbone.scale_weight", "backbone.features.0.weight",
                                                   "head.classification_head.module_list.0.weight"], "ssd300_vgg16"),
        ("ssdlite320_mobilenet_v3_large without its trunk's second half", [
            "backbone.features.0.0.0.weight", "head.classification_head.module_list.0.0.0.weight"],
         "ssdlite320_mobilenet_v3_large"),
        ("fasterrcnn_mobilenet_v3_large_fpn", ["backbone.body.0.0.weight", "rpn.head.conv.0.0.weight",
                                               "roi_heads.box_predictor.cls_score.weight"], "backbone.body.0"),
        ("retinanet", ["backbone.body.conv1.weight", "head.classification_head.conv.0.0.weight"], "retinanet"),
        ("keypointrcnn", ["backbone.body.layer1.0.conv1.weight", "rpn.head.conv.0.0.weight",
                          "roi_heads.box_predictor.cls_score.weight", "roi_heads.keypoint_head.0.weight"],
         "roi_heads.keypoint_head"),
    ]
    for name, keys, want in cases:
        def fn(keys=keys, want=want):
            try:
                from_torchvision.convert(layout_keys(keys), cfg, "x")
            except ConvertError as e:
                assert want in str(e), "message does not name %r: %s" % (want, e)
                return str(e)[:100] + "..."
            raise AssertionError("converted")
        report("refuses %s" % name, fn)

    def arch_mismatch():
        layout = json.load(open(os.path.join(DATA, "fasterrcnn_resnet50_fpn", "layout.json")))
        cfg2 = dict(layout["config"], arch="maskrcnn_resnet50_fpn_v2")
        try:
            from_torchvision.convert(tva.state_for(layout), cfg2, "x")
        except ConvertError as e:
            assert "maskrcnn_resnet50_fpn_v2" in str(e) and "fasterrcnn" in str(e), str(e)
            return str(e)
        raise AssertionError("converted")
    report("config arch checked against the checkpoint", arch_mismatch)


def grouped_conv_checks():
    """conv2d `groups`: a ResNeXt-style grouped conv equals the per-group dense convs; bad groupings are refused."""
    from detc_convert.writer import DetcWriter
    r = np.random.RandomState(3)
    x = r.randn(1, 7, 9, 8).astype(np.float32)
    w = r.randn(6, 3, 3, 4).astype(np.float32)        # OHWI, groups 2: 8 -> 6 channels
    b = r.randn(6).astype(np.float32)

    def model(path, groups, wt):
        m = DetcWriter(name="grouped", producer="tests/test_torchvision_archs.py")
        m.add_activation("x", "f32", list(x.shape))
        m.add_constant("w", "f32", list(wt.shape), wt)
        m.add_constant("b", "f32", [6], b)
        m.add_activation("y", "f32")
        m.add_node("conv", "conv2d", ["x", "w", "b"], ["y"], {"stride": [2, 1], "padding": [1, 1, 1, 1],
                                                              "dilation": [1, 1], "activation": "relu",
                                                              "groups": groups})
        m.inputs, m.outputs = ["x"], ["y"]
        m.write(path)

    def ok_case():
        d = os.path.join(TMP, "grouped")
        os.makedirs(d, exist_ok=True)
        model(os.path.join(d, "m.detc"), 2, w)
        np.save(os.path.join(d, "x.npy"), x)
        p = subprocess.run([DETC, "run", os.path.join(d, "m.detc"), "--input", "x=" + os.path.join(d, "x.npy"),
                            "--dump", os.path.join(d, "out")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        assert p.returncode == 0, p.stdout[-800:]
        y = np.load(os.path.join(d, "out", "y.npy"))
        xp = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
        ref = np.zeros((1, 4, 9, 6))
        for oy in range(4):
            for ox in range(9):
                for o in range(6):
                    g = o // 3
                    patch = xp[0, oy * 2:oy * 2 + 3, ox:ox + 3, g * 4:(g + 1) * 4]
                    ref[0, oy, ox, o] = max(0.0, float(np.sum(patch * w[o])) + b[o])
        good, worst = close(y, ref, 1e-5, 1e-6)
        assert good, "grouped conv differs from the definition (worst %.3g of the tolerance)" % worst
    report("conv2d groups 2 (stride 2x1, padding, relu) against the definition", ok_case)

    def bad_case():
        path = os.path.join(TMP, "grouped_bad.detc")
        model(path, 3, w)
        p = subprocess.run([DETC, "validate", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        assert p.returncode != 0 and "groups 3" in p.stdout, p.stdout[-800:]
        return p.stdout.strip().splitlines()[-1][:120]
    report("conv2d groups 3 over 8 channels is refused", bad_case)


def main():
    names = sys.argv[1:] or list(tva.ARCHS)
    live = have_torch()
    print("references: stored%s" % (" + live torchvision" if live else " (no torch: live comparison skipped)"))
    refusals()
    grouped_conv_checks()
    for name in names:
        arch_tests(name, live)
    f = RESULTS.count("fail")
    s = RESULTS.count("skip")
    print("%d passed, %d failed%s" % (RESULTS.count("ok"), f, ", %d skipped" % s if s else ""))
    return 1 if f else 0


if __name__ == "__main__":
    sys.exit(main())
