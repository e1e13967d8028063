#!/usr/bin/python3
"""Tests of tools/detc-convert's torchvision front end and its checkpoint reader.

Run: /usr/bin/python3 tests/test_convert_torchvision.py   (prints "N passed, M failed[, K skipped]" last)

  - tools/detc_convert/torch_pickle.py: hand-made checkpoints (no torch needed) are read exactly;
    hostile pickles (foreign globals, bad persistent ids, out-of-bounds strides, short storages,
    malformed archives) are refused with a clear message and nothing they name is ever called;
    with torch: torch.save files (zip and legacy, non-contiguous views, several dtypes) round-trip.
  - config problems are reported clearly (exit 1, the key named).
  - the converted shapes model is read back with a reader written here from weights/FORMAT.md
    (not tools/detc_convert) and checked against models/maskrcnn.md: inputs, outputs, ops,
    attributes, pipeline, labels, and every weight transform against the checkpoint.
  - folded BatchNorm: one block computed with numpy from the .detc constants equals torch's
    conv + FrozenBatchNorm2d (+ ReLU, residual) on random input (BasicBlock of the shapes model;
    Bottleneck of torchvision's maskrcnn_resnet50_fpn with seeded random weights).
  - the dense part of the converted graph (trunk, FPN, RPN head, box head, mask head) executed by
    a small numpy interpreter of detc's ops matches torchvision's own stage outputs, stage by
    stage, fed the reference's own stage inputs (live torchvision when torch is installed, else the
    committed sampled references in tests/data/maskrcnn for the trunk/FPN/RPN head).

Needs ../shared/models/maskrcnn_r18fpn_shapes (skipped, saying so, when absent); torch-only parts
are skipped when Debian's python3-torch / python3-torchvision are not installed.
"""

import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter, OrderedDict

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "models")
SHAPES_DIR = os.path.join(SHARED, "maskrcnn_r18fpn_shapes")
SHAPES_PTH = os.path.join(SHAPES_DIR, "maskrcnn_r18fpn_shapes.pth")
SHAPES_CFG = os.path.join(SHAPES_DIR, "config.json")
CONVERT = os.path.join(ROOT, "tools", "detc-convert")
REF_TOOL = os.path.join(ROOT, "tools", "torchvision_ref.py")
STORED = os.path.join(ROOT, "tests", "data", "maskrcnn")
PY = "/usr/bin/python3"
TMP = tempfile.mkdtemp(prefix="detc_tv_test_")

sys.path.insert(0, os.path.join(ROOT, "tools"))
from detc_convert import torch_pickle  # noqa: E402

DTYPE_SIZE = {"f32": 4, "f16": 2, "i8": 1, "u8": 1, "i16": 2, "i32": 4, "i64": 8, "f64": 8, "bool": 1}
NP_DTYPE = {"f32": "<f4", "f16": "<f2", "i8": "i1", "u8": "u1", "i16": "<i2", "i32": "<i4", "i64": "<i8"}
CONTRACT_OPS = {"conv2d", "max_pool2d", "add", "relu", "resize_nearest", "anchors", "rpn_proposals", "roi_align",
                "fully_connected", "box_detections", "conv2d_transpose", "mask_select"}
LEVELS = ["P2", "P3", "P4", "P5", "P6"]


class Skip(Exception):
    pass


def have_torch():
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
        return True
    except ImportError:
        return False


def need_shapes():
    if not os.path.exists(SHAPES_PTH):
        raise Skip("%s not found (the shared models live in ../shared/models)" % SHAPES_PTH)


def need_torch():
    if not have_torch():
        raise Skip("torch/torchvision not installed (apt-get install python3-torch python3-torchvision)")


# -- an independent .detc reader (weights/FORMAT.md §1-§4) ---------------------------------------
class Detc:
    def __init__(self, path):
        data = open(path, "rb").read()
        assert len(data) >= 32, "file shorter than the 32-byte header"
        magic, version, json_len, data_off, data_len = struct.unpack_from("<8sIIQQ", data, 0)
        assert magic == b"DETCMODL" and version == 1, (magic, version)
        assert 1 <= json_len <= 64 << 20
        assert data_off % 64 == 0 and data_off >= 32 + json_len
        assert data_off + data_len == len(data)
        self.j = json.loads(data[32:32 + json_len].decode("utf-8"))
        self.section = memoryview(data)[data_off:]
        self.tensors = OrderedDict()
        spans = []
        for t in self.j["tensors"]:
            assert t["name"] not in self.tensors, "duplicate " + t["name"]
            assert t["dtype"] in DTYPE_SIZE
            self.tensors[t["name"]] = t
            if "offset" in t:
                n = int(np.prod(t["shape"])) if t["shape"] else 1
                assert t["offset"] % 64 == 0 and t["length"] == n * DTYPE_SIZE[t["dtype"]], t["name"]
                assert t["offset"] + t["length"] <= data_len
                spans.append((t["offset"], t["offset"] + t["length"]))
        spans.sort()
        for a, b in zip(spans, spans[1:]):
            assert b[0] >= a[1], "constants overlap"
        produced = Counter(o for n in self.j["nodes"] for o in n["outputs"])
        for n in self.j["nodes"]:
            for i in n["inputs"]:
                assert i == "" or i in self.tensors, "node %s: unknown input %s" % (n["name"], i)
        for name, c in produced.items():
            assert c == 1 and name in self.tensors and "offset" not in self.tensors[name], name
        self.producer = {o: n for n in self.j["nodes"] for o in n["outputs"]}
        self.nodes = {n["name"]: n for n in self.j["nodes"]}

    def is_const(self, name):
        return "offset" in self.tensors[name]

    def const(self, name):
        t = self.tensors[name]
        raw = self.section[t["offset"]:t["offset"] + t["length"]]
        return np.frombuffer(raw, dtype=NP_DTYPE[t["dtype"]]).reshape(t["shape"])

    def subgraph(self, fed, wanted):
        """Nodes (in execution order) computing `wanted` from the tensors in `fed` and constants."""
        need, order, seen = [], [], set()

        def visit(name):
            if name in fed or name == "" or self.is_const(name) or name in seen:
                return
            seen.add(name)
            if name not in self.producer:
                raise KeyError("tensor %r is neither fed nor computed" % name)
            n = self.producer[name]
            for i in n["inputs"]:
                visit(i)
            if n["name"] not in need:
                need.append(n["name"])
                order.append(n)
            for o in n["outputs"]:
                seen.add(o)

        for w in wanted:
            visit(w)
        return order


