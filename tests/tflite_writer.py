"""A small TFLite flatbuffer writer for tests: builds .tflite models op by op (tensors, quantization,
builtin and custom options, metadata, an appended zip of associated files), so that every op and option
detc's converter maps can be run through TFLite itself (tools/tflite_ref) and through detc.

Written from the schema (tensorflow/lite/schema/schema.fbs, version 3; metadata_schema.fbs) and the
FlatBuffers / FlexBuffers wire formats; it shares no code with tools/detc_convert's readers, so a
misreading on one side shows up as a failure.

Layout: objects are written front to back, each table preceded by its vtable, children after the
parent (uoffsets point forward), every scalar aligned to its size and every byte vector (buffer data)
to 16.
"""

import io
import struct
import zipfile

import numpy as np

# -- FlatBuffers ----------------------------------------------------------------------------------
_FMT = {"bool": "<B", "u8": "<B", "i8": "<b", "i16": "<h", "u16": "<H", "i32": "<i", "u32": "<I",
        "i64": "<q", "u64": "<Q", "f32": "<f", "f64": "<d"}


class T:
    """A table: fields = {field id: (kind, value)}; kind is a scalar name, 'str', 'table', 'vtables'
    (vector of tables), 'bytes' (vector of u8, 16-aligned), or 'v:<scalar>' (vector of scalars)."""

    def __init__(self, **fields):
        self.fields = {}
        for k, v in fields.items():
            self.fields[int(k[1:])] = v


def _align(buf, n, extra=0):
    while (len(buf) + extra) % n:
        buf.append(0)


def _emit(buf, obj):
    """Writes table `obj` (and its children) at the end of buf; returns the table's position."""
    ids = sorted(obj.fields)
    scalars = [(i, obj.fields[i]) for i in ids if obj.fields[i][0] in _FMT]
    refs = [(i, obj.fields[i]) for i in ids if obj.fields[i][0] not in _FMT]
    # table body: soffset, then 8-, 4-, 2-, 1-byte fields (refs are 4 bytes)
    items = [(i, k, v, struct.calcsize(_FMT[k])) for i, (k, v) in scalars] + [(i, k, v, 4) for i, (k, v) in refs]
    items.sort(key=lambda x: -x[3])
    nfields = (max(ids) + 1) if ids else 0
    vt_size = 4 + 2 * nfields
    # place the vtable, then the table aligned to 8 (its soffset at an 8-aligned position + 4 alignment ok)
    _align(buf, 2)
    vt_pos = len(buf)
    buf.extend(b"\0" * vt_size)
    _align(buf, 8)
    t_pos = len(buf)
    layout = {}
    off = 4
    for i, k, v, sz in items:
        while (t_pos + off) % sz:
            off += 1
        layout[i] = off
        off += sz
    obj_size = off
    buf.extend(b"\0" * obj_size)
    struct.pack_into("<i", buf, t_pos, t_pos - vt_pos)
    struct.pack_into("<HH", buf, vt_pos, vt_size, obj_size)
    for i in ids:
        struct.pack_into("<H", buf, vt_pos + 4 + 2 * i, layout[i])
    for i, k, v, sz in items:
        if k in _FMT:
            struct.pack_into(_FMT[k], buf, t_pos + layout[i], v)
    for i, (k, v) in refs:
        field = t_pos + layout[i]
        target = _emit_ref(buf, k, v)
        struct.pack_into("<I", buf, field, target - field)
    return t_pos


def _emit_ref(buf, kind, v):
    if kind == "table":
        return _emit(buf, v)
    if kind == "str":
        b = v.encode("utf-8")
        _align(buf, 4)
        pos = len(buf)
        buf.extend(struct.pack("<I", len(b)) + b + b"\0")
        return pos
    if kind == "bytes":
        _align(buf, 16, 4)
        pos = len(buf)
        buf.extend(struct.pack("<I", len(v)) + bytes(v))
        return pos
    if kind.startswith("v:"):
        fmt = _FMT[kind[2:]]
        sz = struct.calcsize(fmt)
        _align(buf, max(sz, 4), 4)
        pos = len(buf)
        buf.extend(struct.pack("<I", len(v)))
        for x in v:
            buf.extend(struct.pack(fmt, x))
        return pos
    if kind == "vtables":
        _align(buf, 4)
        pos = len(buf)
        buf.extend(struct.pack("<I", len(v)) + b"\0" * (4 * len(v)))
        for k, child in enumerate(v):
            slot = pos + 4 + 4 * k
            target = _emit(buf, child)
            struct.pack_into("<I", buf, slot, target - slot)
        return pos
    raise ValueError(kind)


def finish(root, ident):
    buf = bytearray(b"\0" * 8)
    buf[4:8] = ident
    pos = _emit(buf, root)
    struct.pack_into("<I", buf, 0, pos)
    return bytes(buf)


