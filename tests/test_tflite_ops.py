#!/usr/bin/python3
"""Every TFLite op and option detc-convert maps, run through TFLite itself and through detc.

Run: /usr/bin/python3 tests/test_tflite_ops.py [--regen] [CASE ...]   (prints "N passed, M failed" last)

Each case builds a small .tflite with tests/tflite_writer.py (seeded random weights and inputs), converts
it with tools/detc-convert, runs it with `detc run` and compares every model output with TFLite's:
integer outputs bit-exact, f32 outputs within 1e-5 relative (+1e-6 absolute). TFLite's outputs come from
tools/tflite_ref (TFLite's C++ runtime in WebAssembly, --no-xnnpack: the built-in kernels) and are stored
in tests/data/tflite_ops/CASE/ with the sha256 of the model they belong to, so `make test` needs no
node. A graph without stored outputs (new, or changed) is run through TFLite when the runner is
installed and its outputs stored; --regen rewrites them all; --live (or DETC_TFLITE_LIVE=1) also checks
that the stored outputs are still TFLite's answer. The converter runs in this process (tools/detc_convert).
"""

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
import zlib
from collections import OrderedDict

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import tflite_writer as tw  # noqa: E402
from detc_convert import cli as convert_cli  # noqa: E402
from scratch import scratch_dir  # noqa: E402

DETC = os.environ.get("DETC_BIN", os.path.join(ROOT, "build", "detc"))
RUNNER = os.path.join(ROOT, "tools", "tflite_ref", "run.mjs")
DATA = os.path.join(ROOT, "tests", "data", "tflite_ops")
TMP = scratch_dir("detc_tflite_ops_")
LIVE = os.environ.get("DETC_TFLITE_LIVE") == "1"

CASES = OrderedDict()


def case(fn):
    CASES[fn.__name__[len("case_"):]] = fn
    return fn


def npy_name(name):
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) + ".npy"


class G:
    """A model under construction plus its inputs: g.m is the tflite_writer.Model."""

    def __init__(self, name):
        self.m = tw.Model()
        self.rng = np.random.RandomState(zlib.crc32(name.encode()) & 0x7FFFFFFF)
        self.inputs, self.feeds, self.outputs = [], [], []
        self.n = 0
        self.rows_per_count = 1  # post-process rows filled per counted detection

    def _name(self, base):
        self.n += 1
        return "%s_%d" % (base, self.n)

    def input(self, dt, shape, scale=None, zp=None, lo=None, hi=None):
        i = self.m.tensor(self._name("in"), dt, shape, scale=scale, zero_point=zp)
        if dt == "f32":
            v = self.rng.uniform(-3 if lo is None else lo, 3 if hi is None else hi, shape).astype(np.float32)
        else:
            info = np.iinfo(tw.NP[dt])
            v = self.rng.randint(info.min if lo is None else lo, (info.max if hi is None else hi) + 1,
                                 size=shape).astype(tw.NP[dt])
        self.inputs.append(i)
        self.feeds.append(v)
        return i

    def act(self, dt, shape, scale=None, zp=None, base="t"):
        return self.m.tensor(self._name(base), dt, shape, scale=scale, zero_point=zp)

    def const(self, dt, shape, values, scale=None, zp=None, axis=0, base="w"):
        return self.m.tensor(self._name(base), dt, shape, data=values, scale=scale, zero_point=zp, axis=axis)

    def rand_q(self, dt, shape, base="w", scale=0.02, zp=0, axis=None):
        info = np.iinfo(tw.NP[dt])
        lo = info.min + (1 if dt == "i8" else 0)
        v = self.rng.randint(lo, info.max + 1, size=shape)
        if axis is not None:
            sc = (self.rng.uniform(0.5, 1.5, shape[axis]) * scale).astype(np.float32)
            return self.const(dt, shape, v, scale=sc, zp=[0] * shape[axis], axis=axis, base=base)
        return self.const(dt, shape, v, scale=scale, zp=zp, base=base)

    def rand_f(self, shape, base="w", amp=0.5):
        return self.const("f32", shape, self.rng.uniform(-amp, amp, shape).astype(np.float32), base=base)

    def op(self, name, inputs, outputs, **kw):
        self.m.op(name, inputs, outputs, **kw)
        return outputs[0] if len(outputs) == 1 else outputs

    def out(self, *idx):
        self.outputs.extend(idx)
        return self

    def build(self):
        return self.m.build(self.inputs, self.outputs)


def bias_i32(g, n, sx, sw):
    sw = np.atleast_1d(np.asarray(sw, dtype=np.float32))
    scales = (np.float32(sx) * sw).astype(np.float32)
    return g.const("i32", [n], g.rng.randint(-2000, 2000, n), scale=scales, zp=[0] * len(scales), axis=0, base="b")


# -- element-wise arithmetic -------------------------------------------------------------------------
def _arith(name, op, dt, bshape=(1, 1, 1, 3), fused=0):
    g = G(name)
    if dt == "f32":
        a, b = g.input("f32", [1, 4, 5, 3]), g.input("f32", list(bshape))
        o = g.act("f32", [1, 4, 5, 3])
    else:
        a = g.input(dt, [1, 4, 5, 3], 0.05, 3 if dt == "i8" else 120)
        b = g.input(dt, list(bshape), 0.031, -10 if dt == "i8" else 100)
        o = g.act(dt, [1, 4, 5, 3], 0.07 if op != "MUL" else 0.15, 5 if dt == "i8" else 110)
    g.op(op, [a, b], [o], fused=fused)
    return g.out(o)


