#!/usr/bin/python3
"""OpenCV DNN as a reference runner for TensorFlow models detc converts (tools/README.md has the layout).

    /usr/bin/python3 tools/opencv_ref.py MODEL.pb [--config TEXT.pbtxt]
        (--image IMAGE [--size WxH] [--mean M,M,M] [--scale S] [--swap-rb] | --input [NAME=]FILE.npy)
        --out DIR [--tensors NAME,...] [--map MAP.json] [--threads N] [--time N | --runs N] [--raw]

Runs cv2.dnn.readNetFromTensorflow(MODEL, TEXT) on one input and writes DIR/manifest.json and one .npy per
tensor, in detc's dump convention: the file name is the tensor name with every byte outside [A-Za-z0-9._-]
replaced by '_', plus '.npy'; manifest {"tensors": [{"name", "file", "dtype", "shape"}]}, the model's
outputs first, then the --tensors (OpenCV layer names; `--tensors list` prints them), then the input.

- Layout: OpenCV holds 4-D tensors as NCHW; they are written NHWC, as detc and TensorFlow hold them.
  Other ranks are written as OpenCV returns them (for this model's flattened tensors that already is
  TensorFlow's order: OpenCV permutes to NHWC before flattening).
- Input: --image prepares it with cv2.dnn.blobFromImage(image, scale, size, mean, swap_rb, crop=False), as
  OpenCV's samples do (resize to --size with INTER_LINEAR, subtract --mean, multiply by --scale; --swap-rb
  for RGB models); --input takes a .npy float32 tensor, NHWC [1,H,W,C] (or NCHW [1,C,H,W] when C is not 3
  and H is).
  Either way the tensor fed to OpenCV is also written, NHWC f32, as DIR/NAME.npy (NAME from --input, or
  --input-name, default "data"), so `detc run MODEL --input NAME=DIR/NAME.npy` gets the same input.
- A DetectionOutput layer's [1, 1, K, 7] result (image id, label, score, xmin, ymin, xmax, ymax; zero rows
  after the last detection) is written as detc's ssd_detection_output writes it: NAME [1, K, 4] boxes
  (xmin, ymin, xmax, ymax), NAME:1 [1, K] classes, NAME:2 [1, K] scores, NAME:3 [1] count. --raw also
  writes the [1, 1, K, 7] array as NAME:raw.
- --map FILE writes {"OpenCV tensor name": "detc tensor name"} for every tensor written (detc-convert
  keeps TensorFlow's node names, so the names are the same), for
  `detc compare DIR DETC_DUMP --map FILE` (A = OpenCV, B = detc).
- --time N (or --runs N): runs net.forward() N more times on the same input and prints the median, min and max in
  milliseconds (after one warm-up run); --threads N calls cv2.setNumThreads(N) first.
Exit status: 0 written; 1 OpenCV failed; 2 bad usage or input.
"""

import argparse
import json
import os
import re
import sys
import time

import numpy as np

try:
    import cv2
except ImportError:  # pragma: no cover - reported to the user
    cv2 = None


def die(msg, code=2):
    print("opencv_ref: %s" % msg, file=sys.stderr)
    sys.exit(code)


