#!/usr/bin/python3
"""Tests of tools/detc-convert's TFLite front end.

Run: /usr/bin/python3 tests/test_convert_tflite.py   (prints "N passed, M failed" last)

The .detc files it produces are read back with a small reader written here, independently of
tools/detc_convert (weights/FORMAT.md is the reference), and compared with the source .tflite
read by an equally small, independent flatbuffer reader: every constant's bytes must equal the
TFLite buffer's bytes, every tensor's dtype, shape and quantization must match. Models come from
../shared/models (relative to the repository root); tests that need them are skipped, saying so,
when they are absent.
"""

import json
import os
import struct
import subprocess
import sys
from collections import Counter

import numpy as np
from scratch import scratch_dir  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "models")
CONVERT = os.path.join(ROOT, "tools", "detc-convert")
SSD = os.path.join(SHARED, "ssd_mobilenet_v1_coco_quant", "detect.tflite")
SSD_LABELS = os.path.join(SHARED, "ssd_mobilenet_v1_coco_quant", "labelmap.txt")
BLAZEFACE = os.path.join(SHARED, "blazeface_short_range", "face_detection_short_range.tflite")
TMP = scratch_dir("detc_convert_test_")

DTYPE_SIZE = {"f32": 4, "f16": 2, "i8": 1, "u8": 1, "i16": 2, "i32": 4, "i64": 8, "f64": 8, "bool": 1}
NP_DTYPE = {"f32": "<f4", "f16": "<f2", "i8": "i1", "u8": "u1", "i16": "<i2", "i32": "<i4", "i64": "<i8"}
TFL_DTYPE = {0: "f32", 1: "f16", 2: "i32", 3: "u8", 4: "i64", 6: "bool", 7: "i16", 9: "i8", 10: "f64"}


# -- an independent .detc reader (weights/FORMAT.md §1-§4) ---------------------------------------
def read_detc(path):
    data = open(path, "rb").read()
    assert len(data) >= 32, "file shorter than the 32-byte header"
    magic, version, json_len, data_off, data_len = struct.unpack_from("<8sIIQQ", data, 0)
    assert magic == b"DETCMODL", magic
    assert version == 1, version
    assert 1 <= json_len <= 64 << 20
    assert data_off % 64 == 0 and data_off >= 32 + json_len, (data_off, json_len)
    assert data_off + data_len == len(data), (data_off, data_len, len(data))
    assert data[32 + json_len:data_off] == bytes(data_off - 32 - json_len), "padding is not zero"
    j = json.loads(data[32:32 + json_len].decode("utf-8"))
    for k in ("format", "version", "inputs", "outputs", "tensors", "nodes"):
        assert k in j, "missing " + k
    assert j["format"] == "detc" and j["version"] == version
    section = data[data_off:]
    tensors, spans = {}, []
    for t in j["tensors"]:
        assert 1 <= len(t["name"].encode("utf-8")) <= 255
        assert t["name"] not in tensors, "duplicate " + t["name"]
        assert t["dtype"] in DTYPE_SIZE, t["dtype"]
        tensors[t["name"]] = t
        if "offset" in t:
            n = 1
            for d in t["shape"]:
                assert 1 <= d <= 2**31 - 1
                n *= d
            assert t["offset"] % 64 == 0
            assert t["length"] == n * DTYPE_SIZE[t["dtype"]], t["name"]
            assert t["offset"] + t["length"] <= data_len
            spans.append((t["offset"], t["offset"] + t["length"]))
            t["_bytes"] = section[t["offset"]:t["offset"] + t["length"]]
        if "quant" in t:
            q = t["quant"]
            assert len(q["scale"]) == len(q["zero_point"]) >= 1
            assert all(s > 0 for s in q["scale"])
            if q["axis"] == -1:
                assert len(q["scale"]) == 1
            else:
                assert len(q["scale"]) == t["shape"][q["axis"]]
    spans.sort()
    for a, b in zip(spans, spans[1:]):
        assert b[0] >= a[1], "constants overlap"
    produced = Counter(o for n in j["nodes"] for o in n["outputs"])
    for n in j["nodes"]:
        for i in n["inputs"]:
            assert i == "" or i in tensors, "node %s: unknown input %s" % (n["name"], i)
    for name, c in produced.items():
        assert c == 1 and name in tensors and "offset" not in tensors[name], name
    for name in j["inputs"] + j["outputs"]:
        assert name in tensors, name
    return j, tensors


