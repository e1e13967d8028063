#!/usr/bin/python3
"""Tests of tools/detc-convert's TensorFlow front end and its protobuf reader.

Run: /usr/bin/python3 tests/test_convert_tf.py   (prints "N passed, M failed[, K skipped]" last)

Inputs are built here with a small protobuf *encoder* of this file's own (so the reader under test never
reads what it wrote itself); the .detc files produced are read back with an independent .detc reader
(weights/FORMAT.md is the reference) and checked against values computed here with numpy from
TensorFlow's documented semantics (SAME padding with the smaller half first, FusedBatchNorm, MIN_FIRST
Dequantize, OpenCV's PriorBox). When DETC_BIN (default build/detc) exists, small converted graphs are also
run and compared with a numpy float64 reference of the TensorFlow graph (tolerance 1e-4 absolute).
The res10 tests need ../shared/models and are skipped, saying so, when it is absent.
"""

import json
import os
import random
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from detc_convert import from_tf, protobuf  # noqa: E402
from detc_convert.errors import ConvertError  # noqa: E402
from detc_convert.protobuf import ProtobufError  # noqa: E402
from scratch import scratch_dir  # noqa: E402

SHARED = os.path.join(os.path.dirname(ROOT), "shared", "models", "opencv_face_ssd_res10")
PB = os.path.join(SHARED, "opencv_face_detector_uint8.pb")
PBTXT = os.path.join(SHARED, "opencv_face_detector.pbtxt")
CONVERT = os.path.join(ROOT, "tools", "detc-convert")
DETC = os.environ.get("DETC_BIN", os.path.join(ROOT, "build", "detc"))
TMP = scratch_dir("detc_convert_tf_test_")
DT_FLOAT, DT_INT32, DT_UINT8, DT_INT64, DT_BOOL, DT_QUINT8, DT_HALF = 1, 3, 4, 9, 10, 12, 19
SKIPPED = []


class Skip(Exception):
    pass


# -- an independent protobuf encoder ---------------------------------------------------------------------
def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(num, wire):
    return varint((num << 3) | wire)


def f_int(num, v):
    return key(num, 0) + varint(v)


def f_bytes(num, b):
    b = b.encode() if isinstance(b, str) else b
    return key(num, 2) + varint(len(b)) + b


def f_f32(num, x):
    return key(num, 5) + struct.pack("<f", x)


def f_f64(num, x):
    return key(num, 1) + struct.pack("<d", x)


def packed_ints(num, vals):
    return f_bytes(num, b"".join(varint(v) for v in vals))


def packed_f32(num, vals):
    return f_bytes(num, struct.pack("<%df" % len(vals), *vals))


def tensor_proto(arr, dtype, content=True):
    arr = np.asarray(arr)
    shape = b"".join(f_bytes(2, f_int(1, d)) for d in arr.shape)
    out = f_int(1, dtype) + f_bytes(2, shape)
    if content:
        npdt = {DT_FLOAT: "<f4", DT_INT32: "<i4", DT_UINT8: "u1", DT_QUINT8: "u1", DT_INT64: "<i8"}[dtype]
        out += f_bytes(4, arr.astype(npdt).tobytes())
    elif dtype == DT_FLOAT:
        out += packed_f32(5, [float(v) for v in arr.ravel()])
    else:
        out += packed_ints(7, [int(v) for v in arr.ravel()])
    return out


def a_s(s):
    return f_bytes(2, s)


def a_i(i):
    return f_int(3, i)


def a_f(x):
    return f_f32(4, x)


def a_b(b):
    return f_int(5, 1 if b else 0)


def a_type(t):
    return f_int(6, t)


def a_ints(vals):
    return f_bytes(1, packed_ints(3, vals))


def a_tensor(arr, dtype=DT_FLOAT, content=True):
    return f_bytes(8, tensor_proto(arr, dtype, content))


def a_shape(dims):
    return f_bytes(7, b"".join(f_bytes(2, f_int(1, d)) for d in dims))


def node(name, op, inputs=(), **attrs):
    out = f_bytes(1, name) + f_bytes(2, op)
    for i in inputs:
        out += f_bytes(3, i)
    for k, v in attrs.items():
        out += f_bytes(5, f_bytes(1, k) + f_bytes(2, v))
    return f_bytes(1, out)  # GraphDef.node


def const(name, arr, dtype=DT_FLOAT):
    return node(name, "Const", value=a_tensor(arr, dtype), dtype=a_type(dtype))


def quantized_const(name, real, rng):
    """TF quantize_weights: uint8 const + min/max + Dequantize(MIN_FIRST). Returns (bytes, q, lo, hi)."""
    lo, hi = float(min(real.min(), 0.0)), float(max(real.max(), 0.0))
    q = rng.integers(0, 256, real.shape).astype(np.uint8)
    g = const(name + "_quantized_const", q, DT_QUINT8)
    g += const(name + "_quantized_min", np.array(lo, np.float32))
    g += const(name + "_quantized_max", np.array(hi, np.float32))
    g += node(name, "Dequantize", [name + "_quantized_const", name + "_quantized_min", name + "_quantized_max"],
              T=a_type(DT_QUINT8), mode=a_s("MIN_FIRST"))
    return g, q, np.float32(lo), np.float32(hi)


def min_first(q, lo, hi):
    """TensorFlow's QuantizedToFloat for quint8, MIN_FIRST: (real values, scale, zero point)."""
    scale = np.float32(np.float32(hi - lo) / np.float32(255))
    zp = -int(np.rint(np.float32(lo / scale)))
    return (q.astype(np.float64) - zp) * np.float64(scale), float(scale), zp


# -- an independent .detc reader -------------------------------------------------------------------------
NP = {"f32": "<f4", "u8": "u1", "i8": "i1", "i32": "<i4", "i64": "<i8", "f16": "<f2"}


