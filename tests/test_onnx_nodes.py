#!/usr/bin/python3
"""detc's ops against ONNX's official node test vectors (Debian package libonnx-testdata).

Every test case of the ONNX operators detc maps (Conv, MaxPool, AveragePool, Add, Mul, Pad, Relu,
Softmax, Sigmoid, NonMaxSuppression, RoiAlign, Resize, Upsample, Concat, Reshape, Flatten, Transpose;
tools/onnx_testdata.py does the mapping and says why a case is skipped) becomes a one-node .detc model
that `detc run` evaluates on the case's inputs; the output is compared with the case's expected output
(NCHW results transposed to detc's NHWC first).

Reference: ONNX's expected outputs, computed by ONNX's numpy reference implementations.
Tolerance: |detc - onnx| <= 1e-6 + 1e-5 * |onnx| per element (float32), exact for integer outputs
(NonMaxSuppression: the selected (batch, class, box) rows and their count; nearest resizes copy values,
so any wrong index shows). That is tighter than ONNX's own backend-test default (rtol 1e-3, atol 1e-7):
the only differences are float32 summation order in convolutions and average pools and expf() in
softmax/sigmoid. Exception: RoiAlign's cases store X and Y rounded to 4 decimals (Y computed from the
unrounded X), so detc is held to |d| <= 1e-4 + 1e-6 against them, and to 1e-6 + 1e-5 |ref| against a
float64 RoiAlign computed here from the definition (roi_align_reference).

Cases are skipped (with the reason) when the operator's options have no detc equivalent (3-D
convolutions, reflect/edge padding, MaxPool's Indices output, float64 or plain uint8 arithmetic,
linear/cubic resizes, data-moving transposes, graphs of several operators). The whole suite is skipped
when the test data is not installed.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import onnx_testdata  # noqa: E402

DETC = os.environ.get("DETC_BIN", os.path.join(ROOT, "build", "detc"))
DATA = os.environ.get("ONNX_TESTDATA", onnx_testdata.DEFAULT_ROOT)
RTOL, ATOL = 1e-5, 1e-6

passed = failed = skipped = 0


def result(ok, name, msg=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL %s: %s" % (name, msg))


def roi_align_reference(X, rois, attrs, opset):
    """ONNX RoiAlign (mode avg) in float64, written from the operator's definition (the same as
    torchvision's RoIAlign): bins of roi / output size, sampling_ratio (or ceil(roi / output size))
    samples per bin side at bin-relative offsets (i + 0.5) / grid, bilinear interpolation with samples
    beyond [-1, size] counting 0 and coordinates clamped to the map, the bin value the mean. NCHW."""
    N, C, H, W = X.shape
    X = X.astype(np.float64)
    oh, ow = int(attrs.get("output_height", 1)), int(attrs.get("output_width", 1))
    sr, scale = int(attrs.get("sampling_ratio", 0)), float(attrs.get("spatial_scale", 1.0))
    aligned = attrs.get("coordinate_transformation_mode", "half_pixel" if opset >= 16 else "") == "half_pixel"
    off = 0.5 if aligned else 0.0
    out = np.zeros((len(rois), C, oh, ow))
    for r, (x0, y0, x1, y1) in enumerate(rois.astype(np.float64)):
        sx, sy = x0 * scale - off, y0 * scale - off
        rw, rh = x1 * scale - off - sx, y1 * scale - off - sy
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / oh, rw / ow
        gh = sr if sr > 0 else int(np.ceil(rh / oh))
        gw = sr if sr > 0 else int(np.ceil(rw / ow))
        for ph in range(oh):
            for pw in range(ow):
                acc = np.zeros(C)
                for iy in range(gh):
                    y = sy + ph * bh + (iy + 0.5) * bh / gh
                    for ix in range(gw):
                        x = sx + pw * bw + (ix + 0.5) * bw / gw
                        if y < -1 or y > H or x < -1 or x > W:
                            continue
                        y, x = min(max(y, 0.0), H - 1.0), min(max(x, 0.0), W - 1.0)
                        yl, xl = int(y), int(x)
                        yh, xh = min(yl + 1, H - 1), min(xl + 1, W - 1)
                        ly, lx = y - yl, x - xl
                        acc += ((1 - ly) * (1 - lx) * X[0, :, yl, xl] + (1 - ly) * lx * X[0, :, yl, xh]
                                + ly * (1 - lx) * X[0, :, yh, xl] + ly * lx * X[0, :, yh, xh])
                out[r, :, ph, pw] = acc / max(gh * gw, 1)
    return out


def extra_references(case):
    """Second references computed here, where ONNX's expected values are rounded: (output, array,
    atol, rtol, what)."""
    if case.onnx_op == "RoiAlign":
        node, values = case.onnx_node, case.onnx_values
        X, rois = values[node["inputs"][0]], values[node["inputs"][1]]
        ref = roi_align_reference(X, rois, node["attrs"], case.opset)
        return [("y", np.ascontiguousarray(np.moveaxis(ref, 1, -1)), 1e-6, 1e-5, "float64 RoiAlign")]
    return []


def run_case(case, tmp):
    model = os.path.join(tmp, case.name + ".detc")
    case.writer.write(model)
    args = [DETC, "run", model, "--dump", os.path.join(tmp, case.name + "_out"),
            "--tensors", ",".join(n for n, _ in case.expected)]
    for name, arr in case.feeds.items():
        path = os.path.join(tmp, "%s_%s.npy" % (case.name, name))
        np.save(path, arr)
        args += ["--input", "%s=%s" % (name, path)]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        return False, "detc run exited %d: %s" % (p.returncode, (p.stderr or p.stdout).strip()[-600:]), 0.0
    worst = 0.0
    checks = [(n, w) + case.tolerance.get(n, (ATOL, RTOL)) + ("ONNX's expected output",) for n, w in case.expected]
    for name, want, atol, rtol, what in checks + extra_references(case):
        got = np.load(os.path.join(tmp, case.name + "_out", name + ".npy"))
        if got.shape != want.shape:
            return False, "output shape %s, expected %s" % (list(got.shape), list(want.shape)), 0.0
        if want.dtype.kind == "f":
            g, w = got.astype(np.float64), want.astype(np.float64)
            err = np.abs(g - w)
            bad = ~(err <= atol + rtol * np.abs(w)) & ~(np.isnan(g) & np.isnan(w))
            worst = max(worst, float(np.nanmax(err / (atol + rtol * np.abs(w)))) if err.size else 0.0)
            if bad.any():
                i = np.unravel_index(np.argmax(bad), bad.shape)
                return False, "%s: %d of %d values outside tolerance, first at %s: %r vs %r" % (
                    what, int(bad.sum()), bad.size, list(i), float(g[i]), float(w[i])), worst
        elif not np.array_equal(got, want):
            return False, "%s: integer output differs in %d places" % (what, int((got != want).sum())), 0.0
    return True, "", worst


def main():
    global skipped
    if not os.path.isfile(DETC):
        print("FAIL detc binary %s not found (set DETC_BIN or run make)" % DETC)
        print("0 passed, 1 failed")
        return 1
    dirs = [d for d in onnx_testdata.case_dirs(DATA) if onnx_testdata.relevant(d)]
    if not dirs:
        print("SKIP ONNX node test data not found under %s: install libonnx-testdata "
              "(tools/install-deps.sh does)" % DATA)
        print("0 passed, 0 failed, 1 skipped")
        return 0
    by_op, skips = {}, {}
    worst_overall = (0.0, "")
    with tempfile.TemporaryDirectory(prefix="detc_onnx_") as tmp:
        for d in dirs:
            rel = os.path.relpath(d, DATA)
            try:
                cases = onnx_testdata.convert(d)
            except onnx_testdata.Skip as e:
                skipped += 1
                reason = str(e)
                group = skips.setdefault(reason.split(" (")[0], [reason, []])
                if group[0] != reason:  # the details differ: show what they have in common
                    group[0] = reason.split(" (")[0]
                group[1].append(os.path.basename(rel))
                continue
            for case in cases:
                ok, msg, worst = run_case(case, tmp)
                result(ok, rel, msg)
                stats = by_op.setdefault(case.onnx_op, [0, 0])
                stats[0 if ok else 1] += 1
                if worst > worst_overall[0]:
                    worst_overall = (worst, rel)
    for reason, names in sorted(skips.values(), key=lambda v: -len(v[1])):
        print("SKIP %d case(s), %s: %s" % (len(names), reason, ", ".join(names)))
    print("per ONNX operator (passed/failed): " + json.dumps({k: "%d/%d" % tuple(v) for k, v in sorted(by_op.items())}))
    print("largest error relative to the tolerance: %.3g (%s)" % worst_overall)
    print("test_onnx_nodes: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