# -- FlexBuffers (a map of scalars: TFLite custom options) ----------------------------------------
def flexbuffer_map(d):
    """A FlexBuffer whose root is a map of int / float / bool values, every slot 8 bytes wide."""
    keys = sorted(d)
    buf = bytearray()
    kpos = []
    for k in keys:
        kpos.append(len(buf))
        buf.extend(k.encode("ascii") + b"\0")
    _align(buf, 8)
    buf.extend(struct.pack("<Q", len(keys)))
    keys_vec = len(buf)
    for k, p in zip(keys, kpos):
        buf.extend(struct.pack("<Q", len(buf) - p))
    # map prefix: keys offset, keys byte width, size
    buf.extend(struct.pack("<Q", len(buf) - keys_vec))
    buf.extend(struct.pack("<Q", 8))
    buf.extend(struct.pack("<Q", len(keys)))
    values = len(buf)
    types = []
    for k in keys:
        v = d[k]
        if isinstance(v, bool):
            buf.extend(struct.pack("<Q", int(v)))
            types.append((26 << 2) | 3)
        elif isinstance(v, int):
            buf.extend(struct.pack("<q", v))
            types.append((1 << 2) | 3)
        else:
            buf.extend(struct.pack("<d", float(v)))
            types.append((3 << 2) | 3)
    buf.extend(bytes(types))
    _align(buf, 8)
    root = len(buf)
    buf.extend(struct.pack("<Q", root - values))
    buf.extend(bytes([(9 << 2) | 3, 8]))
    return bytes(buf)


# -- TFLite models ----------------------------------------------------------------------------------
TYPES = {"f32": 0, "f16": 1, "i32": 2, "u8": 3, "i64": 4, "bool": 6, "i16": 7, "i8": 9}
NP = {"f32": np.float32, "f16": np.float16, "i32": np.int32, "u8": np.uint8, "i64": np.int64, "i8": np.int8,
      "i16": np.int16, "bool": np.bool_}
OPS = {"ADD": 0, "AVERAGE_POOL_2D": 1, "CONCATENATION": 2, "CONV_2D": 3, "DEPTHWISE_CONV_2D": 4,
       "DEQUANTIZE": 6, "FULLY_CONNECTED": 9, "LOGISTIC": 14, "MAX_POOL_2D": 17, "MUL": 18, "RELU": 19,
       "RELU6": 21, "RESHAPE": 22, "RESIZE_BILINEAR": 23, "SOFTMAX": 25, "TANH": 28, "CUSTOM": 32, "PAD": 34,
       "TRANSPOSE": 39, "MEAN": 40, "SUB": 41, "SQUEEZE": 43, "STRIDED_SLICE": 45, "SPLIT": 49, "PACK": 83,
       "RESIZE_NEAREST_NEIGHBOR": 97, "QUANTIZE": 114, "HARD_SWISH": 117}
# BuiltinOptions union index and the scalar fields of each option table: name -> (field id, kind)
OPTIONS = {
    "CONV_2D": (1, {"padding": (0, "i8"), "stride_w": (1, "i32"), "stride_h": (2, "i32"), "fused": (3, "i8"),
                    "dilation_w": (4, "i32"), "dilation_h": (5, "i32")}),
    "DEPTHWISE_CONV_2D": (2, {"padding": (0, "i8"), "stride_w": (1, "i32"), "stride_h": (2, "i32"),
                              "depth_multiplier": (3, "i32"), "fused": (4, "i8"), "dilation_w": (5, "i32"),
                              "dilation_h": (6, "i32")}),
    "AVERAGE_POOL_2D": (5, {"padding": (0, "i8"), "stride_w": (1, "i32"), "stride_h": (2, "i32"),
                            "filter_w": (3, "i32"), "filter_h": (4, "i32"), "fused": (5, "i8")}),
    "MAX_POOL_2D": (5, {"padding": (0, "i8"), "stride_w": (1, "i32"), "stride_h": (2, "i32"),
                        "filter_w": (3, "i32"), "filter_h": (4, "i32"), "fused": (5, "i8")}),
    "SOFTMAX": (9, {"beta": (0, "f32")}),
    "CONCATENATION": (10, {"axis": (0, "i32"), "fused": (1, "i8")}),
    "ADD": (11, {"fused": (0, "i8")}),
    "RESIZE_BILINEAR": (15, {"align_corners": (2, "bool"), "half_pixel_centers": (3, "bool")}),
    "RESHAPE": (17, {}),
    "MUL": (21, {"fused": (0, "i8")}),
    "PAD": (22, {}),
    "TRANSPOSE": (26, {}),
    "MEAN": (27, {"keep_dims": (0, "bool")}),
    "SUB": (28, {"fused": (0, "i8")}),
    "SQUEEZE": (30, {}),
    "STRIDED_SLICE": (32, {"begin_mask": (0, "i32"), "end_mask": (1, "i32"), "ellipsis_mask": (2, "i32"),
                           "new_axis_mask": (3, "i32"), "shrink_axis_mask": (4, "i32")}),
    "SPLIT": (35, {"num_splits": (0, "i32")}),
    "DEQUANTIZE": (38, {}),
    "PACK": (59, {"values_count": (0, "i32"), "axis": (1, "i32")}),
    "RESIZE_NEAREST_NEIGHBOR": (74, {"align_corners": (0, "bool"), "half_pixel_centers": (1, "bool")}),
    "QUANTIZE": (89, {}),
    "HARD_SWISH": (91, {}),
}