def read_detc(path):
    data = open(path, "rb").read()
    magic, version, jlen, doff, dlen = struct.unpack_from("<8sIIQQ", data, 0)
    assert magic == b"DETCMODL" and version == 1 and doff % 64 == 0 and doff + dlen == len(data)
    j = json.loads(data[32:32 + jlen].decode("utf-8"))
    tensors = {}
    for t in j["tensors"]:
        assert t["name"] not in tensors
        if "offset" in t:
            n = int(np.prod(t["shape"])) if t["shape"] else 1
            assert t["offset"] % 64 == 0 and t["length"] == n * np.dtype(NP[t["dtype"]]).itemsize
            t["value"] = np.frombuffer(data[doff + t["offset"]:doff + t["offset"] + t["length"]],
                                       NP[t["dtype"]]).reshape(t["shape"])
        tensors[t["name"]] = t
    produced = {}
    for n in j["nodes"]:
        for o in n["outputs"]:
            assert o not in produced and o in tensors and "offset" not in tensors[o], o
            produced[o] = n
        for i in n["inputs"]:
            assert i == "" or i in tensors, (n["name"], i)
    return j, tensors, produced


def real_filter(tensors, produced, name):
    """The f32 values a filter operand has at run time (through a cast node if there is one)."""
    t = tensors[name]
    if "value" in t:
        return t["value"].astype(np.float64)
    n = produced[name]
    assert n["op"] == "cast", n
    src = tensors[n["inputs"][0]]
    q = src["quant"]
    v = src["value"].astype(np.float64)
    s = np.array(q["scale"], np.float32).astype(np.float64)
    z = np.array(q["zero_point"], np.float64)
    if q["axis"] >= 0:
        shp = [1] * v.ndim
        shp[q["axis"]] = -1
        s, z = s.reshape(shp), z.reshape(shp)
    return (v - z) * s


# -- helpers ---------------------------------------------------------------------------------------------
def run(*args, timeout=300):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def convert(src, out, *extra):
    rc, _o, err = run(CONVERT, "tf", src, "-o", out, *extra)
    assert rc == 0, "conversion failed (%d): %s" % (rc, err)
    return read_detc(out)


def write(name, data):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def expect_clean_failure(args, must_contain=()):
    rc, out, err = run(CONVERT, *args)
    assert rc == 1, "expected exit 1, got %d; stderr: %s" % (rc, err)
    assert "Traceback" not in err + out and err.startswith("detc-convert: error:"), err
    for s in must_contain:
        assert s in err, "%r not in: %s" % (s, err)
    return err


def detc_can_run(model):
    """True when DETC_BIN exists and knows every op of the model; else records why and returns False."""
    if not os.path.exists(DETC):
        SKIPPED.append("%s not found: numeric checks skipped" % DETC)
        return False
    rc, out, err = run(DETC, "validate", model)
    if rc != 0 and "unknown op" in out + err:
        SKIPPED.append("detc lacks an op: %s" % (out + err).strip().splitlines()[0][:160])
        return False
    assert rc == 0, out + err
    return True


def detc_run(model, inputs):
    d = tempfile.mkdtemp(dir=TMP)
    args = [DETC, "run", model, "--dump", d]
    for name, arr in inputs.items():
        path = os.path.join(d, "in_%s.npy" % name)
        np.save(path, arr)
        args += ["--input", "%s=%s" % (name, path)]
    rc, out, err = run(*args)
    assert rc == 0, out + err
    man = json.load(open(os.path.join(d, "manifest.json")))
    return {t["name"]: np.load(os.path.join(d, t["file"])) for t in man["tensors"]}