# -- an independent, minimal TFLite flatbuffer reader (known-good files only) -------------------
class TFL:
    def __init__(self, path):
        self.b = open(path, "rb").read()
        assert self.b[4:8] == b"TFL3"
        root = self.u32(0)
        self.buffers = [self.vec_bytes(self.field(b, 0)) for b in self.vec_tables(self.field(root, 4))]
        sg = self.vec_tables(self.field(root, 2))[0]
        self.tensors = []
        for t in self.vec_tables(self.field(sg, 0)):
            qt = self.field(t, 4)
            quant = None
            if qt is not None:
                scale = self.vec_scalars(self.field(qt, 2), "f")
                zp = self.vec_scalars(self.field(qt, 3), "q")
                qdim = self.scalar(qt, 6, "i", 0)
                if scale:
                    quant = (scale, zp, qdim)
            self.tensors.append({
                "shape": self.vec_scalars(self.field(t, 0), "i"),
                "type": self.scalar(t, 1, "b", 0),
                "buffer": self.scalar(t, 2, "I", 0),
                "name": self.vec_bytes(self.field(t, 3)).decode(),
                "quant": quant,
            })
        self.inputs = self.vec_scalars(self.field(sg, 1), "i")
        self.outputs = self.vec_scalars(self.field(sg, 2), "i")
        codes = []
        for oc in self.vec_tables(self.field(root, 1)):
            codes.append(max(self.scalar(oc, 0, "b", 0), self.scalar(oc, 3, "i", 0)))
        ops = self.vec_tables(self.field(sg, 3))
        self.op_codes = [codes[self.scalar(o, 0, "I", 0)] for o in ops]
        # (start, length) of each operator's custom_options bytes, or None
        self.custom_options = []
        for o in ops:
            v = self.field(o, 5)
            self.custom_options.append(None if v is None else (v + 4, self.u32(v)))
        self.opcode_tables = self.vec_tables(self.field(root, 1))

    def u32(self, p):
        return struct.unpack_from("<I", self.b, p)[0]

    def slot(self, t, fid):
        vt = t - struct.unpack_from("<i", self.b, t)[0]
        vsize = struct.unpack_from("<H", self.b, vt)[0]
        if 4 + 2 * fid >= vsize:
            return None
        off = struct.unpack_from("<H", self.b, vt + 4 + 2 * fid)[0]
        return t + off if off else None

    def field(self, t, fid):
        p = self.slot(t, fid)
        return None if p is None else p + self.u32(p)

    def scalar(self, t, fid, fmt, default):
        p = self.slot(t, fid)
        return default if p is None else struct.unpack_from("<" + fmt, self.b, p)[0]

    def vec_tables(self, v):
        if v is None:
            return []
        return [v + 4 + 4 * i + self.u32(v + 4 + 4 * i) for i in range(self.u32(v))]

    def vec_scalars(self, v, fmt):
        if v is None:
            return []
        n = self.u32(v)
        return list(struct.unpack_from("<%d%s" % (n, fmt), self.b, v + 4))

    def vec_bytes(self, v):
        if v is None:
            return b""
        return self.b[v + 4:v + 4 + self.u32(v)]

    def tensor(self, name):
        for t in self.tensors:
            if t["name"] == name:
                return t
        raise KeyError(name)

    def data(self, t):
        return self.buffers[t["buffer"]] if t["buffer"] < len(self.buffers) else b""


