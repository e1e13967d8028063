#!/usr/bin/python3
"""The bad-model zoo: deliberately broken or mistyped .detc files, plus a few good ones.

    /usr/bin/python3 tests/zoo/gen_zoo.py [OUT_DIR]        (default: build/zoo under the repo root)

Writes every model into OUT_DIR and OUT_DIR/expected.json, which maps each file name to

    {"exit": 1,                      expected exit code of `detc validate FILE`
                                     (a list of allowed codes for the fuzz mutants)
     "expect": ["...", ...],         distinctive, exact parts of the messages `detc validate` prints
     "problems": 2,                  number of problems reported (null: not checked)
     "kind": "header/magic",         what is broken, for reading the test output
     "fuzz": false,                  a seeded mutant: only "no crash, a message, exit 0 or 1, fast"
     "max_seconds": 2.0}             (fuzz mutants only)

Every model is tiny (a few KiB) and the files are deterministic: the same generator writes the same
bytes. Model files are named after what is wrong with them; every expected message starts with the
file name because detc prefixes each problem with it.

Graph of the base float model ("tiny"), used by most cases:

    x f32 [1,8,8,3] --conv2d(w [4,3,3,3], b [4], same, relu)--> y [1,8,8,4] --logistic--> out
    node 0 'conv' (conv2d), node 1 'sig' (logistic)
"""

import copy
import json
import os
import random
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from detc_convert.writer import DetcWriter, HEADER_SIZE  # noqa: E402

DTYPE_LIST = "f32, f16, i8, u8, i16, i32, i64, f64, bool"
BIG = 2147483647

# ---------------------------------------------------------------------------------------------
# base models


def _arr(shape, dtype, seed=0, lo=-1.0, hi=1.0):
    rng = np.random.RandomState(seed)
    a = rng.uniform(lo, hi, size=shape)
    return a.astype(dtype)


def tiny(x_dtype="f32", x_shape=(1, 8, 8, 3), w_dtype="f32", w_shape=(4, 3, 3, 3), b_dtype="f32",
         x_quant=None, w_quant=None, b_quant=None, y_quant=None, out_quant=None, conv_attrs=None,
         y_dtype=None, out_dtype=None, bias=True):
    """x -> conv2d -> y -> logistic -> out. Quantization/dtypes overridable per tensor."""
    w = DetcWriter(name="tiny", producer="gen_zoo")
    w.add_activation("x", x_dtype, list(x_shape), quant=x_quant)
    np_dt = {"f32": np.float32, "f16": np.float16, "f64": np.float64, "u8": np.uint8, "i8": np.int8,
             "i16": np.int16, "i32": np.int32}
    if w_dtype in ("u8", "i8", "i16"):
        wd = _arr(w_shape, np.float64, 1, 0 if w_dtype == "u8" else -100, 200 if w_dtype == "u8" else 100)
        wd = wd.astype(np_dt[w_dtype])
    else:
        wd = _arr(w_shape, np_dt.get(w_dtype, np.float32), 1)
    w.add_constant("w", w_dtype, list(w_shape), wd, quant=w_quant)
    inputs = ["x", "w"]
    if bias:
        co = w_shape[0]
        if b_dtype == "i32":
            bd = np.arange(co, dtype=np.int32) * 10 - 5
        else:
            bd = _arr([co], np_dt.get(b_dtype, np.float32), 2)
        w.add_constant("b", b_dtype, [co], bd, quant=b_quant)
        inputs.append("b")
    w.add_activation("y", y_dtype or x_dtype, quant=y_quant)
    w.add_activation("out", out_dtype or y_dtype or x_dtype, quant=out_quant)
    attrs = {"stride": [1, 1], "padding": "same", "activation": "relu"}
    if conv_attrs is not None:
        attrs = conv_attrs
    w.add_node("conv", "conv2d", inputs, ["y"], attrs)
    w.add_node("sig", "logistic", ["y"], ["out"])
    w.inputs = ["x"]
    w.outputs = ["out"]
    return w


XQ_U8 = {"scale": [1.0 / 128], "zero_point": [128], "axis": -1}
WQ_U8 = {"scale": [0.02], "zero_point": [120], "axis": -1}
BQ_U8 = {"scale": [float(np.float32(1.0 / 128)) * float(np.float32(0.02))], "zero_point": [0], "axis": -1}
YQ_U8 = {"scale": [0.05], "zero_point": [0], "axis": -1}
SIG_U8 = {"scale": [1.0 / 256], "zero_point": [0], "axis": -1}


def tiny_u8(**kw):
    args = dict(x_dtype="u8", w_dtype="u8", b_dtype="i32", x_quant=XQ_U8, w_quant=WQ_U8, b_quant=BQ_U8,
                y_quant=YQ_U8, out_quant=SIG_U8)
    args.update(kw)
    return tiny(**args)


WSCALES_I8 = [0.01, 0.02, 0.03, 0.04]
XQ_I8 = {"scale": [0.05], "zero_point": [-3], "axis": -1}


def tiny_i8(**kw):
    xs = float(np.float32(0.05))
    args = dict(x_dtype="i8", w_dtype="i8", b_dtype="i32", x_quant=XQ_I8,
                w_quant={"scale": WSCALES_I8, "zero_point": [0] * 4, "axis": 0},
                b_quant={"scale": [xs * float(np.float32(s)) for s in WSCALES_I8], "zero_point": [0] * 4,
                         "axis": 0},
                y_quant={"scale": [0.1], "zero_point": [-128], "axis": -1},
                out_quant={"scale": [1.0 / 256], "zero_point": [-128], "axis": -1})
    args.update(kw)
    return tiny(**args)


SSD_ATTRS = {"max_detections": 5, "max_classes_per_detection": 1, "detections_per_class": 5,
             "num_classes": 2, "nms_iou_threshold": 0.5, "nms_score_threshold": 0.3, "y_scale": 10.0,
             "x_scale": 10.0, "h_scale": 5.0, "w_scale": 5.0, "use_regular_nms": False}