def file_name(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".npy"


def parse_list(text, what, n=None, conv=float):
    try:
        vals = [conv(v) for v in text.replace("x", ",").split(",") if v.strip()]
    except ValueError:
        die("%s %r: expected numbers separated by commas" % (what, text))
    if n is not None and len(vals) == 1:
        vals = vals * n
    if n is not None and len(vals) != n:
        die("%s %r: expected %d numbers" % (what, text, n))
    return vals


def load_input(spec, default_name):
    name, sep, path = spec.rpartition("=")
    name = name if sep else default_name
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        die("--input %s: cannot read the .npy file: %s" % (path, e))
    if arr.dtype != np.float32:
        die("--input %s: dtype %s, expected float32" % (path, arr.dtype))
    if arr.ndim != 4 or arr.shape[0] != 1:
        die("--input %s: shape %s, expected [1, H, W, C] (NHWC) or [1, C, H, W]" % (path, list(arr.shape)))
    if arr.shape[3] == 3 or arr.shape[1] != 3:
        nhwc = arr
    else:
        nhwc = arr.transpose(0, 2, 3, 1)
    return name, np.ascontiguousarray(nhwc, dtype=np.float32)


def main(argv=None):
    p = argparse.ArgumentParser(prog="opencv_ref.py", description="Run OpenCV DNN on a TensorFlow model and dump "
                                "tensors in detc's layout (see the module text).")
    p.add_argument("model", metavar="MODEL.pb")
    p.add_argument("--config", metavar="TEXT.pbtxt", help="OpenCV's text graph")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--image", help="a JPEG/PNG image, prepared with cv2.dnn.blobFromImage")
    src.add_argument("--input", metavar="[NAME=]FILE.npy", help="the input tensor, NHWC (or NCHW) float32")
    p.add_argument("--input-name", default="data", help="name of the input tensor in the dump (default data)")
    p.add_argument("--size", default="300x300", help="--image: resize to WxH (default 300x300)")
    p.add_argument("--mean", default="0", help="--image: mean subtracted per channel, in the blob's order")
    p.add_argument("--scale", type=float, default=1.0, help="--image: factor applied after the mean")
    p.add_argument("--swap-rb", action="store_true", help="--image: feed RGB (OpenCV images are BGR)")
    p.add_argument("--out", metavar="DIR", help="output directory")
    p.add_argument("--tensors", default="", help="OpenCV layer names to dump as well (or 'list')")
    p.add_argument("--map", metavar="MAP.json", help="write {OpenCV name: detc name} for detc compare --map")
    p.add_argument("--threads", type=int, help="cv2.setNumThreads(N)")
    p.add_argument("--time", "--runs", dest="time", type=int, default=0, metavar="N",
                   help="time N forward passes (--runs is the same option, named as detc bench names it)")
    p.add_argument("--raw", action="store_true", help="also write DetectionOutput's [1,1,K,7] array")
    a = p.parse_args(argv)
    if cv2 is None:
        die("OpenCV's Python module is missing: apt-get install python3-opencv (run with /usr/bin/python3)", 1)
    if a.threads is not None:
        cv2.setNumThreads(a.threads)
    try:
        net = cv2.dnn.readNetFromTensorflow(a.model, a.config) if a.config else cv2.dnn.readNetFromTensorflow(a.model)
    except cv2.error as e:
        die("OpenCV cannot read %s: %s" % (a.model, str(e).strip().splitlines()[-1]), 1)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    layers = list(net.getLayerNames())
    if a.tensors == "list":
        for ln in layers:
            lid = net.getLayerId(ln)
            print("%s\t%s" % (ln, net.getLayer(lid).type))
        return 0
    if not a.out:
        die("--out DIR is required")
    if a.image:
        img = cv2.imread(a.image, cv2.IMREAD_COLOR)
        if img is None:
            die("cannot read the image %s" % a.image)
        w, h = parse_list(a.size, "--size", 2, int)
        mean = parse_list(a.mean, "--mean", 3)
        blob = cv2.dnn.blobFromImage(img, a.scale, (w, h), tuple(mean), a.swap_rb, False)
        in_name, nhwc = a.input_name, np.ascontiguousarray(blob.transpose(0, 2, 3, 1))
    elif a.input:
        in_name, nhwc = load_input(a.input, a.input_name)
        blob = np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))
    else:
        die("give --image or --input")
    wanted = [t.strip() for t in a.tensors.split(",") if t.strip()]
    for t in wanted:
        if t not in layers:
            die("--tensors: %r is not a layer of the network (see --tensors list)" % t)
    outputs = list(net.getUnconnectedOutLayersNames())
    names = outputs + [t for t in wanted if t not in outputs]
    net.setInput(blob)
    try:
        results = net.forward(names)
    except cv2.error as e:
        die("OpenCV forward failed: %s" % str(e).strip().splitlines()[-1], 1)

    os.makedirs(a.out, exist_ok=True)
    manifest, mapping = [], {}

    def write(name, arr):
        arr = np.ascontiguousarray(arr)
        np.save(os.path.join(a.out, file_name(name)), arr)
        dt = {"float32": "f32", "int32": "i32", "uint8": "u8", "int8": "i8", "int64": "i64"}[str(arr.dtype)]
        manifest.append({"name": name, "file": file_name(name), "dtype": dt, "shape": list(arr.shape)})
        mapping[name] = name

    for name, res in zip(names, results):
        typ = net.getLayer(net.getLayerId(name)).type
        res = np.asarray(res, dtype=np.float32)
        if typ == "DetectionOutput":
            rows = res.reshape(-1, 7)
            k = rows.shape[0]
            valid = (rows[:, 1] != 0) | (rows[:, 2] != 0)
            count = k if valid.all() else int(np.argmin(valid))
            write(name, rows[:, 3:7].reshape(1, k, 4))
            write(name + ":1", rows[:, 1].reshape(1, k))
            write(name + ":2", rows[:, 2].reshape(1, k))
            write(name + ":3", np.array([count], dtype=np.float32))
            if a.raw:
                write(name + ":raw", res)
                del mapping[name + ":raw"]
        elif res.ndim == 4:
            write(name, res.transpose(0, 2, 3, 1))
        else:
            write(name, res)
    write(in_name, nhwc)
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump({"tensors": manifest}, f, indent=1)
    if a.map:
        with open(a.map, "w") as f:
            json.dump(mapping, f, indent=1)
    if a.time > 0:
        net.setInput(blob)
        net.forward()
        times = []
        for _ in range(a.time):
            net.setInput(blob)
            t0 = time.perf_counter()
            net.forward()
            times.append((time.perf_counter() - t0) * 1000.0)
        times.sort()
        print("opencv %s: %d runs, %s threads: median %.3f ms, min %.3f ms, max %.3f ms"
              % (cv2.__version__, a.time, a.threads if a.threads is not None else cv2.getNumThreads(),
                 times[len(times) // 2] if len(times) % 2 else 0.5 * (times[len(times) // 2 - 1] + times[len(times) // 2]),
                 times[0], times[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
