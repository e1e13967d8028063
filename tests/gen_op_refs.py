#!/usr/bin/python3
"""Generates the expected outputs of the op tests from independent references (numpy + plain Python),
written as C fixtures under tests/data/ops/:

  quantized_refs.h  conv2d / depthwise_conv2d (u8 per-tensor, i8 per-channel): int64 numpy direct loops of
                    sum((x - xz) * (w - wz)) + bias, requantized with a Python-integer transcription of
                    TFLite's QuantizeMultiplier + gemmlowp SaturatingRoundingDoublingHighMul +
                    RoundingDivideByPOT (conv2d's "rounding": "single": ruy's one-rounding formula); concat requantization and the logistic table in numpy float32 as
                    TFLite's ConcatenationWithScaling and LUTPopulate describe; cast (de)quantization.
                    All exact.
  float_refs.h      f32 conv2d / depthwise_conv2d in float64 direct loops (compared with a tolerance),
                    concat / reshape / cast exact, logistic against float64.
  dpp_refs.h        detection_postprocess: a plain-Python transcription of TFLite's algorithm with float32
                    emulated by numpy scalars, on inputs full of equal scores (tie order).

Run: /usr/bin/python3 tests/gen_op_refs.py   (deterministic; rewrites the three headers)
"""
import math
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "ops")
F32 = np.float32

# ---------------------------------------------------------------- fixed-point arithmetic (TFLite / gemmlowp)


def round_half_away(x):
    return math.copysign(math.floor(abs(x) + 0.5), x)


def quantize_multiplier(real):
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    fixed = int(round_half_away(q * (1 << 31)))
    if fixed == 1 << 31:
        fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return fixed, shift


def wrap32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= (1 << 31) else v


def srdhm(a, b):
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    s = ab + nudge
    q = abs(s) // (1 << 31)  # C division truncates toward zero
    return q if s >= 0 else -q


def rdbpot(x, exponent):
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def mul_by_quantized_multiplier(x, mult, shift):
    left, right = max(shift, 0), max(-shift, 0)
    return rdbpot(srdhm(wrap32(x * (1 << left)), mult), right)


def mul_by_quantized_multiplier_once(x, mult, shift):
    """ruy's MultiplyByQuantizedMultiplier (TFLite's int8 CONV_2D): one rounding, ties up."""
    total = 31 - shift
    return (x * mult + (1 << (total - 1))) >> total


QRANGE = {"u8": (0, 255), "i8": (-128, 127)}
NPTYPE = {"u8": np.uint8, "i8": np.int8, "i32": np.int32, "f32": np.float32, "i64": np.int64, "f16": np.float16}


def activation_range(act, scale, zp, dt):
    lo, hi = QRANGE[dt]

    def q(v):
        return zp + int(round_half_away(float(F32(v) / F32(scale))))
    if act == "relu":
        lo = max(lo, q(0.0))
    elif act == "relu6":
        lo, hi = max(lo, q(0.0)), min(hi, q(6.0))
    elif act == "relu_n1_to_1":
        lo, hi = max(lo, q(-1.0)), min(hi, q(1.0))
    return lo, hi


# ---------------------------------------------------------------- sliding windows


def same_pads(size, k, s, d):
    out = (size + s - 1) // s
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def window_pads(padding, h, w, kh, kw, s, d):
    if padding == "valid":
        return 0, 0, 0, 0
    if padding == "same":
        t, b = same_pads(h, kh, s[0], d[0])
        l, r = same_pads(w, kw, s[1], d[1])
        return t, l, b, r
    return tuple(padding)


def out_size(size, k, s, d, p0, p1):
    return (size + p0 + p1 - ((k - 1) * d + 1)) // s + 1


def conv_acc(x, w, pads, s, d, depthwise=False, mult=1):
    """x [N,H,W,C] centred values (int64 or float64), w [Co,KH,KW,Ci] or [1,KH,KW,C*M] centred."""
    n, h, wd, c = x.shape
    kh, kw = w.shape[1], w.shape[2]
    t, l, b, r = pads
    oh, ow = out_size(h, kh, s[0], d[0], t, b), out_size(wd, kw, s[1], d[1], l, r)
    xp = np.zeros((n, h + t + b, wd + l + r, c), dtype=x.dtype)
    xp[:, t:t + h, l:l + wd, :] = x
    co = w.shape[3] if depthwise else w.shape[0]
    out = np.zeros((n, oh, ow, co), dtype=x.dtype)
    for oy in range(oh):
        for ox in range(ow):
            for ky in range(kh):
                for kx in range(kw):
                    patch = xp[:, oy * s[0] + ky * d[0], ox * s[1] + kx * d[1], :]  # [N, C]
                    if depthwise:
                        out[:, oy, ox, :] += np.repeat(patch, mult, axis=1) * w[0, ky, kx, :][None, :]
                    else:
                        out[:, oy, ox, :] += patch @ w[:, ky, kx, :].T
    return out


# ---------------------------------------------------------------- fixture writer

CTYPE = {"u8": "uint8_t", "i8": "int8_t", "i32": "int32_t", "f32": "float", "i64": "int64_t", "f16": "uint16_t"}


def short_f32(v):
    """Shortest text that reads back as the same float32."""
    v = F32(v)
    if math.isinf(v):
        return "-INFINITY" if v < 0 else "INFINITY"
    if v == 0:
        return "-0.0f" if math.copysign(1.0, float(v)) < 0 else "0.0f"
    t = np.format_float_scientific(v, unique=True, trim="-").replace("e+", "e")
    return t + "f"