# -- helpers ------------------------------------------------------------------------------------
def run(*args):
    p = subprocess.run([CONVERT] + [str(a) for a in args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def convert(src, out, *extra):
    rc, _o, err = run("tflite", src, "-o", out, *extra)
    assert rc == 0, "conversion failed (%d): %s" % (rc, err)
    return read_detc(out)


def expect_clean_failure(args, must_contain=()):
    rc, out, err = run(*args)
    assert rc == 1, "expected exit 1, got %d; stderr: %s" % (rc, err)
    assert "Traceback" not in err and "Traceback" not in out, err
    assert err.startswith("detc-convert: error:"), err
    for s in must_contain:
        assert s in err, "%r not in stderr: %s" % (s, err)
    return err


def check_tensors_match(j, tensors, tfl, dequantized=False):
    """Every detc tensor is a TFLite tensor of the same name, dtype, shape, quant and bytes."""
    for name, t in tensors.items():
        src = tfl.tensor(name)
        sdt = TFL_DTYPE[src["type"]]
        raw = tfl.data(src)
        if "offset" in t:
            assert raw, "%s is a constant in .detc but has no TFLite data" % name
            assert t["shape"] == src["shape"], name
        else:
            assert not raw, "%s has TFLite data but is not a constant" % name
            if src["shape"]:
                assert t.get("shape") == src["shape"], name
        if dequantized and src["quant"]:
            assert t["dtype"] == "f32" and "quant" not in t, name
            if raw:
                scale, zp, qdim = src["quant"]
                v = np.frombuffer(raw, NP_DTYPE[sdt]).astype(np.float64).reshape(src["shape"])
                s = np.asarray(scale, np.float64)
                z = np.asarray(zp or [0] * len(scale), np.float64)
                if len(scale) > 1:
                    shp = [1] * v.ndim
                    shp[qdim] = -1
                    s, z = s.reshape(shp), z.reshape(shp)
                want = ((v - z) * s).astype("<f4")
                got = np.frombuffer(t["_bytes"], "<f4").reshape(src["shape"])
                assert np.array_equal(got, want), name
            continue
        assert t["dtype"] == sdt, (name, t["dtype"], sdt)
        if raw:
            assert t["_bytes"] == raw, "bytes of %s differ" % name
        if src["quant"]:
            scale, zp, qdim = src["quant"]
            q = t["quant"]
            assert [np.float32(s) for s in q["scale"]] == [np.float32(s) for s in scale], name
            assert q["zero_point"] == (zp or [0] * len(scale)), name
            assert q["axis"] == (-1 if len(scale) == 1 else qdim), name
        else:
            assert "quant" not in t, name
    for k, key in (("inputs", "inputs"), ("outputs", "outputs")):
        assert j[k] == [tfl.tensors[i]["name"] for i in getattr(tfl, key)], k


# -- tests --------------------------------------------------------------------------------------
NEEDS_MODELS = set()


def needs_models(fn):
    NEEDS_MODELS.add(fn.__name__)
    return fn


@needs_models
def test_ssd_converts_with_exact_constants_and_quantization():
    out = os.path.join(TMP, "ssd.detc")
    j, tensors = convert(SSD, out, "--labels", SSD_LABELS, "--name", "ssd_mobilenet_v1_coco_quant")
    tfl = TFL(SSD)
    check_tensors_match(j, tensors, tfl)
    ops = Counter(n["op"] for n in j["nodes"])
    assert len(j["nodes"]) == 64 and len(ops) == 6, ops
    assert ops == {"conv2d": 34, "depthwise_conv2d": 13, "reshape": 13, "concat": 2, "logistic": 1,
                   "detection_postprocess": 1}, ops
    # 13 RESHAPE shape operands became attributes: 176 TFLite tensors -> 163.
    assert len(tensors) == 163, len(tensors)
    assert j["name"] == "ssd_mobilenet_v1_coco_quant" and j["producer"] == "detc-convert tflite 1"
    assert len(j["labels"]) == 91 and j["labels"][0] == "???" and j["labels"][1] == "person"
    assert j["labels"][-1] == "toothbrush"


@needs_models
def test_ssd_attributes_pipeline_and_postprocess_options():
    j, tensors = read_detc(os.path.join(TMP, "ssd.detc"))
    nodes = {n["name"]: n for n in j["nodes"]}
    pp = nodes["TFLite_Detection_PostProcess"]
    assert pp["inputs"] == ["Squeeze", "convert_scores", "anchors"]
    assert pp["outputs"] == ["TFLite_Detection_PostProcess", "TFLite_Detection_PostProcess:1",
                             "TFLite_Detection_PostProcess:2", "TFLite_Detection_PostProcess:3"]
    a = pp["attrs"]
    assert (a["max_detections"], a["max_classes_per_detection"], a["num_classes"]) == (10, 1, 90)
    assert a["detections_per_class"] == 100 and a["use_regular_nms"] is False
    assert (a["y_scale"], a["x_scale"], a["h_scale"], a["w_scale"]) == (10, 10, 5, 5)
    assert np.float32(a["nms_iou_threshold"]) == np.float32(0.6)
    assert np.float32(a["nms_score_threshold"]) == np.float32(1e-8)
    assert tensors["anchors"]["dtype"] == "u8" and tensors["anchors"]["shape"] == [1917, 4]
    conv0 = nodes["FeatureExtractor/MobilenetV1/MobilenetV1/Conv2d_0/Relu6"]
    assert conv0["op"] == "conv2d" and conv0["attrs"]["stride"] == [2, 2]
    assert conv0["attrs"]["padding"] == "same" and conv0["attrs"]["activation"] == "none"
    assert nodes["Squeeze"]["op"] == "reshape" and nodes["Squeeze"]["attrs"]["shape"] == [1, 1917, 4]
    assert nodes["Squeeze"]["inputs"] == ["concat"]  # the shape operand is an attribute
    assert nodes["concat_1"]["attrs"]["axis"] == 1 and len(nodes["concat_1"]["inputs"]) == 6
    dw = [n for n in j["nodes"] if n["op"] == "depthwise_conv2d"]
    assert all(n["attrs"]["depth_multiplier"] == 1 for n in dw)
    acts = Counter(n["attrs"].get("activation") for n in j["nodes"] if n["op"] == "conv2d")
    assert acts == {"none": 26, "relu6": 8}, acts
    p = j["pipeline"]
    assert p["kind"] == "ssd"
    assert (p["input"]["width"], p["input"]["height"], p["input"]["color"]) == (300, 300, "rgb")
    # u8 input with scale 1/128, zero point 128: mean 128 / std 128 feeds pixel bytes unchanged.
    assert p["input"]["mean"] == [128, 128, 128] and p["input"]["std"] == [128, 128, 128]
    q = tensors["normalized_input_image_tensor"]["quant"]
    for pix in range(256):
        x = (pix - p["input"]["mean"][0]) / p["input"]["std"][0]
        assert min(255, max(0, round(x / q["scale"][0]) + q["zero_point"][0])) == pix
    o = p["outputs"]
    assert (o["boxes"], o["count"], o["box_order"], o["class_offset"]) == (
        "TFLite_Detection_PostProcess", "TFLite_Detection_PostProcess:3", "yxyx", 1)
    # Postprocess outputs have no shape in the TFLite file: written without one.
    assert "shape" not in tensors["TFLite_Detection_PostProcess"]


@needs_models
def test_ssd_dequantize_gives_all_float_model():
    j, tensors = convert(SSD, os.path.join(TMP, "ssd_f32.detc"), "--dequantize")
    tfl = TFL(SSD)
    check_tensors_match(j, tensors, tfl, dequantized=True)
    assert all(t["dtype"] == "f32" and "quant" not in t for t in tensors.values())
    nodes = {n["name"]: n for n in j["nodes"]}
    assert len(nodes) == 64
    # TOCO left ReLU6 folded into the [0, 6] output range; the float graph clamps explicitly.
    for n in j["nodes"]:
        if n["name"].endswith("/Relu6"):
            assert n["attrs"]["activation"] == "relu6", n["name"]
        if "BoxPredictor" in n["name"] and n["op"] == "conv2d":
            assert n["attrs"]["activation"] == "none", n["name"]
    assert j["pipeline"]["input"]["mean"] == [128, 128, 128]


@needs_models
def test_blazeface_converts_fp16_weights_kept_as_f16():
    out = os.path.join(TMP, "blazeface.detc")
    rc, _o, err = run("tflite", BLAZEFACE, "-o", out)
    assert rc == 0, err
    assert "no pipeline written" in err, err
    j, tensors = read_detc(out)
    tfl = TFL(BLAZEFACE)
    check_tensors_match(j, tensors, tfl)
    assert "pipeline" not in j
    ops = Counter(n["op"] for n in j["nodes"])
    assert ops == {"cast": 74, "conv2d": 21, "relu": 17, "depthwise_conv2d": 16, "add": 16, "pad": 11,
                   "reshape": 4, "max_pool2d": 3, "concat": 2}, ops
    f16 = [t for t in tensors.values() if t["dtype"] == "f16"]
    assert len(f16) == 74 and all("offset" in t for t in f16)
    for n in j["nodes"]:
        if n["op"] == "cast":
            assert n["attrs"] == {"to": "f32"} and tensors[n["inputs"][0]]["dtype"] == "f16"
    nodes = {n["name"]: n for n in j["nodes"]}
    pad = nodes["channel_padding"]
    assert pad["inputs"] == ["activation_1"] and pad["attrs"]["pads"] == [[0, 0], [0, 0], [0, 0], [0, 4]]
    assert "channel_padding/Paddings" not in tensors
    mp = nodes["max_pooling2d"]["attrs"]
    assert mp["kernel"] == [2, 2] and mp["stride"] == [2, 2] and mp["padding"] == "same"
    assert nodes["reshape_1"]["attrs"]["shape"] == [1, 512, 16]
    assert j["inputs"] == ["input"] and j["outputs"] == ["regressors", "classificators"]


@needs_models
def test_pipeline_json_overrides_and_labels():
    pj = os.path.join(TMP, "pipe.json")
    with open(pj, "w") as f:
        json.dump({"kind": "blazeface", "input": {"width": 128, "height": 128}}, f)
    lab = os.path.join(TMP, "labels.txt")
    with open(lab, "w") as f:
        f.write("face\n\n")
    j, _t = convert(BLAZEFACE, os.path.join(TMP, "bf2.detc"), "--pipeline-json", pj, "--labels", lab,
                    "--name", "blazeface")
    assert j["pipeline"] == {"kind": "blazeface", "input": {"width": 128, "height": 128}}
    assert j["labels"] == ["face"] and j["name"] == "blazeface"
    with open(pj, "w") as f:
        f.write("[1, 2")
    expect_clean_failure(["tflite", BLAZEFACE, "-o", os.path.join(TMP, "x.detc"), "--pipeline-json", pj],
                         ["invalid JSON"])


@needs_models
def test_truncated_tflite_is_a_clean_error():
    data = open(SSD, "rb").read()
    # (Cutting only the last few bytes can leave a valid file: TOCO leaves unreferenced bytes there.)
    for cut in (0, 3, 7, 64, 4096, len(data) // 2, len(data) - 20):
        bad = os.path.join(TMP, "trunc.tflite")
        with open(bad, "wb") as f:
            f.write(data[:cut])
        err = expect_clean_failure(["tflite", bad, "-o", os.path.join(TMP, "x.detc")])
        assert "not a readable TFLite model" in err, err
        assert not os.path.exists(os.path.join(TMP, "x.detc"))


@needs_models
def test_bad_magic_is_a_clean_error():
    data = bytearray(open(SSD, "rb").read())
    data[4:8] = b"TFL2"
    bad = os.path.join(TMP, "magic.tflite")
    open(bad, "wb").write(data)
    expect_clean_failure(["tflite", bad, "-o", os.path.join(TMP, "x.detc")],
                         ["file identifier", "at byte offset 4"])


@needs_models
def test_out_of_range_offsets_are_clean_errors():
    data = open(SSD, "rb").read()
    tfl = TFL(SSD)
    bad = os.path.join(TMP, "offsets.tflite")
    # 1. the root offset
    b = bytearray(data)
    b[0:4] = struct.pack("<I", len(data) + 100)
    open(bad, "wb").write(b)
    expect_clean_failure(["tflite", bad, "-o", os.path.join(TMP, "x.detc")], ["root", "byte offset 0"])
    # 2. the Model.subgraphs offset field
    root = tfl.u32(0)
    p = tfl.slot(root, 2)
    b = bytearray(data)
    b[p:p + 4] = struct.pack("<I", 0x7FFFFFF0)
    open(bad, "wb").write(b)
    expect_clean_failure(["tflite", bad, "-o", os.path.join(TMP, "x.detc")],
                         ["Model.subgraphs", "byte offset %d" % p])
    # 3. a vector length far beyond the file (the buffers vector)
    v = tfl.field(root, 4)
    b = bytearray(data)
    b[v:v + 4] = struct.pack("<I", 0x10000000)
    open(bad, "wb").write(b)
    expect_clean_failure(["tflite", bad, "-o", os.path.join(TMP, "x.detc")], ["Model.buffers", "vector"])
    # 4. a table's vtable offset pointing before the start of the file
    b = bytearray(data)
    b[root:root + 4] = struct.pack("<i", root + 1000)
    open(bad, "wb").write(b)
    expect_clean_failure(["tflite", bad, "-o", os.path.join(TMP, "x.detc")], ["vtable"])


@needs_models
def test_corrupted_bytes_never_crash():
    data = open(SSD, "rb").read()
    rng = np.random.RandomState(1234)
    bad = os.path.join(TMP, "fuzz.tflite")
    # Damage the flatbuffer's tables (they sit after the big weight buffers in TOCO files).
    for _ in range(12):
        b = bytearray(data)
        for pos in rng.randint(len(data) - 40000, len(data), size=8):
            b[pos] = rng.randint(256)
        open(bad, "wb").write(b)
        rc, out, err = run("tflite", bad, "-o", os.path.join(TMP, "fuzz.detc"))
        assert rc in (0, 1), "exit %d: %s" % (rc, err)
        assert "Traceback" not in err + out, err


@needs_models
def test_unsupported_ops_are_listed_with_counts():
    tfl = TFL(SSD)
    data = bytearray(open(SSD, "rb").read())
    # Turn the LOGISTIC operator code (14) into LOG_SOFTMAX (50) and RESHAPE (22) into EXP (47).
    for oc in tfl.opcode_tables:
        p = tfl.slot(oc, 0)
        if p is not None and data[p] == 14:
            data[p] = 50
        elif p is not None and data[p] == 22:
            data[p] = 47
    bad = os.path.join(TMP, "unsupported.tflite")
    open(bad, "wb").write(data)
    expect_clean_failure(["tflite", bad, "-o", os.path.join(TMP, "x.detc")],
                         ["unsupported TFLite operators", "LOG_SOFTMAX x1", "EXP x13"])


@needs_models
def test_damaged_postprocess_options_are_clean_errors():
    tfl = TFL(SSD)
    data = open(SSD, "rb").read()
    start, n = [c for c in tfl.custom_options if c is not None][0]
    flex = data[start:start + n]
    assert b"max_detections" in flex
    bad = os.path.join(TMP, "flex.tflite")
    # A renamed key: the option reads as 0, as TFLite's kernel reads an absent key; the unknown key is
    # noted (TFLite ignores it); load-time validation refuses max_detections 0 and says why.
    k = start + flex.index(b"max_detections")
    b = bytearray(data)
    b[k:k + 14] = b"max_detectionz"
    open(bad, "wb").write(b)
    out = os.path.join(TMP, "renamed_key.detc")
    rc, _o, err = run("tflite", bad, "-o", out)
    assert rc == 0, err
    assert "'max_detectionz'" in err and "not read by TFLite" in err, err
    j, _t = read_detc(out)
    assert j["nodes"][-1]["attrs"]["max_detections"] == 0
    detc = os.environ.get("DETC_BIN", os.path.join(ROOT, "build", "detc"))
    if os.path.exists(detc):
        p = subprocess.run([detc, "validate", out], capture_output=True, text=True, timeout=60)
        assert p.returncode == 1 and "'max_detections' is 0" in p.stderr, p.stderr
    # The root's byte width (the FlexBuffer's last byte) made invalid.
    b = bytearray(data)
    b[start + n - 1] = 3
    open(bad, "wb").write(b)
    expect_clean_failure(["tflite", bad, "-o", os.path.join(TMP, "x.detc")],
                         ["FlexBuffer at file offset %d" % start, "root byte width 3"])
    # The root map's offset pointing before the start of the FlexBuffer.
    b = bytearray(data)
    width = b[start + n - 1]
    b[start + n - 2 - width:start + n - 2] = (0xFF).to_bytes(1, "little") * width
    open(bad, "wb").write(b)
    expect_clean_failure(["tflite", bad, "-o", os.path.join(TMP, "x.detc")], ["points outside the buffer"])


def test_missing_source_is_a_clean_error():
    expect_clean_failure(["tflite", os.path.join(TMP, "does-not-exist.tflite"), "-o", os.path.join(TMP, "x.detc")],
                         ["does-not-exist.tflite"])


def test_other_formats_and_help():
    # tf and torchvision are converters of their own (tests/test_convert_tf.py, test_convert_torchvision.py);
    # here only that a missing input file is a clear error, not a traceback
    for fmt in ("tf", "torchvision"):
        rc, _o, err = run(fmt, os.path.join(TMP, "no-such-model"), "-o", os.path.join(TMP, "x.detc"))
        assert rc != 0 and "Traceback" not in err and ("no-such-model" in err or "--config" in err), err
    rc, out, _e = run("--help")
    assert rc == 0 and "FORMAT" in out and "--dequantize" in out and "--pipeline-json" in out
    rc, _o, err = run("onnx", "m", "-o", "x")
    assert rc == 2 and "invalid choice" in err


def test_writer_can_write_broken_files_on_purpose():
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from detc_convert.writer import DetcWriter
    w = DetcWriter(name="t")
    w.add_activation("x", "f32", [1, 4])
    w.add_constant("k", "f32", [1, 4], np.arange(4, dtype=np.float32))
    w.add_constant("k2", "u8", [3], b"\x01\x02\x03", quant={"scale": [0.5], "zero_point": [1], "axis": -1})
    w.add_node("n", "add", ["x", "k"], ["y"], {"activation": "none"})
    w.add_activation("y", "f32")
    w.inputs, w.outputs = ["x"], ["y"]
    path = os.path.join(TMP, "w.detc")
    w.write(path)
    j, tensors = read_detc(path)
    assert tensors["k"]["offset"] == 0 and tensors["k2"]["offset"] == 64
    assert np.frombuffer(tensors["k"]["_bytes"], "<f4").tolist() == [0, 1, 2, 3]
    assert tensors["k2"]["_bytes"] == b"\x01\x02\x03"
    # deliberately broken: overlapping constants, a wrong version, raw JSON, a truncated file
    w.tensor("k2")["offset"] = 0
    blob = w.build(check=False)
    j2 = json.loads(blob[32:32 + struct.unpack_from("<I", blob, 12)[0]])
    assert [t.get("offset") for t in j2["tensors"]] == [None, 0, 0, None]
    assert struct.unpack_from("<I", w.build(check=False, version=7), 8)[0] == 7
    raw = w.build(check=False, raw_json='{"format":"detc"')
    assert raw[32:48] == b'{"format":"detc"' and struct.unpack_from("<I", raw, 12)[0] == 16
    assert len(w.build(check=False, truncate=40)) == 40
    try:
        w.build()
        raise AssertionError("overlap not detected by the writer's checks")
    except ValueError as e:
        assert "overlap" in str(e)


# -- writer-built models: labels, metadata, preprocessing, Edge TPU --------------------------------------
def _detector(kind="u8", metadata=None, files=None, edgetpu=False):
    """A small SSD-shaped .tflite (tests/test_tflite_ops.py's, 4 classes) written to TMP; returns its path."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import test_tflite_ops as ops
    import tflite_writer as tw
    g = ops._detector("labels_%s" % kind, kind)
    if metadata is not None:
        g.m.add_metadata("TFLITE_METADATA", metadata)
    if files:
        g.m.appended = tw.zip_of(files)
    if edgetpu:
        x = g.m.tensor("edgetpu_out", "u8", [1, 4], scale=0.1, zero_point=0)
        g.m.op("CUSTOM", [g.inputs[0]], [x], custom="edgetpu-custom-op", custom_options=b"\0" * 8)
    path = os.path.join(TMP, "det_%s_%d.tflite" % (kind, len(os.listdir(TMP))))
    with open(path, "wb") as f:
        f.write(g.build())
    return path


def _labels_file(text):
    path = os.path.join(TMP, "labels_%d.txt" % len(os.listdir(TMP)))
    with open(path, "w") as f:
        f.write(text)
    return path


def test_label_formats_fit_the_model_classes():
    det = _detector()
    out = os.path.join(TMP, "lab.detc")
    cases = [
        ("cat\ndog\nbird\nfish\n", ["cat", "dog", "bird", "fish"], 0),
        ("???\ncat\ndog\nbird\nfish\n", ["???", "cat", "dog", "bird", "fish"], 1),
        ("0  person\n1  bicycle\n3  giraffe\n", ["person", "bicycle", "???", "giraffe"], 0),   # Coral, gaps
        ("0: a b\n1: c\n2: d\n3: e\n", ["a b", "c", "d", "e"], 0),
        ('item {\n  name: "/m/01"\n  id: 1\n  display_name: "person"\n}\nitem { id: 4 name: "kite" }\n',
         ["???", "person", "???", "???", "kite"], 1),
    ]
    for text, labels, offset in cases:
        j, _t = convert(det, out, "--labels", _labels_file(text))
        assert j["labels"] == labels, (text, j["labels"])
        assert j["pipeline"]["outputs"]["class_offset"] == offset, (text, j["pipeline"]["outputs"])
    bad = [
        ("cat\ndog\nbird\n", ["3 labels (one per line), but the model has 4 classes", "1 classes would have no name"]),
        ("a\nb\nc\nd\ne\n", ["5 labels", "must start with a background line", "'a'"]),
        ("0 person\n4 giraffe\n", ["ID 4, but the model's classes are 0..3"]),
        ("1 a\n2 b\n3 c\n4 d\n", ["ID 4", "look 1-based"]),
        ("item { id: 0 name: 'bg' }\nitem { id: 2 name: 'x' }\n", ["label map ids 0 are outside 1..4"]),
        ("item { id: 5 name: 'x' }\n", ["label map ids 5 are outside 1..4"]),
        ("0 a\n0 b\n", ["ID 0 appears twice"]),
    ]
    for text, msgs in bad:
        expect_clean_failure(["tflite", det, "-o", out, "--labels", _labels_file(text)], msgs)


def test_labels_and_normalization_from_model_metadata():
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import tflite_writer as tw
    md = tw.model_metadata(mean=[127.5], std=[127.5], label_file="labelmap.txt")
    det = _detector("f32", md, {"labelmap.txt": b"person\nbicycle\ncar\ngiraffe\n"})
    out = os.path.join(TMP, "md.detc")
    rc, _o, err = run("tflite", det, "-o", out)
    assert rc == 0, err
    assert "labelmap.txt, embedded in the model" in err, err
    j, _t = read_detc(out)
    assert j["labels"] == ["person", "bicycle", "car", "giraffe"]
    assert j["pipeline"]["input"]["mean"] == [127.5] * 3 and j["pipeline"]["input"]["std"] == [127.5] * 3
    # metadata with per-channel values; --labels wins over the embedded file; --mean/--std override
    md = tw.model_metadata(mean=[100, 110, 120], std=[50, 60, 70], label_file="labelmap.txt")
    det = _detector("f32", md, {"labelmap.txt": b"a\nb\nc\nd\n"})
    j, _t = convert(det, out)
    assert j["pipeline"]["input"]["mean"] == [100, 110, 120] and j["pipeline"]["input"]["std"] == [50, 60, 70]
    j, _t = convert(det, out, "--labels", _labels_file("0 w\n1 x\n2 y\n3 z\n"), "--mean", "0", "--std", "255")
    assert j["labels"] == ["w", "x", "y", "z"]
    assert j["pipeline"]["input"]["mean"] == [0, 0, 0] and j["pipeline"]["input"]["std"] == [255, 255, 255]
    # an embedded label file that does not fit is an error too, naming the file inside the model
    det = _detector("f32", md, {"labelmap.txt": b"a\nb\n"})
    expect_clean_failure(["tflite", det, "-o", out], ["labelmap.txt (the label file inside", "2 labels"])
    # the metadata names a file the zip does not hold
    det = _detector("f32", md, {"other.txt": b"a\nb\nc\nd\n"})
    expect_clean_failure(["tflite", det, "-o", out], ["names the label file 'labelmap.txt'", "other.txt"])
    # a float model without metadata: the MobileNet convention, said in a note
    rc, _o, err = run("tflite", _detector("f32"), "-o", out)
    assert rc == 0 and "MobileNet convention" in err, err


def test_quantized_inputs_get_their_pixel_mapping():
    out = os.path.join(TMP, "q.detc")
    for kind, mean in (("u8", 128.0), ("i8", 128.0)):
        # u8 input scale 1/128 zero point 128: bytes unchanged; the i8 model's input is u8 too (QUANTIZE
        # inside), so both give mean 128, std 128
        j, t = convert(_detector(kind), out)
        p = j["pipeline"]["input"]
        assert p["mean"] == [mean] * 3 and p["std"] == [128.0] * 3, p
        q = t[j["inputs"][0]]["quant"]
        for pix in range(256):
            x = (pix - p["mean"][0]) / p["std"][0]
            assert min(255, max(0, round(x / q["scale"][0]) + q["zero_point"][0])) == pix


def test_int8_image_input_gets_bytes_minus_128():
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import tflite_writer as tw
    from detc_convert import from_tflite, tflite
    m = tw.Model()
    x = m.tensor("image", "i8", [1, 8, 8, 3], scale=1 / 255, zero_point=-128)
    y = m.tensor("y", "f32", [1, 8, 8, 3])
    m.op("DEQUANTIZE", [x], [y])
    model = tflite.parse(m.build([x], [y]))
    mean, std, src = from_tflite.input_normalization(model)
    assert "quantization" in src and mean == [0.0] * 3 and abs(std[0] - 255) < 1e-3, (mean, std)
    zp, scale = -128, float(np.float32(1 / 255))
    for pix in range(256):  # the pipeline's quantization gives pixel - 128
        v = round(((pix - mean[0]) / std[0]) / scale) + zp
        assert max(-128, min(127, v)) == pix - 128, (pix, v)


def test_detect_prints_the_names_the_label_ids_give():
    """The issue's case: Coral-style `ID NAME` labels with gaps; every detection's name must be the one its
    class ID has in the file (never a line-number offset)."""
    detc = os.environ.get("DETC_BIN", os.path.join(ROOT, "build", "detc"))
    image = os.path.join(os.path.dirname(SHARED), "images", "dog.jpg")
    if not (os.path.exists(detc) and os.path.exists(image)):
        return
    names = {0: "person", 2: "car", 3: "giraffe"}  # class 1 has no name
    lab = _labels_file("".join("%d  %s\n" % kv for kv in sorted(names.items())))
    out = os.path.join(TMP, "coral.detc")
    convert(_detector("i8"), out, "--labels", lab)
    p = subprocess.run([detc, "detect", out, image, "--threshold", "0", "--json", "-"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    dets = json.loads(p.stdout)["images"][0]["detections"]
    assert dets, "no detections to check"
    for d in dets:
        assert 0 <= d["class_id"] <= 3, d
        assert d.get("label") == names.get(d["class_id"], "???"), d


def test_edgetpu_build_is_refused_with_what_to_convert():
    err = expect_clean_failure(["tflite", _detector(edgetpu=True), "-o", os.path.join(TMP, "e.detc")],
                               ["compiled for the Edge TPU", "without '_edgetpu'", "CPU build"])
    assert "unsupported TFLite operators" not in err, err


def main():
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_")]
    have_models = all(os.path.exists(p) for p in (SSD, SSD_LABELS, BLAZEFACE))
    if not have_models:
        print("skipping the model tests: %s not found (the shared models live in ../shared/models)" % SHARED)
    passed = failed = skipped = 0
    for name, fn in tests:
        if name in NEEDS_MODELS and not have_models:
            skipped += 1
            continue
        try:
            fn()
            passed += 1
            print("ok    %s" % name)
        except Exception as e:  # report and go on
            failed += 1
            print("FAIL  %s: %s: %s" % (name, type(e).__name__, e))
    print("%d passed, %d failed%s" % (passed, failed, ", %d skipped" % skipped if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
