#!/usr/bin/python3
"""BlazeFace (MediaPipe face_detection_short_range.tflite, f32) end to end: the "blazeface" pipeline.

References and tolerances:
  1. Raw outputs vs TensorFlow Lite itself (tools/tflite_ref, built-in kernels, XNNPACK off), fed the
     same input tensor (detc's own preprocessed image, and a random tensor in [-1, 1]): regressors
     [1,896,16] and classificators [1,896,1] within |detc - tflite| <= 1e-4 * max(1, |tflite|), i.e.
     1e-4 absolute, relative for values beyond 1 (the heads reach |x| ~ 1e4 on letterbox borders,
     where one f32 ulp is already 1e-3). The differences come from f32 summation order; the measured
     maxima are printed.
  2. Detections vs a plain numpy transcription, written here, of MediaPipe's SsdAnchorsCalculator,
     TensorsToDetectionsCalculator (sigmoid with clipping at 100, min score 0.5, XYWH order, 6
     keypoints), NonMaxSuppressionCalculator WEIGHTED (IoU 0.3) and letterbox removal, applied to
     TFLite's raw outputs: same number of faces, boxes within 0.05 px, scores within 1e-4.
  3. What the photos show: astronaut.png (scikit-image's public-domain NASA portrait, used when
     Debian's python3-skimage is installed) has one face, around its known position; person.jpg's person
     stands with their back to the camera and eagle.jpg has no person, so both give no detection. (With
     the image stretched instead of letterboxed, the eagle's head scores 0.6 and would be reported;
     keep_aspect_ratio, as MediaPipe's graph does, avoids that.) A wide composite with the astronaut on
     the right checks that letterboxed boxes land back on the original image.
Needs ../shared (skips otherwise) and, for 1 and 2, node + tools/tflite_ref/node_modules
(tools/install-reference-runners.sh --no-armnn); DETC_REQUIRE_REFS=1 turns their absence into a failure.
None of the shared photos shows a face: DETC_FACE_IMAGE=FILE points the face checks at another copy of
astronaut.png (the expected position is that photo's).
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("DETC_SHARED", os.path.join(ROOT, "..", "shared"))
TFLITE = os.path.join(SHARED, "models", "blazeface_short_range", "face_detection_short_range.tflite")
IMAGES = os.path.join(SHARED, "images")
PIPELINE = os.path.join(ROOT, "models", "blazeface_pipeline.json")
ASTRONAUT = os.environ.get("DETC_FACE_IMAGE") or next(
    (p for p in ("/usr/lib/python3/dist-packages/skimage/data/astronaut.png",
                 os.path.join(ROOT, "tools", "face_photo", "astronaut.png")) if os.path.exists(p)),
    "/usr/lib/python3/dist-packages/skimage/data/astronaut.png")
DETC = os.environ.get("DETC_BIN", os.path.join(ROOT, "build", "detc"))
REQUIRE_REFS = os.environ.get("DETC_REQUIRE_REFS") == "1"
RAW_TOL = 1e-4

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
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def tflite_runner_available():
    return shutil.which("node") and os.path.isdir(os.path.join(ROOT, "tools", "tflite_ref", "node_modules"))


# ---------------------------------------------------------------------------------------------
# numpy transcription of MediaPipe's post-processing (independent of models/blazeface.c)

def ssd_anchors(a):
    """SsdAnchorsCalculator (non-multiscale): [(x_center, y_center, w, h)] in MediaPipe's order."""
    strides, n = a["strides"], len(a["strides"])
    w_in, h_in = a["input_size_width"], a["input_size_height"]

    def scale(i):
        return (a["min_scale"] + a["max_scale"]) * 0.5 if n == 1 else \
            a["min_scale"] + (a["max_scale"] - a["min_scale"]) * i / (n - 1.0)
    out, layer = [], 0
    while layer < a["num_layers"]:
        sizes, last = [], layer
        while last < n and strides[last] == strides[layer]:
            s = scale(last)
            for r in a["aspect_ratios"]:
                sizes.append((s * math.sqrt(r), s / math.sqrt(r)))
            if a.get("interpolated_scale_aspect_ratio", 1.0) > 0:
                s2 = 1.0 if last == n - 1 else scale(last + 1)
                r = a.get("interpolated_scale_aspect_ratio", 1.0)
                sizes.append((math.sqrt(s * s2) * math.sqrt(r), math.sqrt(s * s2) / math.sqrt(r)))
            last += 1
        fh, fw = math.ceil(h_in / strides[layer]), math.ceil(w_in / strides[layer])
        for y in range(fh):
            for x in range(fw):
                for (w, h) in sizes:
                    if a.get("fixed_anchor_size"):
                        w = h = 1.0
                    out.append(((x + a["anchor_offset_x"]) / fw, (y + a["anchor_offset_y"]) / fh, w, h))
        layer = last
    return np.array(out, dtype=np.float64)


