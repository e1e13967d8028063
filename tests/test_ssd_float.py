#!/usr/bin/python3
"""SSD MobileNet v1 COCO as a float32 model: `detc-convert tflite --dequantize` against the uint8 path.

Run: /usr/bin/python3 tests/test_ssd_float.py   (prints "N passed, M failed[, K skipped]" last)

detect.tflite is converted twice, plainly (uint8) and with --dequantize (f32), and both are run with
`detc run --image` on every ../shared/images/*.jpg. Checked:
  1. The conversion. `detc inspect` lists every tensor of the f32 model as f32 (the uint8 model's
     activations are u8); both have the same tensors and nodes; every f32 constant is exactly
     float32((q - zero_point) * scale) of the uint8 model's constant; every f32 node has the uint8
     node's attributes, except that a convolution whose uint8 output range is [0, 6] or [0, max] gets
     the relu6 or relu that the range implied.
  2. The f32 path against an independent float reference: the whole network (convolutions, depthwise
     convolutions, TF "same" padding, relu6, reshapes, concatenations, logistic) recomputed in float64
     with torch.nn.functional, from the f32 model's weights and detc's own input tensor. Every one of the
     63 computed tensors before the post-processing: max |detc - ref| <= 1e-4 * max(1, max |ref|) and
     mean <= 1e-5 * max(1, max |ref|) (OpenCV DNN's float tolerances, as tests/test_res10_opencv.py;
     f32 summation-order noise measured here is <= 1e-5). Each f32 detection (raw output of the
     detection_postprocess op) is the decoding, in numpy, of the reference's box encoding at one anchor:
     box within 1e-4, score = the reference's sigmoid within 1e-5.
     (TensorFlow Lite itself cannot be the reference: tools/tflite_ref runs .tflite files and there is no
     float detect.tflite; writing one would mean re-serializing the flatbuffer with float buffers and
     explicit activations, which this project has no writer for.)
  3. The f32 path against the uint8 path (the same photo and preprocessing: the f32 input must be
     exactly the dequantized uint8 input). The uint8 network is not a rounding of the float one: each of
     its 33 requantized tensors rounds onto its own u8 grid and the errors accumulate, so tolerances are
     stated in quanta of the uint8 outputs and were measured with a margin:
     - anchors scoring >= 0.5 in either path: box encodings within BOX_QUANTA = 2 quanta of the box
       encoding tensor (step 0.0790; measured <= 1.1), and all 91 class scores within SCORE_TOL = 16/256
       (16 steps of the uint8 score output; measured <= 13/256, on eagle.jpg);
     - detections scoring >= 0.5 in either path: the other path has the same detection (same anchor,
       same class, |score difference| <= SCORE_TOL, box IoU >= the IoU that a 2-quantum error in all four
       box encodings of that very anchor could cause at worst, computed per detection; ~0.92..0.94), or,
       where two candidates are tied within SCORE_TOL in the path that reports them (dog.jpg: uint8 scores
       'dog' at one anchor and 'cat' at its neighbour both 0.6445, the float path 0.6396 and 0.6457), the
       other candidate: it must overlap (IoU >= the NMS threshold 0.6) and score within SCORE_TOL. Such
       swaps are printed.
  4. `detc detect --json` with the f32 model reports the raw detections above 0.5 (class, score).
Skipped, with the reason, without ../shared's SSD model or DETC_BIN (default build/detc); part 2 needs
torch (python3-torch; DETC_REQUIRE_REFS=1 turns its absence into a failure).
"""
import itertools
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("DETC_SHARED", os.path.join(ROOT, "..", "shared"))
MODEL_DIR = os.path.join(SHARED, "models", "ssd_mobilenet_v1_coco_quant")
TFLITE = os.path.join(MODEL_DIR, "detect.tflite")
LABELS = os.path.join(MODEL_DIR, "labelmap.txt")
IMAGES = os.path.join(SHARED, "images")
DETC = os.environ.get("DETC_BIN", os.path.join(ROOT, "build", "detc"))
CONVERT = os.path.join(ROOT, "tools", "detc-convert")
REQUIRE_REFS = os.environ.get("DETC_REQUIRE_REFS") == "1"
OUTS = ["TFLite_Detection_PostProcess", "TFLite_Detection_PostProcess:1", "TFLite_Detection_PostProcess:2",
        "TFLite_Detection_PostProcess:3"]