def c_values(dt, arr):
    arr = np.asarray(arr).reshape(-1)
    if dt == "f32":
        return ", ".join(short_f32(v) for v in arr)
    if dt == "f16":
        return ", ".join(str(int(v)) for v in np.asarray(arr, dtype=np.float16).view(np.uint16))
    if dt == "i64":
        return ", ".join("%dLL" % int(v) for v in arr)
    if dt == "i32":
        return ", ".join("(int32_t)%d" % int(v) for v in arr)
    return ", ".join(str(int(v)) for v in arr)


class Writer:
    def __init__(self, guard):
        self.guard = guard
        self.lines = []
        self.cases = []
        self.n = 0

    def array(self, dt, arr):
        self.n += 1
        name = "a%d" % self.n
        vals = c_values(dt, arr) or "0"
        self.lines.append("static const %s %s[] = {%s};" % (CTYPE[dt], name, vals))
        return name

    def tensor(self, dt, arr, quant=None, constant=False, declared=True, omitted=False):
        if omitted:
            return "{.omitted = true}"
        arr = np.asarray(arr)
        dims = ", ".join(str(d) for d in arr.shape)
        data = self.array(dt, arr) if arr.size else "NULL"
        fields = ['.dtype = "%s"' % dt, ".rank = %d" % arr.ndim, ".dims = {%s}" % dims, ".data = %s" % data]
        if quant:
            scales, zps, axis = quant
            scales = np.atleast_1d(np.asarray(scales, dtype=np.float32))
            zps = np.atleast_1d(np.asarray(zps, dtype=np.int64))
            fields += [".qcount = %d" % len(scales), ".qaxis = %d" % axis,
                       ".scales = (const float[]){%s}" % c_values("f32", scales),
                       ".zero_points = (const int32_t[]){%s}" % c_values("i32", zps)]
        if constant:
            fields.append(".constant = true")
        if not declared:
            fields.append(".undeclared = true")
        return "{" + ", ".join(fields) + "}"

    def case(self, name, op, attrs, inputs, outputs, ref, tol_abs=0.0, tol_rel=0.0):
        self.cases.append('    {.name = "%s", .op = "%s", .attrs = "%s",\n     .ref = "%s",\n'
                          "     .tol_abs = %r, .tol_rel = %r, .n_inputs = %d, .inputs = {%s},\n"
                          "     .n_outputs = %d, .outputs = {%s}},"
                          % (name, op, attrs.replace('"', '\\"'), ref, tol_abs, tol_rel, len(inputs),
                             ", ".join(inputs), len(outputs), ", ".join(outputs)))

    def write(self, path, table):
        with open(path, "w") as f:
            f.write("/* Generated by tests/gen_op_refs.py; do not edit. */\n")
            f.write("#ifndef %s\n#define %s\n#include <math.h>\n#include \"../../op_harness.h\"\n\n" % (self.guard, self.guard))
            f.write("\n".join(self.lines))
            f.write("\n\nstatic const oh_fixture %s[] = {\n%s\n};\n\n#endif\n" % (table, "\n".join(self.cases)))


def qrand(rng, dt, shape):
    lo, hi = QRANGE[dt]
    return rng.integers(lo, hi + 1, size=shape).astype(NPTYPE[dt])


# ---------------------------------------------------------------- quantized conv / depthwise


def attrs_json(stride, dil, padding, act, extra=""):
    pad = '"%s"' % padding if isinstance(padding, str) else "[%s]" % ", ".join(str(v) for v in padding)
    return '{"stride": [%d, %d], "dilation": [%d, %d], "padding": %s, "activation": "%s"%s}' % (
        stride[0], stride[1], dil[0], dil[1], pad, act, extra)


def conv_multiplier(dt, x_scale, w_scale, out_scale):
    """u8: TFLite's GetQuantizedConvolutionMultipler rounds the scale product to float32 first;
    i8: the per-channel multipliers are computed in double throughout."""
    if dt == "u8":
        product = float(F32(F32(x_scale) * F32(w_scale)))
    else:
        product = float(F32(x_scale)) * float(F32(w_scale))
    return product / float(F32(out_scale))