def decode(reg, cls, anchors, d, min_score):
    """TensorsToDetectionsCalculator: [(xmin, ymin, xmax, ymax, score, keypoints[6, 2])]."""
    reg = reg.reshape(len(anchors), -1).astype(np.float64)
    logits = cls.reshape(len(anchors), -1).astype(np.float64)
    c = d["score_clipping_thresh"]
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -c, c)))
    best = scores.max(axis=1)
    dets = []
    for i in np.nonzero(best >= min_score)[0]:
        ax, ay, aw, ah = anchors[i]
        b = reg[i, d["box_coord_offset"]:d["box_coord_offset"] + 4]
        xc, yc, w, h = (b[0], b[1], b[2], b[3]) if d["reverse_output_order"] else (b[1], b[0], b[3], b[2])
        xc = xc / d["x_scale"] * aw + ax
        yc = yc / d["y_scale"] * ah + ay
        w, h = w / d["w_scale"] * aw, h / d["h_scale"] * ah
        if w < 0 or h < 0:
            continue
        k = reg[i, d["keypoint_coord_offset"]:d["keypoint_coord_offset"] + 2 * d["num_keypoints"]].reshape(-1, 2)
        if not d["reverse_output_order"]:
            k = k[:, ::-1]
        kp = np.stack([k[:, 0] / d["x_scale"] * aw + ax, k[:, 1] / d["y_scale"] * ah + ay], axis=1)
        dets.append((xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2, best[i], kp))
    return dets


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def weighted_nms(dets, threshold):
    """NonMaxSuppressionCalculator, algorithm WEIGHTED: each cluster (IoU > threshold with the best
    remaining box) becomes the score-weighted mean of its boxes, with the best box's score."""
    remaining = sorted(dets, key=lambda t: -t[4])
    out = []
    while remaining:
        top = remaining[0]
        cluster = [d for d in remaining if iou(d, top) > threshold]
        rest = [d for d in remaining if iou(d, top) <= threshold]
        wsum = sum(d[4] for d in cluster)
        box = [sum(d[j] * d[4] for d in cluster) / wsum for j in range(4)]
        kp = sum(d[5] * d[4] for d in cluster) / wsum
        out.append((box[0], box[1], box[2], box[3], top[4], kp))
        if len(rest) == len(remaining):
            break
        remaining = rest
    return out


def to_image(dets, W, H, size, keep_aspect):
    """Relative boxes in the model input -> original image pixels (letterbox removed), clamped."""
    if keep_aspect:
        s = min(size[0] / W, size[1] / H)
        w, h = math.floor(W * s + 0.5), math.floor(H * s + 0.5)
    else:
        w, h = size
    left, top = (size[0] - w) // 2, (size[1] - h) // 2
    out = []
    for d in dets:
        x0, x1 = [min(max((v * size[0] - left) * W / w, 0), W) for v in (d[0], d[2])]
        y0, y1 = [min(max((v * size[1] - top) * H / h, 0), H) for v in (d[1], d[3])]
        out.append((x0, y0, x1, y1, d[4]))
    return out


# ---------------------------------------------------------------------------------------------

def tflite_raw(inp, out_dir):
    r = run(["node", os.path.join(ROOT, "tools", "tflite_ref", "run.mjs"), TFLITE, "--input", "0=" + inp,
             "--out", out_dir, "--no-xnnpack"])
    if r.returncode != 0:
        return None, r.stderr.strip()[-400:]
    return {n: np.load(os.path.join(out_dir, n + ".npy")) for n in ("regressors", "classificators")}, ""


