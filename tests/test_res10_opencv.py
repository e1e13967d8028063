#!/usr/bin/python3
"""detc against OpenCV DNN 4.x on OpenCV's ResNet-10 SSD face detector (TensorFlow frozen graph + text graph).

Run: /usr/bin/python3 tests/test_res10_opencv.py   (prints "N passed, M failed[, K skipped]" last)

The model is converted with tools/detc-convert (--preset opencv_face_ssd_res10). For every
../shared/images/*.jpg, tools/opencv_ref.py prepares the input with cv2.dnn.blobFromImage (300x300,
INTER_LINEAR, mean 104,177,123, BGR), runs OpenCV and dumps its tensors; detc runs the SAME input tensor
(`detc run MODEL --input data=DIR/data.npy --dump`). Compared:
  - final detections: every OpenCV detection (all of them, not only the confident ones) is matched to a detc
    detection of the same class with box IoU >= 0.999 and |score difference| <= 1e-4, the counts are equal,
    and so are the counts above 0.5;
  - intermediate tensors Relu (conv1), last_relu, mbox_loc, mbox_conf_flatten: mean |a - b| <= 1e-5 and
    max |a - b| <= 1e-4, relative to max(1, max |OpenCV|): OpenCV's own float tolerances (l1 1e-5,
    lInf 1e-4) for its DNN tests;
  - the priors detc-convert generated: equal to OpenCV's mbox_priorbox bit for bit;
  - `detc compare OPENCV DETC --map MAP --detections` agrees (the --map written by opencv_ref.py).
The ssd_detection_output op alone is compared with OpenCV's DetectionOutput layer (built from a Caffe
prototxt) on random inputs with many tied scores: the outputs must be identical bit for bit, order included.
`detc detect` (detc's own image preprocessing) must give OpenCV's faces above 0.5 in pixel coordinates.
Skipped, with a message, when OpenCV's Python module (apt-get install python3-opencv), the shared models or
DETC_BIN (default build/detc) are absent.
"""

import glob
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

import numpy as np
from scratch import scratch_dir  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
MODEL_DIR = os.path.join(SHARED, "models", "opencv_face_ssd_res10")
PB = os.path.join(MODEL_DIR, "opencv_face_detector_uint8.pb")
PBTXT = os.path.join(MODEL_DIR, "opencv_face_detector.pbtxt")
IMAGES = sorted(glob.glob(os.path.join(SHARED, "images", "*.jpg")))
DETC = os.environ.get("DETC_BIN", os.path.join(ROOT, "build", "detc"))
CONVERT = os.path.join(ROOT, "tools", "detc-convert")
OPENCV_REF = os.path.join(ROOT, "tools", "opencv_ref.py")
TMP = scratch_dir("detc_res10_test_")
MODEL = os.path.join(TMP, "res10.detc")
INTERMEDIATE = ["Relu", "last_relu", "mbox_loc", "mbox_conf_flatten"]
DET = ["detection_out", "detection_out:1", "detection_out:2", "detection_out:3"]

try:
    import cv2
except ImportError:
    cv2 = None


