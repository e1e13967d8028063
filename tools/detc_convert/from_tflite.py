"""TFLite front end: a parsed TFLite Model (tflite.py) -> a DetcWriter holding the detc graph.

Mapping (ops/README.md has the detc side, tools/README.md the table with dtypes and tests):
  CONV_2D -> conv2d, DEPTHWISE_CONV_2D -> depthwise_conv2d, CONCATENATION -> concat,
  RESHAPE / SQUEEZE -> reshape (shape = the output tensor's shape), LOGISTIC -> logistic,
  ADD/SUB/MUL -> add/sub/mul, MAX_POOL_2D / AVERAGE_POOL_2D -> max_pool2d / avg_pool2d, MEAN -> mean,
  PAD -> pad, RELU/RELU6/HARD_SWISH/TANH -> relu/relu6/hard_swish/tanh, SOFTMAX -> softmax,
  DEQUANTIZE -> cast to f32, QUANTIZE -> cast (from f32) or requantize (from u8/i8),
  RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR -> resize_nearest (tensorflow rules) / resize_bilinear,
  TRANSPOSE -> transpose, SPLIT / SPLIT_V -> one slice per output, PACK -> concat + reshape,
  STRIDED_SLICE (unit strides) -> slice (+ reshape for shrink_axis_mask),
  CUSTOM TFLite_Detection_PostProcess -> detection_postprocess.
Anything else, or an option detc cannot express, is refused; all problems are collected and
reported together.
"""

import math
from collections import Counter, OrderedDict

import numpy as np

from . import flexbuffers, tflite
from .errors import ConvertError
from .flatbuffers import FlatbufferError
from .writer import DTYPES, DetcWriter

PRODUCER = "detc-convert tflite 1"

DTYPE_OF = {
    "FLOAT32": "f32", "FLOAT16": "f16", "INT32": "i32", "UINT8": "u8", "INT64": "i64",
    "BOOL": "bool", "INT16": "i16", "INT8": "i8", "FLOAT64": "f64",
}
QRANGE = {"u8": (0, 255), "i8": (-128, 127), "i16": (-32768, 32767), "i32": (-2**31, 2**31 - 1)}
ACTIVATION = {0: "none", 1: "relu", 2: "relu_n1_to_1", 3: "relu6"}
PADDING = {0: "same", 1: "valid"}

POSTPROCESS = "TFLite_Detection_PostProcess"
# flexbuffer key -> (kind, value when absent), as TFLite's kernel reads them (detection_postprocess.cc
# Init): AsInt32/AsFloat of an absent key give 0, detections_per_class defaults to 100 and
# use_regular_nms to false. What TFLite refuses (or would compute wrongly) is checked by the detc op
# at load time, with the rule named.
POSTPROCESS_KEYS = OrderedDict([
    ("max_detections", ("int", 0)),
    ("max_classes_per_detection", ("int", 0)),
    ("detections_per_class", ("int", 100)),
    ("num_classes", ("int", 0)),
    ("nms_iou_threshold", ("float", 0.0)),
    ("nms_score_threshold", ("float", 0.0)),
    ("y_scale", ("float", 0.0)),
    ("x_scale", ("float", 0.0)),
    ("h_scale", ("float", 0.0)),
    ("w_scale", ("float", 0.0)),
    ("use_regular_nms", ("bool", False)),
])
# Keys TFLite's kernel does not read but converters write: the outputs are f32 whatever they say.
POSTPROCESS_IGNORED = ("_output_quantized", "_support_output_type_float_in_quantized_op")

SUPPORTED = {"CONV_2D", "DEPTHWISE_CONV_2D", "CONCATENATION", "RESHAPE", "SQUEEZE", "LOGISTIC",
             "ADD", "MAX_POOL_2D", "PAD", "RELU", "DEQUANTIZE", "CUSTOM(%s)" % POSTPROCESS,
             "MUL", "SUB", "AVERAGE_POOL_2D", "RELU6", "SOFTMAX", "QUANTIZE", "RESIZE_NEAREST_NEIGHBOR",
             "HARD_SWISH", "TANH", "TRANSPOSE", "SPLIT", "SPLIT_V", "PACK", "MEAN", "RESIZE_BILINEAR",
             "STRIDED_SLICE"}


def _fmt_shape(shape):
    """A shape for messages, shortened when a damaged file gives absurd ranks."""
    shape = list(shape or [])
    if len(shape) <= 8:
        return str(shape)
    return "[%s, ... (%d dimensions)]" % (", ".join(str(d) for d in shape[:6]), len(shape))


def _f32(x):
    """The exact double value of a float32 (JSON then round-trips to the same float32)."""
    return float(np.float32(x))