def ssd(width=4, height=4, pp_attrs=None, pipeline=True):
    """A miniature SSD: two 1x1 conv heads, reshapes, logistic, detection_postprocess, pipeline.
    nodes: 0 box_conv, 1 cls_conv, 2 box_reshape, 3 cls_reshape, 4 cls_sig, 5 postprocess."""
    w = DetcWriter(name="mini_ssd", producer="gen_zoo")
    w.add_activation("image", "f32", [1, 4, 4, 3])
    w.add_constant("box_w", "f32", [4, 1, 1, 3], _arr([4, 1, 1, 3], np.float32, 3))
    w.add_constant("box_b", "f32", [4], _arr([4], np.float32, 4))
    w.add_constant("cls_w", "f32", [3, 1, 1, 3], _arr([3, 1, 1, 3], np.float32, 5))
    anchors = np.zeros((16, 4), np.float32)
    for i in range(16):
        anchors[i] = [(i // 4 + 0.5) / 4, (i % 4 + 0.5) / 4, 0.25, 0.25]
    w.add_constant("anchors", "f32", [16, 4], anchors)
    for n in ("box_raw", "cls_raw", "box_enc", "cls_logits", "cls_scores"):
        w.add_activation(n, "f32")
    w.add_activation("det_boxes", "f32", [1, 5, 4])
    for n in ("det_classes", "det_scores"):
        w.add_activation(n, "f32", [1, 5])
    w.add_activation("det_count", "f32", [1])
    w.add_node("box_conv", "conv2d", ["image", "box_w", "box_b"], ["box_raw"], {"padding": "valid"})
    w.add_node("cls_conv", "conv2d", ["image", "cls_w", ""], ["cls_raw"], {"padding": "valid"})
    w.add_node("box_reshape", "reshape", ["box_raw"], ["box_enc"], {"shape": [1, 16, 4]})
    w.add_node("cls_reshape", "reshape", ["cls_raw"], ["cls_logits"], {"shape": [1, -1, 3]})
    w.add_node("cls_sig", "logistic", ["cls_logits"], ["cls_scores"])
    w.add_node("postprocess", "detection_postprocess", ["box_enc", "cls_scores", "anchors"],
               ["det_boxes", "det_classes", "det_scores", "det_count"],
               dict(SSD_ATTRS) if pp_attrs is None else pp_attrs)
    w.inputs = ["image"]
    w.outputs = ["det_boxes", "det_classes", "det_scores", "det_count"]
    w.labels = ["???", "cat", "dog"]
    if pipeline:
        w.pipeline = {"kind": "ssd",
                      "input": {"width": width, "height": height, "color": "rgb", "resize": "bilinear",
                                "mean": [127.5, 127.5, 127.5], "std": [127.5, 127.5, 127.5]},
                      "outputs": {"boxes": "det_boxes", "classes": "det_classes", "scores": "det_scores",
                                  "count": "det_count", "box_order": "yxyx", "class_offset": 1}}
    return w


def two_inputs(a_shape, b_shape, dtype="f32", axis=3, a_quant=None, b_quant=None, out_quant=None):
    """a, b -> concat -> out. node 0 'cat' (concat)."""
    w = DetcWriter(name="concat2", producer="gen_zoo")
    w.add_activation("a", dtype, list(a_shape), quant=a_quant)
    w.add_activation("b", dtype, list(b_shape), quant=b_quant)
    w.add_activation("out", dtype, quant=out_quant)
    w.add_node("cat", "concat", ["a", "b"], ["out"], {"axis": axis})
    w.inputs = ["a", "b"]
    w.outputs = ["out"]
    return w


def header(blob):
    """(json_length, data_offset, data_length) of a built file."""
    _magic, _ver, jl, doff, dlen = struct.unpack("<8sIIQQ", blob[:32])
    return jl, doff, dlen


def node_prefix(f, i, name, op):
    return "%s: node %d '%s' (%s): " % (f, i, name, op)


# ---------------------------------------------------------------------------------------------
# the zoo: each case returns (bytes, [expected substrings]); f is the file name (message prefix)

CASES = []


def case(name, problems=1, exit=1, kind=""):
    def deco(fn):
        CASES.append({"file": name + ".detc", "fn": fn, "problems": problems, "exit": exit, "kind": kind})
        return fn
    return deco


# ---- good models ----

@case("good_tiny_f32", problems=0, exit=0, kind="good")
def _(f):
    return tiny().build(), ["%s: valid: 2 nodes, 5 tensors" % f]


@case("good_tiny_u8", problems=0, exit=0, kind="good")
def _(f):
    return tiny_u8().build(), ["%s: valid: 2 nodes, 5 tensors" % f]


@case("good_tiny_i8_per_channel", problems=0, exit=0, kind="good")
def _(f):
    return tiny_i8().build(), ["%s: valid: 2 nodes, 5 tensors" % f]


@case("good_tiny_i8_single_rounding", problems=0, exit=0, kind="good")
def _(f):
    return tiny_i8(conv_attrs={"stride": [1, 1], "padding": "same", "activation": "relu",
                               "rounding": "single"}).build(), ["%s: valid: 2 nodes, 5 tensors" % f]


@case("good_tiny_i8_winograd", problems=0, exit=0, kind="good")
def _(f):
    return tiny_i8(conv_attrs={"stride": [1, 1], "padding": "same", "activation": "relu",
                               "winograd": "int16"}).build(), ["%s: valid: 2 nodes, 5 tensors" % f]


@case("good_mini_ssd", problems=0, exit=0, kind="good")
def _(f):
    return ssd().build(), ["%s: valid: 6 nodes, 14 tensors" % f]


@case("good_concat", problems=0, exit=0, kind="good")
def _(f):
    return two_inputs([1, 4, 4, 2], [1, 4, 4, 5]).build(), ["%s: valid: 1 nodes, 3 tensors" % f]


# ---- mixed precision: the boundaries of an int8 region (detc-convert --quantize int8 writes them as
# explicit cast nodes; each case drops or misplaces one)


def mixed(drop_quantize=False, drop_dequantize=False, add_float=False):
    """x (f32) -> q: cast to i8 -> xq -> conv (i8, per-channel) -> y (i8) -> dq: cast to f32 -> yf -> logistic -> out.
    drop_quantize: the conv reads x directly; drop_dequantize: the logistic reads y directly; add_float: an add
    of y (i8) and x (f32) before the dequantize."""
    xs = float(np.float32(0.05))
    w = DetcWriter(name="mixed", producer="gen_zoo")
    w.add_activation("x", "f32", [1, 8, 8, 4])
    w.add_activation("xq", "i8", quant=XQ_I8)
    wd = _arr([4, 3, 3, 4], np.float64, 1, -100, 100).astype(np.int8)
    w.add_constant("w", "i8", [4, 3, 3, 4], wd, quant={"scale": WSCALES_I8, "zero_point": [0] * 4, "axis": 0})
    w.add_constant("b", "i32", [4], np.arange(4, dtype=np.int32),
                   quant={"scale": [xs * float(np.float32(s)) for s in WSCALES_I8], "zero_point": [0] * 4, "axis": 0})
    w.add_activation("y", "i8", quant={"scale": [0.1], "zero_point": [-128], "axis": -1})
    w.add_activation("yf", "f32")
    w.add_activation("out", "f32")
    if not drop_quantize:
        w.add_node("q", "cast", ["x"], ["xq"], {"to": "i8"})
    w.add_node("conv", "conv2d", ["x" if drop_quantize else "xq", "w", "b"], ["y"],
               {"stride": [1, 1], "padding": "same", "activation": "relu"})
    y = "y"
    if add_float:
        w.add_activation("s", "i8", quant={"scale": [0.1], "zero_point": [-128], "axis": -1})
        w.add_node("skip", "add", ["y", "x"], ["s"], {})
        y = "s"
    if drop_dequantize:
        w.add_node("sig", "logistic", [y], ["out"])
    else:
        w.add_node("dq", "cast", [y], ["yf"], {"to": "f32"})
        w.add_node("sig", "logistic", ["yf"], ["out"])
    w.inputs = ["x"]
    w.outputs = ["out"]
    return w


@case("good_mixed_precision", problems=0, exit=0, kind="good")
def _(f):
    return mixed().build(), ["%s: valid: 4 nodes, 7 tensors" % f]


@case("mixed_int8_conv_fed_f32", problems=2, kind="dtype/mixed")
def _(f):
    return mixed(drop_quantize=True).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "input 1 'w' (constant) is i8, expected f32; fix: the filter is "
        "quantized but the input is f32: insert a quantize (cast to i8 with the input's scale and zero point) before "
        "this conv, or dequantize the weights when converting",
        node_prefix(f, 0, "conv", "conv2d") + "output 0 'y' is declared i8 in the file, but conv2d produces f32 from "
        "these inputs; the op computes in its inputs' dtype, so an 8-bit result needs 8-bit inputs: insert a quantize "
        "(cast to i8 with the input's scale and zero point) before it, or declare the output f32"]


@case("mixed_float_op_fed_int8", kind="dtype/mixed")
def _(f):
    return mixed(drop_dequantize=True).build(), [
        node_prefix(f, 2, "sig", "logistic") + "output 0 'out' is declared f32 in the file, but logistic produces i8 "
        "from these inputs; the op computes in its inputs' dtype, so a float result needs float inputs: insert a "
        "dequantize (cast to f32) before it, or declare the output i8 with quantization"]


@case("mixed_add_int8_and_f32", kind="dtype/mixed")
def _(f):
    return mixed(add_float=True).build(), [
        node_prefix(f, 2, "skip", "add") + "input 0 'y' is i8 but input 1 'x' is f32; both operands must have the "
        "same dtype; fix: cast one of them (quantized operands may have different scales, not dtypes)"]


# ---- fixed header ----

@case("hdr_truncated_header_only", kind="header/truncated")
def _(f):
    full = tiny().build()
    jl, _, _ = header(full)
    return full[:32], ["%s: JSON header length %d does not fit: the file has 0 bytes after the 32-byte header" % (f, jl)]


@case("hdr_shorter_than_header", kind="header/truncated")
def _(f):
    return tiny().build()[:20], ["%s: file is 20 bytes, shorter than the 32-byte .detc header" % f]


@case("hdr_empty_file", kind="header/truncated")
def _(f):
    return b"", ["%s: file is 0 bytes, shorter than the 32-byte .detc header" % f]


@case("hdr_truncated_mid_json", kind="header/truncated")
def _(f):
    full = tiny().build()
    jl, _, _ = header(full)
    cut = 32 + jl // 2
    return full[:cut], ["%s: JSON header length %d does not fit: the file has %d bytes after the 32-byte header "
                        "(limit 64 MiB); the file is truncated or corrupt" % (f, jl, jl // 2)]


@case("hdr_truncated_mid_data", kind="header/truncated")
def _(f):
    full = tiny().build()
    _, doff, dlen = header(full)
    cut = doff + 200
    return full[:cut], ["%s: data section length %d disagrees with the file: 200 bytes follow offset %d; the file "
                        "is truncated or has trailing bytes" % (f, dlen, doff)]


@case("hdr_bad_magic", kind="header/magic")
def _(f):
    return tiny().build(magic=b"GGUF\x03\x00\x00\x00"), [
        "%s: bad magic 47 47 55 46 03 00 00 00, expected \"DETCMODL\"; this is not a detc model" % f]


@case("hdr_tflite_not_detc", kind="header/magic")
def _(f):
    # the first bytes of a TFLite flatbuffer: root offset, then the "TFL3" identifier
    blob = struct.pack("<I", 28) + b"TFL3" + bytes(range(56))
    return blob, ["%s: bad magic 1c 00 00 00 54 46 4c 33, expected \"DETCMODL\"" % f,
                  "convert TFLite, TensorFlow or torchvision models with tools/detc-convert"]


@case("hdr_unknown_version", kind="header/version")
def _(f):
    return tiny().build(version=2), [
        "%s: format version 2, but this detc reads version 1; convert the model again" % f]


@case("hdr_json_length_too_big", kind="header/json_length")
def _(f):
    blob = tiny().build(json_length=0xFFFFFFFF)
    return blob, ["%s: JSON header length 4294967295 does not fit: the file has %d bytes after the 32-byte header "
                  "(limit 64 MiB)" % (f, len(blob) - 32)]


@case("hdr_json_length_zero", kind="header/json_length")
def _(f):
    blob = tiny().build(json_length=0)
    return blob, ["%s: JSON header length 0 does not fit" % f]


@case("hdr_data_offset_misaligned", kind="header/data_offset")
def _(f):
    full = tiny().build()
    jl, doff, dlen = header(full)
    blob = tiny().build(data_offset=doff + 8, data_length=dlen - 8)
    return blob, ["%s: data offset %d is invalid: it must be a multiple of 64, at least %d (after the JSON header) "
                  "and at most the file size %d" % (f, doff + 8, 32 + jl, len(blob))]


@case("hdr_data_offset_inside_json", kind="header/data_offset")
def _(f):
    full = tiny().build()
    jl, doff, dlen = header(full)
    blob = tiny().build(data_offset=64, data_length=len(full) - 64)
    return blob, ["%s: data offset 64 is invalid: it must be a multiple of 64, at least %d" % (f, 32 + jl)]


@case("hdr_data_length_trailing_bytes", kind="header/data_length")
def _(f):
    full = tiny().build()
    _, doff, dlen = header(full)
    blob = tiny().build(trailing=b"\0" * 100)
    return blob, ["%s: data section length %d disagrees with the file: %d bytes follow offset %d"
                  % (f, dlen, dlen + 100, doff)]


@case("hdr_data_length_huge", kind="header/data_length")
def _(f):
    full = tiny().build()
    _, doff, dlen = header(full)
    blob = tiny().build(data_length=(1 << 64) - 1)
    return blob, ["%s: data section length 18446744073709551615 disagrees with the file: %d bytes follow offset %d"
                  % (f, dlen, doff)]


# ---- JSON header ----

@case("json_invalid", kind="json/syntax")
def _(f):
    return tiny().build(raw_json='{"format": "detc", "version": 1, "tensors": [{"name": "x",, }]}'), [
        "%s: the JSON header is not valid JSON (error near byte " % f, "the file is corrupt or was edited by hand"]


@case("json_nan_scale", kind="json/syntax")
def _(f):
    w = tiny_u8()
    w.tensor("x")["quant"] = {"scale": [float("nan")], "zero_point": [128], "axis": -1}
    return w.build(check=False), ["%s: the JSON header is not valid JSON" % f]


@case("json_not_an_object", kind="json/structure")
def _(f):
    return tiny().build(raw_json="[1, 2, 3]"), [
        "%s: the JSON header must be an object with \"format\": \"detc\"" % f]


@case("json_missing_tensors", kind="json/structure")
def _(f):
    w = tiny()
    w.extra = {"tensors": None}
    return w.build(), ["%s: the JSON header needs \"tensors\" and \"nodes\" lists" % f]


@case("json_version_mismatch", kind="json/structure")
def _(f):
    w = tiny()
    w.extra = {"version": 2}
    return w.build(), ["%s: the JSON header's \"version\" must be 1, as in the fixed header" % f]


@case("json_no_graph_inputs", kind="graph/io")
def _(f):
    w = tiny()
    w.inputs = []
    # x is then an activation nobody computes; that is not reported a second time
    return w.build(), ["%s: \"inputs\" must be a list of 1..1024 tensor names" % f]


# ---- constants and the data section ----

@case("const_offset_outside_data", kind="constant/offset")
def _(f):
    w = tiny()
    old = w.tensor("w")  # kept alive: the writer keys constant data by id()
    w.tensors[w.tensors.index(old)] = {"name": "w", "dtype": "f32", "shape": [4, 3, 3, 3], "offset": 4096,
                                       "length": 432}
    blob = w.build(check=False)
    del old
    _, _, dlen = header(blob)
    return blob, ["%s: constant 'w': bytes 4096..4528 are outside the data section (%d bytes) or the offset is not "
                  "a multiple of 64; the file is truncated or corrupt" % (f, dlen)]


@case("const_offset_misaligned", kind="constant/offset")
def _(f):
    w = tiny()
    w.tensor("b")["offset"] = 440  # after w's 432 bytes, not a multiple of 64
    blob = w.build(check=False)
    _, _, dlen = header(blob)
    return blob, ["%s: constant 'b': bytes 440..456 are outside the data section (%d bytes) or the offset is not a "
                  "multiple of 64" % (f, dlen)]


@case("const_length_mismatch", kind="constant/length")
def _(f):
    w = tiny()
    w.tensor("b")["length"] = 12
    return w.build(check=False), [
        "%s: constant 'b': length 12 bytes, but shape [4] of f32 needs 16 bytes" % f]


@case("const_overlap", kind="constant/overlap")
def _(f):
    w = tiny()
    w.tensor("b")["offset"] = 384  # inside w's bytes 0..432
    return w.build(check=False), [
        "%s: constants 'w' (bytes 0..432) and 'b' (bytes 384..400) overlap in the data section; the file is "
        "corrupt" % f]


@case("const_shape_overflow", kind="shape/overflow")
def _(f):
    w = tiny()
    w.add_tensor({"name": "huge", "dtype": "f32", "shape": [BIG] * 6, "offset": 512, "length": 64})
    return w.build(check=False), [
        "%s: constant 'huge': shape [%s] of f32 is too large (over 2^48 bytes); the shape is corrupt"
        % (f, ", ".join([str(BIG)] * 6))]


@case("input_shape_overflow", kind="shape/overflow")
def _(f):
    w = tiny()
    w.tensor("x")["shape"] = [1, BIG, BIG, 3]
    return w.build(), ["%s: tensor 'x' of shape [1, %d, %d, 3] is over 1 TiB" % (f, BIG, BIG)]


@case("activations_beyond_memory", kind="memory/limit")
def _(f):
    # every tensor under 1 TiB, but x (480 GB; a graph input lives through the run) and y and out (640 GB
    # each) are live together: no machine holds that
    w = tiny(x_shape=(1, 200000, 200000, 3))
    return w.build(), ["%s: the graph needs 1760000.0 MB of activation memory (planned peak), more than the" % f,
                       "MB allowed (physical memory); check the tensor shapes in the file"]


@case("shape_zero_dim", kind="shape/dim")
def _(f):
    w = tiny()
    w.tensor("x")["shape"] = [1, 0, 8, 3]
    return w.build(), ["%s: tensor 'x': dimension 1 must be an integer in 1..2147483647" % f]


@case("shape_negative_dim", kind="shape/dim")
def _(f):
    w = tiny()
    w.tensor("w")["shape"] = [4, -3, 3, 3]
    return w.build(check=False), ["%s: tensor 'w': dimension 1 must be an integer in 1..2147483647" % f]


@case("shape_rank_7", kind="shape/rank")
def _(f):
    w = tiny()
    w.tensor("x")["shape"] = [1, 1, 1, 1, 8, 8, 3]
    return w.build(), ["%s: tensor 'x': \"shape\" must be a list of at most 6 dimensions" % f]


@case("dtype_unknown_name", kind="dtype/unknown")
def _(f):
    w = tiny()
    w.tensor("w")["dtype"] = "float32"
    return w.build(check=False), ["%s: tensor 'w': dtype 'float32' is not one of %s" % (f, DTYPE_LIST)]


@case("dtype_missing", kind="dtype/unknown")
def _(f):
    w = tiny()
    del w.tensor("y")["dtype"]
    return w.build(check=False), ["%s: tensor 'y': dtype (missing) is not one of %s" % (f, DTYPE_LIST)]


@case("tensor_duplicate_name", kind="tensor/name")
def _(f):
    w = tiny()
    w.add_activation("y", "f32")
    return w.build(check=False), ["%s: tensor 5: name 'y' is used by tensor 3 already; names must be unique" % f]


@case("tensor_name_too_long", kind="tensor/name")
def _(f):
    w = tiny()
    w.add_activation("n" * 256, "f32")
    return w.build(check=False), ["%s: tensor 5: every tensor needs a \"name\" of 1..255 bytes" % f]


# ---- quantization parameters ----

@case("quant_on_float_tensor", kind="quant/dtype")
def _(f):
    w = tiny()
    w.tensor("y")["quant"] = {"scale": [0.1], "zero_point": [0], "axis": -1}
    return w.build(), ["%s: tensor 'y' is f32 but has quantization parameters; only u8, i8, i16 and i32 tensors "
                       "can be quantized" % f]


@case("quant_zero_point_out_of_range", kind="quant/zero_point")
def _(f):
    return tiny_u8(x_quant={"scale": [1.0 / 128], "zero_point": [300], "axis": -1}).build(), [
        "%s: tensor 'x': quant zero_point[0] is 300, expected an integer in u8's range 0..255" % f]


@case("quant_scale_zero", kind="quant/scale")
def _(f):
    return tiny_u8(y_quant={"scale": [0.0], "zero_point": [0], "axis": -1}).build(), [
        "%s: tensor 'y': quant scale[0] is 0, expected a positive finite number representable in f32" % f]


@case("quant_scale_underflows_f32", kind="quant/scale")
def _(f):
    return tiny_u8(w_quant={"scale": [1e-50], "zero_point": [120], "axis": -1}).build(), [
        "%s: tensor 'w': quant scale[0] is 1e-50, expected a positive finite number representable in f32" % f]


@case("quant_per_channel_wrong_count", kind="quant/per_channel")
def _(f):
    return tiny_i8(w_quant={"scale": [0.01, 0.02, 0.03], "zero_point": [0, 0, 0], "axis": 0}).build(), [
        "%s: tensor 'w': per-channel quantization on axis 0 needs one scale per channel (4), found 3" % f]


@case("quant_scales_zero_points_differ", kind="quant/per_channel")
def _(f):
    return tiny_i8(w_quant={"scale": WSCALES_I8, "zero_point": [0, 0], "axis": 0}).build(), [
        "%s: tensor 'w': quant has 4 scales and 2 zero points; they must be equal and at least 1" % f]


@case("quant_several_scales_per_tensor", kind="quant/per_channel")
def _(f):
    return tiny_u8(x_quant={"scale": [0.1, 0.2], "zero_point": [1, 2], "axis": -1}).build(), [
        "%s: tensor 'x': 2 scales given but axis is -1 (per tensor); give \"axis\" for per-channel quantization" % f]


# ---- graph structure ----

@case("node_unknown_op", kind="graph/op")
def _(f):
    w = tiny()
    w.nodes[1]["op"] = "frobnicate"
    return w.build(), ["%s: node 1 'sig': unknown op 'frobnicate'; detc knows: " % f]


@case("node_undefined_input", kind="graph/undefined")
def _(f):
    w = tiny()
    w.nodes[1]["inputs"] = ["yy"]
    return w.build(), [node_prefix(f, 1, "sig", "logistic") + "input 0 'yy' is not defined: no tensor of that "
                       "name in the tensor table; add it or fix the name"]


@case("node_input_never_computed", kind="graph/undefined")
def _(f):
    w = tiny()
    w.add_activation("ghost", "f32", [1, 8, 8, 4])
    w.nodes[1]["inputs"] = ["ghost"]
    return w.build(), [node_prefix(f, 1, "sig", "logistic") + "input 0 'ghost' is never computed: no node "
                       "produces it, it is not a graph input and has no data"]


@case("node_two_producers", kind="graph/producer")
def _(f):
    w = tiny()
    w.add_node("sig2", "logistic", ["y"], ["out"])
    return w.build(), [node_prefix(f, 2, "sig2", "logistic") + "output 0 'out' is already produced by node 1 "
                       "'sig' (logistic); every tensor has exactly one producer"]


@case("node_writes_constant", kind="graph/producer")
def _(f):
    w = tiny()
    w.nodes[1]["outputs"] = ["b"]
    w.outputs = ["y"]
    return w.build(), [node_prefix(f, 1, "sig", "logistic") + "output 0 'b' is a constant; a node cannot overwrite "
                       "constant data"]


@case("graph_cycle", kind="graph/cycle")
def _(f):
    w = tiny()
    w.add_activation("z", "f32")
    w.nodes[0]["inputs"] = ["z", "w", "b"]       # conv reads z
    w.add_node("back", "logistic", ["out"], ["z"])  # z computed from out: conv -> sig -> back -> conv
    return w.build(), ["%s: the graph has a cycle: 3 nodes depend on their own outputs, directly or through other "
                       "nodes: 0 'conv' (conv2d), 1 'sig' (logistic), 2 'back' (logistic); a detection graph must "
                       "be acyclic" % f]


@case("graph_cycle_with_consumer", kind="graph/cycle")
def _(f):
    w = tiny()
    for n in ("p", "q", "r"):
        w.add_activation(n, "f32")
    w.add_node("loop_p", "logistic", ["q"], ["p"])
    w.add_node("loop_q", "logistic", ["p"], ["q"])
    w.add_node("after", "logistic", ["q"], ["r"])  # only reads the cycle
    w.outputs = ["out", "r"]
    return w.build(), ["%s: the graph has a cycle: 2 nodes depend on their own outputs, directly or through other "
                       "nodes: 2 'loop_p' (logistic), 3 'loop_q' (logistic); a detection graph must be acyclic "
                       "(1 more node downstream of the cycle is not checked)" % f]


@case("graph_self_loop", kind="graph/cycle")
def _(f):
    w = tiny()
    w.nodes[1]["inputs"] = ["out"]
    return w.build(), ["%s: the graph has a cycle: 1 nodes depend on their own outputs, directly or through other "
                       "nodes: 1 'sig' (logistic)" % f]


@case("graph_input_without_shape", kind="graph/input")
def _(f):
    w = tiny()
    del w.tensor("x")["shape"]
    return w.build(), ["%s: graph input 'x' has no \"shape\"; inputs must declare dtype and shape" % f]


@case("graph_input_is_constant", kind="graph/input")
def _(f):
    w = tiny()
    w.inputs = ["x", "b"]
    return w.build(), ["%s: graph input 'b' is a constant; a graph input is fed by the caller" % f]


@case("graph_output_undefined", kind="graph/output")
def _(f):
    w = tiny()
    w.outputs = ["out", "nope"]
    return w.build(), ["%s: graph output 'nope' is not in the tensor table" % f]


@case("node_not_an_object", kind="graph/structure")
def _(f):
    w = tiny()
    w.nodes.append(42)
    return w.build(), ["%s: node 2 is not a JSON object" % f]


@case("node_wrong_input_count", kind="graph/arity")
def _(f):
    w = tiny()
    w.nodes[1]["inputs"] = ["y", "y"]
    return w.build(), [node_prefix(f, 1, "sig", "logistic") + "has 2 inputs, logistic takes 1..1"]


# ---- op checks: dtypes ----

@case("conv_f64_weights", kind="dtype/op")
def _(f):
    return tiny(w_dtype="f64").build(), [
        node_prefix(f, 0, "conv", "conv2d") + "input 1 'w' (constant) is f64, expected f32; fix: give an f32 input "
        "an f32 filter (dequantize the weights when converting)"]


@case("conv_f16_weights_without_cast", kind="dtype/op")
def _(f):
    return tiny(w_dtype="f16").build(), [node_prefix(f, 0, "conv", "conv2d") + "input 1 'w' (constant) is f16",
                                         "cast"]


@case("logistic_i32_input", kind="dtype/op")
def _(f):
    w = DetcWriter(name="sig_i32", producer="gen_zoo")
    w.add_activation("x", "i32", [1, 16])
    w.add_activation("out", "f32")
    w.add_node("sig", "logistic", ["x"], ["out"])
    w.inputs, w.outputs = ["x"], ["out"]
    return w.build(), [node_prefix(f, 0, "sig", "logistic") + "input 0 'x' (graph input) is i32, expected "]


@case("logistic_quantized_i16", kind="dtype/op")
def _(f):
    w = DetcWriter(name="sig_i16", producer="gen_zoo")
    w.add_activation("x", "i16", [1, 16], quant={"scale": [0.001], "zero_point": [0], "axis": -1})
    w.add_activation("out", "i16", quant={"scale": [1.0 / 32768], "zero_point": [0], "axis": -1})
    w.add_node("sig", "logistic", ["x"], ["out"])
    w.inputs, w.outputs = ["x"], ["out"]
    return w.build(), [node_prefix(f, 0, "sig", "logistic") + "input 0 'x' (graph input) is i16, expected "]


@case("softmax_quantized_output_scale", kind="quant/op")
def _(f):
    """a quantized softmax must output scale 1/256 (zero point 0 for u8), as TFLite requires."""
    w = DetcWriter(name="softmax_u8", producer="gen_zoo")
    w.add_activation("logits", "u8", [1, 10], quant={"scale": [0.1], "zero_point": [128], "axis": -1})
    w.add_activation("probs", "u8", quant={"scale": [1.0 / 128], "zero_point": [0], "axis": -1})
    w.add_node("softmax", "softmax", ["logits"], ["probs"])
    w.inputs, w.outputs = ["logits"], ["probs"]
    return w.build(), [node_prefix(f, 0, "softmax", "softmax") + "output 0 'probs' has scale 0.0078125 zero point "
                       "0; a quantized softmax must output scale 1/256 with zero point 0, as TensorFlow Lite requires"]


@case("conv_i8_input_f32_filter", kind="dtype/op")
def _(f):
    return tiny(x_dtype="i8", x_quant=XQ_I8, y_quant={"scale": [0.1], "zero_point": [0], "axis": -1},
                out_quant={"scale": [1.0 / 256], "zero_point": [-128], "axis": -1}, bias=False).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "input 1 'w' (constant) is f32, expected i8; fix: quantize the filter "
        "to i8 (per-channel on axis 0, zero point 0), like the input"]


@case("conv_u8_filter_without_quant", kind="quant/op")
def _(f):
    return tiny_u8(w_quant=None).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "input 1 'w' (constant) (filter) is u8 without quantization "
        "parameters; fix: give it a \"quant\" entry (per-tensor scale and zero point) when converting"]


@case("conv_u8_input_without_quant", kind="quant/op")
def _(f):
    return tiny_u8(x_quant=None).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "input 0 'x' (graph input) (input) is u8 without quantization "
        "parameters, expected a per-tensor scale and zero point"]