def quant_conv_case(wr, rng, name, dt, xshape, wshape, stride, dil, padding, act, per_channel=False,
                    depthwise=False, mult=1, with_bias=True, rounding=None):
    xs, xz = 0.0213, (117 if dt == "u8" else -9)
    x = qrand(rng, dt, xshape)
    co = wshape[3] if depthwise else wshape[0]
    if per_channel:
        ws = (0.002 + 0.004 * rng.random(co)).astype(np.float32)
        wz = np.zeros(co, dtype=np.int64)
    else:
        ws = np.array([0.0047], dtype=np.float32)
        wz = np.array([131 if dt == "u8" else 0])
    w = qrand(rng, dt, wshape)
    if dt == "i8":
        w[w == -128] = -127  # symmetric filters, as TFLite's int8 converter makes them
    bs = (np.float32(xs) * ws).astype(np.float32)
    bias = rng.integers(-3000, 3000, size=co).astype(np.int32)
    os_, oz = 0.0391, (101 if dt == "u8" else 7)
    pads = window_pads(padding, xshape[1], xshape[2], wshape[1], wshape[2], stride, dil)
    wz_full = np.broadcast_to(wz, (co,))
    if depthwise:
        wc = w.astype(np.int64) - wz_full[None, None, None, :]
    else:
        wc = w.astype(np.int64) - wz_full[:, None, None, None]
    acc = conv_acc(x.astype(np.int64) - xz, wc, pads, stride, dil, depthwise, mult)
    if with_bias:
        acc += bias.astype(np.int64)
    lo, hi = activation_range(act, os_, oz, dt)
    out = np.zeros(acc.shape, dtype=np.int64)
    for idx in np.ndindex(acc.shape):
        c = idx[3]
        m, sh = quantize_multiplier(conv_multiplier(dt, xs, ws[c if per_channel else 0], os_))
        requant = mul_by_quantized_multiplier_once if rounding == "single" else mul_by_quantized_multiplier
        v = requant(int(acc[idx]), m, sh) + oz
        out[idx] = min(max(v, lo), hi)
    waxis = 3 if depthwise else 0
    inputs = [wr.tensor(dt, x, (xs, xz, -1)),
              wr.tensor(dt, w, (ws, wz, waxis if per_channel else -1), constant=True)]
    if with_bias:
        inputs.append(wr.tensor("i32", bias, (bs if per_channel else bs[:1], np.zeros(len(bs) if per_channel else 1),
                                              0 if per_channel else -1), constant=True))
    extra = ', "depth_multiplier": %d' % mult if depthwise else ""
    if rounding:
        extra += ', "rounding": "%s"' % rounding
    wr.case(name, "depthwise_conv2d" if depthwise else "conv2d", attrs_json(stride, dil, padding, act, extra), inputs,
            [wr.tensor(dt, out.astype(NPTYPE[dt]), (os_, oz, -1))],
            "numpy int64 direct loops + Python-int %s requantization; exact"
            % ("ruy (single rounding)" if rounding == "single" else "TFLite"))


def rounding_tie_case(wr, dt, rounding):
    """Multiplier exactly 0.25 (2^30, shift -1) and accumulators (set through the bias) at and around exact
    halves: ruy's single rounding takes ties up, gemmlowp's double rounding away from zero, so the negative
    ties tell the two apart."""
    xs, ws, os_ = 0.5, 0.5, 1.0
    accs = [-2, 2, -6, 6, -10, 10, -1, 1, -3, 3, -5, 5, 400, -400, 0, -14]
    xz, wz, oz = (100, 50, 128) if dt == "u8" else (-3, 0, 0)
    co = len(accs)
    x = np.array([xz + 1], dtype=NPTYPE[dt]).reshape(1, 1, 1, 1)
    w = np.full((co, 1, 1, 1), wz + 1, dtype=NPTYPE[dt])
    bias = np.array([a - 1 for a in accs], dtype=np.int32)
    m, sh = quantize_multiplier(conv_multiplier(dt, xs, ws, os_))
    assert (m, sh) == (1 << 30, -1)
    requant = mul_by_quantized_multiplier_once if rounding == "single" else mul_by_quantized_multiplier
    lo, hi = QRANGE[dt]
    out = np.array([min(max(requant(a, m, sh) + oz, lo), hi) for a in accs])
    wq = (np.full(co, ws, dtype=np.float32), np.zeros(co), 0) if dt == "i8" else (ws, wz, -1)
    bq = (np.full(co, F32(xs * ws), dtype=np.float32), np.zeros(co), 0) if dt == "i8" else (F32(xs * ws), 0, -1)
    wr.case("conv %s %s rounding at exact ties" % (dt, rounding), "conv2d", '{"rounding": "%s"}' % rounding,
            [wr.tensor(dt, x, (xs, xz, -1)), wr.tensor(dt, w, wq, constant=True),
             wr.tensor("i32", bias, bq, constant=True)],
            [wr.tensor(dt, out.reshape(1, 1, 1, co).astype(NPTYPE[dt]), (os_, oz, -1))],
            "Python-int %s requantization of exact halves; exact"
            % ("ruy (single rounding)" if rounding == "single" else "TFLite (gemmlowp double rounding)"))


def multiplier_rule_case(wr, dt):
    """Scales whose f32 and f64 scale products give different multipliers, and accumulators (set through
    the bias) where that changes the output: pins which rule each dtype follows."""
    xs, ws, os_ = 0.006291005294770002, 0.002331334864720702, 0.18636009097099304
    accs = [1251596, 1632793, 2013990, 2306241, 2395187, 2687438, 3068635, 1000000]
    xz, wz, oz = (100, 50, 0) if dt == "u8" else (-3, 0, -128)
    co = len(accs)
    x = np.array([xz + 1], dtype=NPTYPE[dt]).reshape(1, 1, 1, 1)
    w = np.full((co, 1, 1, 1), wz + 1, dtype=NPTYPE[dt])
    bias = np.array([a - 1 for a in accs], dtype=np.int32)
    m, sh = quantize_multiplier(conv_multiplier(dt, xs, ws, os_))
    lo, hi = QRANGE[dt]
    out = np.array([min(max(mul_by_quantized_multiplier(a, m, sh) + oz, lo), hi) for a in accs])
    wq = (np.full(co, ws, dtype=np.float32), np.zeros(co), 0) if dt == "i8" else (ws, wz, -1)
    bq = (np.full(co, F32(F32(xs) * F32(ws)), dtype=np.float32), np.zeros(co), 0) if dt == "i8" else \
        (F32(F32(xs) * F32(ws)), 0, -1)
    wr.case("conv %s multiplier rule (%s scale product)" % (dt, "f32" if dt == "u8" else "f64"), "conv2d", "{}",
            [wr.tensor(dt, x, (xs, xz, -1)), wr.tensor(dt, w, wq, constant=True),
             wr.tensor("i32", bias, bq, constant=True)],
            [wr.tensor(dt, out.reshape(1, 1, 1, co).astype(NPTYPE[dt]), (os_, oz, -1))],
            "Python-int TFLite requantization with the dtype's multiplier rule; exact")