def run(*args, timeout=600):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def file_name(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".npy"


def load_dump(d):
    man = json.load(open(os.path.join(d, "manifest.json")))
    return {t["name"]: np.load(os.path.join(d, t["file"])) for t in man["tensors"]}


def detc_constant(path, name):
    data = open(path, "rb").read()
    _m, _v, jlen, doff, _dl = struct.unpack_from("<8sIIQQ", data, 0)
    for t in json.loads(data[32:32 + jlen])["tensors"]:
        if t["name"] == name:
            return np.frombuffer(data[doff + t["offset"]:doff + t["offset"] + t["length"]], "<f4").reshape(t["shape"])
    raise KeyError(name)


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else float(np.array_equal(a, b))


def match(ref, got):
    """ref/got: lists of (class, score, box). Greedy, best reference first: (matched, min IoU, max |ds|, max |db|)."""
    used = [False] * len(got)
    matched, min_iou, max_ds, max_db = 0, 1.0, 0.0, 0.0
    for c, s, b in sorted(ref, key=lambda r: -r[1]):
        best, best_iou = -1, -1.0
        for k, (c2, _s2, b2) in enumerate(got):
            if not used[k] and c2 == c:
                v = iou(b, b2)
                if v > best_iou:
                    best, best_iou = k, v
        if best < 0 or best_iou < 0.999 or abs(got[best][1] - s) > 1e-4:
            continue
        used[best] = True
        matched += 1
        min_iou = min(min_iou, best_iou)
        max_ds = max(max_ds, abs(got[best][1] - s))
        max_db = max(max_db, float(np.abs(np.asarray(got[best][2]) - np.asarray(b)).max()))
    return matched, min_iou, max_ds, max_db


def detections(t, name="detection_out"):
    n = int(t[name + ":3"][0])
    return [(int(t[name + ":1"][0, i]), float(t[name + ":2"][0, i]), t[name][0, i].astype(np.float64))
            for i in range(n)]


# -- the ssd_detection_output op against OpenCV's DetectionOutput layer -------------------------------------
def caffe_detection_output(tmp, P, C, share, bg, code, keep, top_k, thr, nms, vit):
    L = 1 if share else C
    proto = """name: "t"
layer { name: "loc" type: "Input" top: "loc" input_param { shape { dim: 1 dim: %d } } }
layer { name: "conf" type: "Input" top: "conf" input_param { shape { dim: 1 dim: %d } } }
layer { name: "pri" type: "Input" top: "pri" input_param { shape { dim: 1 dim: %d dim: %d dim: 1 } } }
layer { name: "det" type: "DetectionOutput" bottom: "loc" bottom: "conf" bottom: "pri" top: "det"
  detection_output_param { num_classes: %d share_location: %s background_label_id: %d
    nms_param { nms_threshold: %.9g top_k: %d } code_type: %s keep_top_k: %d confidence_threshold: %.9g
    variance_encoded_in_target: %s } }
""" % (P * 4 * L, P * C, 1 if vit else 2, P * 4, C, str(share).lower(), bg, nms, top_k, code, keep, thr,
       str(vit).lower())
    path = os.path.join(tmp, "det.prototxt")
    with open(path, "w") as f:
        f.write(proto)
    return cv2.dnn.readNetFromCaffe(path)


def detc_detection_output(tmp, loc, conf, pri, attrs, keep):
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from detc_convert.writer import DetcWriter
    w = DetcWriter(name="det")
    w.add_activation("loc", "f32", loc.shape)
    w.add_activation("conf", "f32", conf.shape)
    w.add_constant("priors", "f32", pri.shape, pri)
    outs = ["det", "det:1", "det:2", "det:3"]
    w.add_node("det", "ssd_detection_output", ["loc", "conf", "priors"], outs, attrs)
    for o, s in zip(outs, ([1, keep, 4], [1, keep], [1, keep], [1])):
        w.add_activation(o, "f32", s)
    w.inputs, w.outputs = ["loc", "conf"], outs
    model = os.path.join(tmp, "det.detc")
    w.write(model)
    np.save(os.path.join(tmp, "loc.npy"), loc)
    np.save(os.path.join(tmp, "conf.npy"), conf)
    dump = os.path.join(tmp, "dump")
    rc, out, err = run(DETC, "run", model, "--input", "loc=" + os.path.join(tmp, "loc.npy"),
                       "--input", "conf=" + os.path.join(tmp, "conf.npy"), "--dump", dump)
    assert rc == 0, out + err
    t = load_dump(dump)
    rows = np.zeros((keep, 7), np.float32)
    rows[:, 1], rows[:, 2], rows[:, 3:] = t["det:1"][0], t["det:2"][0], t["det"][0]
    return rows, int(t["det:3"][0])


def test_detection_output_op_is_bit_exact_with_opencv_on_random_inputs():
    rng = np.random.default_rng(2024)
    tmp = tempfile.mkdtemp(dir=TMP)
    trials = exact = 0
    while trials < 80:
        P, C = int(rng.integers(5, 400)), int(rng.integers(1, 6))
        share = bool(rng.integers(0, 2))
        bg = int(rng.choice([0, -1, C - 1, C]))
        if share and bg == -1:
            continue  # Caffe and OpenCV fail on this combination; detc refuses it
        code = str(rng.choice(["CENTER_SIZE", "CORNER"]))
        keep, top_k = int(rng.choice([1, 3, 7, 50, 200])), int(rng.choice([-1, 10, 100, 1000]))
        vit = bool(rng.integers(0, 2))
        levels = int(rng.choice([3, 10, 1000000]))  # few levels: many equal scores
        loc = (rng.standard_normal((1, P * 4 * (1 if share else C))) * 0.5).astype(np.float32)
        conf = (rng.integers(0, levels, (1, P * C)) / levels).astype(np.float32)
        cx, cy, w, h = rng.random(P), rng.random(P), rng.random(P) * 0.3 + 0.05, rng.random(P) * 0.3 + 0.05
        if rng.integers(0, 2):  # a grid of equal boxes: equal IoUs too
            cx, cy, w, h = np.round(cx * 4) / 4, np.round(cy * 4) / 4, np.full(P, 0.2), np.full(P, 0.2)
        pri = np.zeros((1, 1 if vit else 2, P * 4), np.float32)
        pri[0, 0] = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).ravel()
        if not vit:
            pri[0, 1] = np.tile([0.1, 0.1, 0.2, 0.2], P)
        thr = float(np.float32(rng.choice([0.0, 0.01, 0.3])))
        nms = float(np.float32(rng.choice([0.3, 0.45, 0.7])))
        net = caffe_detection_output(tmp, P, C, share, bg, code, keep, top_k, thr, nms, vit)
        net.setInput(loc, "loc")
        net.setInput(conf, "conf")
        net.setInput(pri[..., None], "pri")
        ref = net.forward().reshape(-1, 7)
        attrs = {"num_classes": C, "share_location": share, "background_label_id": bg, "code_type": code.lower(),
                 "variance_encoded_in_target": vit, "keep_top_k": keep, "confidence_threshold": thr,
                 "nms_threshold": nms, "top_k": top_k}
        got, _count = detc_detection_output(tmp, loc, conf, pri, attrs, keep)
        ref[:, 0] = 0
        trials += 1
        if got.shape == ref.shape and np.array_equal(got.view(np.uint32), ref.view(np.uint32)):
            exact += 1
        else:
            print("  differs: P=%d C=%d share=%s bg=%d %s keep_top_k=%d top_k=%d variance_in_target=%s levels=%d"
                  % (P, C, share, bg, code, keep, top_k, vit, levels))
    print("  ssd_detection_output vs OpenCV DetectionOutput: %d of %d random cases bit-exact" % (exact, trials))
    assert exact == trials