for _op in ("ADD", "SUB", "MUL"):
    for _dt in ("u8", "i8", "f32"):
        for _shape, _tag in (((1, 4, 5, 3), "same"), ((1, 1, 1, 3), "bcast_c"), ((1, 4, 1, 1), "bcast_h")):
            for _fused, _ftag in ((0, ""), (1, "_relu"), (3, "_relu6")):
                if _ftag and _tag != "bcast_c":
                    continue
                _n = "%s_%s_%s%s" % (_op.lower(), _dt, _tag, _ftag)
                CASES[_n] = (lambda n=_n, op=_op, dt=_dt, s=_shape, f=_fused: _arith(n, op, dt, s, f))


# -- pooling, reductions -------------------------------------------------------------------------------
def _pool(name, op, dt, k, s, pad, fused=0):
    g = G(name)
    q = (0.1, 7 if dt == "i8" else 130) if dt != "f32" else (None, None)
    x = g.input(dt, [1, 9, 8, 4], *q)
    oh = (9 + s - 1) // s if pad == 0 else (9 - k) // s + 1
    ow = (8 + s - 1) // s if pad == 0 else (8 - k) // s + 1
    o = g.act(dt, [1, oh, ow, 4], *q)
    g.op(op, [x], [o], padding=pad, stride_w=s, stride_h=s, filter_w=k, filter_h=k, fused=fused)
    return g.out(o)


for _op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
    for _dt in ("u8", "i8", "f32"):
        for _k, _s, _p in ((3, 2, 0), (2, 2, 1), (3, 1, 0)):
            _n = "%s_%s_k%ds%d%s" % (_op.split("_")[0].lower(), _dt, _k, _s, "_same" if _p == 0 else "_valid")
            CASES[_n] = (lambda n=_n, op=_op, dt=_dt, k=_k, s=_s, p=_p: _pool(n, op, dt, k, s, p))
CASES["average_u8_global_relu6"] = lambda: _pool("average_u8_global_relu6", "AVERAGE_POOL_2D", "u8", 8, 1, 1, 3)


@case
def case_mean_f32_hw_keepdims():
    g = G("mean_f32_hw_keepdims")
    x = g.input("f32", [1, 5, 6, 7])
    ax = g.const("i32", [2], [1, 2], base="axes")
    o = g.act("f32", [1, 1, 1, 7])
    g.op("MEAN", [x, ax], [o], keep_dims=True)
    return g.out(o)


def _mean_q(name, dt, axes, keep, in_q, out_q, shape=(1, 5, 6, 7)):
    g = G(name)
    x = g.input(dt, list(shape), *in_q)
    ax = g.const("i32", [len(axes)], axes, base="axes")
    red = [(a + len(shape)) % len(shape) for a in axes]
    oshape = [1 if i in red else d for i, d in enumerate(shape) if keep or i not in red]
    o = g.act(dt, oshape, *out_q)
    g.op("MEAN", [x, ax], [o], keep_dims=keep)
    return g.out(o)


for _dt, _zi, _zo in (("u8", 128, 120), ("i8", -3, 6)):
    for _axes, _keep, _tag in (([1, 2], True, "hw_keep"), ([2, 1], False, "hw"), ([3], True, "c"),
                               ([1], False, "h")):
        for _qo, _qtag in (((0.05, _zi), "same_q"), ((0.031, _zo), "requant")):
            _n = "mean_%s_%s_%s" % (_dt, _tag, _qtag)
            CASES[_n] = (lambda n=_n, dt=_dt, a=_axes, k=_keep, zi=_zi, qo=_qo:
                         _mean_q(n, dt, a, k, (0.05, zi), qo))
CASES["mean_u8_global_16x16"] = lambda: _mean_q("mean_u8_global_16x16", "u8", [1, 2], True, (0.1, 130), (0.02, 125),
                                               shape=(1, 16, 16, 9))


@case
def case_mean_f32_c_nokeep():
    g = G("mean_f32_c_nokeep")
    x = g.input("f32", [1, 5, 6, 7])
    ax = g.const("i32", [1], [-1], base="axes")
    o = g.act("f32", [1, 5, 6])
    g.op("MEAN", [x, ax], [o], keep_dims=False)
    return g.out(o)


# -- convolutions (per-channel int8, uint8, float) -----------------------------------------------------
def _conv(name, dt, depthwise, stride=1, pad=0, fused=3, dil=1, mult=1):
    g = G(name)
    ci, co = 4, (4 * mult if depthwise else 6)
    if dt == "f32":
        x = g.input("f32", [1, 9, 9, ci])
        w = g.rand_f([1, 3, 3, co] if depthwise else [co, 3, 3, ci])
        b = g.rand_f([co], base="b")
        sx = None
    else:
        sx, zx = 0.05, (-3 if dt == "i8" else 128)
        x = g.input(dt, [1, 9, 9, ci], sx, zx)
        if dt == "i8":
            w = g.rand_q("i8", [1, 3, 3, co] if depthwise else [co, 3, 3, ci], scale=0.01,
                         axis=3 if depthwise else 0)
            sw = g.m.tensors[w].fields[4][1].fields[2][1]
        else:
            w = g.rand_q("u8", [1, 3, 3, co] if depthwise else [co, 3, 3, ci], scale=0.01, zp=127)
            sw = [0.01]
        b = bias_i32(g, co, sx, sw)
    if pad == 0:
        oh = (9 + stride - 1) // stride
    else:
        oh = (9 - (3 - 1) * dil - 1) // stride + 1
    o = g.act(dt, [1, oh, oh, co], *((None, None) if dt == "f32" else (0.08, 10 if dt == "i8" else 5)))
    kw = dict(padding=pad, stride_w=stride, stride_h=stride, fused=fused, dilation_w=dil, dilation_h=dil)
    if depthwise:
        kw["depth_multiplier"] = mult
    g.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x, w, b], [o], **kw)
    return g.out(o)