# numpy float64 reference of the TF ops used below (NHWC, HWIO filters)
def same_pads(n, k, s, d=1):
    o = -(-n // s)
    total = max((o - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def ref_conv(x, w, stride, padding, dilation=(1, 1), depthwise=False):
    kh, kw = w.shape[:2]
    if padding == "SAME":
        pt, pb = same_pads(x.shape[1], kh, stride[0], dilation[0])
        pl, pr = same_pads(x.shape[2], kw, stride[1], dilation[1])
    else:
        pt, pb, pl, pr = padding
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    oh = (xp.shape[1] - (kh - 1) * dilation[0] - 1) // stride[0] + 1
    ow = (xp.shape[2] - (kw - 1) * dilation[1] - 1) // stride[1] + 1
    co = w.shape[2] * w.shape[3] if depthwise else w.shape[3]
    out = np.zeros((x.shape[0], oh, ow, co))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i * dilation[0]:i * dilation[0] + (oh - 1) * stride[0] + 1:stride[0],
                       j * dilation[1]:j * dilation[1] + (ow - 1) * stride[1] + 1:stride[1], :]
            if depthwise:
                out += np.repeat(patch, w.shape[3], axis=3) * w[i, j].reshape(-1)
            else:
                out += patch @ w[i, j]
    return out


def ref_maxpool(x, k, s):
    pt, pb = same_pads(x.shape[1], k, s)
    pl, pr = same_pads(x.shape[2], k, s)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=-np.inf)
    oh, ow = -(-x.shape[1] // s), -(-x.shape[2] // s)
    out = np.full((x.shape[0], oh, ow, x.shape[3]), -np.inf)
    for i in range(k):
        for j in range(k):
            out = np.maximum(out, xp[:, i:i + (oh - 1) * s + 1:s, j:j + (ow - 1) * s + 1:s, :])
    return out


# -- protobuf reader ---------------------------------------------------------------------------------------
def test_varints_decode_to_64_bits_and_refuse_overlong_or_truncated():
    for v in (0, 1, 127, 128, 300, 2**31 - 1, 2**32, 2**63, 2**64 - 1):
        enc = varint(v)
        assert protobuf.read_varint(enc, 0, len(enc)) == (v, len(enc)), v
    assert len(varint(2**64 - 1)) == 10
    for bad, what in ((b"\x80", "truncated"), (b"\xff" * 10 + b"\x01", "longer than 10 bytes"),
                      (b"\xff" * 9 + b"\x02", "does not fit in 64 bits")):
        try:
            protobuf.read_varint(b"\x00" + bad, 1, len(bad) + 1)
            raise AssertionError("accepted %r" % bad)
        except ProtobufError as e:
            assert what in str(e) and "byte offset 1" in str(e), str(e)


def test_all_wire_types_packed_and_unpacked_fields():
    msg = (f_int(1, DT_INT32) + f_int(1, DT_FLOAT)          # last value wins
           + f_bytes(4, b"\x01\x02")
           + f_f32(5, 1.5) + packed_f32(5, [2.5, -3.0])      # float_val: unpacked then packed
           + f_f64(6, 0.25)                                  # double_val, I64
           + f_int(7, -1) + packed_ints(7, [5, -7, 2**31 - 1])  # int_val: 10-byte negative varints
           + packed_ints(10, [-(2**63), 2**63 - 1])          # int64_val
           + f_int(11, 1) + f_int(11, 0)                     # bool_val
           + key(99, 0) + varint(5) + key(98, 1) + b"\0" * 8 + key(97, 5) + b"\0" * 4
           + f_bytes(96, b"xyz") + key(95, 3) + f_int(1, 1) + key(95, 4))   # unknown fields, a group
    d = protobuf.decode("TensorProto", msg)
    assert d["dtype"] == DT_FLOAT and d["tensor_content"] == b"\x01\x02"
    assert d["float_val"] == [1.5, 2.5, -3.0] and d["double_val"] == [0.25]
    assert d["int_val"] == [-1, 5, -7, 2**31 - 1], d["int_val"]
    assert d["int64_val"] == [-(2**63), 2**63 - 1] and d["bool_val"] == [True, False]
    assert set(d) == {"dtype", "tensor_content", "float_val", "double_val", "int_val", "int64_val", "bool_val"}


def test_malformed_messages_are_refused_with_byte_offsets():
    cases = [
        (b"\x22\x05ab", "length 5 runs past the end", 1),              # tensor_content longer than the message
        (f_int(1, 1) + b"\x0f", "invalid wire type 7", 2),
        (b"\x00\x01", "invalid field number 0", 0),
        (f_int(1, 1) + key(5, 4), "end-group for field 5", 2),
        (key(9, 3) + f_int(1, 1), "not closed", 3),
        (f_int(1, 1) + f_bytes(5, b"\0" * 5), "not a multiple of 4", 4),   # packed float_val of 5 bytes
        (f_int(1, 1) + f_bytes(1, b"x"), "expected VARINT", 2),           # dtype sent as LEN
        (f_int(1, 1) + key(5, 5) + b"\0\0", "runs past the end", 3),
    ]
    for data, what, offset in cases:
        try:
            protobuf.decode("TensorProto", data)
            raise AssertionError("accepted %r" % data)
        except ProtobufError as e:
            assert what in str(e), (what, str(e))
            assert "byte offset %d" % offset in str(e), (offset, str(e))
    # errors inside nested messages name the field path and the absolute offset
    g = f_bytes(1, f_bytes(1, "n") + f_bytes(5, f_bytes(1, "value") + f_bytes(2, f_bytes(8, b"\x22\x09"))))
    try:
        protobuf.decode("GraphDef", g)
        raise AssertionError("accepted")
    except ProtobufError as e:
        assert 'GraphDef.node[0].attr["value"].value.tensor' in str(e), str(e)
        assert "byte offset %d" % (len(g) - 1) in str(e), str(e)


def test_text_format_parses_opencv_style_graphs_and_reports_line_and_column():
    text = r'''# a comment
node {
  name: "a" "b"   # adjacent strings concatenate
  op: 'Const'
  input: "x:1"
  input: "^ctl"
  attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 2 } }
         float_val: 1.00099996416e-05 float_val: -2.5E+1 } } }
  attr { key: "l" value: < list { i: [1, -2, 0x10] f: [0.5, inf] } > }
  attr { key: "s" value { s: "tab\there \"q\" \101\x42" } }
  attr { key: "t" value { type: 3 } }
  attr { key: "b" value { b: true } };
}
node { name: "z" op: "NoOp" }
'''
    g = protobuf.parse_text("GraphDef", text)
    n = g["node"][0]
    assert n["name"] == "ab" and n["op"] == "Const" and n["input"] == ["x:1", "^ctl"]
    attrs = {e["key"]: e["value"] for e in n["attr"]}
    t = attrs["value"]["tensor"]
    assert t["dtype"] == DT_FLOAT and t["tensor_shape"]["dim"][0]["size"] == 2
    assert t["float_val"] == [float(np.float32(1.00099996416e-05)), -25.0]
    assert attrs["l"]["list"]["i"] == [1, -2, 16] and attrs["l"]["list"]["f"] == [0.5, float("inf")]
    assert attrs["s"]["s"] == b'tab\there "q" AB' and attrs["t"]["type"] == 3 and attrs["b"]["b"] is True
    assert g["node"][1]["op"] == "NoOp"
    for bad, what, where in (('node { nme: "a" }', "has no field 'nme'", "line 1 column 8"),
                             ('node {\n  name: "a\n}', "not closed", "line 2 column 9"),
                             ('node { name: "a"', "missing '}'", "line 1 column 17"),
                             ('node { attr { value { type: DT_NOPE } } }', "unknown enum value", "column 29"),
                             ('node { name: 5 }', "expected a quoted string", "column 14")):
        try:
            protobuf.parse_text("GraphDef", bad)
            raise AssertionError("accepted %r" % bad)
        except ProtobufError as e:
            assert what in str(e) and where in str(e), (what, where, str(e))


def test_tensor_protos_decode_content_and_value_lists():
    dec = lambda b: protobuf.decode("TensorProto", b)  # noqa: E731
    arr = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    assert np.array_equal(from_tf.tensor_from_proto(dec(tensor_proto(arr, DT_FLOAT)), "t"), arr)
    assert np.array_equal(from_tf.tensor_from_proto(dec(tensor_proto(arr, DT_FLOAT, False)), "t"), arr)
    # fewer values than elements: the last one repeats; none: zeros (TensorFlow's MakeTensorFromProto)
    short = f_int(1, DT_INT32) + f_bytes(2, f_bytes(2, f_int(1, 4))) + packed_ints(7, [7, -3])
    assert from_tf.tensor_from_proto(dec(short), "t").tolist() == [7, -3, -3, -3]
    empty = f_int(1, DT_FLOAT) + f_bytes(2, f_bytes(2, f_int(1, 3)))
    assert from_tf.tensor_from_proto(dec(empty), "t").tolist() == [0, 0, 0]
    half = f_int(1, DT_HALF) + f_bytes(2, f_bytes(2, f_int(1, 2))) + packed_ints(13, [0x3C00, 0xC000])
    assert from_tf.tensor_from_proto(dec(half), "t").tolist() == [1.0, -2.0]
    q = f_int(1, DT_QUINT8) + f_bytes(2, f_bytes(2, f_int(1, 2))) + packed_ints(7, [0, 255])
    got = from_tf.tensor_from_proto(dec(q), "t")
    assert got.dtype == np.uint8 and got.tolist() == [0, 255]
    i64 = tensor_proto(np.array([-(2**40), 3]), DT_INT64)
    assert from_tf.tensor_from_proto(dec(i64), "t").tolist() == [-(2**40), 3]
    b = f_int(1, DT_BOOL) + f_bytes(2, f_bytes(2, f_int(1, 2))) + packed_ints(11, [1, 0])
    assert from_tf.tensor_from_proto(dec(b), "t").tolist() == [1, 0]
    for bad, what in ((f_int(1, DT_FLOAT) + f_bytes(2, f_bytes(2, f_int(1, 2))) + f_bytes(4, b"\0" * 7), "7 bytes"),
                      (f_int(1, DT_FLOAT) + f_bytes(2, f_bytes(2, f_int(1, 1))) + packed_f32(5, [1, 2]), "2 values"),
                      (f_int(1, 7) + f_bytes(2, b""), "DT_STRING"),
                      (f_int(1, DT_QUINT8) + f_bytes(2, f_bytes(2, f_int(1, 2))) + packed_ints(7, [0, 256]),
                       "outside the range")):
        try:
            from_tf.tensor_from_proto(dec(bad), "constant 'k'")
            raise AssertionError("accepted")
        except ConvertError as e:
            assert what in str(e) and "constant 'k'" in str(e), str(e)


# -- the converter on graphs built here -------------------------------------------------------------------
def small_graph(rng):
    """Placeholder [1,8,10,3] -> Conv2D 3x3/2 SAME (u8 weights) -> BiasAdd -> FusedBatchNorm (one negative,
    one zero scale) -> Relu -> MaxPool 3x3/2 SAME -> DepthwiseConv2dNative x2 -> Relu6 -> Pad -> Conv2D VALID
    -> Reshape -> Softmax. Returns (GraphDef bytes, reference function, facts)."""
    g = node("input", "Placeholder", dtype=a_type(DT_FLOAT), shape=a_shape([1, 8, 10, 3]))
    w_real_shape = (3, 3, 3, 4)
    gq, q, lo, hi = quantized_const("c1/weights", rng.standard_normal(w_real_shape).astype(np.float32) * 0.3, rng)
    g += gq
    bias = rng.standard_normal(4).astype(np.float32)
    gamma = np.array([1.5, -0.7, 0.0, 0.9], np.float32)
    beta, mean = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    var = rng.random(4).astype(np.float32) + 0.5
    dw = rng.standard_normal((3, 3, 4, 2)).astype(np.float32) * 0.5
    w2 = rng.standard_normal((2, 2, 8, 5)).astype(np.float32) * 0.5
    g += const("c1/bias", bias)
    for nm, v in (("bn/gamma", gamma), ("bn/beta", beta), ("bn/mean", mean), ("bn/var", var)):
        g += const(nm, v)
    g += node("c1/Conv2D", "Conv2D", ["input", "c1/weights"], strides=a_ints([1, 2, 2, 1]), padding=a_s("SAME"),
              data_format=a_s("NHWC"), dilations=a_ints([1, 1, 1, 1]))
    g += node("c1/BiasAdd", "BiasAdd", ["c1/Conv2D", "c1/bias"], data_format=a_s("NHWC"))
    g += node("bn", "FusedBatchNorm", ["c1/BiasAdd", "bn/gamma", "bn/beta", "bn/mean", "bn/var"],
              epsilon=a_f(1e-3), is_training=a_b(False))
    g += node("relu", "Relu", ["bn"])
    g += node("ident", "Identity", ["relu"])
    g += node("pool", "MaxPool", ["ident"], ksize=a_ints([1, 3, 3, 1]), strides=a_ints([1, 2, 2, 1]),
              padding=a_s("SAME"))
    g += const("dw/w", dw)
    g += node("dw", "DepthwiseConv2dNative", ["pool", "dw/w"], strides=a_ints([1, 1, 1, 1]), padding=a_s("SAME"))
    g += node("relu6", "Relu6", ["dw"])
    g += const("pad/p", np.array([[0, 0], [1, 0], [0, 1], [0, 0]], np.int32), DT_INT32)
    g += node("pad", "Pad", ["relu6", "pad/p"])
    g += const("c2/w", w2)
    g += node("c2", "Conv2D", ["pad", "c2/w"], strides=a_ints([1, 1, 1, 1]), padding=a_s("VALID"))
    g += const("shape", np.array([1, -1], np.int32), DT_INT32)
    g += node("flat", "Reshape", ["c2", "shape"])
    g += node("prob", "Softmax", ["flat"])
    w_real, scale, zp = min_first(q, lo, hi)
    s = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + np.float64(np.float32(1e-3)))

    def reference(x):
        y = ref_conv(x.astype(np.float64), w_real, (2, 2), "SAME") + bias
        y = np.maximum((y - mean) * s + beta, 0)
        y = ref_maxpool(y, 3, 2)
        y = np.clip(ref_conv(y, dw.astype(np.float64), (1, 1), "SAME", depthwise=True), 0, 6)
        y = ref_conv(np.pad(y, ((0, 0), (1, 0), (0, 1), (0, 0))), w2.astype(np.float64), (1, 1), (0, 0, 0, 0))
        y = y.reshape(1, -1)
        e = np.exp(y - y.max())
        return e / e.sum()
    return g, reference, {"q": q, "scale": scale, "zp": zp, "s": s, "bias": bias, "beta": beta, "mean": mean}


def test_small_graph_folds_batchnorm_keeps_u8_weights_and_matches_tensorflow_semantics():
    rng = np.random.default_rng(7)
    g, reference, f = small_graph(rng)
    src = write("small.pb", g)
    out = os.path.join(TMP, "small.detc")
    j, tensors, produced = convert(src, out)
    assert j["inputs"] == ["input"] and j["outputs"] == ["prob"], (j["inputs"], j["outputs"])
    ops = [n["op"] for n in j["nodes"]]
    assert ops == ["cast", "conv2d", "max_pool2d", "depthwise_conv2d", "conv2d", "reshape", "softmax"], ops
    conv = j["nodes"][1]
    assert conv["outputs"] == ["relu"] and conv["attrs"]["padding"] == "same" and conv["attrs"]["stride"] == [2, 2]
    assert conv["attrs"]["activation"] == "relu"
    # the filter stays u8: OHWI bytes, per output channel scale*|s|, mirrored bytes for s < 0, zp bytes for s == 0
    qt = tensors[j["nodes"][0]["inputs"][0]]
    assert qt["dtype"] == "u8" and qt["quant"]["axis"] == 0 and qt["shape"] == [4, 3, 3, 3]
    ohwi = np.transpose(f["q"], (3, 0, 1, 2))
    for c in range(4):
        sc = f["s"][c]
        if sc > 0:
            assert np.array_equal(qt["value"][c], ohwi[c]) and qt["quant"]["zero_point"][c] == f["zp"]
        elif sc < 0:
            assert np.array_equal(qt["value"][c], 255 - ohwi[c]) and qt["quant"]["zero_point"][c] == 255 - f["zp"]
        else:
            assert (qt["value"][c] == qt["quant"]["zero_point"][c]).all()
        if sc != 0:
            assert np.float32(qt["quant"]["scale"][c]) == np.float32(f["scale"] * abs(sc)), c
    bias = tensors[conv["inputs"][2]]["value"]
    want = (f["bias"] - f["mean"]) * f["s"] + f["beta"]
    assert np.abs(bias - want).max() <= 1e-6 * np.abs(want).max(), (bias, want)
    # the zero pad before the VALID conv became its explicit padding [top, left, bottom, right]
    assert j["nodes"][4]["attrs"]["padding"] == [1, 0, 0, 1], j["nodes"][4]["attrs"]
    dwn = j["nodes"][3]
    assert dwn["attrs"]["depth_multiplier"] == 2 and dwn["attrs"]["activation"] == "relu6"
    assert tensors[dwn["inputs"][1]]["shape"] == [1, 3, 3, 8]
    if detc_can_run(out):
        x = rng.standard_normal((1, 8, 10, 3)).astype(np.float32)
        got = detc_run(out, {"input": x})["prob"]
        assert np.abs(got - reference(x)).max() < 1e-4, np.abs(got - reference(x)).max()
    # --dequantize-weights: the same filter as f32 values, no cast
    j2, t2, p2 = convert(src, os.path.join(TMP, "small_f32.detc"), "--dequantize-weights")
    assert "cast" not in [n["op"] for n in j2["nodes"]]
    a = real_filter(tensors, produced, conv["inputs"][1])
    b = real_filter(t2, p2, j2["nodes"][0]["inputs"][1])
    assert np.abs(a - b).max() < 1e-6 * np.abs(a).max()


def test_dilated_convolution_and_l2_normalize_patterns():
    rng = np.random.default_rng(3)
    g = node("x", "Placeholder", dtype=a_type(DT_FLOAT), shape=a_shape([1, 9, 9, 4]))
    w = rng.standard_normal((3, 3, 4, 6)).astype(np.float32)
    g += const("w", w)
    g += const("s2b/block", np.array([2, 2], np.int32), DT_INT32)
    g += const("s2b/pad", np.array([[2, 3], [2, 3]], np.int32), DT_INT32)
    g += const("b2s/crops", np.array([[0, 1], [0, 1]], np.int32), DT_INT32)
    g += node("s2b", "SpaceToBatchND", ["x", "s2b/block", "s2b/pad"])
    g += node("conv", "Conv2D", ["s2b", "w"], strides=a_ints([1, 1, 1, 1]), padding=a_s("VALID"))
    g += node("b2s", "BatchToSpaceND", ["conv", "s2b/block", "b2s/crops"])
    g += node("sq", "Square", ["b2s"])
    g += const("axes", np.array([3], np.int32), DT_INT32)
    g += node("sum", "Sum", ["sq", "axes"], keep_dims=a_b(True))
    g += const("eps", np.array(1e-12, np.float32))
    g += node("max", "Maximum", ["sum", "eps"])
    g += node("rsqrt", "Rsqrt", ["max"])
    g += node("l2", "Mul", ["b2s", "rsqrt"])
    g += const("gain", np.arange(1, 7, dtype=np.float32))
    g += node("out", "Mul", ["l2", "gain"])
    out = os.path.join(TMP, "dil.detc")
    j, tensors, produced = convert(write("dil.pb", g), out)
    ops = [n["op"] for n in j["nodes"]]
    assert ops == ["conv2d", "l2_normalize", "mul"], ops
    c = j["nodes"][0]["attrs"]
    # SpaceToBatchND paddings [[2,3],[2,3]] less the crops [[0,1],[0,1]]: a dilation-2 conv padded 2 all round
    assert c["dilation"] == [2, 2] and c["padding"] == [2, 2, 2, 2] and c["stride"] == [1, 1], c
    assert j["nodes"][1]["attrs"]["epsilon"] == float(np.float32(1e-12))
    assert tensors["b2s"]["shape"] == [1, 9, 9, 6] and tensors["out"]["shape"] == [1, 9, 9, 6]
    if detc_can_run(out):
        x = rng.standard_normal((1, 9, 9, 4)).astype(np.float32)
        y = ref_conv(x.astype(np.float64), w.astype(np.float64), (1, 1), (2, 2, 2, 2), (2, 2))
        y = y / np.sqrt(np.maximum((y * y).sum(-1, keepdims=True), 1e-12)) * np.arange(1, 7)
        got = detc_run(out, {"x": x})["out"]
        assert np.abs(got - y).max() < 1e-4, np.abs(got - y).max()


def test_unfused_batchnorm_pattern_folds_into_the_convolution():
    """tf.nn.batch_normalization as separate ops: x * (gamma * rsqrt(var + eps)) + (beta - mean * that)."""
    rng = np.random.default_rng(5)
    g = node("x", "Placeholder", dtype=a_type(DT_FLOAT), shape=a_shape([1, 5, 6, 2]))
    w = rng.standard_normal((3, 3, 2, 3)).astype(np.float32)
    gamma, beta = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    mean, var = rng.standard_normal(3).astype(np.float32), rng.random(3).astype(np.float32) + 0.1
    for nm, v in (("w", w), ("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var),
                  ("eps", np.array(1e-3, np.float32))):
        g += const(nm, v)
    g += node("conv", "Conv2D", ["x", "w"], strides=a_ints([1, 1, 1, 1]), padding=a_s("SAME"))
    g += node("bn/add", "Add", ["var", "eps"]) + node("bn/rsqrt", "Rsqrt", ["bn/add"])
    g += node("bn/mul", "Mul", ["bn/rsqrt", "gamma"]) + node("bn/mul_2", "Mul", ["mean", "bn/mul"])
    g += node("bn/sub", "Sub", ["beta", "bn/mul_2"])
    g += node("bn/mul_1", "Mul", ["conv", "bn/mul"]) + node("bn/add_1", "AddV2", ["bn/mul_1", "bn/sub"])
    g += node("out", "Relu6", ["bn/add_1"])
    out = os.path.join(TMP, "bnpat.detc")
    j, tensors, produced = convert(write("bnpat.pb", g), out)
    assert [n["op"] for n in j["nodes"]] == ["conv2d"], [n["op"] for n in j["nodes"]]
    n = j["nodes"][0]
    assert n["outputs"] == ["out"] and n["attrs"]["activation"] == "relu6"
    s = (np.float32(1) / np.sqrt(var + np.float32(1e-3))).astype(np.float32) * gamma  # folded by TF's own ops
    t = beta - mean * s
    assert np.abs(tensors[n["inputs"][2]]["value"] - t).max() <= 1e-6 * np.abs(t).max()
    filt = real_filter(tensors, produced, n["inputs"][1])
    assert np.abs(filt - np.transpose(w, (3, 0, 1, 2)) * s.reshape(3, 1, 1, 1)).max() < 1e-6
    if detc_can_run(out):
        x = rng.standard_normal((1, 5, 6, 2)).astype(np.float32)
        ref = np.clip(ref_conv(x.astype(np.float64), w.astype(np.float64), (1, 1), "SAME") * s + t, 0, 6)
        got = detc_run(out, {"x": x})["out"]
        assert np.abs(got - ref).max() < 1e-4, np.abs(got - ref).max()


def test_unknown_ops_are_refused_with_names_and_counts():
    g = node("x", "Placeholder", dtype=a_type(DT_FLOAT), shape=a_shape([1, 4]))
    g += node("f1", "Foo", ["x"]) + node("f2", "Foo", ["f1"]) + node("b1", "BarOp", ["f2"])
    g += node("t", "Tanh", ["b1"])
    err = expect_clean_failure(["tf", write("unknown.pb", g), "-o", os.path.join(TMP, "u.detc")])
    assert "unsupported TensorFlow ops: BarOp x1 ('b1'); Foo x2 ('f1', 'f2'); Tanh x1 ('t')" in err, err
    assert "Conv2D" in err  # the list of what is handled


def test_graph_problems_are_reported_together():
    g = node("x", "Placeholder", dtype=a_type(DT_FLOAT), shape=a_shape([1, 4, 4, 2]))
    g += const("w", np.zeros((1, 1, 3, 2), np.float32))
    g += node("c", "Conv2D", ["x", "w"], strides=a_ints([1, 1, 1, 1]), padding=a_s("SAME"))
    g += node("bn", "FusedBatchNorm", ["x", "w", "w", "w", "w"])  # is_training defaults to true
    g += node("s", "Add", ["c", "bn"])
    err = expect_clean_failure(["tf", write("bad.pb", g), "-o", os.path.join(TMP, "b.detc")])
    assert "node 'c' (Conv2D)" in err and "does not match the input's 2 channels" in err, err
    assert "node 'bn' (FusedBatchNorm)" in err and "is_training is true" in err, err
    # 's' fails only because its inputs did: one summary line, not a cascade of "has no value" messages
    assert "node 's'" not in err and "(1 node(s) that depend on these were not converted either)" in err, err
    g2 = node("x", "Placeholder", dtype=a_type(DT_FLOAT)) + node("r", "Relu", ["x"])
    expect_clean_failure(["tf", write("noshape.pb", g2), "-o", os.path.join(TMP, "n.detc")],
                         ["node 'x' (Placeholder)", "--input-shape x=1,HEIGHT,WIDTH,3"])
    rc, _o, err = run(CONVERT, "tf", write("noshape.pb", g2), "-o", os.path.join(TMP, "n.detc"),
                      "--input-shape", "x=1,5,5,2")
    assert rc == 0, err
    g3 = node("x", "Placeholder", dtype=a_type(DT_FLOAT), shape=a_shape([1, 2])) + node("r", "Relu", ["missing"])
    expect_clean_failure(["tf", write("dangling.pb", g3), "-o", os.path.join(TMP, "d.detc")],
                         ["node 'r': input 'missing' is not defined in the graph"])


def test_malformed_pb_files_are_clean_errors():
    out = os.path.join(TMP, "m.detc")
    expect_clean_failure(["tf", write("garbage.pb", b"\x0a\xff\xff\xff\x0f junk"), "-o", out],
                         ["not a readable TensorFlow GraphDef", "byte offset 1"])
    expect_clean_failure(["tf", write("empty.pb", b""), "-o", out], ["the graph has no nodes"])
    expect_clean_failure(["tf", write("textual.pb", b"node { name: 'a' }"), "-o", out],
                         ["not a readable TensorFlow GraphDef"])
    expect_clean_failure(["tf", os.path.join(TMP, "does-not-exist.pb"), "-o", out], ["does-not-exist.pb"])
    expect_clean_failure(["tf", write("ok.pb", node("x", "Placeholder", shape=a_shape([1, 2]))), "-o", out,
                          "--config", write("bad.pbtxt", b"node { name: ")], ["bad.pbtxt", "line 1 column 14"])
    # random damage to a valid graph: always exit 0 or 1, never a traceback or an internal error
    rng = np.random.default_rng(11)
    g, _ref, _f = small_graph(rng)
    r = random.Random(5)
    for i in range(60):
        data = bytearray(g)
        for _ in range(r.randint(1, 4)):
            data[r.randrange(len(data))] = r.randrange(256)
        if i % 3 == 0:
            data = data[:r.randrange(len(data))]
        rc, o, err = run(CONVERT, "tf", write("fuzz.pb", bytes(data)), "-o", out)
        assert rc in (0, 1) and "Traceback" not in o + err, (i, rc, err)


# -- the res10 face detector -----------------------------------------------------------------------------
def pb_consts(path):
    """Const tensors of a GraphDef, read with a minimal decoder of this file's own: name -> (dtype, shape, bytes)."""
    def fields(buf):
        pos, out = 0, []
        while pos < len(buf):
            k, pos = read_v(buf, pos)
            num, wire = k >> 3, k & 7
            if wire == 0:
                v, pos = read_v(buf, pos)
            elif wire == 2:
                n, pos = read_v(buf, pos)
                v, pos = buf[pos:pos + n], pos + n
            elif wire == 5:
                v, pos = buf[pos:pos + 4], pos + 4
            else:
                v, pos = buf[pos:pos + 8], pos + 8
            out.append((num, v))
        return out

    def read_v(buf, pos):
        shift = val = 0
        while True:
            b = buf[pos]
            pos += 1
            val |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return val, pos

    consts = {}
    for num, nd in fields(open(path, "rb").read()):
        if num != 1:
            continue
        f = fields(nd)
        name = next(v for n, v in f if n == 1).decode()
        if next(v for n, v in f if n == 2) != b"Const":
            continue
        for n, entry in f:
            if n == 5:
                e = dict(fields(entry))
                if e[1] == b"value":
                    t = dict(fields(dict(fields(e[2]))[8]))
                    shape = [dict(fields(d)).get(1, 0) for n2, d in fields(t.get(2, b"")) if n2 == 2]
                    consts[name] = (t[1], shape, t.get(4, b""))
    return consts


def opencv_priors(feat, img, min_size, max_size, ars, step, variance=(0.1, 0.1, 0.2, 0.2)):
    """OpenCV PriorBoxLayer (flip true, clip false, offset 0.5), one box at a time in float32."""
    f = np.float32
    sizes = [(f(min_size), f(min_size)), (f(np.sqrt(f(f(min_size) * f(max_size)))),) * 2]
    for ar in ars:
        for r in (f(ar), f(1.0 / ar)):
            sq = f(np.sqrt(r))
            sizes.append((f(f(min_size) * sq), f(f(min_size) / sq)))
    out = []
    for h in range(feat):
        for w in range(feat):
            cx, cy = f(f(f(w) + f(0.5)) * f(step)), f(f(f(h) + f(0.5)) * f(step))
            for bw, bh in sizes:
                out += [f(f(cx - f(bw * f(0.5))) / f(img)), f(f(cy - f(bh * f(0.5))) / f(img)),
                        f(f(cx + f(bw * f(0.5))) / f(img)), f(f(cy + f(bh * f(0.5))) / f(img))]
    return np.array(out, np.float32), np.tile(np.array(variance, np.float32), len(out) // 4)


def needs_res10(fn):
    fn.needs_res10 = True
    return fn


@needs_res10
def test_res10_converts_with_typed_weights_priors_and_detection_output():
    out = os.path.join(TMP, "res10.detc")
    j, tensors, produced = convert(PB, out, "--config", PBTXT, "--preset", "opencv_face_ssd_res10")
    ops = {}
    for n in j["nodes"]:
        ops[n["op"]] = ops.get(n["op"], 0) + 1
    assert ops["conv2d"] == 32 and ops["cast"] >= 32 and ops["ssd_detection_output"] == 1, ops
    # 4 residual adds; the 5 batch norms after an add or on the input: mul + add each; the l2 gain: mul
    assert ops.get("l2_normalize") == 1 and ops["add"] == 9 and ops["mul"] == 6 and ops["max_pool2d"] == 1, ops
    assert j["inputs"] == ["data"] and tensors["data"]["shape"] == [1, 300, 300, 3]
    assert j["outputs"] == ["detection_out", "detection_out:1", "detection_out:2", "detection_out:3"]
    assert j["labels"] == ["background", "face"]
    p = j["pipeline"]
    assert p["kind"] == "ssd" and p["input"]["color"] == "bgr" and p["input"]["mean"] == [104, 177, 123]
    assert p["input"]["std"] == [1, 1, 1] and p["input"]["width"] == 300 and p["input"]["resize"] == "bilinear"
    assert p["outputs"]["box_order"] == "xyxy" and p["outputs"]["class_offset"] == 0
    # a filter no batch norm follows keeps the .pb's bytes (HWIO -> OHWI) and MIN_FIRST quantization
    consts = pb_consts(PB)
    dt, shape, raw = consts["layer_64_1_conv2_h/weights_quantized_const"]
    q = np.frombuffer(raw, np.uint8).reshape(shape)
    lo = np.frombuffer(consts["layer_64_1_conv2_h/weights_quantized_min"][2], "<f4")[0]
    hi = np.frombuffer(consts["layer_64_1_conv2_h/weights_quantized_max"][2], "<f4")[0]
    _real, scale, zp = min_first(q, lo, hi)
    t = tensors["layer_64_1_conv2_h/Conv2D/filter/quantized"]
    assert dt == DT_QUINT8 and t["dtype"] == "u8" and np.array_equal(t["value"], np.transpose(q, (3, 0, 1, 2)))
    assert t["quant"] == {"scale": [scale], "zero_point": [zp], "axis": -1}, (t["quant"], scale, zp)
    # the priors: OpenCV's PriorBox for the six feature maps, concatenated (this graph's conv8_2/conv9_2 are
    # SAME with stride 1, so the last two maps are 5x5 although their steps say 100 and 300)
    pri = tensors["mbox_priorbox"]["value"]
    boxes, var = [], []
    for feat, mn, mx, ars, step in ((38, 30, 60, [2], 8), (19, 60, 111, [2, 3], 16), (10, 111, 162, [2, 3], 32),
                                    (5, 162, 213, [2, 3], 64), (5, 213, 264, [2], 100), (5, 264, 315, [2], 300)):
        b, v = opencv_priors(feat, 300, mn, mx, ars, step)
        boxes.append(b)
        var.append(v)
    assert pri.shape == (1, 2, 35568)
    assert np.array_equal(pri[0, 0], np.concatenate(boxes)) and np.array_equal(pri[0, 1], np.concatenate(var))
    det = next(n for n in j["nodes"] if n["op"] == "ssd_detection_output")
    assert det["inputs"] == ["mbox_loc", "mbox_conf_flatten", "mbox_priorbox"], det["inputs"]
    a = det["attrs"]
    assert (a["num_classes"], a["share_location"], a["background_label_id"], a["code_type"], a["keep_top_k"],
            a["top_k"]) == (2, True, 0, "center_size", 200, 400), a
    assert a["nms_threshold"] == float(np.float32(0.45)) and a["confidence_threshold"] == float(np.float32(0.01))
    assert tensors["mbox_loc"]["shape"] == [1, 35568] and tensors["mbox_conf_flatten"]["shape"] == [1, 17784]


@needs_res10
def test_res10_options_outputs_dequantize_and_missing_shape():
    expect_clean_failure(["tf", PB, "--config", PBTXT, "-o", os.path.join(TMP, "x.detc")],
                         ["node 'data' (Placeholder)", "--input-shape", "--preset"])
    j, tensors, _p = convert(PB, os.path.join(TMP, "res10_f32.detc"), "--config", PBTXT, "--preset",
                             "opencv_face_ssd_res10", "--dequantize-weights")
    assert "cast" not in [n["op"] for n in j["nodes"]]
    assert all(t["dtype"] == "f32" for t in tensors.values() if "value" in t)
    rc, _o, err = run(CONVERT, "tf", PB, "--input-shape", "1,300,300,3", "--outputs", "mbox_loc,mbox_conf_flatten",
                      "-o", os.path.join(TMP, "heads.detc"))
    assert rc == 0 and "no pipeline written" in err, err
    j, tensors, _p = read_detc(os.path.join(TMP, "heads.detc"))
    assert j["outputs"] == ["mbox_loc", "mbox_conf_flatten"] and "pipeline" not in j
    assert "ssd_detection_output" not in [n["op"] for n in j["nodes"]]
    data = open(PB, "rb").read()
    expect_clean_failure(["tf", write("trunc.pb", data[:len(data) // 2]), "-o", os.path.join(TMP, "t.detc")],
                         ["not a readable TensorFlow GraphDef", "runs past the end", "byte offset"])


def test_help_lists_the_tf_front_end():
    rc, out, _e = run(CONVERT, "--help")
    assert rc == 0 and "--dequantize-weights" in out and "--input-shape" in out and "opencv_face_ssd_res10" in out


def main():
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_")]
    have_res10 = os.path.exists(PB) and os.path.exists(PBTXT)
    if not have_res10:
        print("skipping the res10 tests: %s not found (the shared models live in ../shared/models)" % SHARED)
    passed = failed = skipped = 0
    for name, fn in tests:
        if getattr(fn, "needs_res10", False) and not have_res10:
            skipped += 1
            continue
        try:
            fn()
            passed += 1
            print("ok    %s" % name)
        except Exception as e:  # report and go on
            failed += 1
            print("FAIL  %s: %s: %s" % (name, type(e).__name__, e))
    for s in sorted(set(SKIPPED)):
        print("SKIP  part of a test: %s" % s)
    print("%d passed, %d failed%s" % (passed, failed, ", %d skipped" % skipped if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