# -- a numpy interpreter of detc's dense ops (models/maskrcnn.md, ops/README.md) -------------------
def np_conv2d(x, w, b, attrs):
    sh, sw = attrs.get("stride", [1, 1])
    dh, dw = attrs.get("dilation", [1, 1])
    pad = attrs.get("padding", [0, 0, 0, 0])
    assert isinstance(pad, list), "the converter writes explicit padding"
    t, l, bo, r = pad
    o, kh, kw, ci = w.shape
    x = np.pad(x.astype(np.float64), ((0, 0), (t, bo), (l, r), (0, 0)))
    n, hp, wp, c = x.shape
    assert c == ci, (c, ci)
    oh = (hp - ((kh - 1) * dh + 1)) // sh + 1
    ow = (wp - ((kw - 1) * dw + 1)) // sw + 1
    cols = np.empty((n, oh, ow, kh, kw, c))
    for ky in range(kh):
        for kx in range(kw):
            cols[:, :, :, ky, kx, :] = x[:, ky * dh:ky * dh + (oh - 1) * sh + 1:sh,
                                         kx * dw:kx * dw + (ow - 1) * sw + 1:sw, :]
    out = cols.reshape(n * oh * ow, -1) @ w.reshape(o, -1).astype(np.float64).T
    if b is not None:
        out += b
    return _act(out.reshape(n, oh, ow, o), attrs.get("activation", "none"))


def _act(x, a):
    if a == "relu":
        return np.maximum(x, 0)
    assert a == "none", a
    return x


def np_max_pool2d(x, attrs):
    kh, kw = attrs["kernel"]
    sh, sw = attrs.get("stride", [1, 1])
    t, l, bo, r = attrs["padding"]
    x = np.pad(x, ((0, 0), (t, bo), (l, r), (0, 0)), constant_values=-np.inf)
    n, hp, wp, c = x.shape
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    out = np.full((n, oh, ow, c), -np.inf)
    for ky in range(kh):
        for kx in range(kw):
            out = np.maximum(out, x[:, ky:ky + (oh - 1) * sh + 1:sh, kx:kx + (ow - 1) * sw + 1:sw, :])
    return out


def np_resize_nearest(x, like):
    h, w = x.shape[1:3]
    oh, ow = like.shape[1:3]
    ys = np.minimum(np.floor(np.arange(oh) * np.float32(h / oh)).astype(int), h - 1)
    xs = np.minimum(np.floor(np.arange(ow) * np.float32(w / ow)).astype(int), w - 1)
    return x[:, ys][:, :, xs]


def np_conv2d_transpose(x, w, b, attrs):
    sh, sw = attrs["stride"]
    t, l, bo, r = attrs["padding"]
    co, kh, kw, ci = w.shape
    n, h, wd, c = x.shape
    full = np.zeros((n, (h - 1) * sh + kh, (wd - 1) * sw + kw, co))
    for ky in range(kh):
        for kx in range(kw):
            full[:, ky:ky + (h - 1) * sh + 1:sh, kx:kx + (wd - 1) * sw + 1:sw, :] += \
                x.astype(np.float64) @ w[:, ky, kx, :].astype(np.float64).T
    full = full[:, t:full.shape[1] - bo, l:full.shape[2] - r, :]
    return full + b


def run_dense(m, fed, wanted):
    """Executes the sub-graph computing `wanted` from `fed` with the numpy ops above; raises
    Skip when it reaches an op that only the C side implements (anchors, roi_align, ...)."""
    env = dict(fed)
    for n in m.subgraph(set(fed), wanted):
        op, a = n["op"], n.get("attrs", {})

        def v(i):
            return env[i] if i in env else m.const(i)

        ins = n["inputs"]
        if op == "conv2d":
            out = np_conv2d(v(ins[0]), v(ins[1]), v(ins[2]) if ins[2] else None, a)
        elif op == "max_pool2d":
            out = np_max_pool2d(v(ins[0]), a)
        elif op == "add":
            out = _act(v(ins[0]) + v(ins[1]), a.get("activation", "none"))
        elif op == "relu":
            out = np.maximum(v(ins[0]), 0)
        elif op == "resize_nearest":
            out = np_resize_nearest(v(ins[0]), v(ins[1]))
        elif op == "fully_connected":
            x = v(ins[0])
            out = _act(x.reshape(x.shape[0], -1).astype(np.float64) @ v(ins[1]).astype(np.float64).T + v(ins[2]),
                       a.get("activation", "none"))
        elif op == "conv2d_transpose":
            out = _act(np_conv2d_transpose(v(ins[0]), v(ins[1]), v(ins[2]), a), a.get("activation", "none"))
        else:
            raise Skip("op %s is not in the numpy interpreter" % op)
        # the optional row count operand (conv2d / conv2d_transpose slot 3, relu slot 1): rows past it are 0
        slot = {"conv2d": 3, "conv2d_transpose": 3, "relu": 1}.get(op)
        if slot is not None and len(ins) > slot and ins[slot]:
            out = np.array(out, copy=True)
            out[max(int(v(ins[slot])[0]), 0):] = 0
        env[n["outputs"][0]] = out
    return {w: env[w] for w in wanted}