class _Converter:
    def __init__(self, model, dequantize=False):
        self.m = model
        self.dequantize = dequantize
        self.errors = []
        self.notes = []
        self.used = OrderedDict()     # tensor index -> True, in first-use order (the tensors written)
        self.implicit_clamps = 0
        self.synth = []               # (name, dtype, shape, quant) of tensors the converter adds

    # -- helpers ------------------------------------------------------------------------------
    def t(self, i):
        return self.m.tensors[i]

    def err(self, op, msg):
        where = "operator %d (%s" % (op.index, op.op_name)
        if op.outputs:
            where += ", output %r" % self.t(op.outputs[0]).name
        self.errors.append("%s): %s" % (where, msg))

    def buffer_of(self, i):
        t = self.t(i)
        if t.buffer == 0 or t.buffer >= len(self.m.buffers):
            return None
        data = self.m.buffers[t.buffer]
        return data if data else None

    def is_const(self, i):
        return self.buffer_of(i) is not None

    def dtype(self, i):
        return DTYPE_OF.get(self.t(i).type_name)

    def quant(self, i):
        """detc quant dict of tensor i as stored in the TFLite file, or None."""
        t = self.t(i)
        q = t.quant
        if q is None or not q.scale:
            return None
        scale = [_f32(s) for s in q.scale]
        zp = list(q.zero_point) if q.zero_point else [0] * len(scale)
        if len(zp) != len(scale):
            raise ConvertError("tensor %r: %d scales but %d zero points" % (t.name, len(scale), len(zp)))
        for s in scale:
            if not (math.isfinite(s) and s > 0):
                raise ConvertError("tensor %r: quantization scale %r is not a positive finite number"
                                   % (t.name, s))
        dt = self.dtype(i)
        if dt in QRANGE:
            lo, hi = QRANGE[dt]
            for z in zp:
                if not lo <= z <= hi:
                    raise ConvertError("tensor %r: zero point %d is outside the %s range" % (t.name, z, dt))
        if len(scale) == 1:
            axis = -1
        else:
            axis = q.quantized_dimension
            shape = t.shape or []
            if not 0 <= axis < len(shape) or shape[axis] != len(scale):
                raise ConvertError("tensor %r: %d per-channel scales on quantized_dimension %d of shape %s"
                                   % (t.name, len(scale), axis, _fmt_shape(shape)))
        return {"scale": scale, "zero_point": zp, "axis": axis}

    def detc_dtype_quant(self, i):
        """(dtype, quant) as written to the .detc file (after --dequantize)."""
        dt, q = self.dtype(i), self.quant(i)
        if self.dequantize and q is not None:
            return "f32", None
        return dt, q

    def use(self, i):
        if i >= 0:
            self.used[i] = True
        return self.t(i).name if i >= 0 else ""

    def const_values(self, i):
        """The constant's values as a numpy array of its TFLite dtype and shape."""
        t = self.t(i)
        dt = self.dtype(i)
        raw = self.buffer_of(i)
        shape = list(t.shape or [])
        n = 1
        for d in shape:
            n *= d
        if dt is None or raw is None or any(d < 1 for d in shape) or len(raw) != n * DTYPES[dt][0]:
            have = "no data" if raw is None else "%d bytes of data" % len(raw)
            raise ConvertError("constant tensor %d %r (%s, shape %s) has %s, which does not fit"
                               % (i, t.name, t.type_name, _fmt_shape(shape), have))
        return np.frombuffer(raw, dtype=DTYPES[dt][1]).reshape(shape)

    def options(self, op, expected):
        try:
            return tflite.read_options(op, expected)
        except FlatbufferError as e:
            self.err(op, str(e))
            return None

    def activation(self, op, code):
        if code not in ACTIVATION:
            self.err(op, "fused activation %s is not supported (detc has none, relu, relu6, relu_n1_to_1)"
                     % tflite.ACTIVATIONS.get(code, code))
            return "none"
        return ACTIVATION[code]

    def padding(self, op, code):
        if code not in PADDING:
            self.err(op, "padding %d is neither SAME nor VALID" % code)
            return "same"
        return PADDING[code]

    def count_io(self, op, n_in, n_out):
        ins = op.inputs
        lo, hi = n_in if isinstance(n_in, tuple) else (n_in, n_in)
        if not lo <= len(ins) <= hi or len(op.outputs) != n_out:
            self.err(op, "expected %s inputs and %d outputs, found %d and %d"
                     % (n_in if lo == hi else "%d..%d" % (lo, hi), n_out, len(ins), len(op.outputs)))
            return False
        for k, i in enumerate(ins[:lo]):
            if i < 0:
                self.err(op, "required input %d is missing (-1)" % k)
                return False
        return True

    def node(self, op, detc_op, inputs, attrs):
        ins = [self.use(i) for i in inputs]
        outs = [self.use(o) for o in op.outputs]
        return {"name": outs[0], "op": detc_op, "inputs": ins, "outputs": outs, "attrs": attrs}

    def implicit_activation(self, op, act):
        """With --dequantize, keep the clamp that a quantized output range implied.

        TOCO folds ReLU6 into the output quantization (range [0, 6]) and leaves the fused
        activation NONE; the float graph must clamp explicitly to compute the same function."""
        if not self.dequantize or act not in ("none", "relu"):
            return act
        q = self.quant(op.outputs[0])
        dt = self.dtype(op.outputs[0])
        if q is None or q["axis"] != -1 or dt not in ("u8", "i8"):
            return act
        s, z = q["scale"][0], q["zero_point"][0]
        qlo, qhi = QRANGE[dt]
        lo, hi = s * (qlo - z), s * (qhi - z)
        if lo != 0.0:
            return act
        new = "relu6" if abs(hi - 6.0) <= s else "relu"
        if new != act:
            self.implicit_clamps += 1
        return new

    # -- op mappings -----------------------------------------------------------------------
    def conv2d(self, op, depthwise):
        if not self.count_io(op, (2, 3), 1):
            return None
        expected = tflite.OPT_DEPTHWISE_CONV2D if depthwise else tflite.OPT_CONV2D
        o = self.options(op, expected)
        if o is None:
            self.err(op, "missing builtin options")
            return None
        if not depthwise and o["quantized_bias_type"] not in (0, 2):
            self.err(op, "quantized_bias_type %s is not supported (only INT32 biases)"
                     % tflite.TENSOR_TYPES.get(o["quantized_bias_type"], o["quantized_bias_type"]))
        for k in ("stride_h", "stride_w", "dilation_h_factor", "dilation_w_factor"):
            if not 1 <= o[k] <= 64:
                self.err(op, "%s = %d is outside 1..64" % (k, o[k]))
        fi = op.inputs[1]
        fshape = self.t(fi).shape or []
        if len(fshape) != 4:
            self.err(op, "filter %r has shape %s, expected 4 dimensions" % (self.t(fi).name, _fmt_shape(fshape)))
            return None
        attrs = OrderedDict()
        attrs["stride"] = [o["stride_h"], o["stride_w"]]
        attrs["dilation"] = [o["dilation_h_factor"], o["dilation_w_factor"]]
        attrs["padding"] = self.padding(op, o["padding"])
        attrs["activation"] = self.implicit_activation(op, self.activation(op, o["fused_activation_function"]))
        if depthwise:
            xshape = self.t(op.inputs[0]).shape or []
            if len(xshape) == 4 and xshape[3] > 0 and fshape[3] % xshape[3] == 0:
                m = fshape[3] // xshape[3]
                if o["depth_multiplier"] not in (0, m):
                    self.notes.append("operator %d (%s): depth_multiplier option %d disagrees with the shapes "
                                      "(%d -> %d channels); using %d, as TFLite does"
                                      % (op.index, op.op_name, o["depth_multiplier"], xshape[3], fshape[3], m))
            elif o["depth_multiplier"] >= 1:
                m = o["depth_multiplier"]
            else:
                self.err(op, "cannot determine depth_multiplier (input shape %s, filter shape %s)"
                         % (xshape, fshape))
                return None
            attrs["depth_multiplier"] = m
        elif self.detc_dtype_quant(op.inputs[0])[0] == "i8":
            # TFLite runs int8 CONV_2D through cpu_backend_gemm -> ruy, whose requantization rounds once;
            # its uint8 CONV_2D (gemmlowp) and depthwise kernels round twice, detc's default.
            attrs["rounding"] = "single"
        bias = op.inputs[2] if len(op.inputs) > 2 else -1
        return self.node(op, "depthwise_conv2d" if depthwise else "conv2d",
                         [op.inputs[0], fi, bias], attrs)

    def concat(self, op):
        if not self.count_io(op, (1, 1024), 1):
            return None
        o = self.options(op, tflite.OPT_CONCATENATION)
        if o is None:
            self.err(op, "missing builtin options")
            return None
        if o["fused_activation_function"] != 0:
            self.err(op, "fused activation %s on CONCATENATION: TFLite's kernel refuses any but NONE"
                     % tflite.ACTIVATIONS.get(o["fused_activation_function"], o["fused_activation_function"]))
        return self.node(op, "concat", list(op.inputs), {"axis": o["axis"]})

    def reshape(self, op):
        if not self.count_io(op, (1, 2), 1):
            return None
        out = self.t(op.outputs[0])
        shape = out.shape
        if not shape:
            o = None
            if op.op_name == "RESHAPE":
                o = self.options(op, tflite.OPT_RESHAPE)
            if o and o.get("new_shape"):
                shape = o["new_shape"]
            elif op.op_name == "RESHAPE" and len(op.inputs) == 2 and self.is_const(op.inputs[1]):
                shape = [int(v) for v in self.const_values(op.inputs[1]).reshape(-1)]
            else:
                self.err(op, "the output tensor has no shape, so the target shape is unknown")
                return None
        if any(d == 0 for d in shape) or sum(1 for d in shape if d == -1) > 1 or any(d < -1 for d in shape):
            self.err(op, "target shape %s cannot be expressed (no 0, at most one -1)" % _fmt_shape(shape))
            return None
        if len(op.inputs) == 2 and op.inputs[1] >= 0:
            if not self.is_const(op.inputs[1]):
                self.err(op, "the shape operand %r is computed at run time; detc needs a constant shape"
                         % self.t(op.inputs[1]).name)
                return None
        # The shape operand becomes the `shape` attribute; it is not used, so not written.
        return self.node(op, "reshape", [op.inputs[0]], {"shape": list(shape)})

    def unary(self, op, detc_op):
        if not self.count_io(op, 1, 1):
            return None
        return self.node(op, detc_op, [op.inputs[0]], {})

    def add(self, op):
        if not self.count_io(op, 2, 1):
            return None
        o = self.options(op, tflite.OPT_ADD) or {"fused_activation_function": 0}
        act = self.implicit_activation(op, self.activation(op, o["fused_activation_function"]))
        return self.node(op, "add", list(op.inputs), {"activation": act})

    def arith(self, op, detc_op, opt):
        if not self.count_io(op, 2, 1):
            return None
        o = self.options(op, opt) or {"fused_activation_function": 0}
        act = self.implicit_activation(op, self.activation(op, o["fused_activation_function"]))
        return self.node(op, detc_op, list(op.inputs), {"activation": act})

    def const_ints(self, op, i, what):
        if i < 0 or not self.is_const(i) or self.dtype(i) not in ("i32", "i64"):
            self.err(op, "the %s operand %r must be a constant i32/i64 tensor"
                     % (what, self.t(i).name if i >= 0 else "(none)"))
            return None
        return [int(v) for v in self.const_values(i).reshape(-1)]

    def rank_of(self, i):
        return len(self.t(i).shape or [])

    def resize(self, op, bilinear):
        if not self.count_io(op, 2, 1):
            return None
        o = self.options(op, tflite.OPT_RESIZE_BILINEAR if bilinear else tflite.OPT_RESIZE_NEAREST) or {
            "align_corners": False, "half_pixel_centers": False}
        size = self.const_ints(op, op.inputs[1], "size")
        if size is None:
            return None
        if len(size) != 2 or min(size) < 1:
            self.err(op, "size %s must be 2 positive values" % size)
            return None
        if bilinear and o["align_corners"] and o["half_pixel_centers"]:
            # TFLite's RESIZE_BILINEAR refuses this combination (its RESIZE_NEAREST_NEIGHBOR takes it)
            self.err(op, "align_corners and half_pixel_centers are both set; TFLite's RESIZE_BILINEAR refuses that "
                     "combination")
            return None
        attrs = OrderedDict([("size", size)])
        if not bilinear:
            attrs["rules"] = "tensorflow"
        attrs["align_corners"] = o["align_corners"]
        attrs["half_pixel_centers"] = o["half_pixel_centers"]
        return self.node(op, "resize_bilinear" if bilinear else "resize_nearest", [op.inputs[0]], attrs)

    def quantize_op(self, op):
        if not self.count_io(op, 1, 1):
            return None
        src, dst = op.inputs[0], op.outputs[0]
        sdt, _sq = self.detc_dtype_quant(src)
        ddt, dq = self.detc_dtype_quant(dst)
        if sdt == "f32" and ddt == "f32":  # --dequantize
            shape = self.t(dst).shape or self.t(src).shape
            return self.node(op, "reshape", [src], {"shape": list(shape)})
        if ddt not in ("u8", "i8") or dq is None:
            self.err(op, "QUANTIZE to %s: detc quantizes to u8/i8 with per-tensor parameters"
                     % self.t(dst).type_name)
            return None
        if sdt == "f32":
            return self.node(op, "cast", [src], {"to": ddt})
        if sdt in ("u8", "i8"):
            return self.node(op, "requantize", [src], {})
        self.err(op, "QUANTIZE from %s is not supported" % self.t(src).type_name)
        return None

    def transpose(self, op):
        if not self.count_io(op, 2, 1):
            return None
        perm = self.const_ints(op, op.inputs[1], "permutation")
        if perm is None:
            return None
        return self.node(op, "transpose", [op.inputs[0]], {"perm": perm})

    def split(self, op, v):
        """SPLIT / SPLIT_V -> one `slice` node per output."""
        if v:
            if not self.count_io(op, 3, len(op.outputs)):
                return None
            x, axis_i = op.inputs[0], op.inputs[2]
        else:
            if not self.count_io(op, 2, len(op.outputs)):
                return None
            axis_i, x = op.inputs[0], op.inputs[1]
        axis = self.const_ints(op, axis_i, "axis")
        shape = self.t(x).shape or []
        if axis is None:
            return None
        if len(axis) != 1 or not -len(shape) <= axis[0] < len(shape):
            self.err(op, "axis %s does not fit the input shape %s" % (axis, _fmt_shape(shape)))
            return None
        a = axis[0] % len(shape)
        n = len(op.outputs)
        if v:
            sizes = self.const_ints(op, op.inputs[1], "size_splits")
            if sizes is None:
                return None
            if sizes.count(-1) == 1:
                sizes[sizes.index(-1)] = shape[a] - (sum(sizes) + 1)
            if len(sizes) != n or sum(sizes) != shape[a] or min(sizes) < 1:
                self.err(op, "size_splits %s do not split dimension %d (%d) into %d parts" % (sizes, a, shape[a], n))
                return None
        else:
            o = self.options(op, tflite.OPT_SPLIT)
            if o is not None and o["num_splits"] != n:
                # TFLite's SPLIT requires its outputs to number num_splits
                self.err(op, "num_splits is %d but the operator has %d outputs; TFLite refuses that"
                         % (o["num_splits"], n))
                return None
            if n < 1 or shape[a] % n:
                self.err(op, "dimension %d (%d) does not split into %d equal parts" % (a, shape[a], n))
                return None
            sizes = [shape[a] // n] * n
        nodes, start = [], 0
        for k, o in enumerate(op.outputs):
            begin = [0] * len(shape)
            size = list(shape)
            begin[a], size[a] = start, sizes[k]
            start += sizes[k]
            self.use(x)
            nodes.append({"name": self.use(o), "op": "slice", "inputs": [self.t(x).name],
                          "outputs": [self.t(o).name], "attrs": OrderedDict([("begin", begin), ("size", size)])})
        return nodes

    def strided_slice(self, op):
        """STRIDED_SLICE with unit strides -> slice (then a reshape when shrink_axis_mask drops axes), as
        TFLite computes the bounds: a masked begin is 0 and a masked end the dimension, negative indices
        count from the end, both clamped to [0, dim]."""
        if not self.count_io(op, (3, 4), 1):
            return None
        o = self.options(op, tflite.OPT_STRIDED_SLICE) or {
            "begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0, "shrink_axis_mask": 0,
            "offset": False}
        x = op.inputs[0]
        shape = list(self.t(x).shape or [])
        begin = self.const_ints(op, op.inputs[1], "begin")
        end = self.const_ints(op, op.inputs[2], "end")
        strides = self.const_ints(op, op.inputs[3], "strides") if len(op.inputs) > 3 else [1] * len(shape)
        if begin is None or end is None or strides is None:
            return None
        r = len(shape)
        if o["ellipsis_mask"] or o["new_axis_mask"] or o["offset"]:
            self.err(op, "ellipsis_mask, new_axis_mask and offset are not supported (detc slices with unit strides)")
            return None
        if not (len(begin) == len(end) == len(strides) == r) or any(s != 1 for s in strides):
            self.err(op, "only unit strides over every axis are supported (begin %s, end %s, strides %s, input %s)"
                     % (begin, end, strides, _fmt_shape(shape)))
            return None
        b_out, size = [], []
        for i in range(r):
            d = shape[i]
            shrink = (o["shrink_axis_mask"] >> i) & 1
            b = 0 if (o["begin_mask"] >> i) & 1 and not shrink else begin[i]
            b = b + d if b < 0 else b
            if shrink:
                e = b + 1
            else:
                e = d if (o["end_mask"] >> i) & 1 else end[i]
                e = e + d if e < 0 else e
            b, e = min(max(b, 0), d), min(max(e, 0), d)
            if e <= b:
                self.err(op, "axis %d selects nothing (begin %d, end %d of %d); detc tensors cannot be empty"
                         % (i, b, e, d))
                return None
            b_out.append(b)
            size.append(e - b)
        out = self.t(op.outputs[0])
        attrs = OrderedDict([("begin", b_out), ("size", size)])
        if not o["shrink_axis_mask"]:
            return self.node(op, "slice", [x], attrs)
        mid = "%s/detc_slice" % out.name
        dt, q = self.detc_dtype_quant(x)
        self.synth.append((mid, dt, size, q))
        kept = [size[i] for i in range(r) if not (o["shrink_axis_mask"] >> i) & 1] or [1]
        return [{"name": mid, "op": "slice", "inputs": [self.use(x)], "outputs": [mid], "attrs": attrs},
                {"name": self.use(op.outputs[0]), "op": "reshape", "inputs": [mid], "outputs": [out.name],
                 "attrs": {"shape": kept}}]

    def pack(self, op):
        """PACK -> concat along the axis, then a reshape to the packed shape (the same memory layout), or
        for the last axis a reshape of each input to [..., 1] and a concat."""
        if not self.count_io(op, (1, 1024), 1):
            return None
        o = self.options(op, tflite.OPT_PACK) or {"axis": 0, "values_count": len(op.inputs)}
        shape = list(self.t(op.inputs[0]).shape or [])
        out_shape = list(self.t(op.outputs[0]).shape or [])
        r = len(shape)
        axis = o["axis"] + (r + 1 if o["axis"] < 0 else 0)
        if not 0 <= axis <= r or len(out_shape) != r + 1 or r == 0:
            self.err(op, "axis %d does not fit inputs of shape %s" % (o["axis"], _fmt_shape(shape)))
            return None
        out = self.t(op.outputs[0])
        ins = [self.use(i) for i in op.inputs]
        dt, q = self.detc_dtype_quant(op.outputs[0])
        if axis < r:
            mid = "%s/detc_pack_concat" % out.name
            cshape = list(shape)
            cshape[axis] *= len(ins)
            self.synth.append((mid, dt, cshape, q))
            return [{"name": mid, "op": "concat", "inputs": ins, "outputs": [mid], "attrs": {"axis": axis}},
                    {"name": self.use(op.outputs[0]), "op": "reshape", "inputs": [mid], "outputs": [out.name],
                     "attrs": {"shape": out_shape}}]
        nodes, mids = [], []
        for k, i in enumerate(op.inputs):
            mid = "%s/detc_pack_%d" % (out.name, k)
            idt, iq = self.detc_dtype_quant(i)
            self.synth.append((mid, idt, shape + [1], iq))
            nodes.append({"name": mid, "op": "reshape", "inputs": [ins[k]], "outputs": [mid],
                          "attrs": {"shape": shape + [1]}})
            mids.append(mid)
        nodes.append({"name": self.use(op.outputs[0]), "op": "concat", "inputs": mids, "outputs": [out.name],
                      "attrs": {"axis": r}})
        return nodes

    def mean(self, op):
        if not self.count_io(op, 2, 1):
            return None
        o = self.options(op, tflite.OPT_REDUCER) or {"keep_dims": False}
        axes = self.const_ints(op, op.inputs[1], "axis")
        if axes is None:
            return None
        return self.node(op, "mean", [op.inputs[0]], {"axes": axes, "keep_dims": o["keep_dims"]})

    def softmax(self, op):
        if not self.count_io(op, 1, 1):
            return None
        o = self.options(op, tflite.OPT_SOFTMAX) or {"beta": 0.0}
        return self.node(op, "softmax", [op.inputs[0]], {"axis": -1, "beta": _f32(o["beta"])})

    def avg_pool(self, op):
        return self.max_pool(op, "avg_pool2d")

    def max_pool(self, op, detc_op="max_pool2d"):
        if not self.count_io(op, 1, 1):
            return None
        o = self.options(op, tflite.OPT_POOL2D)
        if o is None:
            self.err(op, "missing builtin options")
            return None
        for k in ("stride_h", "stride_w", "filter_height", "filter_width"):
            if not 1 <= o[k] <= (64 if k.startswith("stride") else 1024):
                self.err(op, "%s = %d is out of range" % (k, o[k]))
        attrs = OrderedDict()
        attrs["kernel"] = [o["filter_height"], o["filter_width"]]
        attrs["stride"] = [o["stride_h"], o["stride_w"]]
        attrs["padding"] = self.padding(op, o["padding"])
        attrs["activation"] = self.activation(op, o["fused_activation_function"])
        return self.node(op, detc_op, [op.inputs[0]], attrs)

    def pad(self, op):
        if not self.count_io(op, 2, 1):
            return None
        pi = op.inputs[1]
        if not self.is_const(pi) or self.dtype(pi) not in ("i32", "i64"):
            self.err(op, "the paddings operand %r must be a constant i32/i64 tensor" % self.t(pi).name)
            return None
        v = self.const_values(pi)
        if v.ndim != 2 or v.shape[1] != 2:
            self.err(op, "paddings %r has shape %s, expected [rank, 2]" % (self.t(pi).name, list(v.shape)))
            return None
        if (v < 0).any() or (v > 1024).any():
            self.err(op, "paddings %s are outside 0..1024" % v.tolist())
            return None
        return self.node(op, "pad", [op.inputs[0]], {"pads": [[int(a), int(b)] for a, b in v.tolist()]})

    def dequantize_op(self, op):
        if not self.count_io(op, 1, 1):
            return None
        src = op.inputs[0]
        dt, _q = self.detc_dtype_quant(src)
        if dt == "f32":
            # --dequantize already made the operand f32: an identity keeps the tensor names.
            shape = self.t(op.outputs[0]).shape or self.t(src).shape
            if not shape:
                self.err(op, "neither operand has a shape; cannot write the identity reshape --dequantize needs")
                return None
            return self.node(op, "reshape", [src], {"shape": list(shape)})
        if dt not in ("f16", "u8", "i8", "i32", "i64"):
            self.err(op, "DEQUANTIZE of a %s tensor cannot be expressed as a detc cast" % self.t(src).type_name)
            return None
        return self.node(op, "cast", [src], {"to": "f32"})

    def postprocess(self, op):
        if not self.count_io(op, 3, 4):
            return None
        if op.custom_options is None:
            self.err(op, "custom options are missing")
            return None
        if op.custom_options_format != 0:
            self.err(op, "custom_options_format %d is not FLEXBUFFERS" % op.custom_options_format)
            return None
        try:
            opts = flexbuffers.loads(op.custom_options)
        except flexbuffers.FlexbufferError as e:
            self.err(op, "custom options (FlexBuffer at file offset %d): %s" % (op.custom_options_offset, e))
            return None
        if not isinstance(opts, dict):
            self.err(op, "custom options are a FlexBuffer %s, expected a map" % type(opts).__name__)
            return None
        attrs = OrderedDict()
        for key, (kind, default) in POSTPROCESS_KEYS.items():
            v = opts.get(key)
            if v is None:
                v = default
            if isinstance(v, (str, bytes, list, dict)):
                self.err(op, "custom option %r = %r is not a number" % (key, v))
                continue
            if kind == "int":
                # FlexBuffers' AsInt32 truncates a float and reads a bool as 0/1
                if isinstance(v, float) and not math.isfinite(v):
                    self.err(op, "custom option %r = %r is not a finite number" % (key, v))
                    continue
                v = int(v)
                if not -2**31 <= v < 2**31:
                    self.err(op, "custom option %r = %d does not fit TFLite's int32" % (key, v))
                    continue
            elif kind == "float":
                v = float(v)
                if not math.isfinite(v):
                    self.err(op, "custom option %r = %r is not a finite number" % (key, v))
                    continue
                v = _f32(v)  # TFLite reads AsFloat
            else:
                v = bool(v)
            attrs[key] = v
        # TFLite's kernel reads only the keys above; it ignores every other key (TOCO's
        # _output_quantized, _support_output_type_float_in_quantized_op, ...), and so does detc.
        unknown = sorted(k for k in opts if k not in POSTPROCESS_KEYS and k not in POSTPROCESS_IGNORED)
        if unknown:
            self.notes.append("operator %d (%s): custom options %s are not read by TFLite's kernel; ignored"
                              % (op.index, op.op_name, ", ".join(repr(k) for k in unknown)))
        return self.node(op, "detection_postprocess", list(op.inputs), attrs)

    # -- tensors -----------------------------------------------------------------------------
    def tensor_json(self, w, i):
        t = self.t(i)
        dt = self.dtype(i)
        problems = []
        if dt is None:
            problems.append("dtype %s is not supported" % t.type_name)
        if t.has_sparsity:
            problems.append("sparse tensors are not supported")
        if t.is_variable:
            problems.append("variable tensors are not supported")
        if t.quant is not None and t.quant.has_details:
            problems.append("custom quantization details are not supported")
        if t.shape and (len(t.shape) > 6 or any(not 1 <= d <= 2**31 - 1 for d in t.shape)):
            problems.append("shape %s cannot be expressed (0..6 dimensions, each 1..2^31-1)" % _fmt_shape(t.shape))
        if problems:
            self.errors.append("tensor %d %r: %s" % (i, t.name, "; ".join(problems)))
            return
        out_dt, q = self.detc_dtype_quant(i)
        if self.is_const(i):
            values = self.const_values(i)  # checks the byte count against shape and dtype
            if out_dt != dt:  # --dequantize
                w.add_constant(t.name, "f32", values.shape, self._dequantized(i).astype("<f4"))
            else:
                w.add_constant(t.name, dt, values.shape, self.buffer_of(i), quant=q)
            return
        shape = list(t.shape) if (t.shape or t.has_rank) else None
        w.add_activation(t.name, out_dt, shape, quant=q)

    def _dequantized(self, i):
        q = self.quant(i)
        v = self.const_values(i).astype(np.float64)
        scale = np.asarray(q["scale"], dtype=np.float64)
        zp = np.asarray(q["zero_point"], dtype=np.float64)
        if q["axis"] >= 0:
            bshape = [1] * v.ndim
            bshape[q["axis"]] = -1
            scale, zp = scale.reshape(bshape), zp.reshape(bshape)
        return (v - zp) * scale

    def map_op(self, op):
        """The detc node for one TFLite operator (None after reporting a problem)."""
        n = op.op_name
        if n in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            return self.conv2d(op, n == "DEPTHWISE_CONV_2D")
        if n in ("RESHAPE", "SQUEEZE"):
            return self.reshape(op)
        if n == "LOGISTIC":
            return self.unary(op, "logistic")
        if n in ("RELU", "RELU6", "HARD_SWISH"):
            return self.unary(op, n.lower())
        if n == "TANH":
            return self.unary(op, "tanh")
        if n in ("MUL", "SUB"):
            return self.arith(op, n.lower(), tflite.OPT_MUL if n == "MUL" else tflite.OPT_SUB)
        if n in ("SPLIT", "SPLIT_V"):
            return self.split(op, n == "SPLIT_V")
        if n in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
            return self.resize(op, n == "RESIZE_BILINEAR")
        mapping = {"CONCATENATION": self.concat, "ADD": self.add, "MAX_POOL_2D": self.max_pool,
                   "PAD": self.pad, "DEQUANTIZE": self.dequantize_op,
                   "CUSTOM(%s)" % POSTPROCESS: self.postprocess, "AVERAGE_POOL_2D": self.avg_pool,
                   "SOFTMAX": self.softmax, "QUANTIZE": self.quantize_op, "TRANSPOSE": self.transpose,
                   "PACK": self.pack, "MEAN": self.mean, "STRIDED_SLICE": self.strided_slice}
        return mapping[n](op)

    # -- whole model ---------------------------------------------------------------------------
    def run(self, name):
        m = self.m
        if m.subgraph_count != 1:
            self.notes.append("the model has %d subgraphs; only the first (main) one is converted"
                              % m.subgraph_count)
        edgetpu = [op for op in m.operators if op.op_name.startswith("CUSTOM(edgetpu-custom-op")]
        if edgetpu:
            raise ConvertError(
                "this model was compiled for the Edge TPU (%d edgetpu-custom-op operator%s hold the network "
                "in a form only the Edge TPU runs); convert the CPU build of the same model instead: the "
                "file without '_edgetpu' in its name (e.g. ssd_mobilenet_v2_coco_quant_postprocess.tflite "
                "beside ssd_mobilenet_v2_coco_quant_postprocess_edgetpu.tflite)"
                % (len(edgetpu), "" if len(edgetpu) == 1 else "s"))
        unsupported = Counter(op.op_name for op in m.operators if op.op_name not in SUPPORTED)
        if unsupported:
            raise ConvertError("unsupported TFLite operators: " + ", ".join(
                "%s x%d" % (k, v) for k, v in sorted(unsupported.items())))
        graph_inputs = [self.use(i) for i in m.inputs]
        nodes = []
        for op in m.operators:
            try:
                node = self.map_op(op)
            except ConvertError as e:
                self.err(op, str(e))
                node = None
            if isinstance(node, list):
                nodes.extend(node)
            elif node is not None:
                nodes.append(node)

        w = DetcWriter(name=name, producer=PRODUCER)
        w.inputs = graph_inputs
        w.outputs = [self.use(i) for i in m.outputs]
        for i in m.inputs:
            if self.is_const(i):
                self.errors.append("graph input %r has constant data" % self.t(i).name)
        names = Counter(self.t(i).name for i in self.used)
        for nm, c in names.items():
            if c > 1 or not 1 <= len(nm.encode("utf-8")) <= 255:
                self.errors.append("tensor name %r is used by %d tensors or is not 1..255 bytes; detc needs "
                                   "unique names" % (nm, c))
        for i in self.used:
            try:
                self.tensor_json(w, i)
            except ConvertError as e:
                self.errors.append(str(e))
        for nm, dt, shape, q in self.synth:
            if nm in names:
                self.errors.append("tensor name %r, which detc-convert adds, is already taken" % nm)
            else:
                w.add_activation(nm, dt, shape, quant=q)
        if self.errors:
            raise ConvertError("\n".join(self.errors))
        for node in nodes:
            w.add_node(node["name"], node["op"], node["inputs"], node["outputs"], node["attrs"])
        if self.implicit_clamps:
            self.notes.append("--dequantize: %d ops got an explicit relu/relu6 that their quantized output "
                              "range implied" % self.implicit_clamps)
        return w


def convert(model, name, dequantize=False):
    """Returns (DetcWriter, notes). Raises ConvertError listing every problem found."""
    c = _Converter(model, dequantize)
    w = c.run(name)
    return w, c.notes


def input_normalization(model, md=None, mean=None, std=None):
    """(mean[3], std[3], source) that turn pixel values into the model's input: pixels are quantized
    as (p - mean) / std into the input tensor (models/pipeline.c). --mean/--std override; a float
    input uses the metadata's NormalizationOptions (TFLite Support applies them to float inputs only)
    else the MobileNet convention; a quantized input maps the pixel range onto the tensor's integer
    range: u8 gets the pixel bytes unchanged, i8 the bytes minus 128 (what TFLite Support and Coral
    feed). Returns (None, None, reason) when the input does not fit."""
    t = model.tensors[model.inputs[0]]
    dt = DTYPE_OF.get(t.type_name)
    q = t.quant if t.quant is not None and t.quant.scale else None
    src = None
    if q is not None:
        if len(q.scale) != 1:
            return None, None, "its input is quantized per channel"
        if dt not in ("u8", "i8"):
            return None, None, "its input is quantized %s" % dt
        # Chosen so that quantize((p - mean) / std) == p + qmin(dtype) for every pixel value p: with
        # x = (p + qmin - zp) * scale, round(x / scale) + zp == p + qmin. The same mapping, used on the f32
        # input of a --dequantize model, gives exactly the dequantized values of the integer model.
        zp = q.zero_point[0] if q.zero_point else 0
        qmin = QRANGE[dt][0]
        m3, s3 = [float(zp - qmin)] * 3, [1.0 / _f32(q.scale[0])] * 3
        src = "the input's quantization (%s, scale %.9g, zero point %d)" % (dt, q.scale[0], zp)
    elif dt == "f32":
        norm = md.input_normalization[0] if md is not None and md.input_normalization else None
        if norm and norm[0] and norm[1]:
            mm, ss = list(norm[0]), list(norm[1])
            if len(mm) == 1:
                mm = mm * 3
            if len(ss) == 1:
                ss = ss * 3
            if len(mm) != 3 or len(ss) != 3 or not all(math.isfinite(v) for v in mm + ss) or 0.0 in ss:
                return None, None, "its metadata's NormalizationOptions (mean %s, std %s) do not fit 3 channels" % (
                    norm[0], norm[1])
            m3, s3 = [_f32(v) for v in mm], [_f32(v) for v in ss]
            src = "the model's metadata (NormalizationOptions)"
        else:
            m3, s3 = [127.5] * 3, [127.5] * 3   # the MobileNet convention: pixels to [-1, 1]
            src = "no metadata: the MobileNet convention, pixels to [-1, 1]"
    else:
        return None, None, "its input is %s without quantization" % dt
    if mean is not None or std is not None:
        if mean is not None:
            m3 = list(mean) * 3 if len(mean) == 1 else list(mean)
        if std is not None:
            s3 = list(std) * 3 if len(std) == 1 else list(std)
        src = "--mean/--std"
    return m3, s3, src


def num_classes(writer):
    """The model's class count (TFLite_Detection_PostProcess's num_classes), or None."""
    if writer.nodes and writer.nodes[-1]["op"] == "detection_postprocess":
        n = writer.nodes[-1]["attrs"].get("num_classes")
        return n if isinstance(n, int) and n >= 1 else None
    return None


def ssd_pipeline(model, writer, class_offset=0, md=None, mean=None, std=None):
    """The "ssd" pipeline for a model whose last operator is TFLite_Detection_PostProcess, or
    (None, reason) when the model does not fit it."""
    if not model.operators or model.operators[-1].op_name != "CUSTOM(%s)" % POSTPROCESS:
        return None, "its last operator is not %s" % POSTPROCESS
    if len(model.inputs) != 1:
        return None, "it has %d inputs (expected 1 image)" % len(model.inputs)
    t = model.tensors[model.inputs[0]]
    shape = t.shape or []
    if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
        return None, "its input %r has shape %s, expected [1, H, W, 3]" % (t.name, shape)
    m3, s3, src = input_normalization(model, md, mean, std)
    if m3 is None:
        return None, src
    op = model.operators[-1]
    outs = [model.tensors[i].name for i in op.outputs]
    pipeline = OrderedDict([
        ("kind", "ssd"),
        ("input", OrderedDict([("width", shape[2]), ("height", shape[1]), ("color", "rgb"),
                               ("resize", "bilinear"), ("mean", m3), ("std", s3)])),
        ("outputs", OrderedDict([("boxes", outs[0]), ("classes", outs[1]), ("scores", outs[2]),
                                 ("count", outs[3]), ("box_order", "yxyx"), ("class_offset", class_offset)])),
    ])
    return pipeline, src