# -- the whole model ------------------------------------------------------------------------------------------
def image_test(image):
    name = os.path.basename(image)
    cvdir, dtdir = os.path.join(TMP, "cv_" + name), os.path.join(TMP, "dt_" + name)
    mapfile = os.path.join(TMP, "map_%s.json" % name)
    rc, out, err = run(sys.executable, OPENCV_REF, PB, "--config", PBTXT, "--image", image, "--size", "300x300",
                       "--mean", "104,177,123", "--out", cvdir, "--tensors", ",".join(INTERMEDIATE + ["mbox_priorbox"]),
                       "--map", mapfile)
    assert rc == 0, out + err
    rc, out, err = run(DETC, "run", MODEL, "--input", "data=" + os.path.join(cvdir, "data.npy"), "--dump", dtdir)
    assert rc == 0, out + err
    cv, dt = load_dump(cvdir), load_dump(dtdir)
    problems = []
    ref, got = detections(cv), detections(dt)
    m, min_iou, max_ds, max_db = match(ref, got)
    above_cv = sum(1 for d in ref if d[1] > 0.5)
    above_dt = sum(1 for d in got if d[1] > 0.5)
    if len(ref) != len(got) or m != len(ref):
        problems.append("detections: OpenCV %d, detc %d, matched %d" % (len(ref), len(got), m))
    if above_cv != above_dt:
        problems.append("above 0.5: OpenCV %d, detc %d" % (above_cv, above_dt))
    stats = []
    for t in INTERMEDIATE:
        a, b = dt[t].astype(np.float64), cv[t].astype(np.float64)
        if a.shape != b.shape:
            problems.append("%s: shape %s vs OpenCV %s" % (t, a.shape, b.shape))
            continue
        scale = max(1.0, float(np.abs(b).max()))
        d = np.abs(a - b)
        stats.append("%s %.1e" % (t, d.max()))
        if d.mean() > 1e-5 * scale or d.max() > 1e-4 * scale:
            problems.append("%s: mean |diff| %.3g, max %.3g (scale %.3g)" % (t, d.mean(), d.max(), scale))
    if not np.array_equal(detc_constant(MODEL, "mbox_priorbox"), cv["mbox_priorbox"]):
        problems.append("the priors differ from OpenCV's mbox_priorbox")
    rc, out, err = run(DETC, "compare", cvdir, dtdir, "--map", mapfile, "--atol", "1e-4", "--rtol", "0",
                       "--only", ",".join(INTERMEDIATE + DET), "--detections", "--boxes", DET[0], "--classes", DET[1],
                       "--scores", DET[2], "--count", DET[3])
    if rc != 0:
        problems.append("detc compare --map exited %d: %s" % (rc, (out + err).strip().splitlines()[-1]))
    print("  %-18s OpenCV %3d detections, detc %3d, matched %3d (min IoU %.6f, max |score diff| %.1e, "
          "max |box diff| %.1e), above 0.5: %d / %d; max |diff| %s"
          % (name, len(ref), len(got), m, min_iou, max_ds, max_db, above_cv, above_dt, ", ".join(stats)))
    assert not problems, "; ".join(problems)