@case("conv_per_channel_wrong_axis", kind="quant/op")
def _(f):
    xs = float(np.float32(0.05))
    return tiny_i8(w_quant={"scale": [0.01, 0.02, 0.03], "zero_point": [0, 0, 0], "axis": 3},
                   b_quant={"scale": [xs * float(np.float32(0.01))], "zero_point": [0], "axis": -1}).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "input 1 'w' (constant) (filter) has 3 scales on axis 3, expected 4 "
        "(one per output channel) on axis 0"]


@case("conv_i8_filter_nonzero_zero_point", kind="quant/op")
def _(f):
    return tiny_i8(w_quant={"scale": WSCALES_I8, "zero_point": [0, 5, 0, 0], "axis": 0}).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "input 1 'w' (constant) (filter) has zero point 5 on a channel, "
        "expected 0 for i8 filters"]


@case("conv_bias_wrong_scale", kind="quant/op")
def _(f):
    return tiny_u8(b_quant={"scale": [0.5], "zero_point": [0], "axis": -1}).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "input 2 'b' (constant) (bias) must have zero point 0 and scale = "
        "input scale x filter scale; channel 0 has scale 0.5 zero point 0, expected scale 0.000156249997 (4 channel(s) differ); fix: "
        "requantize the bias when converting"]