def quantized_fixtures():
    rng = np.random.default_rng(1234)
    wr = Writer("DETC_QUANTIZED_REFS_H")
    quant_conv_case(wr, rng, "conv u8 3x3 s1 same relu6 (im2col, tiles, w zp)", "u8", (2, 7, 8, 5), (6, 3, 3, 5),
                    (1, 1), (1, 1), "same", "relu6")
    quant_conv_case(wr, rng, "conv u8 3x3 s2 same none", "u8", (1, 9, 9, 4), (7, 3, 3, 4), (2, 2), (1, 1), "same",
                    "none")
    quant_conv_case(wr, rng, "conv u8 1x1 s1 valid relu (direct)", "u8", (1, 6, 7, 16), (12, 1, 1, 16), (1, 1),
                    (1, 1), "valid", "relu")
    quant_conv_case(wr, rng, "conv u8 1x1 s2 no bias", "u8", (1, 7, 7, 6), (5, 1, 1, 6), (2, 2), (1, 1), "valid",
                    "none", with_bias=False)
    quant_conv_case(wr, rng, "conv u8 3x2 dilation 2 explicit pads", "u8", (1, 9, 8, 3), (4, 3, 2, 3), (1, 2),
                    (2, 2), [1, 2, 0, 1], "relu_n1_to_1")
    quant_conv_case(wr, rng, "conv i8 per-channel 3x3 s1 same relu", "i8", (1, 8, 7, 6), (9, 3, 3, 6), (1, 1),
                    (1, 1), "same", "relu", per_channel=True)
    quant_conv_case(wr, rng, "conv i8 per-channel 1x1 direct", "i8", (1, 5, 6, 10), (8, 1, 1, 10), (1, 1), (1, 1),
                    "valid", "none", per_channel=True)
    quant_conv_case(wr, rng, "depthwise u8 3x3 s1 same relu6 M=1", "u8", (1, 9, 9, 8), (1, 3, 3, 8), (1, 1), (1, 1),
                    "same", "relu6", depthwise=True)
    quant_conv_case(wr, rng, "depthwise u8 3x3 s2 same M=2", "u8", (1, 8, 7, 3), (1, 3, 3, 6), (2, 2), (1, 1),
                    "same", "none", depthwise=True, mult=2)
    quant_conv_case(wr, rng, "depthwise u8 dilation 2 explicit pads, 70 channels", "u8", (1, 4, 5, 70),
                    (1, 3, 3, 70), (1, 1), (2, 2), [2, 1, 2, 0], "relu", depthwise=True)
    quant_conv_case(wr, rng, "depthwise i8 per-channel 3x3 s1 same", "i8", (1, 6, 6, 5), (1, 3, 3, 10), (1, 1),
                    (1, 1), "same", "relu6", per_channel=True, depthwise=True, mult=2)
    multiplier_rule_case(wr, "u8")
    multiplier_rule_case(wr, "i8")
    concat_cases(wr, rng)
    logistic_cases(wr, rng)
    cast_quant_cases(wr, rng)
    # conv2d's "rounding" attribute (after the cases above, so that their random data stays as it was)
    quant_conv_case(wr, rng, "conv i8 per-channel 3x3 s2 same relu6, single rounding", "i8", (1, 9, 8, 7),
                    (10, 3, 3, 7), (2, 2), (1, 1), "same", "relu6", per_channel=True, rounding="single")
    quant_conv_case(wr, rng, "conv i8 per-channel 1x1 direct, single rounding", "i8", (2, 5, 6, 12), (17, 1, 1, 12),
                    (1, 1), (1, 1), "valid", "none", per_channel=True, rounding="single")
    quant_conv_case(wr, rng, "conv u8 3x3 s1 same, single rounding", "u8", (1, 6, 7, 5), (9, 3, 3, 5), (1, 1),
                    (1, 1), "same", "none", rounding="single")
    for dt in ("i8", "u8"):
        for rounding in ("single", "double"):
            rounding_tie_case(wr, dt, rounding)
    # more output channels than twice the pixels: the filter packed in channel slices that threads share
    quant_conv_case(wr, rng, "conv u8 3x3 s2 same relu6, 150 channels on 9 pixels (channel slices)", "u8",
                    (1, 5, 5, 40), (150, 3, 3, 40), (2, 2), (1, 1), "same", "relu6")
    quant_conv_case(wr, rng, "conv i8 per-channel 1x1 direct, 100 channels on 12 pixels (slices), single rounding",
                    "i8", (1, 3, 4, 24), (100, 1, 1, 24), (1, 1), (1, 1), "valid", "none", per_channel=True,
                    rounding="single")
    wr.write(os.path.join(OUT, "quantized_refs.h"), "quantized_fixtures")


