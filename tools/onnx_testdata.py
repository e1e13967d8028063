#!/usr/bin/python3
"""ONNX's official node test vectors (Debian package libonnx-testdata) as one-node detc models.

ONNX ships, for every operator, small graphs (`model.onnx`) with inputs and expected outputs
(`test_data_set_N/input_K.pb`, `output_K.pb`, serialized TensorProto). This module reads them with a
hand-written protobuf decoder (no onnx/protobuf package needed) and turns each case whose operator maps
to a detc op into a .detc model plus NHWC inputs and expected outputs:

    Conv (incl. pads/strides/dilations/auto_pad; group 1 -> conv2d, depthwise -> depthwise_conv2d, other groups -> conv2d groups; 1-D as
    2-D with H = 1), MaxPool / AveragePool (ceil_mode as extra end padding, count_include_pad),
    Add / Mul (numpy broadcasting, also opset-1 `broadcast`/`axis`), Pad (constant 0), Relu, Softmax
    (opset < 13 flattens at `axis`: reshape + softmax + reshape), Sigmoid (logistic),
    NonMaxSuppression (non_max_suppression; its max_output_boxes_per_class / iou_threshold /
    score_threshold inputs become attributes; expected rows padded with zeros to detc's capacity),
    RoiAlign (roi_align, one map, avg mode, batch index 0; half_pixel = aligned),
    Resize / Upsample mode nearest over H, W (resize_nearest, rules "onnx"), Resize linear
    tf_crop_and_resize over H, W (roi_align mode tf_crop_and_resize, one box),
    Concat (concat), Reshape / Flatten / Transposes that only move size-1 axes (reshape; Reshape's 0
    "copy this dimension" is resolved here, as a converter would).

ONNX is NCHW, detc NHWC: spatial ops get their inputs/weights transposed and their outputs transposed
back before comparison; elementwise ops, Pad, Softmax, Concat, Reshape and NonMaxSuppression keep
ONNX's layout (they do not care).

    /usr/bin/python3 tools/onnx_testdata.py            # list every case: mapped or why skipped
    /usr/bin/python3 tools/onnx_testdata.py --root DIR  # another copy of onnx/backend/test/data
"""

import argparse
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from detc_convert.writer import DetcWriter  # noqa: E402

DEFAULT_ROOT = "/usr/share/libonnx-testdata/data"
SUITES = ("node", "pytorch-converted", "pytorch-operator")

# ---------------------------------------------------------------------------------------------
# Protobuf wire format


class ProtoError(ValueError):
    pass


def _varint(buf, pos):
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtoError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ProtoError("varint too long")


def parse_message(buf):
    """{field number: [value, ...]}: varints as int, fixed32/64 as raw bytes, length-delimited as bytes."""
    fields = {}
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
        elif wire == 1:
            val, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            val, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            val, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ProtoError("unsupported wire type %d" % wire)
        if pos > len(buf):
            raise ProtoError("truncated field %d" % num)
        fields.setdefault(num, []).append(val)
    return fields


def _signed64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _ints(values):
    """Repeated int64: each entry is a varint or a packed run of varints."""
    out = []
    for v in values:
        if isinstance(v, int):
            out.append(_signed64(v))
        else:
            pos = 0
            while pos < len(v):
                x, pos = _varint(v, pos)
                out.append(_signed64(x))
    return out