@case("conv_output_quant_missing", kind="quant/op")
def _(f):
    return tiny_u8(y_quant=None).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "output 0 'y' is u8 and must carry per-tensor quantization parameters "
        "(scale, zero point), found none"]


# conv2d reports every problem of a node at once: a broken operand does not hide the others'
# (these used to stop at the first failing group of checks)

@case("conv_filter_dtype_and_output_quant_missing", problems=2, kind="dtype+quant/op")
def _(f):
    return tiny_u8(w_dtype="i8", y_quant=None).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "input 1 'w' (constant) is i8, expected u8; fix: quantize the filter to "
        "u8 per tensor, like the input",
        node_prefix(f, 0, "conv", "conv2d") + "output 0 'y' is u8 and must carry per-tensor quantization parameters "
        "(scale, zero point), found none"]


@case("conv_input_quant_missing_and_bias_zero_point", problems=2, kind="quant/op")
def _(f):
    return tiny_u8(x_quant=None, b_quant={"scale": [0.5], "zero_point": [3], "axis": -1}).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "input 0 'x' (graph input) (input) is u8 without quantization "
        "parameters",
        node_prefix(f, 0, "conv", "conv2d") + "input 2 'b' (constant) (bias) has zero point 3, expected 0; fix: "
        "requantize the bias when converting"]