def test_detect_pipeline_finds_opencvs_faces_in_pixels():
    rc, out, err = run(DETC, "detect", MODEL, *IMAGES, "--json", "-", "--threshold", "0.5")
    assert rc == 0, out + err
    res = json.loads(out)
    items = res if isinstance(res, list) else res.get("images", res.get("results", []))
    by_name = {}
    for it in items:
        by_name[os.path.basename(it.get("image") or it.get("path") or it.get("file"))] = it
    d = cv2.dnn.readNetFromTensorflow(PB, PBTXT)
    total = 0
    for image in IMAGES:
        img = cv2.imread(image)
        h, w = img.shape[:2]
        d.setInput(cv2.dnn.blobFromImage(img, 1.0, (300, 300), (104, 177, 123), False, False))
        rows = d.forward().reshape(-1, 7)
        ref = [(1, float(r[2]), np.clip(r[3:7] * [w, h, w, h], 0, [w, h, w, h])) for r in rows if r[2] > 0.5]
        it = by_name[os.path.basename(image)]
        got = [(1 if x.get("label") == "face" else -1, float(x["score"]), np.asarray(x["box"], np.float64))
               for x in it.get("detections", [])]
        m, _i, _s, _b = match(ref, got)
        assert len(got) == len(ref) == m, "%s: OpenCV %d faces, detc detect %d, matched %d" % (image, len(ref), len(got), m)
        total += len(ref)
    print("  detc detect: %d faces above 0.5 over %d images, all matched to OpenCV's" % (total, len(IMAGES)))


def main():
    why = None
    if cv2 is None:
        why = "OpenCV's Python module is missing (apt-get install python3-opencv; run with /usr/bin/python3)"
    elif not (os.path.exists(PB) and os.path.exists(PBTXT)):
        why = "%s not found (the shared models live in ../shared/models)" % MODEL_DIR
    elif not IMAGES:
        why = "no images in %s" % os.path.join(SHARED, "images")
    elif not os.path.exists(DETC):
        why = "%s not found (build with make, or set DETC_BIN)" % DETC
    tests = [("test_detection_output_op_is_bit_exact_with_opencv_on_random_inputs",
              test_detection_output_op_is_bit_exact_with_opencv_on_random_inputs)]
    tests += [("test_image_%s_agrees_with_opencv" % os.path.basename(i), lambda i=i: image_test(i)) for i in IMAGES]
    tests += [("test_detect_pipeline_finds_opencvs_faces_in_pixels", test_detect_pipeline_finds_opencvs_faces_in_pixels)]
    if why:
        print("SKIP  all %d tests: %s" % (len(tests), why))
        print("0 passed, 0 failed, %d skipped" % len(tests))
        return 0
    print("OpenCV %s, detc %s" % (cv2.__version__, DETC))
    rc, out, err = run(CONVERT, "tf", PB, "--config", PBTXT, "--preset", "opencv_face_ssd_res10", "-o", MODEL)
    load_problem = None
    if rc != 0:
        load_problem = "detc-convert failed: %s" % err.strip()
    else:
        rc, out, err = run(DETC, "validate", MODEL)
        if rc != 0:
            load_problem = "detc cannot load the converted model: %s" % (out + err).strip()[:400]
    passed = failed = 0
    for name, fn in tests:
        try:
            if load_problem and name != tests[0][0]:
                raise RuntimeError(load_problem)
            fn()
            passed += 1
            print("ok    %s" % name)
        except Exception as e:  # report and go on
            failed += 1
            print("FAIL  %s: %s: %s" % (name, type(e).__name__, e))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