INPUT = "normalized_input_image_tensor"
BOX_QUANTA = 2            # box encodings, in steps of the uint8 box encoding tensor
SCORE_TOL = 16 / 256      # class scores, 16 steps of the uint8 score tensor
NMS_IOU = 0.6             # the model's nms_iou_threshold: two boxes this close are one object
REF_MAX, REF_MEAN = 1e-4, 1e-5

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # reported as a skip
    torch = None

passed = failed = skipped = 0


def check(cond, msg):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL", msg)
    return cond


def skip(msg):
    global skipped
    skipped += 1
    print("SKIP", msg)


def run(cmd):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300)


def npy_name(name):
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) + ".npy"


def read_detc(path):
    """(header JSON, {constant name: numpy array of its dtype}) straight from the file (weights/FORMAT.md)."""
    data = open(path, "rb").read()
    _magic, _ver, jlen, doff, _dlen = struct.unpack_from("<8sIIQQ", data, 0)
    j = json.loads(data[32:32 + jlen])
    dt = {"f32": "<f4", "u8": "u1", "i8": "i1", "i32": "<i4"}
    consts = {}
    for t in j["tensors"]:
        if "offset" in t:
            raw = data[doff + t["offset"]:doff + t["offset"] + t["length"]]
            consts[t["name"]] = np.frombuffer(raw, dt[t["dtype"]]).reshape(t["shape"])
    return j, consts


def inspect_dtypes(model):
    """{tensor name: dtype} as `detc inspect` prints them."""
    r = run([DETC, "inspect", model])
    out = {}
    section = False
    for line in r.stdout.splitlines():
        if line.startswith("tensors:"):
            section = True
            continue
        m = re.match(r"\s+\d+\s+(input|act|const|output)\s+(\S+)\s+\[[^\]]*\]\s+\d+ B\s+(\S+)", line)
        if section and m:
            out[m.group(3)] = m.group(2)
    return r.returncode, out


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def decode(enc, anchors, scales=(10.0, 10.0, 5.0, 5.0)):
    """TFLite_Detection_PostProcess's box decoding: encodings (ty, tx, th, tw), anchors (ycenter, xcenter,
    h, w) -> (ymin, xmin, ymax, xmax), float64."""
    enc = np.asarray(enc, np.float64).reshape(-1, 4)
    a = np.asarray(anchors, np.float64).reshape(-1, 4)
    yc = enc[:, 0] / scales[0] * a[:, 2] + a[:, 0]
    xc = enc[:, 1] / scales[1] * a[:, 3] + a[:, 1]
    h = np.exp(enc[:, 2] / scales[2]) * a[:, 2]
    w = np.exp(enc[:, 3] / scales[3]) * a[:, 3]
    return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=1)


def iou_bound(enc, anchor, step):
    """The lowest IoU between the box of encoding enc and the box of enc moved by BOX_QUANTA steps in every
    one of its four encodings (all sign combinations, and half the distance)."""
    base = decode(enc, anchor)[0]
    worst = 1.0
    for k in (BOX_QUANTA, BOX_QUANTA / 2):
        for signs in itertools.product((-1, 1), repeat=4):
            worst = min(worst, iou(base, decode(np.asarray(enc) + k * step * np.asarray(signs), anchor)[0]))
    return worst


# -- 1. the conversion -------------------------------------------------------------------------------------------
def implied_activation(act, q):
    """The clamp a uint8 output range implies (what --dequantize must add), from the uint8 model alone."""
    if act not in ("none", "relu") or len(q["scale"]) != 1:
        return act
    s, z = q["scale"][0], q["zero_point"][0]
    if s * (0 - z) != 0.0:
        return act
    return "relu6" if abs(s * (255 - z) - 6.0) <= s else "relu"