def concat_requant(q, in_s, in_z, out_s, out_z, dt):
    """TFLite ConcatenationWithScaling, all in float32."""
    lo, hi = QRANGE[dt]
    if F32(in_s) == F32(out_s) and in_z == out_z:
        return q.copy()
    scale = F32(in_s) * (F32(1.0) / F32(out_s))
    bias = F32(-in_z) * scale
    out = np.empty_like(q)
    for i, v in np.ndenumerate(q):
        t = F32(F32(int(v)) * scale)
        r = round_half_away(float(F32(t + bias)))
        out[i] = min(max(int(r) + out_z, lo), hi)
    return out


def concat_cases(wr, rng):
    for dt in ("u8", "i8"):
        shapes = [(1, 3, 4, 2), (1, 3, 4, 5), (1, 3, 4, 1)]
        quants = [(0.05, 128 if dt == "u8" else 0), (0.1, 120 if dt == "u8" else -8), (0.025, 3 if dt == "u8" else 100)]
        out_q = quants[0]
        xs = [qrand(rng, dt, s) for s in shapes]
        # values that land exactly on .5 after scaling, to pin the rounding direction
        xs[2].reshape(-1)[:4] = np.array([1, 5, 7, 9], dtype=NPTYPE[dt])
        outs = [concat_requant(x, q[0], q[1], out_q[0], out_q[1], dt) for x, q in zip(xs, quants)]
        expected = np.concatenate(outs, axis=3)
        wr.case("concat %s axis -1, requantized inputs" % dt, "concat", '{"axis": -1}',
                [wr.tensor(dt, x, (q[0], q[1], -1)) for x, q in zip(xs, quants)],
                [wr.tensor(dt, expected, (out_q[0], out_q[1], -1))],
                "numpy float32 transcription of TFLite ConcatenationWithScaling; exact")
    dt = "u8"
    xs = [qrand(rng, dt, (2, s, 3)) for s in (1, 4)]
    q = (0.07, 40)
    wr.case("concat u8 axis 1, equal quantization (copy)", "concat", '{"axis": 1}',
            [wr.tensor(dt, x, (q[0], q[1], -1)) for x in xs],
            [wr.tensor(dt, np.concatenate(xs, axis=1), (q[0], q[1], -1))], "numpy concatenate; exact")


def logistic_table(in_s, in_z, dt):
    lo, hi = QRANGE[dt]
    vals = np.arange(lo, hi + 1)
    out = []
    for q in vals:
        real = F32(in_s) * F32(int(q) - in_z)
        y = F32(1.0) / (F32(1.0) + F32(math.exp(-float(real))))
        r = round_half_away(float(F32(y * F32(256.0))))
        out.append(min(max(int(r) + (0 if dt == "u8" else -128), lo), hi))
    return vals.astype(NPTYPE[dt]), np.array(out, dtype=NPTYPE[dt])


def logistic_cases(wr, rng):
    for dt, in_s, in_z in (("u8", 0.0623, 131), ("u8", 0.25, 0), ("i8", 0.031, -12)):
        x, y = logistic_table(in_s, in_z, dt)
        x, y = x.reshape(1, 16, 16), y.reshape(1, 16, 16)
        wr.case("logistic %s scale %g zp %d (every input value)" % (dt, in_s, in_z), "logistic", "{}",
                [wr.tensor(dt, x, (in_s, in_z, -1))],
                [wr.tensor(dt, y, (1.0 / 256, 0 if dt == "u8" else -128, -1))],
                "float32 table as TFLite LUTPopulate (exp in double, rounded); exact")


def cast_quant_cases(wr, rng):
    x = qrand(rng, "u8", (2, 3, 4))
    s, z = 0.0173, 77
    wr.case("cast u8 -> f32 (dequantize)", "cast", '{"to": "f32"}', [wr.tensor("u8", x, (s, z, -1))],
            [wr.tensor("f32", (F32(s) * (x.astype(np.float32) - F32(z))).astype(np.float32))],
            "float32 scale * (q - zp); exact")
    x = qrand(rng, "i8", (2, 3, 4))
    scales = np.array([0.01, 0.2, 0.031], dtype=np.float32)
    zps = np.array([0, -3, 5])
    exp = (scales[None, :, None] * (x.astype(np.float32) - zps[None, :, None].astype(np.float32))).astype(np.float32)
    wr.case("cast i8 per-channel (axis 1) -> f32", "cast", '{"to": "f32"}', [wr.tensor("i8", x, (scales, zps, 1))],
            [wr.tensor("f32", exp)], "float32 per-channel dequantization; exact")
    for dt, s, z in (("u8", 0.1, 10), ("i8", 0.05, -4)):
        vals = np.array([0.05, 0.15, -0.05, -0.15, 0.25, 1.0, -1.0, 100.0, -100.0, 3.14159, 0.0, 2.45,
                         0.125, -0.375, 12.35, -6.2], dtype=np.float32).reshape(4, 4)
        lo, hi = QRANGE[dt]
        q = np.array([min(max(int(round_half_away(float(F32(v) / F32(s)))) + z, lo), hi) for v in vals.reshape(-1)])
        wr.case("cast f32 -> %s (quantize, halves round away)" % dt, "cast", '{"to": "%s"}' % dt,
                [wr.tensor("f32", vals)], [wr.tensor(dt, q.reshape(4, 4).astype(NPTYPE[dt]), (s, z, -1))],
                "round_half_away(float32 x / scale) + zp, clamped; exact")


# ---------------------------------------------------------------- float ops