def compare_raw(label, detc_dir, ref):
    worst = worst_abs = 0.0
    for n in ("regressors", "classificators"):
        a, b = np.load(os.path.join(detc_dir, n + ".npy")), ref[n]
        if not check(a.shape == b.shape, "%s %s: shape %s vs TFLite %s" % (label, n, a.shape, b.shape)):
            continue
        d = np.abs(a.astype(np.float64) - b)
        scaled = float(np.max(d / np.maximum(1.0, np.abs(b))))
        worst = max(worst, scaled)
        small = np.abs(b) <= 1.0
        worst_abs = max(worst_abs, float(np.max(d[small])) if small.any() else 0.0)
        check(scaled <= RAW_TOL, "%s %s: max |detc - tflite| / max(1, |tflite|) = %.3g > %g" % (label, n, scaled,
                                                                                                RAW_TOL))
    print("raw outputs %-22s max |detc - tflite| / max(1, |tflite|) = %.3g (max abs where |tflite| <= 1: %.3g)"
          % (label, worst, worst_abs))


def detect(model, image):
    r = run([DETC, "detect", model, image, "--json", "-"])
    if not check(r.returncode == 0, "detc detect %s exited %d: %s" % (image, r.returncode, r.stderr.strip())):
        return None
    img = json.loads(r.stdout)["images"][0]
    return img


def compare_detections(label, got, want):
    check(len(got) == len(want), "%s: detc found %d faces, the numpy transcription of TFLite's outputs %d"
          % (label, len(got), len(want)))
    for g, w in zip(got, want):
        box_err = max(abs(a - b) for a, b in zip(g["box"], w[:4]))
        print("detection   %-22s detc %s score %.5f; transcription off by %.3g px, score by %.2g" % (
            label, [round(v, 1) for v in g["box"]], g["score"], box_err, abs(g["score"] - w[4])))
        check(box_err <= 0.05 and abs(g["score"] - w[4]) <= 1e-4,
              "%s: detc %s %.5f vs transcription %s %.5f (box off by %.3g px)" % (
                  label, [round(v, 2) for v in g["box"]], g["score"], [round(v, 2) for v in w[:4]], w[4], box_err))


def make_wide_composite(src, dst):
    """The astronaut (512x512) pasted at the right of a 640x512 grey canvas: a letterbox case with
    a known answer (about the face box shifted by 128 px; the face is smaller in the model input, so
    the regression moves a few pixels)."""
    try:
        from PIL import Image
    except ImportError:
        return False
    im = Image.open(src).convert("RGB")
    canvas = Image.new("RGB", (640, 512), (128, 128, 128))
    canvas.paste(im, (128, 0))
    canvas.save(dst)
    return True


def test_bad_pipeline(pj, tmp):
    """Load-time validation: a wrong anchor grid and a row layout that does not fit the regressors are
    both reported, each with what was expected and a fix."""
    bad = json.loads(json.dumps(pj))
    bad["anchors"]["strides"] = [8, 16, 16, 32]
    bad["decode"]["num_keypoints"] = 5
    path, model = os.path.join(tmp, "bad_pipeline.json"), os.path.join(tmp, "bad.detc")
    with open(path, "w") as f:
        json.dump(bad, f)
    r = run([sys.executable, os.path.join(ROOT, "tools", "detc-convert"), "tflite", TFLITE, "--pipeline-json", path,
             "-o", model])
    if not check(r.returncode == 0, "detc-convert with a bad pipeline: %s" % r.stderr.strip()):
        return
    r = run([DETC, "validate", model])
    out = r.stdout + r.stderr
    check(r.returncode != 0, "detc validate accepts a pipeline whose anchors do not match the model")
    check("800 anchors" in out and "896 rows" in out, "the anchor count mismatch is reported: %s" % out.strip())
    check("num_coords = 4 + 2 * num_keypoints" in out, "the keypoint layout mismatch is reported: %s" % out.strip())


def detc_header(model):
    """The JSON header of a .detc file (weights/FORMAT.md: u32 json_length at byte 12, JSON from byte 32)."""
    with open(model, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[12:16], "little")
    return json.loads(raw[32:32 + n].decode("utf-8"))