def close(a, b, rtol=1e-3, atol_frac=1e-4):
    """Elementwise |a - b| <= rtol * |b| + atol_frac * max|b| (atol relative to the tensor's scale,
    for values that cancel to near zero). Returns (ok, worst relative excess, max abs diff)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    if b.size == 0:
        return True, 0.0, 0.0
    scale = float(np.max(np.abs(b))) or 1.0
    diff = np.abs(a - b)
    lim = rtol * np.abs(b) + atol_frac * scale
    return bool(np.all(diff <= lim)), float(np.max(diff / lim)), float(np.max(diff))


# -- hand-made checkpoints -----------------------------------------------------------------------
def _int_op(v):
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)
    return b"J" + struct.pack("<i", v)


def _str_op(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _tuple_op(vals):
    return b"(" + b"".join(_int_op(v) for v in vals) + b"t"


def make_pickle(entries, storage_global=b"ctorch\nFloatStorage\n", rebuild=b"ctorch._utils\n_rebuild_tensor_v2\n",
                pid_prefix=None):
    """A protocol-2 pickle shaped like torch.save(state_dict): entries = [(name, key, numel, offset,
    size, stride)]."""
    p = b"\x80\x02ccollections\nOrderedDict\n)R("
    for name, key, numel, offset, size, stride in entries:
        pid = b"(" + _str_op("storage") + storage_global + _str_op(key) + _str_op("cpu") + _int_op(numel) + b"t"
        if pid_prefix is not None:
            pid = pid_prefix
        p += _str_op(name) + rebuild + b"(" + pid + b"Q" + _int_op(offset) + _tuple_op(size) + _tuple_op(stride)
        p += b"\x89ccollections\nOrderedDict\n)Rt" + b"R"
    return p + b"u."


def make_zip(path, pkl, storages, prefix="archive"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(prefix + "/data.pkl", pkl)
        for key, raw in storages.items():
            z.writestr(prefix + "/data/" + key, raw)
        z.writestr(prefix + "/version", b"3\n")
    return path


def expect_refused(path, must_contain):
    try:
        torch_pickle.load(path)
    except torch_pickle.TorchPickleError as e:
        for s in must_contain:
            assert s in str(e), "message %r lacks %r" % (str(e), s)
        return str(e)
    raise AssertionError("%s was accepted" % path)


def run(*args):
    p = subprocess.run([PY, CONVERT] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


# -- tests: the checkpoint reader ------------------------------------------------------------------
def test_hand_made_checkpoint_is_read_exactly():
    data = np.arange(24, dtype="<f4")
    pkl = make_pickle([("a", "0", 24, 0, (4, 6), (6, 1)),        # plain
                       ("b", "0", 24, 1, (3, 2), (1, 6)),        # transposed view with an offset
                       ("c", "0", 24, 23, (), ()),               # a scalar
                       ("d", "0", 24, 5, (0, 3), (3, 1))])       # empty
    path = make_zip(os.path.join(TMP, "hand.pth"), pkl, {"0": data.tobytes()})
    sd = torch_pickle.state_dict(torch_pickle.load(path))
    ref = data.reshape(4, 6)
    assert list(sd) == ["a", "b", "c", "d"]
    assert np.array_equal(sd["a"], ref) and sd["a"].flags.c_contiguous
    assert np.array_equal(sd["b"], np.lib.stride_tricks.as_strided(data[1:], (3, 2), (4, 24)))
    assert sd["c"].shape == () and sd["c"] == 23
    assert sd["d"].shape == (0, 3)
    # a training checkpoint {"model": state_dict, "epoch": 3} with a DataParallel prefix
    p2 = b"\x80\x02}(" + _str_op("epoch") + _int_op(3) + _str_op("model") + make_pickle(
        [("module.w", "0", 24, 0, (24,), (1,))])[2:-1] + b"u."
    path2 = make_zip(os.path.join(TMP, "ckpt.pth"), p2, {"0": data.tobytes()})
    sd2 = torch_pickle.state_dict(torch_pickle.load(path2))
    assert list(sd2) == ["w"] and np.array_equal(sd2["w"], data)


def test_hostile_pickles_are_refused_without_running_anything():
    marker = os.path.join(TMP, "pwned")
    data = np.zeros(4, dtype="<f4").tobytes()
    cases = [
        # a global outside the allow-list, called by REDUCE: must be refused before the call
        (b"\x80\x02cos\nsystem\n" + _str_op("touch " + marker) + b"\x85R.", ["os.system", "refusing"]),
        (b"\x80\x02cbuiltins\neval\n" + _str_op("open(%r,'w')" % marker) + b"\x85R.", ["builtins.eval"]),
        (b"\x80\x02csubprocess\ncheck_call\n" + _str_op("true") + b"\x85R.", ["subprocess.check_call"]),
        (b"\x80\x02ctorch._utils\n_rebuild_qtensor\n).", ["_rebuild_qtensor", "quantized"]),
        (b"\x80\x02ctorch\nload\n).", ["torch.load"]),
        # INST/OBJ-style construction of a foreign class goes through the same check
        (b"\x80\x02(ios\nsystem\n" + _str_op("true") + b".", ["os.system"]),
        # protocol 4 STACK_GLOBAL
        (b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93" + _str_op("true") + b"\x85R.", ["os.system"]),
        # persistent ids other than tensor storages
        (make_pickle([("w", "0", 4, 0, (4,), (1,))], pid_prefix=b"(" + _str_op("module") + b"t"),
         ["unexpected persistent id"]),
        (make_pickle([("w", "0", 4, 0, (4,), (1,))], storage_global=b"ctorch\nQInt8Storage\n"),
         ["torch.QInt8Storage"]),
        # tensors reaching outside their storage
        (make_pickle([("w", "0", 4, 0, (5,), (1,))]), ["reaches element 4", "4 elements"]),
        (make_pickle([("w", "0", 4, 2, (2, 2), (2, 1))]), ["reaches element 5"]),
        (make_pickle([("w", "0", 4, 4, (1,), (1,))]), ["reaches element 4"]),
        (make_pickle([("w", "0", 4, 0, (2,), (1, 1))]), ["do not fit"]),
        # a storage whose file is shorter than its declared element count
        (make_pickle([("w", "0", 8, 0, (8,), (1,))]), ["holds 16 bytes", "8 elements"]),
        # a storage that is not in the archive
        (make_pickle([("w", "7", 4, 0, (4,), (1,))]), ["missing"]),
        # truncated / garbage pickles
        (make_pickle([("w", "0", 4, 0, (4,), (1,))])[:-20], ["not a readable pickle"]),
    ]
    for pkl, must in cases:
        path = make_zip(os.path.join(TMP, "hostile.pth"), pkl, {"0": data})
        expect_refused(path, must)
    assert not os.path.exists(marker), "a hostile pickle ran a command"
    # archive-level problems
    path = os.path.join(TMP, "two.pth")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a/data.pkl", make_pickle([]))
        z.writestr("b/data.pkl", make_pickle([]))
    expect_refused(path, ["exactly one PREFIX/data.pkl", "found 2"])
    path = os.path.join(TMP, "junk.pth")
    open(path, "wb").write(b"not a checkpoint at all")
    expect_refused(path, ["not a PyTorch checkpoint"])
    open(path, "wb").write(b"PK\x03\x04 broken zip")
    expect_refused(path, ["not a readable zip"])
    open(path, "wb").write(pickle.dumps(12345, protocol=2))
    expect_refused(path, ["neither a zip checkpoint nor a legacy"])
    # through the command line: exit 1 and the reason, no traceback
    path = make_zip(os.path.join(TMP, "hostile_cli.pth"), cases[0][0], {"0": data})
    rc, _out, err = run("torchvision", path, "--config", _write_cfg({"classes": ["bg", "a"], "min_size": 8,
                                                                     "max_size": 8}), "-o", os.path.join(TMP, "h.detc"))
    assert rc == 1 and "os.system" in err and "Traceback" not in err, (rc, err)
    assert not os.path.exists(marker)


def test_torch_save_files_round_trip():
    need_torch()
    import torch
    torch.manual_seed(0)
    x = torch.arange(60, dtype=torch.float32).reshape(3, 4, 5)
    d = OrderedDict([("contig", torch.randn(2, 3)), ("permuted", x.permute(2, 0, 1)), ("sliced", x[1:, ::2, 1:4]),
                     ("shared", x[0]), ("int64", torch.tensor([1, -2, 3])), ("half", torch.randn(5).half()),
                     ("bf16", torch.randn(4).bfloat16()), ("bool", torch.tensor([True, False])),
                     ("u8", torch.tensor([1, 255], dtype=torch.uint8)), ("param", torch.nn.Parameter(torch.ones(3))),
                     ("scalar", torch.tensor(2.5)), ("empty", torch.zeros(0, 4))])
    for legacy in (False, True):
        path = os.path.join(TMP, "rt%d.pth" % legacy)
        torch.save(d, path, _use_new_zipfile_serialization=not legacy)
        got = torch_pickle.load(path)
        for k, v in d.items():
            ref = v.detach().float().numpy() if v.dtype == torch.bfloat16 else v.detach().numpy()
            assert got[k].shape == ref.shape and got[k].dtype == ref.dtype, (legacy, k, got[k].dtype, ref.dtype)
            assert np.array_equal(got[k], ref), (legacy, k)
    # the shapes checkpoint, against torch.load
    if os.path.exists(SHAPES_PTH):
        ref = torch.load(SHAPES_PTH)
        got = torch_pickle.state_dict(torch_pickle.load(SHAPES_PTH))
        assert list(got) == list(ref)
        for k in ref:
            assert np.array_equal(got[k], ref[k].numpy()), k


# -- tests: configs and the converted graph ---------------------------------------------------------
def _write_cfg(obj, name="cfg.json"):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(obj if isinstance(obj, str) else json.dumps(obj))
    return path


_SHAPES_DETC = []


def shapes_detc():
    need_shapes()
    if not _SHAPES_DETC:
        out = os.path.join(TMP, "shapes.detc")
        rc, _o, err = run("torchvision", SHAPES_PTH, "--config", SHAPES_CFG, "-o", out)
        assert rc == 0, err
        _SHAPES_DETC.append(Detc(out))
    return _SHAPES_DETC[0]


def test_config_errors_are_reported_clearly():
    need_shapes()
    cfg = json.load(open(SHAPES_CFG))
    out = os.path.join(TMP, "bad.detc")

    def bad(obj, *must):
        rc, _o, err = run("torchvision", SHAPES_PTH, "--config", _write_cfg(obj), "-o", out)
        assert rc == 1, (rc, err)
        assert "Traceback" not in err and "internal error" not in err, err
        for s in must:
            assert s in err, "%r not in %r" % (s, err)
        assert not os.path.exists(out)

    c = dict(cfg)
    del c["classes"]
    bad(c, "`classes` is missing")
    bad(dict(cfg, classes="square"), "`classes` must be a list")
    bad(dict(cfg, classes=["bg", "square", "circle"]), "3 classes", "has 4")
    bad(dict(cfg, min_size="256"), "`min_size` must be an integer")
    bad(dict(cfg, max_size=-5, box_nms_thresh=2), "`max_size`", "`box_nms_thresh`", "2 problems")
    bad(dict(cfg, backbone="resnet50 + FPN"), "ResNet-50", "ResNet-18")
    bad(dict(cfg, backbone="vgg16"), "does not name resnet")
    bad(dict(cfg, fpn_channels=256), "fpn_channels 256", "has 128")
    bad(dict(cfg, box_head="TwoMLPHead(128*7*7, 1024)"), "representation size 1024", "has 512")
    bad(dict(cfg, mask_head="MaskRCNNHeads(128, 3 x 128, dilation 1)"), "mask head has layers")
    bad(dict(cfg, aspect_ratios=[1.0]), "cls_logits", "1 anchors per position")
    bad("{not json", "invalid JSON")
    bad([1, 2], "must be a JSON object")
    rc, _o, err = run("torchvision", SHAPES_PTH, "-o", out)
    assert rc == 1 and "--config" in err, err
    rc, _o, err = run("torchvision", SHAPES_PTH, "--config", SHAPES_CFG, "--input-size", "250x256", "-o", out)
    assert rc == 1 and "multiples" in err, err
    # a checkpoint that is not a Mask R-CNN
    data = np.zeros(4, dtype="<f4").tobytes()
    path = make_zip(os.path.join(TMP, "notmrcnn.pth"), make_pickle([("fc.weight", "0", 4, 0, (2, 2), (2, 1))]),
                    {"0": data})
    rc, _o, err = run("torchvision", path, "--config", SHAPES_CFG, "-o", out)
    assert rc == 1 and "not a torchvision detection checkpoint" in err and "'fc.weight'" in err, err


def test_shapes_graph_follows_the_contract():
    m = shapes_detc()
    cfg = json.load(open(SHAPES_CFG))
    j = m.j
    assert j["inputs"] == ["image", "image_size"]
    assert m.tensors["image"]["shape"] == [1, 256, 256, 3] and m.tensors["image"]["dtype"] == "f32"
    assert m.tensors["image_size"]["shape"] == [2] and m.tensors["image_size"]["dtype"] == "i32"
    assert j["outputs"] == ["detections/boxes", "detections/scores", "detections/labels", "detections/count",
                            "mask/probs"]
    assert j["labels"] == cfg["classes"]
    ops = Counter(n["op"] for n in j["nodes"])
    assert set(ops) <= CONTRACT_OPS, set(ops) - CONTRACT_OPS
    # ResNet-18: 1 stem conv + 16 block convs + 3 downsample; FPN 4 lateral + 4 output; RPN 3 x 5;
    # mask head 4 + logits 1
    assert ops["conv2d"] == 20 + 8 + 15 + 5, ops
    assert ops["add"] == 8 + 3 and ops["max_pool2d"] == 2 and ops["resize_nearest"] == 3
    assert ops["anchors"] == 5 and ops["rpn_proposals"] == 1 and ops["roi_align"] == 2
    assert ops["fully_connected"] == 4 and ops["box_detections"] == 1 and ops["conv2d_transpose"] == 1
    assert ops["relu"] == 0 and ops["mask_select"] == 1  # the mask head's ReLU is fused into conv2d_transpose
    for t in m.tensors.values():
        if m.is_const(t["name"]):
            assert t["dtype"] == "f32" and np.all(np.isfinite(m.const(t["name"]))), t["name"]
    rp = m.producer["rpn/proposals"]
    assert rp["inputs"] == [x for k in LEVELS for x in ("rpn/objectness/" + k, "rpn/deltas/" + k,
                                                         "rpn/anchors/" + k)] + ["image_size"]
    assert rp["outputs"] == ["rpn/proposals", "rpn/proposals_count"]
    assert m.tensors["rpn/proposals_count"]["dtype"] == "i32"
    assert rp["attrs"] == {"pre_nms_top_n": 500, "post_nms_top_n": 300, "nms_threshold": np.float32(0.7).item(),
                           "min_size": 1e-3, "score_threshold": 0.0}, rp["attrs"]
    for k, size in zip(LEVELS, (32, 64, 128, 256, 512)):
        a = m.producer["rpn/anchors/" + k]
        assert a["inputs"] == [k, "image"] and a["attrs"] == {"sizes": [size], "aspect_ratios": [0.5, 1.0, 2.0]}
    for name, size, boxes in (("box/roi_features", 7, "rpn/proposals"), ("mask/roi_features", 14, "detections/boxes")):
        r = m.producer[name]
        assert r["inputs"] == [boxes, boxes.replace("proposals", "proposals_count").replace("boxes", "count"),
                               "P2", "P3", "P4", "P5"], r["inputs"]
        assert r["attrs"] == {"output_size": size, "sampling_ratio": 2, "aligned": False,
                              "spatial_scales": [0.25, 0.125, 0.0625, 0.03125], "canonical_scale": 224,
                              "canonical_level": 4, "mode": "torchvision"}, r["attrs"]
    bd = m.producer["detections/boxes"]
    assert bd["op"] == "box_detections" and bd["outputs"] == ["detections/boxes", "detections/scores",
                                                              "detections/labels", "detections/count"]
    assert bd["inputs"] == ["box/class_logits", "box/box_regression", "rpn/proposals", "rpn/proposals_count",
                            "image_size"]
    assert bd["attrs"]["detections_per_img"] == 50 and bd["attrs"]["weights"] == [10.0, 10.0, 5.0, 5.0]
    assert abs(bd["attrs"]["score_threshold"] - 0.05) < 1e-7 and abs(bd["attrs"]["nms_threshold"] - 0.5) < 1e-7
    assert m.tensors["detections/labels"]["dtype"] == "i32" and m.tensors["detections/count"]["dtype"] == "i32"
    ms = m.producer["mask/probs"]
    assert ms["op"] == "mask_select" and ms["inputs"] == ["mask/logits", "detections/labels", "detections/count"]
    p = j["pipeline"]
    assert p["kind"] == "maskrcnn"
    assert p["input"]["min_size"] == 256 and p["input"]["max_size"] == 256 and p["input"]["size_divisible"] == 32
    assert p["input"]["mean"] == [0.485, 0.456, 0.406] and p["input"]["std"] == [0.229, 0.224, 0.225]
    assert p["input"]["tensor"] == "image" and p["input"]["image_size"] == "image_size"
    assert {k: p["outputs"][k] for k in ("boxes", "scores", "labels", "count", "masks")} == {
        "boxes": "detections/boxes", "scores": "detections/scores", "labels": "detections/labels",
        "count": "detections/count", "masks": "mask/probs"}
    # every stage output named in the contract exists
    for name in ["C2", "C3", "C4", "C5"] + LEVELS + ["box/class_logits", "box/box_regression", "mask/logits"]:
        assert name in m.producer, name


def test_weight_transforms_match_the_checkpoint():
    m = shapes_detc()
    sd = torch_pickle.state_dict(torch_pickle.load(SHAPES_PTH))
    # FPN / RPN / mask convs: OIHW -> OHWI, biases as they are; RPN deltas keep their channel order
    for key, const in (("backbone.fpn.layer_blocks.0.0", "backbone.fpn.layer_blocks.0.0"),
                       ("rpn.head.bbox_pred", "rpn.head.bbox_pred"), ("rpn.head.cls_logits", "rpn.head.cls_logits"),
                       ("roi_heads.mask_head.2.0", "roi_heads.mask_head.2.0"),
                       ("roi_heads.mask_predictor.mask_fcn_logits", "roi_heads.mask_predictor.mask_fcn_logits")):
        assert np.array_equal(m.const(const + "/filter"), sd[key + ".weight"].transpose(0, 2, 3, 1)), key
        assert np.array_equal(m.const(const + "/bias"), sd[key + ".bias"]), key
    # the RPN head's constants are shared by the five levels
    for k in LEVELS:
        assert m.producer["rpn/deltas/" + k]["inputs"][1:] == ["rpn.head.bbox_pred/filter", "rpn.head.bbox_pred/bias"]
    # fc6: columns in (y, x, c) order, i.e. W'[:, (y*7+x)*C + c] == W[:, c*49 + y*7 + x]
    w6 = sd["roi_heads.box_head.fc6.weight"]
    got = m.const("box/fc6/weights")
    c = 128
    rs = np.random.RandomState(0)
    for _ in range(200):
        y, x, ch = rs.randint(7), rs.randint(7), rs.randint(c)
        assert np.array_equal(got[:, (y * 7 + x) * c + ch], w6[:, ch * 49 + y * 7 + x])
    for name, key in (("box/fc7", "roi_heads.box_head.fc7"), ("box/class_logits", "roi_heads.box_predictor.cls_score"),
                      ("box/box_regression", "roi_heads.box_predictor.bbox_pred")):
        assert np.array_equal(m.const(name + "/weights"), sd[key + ".weight"]), name
        assert np.array_equal(m.const(name + "/bias"), sd[key + ".bias"]), name
    # ConvTranspose2d [Ci, Co, 2, 2] -> [Co, 2, 2, Ci]
    wt = sd["roi_heads.mask_predictor.conv5_mask.weight"]
    assert np.array_equal(m.const("mask/deconv/filter"), wt.transpose(1, 2, 3, 0))
    # folded BN, recomputed here in float64
    w = sd["backbone.body.layer2.0.conv1.weight"].astype(np.float64)
    g, b, mu, var = (sd["backbone.body.layer2.0.bn1." + k].astype(np.float64)
                     for k in ("weight", "bias", "running_mean", "running_var"))
    s = g / np.sqrt(var + 1e-5)
    assert np.allclose(m.const("backbone.body.layer2.0.conv1/filter"), (w * s[:, None, None, None]).transpose(0, 2, 3, 1),
                       rtol=1e-6, atol=1e-7)
    assert np.allclose(m.const("backbone.body.layer2.0.conv1/bias"), b - mu * s, rtol=1e-6, atol=1e-7)
    conv = m.producer["backbone/layer2.0/conv1"]
    assert conv["attrs"] == {"stride": [2, 2], "dilation": [1, 1], "padding": [1, 1, 1, 1], "activation": "relu"}
    assert m.producer["backbone/conv1"]["attrs"]["padding"] == [3, 3, 3, 3]
    assert m.producer["backbone/maxpool"]["attrs"] == {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1, 1, 1]}
    assert m.producer["P6"]["attrs"] == {"kernel": [1, 1], "stride": [2, 2], "padding": [0, 0, 0, 0]}
    assert m.producer["C3"]["op"] == "add" and m.producer["C3"]["attrs"] == {"activation": "relu"}


def _torch_block_check(block, m, tag, x_shape, seed):
    import torch
    torch.manual_seed(seed)
    x = torch.randn(*x_shape)
    with torch.no_grad():
        ref = block(x).permute(0, 2, 3, 1).numpy()
    fed = {"x": x.permute(0, 2, 3, 1).numpy().astype(np.float64)}
    # the block's sub-graph, with its input renamed to "x"
    first = m.producer[tag + "/conv1"]
    src = first["inputs"][0]
    out_name = [n for n in m.j["nodes"] if n["op"] == "add" and n["inputs"][0].startswith(tag + "/")][0]["outputs"][0]
    fed = {src: fed["x"]}
    got = run_dense(m, fed, [out_name])[out_name]
    ok, worst, mx = close(got, ref, rtol=1e-4, atol_frac=1e-5)
    assert ok, "%s: numpy from .detc vs torch: max |diff| %.3g (%.2f x tolerance)" % (tag, mx, worst)


def test_folded_bn_block_equals_torch_conv_bn():
    need_shapes()
    need_torch()
    import torch
    from torchvision.models.resnet import BasicBlock
    from torchvision.ops.misc import FrozenBatchNorm2d
    m = shapes_detc()
    sd = torch.load(SHAPES_PTH)
    for tag, cin, cout, stride in (("layer1.0", 64, 64, 1), ("layer3.0", 128, 256, 2)):
        down = None
        if stride != 1:
            down = torch.nn.Sequential(torch.nn.Conv2d(cin, cout, 1, stride, bias=False), FrozenBatchNorm2d(cout))
        blk = BasicBlock(cin, cout, stride, down, norm_layer=FrozenBatchNorm2d).eval()
        pre = "backbone.body.%s." % tag
        blk.load_state_dict({k[len(pre):]: v for k, v in sd.items() if k.startswith(pre)})
        _torch_block_check(blk, m, "backbone/" + tag, (1, cin, 20, 24), 1)


def test_r50_bottleneck_converts_and_folds():
    need_torch()
    out = os.path.join(TMP, "r50")
    p = subprocess.run([PY, REF_TOOL, "--random-r50", "7", "--out", out, "--threads", "4"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert p.returncode == 0, p.stderr
    pth, cfg = os.path.join(out, "random_r50_seed7.pth"), os.path.join(out, "random_r50_seed7.json")
    detc = os.path.join(out, "r50.detc")
    rc, _o, err = run("torchvision", pth, "--config", cfg, "--input-size", "800x1088", "-o", detc)
    assert rc == 0, err
    m = Detc(detc)
    assert m.tensors["image"]["shape"] == [1, 800, 1088, 3]
    ops = Counter(n["op"] for n in m.j["nodes"])
    assert ops["conv2d"] == 1 + 16 * 3 + 4 + 8 + 15 + 5 and ops["add"] == 16 + 3, ops
    assert len(m.j["labels"]) == 91 and m.j["labels"][0] == "__background__"
    # torchvision puts the stride of a Bottleneck on its 3x3 conv
    assert m.producer["backbone/layer2.0/conv1"]["attrs"]["stride"] == [1, 1]
    assert m.producer["backbone/layer2.0/conv2"]["attrs"]["stride"] == [2, 2]
    assert m.producer["backbone/layer2.0/downsample"]["attrs"]["stride"] == [2, 2]
    import torch
    from torchvision.models.resnet import Bottleneck
    from torchvision.ops.misc import FrozenBatchNorm2d
    sd = torch.load(pth)
    down = torch.nn.Sequential(torch.nn.Conv2d(256, 512, 1, 2, bias=False), FrozenBatchNorm2d(512))
    blk = Bottleneck(256, 128, 2, down, norm_layer=FrozenBatchNorm2d).eval()
    pre = "backbone.body.layer2.0."
    blk.load_state_dict({k[len(pre):]: v for k, v in sd.items() if k.startswith(pre) and "num_batches" not in k})
    _torch_block_check(blk, m, "backbone/layer2.0", (1, 256, 18, 22), 2)


# -- tests: the dense graph against torchvision's stage outputs --------------------------------------------
_LIVE = []


def live_refs():
    """Reference dumps with stage inputs for shapes_000, made now with torchvision."""
    if not _LIVE:
        out = os.path.join(TMP, "ref_shapes_000")
        p = subprocess.run([PY, REF_TOOL, SHAPES_PTH, "--config", SHAPES_CFG, "--image",
                            os.path.join(SHAPES_DIR, "val", "shapes_000.png"), "--out", out, "--stage-inputs"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        assert p.returncode == 0, p.stderr
        _LIVE.append(out)
    return _LIVE[0]


def load_dump(d):
    man = json.load(open(os.path.join(d, "manifest.json")))
    return {e["name"]: np.load(os.path.join(d, e["file"])) for e in man["tensors"]}, man


def stage_dense(m, ref_dir, stage, inputs, outputs, extra=()):
    fed, _ = load_dump(os.path.join(ref_dir, "stages", stage))
    ref, _ = load_dump(ref_dir)
    fed = {k: v.astype(np.float64) if v.dtype == np.float32 else v for k, v in fed.items()}
    if stage == "mask_head":  # the mask head's row count (older references lack it in the stage dump)
        fed.setdefault("detections/count", ref["detections/count"])
        inputs = list(inputs) + ["detections/count"]
    wanted = list(outputs) + list(extra)
    got = run_dense(m, {k: fed[k] for k in inputs}, wanted)
    bad = []
    for w in wanted:
        g, r = got[w], ref[w]
        if w.startswith(("box/", "mask/")):        # only the valid rows
            rows = int(ref["rpn/proposals_count"][0] if w.startswith("box/") else ref["detections/count"][0])
            g, r = g[:rows], r[:rows]
        ok, worst, mx = close(g, r)
        if not ok:
            bad.append("%s: max |diff| %.3g, %.2f x tolerance" % (w, mx, worst))
    assert not bad, "; ".join(bad)


def test_dense_stages_match_torchvision_live():
    need_shapes()
    need_torch()
    m = shapes_detc()
    ref = live_refs()
    stage_dense(m, ref, "backbone", ["image"], ["C2", "C3", "C4", "C5"],
                extra=["backbone/conv1", "backbone/maxpool", "backbone/layer1.0", "backbone/layer3.0/downsample"])
    stage_dense(m, ref, "fpn", ["C2", "C3", "C4", "C5"], LEVELS,
                extra=["fpn/lateral/P3", "fpn/topdown/P2", "fpn/merged/P3"])
    stage_dense(m, ref, "rpn_head", LEVELS, ["rpn/objectness/" + k for k in LEVELS] +
                ["rpn/deltas/" + k for k in LEVELS] + ["rpn/conv/P4"])
    stage_dense(m, ref, "box_head", ["box/roi_features"], ["box/class_logits", "box/box_regression"],
                extra=["box/fc6", "box/fc7"])
    stage_dense(m, ref, "mask_head", ["mask/roi_features"], ["mask/logits"],
                extra=["mask/fcn1", "mask/fcn4", "mask/deconv_relu"])


def image_input(png, mean, std):
    """detc's graph input for a 256x256 image with min_size = max_size = 256 (resize is the identity):
    ((p / 255) - mean) / std in float32, as torchvision's to_tensor + normalize compute it."""
    from_png = read_png_rgb(png).astype(np.float32)
    x = (from_png / np.float32(255) - np.array(mean, np.float32)) / np.array(std, np.float32)
    return x[None].astype(np.float32)