def float_conv_case(wr, rng, name, xshape, wshape, stride, dil, padding, act, depthwise=False, mult=1, bias=True):
    # multiples of 1/16 and 1/32 keep the fixture text short
    x = (np.round(rng.standard_normal(xshape) * 16) / 16).astype(np.float32)
    w = (np.round(rng.standard_normal(wshape) * 0.3 * 32) / 32).astype(np.float32)
    co = wshape[3] if depthwise else wshape[0]
    b = rng.standard_normal(co).astype(np.float32)
    pads = window_pads(padding, xshape[1], xshape[2], wshape[1], wshape[2], stride, dil)
    acc = conv_acc(x.astype(np.float64), w.astype(np.float64), pads, stride, dil, depthwise, mult)
    if bias:
        acc += b.astype(np.float64)
    lo, hi = {"none": (-np.inf, np.inf), "relu": (0, np.inf), "relu6": (0, 6), "relu_n1_to_1": (-1, 1)}[act]
    out = np.clip(acc, lo, hi).astype(np.float32)
    inputs = [wr.tensor("f32", x), wr.tensor("f32", w, constant=True)]
    if bias:
        inputs.append(wr.tensor("f32", b, constant=True))
    extra = ', "depth_multiplier": %d' % mult if depthwise else ""
    wr.case(name, "depthwise_conv2d" if depthwise else "conv2d", attrs_json(stride, dil, padding, act, extra), inputs,
            [wr.tensor("f32", out)], "numpy float64 direct loops; |d| <= 1e-4 + 1e-4 |ref|", 1e-4, 1e-4)


def float_fixtures():
    rng = np.random.default_rng(99)
    wr = Writer("DETC_FLOAT_REFS_H")
    float_conv_case(wr, rng, "conv f32 3x3 s1 same relu6", (2, 7, 6, 5), (6, 3, 3, 5), (1, 1), (1, 1), "same",
                    "relu6")
    float_conv_case(wr, rng, "conv f32 3x3 s2 same", (1, 11, 9, 4), (7, 3, 3, 4), (2, 2), (1, 1), "same", "none")
    float_conv_case(wr, rng, "conv f32 1x1 direct relu", (1, 6, 7, 8), (6, 1, 1, 8), (1, 1), (1, 1), "valid",
                    "relu")
    float_conv_case(wr, rng, "conv f32 dilation 2 explicit pads no bias", (1, 9, 8, 3), (4, 3, 2, 3), (1, 2),
                    (2, 2), [1, 2, 0, 1], "relu_n1_to_1", bias=False)
    float_conv_case(wr, rng, "depthwise f32 3x3 s1 same M=1", (1, 9, 9, 8), (1, 3, 3, 8), (1, 1), (1, 1), "same",
                    "relu6", depthwise=True)
    float_conv_case(wr, rng, "depthwise f32 3x3 s2 M=3 dilation", (1, 9, 8, 3), (1, 3, 3, 9), (2, 2), (2, 1),
                    "same", "none", depthwise=True, mult=3)
    xs = [(np.round(rng.standard_normal((2, s, 3)) * 8) / 8).astype(np.float32) for s in (1, 3, 2)]
    wr.case("concat f32 axis 1", "concat", '{"axis": 1}', [wr.tensor("f32", x) for x in xs],
            [wr.tensor("f32", np.concatenate(xs, axis=1))], "numpy concatenate; exact")
    xs = [rng.integers(-1000, 1000, size=(s, 2)).astype(np.int32) for s in (2, 1)]
    wr.case("concat i32 axis 0", "concat", '{"axis": 0}', [wr.tensor("i32", x) for x in xs],
            [wr.tensor("i32", np.concatenate(xs, axis=0))], "numpy concatenate; exact")
    x = rng.standard_normal((1, 4, 6)).astype(np.float32)
    wr.case("reshape f32 [1,4,6] -> [-1, 3]", "reshape", '{"shape": [-1, 3]}', [wr.tensor("f32", x)],
            [wr.tensor("f32", x.reshape(-1, 3))], "numpy reshape; exact")
    x = (rng.standard_normal((3, 20)) * 6).astype(np.float32)
    x[0, :4] = [0.0, -100.0, 100.0, 1e-8]
    y = (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)
    wr.case("logistic f32", "logistic", "{}", [wr.tensor("f32", x)], [wr.tensor("f32", y)],
            "numpy float64 1/(1+exp(-x)); |d| <= 1e-6 + 1e-6 |ref|", 1e-6, 1e-6)
    h = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, 6.1e-5, 5.96e-8, np.inf, -np.inf, 0.333], dtype=np.float16)
    wr.case("cast f16 -> f32", "cast", '{"to": "f32"}', [wr.tensor("f16", h.reshape(2, 5))],
            [wr.tensor("f32", h.astype(np.float32).reshape(2, 5))], "numpy float16 -> float32; exact")
    i = np.array([0, 1, -1, 16777217, -2147483648, 2147483647], dtype=np.int32)
    wr.case("cast i32 -> f32", "cast", '{"to": "f32"}', [wr.tensor("i32", i)],
            [wr.tensor("f32", i.astype(np.float32))], "numpy int32 -> float32 (round to nearest even); exact")
    i = np.array([0, 5, -7, 1 << 40], dtype=np.int64)
    wr.case("cast i64 -> f32", "cast", '{"to": "f32"}', [wr.tensor("i64", i)],
            [wr.tensor("f32", i.astype(np.float32))], "numpy int64 -> float32; exact")
    wr.write(os.path.join(OUT, "float_refs.h"), "float_fixtures")


# ---------------------------------------------------------------- detection_postprocess reference