def test_pipeline_labels(pj, tmp):
    """The pipeline file names the class ("labels"); the converter writes it as the model's labels, does
    not leave it in the pipeline, lets --labels override it, and refuses a malformed list."""
    check(pj.get("labels") == ["face"], "models/blazeface_pipeline.json names its class: %r" % pj.get("labels"))
    model = os.path.join(tmp, "from_pipeline.detc")
    r = run([sys.executable, os.path.join(ROOT, "tools", "detc-convert"), "tflite", TFLITE, "--pipeline-json",
             PIPELINE, "-o", model])
    if check(r.returncode == 0, "detc-convert without --labels: %s" % r.stderr.strip()):
        h = detc_header(model)
        check(h.get("labels") == ["face"] and "labels" not in h.get("pipeline", {}),
              "labels from the pipeline file: %r (pipeline keys %s)" % (h.get("labels"), sorted(h.get("pipeline", {}))))
    other = os.path.join(tmp, "other_labels.txt")
    with open(other, "w") as f:
        f.write("person_face\n")
    r = run([sys.executable, os.path.join(ROOT, "tools", "detc-convert"), "tflite", TFLITE, "--pipeline-json",
             PIPELINE, "--labels", other, "-o", model])
    check(r.returncode == 0 and detc_header(model).get("labels") == ["person_face"],
          "--labels overrides the pipeline file's labels")
    bad = dict(pj, labels="face")
    path = os.path.join(tmp, "bad_labels.json")
    with open(path, "w") as f:
        json.dump(bad, f)
    r = run([sys.executable, os.path.join(ROOT, "tools", "detc-convert"), "tflite", TFLITE, "--pipeline-json", path,
             "-o", model])
    check(r.returncode == 1 and '"labels" must be a list of strings' in r.stderr and "Traceback" not in r.stderr,
          "a labels value that is not a list of strings is refused: %s" % r.stderr.strip())
    # without any labels, detect names the class by its number (and JSON gives label null)
    unlabeled = dict(pj)
    del unlabeled["labels"]
    with open(path, "w") as f:
        json.dump(unlabeled, f)
    r = run([sys.executable, os.path.join(ROOT, "tools", "detc-convert"), "tflite", TFLITE, "--pipeline-json", path,
             "-o", model])
    photo = os.path.join(IMAGES, "person.jpg")
    if check(r.returncode == 0, "detc-convert without labels: %s" % r.stderr.strip()) and os.path.isfile(photo):
        r = run([DETC, "detect", model, photo, "--threshold", "0", "--json", os.path.join(tmp, "unlabeled.json")])
        with open(os.path.join(tmp, "unlabeled.json")) as f:
            dets = json.load(f)["images"][0]["detections"]
        lines = [l for l in r.stdout.splitlines() if l.startswith("  ")]
        check(r.returncode == 0 and dets and len(lines) == len(dets) and
              all(l.split()[:2] == ["class", "0"] for l in lines) and all(d["label"] is None for d in dets),
              "unlabeled detections print as 'class 0', JSON label null: %r" % lines[:2])