def read_png_rgb(path):
    """Minimal PNG reader for the 8-bit RGB/RGBA, non-interlaced validation images."""
    import zlib as z
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _c, _f, interlace = hdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, hdr
    ch = 3 if ctype == 2 else 4
    raw = z.decompress(idat)
    stride = w * ch
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        cur = np.zeros(stride, np.int32)
        for i in range(stride):
            a = cur[i - ch] if i >= ch else 0
            b = prev[i]
            c = prev[i - ch] if i >= ch else 0
            if f == 0:
                v = line[i]
            elif f == 1:
                v = line[i] + a
            elif f == 2:
                v = line[i] + b
            elif f == 3:
                v = line[i] + (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                v = line[i] + (a if pa <= pb and pa <= pc else (b if pb <= pc else c))
            cur[i] = v & 255
        out[y] = cur
        prev = cur
    return out.reshape(h, w, ch)[:, :, :3]


def test_dense_stages_match_stored_references():
    need_shapes()
    if not os.path.isdir(STORED):
        raise Skip("no stored references in %s (make maskrcnn-refs)" % STORED)
    m = shapes_detc()
    cfg = json.load(open(SHAPES_CFG))
    dirs = sorted(d for d in os.listdir(STORED) if os.path.isdir(os.path.join(STORED, d)))
    assert dirs, "no reference directories in " + STORED
    d = os.path.join(STORED, dirs[0])
    man = json.load(open(os.path.join(d, "manifest.json")))
    x = image_input(os.path.join(SHAPES_DIR, "val", man["image_file"]), cfg["image_mean"], cfg["image_std"])
    import hashlib
    assert hashlib.sha256(x.tobytes()).hexdigest() == man["image_sha256"], \
        "the recomputed graph input differs from torchvision's transform output"
    samples = {}
    for e in man["tensors"]:
        if "sample_of" in e:
            samples.setdefault(e["sample_of"], {})[e["name"].rsplit("@", 1)[1]] = np.load(os.path.join(d, e["file"]))
    wanted = ["backbone/conv1", "C2", "C3", "C4", "C5", "fpn/merged/P2"] + LEVELS + ["rpn/conv/P3"]
    got = run_dense(m, {"image": x.astype(np.float64)}, wanted + ["rpn/objectness/" + k for k in LEVELS] +
                    ["rpn/deltas/" + k for k in LEVELS])
    bad = []
    for w in wanted:
        s = samples[w]
        ok, worst, mx = close(got[w].reshape(-1)[s["idx"]], s["val"])
        if not ok:
            bad.append("%s: %.2f x tolerance" % (w, worst))
    for k in LEVELS:
        for t in ("rpn/objectness/", "rpn/deltas/"):
            ok, worst, mx = close(got[t + k], np.load(os.path.join(d, (t + k).replace("/", "_") + ".npy")))
            if not ok:
                bad.append("%s%s: %.2f x tolerance" % (t, k, worst))
    assert not bad, "; ".join(bad)


def main():
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    if not os.path.exists(SHAPES_PTH):
        print("note: %s not found; the model tests are skipped (shared models live in ../shared/models)" % SHAPES_PTH)
    if not have_torch():
        print("note: torch/torchvision not installed; the torch comparisons are skipped")
    passed = failed = skipped = 0
    for name, fn in tests:
        t0 = time.time()
        try:
            fn()
            passed += 1
            print("ok    %s (%.1f s)" % (name, time.time() - t0))
        except Skip as e:
            skipped += 1
            print("SKIP  %s: %s" % (name, e))
        except Exception as e:  # report and go on
            failed += 1
            print("FAIL  %s: %s: %s" % (name, type(e).__name__, e))
    if not os.environ.get("DETC_KEEP_TMP"):
        shutil.rmtree(TMP, ignore_errors=True)   # sub-models and dumps (hundreds of MB); keep with DETC_KEEP_TMP=1
    print("%d passed, %d failed%s" % (passed, failed, ", %d skipped" % skipped if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