def dequant(dt, arr, quant):
    if dt == "f32":
        return [F32(v) for v in np.asarray(arr, dtype=np.float32).reshape(-1)]
    s, z = quant[0], quant[1]
    return [F32(F32(int(v)) - F32(z)) * F32(s) for v in np.asarray(arr).reshape(-1)]


def decode(enc, anc, stride, scales):
    ys, xs, hs, ws = (float(F32(v)) for v in scales)
    boxes = []
    for i in range(len(anc) // 4):
        ey, ex, eh, ew = (float(v) for v in enc[i * stride:i * stride + 4])
        ay, ax, ah, aw = (float(v) for v in anc[i * 4:i * 4 + 4])
        yc = F32(ey / ys * ah + ay)
        xc = F32(ex / xs * aw + ax)
        hh = F32(0.5 * math.exp(eh / hs) * ah)
        hw = F32(0.5 * math.exp(ew / ws) * aw)
        boxes.append((F32(yc - hh), F32(xc - hw), F32(yc + hh), F32(xc + hw)))
    return boxes


def iou(a, b):
    area_a = F32((a[2] - a[0]) * (a[3] - a[1]))
    area_b = F32((b[2] - b[0]) * (b[3] - b[1]))
    if area_a <= 0 or area_b <= 0:
        return F32(0)
    ymin, xmin = max(a[0], b[0]), max(a[1], b[1])
    ymax, xmax = min(a[2], b[2]), min(a[3], b[3])
    inter = F32(max(F32(ymax - ymin), F32(0)) * max(F32(xmax - xmin), F32(0)))
    return F32(inter / F32(F32(area_a + area_b) - inter))


def nms_single(boxes, scores, thr, iou_thr, max_det):
    keep = [(s, i) for i, s in enumerate(scores) if s >= thr]
    order = sorted(range(len(keep)), key=lambda k: -float(keep[k][0]))  # Python's sort is stable
    keep = [keep[k] for k in order]
    active = [True] * len(keep)
    selected = []
    for i in range(len(keep)):
        if len(selected) >= min(len(keep), max_det):
            break
        if not active[i]:
            continue
        selected.append(keep[i][1])
        active[i] = False
        for j in range(i + 1, len(keep)):
            if active[j] and iou(boxes[keep[i][1]], boxes[keep[j][1]]) > iou_thr:
                active[j] = False
    return selected


def heap_partial_sort(v, k):
    """libstdc++ std::partial_sort(first, first + k, last, [](i, j) { return v[i] > v[j]; }) on an iota."""
    h = list(range(len(v)))

    def before(a, b):
        return v[a] > v[b]

    def adjust(hole, n, value):
        top, child = hole, hole
        while child < (n - 1) // 2:
            child = 2 * (child + 1)
            if before(h[child], h[child - 1]):
                child -= 1
            h[hole] = h[child]
            hole = child
        if n % 2 == 0 and child == (n - 2) // 2:
            child = 2 * (child + 1)
            h[hole] = h[child - 1]
            hole = child - 1
        parent = (hole - 1) // 2
        while hole > top and before(h[parent], value):
            h[hole] = h[parent]
            hole = parent
            parent = (hole - 1) // 2
        h[hole] = value

    def pop(n, result):
        value = h[result]
        h[result] = h[0]
        adjust(0, n, value)
    if k >= 2:
        for parent in range((k - 2) // 2, -1, -1):
            adjust(parent, k, h[parent])
    for i in range(k, len(v)):
        if before(h[i], h[0]):
            pop(k, i)
    for n in range(k - 1, 0, -1):
        pop(n, n)
    return h[:k]


def dpp_reference(p, boxes, scores, cwb):
    num_classes, off = p["num_classes"], cwb - p["num_classes"]
    d = p["max_detections"] * p["max_classes_per_detection"]
    out_boxes = [(F32(0),) * 4] * d
    out_cls, out_sc = [F32(0)] * d, [F32(0)] * d
    thr, iou_thr = F32(p["nms_score_threshold"]), F32(p["nms_iou_threshold"])
    n_anchors = len(boxes)
    if not p["use_regular_nms"]:
        k = min(p["max_classes_per_detection"], num_classes)
        top = []
        for a in range(n_anchors):
            row = scores[a * cwb + off:a * cwb + off + num_classes]
            if k == 1:
                best = 0
                for c in range(1, num_classes):
                    if row[c] > row[best]:
                        best = c
                top.append([best])
            else:
                top.append(heap_partial_sort(row, k))
        best_scores = [scores[a * cwb + off + top[a][0]] for a in range(n_anchors)]
        sel = nms_single(boxes, best_scores, thr, iou_thr, p["max_detections"])
        for s, a in enumerate(sel):
            for c in range(k):
                r = p["max_classes_per_detection"] * s + c
                out_boxes[r], out_cls[r] = boxes[a], F32(top[a][c])
                out_sc[r] = scores[a * cwb + off + top[a][c]]
        count = len(sel)
    else:
        dpc = min(p["detections_per_class"], p["max_detections"])
        merged = []
        for c in range(num_classes):
            cs = [scores[a * cwb + c + off] for a in range(n_anchors)]
            sel = nms_single(boxes, cs, thr, iou_thr, dpc)
            new = [(cs[a], a * cwb + c + off) for a in sel]
            # std::inplace_merge with a.score >= b.score: the new run wins ties
            res, i, j = [], 0, 0
            while i < len(merged) and j < len(new):
                if new[j][0] >= merged[i][0]:
                    res.append(new[j])
                    j += 1
                else:
                    res.append(merged[i])
                    i += 1
            merged = (res + merged[i:] + new[j:])[:p["max_detections"]]
        for r, (s, idx) in enumerate(merged):
            a = idx // cwb
            out_boxes[r], out_cls[r], out_sc[r] = boxes[a], F32(idx - a * cwb - off), s
        count = len(merged)
    return (np.array(out_boxes, dtype=np.float32).reshape(1, d, 4), np.array(out_cls, dtype=np.float32).reshape(1, d),
            np.array(out_sc, dtype=np.float32).reshape(1, d), np.array([count], dtype=np.float32))


def make_anchors(rng, n):
    """yc, xc, h, w on a coarse grid so many boxes overlap."""
    yc = rng.integers(1, 5, size=n) / 5.0
    xc = rng.integers(1, 5, size=n) / 5.0
    h = rng.integers(1, 4, size=n) / 6.0
    w = rng.integers(1, 4, size=n) / 6.0
    return np.stack([yc, xc, h, w], axis=1).astype(np.float32)


def dpp_case(wr, rng, name, p, dt, n_anchors, label_offset=1, duplicates=False):
    cwb = p["num_classes"] + label_offset
    anchors_f = make_anchors(rng, n_anchors)
    if dt == "f32":
        enc = (rng.integers(-4, 5, size=(1, n_anchors, 4)) * 0.25).astype(np.float32)
        cls = (rng.integers(0, 6, size=(1, n_anchors, cwb)) / 8.0).astype(np.float32)  # many equal scores
        anc = anchors_f
        qe = qc = qa = None
    else:
        lo, hi = QRANGE[dt]
        ze, zc, za = (128, 0, 0) if dt == "u8" else (0, -128, -128)
        qe, qc, qa = (0.0625, ze, -1), (1.0 / 8, zc, -1), (1.0 / 240, za, -1)
        enc = np.clip(rng.integers(-30, 31, size=(1, n_anchors, 4)) + ze, lo, hi).astype(NPTYPE[dt])
        cls = (rng.integers(0, 7, size=(1, n_anchors, cwb)) + zc).astype(NPTYPE[dt])
        anc = np.clip(np.round(anchors_f * 240) + za, lo, hi).astype(NPTYPE[dt])
    if duplicates:  # identical boxes: IoU exactly 1.0, which "IoU > threshold" with threshold 1.0 keeps
        for i in range(0, n_anchors // 2, 2):
            enc[0, i + 1], anc[i + 1] = enc[0, i], anc[i]
    boxes = decode(dequant(dt, enc, qe), dequant(dt, anc, qa), 4, (p["y_scale"], p["x_scale"], p["h_scale"],
                                                                   p["w_scale"]))
    scores = dequant(dt, cls, qc)
    ob, oc, os_, on = dpp_reference(p, boxes, scores, cwb)
    attrs = "{" + ", ".join('"%s": %s' % (k, ("true" if v else "false") if isinstance(v, bool) else repr(v))
                            for k, v in p.items()) + "}"
    wr.case(name, "detection_postprocess", attrs,
            [wr.tensor(dt, enc, qe), wr.tensor(dt, cls, qc), wr.tensor(dt, anc, qa, constant=True)],
            [wr.tensor("f32", ob), wr.tensor("f32", oc), wr.tensor("f32", os_), wr.tensor("f32", on)],
            "plain-Python transcription of TFLite detection_postprocess (float32 emulated); boxes |d| <= 1e-6, "
            "classes/scores/count exact", 1e-6, 0.0)


def dpp_fixtures():
    rng = np.random.default_rng(7)
    wr = Writer("DETC_DPP_REFS_H")
    base = {"max_detections": 10, "max_classes_per_detection": 1, "detections_per_class": 100, "num_classes": 5,
            "nms_iou_threshold": 0.5, "nms_score_threshold": 0.3, "y_scale": 10.0, "x_scale": 10.0,
            "h_scale": 5.0, "w_scale": 5.0, "use_regular_nms": False}
    dpp_case(wr, rng, "dpp fast u8 (SSD MobileNet layout)", dict(base), "u8", 60)
    dpp_case(wr, rng, "dpp fast f32 3 classes per detection (partial_sort ties)",
             dict(base, max_classes_per_detection=3, num_classes=6, nms_score_threshold=0.2), "f32", 40)
    dpp_case(wr, rng, "dpp fast f32 max_classes > num_classes, no background",
             dict(base, max_classes_per_detection=4, num_classes=3, max_detections=5), "f32", 30, label_offset=0)
    dpp_case(wr, rng, "dpp regular u8 (ties across classes)",
             dict(base, use_regular_nms=True, detections_per_class=4, max_detections=8), "u8", 50)
    dpp_case(wr, rng, "dpp regular f32 iou 0.3, low threshold",
             dict(base, use_regular_nms=True, detections_per_class=20, max_detections=12, nms_iou_threshold=0.3,
                  nms_score_threshold=0.1, num_classes=4), "f32", 40)
    dpp_case(wr, rng, "dpp fast u8 iou 1.0, duplicate boxes", dict(base, nms_iou_threshold=1.0, max_detections=15), "u8",
             30, duplicates=True)
    wr.write(os.path.join(OUT, "dpp_refs.h"), "dpp_fixtures")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    quantized_fixtures()
    float_fixtures()
    dpp_fixtures()