@case("conv_output_filter_and_bias_quant_all_wrong", problems=3, kind="quant/op")
def _(f):
    return tiny_u8(y_quant=None, w_quant=None, b_quant={"scale": [0.5], "zero_point": [7], "axis": -1}).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "output 0 'y' is u8 and must carry per-tensor quantization parameters",
        node_prefix(f, 0, "conv", "conv2d") + "input 1 'w' (constant) (filter) is u8 without quantization parameters",
        node_prefix(f, 0, "conv", "conv2d") + "input 2 'b' (constant) (bias) has zero point 7, expected 0"]


@case("conv_f16_filter_with_wrong_channels", problems=2, kind="dtype+shape/op")
def _(f):
    return tiny(w_dtype="f16", w_shape=(4, 3, 3, 2)).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "input 1 'w' (constant) is f16, expected f32",
        node_prefix(f, 0, "conv", "conv2d") + "input 1 'w' (constant): filter [4, 3, 3, 2] (OHWI) has 2 input "
        "channels but input 0 'x' (graph input) [1, 8, 8, 3] has 3"]


@case("logistic_u8_wrong_output_quant", kind="quant/op")
def _(f):
    return tiny_u8(out_quant={"scale": [0.1], "zero_point": [0], "axis": -1}).build(), [
        node_prefix(f, 1, "sig", "logistic") + "output 0 'out' has scale 0.100000001 zero point 0; a quantized "
        "logistic must output scale 1/256 (0.00390625) with zero point 0"]


# ---- op checks: shapes ----

@case("conv_channel_mismatch", kind="shape/op")
def _(f):
    return tiny(w_shape=(4, 3, 3, 2)).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "input 1 'w' (constant): filter [4, 3, 3, 2] (OHWI) has 2 input "
        "channels but input 0 'x' (graph input) [1, 8, 8, 3] has 3; the filter must be [out_channels, kernel_h, "
        "kernel_w, 3]"]


@case("conv_rank_3_input", kind="shape/op")
def _(f):
    return tiny(x_shape=(8, 8, 3)).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "input 0 'x' (graph input) has shape [8, 8, 3] (rank 3), expected "
        "rank 4"]


@case("conv_declared_output_shape_wrong", kind="shape/op")
def _(f):
    w = tiny()
    w.tensor("y")["shape"] = [1, 8, 8, 5]
    return w.build(), [node_prefix(f, 0, "conv", "conv2d") + "output 0 'y' is declared with shape [1, 8, 8, 5], but "
                       "the inputs give [1, 8, 8, 4]"]