def main():
    if not os.path.isfile(TFLITE):
        skip("BlazeFace model not found at %s (../shared is absent)" % TFLITE)
        print("test_blazeface: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
        return 0
    with open(PIPELINE) as f:
        pj = json.load(f)
    size = (pj["input"]["width"], pj["input"]["height"])
    keep = bool(pj.get("keep_aspect_ratio"))
    anchors = ssd_anchors(pj["anchors"])
    check(len(anchors) == 896, "numpy anchors: %d, expected 896" % len(anchors))
    have_ref = tflite_runner_available()
    if not have_ref:
        (check(False, "TFLite reference runner required (DETC_REQUIRE_REFS=1) but not installed") if REQUIRE_REFS
         else skip("TFLite reference runner not installed (tools/install-reference-runners.sh --no-armnn): raw "
                   "outputs and the transcription cross-check are not run"))

    with tempfile.TemporaryDirectory(prefix="detc_blazeface_") as tmp:
        model = os.path.join(tmp, "blazeface.detc")
        r = run([sys.executable, os.path.join(ROOT, "tools", "detc-convert"), "tflite", TFLITE, "--pipeline-json",
                 PIPELINE, "-o", model])
        if not check(r.returncode == 0, "detc-convert failed: %s" % r.stderr.strip()):
            print("test_blazeface: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
            return 1
        r = run([DETC, "validate", model])
        check(r.returncode == 0, "detc validate: %s" % (r.stdout + r.stderr).strip())
        test_bad_pipeline(pj, tmp)
        test_pipeline_labels(pj, tmp)

        # 1. raw outputs on a random tensor
        if have_ref:
            rnd = os.path.join(tmp, "random.npy")
            np.save(rnd, np.random.default_rng(7).uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32))
            d = os.path.join(tmp, "random_detc")
            r = run([DETC, "run", model, "--input", "input=" + rnd, "--dump", d, "--tensors",
                     "regressors,classificators"])
            ref, err = tflite_raw(rnd, os.path.join(tmp, "random_tfl"))
            if check(r.returncode == 0 and ref is not None, "random input: detc %s / tflite %s" % (r.stderr, err)):
                compare_raw("random input", d, ref)

        images = [os.path.join(IMAGES, "person.jpg"), os.path.join(IMAGES, "eagle.jpg")]
        expect_faces = {"person.jpg": 0, "eagle.jpg": 0}
        if os.path.isfile(ASTRONAUT):
            images.append(ASTRONAUT)
            expect_faces[os.path.basename(ASTRONAUT)] = 1
            wide = os.path.join(tmp, "astronaut_wide.png")
            if make_wide_composite(ASTRONAUT, wide):
                images.append(wide)
                expect_faces["astronaut_wide.png"] = 1
            else:
                skip("python3-pil is not installed: the letterboxed composite is not checked")
        else:
            skip("%s not found (Debian python3-skimage): no photo with a visible face; only the no-face photos "
                 "are checked" % ASTRONAUT)

        found = {}
        for image in images:
            name = os.path.basename(image)
            if not os.path.isfile(image):
                skip("%s not found" % image)
                continue
            res = detect(model, image)
            if res is None:
                continue
            found[name] = res["detections"]
            check(len(res["detections"]) == expect_faces[name],
                  "%s: %d faces detected, expected %d: %s" % (name, len(res["detections"]), expect_faces[name],
                                                             [(d["score"], d["box"]) for d in res["detections"]]))
            if not have_ref:
                continue
            # 1 and 2: the same preprocessed tensor through TFLite, decoded by the transcription
            d = os.path.join(tmp, name + "_detc")
            r = run([DETC, "run", model, "--image", image, "--dump", d, "--tensors",
                     "input,regressors,classificators"])
            if not check(r.returncode == 0, "detc run --image %s: %s" % (name, r.stderr.strip())):
                continue
            x = np.load(os.path.join(d, "input.npy"))
            if keep and res["width"] != res["height"]:
                # letterbox border rows/columns hold pixel value 0, i.e. -1 after (p - 127.5) / 127.5
                border = x[0, 0] if res["width"] > res["height"] else x[0, :, 0]
                check(np.all(border == -1.0), "%s: letterbox border is not -1: %s" % (name, border[:3]))
            ref, err = tflite_raw(os.path.join(d, "input.npy"), os.path.join(tmp, name + "_tfl"))
            if not check(ref is not None, "%s: TFLite runner failed: %s" % (name, err)):
                continue
            compare_raw(name, d, ref)
            want = weighted_nms(decode(ref["regressors"], ref["classificators"], anchors, pj["decode"],
                                       pj["decode"]["min_score_thresh"]), pj["nms"]["min_suppression_threshold"])
            want = to_image(want, res["width"], res["height"], size, keep)
            compare_detections(name, res["detections"], want)

        if found.get(os.path.basename(ASTRONAUT)) and found.get("astronaut_wide.png"):
            a, w = found[os.path.basename(ASTRONAUT)][0], found["astronaut_wide.png"][0]
            cx, cy = (a["box"][0] + a["box"][2]) / 2, (a["box"][1] + a["box"][3]) / 2
            check(180 < cx < 270 and 80 < cy < 175, "astronaut face centre (%.0f, %.0f) is not on her face" % (cx, cy))
            shifted = [w["box"][0] - 128, w["box"][1], w["box"][2] - 128, w["box"][3]]
            err = max(abs(p - q) for p, q in zip(shifted, a["box"]))
            check(err < 8, "wide composite: face box %s, expected the astronaut's %s shifted by 128 px (off by %.1f)"
                  % ([round(v, 1) for v in w["box"]], [round(v, 1) for v in a["box"]], err))

    print("test_blazeface: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