class Model:
    def __init__(self):
        self.tensors = []
        self.buffers = [b""]
        self.ops = []
        self.codes = []     # (builtin code, custom code)
        self.metadata = []  # (name, buffer index)
        self.appended = b""

    def tensor(self, name, dtype, shape, data=None, scale=None, zero_point=None, axis=0):
        """Adds a tensor (a constant when data is given); returns its index."""
        buf = 0
        if data is not None:
            arr = np.ascontiguousarray(np.asarray(data, dtype=NP[dtype]).reshape(shape))
            self.buffers.append(arr.tobytes())
            buf = len(self.buffers) - 1
        f = {"f0": ("v:i32", list(shape)), "f1": ("i8", TYPES[dtype]), "f2": ("u32", buf), "f3": ("str", name)}
        if scale is not None:
            sc = list(np.atleast_1d(np.asarray(scale, dtype=np.float32)).tolist())
            zp = list(np.atleast_1d(np.asarray(zero_point if zero_point is not None else [0] * len(sc),
                                               dtype=np.int64)).tolist())
            q = {"f2": ("v:f32", sc), "f3": ("v:i64", zp)}
            if len(sc) > 1:
                q["f6"] = ("i32", axis)
            f["f4"] = ("table", T(**q))
        self.tensors.append(T(**f))
        return len(self.tensors) - 1

    def _code(self, name, custom=None):
        key = (OPS[name], custom)
        if key not in self.codes:
            self.codes.append(key)
        return self.codes.index(key)

    def op(self, name, inputs, outputs, custom=None, custom_options=None, **opts):
        f = {"f0": ("u32", self._code(name, custom)), "f1": ("v:i32", list(inputs)), "f2": ("v:i32", list(outputs))}
        if name in OPTIONS:
            union, fields = OPTIONS[name]
            of = {}
            for k, v in opts.items():
                fid, kind = fields[k]
                of["f%d" % fid] = (kind, v)
            f["f3"] = ("u8", union)
            f["f4"] = ("table", T(**of))
        elif opts:
            raise ValueError("%s takes no options" % name)
        if custom_options is not None:
            f["f5"] = ("bytes", custom_options)
        self.ops.append(T(**f))

    def add_metadata(self, name, data):
        self.buffers.append(bytes(data))
        self.metadata.append((name, len(self.buffers) - 1))

    def build(self, inputs, outputs):
        codes = []
        for code, custom in self.codes:
            f = {"f0": ("i8", min(code, 127)), "f2": ("i32", 1), "f3": ("i32", code)}
            if custom is not None:
                f["f1"] = ("str", custom)
            codes.append(T(**f))
        sg = T(f0=("vtables", self.tensors), f1=("v:i32", list(inputs)), f2=("v:i32", list(outputs)),
               f3=("vtables", self.ops), f4=("str", "main"))
        bufs = [T(f0=("bytes", b)) if b else T() for b in self.buffers]
        root = {"f0": ("u32", 3), "f1": ("vtables", codes), "f2": ("vtables", [sg]), "f3": ("str", "detc test"),
                "f4": ("vtables", bufs)}
        if self.metadata:
            root["f6"] = ("vtables", [T(f0=("str", n), f1=("u32", b)) for n, b in self.metadata])
        return finish(T(**root), b"TFL3") + self.appended


def model_metadata(mean=None, std=None, label_file=None, label_type=3, output_count=4):
    """A ModelMetadata flatbuffer (identifier M001): NormalizationOptions on input 0, a label file
    associated with output 1 (the classes of TFLite_Detection_PostProcess)."""
    inp = {"f0": ("str", "image")}
    if mean is not None:
        norm = T(f0=("v:f32", list(mean)), f1=("v:f32", list(std)))
        inp["f4"] = ("vtables", [T(f0=("u8", 1), f1=("table", norm))])
    outs = []
    for k in range(output_count):
        o = {"f0": ("str", "output%d" % k)}
        if k == 1 and label_file:
            o["f6"] = ("vtables", [T(f0=("str", label_file), f2=("i8", label_type))])
        outs.append(T(**o))
    sg = T(f2=("vtables", [T(**inp)]), f3=("vtables", outs))
    root = T(f0=("str", "detector"), f3=("vtables", [sg]), f7=("str", "1.0.0"))
    return finish(root, b"M001")


def zip_of(files):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return b.getvalue()