@case("conv_declared_output_dtype_wrong", kind="dtype/op")
def _(f):
    return tiny(y_dtype="f16", out_dtype="f32").build(), [
        node_prefix(f, 0, "conv", "conv2d") + "output 0 'y' is declared f16 in the file, but conv2d produces f32"]


@case("concat_mismatched_dims", kind="shape/op")
def _(f):
    return two_inputs([1, 4, 4, 2], [1, 4, 5, 2]).build(), [
        node_prefix(f, 0, "cat", "concat") + "input 1 'b' (graph input) has shape [1, 4, 5, 2], which does not match "
        "input 0's [1, 4, 4, 2] outside axis 3"]


@case("concat_axis_out_of_range", kind="attr/range")
def _(f):
    return two_inputs([1, 4, 4, 2], [1, 4, 4, 2], axis=4).build(), [
        node_prefix(f, 0, "cat", "concat") + "attribute 'axis' is 4, expected -4..3 for rank-4 inputs"]


@case("reshape_element_count_mismatch", kind="shape/op")
def _(f):
    w = tiny()
    w.add_activation("flat", "f32")
    w.add_node("flatten", "reshape", ["out"], ["flat"], {"shape": [1, 100]})
    w.outputs = ["flat"]
    return w.build(), [node_prefix(f, 2, "flatten", "reshape") + "the input [1, 8, 8, 4] has 256 elements, which "
                       "the target shape from attribute 'shape' cannot hold; fix the shape so its sizes multiply "
                       "to 256"]


@case("reshape_two_minus_ones", kind="attr/range")
def _(f):
    w = tiny()
    w.add_activation("flat", "f32")
    w.add_node("flatten", "reshape", ["out"], ["flat"], {"shape": [-1, -1]})
    w.outputs = ["flat"]
    return w.build(), [node_prefix(f, 2, "flatten", "reshape") + "attribute 'shape' has more than one -1; at most "
                       "one size can be inferred"]


# ---- op checks: attributes ----

@case("attr_missing_required", kind="attr/missing")
def _(f):
    w = tiny()
    w.add_activation("flat", "f32")
    w.add_node("flatten", "reshape", ["out"], ["flat"], {})
    w.outputs = ["flat"]
    return w.build(), [node_prefix(f, 2, "flatten", "reshape") + "required attribute 'shape' is missing; see "
                       "ops/README.md for reshape"]


@case("attr_stride_zero", kind="attr/range")
def _(f):
    return tiny(conv_attrs={"stride": [0, 1], "padding": "same"}).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "attribute 'stride'[0] must be an integer in 1..64"]


@case("attr_bad_padding_string", kind="attr/enum")
def _(f):
    return tiny(conv_attrs={"padding": "full"}).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "attribute 'padding' must be one of \"valid\", \"same\""]


@case("attr_bad_activation", kind="attr/enum")
def _(f):
    return tiny(conv_attrs={"activation": "gelu"}).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "attribute 'activation' must be one of \"none\", \"relu\", \"relu6\", "
        "\"relu_n1_to_1\""]


@case("attr_bad_rounding", kind="attr/enum")
def _(f):
    return tiny_i8(conv_attrs={"padding": "same", "rounding": "half_even"}).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "attribute 'rounding' must be one of \"double\", \"single\""]


@case("attr_single_rounding_on_f32_conv", kind="attr/dtype")
def _(f):
    return tiny(conv_attrs={"padding": "same", "rounding": "single"}).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "attribute 'rounding' \"single\" applies to quantized (u8/i8) convs "
        "only; this conv is f32"]


@case("attr_bad_winograd", kind="attr/enum")
def _(f):
    return tiny_i8(conv_attrs={"padding": "same", "winograd": "int8"}).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "attribute 'winograd' must be one of \"int16\""]


@case("attr_winograd_on_f32_conv", kind="attr/dtype")
def _(f):
    return tiny(conv_attrs={"padding": "same", "winograd": "int16"}).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "attribute 'winograd' \"int16\" applies to quantized (u8/i8) ungrouped "
        "3x3 convs with stride 1 and dilation 1; this conv is f32, groups 1, kernel 3x3, stride 1x1, dilation 1x1; "
        "fix: drop the attribute from this conv"]


@case("attr_winograd_on_strided_conv", kind="attr/shape")
def _(f):
    return tiny_i8(conv_attrs={"padding": "same", "stride": [2, 2], "winograd": "int16"}).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "attribute 'winograd' \"int16\" applies to quantized (u8/i8) ungrouped "
        "3x3 convs with stride 1 and dilation 1; this conv is i8, groups 1, kernel 3x3, stride 2x2, dilation 1x1; "
        "fix: drop the attribute from this conv"]


@case("attr_kernel_does_not_fit", kind="shape/op")
def _(f):
    return tiny(x_shape=(1, 2, 2, 3), conv_attrs={"padding": "valid"}).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "the 3x3 window (kernel 3x3, dilation 1x1) does not fit the 2x2 input "
        "0 'x' (graph input) with padding [0, 0, 0, 0]"]


@case("attrs_not_an_object", kind="attr/structure")
def _(f):
    return tiny(conv_attrs=[1, 2]).build(), [node_prefix(f, 0, "conv", "conv2d") + "\"attrs\" must be an object"]


@case("postprocess_missing_num_classes", kind="attr/missing")
def _(f):
    attrs = dict(SSD_ATTRS)
    del attrs["num_classes"]
    return ssd(pp_attrs=attrs).build(), [
        node_prefix(f, 5, "postprocess", "detection_postprocess") + "attribute 'num_classes' is 0, expected 1..100000 "
        "(TFLite's NMS reads no class with 0"]


@case("postprocess_anchors_wrong_shape", kind="shape/op")
def _(f):
    w = ssd()
    a = w.tensor("anchors")
    w.tensors.remove(a)
    w.add_constant("anchors", "f32", [16, 3], np.zeros((16, 3), np.float32))
    out = w.build()
    del a
    return out, [node_prefix(f, 5, "postprocess", "detection_postprocess") + "box encodings [1, 16, 4] need at "
                 "least 4 values per anchor (y, x, h, w) and anchors [16, 3] exactly 4 (yc, xc, h, w)"]


# ---- cast and depthwise ----

def cast_model(x_dtype, to, x_quant=None, y_quant=None, x_shape=(1, 16)):
    """x -> cast -> y. node 0 'to_f' (cast)."""
    w = DetcWriter(name="cast", producer="gen_zoo")
    w.add_activation("x", x_dtype, list(x_shape), quant=x_quant)
    w.add_activation("y", to if to in ("f32", "f16", "u8", "i8", "i16", "i32", "i64", "f64", "bool") else "f32",
                     quant=y_quant)
    w.add_node("to_f", "cast", ["x"], ["y"], {"to": to})
    w.inputs, w.outputs = ["x"], ["y"]
    return w


@case("good_f16_weights_cast", problems=0, exit=0, kind="good")
def _(f):
    """The fix for conv_f16_weights_without_cast: a cast node turns the f16 weights into f32."""
    w = tiny(w_dtype="f16")
    w.tensor("w")["name"] = "w16"
    w.nodes[0]["inputs"][1] = "w32"
    w.add_activation("w32", "f32")
    w.add_node("dequant_w", "cast", ["w16"], ["w32"], {"to": "f32"})
    # the cast reads only a constant: evaluated once at load (216 f32 values from 216 f16 ones)
    return w.build(), ["%s: valid: 3 nodes, 6 tensors" % f, "; 1 node folded at load: 0.00 MB of constants"]


@case("cast_quantize_without_output_quant", kind="quant/op")
def _(f):
    return cast_model("f32", "u8").build(), [
        node_prefix(f, 0, "to_f", "cast") + "output 0 'y' is u8 and needs quantization parameters (scale, zero point) "
        "to quantize into; give it a \"quant\" entry when converting"]


@case("cast_unknown_target", kind="attr/enum")
def _(f):
    return cast_model("f16", "float").build(), [
        node_prefix(f, 0, "to_f", "cast") + "attribute 'to' must be one of \"f32\", \"u8\", \"i8\""]


@case("cast_f64_input", kind="dtype/op")
def _(f):
    return cast_model("f64", "f32").build(), [
        node_prefix(f, 0, "to_f", "cast") + "input 0 'x' (graph input) is f64; cast to f32 supports f16, u8, i8, "
        "i32, i64"]