for _dt in ("i8", "u8", "f32"):
    for _dw in (False, True):
        for _s, _p, _d, _f in ((1, 0, 1, 3), (2, 0, 1, 0), (1, 1, 2, 1)):
            _n = "%s_%s_s%d_%s_d%d" % ("dwconv" if _dw else "conv", _dt, _s, "same" if _p == 0 else "valid", _d)
            CASES[_n] = (lambda n=_n, dt=_dt, dw=_dw, s=_s, p=_p, d=_d, f=_f: _conv(n, dt, dw, s, p, f, d))
CASES["dwconv_i8_mult2"] = lambda: _conv("dwconv_i8_mult2", "i8", True, mult=2)
CASES["dwconv_i8_mult4_relu"] = lambda: _conv("dwconv_i8_mult4_relu", "i8", True, fused=1, mult=4)
CASES["dwconv_u8_mult4_s2"] = lambda: _conv("dwconv_u8_mult4_s2", "u8", True, stride=2, mult=4)


# -- activations -------------------------------------------------------------------------------------
def _unary(name, op, dt, in_q, out_q, shape=(1, 6, 7, 5), **kw):
    g = G(name)
    x = g.input(dt, list(shape), *in_q) if dt != "f32" else g.input("f32", list(shape), lo=-6, hi=6)
    o = g.act(dt, list(shape), *out_q)
    g.op(op, [x], [o], **kw)
    return g.out(o)


_UNARY = [
    ("logistic_u8", "LOGISTIC", "u8", (0.08, 128), (1 / 256, 0)),
    ("logistic_i8", "LOGISTIC", "i8", (0.08, 0), (1 / 256, -128)),
    ("logistic_f32", "LOGISTIC", "f32", (), ()),
    ("relu_u8", "RELU", "u8", (0.05, 100), (0.03, 0)),
    ("relu_i8", "RELU", "i8", (0.05, 10), (0.05, -128)),
    ("relu6_u8", "RELU6", "u8", (0.05, 100), (6 / 255, 0)),
    ("relu6_i8", "RELU6", "i8", (0.06, -5), (0.0235, -128)),
    ("hard_swish_u8", "HARD_SWISH", "u8", (0.05, 128), (0.04, 20)),
    ("hard_swish_i8", "HARD_SWISH", "i8", (0.05, 0), (0.03, -100)),
    ("hard_swish_i8_wide", "HARD_SWISH", "i8", (0.2, -20), (0.1, -110)),
    ("hard_swish_f32", "HARD_SWISH", "f32", (), ()),
    ("tanh_f32", "TANH", "f32", (), ()),
    ("tanh_u8", "TANH", "u8", (0.03, 128), (1 / 128, 128)),
    ("tanh_i8", "TANH", "i8", (0.02, -5), (1 / 128, 0)),
    ("tanh_u8_wide", "TANH", "u8", (0.1, 100), (1 / 128, 128)),
    ("softmax_f32", "SOFTMAX", "f32", (), ()),
    ("softmax_u8", "SOFTMAX", "u8", (0.05, 128), (1 / 256, 0)),
    ("softmax_i8", "SOFTMAX", "i8", (0.1, 3), (1 / 256, -128)),
    ("softmax_u8_sharp", "SOFTMAX", "u8", (0.3, 100), (1 / 256, 0)),
]
for _n, _op, _dt, _iq, _oq in _UNARY:
    CASES[_n] = (lambda n=_n, op=_op, dt=_dt, iq=_iq, oq=_oq:
                 _unary(n, op, dt, iq, oq, **({"beta": 1.0} if op == "SOFTMAX" else {})))
CASES["softmax_f32_beta"] = lambda: _unary("softmax_f32_beta", "SOFTMAX", "f32", (), (), beta=0.7)


# -- quantize / dequantize ----------------------------------------------------------------------------
def _quantize(name, src, dst, sq, dq):
    g = G(name)
    x = g.input(src, [1, 5, 5, 3], *sq) if src != "f32" else g.input("f32", [1, 5, 5, 3], lo=-2, hi=2)
    o = g.act(dst, [1, 5, 5, 3], *dq)
    g.op("DEQUANTIZE" if dst == "f32" else "QUANTIZE", [x], [o])
    return g.out(o)


for _n, _s, _d, _sq, _dq in (("quantize_f32_u8", "f32", "u8", (), (0.0157, 128)),
                             ("quantize_f32_i8", "f32", "i8", (), (0.0157, -1)),
                             ("quantize_u8_i8", "u8", "i8", (0.0078125, 128), (0.0078125, 0)),
                             ("quantize_u8_i8_rescale", "u8", "i8", (0.0078125, 128), (0.011, -7)),
                             ("quantize_i8_i8", "i8", "i8", (0.03, 4), (0.05, -9)),
                             ("quantize_i8_u8", "i8", "u8", (0.03, 4), (0.02, 120)),
                             ("dequantize_u8", "u8", "f32", (0.03, 120), ()),
                             ("dequantize_i8", "i8", "f32", (0.03, -4), ())):
    CASES[_n] = (lambda n=_n, s=_s, d=_d, sq=_sq, dq=_dq: _quantize(n, s, d, sq, dq))