def _floats(values):
    out = []
    for v in values:
        out.extend(struct.unpack("<%df" % (len(v) // 4), v))
    return out


def _str(values, default=""):
    return values[-1].decode("utf-8") if values else default


# TensorProto.DataType -> numpy dtype
ONNX_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64,
               9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}


def read_tensor(buf):
    """(name, numpy array) of a serialized TensorProto."""
    f = parse_message(buf)
    dims = _ints(f.get(1, []))
    dtype_code = f.get(2, [0])[-1]
    if dtype_code not in ONNX_DTYPES:
        raise ProtoError("tensor data type %d is not supported" % dtype_code)
    dt = np.dtype(ONNX_DTYPES[dtype_code])
    count = int(np.prod(dims)) if dims else 1
    if 9 in f:
        arr = np.frombuffer(f[9][-1], dtype=dt.newbyteorder("<"))
    elif dtype_code == 1:
        arr = np.array(_floats(f.get(4, [])), dtype=np.float32)
    elif dtype_code == 11:
        arr = np.array([struct.unpack("<d", v)[0] if len(v) == 8 else 0 for v in f.get(10, [])], dtype=np.float64)
        if not len(arr) and f.get(10):
            arr = np.frombuffer(b"".join(f[10]), dtype="<f8")
    elif dtype_code in (7,):
        arr = np.array(_ints(f.get(7, [])), dtype=np.int64)
    elif dtype_code in (12, 13):
        arr = np.array(_ints(f.get(11, [])), dtype=dt)
    elif dtype_code == 10:
        arr = np.array(_ints(f.get(5, [])), dtype=np.uint16).view(np.float16)
    else:
        arr = np.array(_ints(f.get(5, [])), dtype=np.int64).astype(dt)
    if arr.size != count:
        raise ProtoError("tensor %r: %d values for shape %s" % (_str(f.get(8, [])), arr.size, dims))
    return _str(f.get(8, [])), arr.reshape(dims).astype(dt.newbyteorder("="), copy=False)


def _attribute(buf):
    f = parse_message(buf)
    name = _str(f.get(1, []))
    kind = f.get(20, [0])[-1]
    # AttributeType: 1 FLOAT, 2 INT, 3 STRING, 4 TENSOR, 6 FLOATS, 7 INTS, 8 STRINGS
    if kind == 1 or (not kind and 2 in f):
        return name, struct.unpack("<f", f[2][-1])[0]
    if kind == 2 or (not kind and 3 in f):
        return name, _signed64(f[3][-1])
    if kind == 3 or (not kind and 4 in f):
        return name, f[4][-1].decode("utf-8")
    if kind == 4 or (not kind and 5 in f):
        return name, read_tensor(f[5][-1])[1]
    if kind == 6 or (not kind and 7 in f):
        return name, _floats(f.get(7, []))
    if kind == 7 or (not kind and 8 in f):
        return name, _ints(f.get(8, []))
    if kind == 8:
        return name, [s.decode("utf-8") for s in f.get(9, [])]
    return name, None


def read_model(path):
    """{opset, nodes: [{op, inputs, outputs, attrs}], initializers: {name: array}, inputs, outputs}."""
    with open(path, "rb") as fh:
        m = parse_message(fh.read())
    opset = 1
    for o in m.get(8, []):
        of = parse_message(o)
        if _str(of.get(1, [])) in ("", "ai.onnx"):
            opset = _signed64(of.get(2, [1])[-1])
    if 7 not in m:
        raise ProtoError("%s has no graph" % path)
    g = parse_message(m[7][-1])
    nodes = []
    for nb in g.get(1, []):
        nf = parse_message(nb)
        nodes.append({
            "op": _str(nf.get(4, [])),
            "domain": _str(nf.get(7, [])),
            "inputs": [s.decode("utf-8") for s in nf.get(1, [])],
            "outputs": [s.decode("utf-8") for s in nf.get(2, [])],
            "attrs": dict(_attribute(a) for a in nf.get(5, [])),
        })
    inits = dict(read_tensor(t) for t in g.get(5, []))
    names = lambda key: [_str(parse_message(v).get(1, [])) for v in g.get(key, [])]  # noqa: E731
    return {"opset": opset, "nodes": nodes, "initializers": inits, "inputs": names(11), "outputs": names(12)}


def read_case(case_dir):
    """(model, [(inputs list, outputs list)] per test_data_set_N), arrays in graph order."""
    model = read_model(os.path.join(case_dir, "model.onnx"))
    sets = []
    for ds in sorted(d for d in os.listdir(case_dir) if d.startswith("test_data_set_")):
        d = os.path.join(case_dir, ds)

        def load(prefix):
            files = sorted((f for f in os.listdir(d) if f.startswith(prefix) and f.endswith(".pb")),
                           key=lambda f: int(f[len(prefix):-3]))
            out = []
            for f in files:
                with open(os.path.join(d, f), "rb") as fh:
                    out.append(read_tensor(fh.read())[1])
            return out
        sets.append((load("input_"), load("output_")))
    return model, sets


# ---------------------------------------------------------------------------------------------
# Mapping to detc


class Skip(Exception):
    """The case does not map to a detc op; the message says why."""


DETC_DTYPE = {np.dtype(np.float32): "f32", np.dtype(np.uint8): "u8", np.dtype(np.int8): "i8"}


class Case:
    """A converted case: the model, the inputs to feed (name -> array) and the expected outputs."""

    def __init__(self, name):
        self.name = name
        self.writer = DetcWriter(name=name, producer="tools/onnx_testdata.py")
        self.feeds = {}         # detc input name -> array (detc layout)
        self.expected = []      # (detc output name, expected array in detc layout)
        self.op = None          # the detc op under test
        self.tolerance = {}     # detc output name -> (atol, rtol) where the expected values are rounded
        self.n = 0

    def tmp(self, stem):
        self.n += 1
        return "%s_%d" % (stem, self.n)


def _nchw_to_nhwc(a):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def _same_pads(size, k, s, d, upper):
    eff = (k - 1) * d + 1
    out = -(-size // s)
    total = max((out - 1) * s + eff - size, 0)
    small = total // 2
    return (small, total - small) if upper else (total - small, small)


def _window_attrs(node, x_shape, k_shape, out_shape, allow_ceil, kind):
    """stride/dilation/padding attributes (2-D, NHWC) for a Conv or pooling node on NCHW shapes with
    spatial rank 1 or 2. out_shape (NCHW) resolves ceil_mode."""
    a = node["attrs"]
    nsp = len(x_shape) - 2
    strides = list(a.get("strides", [1] * nsp))
    dil = list(a.get("dilations", [1] * nsp))
    pads = list(a.get("pads", [0] * (2 * nsp)))
    auto = a.get("auto_pad", "NOTSET")
    if isinstance(auto, bytes):
        auto = auto.decode()
    sizes = list(x_shape[2:])
    if len(strides) != nsp or len(dil) != nsp or len(pads) != 2 * nsp:
        raise Skip("attribute lengths do not match the %d spatial dimensions" % nsp)
    if any(p < 0 for p in pads):
        raise Skip("negative pads")
    begin, end = pads[:nsp], pads[nsp:]
    padding = None
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        for i in range(nsp):
            begin[i], end[i] = _same_pads(sizes[i], k_shape[i], strides[i], dil[i], auto == "SAME_UPPER")
        if auto == "SAME_UPPER" and nsp == 2:
            padding = "same"   # detc's own TF SAME rule
    elif auto == "VALID":
        begin, end = [0] * nsp, [0] * nsp
        padding = "valid"
    elif auto not in ("NOTSET", ""):
        raise Skip("auto_pad %r" % auto)
    if a.get("ceil_mode", 0):
        if not allow_ceil:
            raise Skip("ceil_mode with count_include_pad")
        for i in range(nsp):
            eff = (k_shape[i] - 1) * dil[i] + 1
            need = (out_shape[2 + i] - 1) * strides[i] + eff - (sizes[i] + begin[i] + end[i])
            end[i] += max(need, 0)
        padding = None
    if nsp == 1:  # 1-D as 2-D with H = 1
        strides, dil, begin, end = [1] + strides, [1] + dil, [0] + begin, [0] + end
    attrs = {"stride": strides, "dilation": dil} if kind == "conv" else {"stride": strides}
    if kind == "pool" and dil != [1, 1]:
        attrs["dilation"] = dil
    attrs["padding"] = padding if padding else [begin[0], begin[1], end[0], end[1]]
    if kind == "conv":
        attrs["activation"] = "none"
    return attrs


def _spatial_in(x):
    """NCHW (or NCW) -> NHWC (NCW as N,1,W,C)."""
    if x.ndim == 3:
        x = x[:, :, None, :]
    return _nchw_to_nhwc(x)


def _spatial_out(y_nchw):
    """Expected NCHW/NCW output -> the NHWC tensor detc produces."""
    return _spatial_in(y_nchw)


def _map_conv(c, node, vals, shapes, out):
    x, w = node["inputs"][0], node["inputs"][1]
    b = node["inputs"][2] if len(node["inputs"]) > 2 and node["inputs"][2] else None
    xs = shapes[x]
    if len(xs) not in (3, 4):
        raise Skip("%d-D convolution" % (len(xs) - 2))
    if w not in vals or (b and b not in vals):
        raise Skip("weights are computed at run time")
    W = vals[w].astype(np.float32)
    if W.ndim == 3:
        W = W[:, :, None, :]
    group = node["attrs"].get("group", 1)
    cin, cout = xs[1], W.shape[0]
    attrs = _window_attrs(node, xs, list(vals[w].shape[2:]), out[1].shape, False, "conv")
    if group == 1:
        op = "conv2d"
        filt = np.ascontiguousarray(W.transpose(0, 2, 3, 1))          # OIHW -> OHWI
    elif group == cin and W.shape[1] == 1 and cout % cin == 0:
        op = "depthwise_conv2d"
        filt = np.ascontiguousarray(W[:, 0].transpose(1, 2, 0)[None])   # [1, KH, KW, C*M]
        attrs["depth_multiplier"] = cout // cin
    elif cin % group == 0 and cout % group == 0 and W.shape[1] == cin // group:
        op = "conv2d"                                                  # grouped: conv2d's `groups`
        filt = np.ascontiguousarray(W.transpose(0, 2, 3, 1))          # [Co, KH, KW, Ci / group]
        attrs["groups"] = int(group)
    else:
        raise Skip("grouped convolution (group %d of %d channels, filter %s) has no detc op"
                   % (group, cin, list(W.shape)))
    c.writer.add_constant("w", "f32", filt.shape, filt)
    ins = ["x", "w"]
    if b:
        c.writer.add_constant("b", "f32", vals[b].shape, vals[b].astype(np.float32))
        ins.append("b")
    c.feeds["x"] = _spatial_in(out[0][x])
    c.writer.add_activation("x", "f32", c.feeds["x"].shape)
    c.writer.add_activation("y", "f32")
    c.writer.add_node("n0", op, ins, ["y"], attrs)
    c.op = op
    return [("y", _spatial_out(out[1]))]


def _map_pool(c, node, vals, shapes, out):
    x = node["inputs"][0]
    xs = shapes[x]
    if len(node["outputs"]) > 1 and node["outputs"][1]:
        raise Skip("MaxPool's Indices output")
    if len(xs) not in (3, 4):
        raise Skip("%d-D pooling" % (len(xs) - 2))
    a = node["attrs"]
    if a.get("storage_order", 0):
        raise Skip("storage_order")
    k = list(a["kernel_shape"])
    avg = node["op"] == "AveragePool"
    include_pad = bool(a.get("count_include_pad", 0)) if avg else False
    attrs = {"kernel": ([1] + k) if len(k) == 1 else k}
    attrs.update(_window_attrs(node, xs, k, out[1].shape, not include_pad, "pool"))
    if avg and include_pad:
        attrs["count_include_pad"] = True
    arr = out[0][x]
    dt = DETC_DTYPE.get(arr.dtype)
    if dt is None or (avg and dt != "f32"):
        raise Skip("%s input" % arr.dtype)
    c.feeds["x"] = _spatial_in(arr)
    c.writer.add_activation("x", dt, c.feeds["x"].shape)
    c.writer.add_activation("y", dt)
    op = "avg_pool2d" if avg else "max_pool2d"
    c.writer.add_node("n0", op, ["x"], ["y"], attrs)
    c.op = op
    return [("y", _spatial_out(out[1]))]


def _operand(c, name, arr, vals):
    """Adds a float operand as constant or input; returns its detc name."""
    if arr.dtype != np.float32:
        raise Skip("%s operands (detc's elementwise ops take f32 or quantized tensors)" % arr.dtype)
    if arr.ndim > 6:
        raise Skip("rank %d" % arr.ndim)
    t = c.tmp("in")
    if name in vals:
        c.writer.add_constant(t, "f32", arr.shape, np.ascontiguousarray(arr))
    else:
        c.feeds[t] = np.ascontiguousarray(arr)
        c.writer.add_activation(t, "f32", arr.shape)
    return t


def _map_binary(c, node, vals, shapes, out):
    a_name, b_name = node["inputs"][:2]
    A, B = out[0][a_name], out[0][b_name]
    at = node["attrs"]
    if at.get("broadcast", 0) and "axis" in at and B.ndim:
        # opset < 7: B's dims line up with A's starting at `axis`; as numpy: trailing 1s
        axis = at["axis"] % A.ndim
        B = B.reshape(B.shape + (1,) * (A.ndim - axis - B.ndim))
        if b_name in vals:
            vals = dict(vals, **{b_name: B})
    ta, tb = _operand(c, a_name, A, vals), _operand(c, b_name, B, vals)
    op = {"Add": "add", "Mul": "mul"}[node["op"]]
    c.writer.add_activation("y", "f32")
    c.writer.add_node("n0", op, [ta, tb], ["y"], {"activation": "none"})
    c.op = op
    return [("y", out[1])]


def _map_unary(c, node, vals, shapes, out):
    x = node["inputs"][0]
    op = {"Relu": "relu", "Sigmoid": "logistic"}[node["op"]]
    t = _operand(c, x, out[0][x], vals)
    c.writer.add_activation("y", "f32")
    c.writer.add_node("n0", op, [t], ["y"], {})
    c.op = op
    return [("y", out[1])]


def _map_softmax(c, node, vals, shapes, out, opset):
    x = node["inputs"][0]
    X = out[0][x]
    t = _operand(c, x, X, vals)
    r = X.ndim
    if opset >= 13:
        axis = node["attrs"].get("axis", -1)
        c.writer.add_activation("y", "f32")
        c.writer.add_node("n0", "softmax", [t], ["y"], {"axis": axis})
    else:
        # opset 1..12: the input is flattened to 2-D at `axis` and the softmax runs over the second part
        axis = node["attrs"].get("axis", 1) % r
        rows = int(np.prod(X.shape[:axis])) if axis else 1
        flat = [rows, int(np.prod(X.shape[axis:]))]
        c.writer.add_activation("flat", "f32")
        c.writer.add_activation("soft", "f32")
        c.writer.add_activation("y", "f32")
        c.writer.add_node("n0", "reshape", [t], ["flat"], {"shape": flat})
        c.writer.add_node("n1", "softmax", ["flat"], ["soft"], {"axis": -1})
        c.writer.add_node("n2", "reshape", ["soft"], ["y"], {"shape": list(X.shape)})
    c.op = "softmax"
    return [("y", out[1])]


def _map_pad(c, node, vals, shapes, out, opset):
    x = node["inputs"][0]
    a = node["attrs"]
    mode = a.get("mode", "constant")
    if mode != "constant":
        raise Skip("Pad mode %r (detc's pad fills a constant 0)" % mode)
    if opset >= 11:
        pads = [int(v) for v in out[0][node["inputs"][1]].reshape(-1)]
        value = 0.0
        if len(node["inputs"]) > 2 and node["inputs"][2]:
            value = float(out[0][node["inputs"][2]].reshape(-1)[0])
    else:
        pads = list(a.get("pads", a.get("paddings", [])))
        value = float(a.get("value", 0.0))
    if value != 0.0:
        raise Skip("Pad constant_value %g (detc's pad fills 0)" % value)
    X = out[0][x]
    r = X.ndim
    if len(pads) != 2 * r or any(p < 0 for p in pads):
        raise Skip("pads %s (negative or not 2 per dimension)" % pads)
    t = _operand(c, x, X, vals)
    c.writer.add_activation("y", "f32")
    c.writer.add_node("n0", "pad", [t], ["y"], {"pads": [[pads[i], pads[r + i]] for i in range(r)]})
    c.op = "pad"
    return [("y", out[1])]


def _const_input(node, values, k):
    """The value of node input k (a constant tensor or a test data input), None when omitted or empty."""
    ins = node["inputs"]
    if k >= len(ins) or not ins[k] or ins[k] not in values:
        return None
    v = values[ins[k]]
    return None if v.size == 0 else v


def _map_nms(c, node, vals, shapes, out):
    """NonMaxSuppression -> non_max_suppression (ONNX layout kept). max_output_boxes_per_class, iou_threshold
    and score_threshold are inputs in ONNX; their values become attributes."""
    values, want = out
    boxes, scores = (values[n] for n in node["inputs"][:2])
    if boxes.dtype != np.float32 or scores.dtype != np.float32:
        raise Skip("NonMaxSuppression on %s boxes/scores (detc's op takes f32)" % boxes.dtype)
    mo, iou, st = (_const_input(node, values, k) for k in (2, 3, 4))
    attrs = {"max_output_boxes_per_class": int(mo.reshape(-1)[0]) if mo is not None else 0,
             "iou_threshold": float(iou.reshape(-1)[0]) if iou is not None else 0.0}
    if st is not None:
        attrs["score_threshold"] = float(st.reshape(-1)[0])
    cpb = int(node["attrs"].get("center_point_box", 0))
    if cpb:
        attrs["center_point_box"] = cpb
    if attrs["max_output_boxes_per_class"] > 2 ** 31 - 1:
        attrs["max_output_boxes_per_class"] = 2 ** 31 - 1   # more than any box count: no limit
    B, N = boxes.shape[0], boxes.shape[1]
    C = scores.shape[1]
    rows = max(B * C * min(attrs["max_output_boxes_per_class"], N), 1)
    if want.ndim != 2 or want.shape[1] != 3 or want.shape[0] > rows:
        raise Skip("expected output shape %s does not fit [%d, 3]" % (list(want.shape), rows))
    for name, arr in (("boxes", boxes), ("scores", scores)):
        c.feeds[name] = np.ascontiguousarray(arr)
        c.writer.add_activation(name, "f32", arr.shape)
    c.writer.add_activation("selected", "i32")
    c.writer.add_activation("count", "i32")
    c.writer.add_node("n0", "non_max_suppression", ["boxes", "scores"], ["selected", "count"], attrs)
    c.op = "non_max_suppression"
    sel = np.zeros((rows, 3), np.int32)        # rows after count are zero by contract
    sel[:want.shape[0]] = want.astype(np.int32)
    return [("selected", sel), ("count", np.array([want.shape[0]], np.int32))]


def _map_roialign(c, node, vals, shapes, out, opset):
    """RoiAlign (mode avg) -> roi_align, one feature map: torchvision's RoIAlign, which ONNX's matches
    (opset 16 half_pixel = aligned, output_half_pixel and opset 10 = not aligned)."""
    values, want = out
    a = node["attrs"]
    X, rois, bidx = (values[n] for n in node["inputs"][:3])
    if a.get("mode", "avg") != "avg":
        raise Skip("RoiAlign mode %r (detc's roi_align averages the samples)" % a.get("mode"))
    if X.dtype != np.float32 or rois.dtype != np.float32:
        raise Skip("RoiAlign on %s (detc's roi_align is f32)" % X.dtype)
    if np.any(bidx != 0):
        raise Skip("RoiAlign batch_indices other than 0 (detc's roi_align pools from one image)")
    ctm = a.get("coordinate_transformation_mode", "half_pixel" if opset >= 16 else "output_half_pixel")
    if ctm not in ("half_pixel", "output_half_pixel"):
        raise Skip("RoiAlign coordinate_transformation_mode %r" % ctm)
    attrs = {"output_size": [int(a.get("output_height", 1)), int(a.get("output_width", 1))],
             "sampling_ratio": int(a.get("sampling_ratio", 0)), "aligned": ctm == "half_pixel",
             "spatial_scales": [float(a.get("spatial_scale", 1.0))]}
    c.feeds["rois"] = np.ascontiguousarray(rois)
    c.feeds["x"] = _nchw_to_nhwc(X[:1])    # only image 0 is referenced
    c.writer.add_activation("rois", "f32", rois.shape)
    c.writer.add_constant("count", "i32", [1], np.array([len(rois)], np.int32))
    c.writer.add_activation("x", "f32", c.feeds["x"].shape)
    c.writer.add_activation("y", "f32")
    c.writer.add_node("n0", "roi_align", ["rois", "count", "x"], ["y"], attrs)
    c.op = "roi_align"
    # ONNX's roialign cases store X and Y rounded to 4 decimals, Y computed from the unrounded X
    # (onnx/backend/test/case/node/roialign.py): the input rounding (<= 5e-5, through a bilinear average
    # whose weights sum to <= 1) plus the output rounding (<= 5e-5) bound the difference at 1e-4.
    c.tolerance["y"] = (1.0e-4 + 1e-6, 0.0)
    return [("y", _nchw_to_nhwc(want))]


ONNX_RESIZE_NEAREST_DEFAULTS = {"coordinate_transformation_mode": "half_pixel", "nearest_mode": "round_prefer_floor"}


def _map_resize(c, node, vals, shapes, out, opset):
    """Resize / Upsample over H and W of an NCHW tensor: mode nearest -> resize_nearest (rules "onnx");
    mode linear with tf_crop_and_resize -> roi_align (mode tf_crop_and_resize)."""
    values, want = out
    a = node["attrs"]
    X = values[node["inputs"][0]]
    if X.dtype != np.float32 or X.ndim != 4:
        raise Skip("Resize of a %d-D %s tensor (detc resizes f32 NHWC images)" % (X.ndim, X.dtype))
    mode = a.get("mode", "nearest")
    upsample = node["op"] == "Upsample"
    if upsample:
        scales = a.get("scales")
        scales = np.array(scales, np.float32) if scales is not None else _const_input(node, values, 1)
        sizes, roi, ctm = None, None, "asymmetric"
        if scales is None:
            raise Skip("Upsample without scales")
    elif opset < 11:
        raise Skip("Resize-10 (its nearest rounding is not specified)")
    else:
        roi, scales, sizes = (_const_input(node, values, k) for k in (1, 2, 3))
        ctm = a.get("coordinate_transformation_mode", "half_pixel")
    in_size = np.array(X.shape)
    if sizes is not None:
        out_size = sizes.astype(np.int64)
    elif scales is not None:
        if ctm == "tf_crop_and_resize":
            raise Skip("tf_crop_and_resize with scales")
        out_size = np.floor(in_size * scales.astype(np.float64)).astype(np.int64)
    else:
        raise Skip("Resize without scales or sizes")
    if list(out_size) != list(want.shape):
        raise Skip("output size %s from the inputs differs from the expected %s" % (list(out_size), list(want.shape)))
    if ctm == "tf_crop_and_resize":
        return _map_crop_and_resize(c, node, X, roi, out_size, want, mode)
    if mode != "nearest":
        raise Skip("Resize mode %r has no detc op (detc resizes tensors by nearest neighbour only)" % mode)
    if list(out_size[:2]) != list(in_size[:2]) or (scales is not None and np.any(scales[:2] != 1)):
        raise Skip("Resize of the N or C axis")
    attrs = {"rules": "onnx", "size": [int(out_size[2]), int(out_size[3])]}
    if upsample:
        if np.any(scales < 1):
            raise Skip("Upsample downscaling (runtimes disagree on its nearest rule)")
        attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    else:
        for k, default in ONNX_RESIZE_NEAREST_DEFAULTS.items():
            if a.get(k, default) != default:
                attrs[k] = a[k]
    if scales is not None and sizes is None:
        attrs["scales"] = [float(scales[2]), float(scales[3])]
    c.feeds["x"] = _nchw_to_nhwc(X)
    c.writer.add_activation("x", "f32", c.feeds["x"].shape)
    c.writer.add_activation("y", "f32")
    c.writer.add_node("n0", "resize_nearest", ["x"], ["y"], attrs)
    c.op = "resize_nearest"
    return [("y", _nchw_to_nhwc(want))]


def _map_crop_and_resize(c, node, X, roi, out_size, want, mode):
    """ONNX Resize tf_crop_and_resize (linear) = TF crop_and_resize with one box: detc's roi_align in mode
    tf_crop_and_resize, when N and C are untouched (roi 0..1 and the same size on those axes)."""
    a = node["attrs"]
    if mode != "linear":
        raise Skip("tf_crop_and_resize with mode %r (detc's crop_and_resize is bilinear)" % mode)
    if roi is None or roi.size != 8:
        raise Skip("tf_crop_and_resize without a 4-D roi")
    start, end = roi[:4].astype(np.float64), roi[4:].astype(np.float64)
    if X.shape[0] != 1 or list(out_size[:2]) != [1, X.shape[1]] or list(start[:2]) != [0, 0] \
            or list(end[:2]) != [1, 1]:
        raise Skip("tf_crop_and_resize over the N or C axis")
    ext = float(a.get("extrapolation_value", 0.0))
    attrs = {"mode": "tf_crop_and_resize", "output_size": [int(out_size[2]), int(out_size[3])]}
    if ext != 0.0:
        attrs["extrapolation_value"] = ext   # TF crop_and_resize's extrapolation_value, ONNX's too
    box = np.array([[start[2], start[3], end[2], end[3]]], np.float32)   # (y0, x0, y1, x1)
    c.feeds["x"] = _nchw_to_nhwc(X)
    c.writer.add_constant("box", "f32", [1, 4], box)
    c.writer.add_constant("count", "i32", [1], np.array([1], np.int32))
    c.writer.add_activation("x", "f32", c.feeds["x"].shape)
    c.writer.add_activation("y", "f32")
    c.writer.add_node("n0", "roi_align", ["box", "count", "x"], ["y"], attrs)
    c.op = "roi_align"
    return [("y", _nchw_to_nhwc(want))]


def _map_concat(c, node, vals, shapes, out):
    values, want = out
    ts = [_operand(c, n, values[n], vals) for n in node["inputs"]]
    c.writer.add_activation("y", "f32")
    c.writer.add_node("n0", "concat", ts, ["y"], {"axis": int(node["attrs"]["axis"])})
    c.op = "concat"
    return [("y", want)]


def _map_reshape(c, node, vals, shapes, out):
    """Reshape (shape from the `shape` input or opset-1..4 attribute), Flatten, and Transposes that do not
    move data (only size-1 axes change place) -> reshape. ONNX's 0 ("copy this input dimension", allowzero
    0) is resolved here, since detc's reshape takes only positive sizes and -1."""
    values, want = out
    X = values[node["inputs"][0]]
    a = node["attrs"]
    op = node["op"]
    if op == "Flatten":
        axis = int(a.get("axis", 1))
        axis += X.ndim if axis < 0 else 0
        shape = [int(np.prod(X.shape[:axis])), int(np.prod(X.shape[axis:]))]
    elif op == "Transpose":
        perm = list(a.get("perm", range(X.ndim - 1, -1, -1)))
        moved = [p for p in perm if X.shape[p] != 1]
        if moved != sorted(moved):
            raise Skip("Transpose that moves data (perm %s) has no detc op" % perm)
        shape = [X.shape[p] for p in perm]
    else:
        shape = _const_input(node, values, 1)
        shape = [int(v) for v in (shape if shape is not None else a.get("shape", []))]
        if 0 in shape:
            if a.get("allowzero", 0):
                raise Skip("Reshape with allowzero=1 and a 0 size (detc has no zero-sized tensors)")
            shape = [X.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    if X.size == 0 or want.size == 0:
        raise Skip("zero-sized tensor (detc has no zero-sized tensors)")
    t = _operand(c, node["inputs"][0], X, vals)
    c.writer.add_activation("y", "f32")
    c.writer.add_node("n0", "reshape", [t], ["y"], {"shape": shape})
    c.op = "reshape"
    return [("y", want)]


MAPPED = ("Conv", "MaxPool", "AveragePool", "Add", "Mul", "Pad", "Relu", "Softmax", "Sigmoid",
          "NonMaxSuppression", "RoiAlign", "Resize", "Upsample", "Concat", "Reshape", "Flatten", "Transpose")


def convert(case_dir):
    """A list of Case objects, one per test data set. Raises Skip when the case does not map."""
    name = os.path.basename(case_dir.rstrip("/"))
    if name.endswith("_expanded"):
        raise Skip("function-expanded variant (a graph of primitive ops)")
    model, sets = read_case(case_dir)
    nodes = [n for n in model["nodes"] if n["op"] != "Constant"]
    consts = dict(model["initializers"])
    for n in model["nodes"]:
        if n["op"] == "Constant":
            if "value" not in n["attrs"]:
                raise Skip("Constant without a tensor value")
            consts[n["outputs"][0]] = n["attrs"]["value"]
    if len(nodes) != 1:
        raise Skip("several operators in one graph (%d: %s); only one-operator graphs are converted"
                   % (len(nodes), ", ".join(sorted({n["op"] for n in nodes}))))
    node = nodes[0]
    if node["domain"] not in ("", "ai.onnx"):
        raise Skip("operator domain %r" % node["domain"])
    if node["op"] not in MAPPED:
        raise Skip("%s has no detc op" % node["op"])
    feeds_order = [i for i in model["inputs"] if i not in consts]
    cases = []
    for k, (ins, outs) in enumerate(sets):
        if len(ins) != len(feeds_order):
            raise Skip("%d input files for %d graph inputs" % (len(ins), len(feeds_order)))
        values = dict(consts)
        values.update(zip(feeds_order, ins))
        if len(outs) != 1:
            raise Skip("a second output (%d outputs, e.g. MaxPool's Indices) has no detc equivalent" % len(outs))
        # graph inputs that are constants in all but name (initializers) stay constants in detc
        shapes = {n: v.shape for n, v in values.items()}
        for i in node["inputs"]:
            if i and i not in values:
                raise Skip("input %r has no value" % i)
        c = Case("%s_%d" % (name, k))
        out = (values, outs[0])
        op = node["op"]
        const_vals = consts
        if op == "Conv":
            exp = _map_conv(c, node, {**const_vals, **{i: values[i] for i in node["inputs"][1:] if i}}, shapes, out)
        elif op in ("MaxPool", "AveragePool"):
            exp = _map_pool(c, node, const_vals, shapes, out)
        elif op in ("Add", "Mul"):
            exp = _map_binary(c, node, const_vals, shapes, out)
        elif op in ("Relu", "Sigmoid"):
            exp = _map_unary(c, node, const_vals, shapes, out)
        elif op == "Softmax":
            exp = _map_softmax(c, node, const_vals, shapes, out, model["opset"])
        elif op == "Pad":
            exp = _map_pad(c, node, const_vals, shapes, out, model["opset"])
        elif op == "NonMaxSuppression":
            exp = _map_nms(c, node, const_vals, shapes, out)
        elif op == "RoiAlign":
            exp = _map_roialign(c, node, const_vals, shapes, out, model["opset"])
        elif op in ("Resize", "Upsample"):
            exp = _map_resize(c, node, const_vals, shapes, out, model["opset"])
        elif op == "Concat":
            exp = _map_concat(c, node, const_vals, shapes, out)
        else:  # Reshape, Flatten, Transpose
            exp = _map_reshape(c, node, const_vals, shapes, out)
        c.writer.inputs = list(c.feeds)
        c.writer.outputs = [e[0] for e in exp]
        c.expected = [(n, np.ascontiguousarray(a)) for n, a in exp]
        c.onnx_op = op
        c.opset = model["opset"]
        c.onnx_node, c.onnx_values = node, values
        cases.append(c)
    return cases


def case_dirs(root=DEFAULT_ROOT):
    """Every test case directory under root's suites, sorted."""
    out = []
    for suite in SUITES:
        d = os.path.join(root, suite)
        if os.path.isdir(d):
            out.extend(os.path.join(d, n) for n in sorted(os.listdir(d))
                       if os.path.isfile(os.path.join(d, n, "model.onnx")))
    return out


def relevant(case_dir):
    """Whether the case uses one of the ONNX operators detc maps. Function-expanded variants
    (`*_expanded`, the same test as a graph of primitive ops) are not counted."""
    if case_dir.rstrip("/").endswith("_expanded"):
        return False
    try:
        model = read_model(os.path.join(case_dir, "model.onnx"))
    except (OSError, ProtoError):
        return False
    ops = {n["op"] for n in model["nodes"] if n["op"] != "Constant"}
    return bool(ops & set(MAPPED))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=DEFAULT_ROOT)
    args = ap.parse_args()
    mapped = skipped = 0
    for d in case_dirs(args.root):
        if not relevant(d):
            continue
        rel = os.path.relpath(d, args.root)
        try:
            cases = convert(d)
            print("map   %-60s %s" % (rel, cases[0].op))
            mapped += 1
        except Skip as e:
            print("skip  %-60s %s" % (rel, e))
            skipped += 1
        except (ProtoError, KeyError, ValueError) as e:
            print("error %-60s %s" % (rel, e))
            skipped += 1
    print("%d mapped, %d skipped" % (mapped, skipped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