def dw_model(c=3, m=2, filt_c=None, attrs=None):
    """x [1,6,6,c] -> depthwise_conv2d (filter [1,3,3,filt_c]) -> y. node 0 'dw'."""
    filt_c = c * m if filt_c is None else filt_c
    w = DetcWriter(name="dw", producer="gen_zoo")
    w.add_activation("x", "f32", [1, 6, 6, c])
    w.add_constant("k", "f32", [1, 3, 3, filt_c], _arr([1, 3, 3, filt_c], np.float32, 7))
    w.add_activation("y", "f32")
    a = {"depth_multiplier": m, "padding": "same"}
    if attrs:
        a.update(attrs)
    w.add_node("dw", "depthwise_conv2d", ["x", "k", ""], ["y"], a)
    w.inputs, w.outputs = ["x"], ["y"]
    return w


@case("good_depthwise", problems=0, exit=0, kind="good")
def _(f):
    return dw_model().build(), ["%s: valid: 1 nodes, 3 tensors" % f]


@case("depthwise_multiplier_mismatch", kind="shape/op")
def _(f):
    return dw_model(filt_c=5).build(), [
        node_prefix(f, 0, "dw", "depthwise_conv2d") + "filter [1, 3, 3, 5] has 5 output channels, expected input "
        "channels (3) x depth_multiplier (2) = 6"]


@case("depthwise_explicit_padding_wrong_length", kind="attr/range")
def _(f):
    return dw_model(attrs={"padding": [1, 1, 1]}).build(), [
        node_prefix(f, 0, "dw", "depthwise_conv2d") + "attribute 'padding' must be a list of 4 integers"]


@case("postprocess_u8_scores_without_quant", kind="quant/op")
def _(f):
    w = ssd()
    # the class scores come in as a plain u8 graph input instead of from the logistic
    w.nodes.pop(4)
    w.tensor("cls_scores").update({"dtype": "u8", "shape": [1, 16, 3]})
    w.inputs = ["image", "cls_scores"]
    w.outputs = ["det_boxes", "det_classes", "det_scores", "det_count", "cls_logits"]
    return w.build(), [
        node_prefix(f, 4, "postprocess", "detection_postprocess") + "input 1 'cls_scores' (graph input) (class "
        "predictions) is u8 without quantization parameters, expected a per-tensor scale and zero point"]


# ---- robustness: odd but well-formed JSON ----

@case("json_deeply_nested", kind="json/syntax")
def _(f):
    depth = 200000
    return tiny().build(raw_json="[" * depth + "]" * depth), ["%s: the JSON header is not valid JSON" % f]


@case("names_with_format_specifiers", problems=1, kind="robustness")
def _(f):
    w = tiny(conv_attrs={"stride": [0, 1]})
    w.tensor("x")["name"] = "x%s%n%s%d"
    w.nodes[0]["inputs"][0] = "x%s%n%s%d"
    w.nodes[0]["name"] = "conv%n%n%s"
    w.inputs = ["x%s%n%s%d"]
    return w.build(), [node_prefix(f, 0, "conv%n%n%s", "conv2d") + "attribute 'stride'[0] must be an integer in 1..64"]


@case("node_name_very_long", problems=2, kind="robustness")
def _(f):
    w = tiny()
    w.nodes[1]["name"] = "s" * 5000
    w.nodes[1]["inputs"] = ["out"]  # self loop
    w.nodes[0]["attrs"] = {"padding": 7}
    return w.build(), ["%s: the graph has a cycle: 1 nodes depend on their own outputs" % f,
                       node_prefix(f, 0, "conv", "conv2d") + "attribute 'padding' must be one of \"valid\", \"same\""]


@case("shape_dim_not_integer", kind="shape/dim")
def _(f):
    w = tiny()
    w.tensor("x")["shape"] = [1, 8.5, 8, 3]
    return w.build(), ["%s: tensor 'x': dimension 1 must be an integer in 1..2147483647" % f]


@case("shape_dim_1e400", kind="shape/dim")
def _(f):
    w = tiny()
    text = w.build().decode("latin-1")  # noqa: F841 (layout side effects)
    obj = w.json_object()
    raw = json.dumps(obj, separators=(",", ":")).replace('"shape":[1,8,8,3]', '"shape":[1,1e400,8,3]', 1)
    return w.build(raw_json=raw), ["%s: tensor 'x': dimension 1 must be an integer in 1..2147483647" % f]


@case("tensor_not_an_object", kind="tensor/structure")
def _(f):
    w = tiny()
    w.add_tensor(17)
    return w.build(check=False), ["%s: tensor 5: every tensor needs a \"name\" of 1..255 bytes" % f]


@case("node_inputs_not_a_list", kind="graph/structure")
def _(f):
    w = tiny()
    w.nodes[1]["inputs"] = "y"
    return w.build(), [node_prefix(f, 1, "sig", "logistic") + "\"inputs\" must be a list of at most 1024 tensor names"]


@case("concat_no_inputs", kind="graph/arity")
def _(f):
    w = two_inputs([1, 4, 4, 2], [1, 4, 4, 2])
    w.nodes[0]["inputs"] = []
    w.outputs = ["out", "a"]
    return w.build(), [node_prefix(f, 0, "cat", "concat") + "has 0 inputs, concat takes 1..1024"]


# ---- pipeline ----

@case("pipeline_input_size_mismatch", kind="pipeline/input")
def _(f):
    return ssd(width=300, height=300).build(), [
        "%s: pipeline: the pipeline resizes images to 300x300 RGB, but input 'image' has shape [1, 4, 4, 3] (NHWC); "
        "make the pipeline's width/height match the input tensor [1, height, width, 3]" % f]


@case("pipeline_unknown_kind", kind="pipeline/kind")
def _(f):
    w = ssd()
    w.pipeline["kind"] = "yolo9000"
    return w.build(), ["%s: pipeline: \"kind\" is missing or unknown; detc knows: ssd" % f]


@case("pipeline_output_not_f32", kind="pipeline/output")
def _(f):
    w = ssd()
    w.pipeline["outputs"]["boxes"] = "box_raw"
    return w.build(), ["%s: pipeline: output \"boxes\" 'box_raw' is f32 of rank 4, expected f32 of rank 3" % f]


@case("pipeline_output_not_graph_output", kind="pipeline/output")
def _(f):
    """The pipeline reads a tensor the memory plan reuses (issue 14 case 3): one edit of "outputs"."""
    w = ssd()
    w.outputs = ["det_classes", "det_scores", "det_count"]
    return w.build(), [
        "%s: pipeline: output \"boxes\" names tensor 'det_boxes', which is not a graph output: its memory is "
        "reused once the graph no longer needs it" % f]


@case("pipeline_output_intermediate", kind="pipeline/output")
def _(f):
    w = ssd()
    w.pipeline["outputs"]["boxes"] = "box_enc"
    return w.build(), ["%s: pipeline: output \"boxes\" names tensor 'box_enc', which is not a graph output" % f]


# ---- labels ----

@case("labels_not_strings", problems=2, kind="labels")
def _(f):
    w = ssd()
    w.labels = ["???", 7, None]
    return w.build(), ["%s: \"labels\"[1] is a number; class names must be strings" % f,
                       "%s: \"labels\"[2] is null; class names must be strings" % f]


@case("labels_not_a_list", kind="labels")
def _(f):
    w = ssd()
    w.labels = None
    w.extra["labels"] = {"0": "cat"}
    return w.build(), ["%s: \"labels\" is an object; it must be a list of class names (strings)" % f]


# ---- data checksum (weights/FORMAT.md 2.0) ----

@case("good_no_checksum", problems=0, exit=0, kind="good")
def _(f):
    """Written as converters before the checksum did: still valid."""
    return ssd().build(checksum=False), ["%s: valid: 6 nodes" % f, "data section: no checksum in the file"]


@case("checksum_weight_bit_flip", kind="checksum")
def _(f):
    """One flipped bit in a weight: structurally valid, caught only by the CRC-32 (issue 14 case 8)."""
    blob = bytearray(ssd().build())
    _jl, doff, _dlen = header(bytes(blob))
    blob[doff + 5] ^= 0x10
    return bytes(blob), ["%s: the data section (" % f, "the weights are corrupt"]


@case("checksum_malformed", kind="checksum")
def _(f):
    w = ssd()
    w.extra["data_crc32"] = "0x1234"
    return w.build(), ["%s: \"data_crc32\" must be an integer in 0..4294967295" % f]