# -- resize ----------------------------------------------------------------------------------------
def _resize(name, op, dt, out_hw, ac, hp):
    g = G(name)
    q = (0.1, 3) if dt != "f32" else (None, None)
    x = g.input(dt, [1, 5, 4, 3], *q)
    sz = g.const("i32", [2], list(out_hw), base="size")
    o = g.act(dt, [1, out_hw[0], out_hw[1], 3], *q)
    g.op(op, [x, sz], [o], align_corners=ac, half_pixel_centers=hp)
    return g.out(o)


for _op, _dts in (("RESIZE_NEAREST_NEIGHBOR", ("u8", "i8", "f32")), ("RESIZE_BILINEAR", ("u8", "i8", "f32"))):
    for _dt in _dts:
        for _hw in ((10, 8), (7, 11), (3, 2)):
            for _ac, _hp in ((False, False), (True, False), (False, True)):
                _n = "%s_%s_%dx%d%s%s" % ("nearest" if "NEAREST" in _op else "bilinear", _dt, _hw[0], _hw[1],
                                          "_ac" if _ac else "", "_hp" if _hp else "")
                CASES[_n] = (lambda n=_n, op=_op, dt=_dt, hw=_hw, ac=_ac, hp=_hp: _resize(n, op, dt, hw, ac, hp))
for _dt in ("u8", "f32"):  # TFLite's nearest-neighbour kernel takes both flags at once (bilinear refuses it)
    for _hw in ((10, 8), (3, 7)):
        _n = "nearest_%s_%dx%d_ac_hp" % (_dt, _hw[0], _hw[1])
        CASES[_n] = (lambda n=_n, dt=_dt, hw=_hw: _resize(n, "RESIZE_NEAREST_NEIGHBOR", dt, hw, True, True))


# -- data movement -----------------------------------------------------------------------------------
@case
def case_transpose_i8():
    g = G("transpose_i8")
    x = g.input("i8", [2, 3, 4, 5], 0.1, 0)
    p = g.const("i32", [4], [0, 3, 1, 2], base="perm")
    o = g.act("i8", [2, 5, 3, 4], 0.1, 0)
    g.op("TRANSPOSE", [x, p], [o])
    return g.out(o)


@case
def case_transpose_f32_rank3():
    g = G("transpose_f32_rank3")
    x = g.input("f32", [3, 4, 5])
    p = g.const("i32", [3], [2, 0, 1], base="perm")
    o = g.act("f32", [5, 3, 4])
    g.op("TRANSPOSE", [x, p], [o])
    return g.out(o)


@case
def case_split_u8_axis3():
    g = G("split_u8_axis3")
    ax = g.const("i32", [1], [3], base="axis")
    x = g.input("u8", [1, 4, 4, 6], 0.1, 128)
    outs = [g.act("u8", [1, 4, 4, 2], 0.1, 128) for _ in range(3)]
    g.op("SPLIT", [ax, x], outs, num_splits=3)
    return g.out(*outs)


@case
def case_split_f32_axis1():
    g = G("split_f32_axis1")
    ax = g.const("i32", [1], [-3], base="axis")
    x = g.input("f32", [1, 4, 4, 6])
    outs = [g.act("f32", [1, 2, 4, 6]) for _ in range(2)]
    g.op("SPLIT", [ax, x], outs, num_splits=2)
    return g.out(*outs)


def _strided(name, dt, shape, begin, end, out_shape, **masks):
    g = G(name)
    x = g.input(dt, list(shape), *((0.1, 3) if dt != "f32" else ()))
    r = len(shape)
    b = g.const("i32", [r], begin, base="begin")
    e = g.const("i32", [r], end, base="end")
    s = g.const("i32", [r], [1] * r, base="strides")
    o = g.act(dt, list(out_shape), *((0.1, 3) if dt != "f32" else ()))
    g.op("STRIDED_SLICE", [x, b, e, s], [o], **masks)
    return g.out(o)


CASES["strided_slice_f32_box_coords"] = lambda: _strided("strided_slice_f32_box_coords", "f32", (1, 20, 4),
                                                         [0, 0, 2], [0, 0, 4], (1, 20, 2), begin_mask=3, end_mask=3)
CASES["strided_slice_u8_negative"] = lambda: _strided("strided_slice_u8_negative", "u8", (1, 6, 5, 3),
                                                      [0, -4, 1, 0], [1, -1, 100, 3], (1, 3, 4, 3))
CASES["strided_slice_i8_shrink"] = lambda: _strided("strided_slice_i8_shrink", "i8", (1, 6, 5, 3),
                                                    [0, 2, 0, 1], [1, 3, 5, 2], (1, 5), shrink_axis_mask=0b1010)


@case
def case_pack_i8_axis1():
    g = G("pack_i8_axis1")
    xs = [g.input("i8", [2, 3], 0.1, 0) for _ in range(3)]
    o = g.act("i8", [2, 3, 3], 0.1, 0)
    g.op("PACK", xs, [o], values_count=3, axis=1)
    return g.out(o)