def test_conversion(qmodel, fmodel):
    rc, fdt = inspect_dtypes(fmodel)
    rc2, qdt = inspect_dtypes(qmodel)
    if not check(rc == 0 and rc2 == 0 and fdt and qdt, "detc inspect failed or printed no tensors"):
        return
    not_f32 = sorted(n for n, d in fdt.items() if d != "f32")
    check(not not_f32, "f32 model: %d tensors are not f32 (inspect): %s" % (len(not_f32), not_f32[:5]))
    check(set(fdt) == set(qdt), "the two models have different tensors")
    n_u8 = sum(d == "u8" for d in qdt.values())
    check(n_u8 >= 60, "uint8 model: only %d u8 tensors in inspect's listing" % n_u8)
    print("inspect: f32 model %d tensors, all f32; uint8 model %d tensors, %d u8" % (len(fdt), len(qdt), n_u8))

    qj, qc = read_detc(qmodel)
    fj, fc = read_detc(fmodel)
    qt = {t["name"]: t for t in qj["tensors"]}
    exact = 0
    for name, qv in qc.items():
        q = qt[name].get("quant")
        fv = fc.get(name)
        if q is None:
            ok = fv is not None and np.array_equal(fv, qv)
        else:
            scale, zp = np.asarray(q["scale"], np.float64), np.asarray(q["zero_point"], np.float64)
            if q["axis"] >= 0:
                shape = [1] * qv.ndim
                shape[q["axis"]] = -1
                scale, zp = scale.reshape(shape), zp.reshape(shape)
            want = ((qv.astype(np.float64) - zp) * scale).astype(np.float32)
            ok = fv is not None and fv.dtype == np.float32 and np.array_equal(fv, want)
        exact += ok
        check(ok, "constant %s is not the dequantized uint8 constant" % name)
    check(len(fc) == len(qc), "the models have %d and %d constants" % (len(fc), len(qc)))
    print("constants: %d of %d exactly the dequantized uint8 values" % (exact, len(qc)))

    added = 0
    same = len(qj["nodes"]) == len(fj["nodes"])
    for qn, fn in zip(qj["nodes"], fj["nodes"]):
        if (qn["op"], qn["inputs"], qn["outputs"]) != (fn["op"], fn["inputs"], fn["outputs"]):
            same = False
            continue
        want = dict(qn["attrs"])
        if "activation" in want:
            want["activation"] = implied_activation(want["activation"], qt[qn["outputs"][0]]["quant"])
            added += want["activation"] != qn["attrs"]["activation"]
        if want != fn["attrs"]:
            same = False
            print("  node %s: attrs %s, expected %s" % (fn["name"], fn["attrs"], want))
    check(same, "the f32 graph is not the uint8 graph with the implied activations")
    print("graph: %d nodes, identical but for %d activations implied by uint8 output ranges" % (len(fj["nodes"]),
                                                                                            added))