# ---- several independent problems in one file ----

@case("multi_4_dtype_stride_padding_undefined", problems=4, kind="multi")
def _(f):
    """Four independent branches, each broken differently."""
    w = DetcWriter(name="multi4", producer="gen_zoo")
    w.add_activation("x", "f32", [1, 8, 8, 3])
    w.add_constant("wa", "f32", [4, 3, 3, 3], _arr([4, 3, 3, 3], np.float32, 1))
    w.add_constant("wb", "f32", [4, 3, 3, 3], _arr([4, 3, 3, 3], np.float32, 2))
    w.add_tensor({"name": "junk", "dtype": "q4", "shape": [3]})
    for n in ("ya", "yb", "s"):
        w.add_activation(n, "f32")
    w.add_node("conv_a", "conv2d", ["x", "wa", ""], ["ya"], {"stride": [1, 0]})
    w.add_node("conv_b", "conv2d", ["x", "wb", ""], ["yb"], {"padding": "SAME"})
    w.add_node("sig", "logistic", ["x_typo"], ["s"])
    w.inputs, w.outputs = ["x"], ["ya", "yb", "s"]
    return w.build(check=False), [
        "%s: tensor 'junk': dtype 'q4' is not one of %s" % (f, DTYPE_LIST),
        node_prefix(f, 0, "conv_a", "conv2d") + "attribute 'stride'[1] must be an integer in 1..64",
        node_prefix(f, 1, "conv_b", "conv2d") + "attribute 'padding' must be one of \"valid\", \"same\"",
        node_prefix(f, 2, "sig", "logistic") + "input 0 'x_typo' is not defined",
    ]


@case("multi_3_overlap_zero_point_unknown_op", problems=3, kind="multi")
def _(f):
    w = tiny_u8()
    w.tensor("b")["offset"] = 64  # u8 w is 108 bytes at 0..108

    w.tensor("y")["quant"] = {"scale": [0.05], "zero_point": [-1], "axis": -1}
    w.nodes[1]["op"] = "softmax2"
    return w.build(check=False), [
        "%s: constants 'w' (bytes 0..108) and 'b' (bytes 64..80) overlap in the data section" % f,
        "%s: tensor 'y': quant zero_point[0] is -1, expected an integer in u8's range 0..255" % f,
        "%s: node 1 'sig': unknown op 'softmax2'" % f,
    ]


@case("multi_3_concat_reshape_input_shape", problems=3, kind="multi")
def _(f):
    w = DetcWriter(name="multi3", producer="gen_zoo")
    w.add_activation("a", "f32", [1, 4, 4, 2])
    w.add_activation("b", "f32", [1, 4, 3, 2])
    w.add_activation("c", "f32")  # graph input without shape
    for n in ("ab", "a_flat", "c_sig"):
        w.add_activation(n, "f32")
    w.add_node("cat", "concat", ["a", "b"], ["ab"], {"axis": -1})
    w.add_node("flatten", "reshape", ["a"], ["a_flat"], {"shape": [1, 33]})
    w.add_node("sig", "logistic", ["c"], ["c_sig"])
    w.inputs, w.outputs = ["a", "b", "c"], ["ab", "a_flat", "c_sig"]
    return w.build(), [
        "%s: graph input 'c' has no \"shape\"" % f,
        node_prefix(f, 0, "cat", "concat") + "input 1 'b' (graph input) has shape [1, 4, 3, 2], which does not "
        "match input 0's [1, 4, 4, 2] outside axis 3",
        node_prefix(f, 1, "flatten", "reshape") + "the input [1, 4, 4, 2] has 32 elements",
    ]


@case("multi_2_quant_conv", problems=2, kind="multi")
def _(f):
    """One node, two independent quantization problems: input and filter without quant."""
    return tiny_u8(x_quant=None, w_quant=None).build(), [
        node_prefix(f, 0, "conv", "conv2d") + "input 0 'x' (graph input) (input) is u8 without quantization "
        "parameters, expected a per-tensor scale and zero point",
        node_prefix(f, 0, "conv", "conv2d") + "input 1 'w' (constant) (filter) is u8 without quantization "
        "parameters",
    ]


@case("multi_2_cycle_and_bad_op", problems=2, kind="multi")
def _(f):
    """A cycle in one part of the graph must not hide an op problem in another."""
    w = tiny(conv_attrs={"stride": [1, 1], "padding": "same", "dilation": [0, 1]})
    for n in ("p", "q"):
        w.add_activation(n, "f32")
    w.add_node("loop_p", "logistic", ["q"], ["p"])
    w.add_node("loop_q", "logistic", ["p"], ["q"])
    w.outputs = ["out", "q"]
    return w.build(), [
        node_prefix(f, 0, "conv", "conv2d") + "attribute 'dilation'[0] must be an integer in 1..64",
        "%s: the graph has a cycle: 2 nodes depend on their own outputs, directly or through other nodes: "
        "2 'loop_p' (logistic), 3 'loop_q' (logistic)" % f,
    ]


@case("multi_2_op_and_pipeline", problems=2, kind="multi")
def _(f):
    """A graph problem must not hide a pipeline problem."""
    w = ssd(width=320, height=320)
    w.nodes[2]["attrs"] = {"shape": [1, 17, 4]}  # box_reshape: 64 elements, not 68
    return w.build(), [
        node_prefix(f, 2, "box_reshape", "reshape") + "the input [1, 4, 4, 4] has 64 elements",
        "%s: pipeline: the pipeline resizes images to 320x320 RGB, but input 'image' has shape [1, 4, 4, 3]" % f,
    ]


# ---------------------------------------------------------------------------------------------
# fuzz-ish mutants of a valid small model: no expectation but "exit 0 or 1, a message, no crash, fast"

def mutants():
    base = tiny_u8().build()
    jl, doff, dlen = header(base)
    rng = random.Random(20240611)
    out = []
    for i in range(16):
        b = bytearray(base)
        how = i % 4
        if how == 0:      # flip bits in the fixed header
            for _ in range(rng.randint(1, 3)):
                b[rng.randrange(8, 32)] ^= 1 << rng.randrange(8)
            what = "header bit flips"
        elif how == 1:    # flip bytes in the JSON header
            for _ in range(rng.randint(1, 4)):
                b[32 + rng.randrange(jl)] = rng.randrange(256)
            what = "JSON byte flips"
        elif how == 2:    # replace one digit of the JSON by another (keeps it parseable, changes numbers)
            digits = [k for k in range(32, 32 + jl) if chr(b[k]).isdigit()]
            for _ in range(rng.randint(1, 3)):
                k = rng.choice(digits)
                b[k] = ord(str(rng.randrange(10)))
            what = "JSON digit changes"
        else:             # truncate anywhere, then possibly fix the header so it gets further
            cut = rng.randrange(0, len(b))
            b = b[:cut]
            if cut > 32 and rng.random() < 0.5:
                struct.pack_into("<Q", b, 24, max(0, cut - doff))
            what = "truncation at %d" % cut
        out.append(("fuzz_%02d" % i, bytes(b), what))
    return out


def generate(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    expected = {}
    for c in CASES:
        f = c["file"]
        blob, expect = c["fn"](f)
        with open(os.path.join(out_dir, f), "wb") as fh:
            fh.write(blob)
        expected[f] = {"exit": c["exit"], "expect": expect, "problems": c["problems"], "kind": c["kind"],
                       "fuzz": False}
    for name, blob, what in mutants():
        f = name + ".detc"
        with open(os.path.join(out_dir, f), "wb") as fh:
            fh.write(blob)
        expected[f] = {"exit": [0, 1], "expect": [], "problems": None, "kind": "fuzz/" + what, "fuzz": True,
                       "max_seconds": 2.0}
    with open(os.path.join(out_dir, "expected.json"), "w") as fh:
        json.dump(expected, fh, indent=1, sort_keys=True)
        fh.write("\n")
    return expected


def main(argv):
    out_dir = argv[1] if len(argv) > 1 else os.path.join(ROOT, "build", "zoo")
    expected = generate(out_dir)
    bad = sum(1 for e in expected.values() if e["exit"] == 1)
    good = sum(1 for e in expected.values() if e["exit"] == 0)
    fuzz = sum(1 for e in expected.values() if e["fuzz"])
    print("wrote %d bad, %d good, %d fuzz models to %s" % (bad, good, fuzz, out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