@case
def case_pack_f32_last_axis():
    g = G("pack_f32_last_axis")
    xs = [g.input("f32", [2, 3]) for _ in range(4)]
    o = g.act("f32", [2, 3, 4])
    g.op("PACK", xs, [o], values_count=4, axis=2)
    return g.out(o)


@case
def case_concat_i8():
    g = G("concat_i8")
    a = g.input("i8", [1, 3, 3, 2], 0.05, 1)
    b = g.input("i8", [1, 3, 3, 4], 0.05, 1)
    o = g.act("i8", [1, 3, 3, 6], 0.05, 1)
    g.op("CONCATENATION", [a, b], [o], axis=3)
    return g.out(o)


@case
def case_concat_u8_requant():
    g = G("concat_u8_requant")
    a = g.input("u8", [1, 3, 3, 2], 0.05, 100)
    b = g.input("u8", [1, 3, 3, 4], 0.09, 130)
    o = g.act("u8", [1, 3, 3, 6], 0.07, 120)
    g.op("CONCATENATION", [a, b], [o], axis=3)
    return g.out(o)


@case
def case_pad_i8():
    g = G("pad_i8")
    x = g.input("i8", [1, 3, 3, 2], 0.05, -6)
    p = g.const("i32", [4, 2], [0, 0, 1, 2, 2, 1, 0, 0], base="pads")
    o = g.act("i8", [1, 6, 6, 2], 0.05, -6)
    g.op("PAD", [x, p], [o])
    return g.out(o)


# -- TFLite_Detection_PostProcess: every option -------------------------------------------------------------
def anchors_const(g, n, dt):
    """Anchors (yc, xc, h, w) in the box encodings' dtype: TFLite's kernel reads the anchors with the
    type of the box encodings."""
    yx = g.rng.uniform(0.1, 0.9, (n, 2))
    hw = g.rng.uniform(0.1, 0.4, (n, 2))
    anc = np.concatenate([yx, hw], 1).astype(np.float32)
    if dt == "f32":
        return g.const("f32", [n, 4], anc, base="anchors")
    info = np.iinfo(tw.NP[dt])
    zp = 0 if dt == "u8" else -128
    q = np.clip(np.round(anc / 0.004) + zp, info.min, info.max)
    return g.const(dt, [n, 4], q, scale=0.004, zp=zp, base="anchors")


def _postprocess(name, opts, dt="u8", anchors=60, classes=5, columns=None, cls_dt=None):
    g = G(name)
    columns = classes + 1 if columns is None else columns
    cls_dt = cls_dt or dt
    if dt == "f32":
        box = g.input("f32", [1, anchors, 4], lo=-2, hi=2)
    else:
        box = g.input(dt, [1, anchors, 4], 0.05, 128 if dt == "u8" else 0)
    if cls_dt == "f32":
        cls = g.input("f32", [1, anchors, columns], lo=0, hi=1)
    else:
        cls = g.input(cls_dt, [1, anchors, columns], 1 / 256, 0 if cls_dt == "u8" else -128)
    a = anchors_const(g, anchors, dt)
    d = opts.get("max_detections", 0) * max(opts.get("max_classes_per_detection", 0), 1)
    # 0 rows: shapes left out, as converters write the post-process outputs
    outs = [g.act("f32", [1, d, 4] if d else [], base="boxes"), g.act("f32", [1, d] if d else [], base="classes"),
            g.act("f32", [1, d] if d else [], base="scores"), g.act("f32", [1], base="count")]
    g.op("CUSTOM", [box, cls, a], outs, custom="TFLite_Detection_PostProcess",
         custom_options=tw.flexbuffer_map(opts))
    if not opts.get("use_regular_nms"):
        g.rows_per_count = opts.get("max_classes_per_detection", 1)
    return g.out(*outs)


PP_BASE = {"max_detections": 10, "max_classes_per_detection": 1, "num_classes": 5, "nms_iou_threshold": 0.5,
           "nms_score_threshold": 0.3, "y_scale": 10.0, "x_scale": 10.0, "h_scale": 5.0, "w_scale": 5.0}
PP_CASES = {
    "pp_fast_dpc0": dict(PP_BASE, detections_per_class=0),
    "pp_fast_no_dpc": dict(PP_BASE),
    "pp_fast_output_quantized": dict(PP_BASE, _output_quantized=True, _support_output_type_float_in_quantized_op=True),
    "pp_fast_two_classes": dict(PP_BASE, max_classes_per_detection=2),
    "pp_regular": dict(PP_BASE, use_regular_nms=True, detections_per_class=3),
    "pp_regular_no_dpc": dict(PP_BASE, use_regular_nms=True),
    "pp_regular_25": dict(PP_BASE, use_regular_nms=True, max_detections=25, detections_per_class=5),
    "pp_fast_100": dict(PP_BASE, max_detections=100, nms_score_threshold=0.0),
    "pp_no_score_threshold": {k: v for k, v in PP_BASE.items() if k != "nms_score_threshold"},
    "pp_int_valued_floats": dict(PP_BASE, y_scale=10, x_scale=10, h_scale=5, w_scale=5),
}
for _n, _o in PP_CASES.items():
    CASES[_n] = (lambda n=_n, o=_o: _postprocess(n, o))
CASES["pp_f32_boxes_u8_scores"] = lambda: _postprocess("pp_f32_boxes_u8_scores", dict(PP_BASE), dt="f32",
                                                       cls_dt="u8")
CASES["pp_fast_f32"] = lambda: _postprocess("pp_fast_f32", dict(PP_BASE), dt="f32")
CASES["pp_no_background_column"] = lambda: _postprocess("pp_no_background_column", dict(PP_BASE), columns=5)