# -- 2. independent float reference ------------------------------------------------------------------------------
def reference_forward(j, consts, x):
    """Every tensor up to the post-processing, float64, NHWC, computed with torch from the model's weights."""
    def nhwc(v):
        return v[1] if isinstance(v, tuple) else v.permute(0, 2, 3, 1)
    t = {j["inputs"][0]: torch.from_numpy(x.astype(np.float64)).permute(0, 3, 1, 2)}  # NCHW tensors, or ("nhwc", t)
    for n in j["nodes"]:
        op, a = n["op"], n["attrs"]
        if op in ("conv2d", "depthwise_conv2d"):
            x = t[n["inputs"][0]]
            w = torch.from_numpy(consts[n["inputs"][1]].astype(np.float64))
            b = torch.from_numpy(consts[n["inputs"][2]].astype(np.float64))
            if a["dilation"] != [1, 1]:
                raise ValueError("dilation not in the reference")
            w, groups = (w.permute(0, 3, 1, 2), 1) if op == "conv2d" else (w.permute(3, 0, 1, 2), x.shape[1])
            if a["padding"] == "same":  # TensorFlow: total padding split with the extra row/column at the end
                pads = []
                for size, k, s in ((x.shape[3], w.shape[3], a["stride"][1]), (x.shape[2], w.shape[2], a["stride"][0])):
                    total = max((-(-size // s) - 1) * s + k - size, 0)
                    pads += [total // 2, total - total // 2]
                x = F.pad(x, pads)
            y = F.conv2d(x, w, b, stride=a["stride"], groups=groups)
            act = a["activation"]
            y = y.clamp(0, 6) if act == "relu6" else y.clamp(min=0) if act == "relu" else y
            if act not in ("relu6", "relu", "none"):
                raise ValueError("activation %s not in the reference" % act)
            t[n["outputs"][0]] = y
        elif op == "reshape":
            t[n["outputs"][0]] = ("nhwc", nhwc(t[n["inputs"][0]]).reshape(a["shape"]))
        elif op == "concat":
            t[n["outputs"][0]] = ("nhwc", torch.cat([nhwc(t[i]) for i in n["inputs"]], a["axis"]))
        elif op == "logistic":
            t[n["outputs"][0]] = ("nhwc", torch.sigmoid(nhwc(t[n["inputs"][0]])))
        elif op != "detection_postprocess":
            raise ValueError("op %s not in the reference" % op)
    return {k: nhwc(v).numpy() for k, v in t.items()}


def find_anchor(box, cls, score, boxes, scores, box_tol, score_tol):
    """The anchor whose decoded box and class score give this detection, or -1."""
    d = np.abs(boxes - np.asarray(box, np.float64)).max(axis=1)
    ok = (d <= box_tol) & (np.abs(scores[:, cls + 1] - score) <= score_tol)
    return int(np.argmin(np.where(ok, d, np.inf))) if ok.any() else -1


def test_reference(name, fdir, fj, fc, anchors):
    t = {m["name"]: np.load(os.path.join(fdir, m["file"]))
         for m in json.load(open(os.path.join(fdir, "manifest.json")))["tensors"]}
    ref = reference_forward(fj, fc, t[INPUT])
    worst, n = 0.0, 0
    for k, r in ref.items():
        if k == INPUT:
            continue
        g = t.get(k)
        if not check(g is not None and g.shape == r.shape, "%s: %s missing or shape differs from the reference"
                     % (name, k)):
            continue
        scale = max(1.0, float(np.abs(r).max()))
        d = np.abs(g.astype(np.float64) - r)
        worst = max(worst, float(d.max()) / scale)
        n += 1
        check(d.max() <= REF_MAX * scale and d.mean() <= REF_MEAN * scale,
              "%s: %s vs float64 reference: max |diff| %.3g, mean %.3g (scale %.3g)" % (name, k, d.max(), d.mean(), scale))
    boxes, scores = decode(ref["Squeeze"][0], anchors), ref["convert_scores"][0]
    b, c, s, cnt = (t[o] for o in OUTS)
    dets = 0
    for i in range(int(cnt[0])):
        a = find_anchor(b[0, i], int(c[0, i]), float(s[0, i]), boxes, scores, 1e-4, 1e-5)
        dets += check(a >= 0, "%s: f32 detection %d (class %d, %.4f, %s) is no anchor's decoded reference box"
                      % (name, i, int(c[0, i]), s[0, i], b[0, i]))
    print("  %-16s f32 vs float64 reference: %d tensors, max |diff| / max(1, |ref|) %.2g; %d/%d detections are "
          "reference anchors" % (name, n, worst, dets, int(cnt[0])))


# -- 3. f32 against uint8 ---------------------------------------------------------------------------------------
def test_f32_vs_uint8(name, qdir, fdir, qt, anchors):
    q = {n: np.load(os.path.join(qdir, npy_name(n))) for n in [INPUT, "Squeeze", "convert_scores"] + OUTS}
    f = {n: np.load(os.path.join(fdir, npy_name(n))) for n in [INPUT, "Squeeze", "convert_scores"] + OUTS}

    def deq(n):
        qq = qt[n]["quant"]
        return (q[n].astype(np.float64) - qq["zero_point"][0]) * qq["scale"][0]
    step = qt["Squeeze"]["quant"]["scale"][0]
    check(np.array_equal(f[INPUT], deq(INPUT).astype(np.float32)), "%s: the f32 input is not the dequantized "
          "uint8 input" % name)
    qenc, fenc = deq("Squeeze")[0], f["Squeeze"][0].astype(np.float64)
    qsc, fsc = deq("convert_scores")[0], f["convert_scores"][0].astype(np.float64)
    conf = (qsc[:, 1:].max(axis=1) >= 0.5) | (fsc[:, 1:].max(axis=1) >= 0.5)
    enc_q = float(np.abs(qenc - fenc)[conf].max(initial=0)) / step
    score_d = float(np.abs(qsc - fsc)[conf].max(initial=0))
    check(enc_q <= BOX_QUANTA, "%s: confident anchors' box encodings differ by %.2f quanta" % (name, enc_q))
    check(score_d <= SCORE_TOL, "%s: confident anchors' class scores differ by %.4f" % (name, score_d))

    paths = {"uint8": (q, decode(qenc, anchors), qsc, qenc), "f32": (f, decode(fenc, anchors), fsc, fenc)}
    same = swaps = total = 0
    min_iou, max_ds = 1.0, 0.0
    for x, y in (("uint8", "f32"), ("f32", "uint8")):
        xo, xboxes, xsc, xenc = paths[x]
        yo, yboxes, ysc, _yenc = paths[y]
        ydets = [(yo[OUTS[0]][0, k].astype(np.float64), int(yo[OUTS[1]][0, k]), float(yo[OUTS[2]][0, k]))
                 for k in range(int(yo[OUTS[3]][0]))]
        yanchors = [find_anchor(bx, cl, sc, yboxes, ysc, 1e-5, 1e-6) for bx, cl, sc in ydets]
        for k in range(int(xo[OUTS[3]][0])):
            box, cls, sc = xo[OUTS[0]][0, k].astype(np.float64), int(xo[OUTS[1]][0, k]), float(xo[OUTS[2]][0, k])
            if sc < 0.5:
                continue
            total += 1
            a = find_anchor(box, cls, sc, xboxes, xsc, 1e-5, 1e-6)
            if not check(a >= 0, "%s: %s detection %d is no anchor's decoded box" % (name, x, k)):
                continue
            bound = iou_bound(qenc[a], anchors[a], step)
            hit = [(bx, cl, s2) for (bx, cl, s2), ya in zip(ydets, yanchors)
                   if ya == a and cl == cls and abs(s2 - sc) <= SCORE_TOL and iou(bx, box) >= bound]
            if hit:
                same += 1
                min_iou, max_ds = min(min_iou, iou(hit[0][0], box)), max(max_ds, abs(hit[0][2] - sc))
                continue
            # a tie: the other path reports another candidate for the same object, which this path scored
            # within SCORE_TOL of its own winner
            alt = [(bx, cl, s2, ya) for (bx, cl, s2), ya in zip(ydets, yanchors)
                   if ya >= 0 and iou(bx, box) >= NMS_IOU and abs(s2 - sc) <= SCORE_TOL and
                   abs(xsc[ya, cl + 1] - sc) <= SCORE_TOL]
            if check(alt, "%s: %s detection class %d %.4f %s has no counterpart in the %s path (same anchor %d: "
                     "class score %.4f, IoU %.4f, bound %.4f)" % (name, x, cls, sc, np.round(box, 4), y, a,
                                                                   ysc[a, cls + 1], iou(box, yboxes[a]), bound)):
                bx, cl, s2, ya = alt[0]
                swaps += 1
                print("  %-16s tie: %s reports class %d %.4f (anchor %d), %s class %d %.4f (anchor %d), where %s "
                      "scores the latter %.4f" % (name, x, cls, sc, a, y, cl, s2, ya, x, xsc[ya, cl + 1]))
    print("  %-16s f32 vs uint8: confident anchors %d (box encodings within %.2f quanta, scores within %.4f); "
          "detections >= 0.5: %d, same %d (min IoU %.4f, max |score diff| %.4f), ties %d"
          % (name, int(conf.sum()), enc_q, score_d, total, same, min_iou, max_ds, swaps))


def test_detect_json(fmodel, fdir, img):
    r = run([DETC, "detect", fmodel, img, "--threshold", "0.5", "--json", "-"])
    if not check(r.returncode == 0, "detect --json with the f32 model failed: %s" % r.stderr):
        return
    got = json.loads(r.stdout)["images"][0]["detections"]
    b, c, s, n = (np.load(os.path.join(fdir, npy_name(o))) for o in OUTS)
    want = [(int(c[0, i]) + 1, float(s[0, i])) for i in range(int(n[0])) if s[0, i] >= 0.5]
    check(len(got) == len(want) and all(g["class_id"] == w[0] and abs(g["score"] - w[1]) < 1e-6
                                        for g, w in zip(got, want)),
          "detect --json (f32) %s vs raw outputs %s" % ([(g["class_id"], g["score"]) for g in got], want))


def main():
    if not os.path.exists(TFLITE):
        skip("SSD model not found at %s; get it from the URL in ../shared/models/SOURCES.md" % TFLITE)
    elif not os.path.exists(DETC):
        skip("%s not found (build with make, or set DETC_BIN)" % DETC)
    if skipped:
        print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
        return 0
    images = sorted(f for f in os.listdir(IMAGES) if f.endswith(".jpg"))
    tmp = tempfile.mkdtemp(prefix="detc_ssd_float_")
    try:
        qmodel, fmodel = os.path.join(tmp, "ssd_u8.detc"), os.path.join(tmp, "ssd_f32.detc")
        r1 = run([CONVERT, "tflite", TFLITE, "--labels", LABELS, "-o", qmodel])
        r2 = run([CONVERT, "tflite", TFLITE, "--labels", LABELS, "--dequantize", "-o", fmodel])
        if not (check(r1.returncode == 0, "conversion failed: %s" % r1.stderr) and
                check(r2.returncode == 0, "--dequantize conversion failed: %s" % r2.stderr)):
            raise SystemExit
        test_conversion(qmodel, fmodel)
        qj, _qc = read_detc(qmodel)
        fj, fc = read_detc(fmodel)
        qt = {t["name"]: t for t in qj["tensors"]}
        anchors = fc["anchors"]
        if torch is None:
            (check(False, "torch missing for the float reference") if REQUIRE_REFS else
             skip("torch is not installed (python3-torch): no float64 reference for the f32 path"))
        else:
            torch.set_num_threads(1)  # the same summation order on every run
        for img in images:
            name = img[:-4]
            qdir, fdir = os.path.join(tmp, name + "_u8"), os.path.join(tmp, name + "_f32")
            ok = True
            for model, d in ((qmodel, qdir), (fmodel, fdir)):
                r = run([DETC, "run", model, "--image", os.path.join(IMAGES, img), "--dump", d])
                ok = check(r.returncode == 0, "%s: detc run %s failed: %s" % (img, model, r.stderr)) and ok
            if not ok:
                continue
            if torch is not None:
                test_reference(img, fdir, fj, fc, anchors)
            test_f32_vs_uint8(img, qdir, fdir, qt, anchors)
        test_detect_json(fmodel, os.path.join(tmp, "dog_f32"), os.path.join(IMAGES, "dog.jpg"))
    except SystemExit:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