# -- whole-network-shaped graphs (random weights) -------------------------------------------------------
def _detector(name, dt, v3=False, float_io=False):
    """An SSD-shaped network: (u8 image ->) QUANTIZE -> conv s2 -> dw -> pw (hard-swish in v3 style),
    a residual ADD, a second scale by stride-2 conv, per-scale box and class heads reshaped and
    concatenated, LOGISTIC, then TFLite_Detection_PostProcess. dt: 'u8' (TF1 uint8), 'i8' (TF2
    full-integer, int8 inside a u8 input), 'f32' (float model, float input)."""
    g = G(name)
    q = dt != "f32"
    qd = "i8" if dt == "i8" else dt
    zp0 = (lambda z: z - 128) if dt == "i8" else (lambda z: z)

    def act(shape, s, z):
        return g.act(qd, shape, s, zp0(z)) if q else g.act("f32", shape)

    def conv(x, sx, ci, co, k, s, dw=False, fused=3, so=0.05, zo=0, hw=None):
        if q:
            if dt == "i8":
                w = g.rand_q("i8", [1, k, k, co] if dw else [co, k, k, ci], scale=0.02, axis=3 if dw else 0)
                sw = g.m.tensors[w].fields[4][1].fields[2][1]
            else:
                w = g.rand_q("u8", [1, k, k, co] if dw else [co, k, k, ci], scale=0.02, zp=128)
                sw = [0.02]
            b = bias_i32(g, co, sx, sw)
        else:
            w = g.rand_f([1, k, k, co] if dw else [co, k, k, ci], amp=0.3)
            b = g.rand_f([co], base="b", amp=0.1)
        o = act([1, hw, hw, co], so, zo)
        kw = dict(padding=0, stride_w=s, stride_h=s, fused=fused)
        if dw:
            kw["depth_multiplier"] = 1
        g.op("DEPTHWISE_CONV_2D" if dw else "CONV_2D", [x, w, b], [o], **kw)
        return o

    if dt == "f32":
        x = g.input("f32", [1, 16, 16, 3], lo=-1, hi=1)
    elif float_io:  # an integer model with a float input: QUANTIZE first
        img = g.input("f32", [1, 16, 16, 3], lo=-1, hi=1)
        x = g.act(qd, [1, 16, 16, 3], 0.0078125, zp0(128))
        g.op("QUANTIZE", [img], [x])
    else:
        img = g.input("u8", [1, 16, 16, 3], 0.0078125, 128)
        if dt == "i8":
            x = g.act("i8", [1, 16, 16, 3], 0.0078125, 0)
            g.op("QUANTIZE", [img], [x])
        else:
            x = img
    c1 = conv(x, 0.0078125, 3, 8, 3, 2, so=0.05, zo=0, hw=8)
    c2 = conv(c1, 0.05, 8, 8, 3, 1, dw=True, so=0.05, zo=0, hw=8)
    c3 = conv(c2, 0.05, 8, 8, 1, 1, fused=0, so=0.06, zo=128, hw=8)
    if v3:
        h = act([1, 8, 8, 8], 0.05, 100)
        g.op("HARD_SWISH", [c3], [h])
        c3 = h
    r = act([1, 8, 8, 8], 0.08, 120)
    g.op("ADD", [c3, c1], [r], fused=0)
    c4 = conv(r, 0.08, 8, 12, 3, 2, so=0.05, zo=0, hw=4)
    feats = [(r, 0.08, 8, 8), (c4, 0.05, 12, 4)]
    boxes, scores = [], []
    classes = 4
    for f, sf, ch, hw in feats:
        bx = conv(f, sf, ch, 2 * 4, 1, 1, fused=0, so=0.1, zo=128, hw=hw)
        cl = conv(f, sf, ch, 2 * (classes + 1), 1, 1, fused=0, so=0.1, zo=140, hw=hw)
        br = act([1, hw * hw * 2, 4], 0.1, 128)
        cr = act([1, hw * hw * 2, classes + 1], 0.1, 140)
        g.op("RESHAPE", [bx, g.const("i32", [3], [1, hw * hw * 2, 4], base="shape")], [br])
        g.op("RESHAPE", [cl, g.const("i32", [3], [1, hw * hw * 2, classes + 1], base="shape")], [cr])
        boxes.append(br)
        scores.append(cr)
    n = sum(hw * hw * 2 for _f, _s, _c, hw in feats)
    bc = act([1, n, 4], 0.1, 128)
    cc = act([1, n, classes + 1], 0.1, 140)
    g.op("CONCATENATION", boxes, [bc], axis=1)
    g.op("CONCATENATION", scores, [cc], axis=1)
    sg = g.act(qd, [1, n, classes + 1], 1 / 256, zp0(0)) if q else g.act("f32", [1, n, classes + 1])
    g.op("LOGISTIC", [cc], [sg])
    if dt == "i8":
        # TF2 full-integer exports dequantize before the post-process (TFLite's kernel reads u8 or f32)
        bf, sf = g.act("f32", [1, n, 4]), g.act("f32", [1, n, classes + 1])
        g.op("DEQUANTIZE", [bc], [bf])
        g.op("DEQUANTIZE", [sg], [sf])
        bc, sg = bf, sf
    a = anchors_const(g, n, "f32" if dt == "i8" else qd)
    opts = dict(PP_BASE, num_classes=classes, nms_score_threshold=0.2, _output_quantized=True)
    outs = [g.act("f32", [1, 10, 4], base="boxes"), g.act("f32", [1, 10], base="classes"),
            g.act("f32", [1, 10], base="scores"), g.act("f32", [1], base="count")]
    g.op("CUSTOM", [bc, sg, a], outs, custom="TFLite_Detection_PostProcess", custom_options=tw.flexbuffer_map(opts))
    return g.out(*outs)


CASES["net_ssd_u8"] = lambda: _detector("net_ssd_u8", "u8")
CASES["net_ssd_i8_full_integer"] = lambda: _detector("net_ssd_i8_full_integer", "i8")
CASES["net_ssd_v3_i8_hard_swish"] = lambda: _detector("net_ssd_v3_i8_hard_swish", "i8", v3=True)
CASES["net_ssd_i8_float_input"] = lambda: _detector("net_ssd_i8_float_input", "i8", float_io=True)
CASES["net_ssd_u8_float_input"] = lambda: _detector("net_ssd_u8_float_input", "u8", float_io=True)
CASES["net_ssd_f32"] = lambda: _detector("net_ssd_f32", "f32")
CASES["net_ssd_v3_f32"] = lambda: _detector("net_ssd_v3_f32", "f32", v3=True)


# Post-process options detc refuses at load: (options, what `detc validate` must say, what TFLite does with
# them, checked with --live: "fails" when its kernel refuses them, else what goes wrong).
PP_REFUSED = {
    "pp_refused_regular_dpc0": (dict(PP_BASE, use_regular_nms=True, detections_per_class=0),
                                "'detections_per_class' is 0 with use_regular_nms", "fails"),
    "pp_refused_fast_mcpd0": (dict(PP_BASE, max_classes_per_detection=0), "'max_classes_per_detection' is 0", "fails"),
    "pp_refused_regular_mcpd0": (dict(PP_BASE, use_regular_nms=True, max_classes_per_detection=0),
                                 "'max_classes_per_detection' is 0", "writes 10 detections into 0-row outputs"),
    "pp_refused_iou0": (dict(PP_BASE, nms_iou_threshold=0.0), "0 < nms_iou_threshold <= 1", "fails"),
    "pp_refused_iou_1_5": (dict(PP_BASE, nms_iou_threshold=1.5), "0 < nms_iou_threshold <= 1", "fails"),
    "pp_refused_num_classes0": (dict(PP_BASE, num_classes=0), "'num_classes' is 0", "fails"),
    "pp_refused_y_scale0": ({k: v for k, v in PP_BASE.items() if k != "y_scale"}, "'y_scale' is 0",
                            "returns non-finite boxes"),
    "pp_refused_max_det0": (dict(PP_BASE, max_detections=0), "'max_detections' is 0",
                            "returns empty outputs (detc tensors cannot be empty)"),
}


def run_refused(name, live_check):
    opts, message, tflite_does = PP_REFUSED[name]
    g = _postprocess(name, opts)
    path, _sha, feeds, _names = materialize(name, g)
    conv = os.path.join(TMP, name, name + ".detc")
    convert(path, conv)
    p = subprocess.run([DETC, "validate", conv], capture_output=True, text=True, timeout=60)
    if p.returncode != 1 or message not in p.stderr:
        return "fail", "detc validate exit %d, expected 1 and %r: %s" % (p.returncode, message, p.stderr[-500:])
    if live_check and runner_available():
        cmd = ["node", RUNNER, path, "--no-xnnpack", "--out", os.path.join(TMP, name, "tflite")]
        for f in feeds:
            cmd += ["--input", f]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if (r.returncode != 0) != (tflite_does == "fails"):
            return "fail", "TFLite %s, expected it to %s" % ("failed" if r.returncode else "ran", tflite_does)
    return "ok", ""


# Known differences from TFLite, reported as skipped while they fail (and as failures if the reason changes):
# name -> (the failure text, the reason). None at present (int8 CONV_2D's single rounding, ruy's, is conv2d's
# rounding = "single", which the converter sets).
KNOWN = {}


# -- running -----------------------------------------------------------------------------------------
def runner_available():
    return shutil.which("node") and os.path.isdir(os.path.join(ROOT, "tools", "tflite_ref", "node_modules"))


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d): %s%s" % (os.path.basename(cmd[0]) if cmd[0] != "node" else "tflite_ref",
                                                      p.returncode, p.stderr[-2000:], p.stdout[-500:]))
    return p


def materialize(name, g):
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    model = g.build()
    path = os.path.join(d, name + ".tflite")
    with open(path, "wb") as f:
        f.write(model)
    feeds = []
    for k, v in enumerate(g.feeds):
        fp = os.path.join(d, "input%d.npy" % k)
        np.save(fp, v)
        feeds.append("%d=%s" % (k, fp))
    names = [g.m.tensors[i].fields[3][1] for i in g.outputs]
    return path, hashlib.sha256(model).hexdigest(), feeds, names


def tflite_outputs(path, feeds, out_dir):
    cmd = ["node", RUNNER, path, "--no-xnnpack", "--out", out_dir]
    for f in feeds:
        cmd += ["--input", f]
    run(cmd)
    return out_dir


def compare(name, names, ref_dir, got_dir):
    problems = []
    for nm in names:
        ref = np.load(os.path.join(ref_dir, npy_name(nm)))
        got = np.load(os.path.join(got_dir, npy_name(nm)))
        if nm.startswith(("boxes", "classes", "scores")) and got.shape != ref.shape:
            problems.append("%s: shape %s vs TFLite %s" % (nm, got.shape, ref.shape))
            continue
        if ref.shape != got.shape or ref.dtype != got.dtype:
            problems.append("%s: %s %s vs TFLite %s %s" % (nm, got.dtype, got.shape, ref.dtype, ref.shape))
            continue
        if ref.dtype.kind in "iu":
            diff = np.abs(got.astype(np.int64) - ref.astype(np.int64))
            if diff.max(initial=0) != 0:
                problems.append("%s: %d of %d values differ, max by %d" % (nm, int((diff != 0).sum()), diff.size,
                                                                          int(diff.max())))
        else:
            bad = ~np.isclose(got, ref, rtol=1e-5, atol=1e-6)
            if bad.any():
                problems.append("%s: %d of %d values beyond 1e-5 relative, max abs diff %g" % (
                    nm, int(bad.sum()), bad.size, float(np.abs(got - ref).max())))
    return problems


def postprocess_rows(names, d, per_count):
    """TFLite leaves the post-process rows after the detections as they were; detc writes zeros. Only the
    rows filled (count, times max_classes_per_detection for fast NMS) are compared."""
    count_name = [n for n in names if n.startswith("count")]
    if not count_name:
        return None
    return int(np.load(os.path.join(d, npy_name(count_name[0])))[0]) * per_count


def convert(path, out):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = convert_cli.main(["tflite", path, "-o", out])
    if rc != 0:
        raise AssertionError("detc-convert failed (%d): %s" % (rc, err.getvalue()[-2000:]))


def run_case(name, regen, live_check):
    g = CASES[name]()
    path, sha, feeds, names = materialize(name, g)
    ref_dir = os.path.join(DATA, name)
    meta = os.path.join(ref_dir, "model.sha256")
    have = os.path.exists(meta) and open(meta).read().strip() == sha
    live = None
    if runner_available() and (regen or not have or live_check):
        live = tflite_outputs(path, feeds, os.path.join(TMP, name, "tflite"))
        if regen or not have:
            os.makedirs(ref_dir, exist_ok=True)
            for nm in names:
                shutil.copy(os.path.join(live, npy_name(nm)), os.path.join(ref_dir, npy_name(nm)))
            with open(meta, "w") as f:
                f.write(sha + "\n")
            have = True
    if not have and os.path.exists(meta):
        return "fail", ("the stored TFLite outputs belong to another version of this graph and the TFLite runner is "
                        "not installed: run tests/test_tflite_ops.py --regen %s with tools/tflite_ref set up" % name)
    if not have:
        return "skip", "no stored TFLite outputs for this model and no TFLite runner"
    conv = os.path.join(TMP, name, name + ".detc")
    convert(path, conv)
    got = os.path.join(TMP, name, "detc")
    cmd = [DETC, "run", conv, "--dump", got, "--tensors", ",".join(names)]
    for f in feeds:
        cmd += ["--input", f]
    run(cmd)
    k = g.rows_per_count
    trim(names, ref_dir, os.path.join(TMP, name, "ref_trimmed"), k)
    trim(names, got, os.path.join(TMP, name, "got_trimmed"), k)
    problems = compare(name, names, os.path.join(TMP, name, "ref_trimmed"), os.path.join(TMP, name, "got_trimmed"))
    if live is not None:
        trim(names, live, os.path.join(TMP, name, "live_trimmed"), k)
        stale = compare(name, names, os.path.join(TMP, name, "live_trimmed"), os.path.join(TMP, name, "ref_trimmed"))
        if stale:
            problems.append("the stored TFLite outputs are not TFLite's current answer (run --regen): " + "; ".join(stale))
    return ("fail", "; ".join(problems)) if problems else ("ok", "")


def trim(names, src, dst, per_count):
    """Copies src's outputs to dst with the post-process rows after the detections zeroed."""
    os.makedirs(dst, exist_ok=True)
    count = postprocess_rows(names, src, per_count)
    for nm in names:
        v = np.load(os.path.join(src, npy_name(nm)))
        if count is not None and not nm.startswith("count") and v.ndim >= 2:
            v = v.copy()
            v[:, count:] = 0
        np.save(os.path.join(dst, npy_name(nm)), v)


def main(argv):
    regen = "--regen" in argv
    live_check = LIVE or "--live" in argv
    only = [a for a in argv if not a.startswith("--")]
    if not os.path.exists(DETC):
        print("FAIL detc binary not found at %s (build it with make, or set DETC_BIN)" % DETC)
        print("0 passed, 1 failed")
        return 1
    passed = failed = skipped = 0
    for name in list(CASES) + list(PP_REFUSED):
        if only and name not in only:
            continue
        try:
            if name in PP_REFUSED:
                status, why = run_refused(name, live_check)
            else:
                status, why = run_case(name, regen, live_check)
        except AssertionError as e:
            status, why = "fail", str(e)
        if status == "fail" and name in KNOWN and KNOWN[name][0] in why:
            status, why = "skip", "known difference (%s): %s" % (why, KNOWN[name][1])
        if status == "ok":
            passed += 1
            print("ok    %s" % name)
        elif status == "skip":
            skipped += 1
            print("SKIP  %s: %s" % (name, why))
        else:
            failed += 1
            print("FAIL  %s: %s" % (name, why))
    print("%d passed, %d failed%s" % (passed, failed, ", %d skipped" % skipped if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
