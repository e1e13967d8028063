"""TensorFlow front end: a frozen GraphDef (.pb, binary protobuf) -> a DetcWriter holding the detc graph,
optionally completed by an OpenCV text graph (.pbtxt) for the SSD layers the .pb lacks.

Reading (protobuf.py): GraphDef.node[] -> name, op, input[] ("name", "name:k", "^control"), attr map.
Tensors (TensorProto): dtype float, half, double (constants only), int32, int64, uint8/quint8,
int8/qint8, int16, bool; tensor_content or the typed value lists (a shorter list is filled with its
last value, an empty one with zeros, as TensorFlow's MakeTensorFromProto does).

Graph work, in this order:
  1. With --config, the text graph's outputs that the .pb lacks are added, with every node they
     need that the .pb lacks (OpenCV's text graph adds DetectionOutput, the PriorBox nodes and their
     concatenation); the .pb's own nodes win. Outputs are the nodes nobody consumes (or --outputs);
     everything they do not depend on is dropped. Identity/StopGradient/Snapshot are resolved (an
     output that is an Identity is named after the tensor it forwards).
  2. Constant subgraphs are folded with numpy (Const, Dequantize, Identity, Reshape, ConcatV2, Pack,
     ExpandDims, Squeeze, Transpose, Cast, Shape, Add/AddV2/Sub/Mul/RealDiv/Maximum/Minimum,
     Rsqrt/Sqrt/Square/Neg, Sum, PriorBox) in float32 where TensorFlow computes in float32.
  3. Patterns: SpaceToBatchND -> Conv2D(VALID) -> BatchToSpaceND is a dilated convolution;
     Square -> Sum(last axis, keep_dims) -> Maximum(eps) -> Rsqrt -> Mul(x, .) is l2_normalize;
     Pad (zeros, spatial only) feeding only convolutions becomes their explicit padding.
  4. Per-channel affine ops (BiasAdd, Add/Sub/Mul by a per-channel constant, FusedBatchNorm with
     is_training false) are merged with each other and folded into the preceding Conv2D or
     DepthwiseConv2dNative when it has no other consumer (in float64, rounded once to float32);
     Relu/Relu6 become the fused activation. An affine that cannot be folded becomes `mul` by the
     per-channel scale and `add` of the per-channel shift (numpy broadcasting on the last axis).
  5. Weights: Conv2D filters HWIO -> detc OHWI, depthwise HWCM -> [1, KH, KW, C*M]. A filter that is
     a Dequantize of a uint8 constant (TensorFlow's quantize_weights transform, mode MIN_FIRST) stays
     u8 with scale = (max - min) / 255 and zero point = -round(min / scale), followed by a `cast` node
     to f32: TensorFlow's MIN_FIRST gives real = round(min/scale)*scale + q*scale = scale*(q - zp)
     exactly; OpenCV reads it the same way. A folded per-channel factor f becomes a per-channel
     scale (scale*|f|; for f < 0 the stored bytes are 255 - q with zero point 255 - zp, for f == 0 the
     bytes equal the zero point), so the weights stay typed. A bias used unchanged (a BiasAdd right
     after the convolution and nothing folded after it) stays u8 + cast too; a bias that absorbed
     folded parameters, and every other folded parameter, is f32. --dequantize-weights writes f32
     filters and biases instead (no cast nodes).
  6. OpenCV's PriorBox (text graph) is generated here as a constant [1, 2, 4*P] (OpenCV
     PriorBoxLayer: per cell, min_size box, sqrt(min*max) box, then aspect ratios with their flips;
     coordinates xmin, ymin, xmax, ymax normalized; then the variances); DetectionOutput becomes the
     detc op `ssd_detection_output` (ops/README.md).
Unknown ops, and options detc cannot express, are collected and reported together.
"""

import math
from collections import Counter, OrderedDict

import numpy as np

from . import protobuf
from .errors import ConvertError
from .protobuf import ProtobufError
from .writer import DetcWriter

PRODUCER = "detc-convert tf 1"

# DataType -> (detc dtype or None, numpy dtype, TensorProto list field)
TF_DTYPES = {
    1: ("f32", "<f4", "float_val"), 2: ("f64", "<f8", "double_val"), 3: ("i32", "<i4", "int_val"),
    4: ("u8", "u1", "int_val"), 5: ("i16", "<i2", "int_val"), 6: ("i8", "i1", "int_val"),
    9: ("i64", "<i8", "int64_val"), 10: ("bool", "u1", "bool_val"), 11: ("i8", "i1", "int_val"),
    12: ("u8", "u1", "int_val"), 13: ("i32", "<i4", "int_val"), 15: ("i16", "<i2", "int_val"),
    17: (None, "<u2", "int_val"), 19: ("f16", "<f2", "half_val"),
}

IDENTITY_OPS = {"Identity", "StopGradient", "Snapshot", "PreventGradient"}
AFFINE_OPS = {"BiasAdd", "BiasAddV1", "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"}
GRAPH_OPS = {
    "Placeholder", "Const", "Conv2D", "DepthwiseConv2dNative", "BiasAdd", "BiasAddV1", "Add", "AddV2", "Sub",
    "Mul", "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "Relu", "Relu6", "MaxPool", "Pad", "PadV2",
    "Reshape", "Squeeze", "ExpandDims", "Flatten", "ConcatV2", "Concat", "Softmax", "Sigmoid", "SpaceToBatchND",
    "BatchToSpaceND", "Dequantize", "PriorBox", "DetectionOutput",
} | IDENTITY_OPS
# ops evaluated with numpy when all their inputs are constant
FOLD_OPS = {
    "Const", "Dequantize", "Reshape", "ConcatV2", "Concat", "Pack", "ExpandDims", "Squeeze", "Transpose", "Cast",
    "Shape", "Add", "AddV2", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "Rsqrt", "Sqrt", "Square", "Neg",
    "Sum", "Relu", "Relu6", "Flatten", "PriorBox",
} | IDENTITY_OPS

# Facts a model's files do not hold: how its input image is prepared and what its classes are.
PRESETS = {
    # OpenCV's samples/dnn/models.yml entry "opencv_fd" and samples/dnn/face_detector: 300x300 BGR,
    # mean (104, 177, 123) subtracted, no scaling, 2 classes with 0 the background.
    "opencv_face_ssd_res10": {
        "input_shape": [1, 300, 300, 3], "color": "bgr", "mean": [104.0, 177.0, 123.0], "std": [1.0, 1.0, 1.0],
        "labels": ["background", "face"],
    },
}


def _f32(x):
    """The exact double value of a float32."""
    return float(np.float32(x))


def _fmt_shape(shape):
    return "[%s]" % ", ".join("?" if d is None else str(d) for d in shape) if shape is not None else "unknown"


def _split_input(s):
    """'name' / 'name:k' / '^name' -> (name, port, is_control)."""
    if s.startswith("^"):
        return s[1:], 0, True
    name, sep, port = s.rpartition(":")
    if sep and port.isdigit():
        return name, int(port), False
    return s, 0, False


def tensor_name(node, port):
    """detc tensor name of output `port` of TF node `node`."""
    return node if port == 0 else "%s:%d" % (node, port)


# -- TensorProto -> numpy -------------------------------------------------------------------------
def tensor_from_proto(tp, where):
    """A numpy array from a decoded TensorProto dict (raises ConvertError naming `where`)."""
    dt = tp.get("dtype", 0)
    if dt not in TF_DTYPES:
        raise ConvertError("%s: tensor dtype %s is not supported (float, half, int32, int64, uint8, int8, int16, "
                           "bool)" % (where, protobuf.DATA_TYPE_NAMES.get(dt, dt)))
    _detc, npdt, field = TF_DTYPES[dt]
    shp = tp.get("tensor_shape", {})
    if shp.get("unknown_rank"):
        raise ConvertError("%s: constant tensor has unknown rank" % where)
    shape = [d.get("size", 0) for d in shp.get("dim", [])]
    if len(shape) > 8 or any(d < 0 or d > 2**31 - 1 for d in shape):
        raise ConvertError("%s: constant tensor has shape %s" % (where, shape))
    count = 1
    for d in shape:
        count *= d
    if count > 1 << 31:
        raise ConvertError("%s: constant tensor of shape %s is too large" % (where, shape))
    item = np.dtype(npdt).itemsize
    if "tensor_content" in tp and len(tp["tensor_content"]) > 0:
        raw = tp["tensor_content"]
        if len(raw) != count * item:
            raise ConvertError("%s: tensor_content has %d bytes, but shape %s of %s needs %d"
                               % (where, len(raw), shape, protobuf.DATA_TYPE_NAMES.get(dt), count * item))
        return np.frombuffer(raw, dtype=npdt).reshape(shape).copy()
    vals = tp.get(field, [])
    if len(vals) > count:
        raise ConvertError("%s: %d values for shape %s (%d elements)" % (where, len(vals), shape, count))
    if field == "half_val":
        arr = np.array([v & 0xFFFF for v in vals], dtype="<u2").view("<f2")
    elif field == "bool_val":
        arr = np.array([1 if v else 0 for v in vals], dtype="u1")
    else:
        try:
            arr = np.array(vals, dtype=np.float64 if field in ("float_val", "double_val") else np.int64)
            if np.issubdtype(np.dtype(npdt), np.integer):
                info = np.iinfo(np.dtype(npdt))
                if arr.size and (arr.min() < info.min or arr.max() > info.max):
                    raise ConvertError("%s: a value is outside the range of %s"
                                       % (where, protobuf.DATA_TYPE_NAMES.get(dt)))
            arr = arr.astype(npdt)
        except OverflowError:
            raise ConvertError("%s: a value does not fit %s" % (where, protobuf.DATA_TYPE_NAMES.get(dt)))
    out = np.zeros(count, dtype=npdt)
    if arr.size:
        out[:arr.size] = arr
        out[arr.size:] = arr[-1]
    return out.reshape(shape)


# -- values: what each TF tensor is while converting ------------------------------------------------
class QConst:
    """A uint8/int8 constant with real = scale * (q - zero_point) (a Dequantize of a constant)."""

    def __init__(self, q, scale, zero_point, detc_dtype):
        self.q = q
        self.scale = scale            # float32 value, as a Python float
        self.zero_point = zero_point  # int
        self.dtype = detc_dtype       # "u8" or "i8"

    def real(self):
        return (self.q.astype(np.float64) - self.zero_point) * self.scale


class Value:
    """One TF tensor: constant (array or QConst) or computed (by an IR node)."""

    def __init__(self, name, shape, const=None, qconst=None, producer=None):
        self.name = name
        self.shape = shape
        self.const = const        # numpy array (TF dtype) or None
        self.qconst = qconst      # QConst or None
        self.producer = producer  # IR node or None (graph input)
        self.pending = None       # pattern state (dilated convolution halves)

    @property
    def is_const(self):
        return self.const is not None or self.qconst is not None

    def array(self):
        """The constant's values (real values for a QConst)."""
        if self.qconst is not None:
            return self.qconst.real().astype(np.float32)
        return self.const


class IR:
    """One detc node before emission."""

    def __init__(self, op, name, inputs, outputs, attrs=None, **params):
        self.op = op
        self.name = name
        self.inputs = inputs      # Values
        self.outputs = outputs    # Values
        self.attrs = attrs if attrs is not None else OrderedDict()
        self.params = params


# -- the converter ---------------------------------------------------------------------------------
class _Converter:
    def __init__(self, nodes, opts):
        self.opts = opts
        self.errors = []
        self.failed = set()  # names of nodes that could not be converted
        self.notes = []
        self.nodes = nodes            # OrderedDict name -> node dict
        self.values = {}              # (node, port) -> Value
        self.ir = []
        self.consumers = Counter()    # (node, port) -> number of data consumers (shape-only uses excluded)
        self.absorbed = set()         # nodes folded into a pattern
        self.inputs = []              # graph input names
        self.l2norm = {}              # Mul node -> (x input, axis, epsilon)

    def err(self, node, msg):
        self.errors.append("node %r (%s): %s" % (node["name"], node["op"], msg))

    # -- attributes -----------------------------------------------------------------------------
    @staticmethod
    def attr(node, key, default=None):
        return node["attrs"].get(key, default)

    def attr_s(self, node, key, default=None):
        a = self.attr(node, key)
        if a is None:
            return default
        if "s" not in a:
            raise ConvertError("attribute %r is not a string" % key)
        return a["s"].decode("utf-8", "replace")

    def attr_i(self, node, key, default=None):
        a = self.attr(node, key)
        if a is None:
            return default
        if "i" in a:
            return a["i"]
        if "f" in a and float(a["f"]).is_integer():
            return int(a["f"])
        raise ConvertError("attribute %r is not an integer" % key)

    def attr_f(self, node, key, default=None):
        a = self.attr(node, key)
        if a is None:
            return default
        if "f" in a:
            return a["f"]
        if "i" in a:
            return float(a["i"])
        raise ConvertError("attribute %r is not a number" % key)

    def attr_b(self, node, key, default=None):
        a = self.attr(node, key)
        if a is None:
            return default
        if "b" in a:
            return a["b"]
        if "i" in a:
            return a["i"] != 0
        raise ConvertError("attribute %r is not a boolean" % key)

    def attr_ints(self, node, key, default=None):
        a = self.attr(node, key)
        if a is None:
            return default
        return list(a.get("list", {}).get("i", []))

    def attr_floats(self, node, key):
        """A list of floats given as a tensor, a float list or one float (OpenCV's text graph uses all three)."""
        a = self.attr(node, key)
        if a is None:
            return None
        if "tensor" in a:
            return [float(v) for v in tensor_from_proto(a["tensor"], "attribute %r" % key).astype(np.float32).ravel()]
        if "list" in a:
            return [float(v) for v in a["list"].get("f", [])] or [float(v) for v in a["list"].get("i", [])]
        if "f" in a:
            return [a["f"]]
        if "i" in a:
            return [float(a["i"])]
        raise ConvertError("attribute %r is not a list of numbers" % key)

    # -- graph helpers --------------------------------------------------------------------------
    def data_inputs(self, node):
        return [(n, p) for n, p, ctrl in (_split_input(s) for s in node.get("input", [])) if not ctrl]

    def resolve(self, ref):
        """Follows Identity chains: (node, port) -> (node, port)."""
        seen = 0
        while True:
            n = self.nodes.get(ref[0])
            if n is None or n["op"] not in IDENTITY_OPS:
                return ref
            ins = self.data_inputs(n)
            if len(ins) != 1:
                return ref
            ref = ins[0]
            seen += 1
            if seen > len(self.nodes):
                raise ConvertError("Identity nodes form a cycle at %r" % ref[0])

    def inputs_of(self, node):
        return [self.resolve(r) for r in self.data_inputs(node)]

    # -- topology -----------------------------------------------------------------------------------
    def select(self, outputs):
        """Orders the nodes the outputs depend on (inputs first) and counts consumers."""
        consumed = set()
        for n in self.nodes.values():
            for ref in self.data_inputs(n):
                consumed.add(ref[0])
        if outputs:
            outs = []
            for o in outputs:
                name, port, _ = _split_input(o)
                if name not in self.nodes:
                    raise ConvertError("--outputs names %r, which is not a node of the graph" % o)
                outs.append((name, port))
        else:
            outs = [(n["name"], 0) for n in self.nodes.values()
                    if n["name"] not in consumed and n["op"] not in ("Const", "NoOp", "Placeholder")]
            if not outs:
                raise ConvertError("the graph has no output (every node is consumed or a constant)")
        self.outputs = [self.resolve(o) for o in outs]
        order, state = [], {}
        for root in self.outputs:
            stack = [(root[0], False)]
            while stack:
                name, done = stack.pop()
                if done:
                    if state.get(name) != 2:
                        state[name] = 2
                        order.append(name)
                    continue
                if state.get(name) == 2:
                    continue
                if state.get(name) == 1:
                    raise ConvertError("the graph has a cycle through node %r" % name)
                node = self.nodes.get(name)
                if node is None:
                    raise ConvertError("node %r is used as an input but is not defined in the graph" % name)
                state[name] = 1
                stack.append((name, True))
                for ref in reversed(self.inputs_of(node)):
                    if ref[0] not in self.nodes:
                        raise ConvertError("node %r: input %r is not defined in the graph" % (name, ref[0]))
                    if state.get(ref[0]) == 1:
                        raise ConvertError("the graph has a cycle through node %r" % ref[0])
                    if state.get(ref[0]) != 2:
                        stack.append((ref[0], False))
        self.order = [n for n in order if self.nodes[n]["op"] not in IDENTITY_OPS]
        for name in self.order:
            node = self.nodes[name]
            ins = self.inputs_of(node)
            if node["op"] == "PriorBox":
                continue  # uses its inputs' shapes only
            for ref in ins:
                self.consumers[ref] += 1
        for o in self.outputs:
            self.consumers[o] += 1

    def single_consumer(self, ref):
        return self.consumers[ref] == 1

    def consumers_of(self, ref):
        out = []
        for name in self.order:
            node = self.nodes[name]
            if node["op"] == "PriorBox":
                continue
            if ref in self.inputs_of(node):
                out.append(node)
        return out

    # -- patterns ---------------------------------------------------------------------------------
    def find_patterns(self):
        by_name = self.nodes
        for name in self.order:
            node = by_name[name]
            if node["op"] != "Mul":
                continue
            ins = self.inputs_of(node)
            if len(ins) != 2:
                continue
            for k in (0, 1):
                x, r = ins[k], ins[1 - k]
                m = self._match_l2(x, r)
                if m is not None:
                    eps_ref, sum_node, chain = m
                    self.l2norm[name] = (x, eps_ref, sum_node)
                    for n in chain:
                        self.absorbed.add(n["name"])
                        for ref in self.inputs_of(n):
                            self.consumers[ref] -= 1
                    break

    def _match_l2(self, x, rref):
        """Rsqrt(Maximum(Sum(Square(x), axis, keep_dims), eps)) -> (axis, eps, nodes) or None."""
        chain = []
        node = self.nodes.get(rref[0])
        for op in ("Rsqrt", "Maximum", "Sum", "Square"):
            if node is None or node["op"] != op or not self.single_consumer((node["name"], 0)):
                return None
            chain.append(node)
            ins = self.inputs_of(node)
            if op == "Maximum":
                consts = [i for i in ins if self.nodes[i[0]]["op"] in ("Const", "Dequantize")]
                others = [i for i in ins if i not in consts]
                if len(ins) != 2 or len(consts) != 1 or len(others) != 1:
                    return None
                eps_ref, nxt = consts[0], others[0]
            elif op == "Square":
                if ins != [x]:
                    return None
                nxt = None
            else:
                nxt = ins[0] if ins else None
            if op == "Sum":
                sum_node = node
            node = self.nodes.get(nxt[0]) if nxt else None
        return eps_ref, sum_node, chain

    # -- running the graph ---------------------------------------------------------------------------
    def run(self):
        self.find_patterns()
        unsupported = OrderedDict()
        for name in self.order:
            node = self.nodes[name]
            if name in self.absorbed:
                continue
            op = node["op"]
            if op not in GRAPH_OPS and op not in FOLD_OPS:
                unsupported.setdefault(op, []).append(name)
        if unsupported:
            lines = []
            for op, names in sorted(unsupported.items()):
                shown = ", ".join(repr(n) for n in names[:6]) + (", ..." if len(names) > 6 else "")
                lines.append("%s x%d (%s)" % (op, len(names), shown))
            raise ConvertError("unsupported TensorFlow ops: " + "; ".join(lines) +
                               "\ndetc-convert tf handles: " + ", ".join(sorted((GRAPH_OPS | FOLD_OPS) - {"PriorBox"})) +
                               ", and PriorBox/DetectionOutput from an OpenCV text graph (--config)")
        downstream = 0  # nodes left out only because an input's node failed: one line for all of them
        for name in self.order:
            node = self.nodes[name]
            try:
                if name in self.absorbed:
                    continue
                if self.errors and any(r not in self.values and r[0] in self.failed
                                       for r in self.inputs_of(node)):
                    self.failed.add(name)
                    downstream += 1
                    continue
                self.visit(node)
            except ConvertError as e:
                self.failed.add(name)
                self.err(node, str(e))
                if len(self.errors) > 50:
                    break
        if self.errors:
            if downstream:
                self.errors.append("(%d node(s) that depend on these were not converted either)" % downstream)
            raise ConvertError("\n".join(self.errors))

    def visit(self, node):
        op = node["op"]
        name = node["name"]
        if name in self.l2norm:
            return self.l2_normalize(node)
        ins = self.inputs_of(node)
        for ref in ins:
            if ref not in self.values:
                src = self.nodes.get(ref[0])
                raise ConvertError("input %s has no value (its node %r (%s) was not converted)"
                                   % (tensor_name(*ref), ref[0], src["op"] if src else "?"))
        vals = [self.values[r] for r in ins]
        if op == "Placeholder":
            return self.placeholder(node)
        if op == "Const":
            self.values[(name, 0)] = Value(name, None, const=tensor_from_proto(
                (self.attr(node, "value") or {}).get("tensor", {}), "constant %r" % name))
            self.values[(name, 0)].shape = list(self.values[(name, 0)].const.shape)
            return
        if op == "PriorBox":
            return self.prior_box(node, vals)
        if vals and all(v.is_const for v in vals) and op in FOLD_OPS:
            return self.fold(node, vals)
        if op == "Shape" and len(vals) == 1 and vals[0].shape is not None:
            arr = np.array(vals[0].shape, dtype=np.int32)
            self.values[(name, 0)] = Value(name, [len(vals[0].shape)], const=arr)
            return
        handler = {
            "Conv2D": self.conv, "DepthwiseConv2dNative": self.conv,
            "BiasAdd": self.affine_op, "BiasAddV1": self.affine_op, "FusedBatchNorm": self.affine_op,
            "FusedBatchNormV2": self.affine_op, "FusedBatchNormV3": self.affine_op,
            "Add": self.add_op, "AddV2": self.add_op, "Sub": self.add_op, "Mul": self.mul_op,
            "Relu": self.relu, "Relu6": self.relu, "MaxPool": self.max_pool, "Pad": self.pad, "PadV2": self.pad,
            "Reshape": self.reshape, "Squeeze": self.reshape, "ExpandDims": self.reshape, "Flatten": self.reshape,
            "ConcatV2": self.concat, "Concat": self.concat, "Softmax": self.softmax, "Sigmoid": self.sigmoid,
            "SpaceToBatchND": self.space_to_batch, "BatchToSpaceND": self.batch_to_space,
            "DetectionOutput": self.detection_output,
        }.get(op)
        if handler is None:
            raise ConvertError("%s with computed (non-constant) inputs is not supported" % op)
        for v in vals:
            if v.pending is not None and op not in ("Conv2D", "DepthwiseConv2dNative", "BatchToSpaceND"):
                raise ConvertError("input %r is half of a SpaceToBatchND/BatchToSpaceND pair, which detc only "
                                   "supports around a convolution (a dilated convolution)" % v.name)
        handler(node, vals)

    # -- values of computed tensors --------------------------------------------------------------------
    def new_value(self, node, port, shape, producer):
        v = Value(tensor_name(node["name"], port), shape, producer=producer)
        self.values[(node["name"], port)] = v
        return v

    def emit(self, op, node, inputs, attrs=None, n_out=1, shape=None, **params):
        ir = IR(op, node["name"], inputs, [], attrs, **params)
        for k in range(n_out):
            ir.outputs.append(self.new_value(node, k, shape[k] if n_out > 1 else shape, ir))
        self.ir.append(ir)
        return ir

    def rename_output(self, ir, node, shape):
        """ir now computes node's output (a fused op): its output Value takes node's tensor name."""
        old = ir.outputs[0]
        v = Value(tensor_name(node["name"], 0), shape, producer=ir)
        v.pending = old.pending
        ir.outputs[0] = v
        self.values[(node["name"], 0)] = v
        return v

    def fusable(self, v):
        """The IR producing v may absorb the op consuming v (v has no other consumer and is no output)."""
        if v.producer is None:
            return None
        ref = next((r for r, val in self.values.items() if val is v), None)
        if ref is None or not self.single_consumer(ref) or ref in self.outputs:
            return None
        return v.producer

    # -- op handlers ----------------------------------------------------------------------------------
    def placeholder(self, node):
        name = node["name"]
        dt = (self.attr(node, "dtype") or {}).get("type", 1)
        if dt != 1:
            raise ConvertError("input dtype %s is not supported (detc's TF path is float32)"
                               % protobuf.DATA_TYPE_NAMES.get(dt, dt))
        shape = None
        given = self.opts.get("input_shapes", {})
        if name in given:
            shape = list(given[name])
        elif None in given:
            shape = list(given[None])
        else:
            s = (self.attr(node, "shape") or {}).get("shape")
            if s is not None and not s.get("unknown_rank"):
                dims = [d.get("size", -1) for d in s.get("dim", [])]
                if dims and dims[0] == -1:
                    dims[0] = 1
                if dims and all(d >= 1 for d in dims):
                    shape = dims
        if shape is None:
            raise ConvertError("the input's shape is not (fully) known from the graph; give it with "
                               "--input-shape %s=1,HEIGHT,WIDTH,3 (or --preset)" % name)
        if any(not 1 <= d <= 2**31 - 1 for d in shape) or len(shape) > 6:
            raise ConvertError("input shape %s cannot be expressed" % _fmt_shape(shape))
        self.values[(name, 0)] = Value(name, shape)
        self.inputs.append(name)

    def fold(self, node, vals):
        name = node["name"]
        out = self.fold_value(node, vals)
        if isinstance(out, QConst):
            v = Value(name, list(out.q.shape), qconst=out)
        else:
            out = np.asarray(out)
            v = Value(name, list(out.shape), const=out)
        self.values[(name, 0)] = v

    def fold_value(self, node, vals):
        op = node["op"]
        a = [v.array() for v in vals]
        if op in IDENTITY_OPS:
            return a[0]
        if op == "Dequantize":
            return self.dequantize(node, vals)
        if op in ("Reshape",):
            shape = [int(s) for s in a[1].ravel()]
            return a[0].reshape(shape)
        if op == "Flatten":
            return a[0].reshape(a[0].shape[0] if a[0].ndim else 1, -1)
        if op in ("ConcatV2", "Concat"):
            axis_i = len(a) - 1 if op == "ConcatV2" else 0
            axis = int(a[axis_i])
            parts = a[:axis_i] + a[axis_i + 1:]
            return np.concatenate(parts, axis=axis)
        if op == "Pack":
            return np.stack(a, axis=self.attr_i(node, "axis", 0))
        if op == "ExpandDims":
            return np.expand_dims(a[0], int(a[1]))
        if op == "Squeeze":
            dims = self.attr_ints(node, "squeeze_dims", []) or None
            return np.squeeze(a[0], axis=tuple(dims) if dims else None)
        if op == "Transpose":
            return np.transpose(a[0], [int(p) for p in a[1].ravel()])
        if op == "Cast":
            dt = (self.attr(node, "DstT") or {}).get("type", 1)
            if dt not in TF_DTYPES:
                raise ConvertError("Cast to %s is not supported" % protobuf.DATA_TYPE_NAMES.get(dt, dt))
            return a[0].astype(TF_DTYPES[dt][1])
        if op == "Shape":
            return np.array(a[0].shape, dtype=np.int32)
        if op == "Sum":
            axes = tuple(int(x) for x in np.ravel(a[1]))
            return np.sum(a[0], axis=axes, keepdims=bool(self.attr_b(node, "keep_dims", False))).astype(a[0].dtype)
        unary = {"Rsqrt": lambda x: (1 / np.sqrt(x)), "Sqrt": np.sqrt, "Square": np.square, "Neg": np.negative,
                 "Relu": lambda x: np.maximum(x, 0), "Relu6": lambda x: np.minimum(np.maximum(x, 0), 6)}
        if op in unary:
            return unary[op](a[0]).astype(a[0].dtype)
        binary = {"Add": np.add, "AddV2": np.add, "Sub": np.subtract, "Mul": np.multiply, "RealDiv": np.divide,
                  "Maximum": np.maximum, "Minimum": np.minimum}
        if op in binary:
            if a[0].dtype != a[1].dtype:
                raise ConvertError("%s of %s and %s constants" % (op, a[0].dtype, a[1].dtype))
            with np.errstate(all="ignore"):
                return binary[op](a[0], a[1]).astype(a[0].dtype)
        raise ConvertError("cannot fold %s" % op)

    def dequantize(self, node, vals):
        """TensorFlow's Dequantize of a constant: MIN_FIRST stays typed (QConst); others become f32."""
        if len(vals) != 3:
            raise ConvertError("Dequantize needs 3 inputs (values, min, max), found %d" % len(vals))
        q, vmin, vmax = vals[0].const, vals[1].array(), vals[2].array()
        mode = self.attr_s(node, "mode", "MIN_COMBINED")
        if q is None or q.dtype not in (np.uint8, np.int8):
            raise ConvertError("Dequantize of a %s constant is not supported (quint8/qint8 only)"
                               % (q.dtype if q is not None else "typed"))
        if vmin.size != 1 or vmax.size != 1:
            raise ConvertError("Dequantize with %d/%d min/max values (per-channel ranges) is not supported"
                               % (vmin.size, vmax.size))
        lo = np.float32(vmin.ravel()[0])
        hi = np.float32(vmax.ravel()[0])
        if not (np.isfinite(lo) and np.isfinite(hi) and hi >= lo):
            raise ConvertError("Dequantize range [%r, %r] is not a finite, ordered range" % (float(lo), float(hi)))
        signed = q.dtype == np.int8
        lowest = -128 if signed else 0
        if mode == "MIN_FIRST":
            # TF QuantizedToFloat: range_scale = (max - min) / 255 (float), real =
            # round(min / range_scale) * range_scale + (q - lowest) * range_scale. OpenCV (addConstNodes):
            # rangeScale = (max - min) / 255 in float, q * rangeScale + rangeScale * cvRound(min / rangeScale).
            scale = np.float32(np.float32(hi - lo) / np.float32(255))
            if scale == 0:
                return np.full(q.shape, lo, dtype=np.float32)
            offset = int(np.rint(np.float32(lo / scale)))
            zp = lowest - offset
            qlo, qhi = (-128, 127) if signed else (0, 255)
            if qlo <= zp <= qhi and scale > 0:
                return QConst(q.copy(), float(scale), zp, "i8" if signed else "u8")
            self.notes.append("%r: the range [%g, %g] puts the zero point at %d, outside %s; written as f32"
                              % (node["name"], lo, hi, zp, "i8" if signed else "u8"))
            return (scale * (q.astype(np.float64) - zp)).astype(np.float32)
        if mode == "MIN_COMBINED":
            # real = min + (q - lowest) * (max - min) / 255: not scale*(q - integer zero point) in general
            self.notes.append("%r: Dequantize mode MIN_COMBINED is written as f32 constants" % node["name"])
            return (np.float64(lo) + (q.astype(np.float64) - lowest) * (np.float64(hi) - lo) / 255.0).astype(np.float32)
        raise ConvertError("Dequantize mode %r is not supported (MIN_FIRST, MIN_COMBINED)" % mode)

    # convolutions -------------------------------------------------------------------------------------
    def conv(self, node, vals):
        depthwise = node["op"] == "DepthwiseConv2dNative"
        if len(vals) != 2:
            raise ConvertError("expected 2 inputs, found %d" % len(vals))
        x, w = vals
        if self.attr_s(node, "data_format", "NHWC") != "NHWC":
            raise ConvertError("data_format %s is not supported (NHWC only)" % self.attr_s(node, "data_format"))
        if not w.is_const:
            raise ConvertError("the filter %r is computed at run time; detc needs constant weights" % w.name)
        if x.shape is None or len(x.shape) != 4:
            raise ConvertError("input %r has shape %s, expected 4 dimensions (NHWC)" % (x.name, _fmt_shape(x.shape)))
        if len(w.shape) != 4:
            raise ConvertError("filter %r has shape %s, expected 4 dimensions" % (w.name, _fmt_shape(w.shape)))
        kh, kw, ci, co = w.shape
        if depthwise:
            if ci != x.shape[3]:
                raise ConvertError("depthwise filter %s does not match %d input channels" % (w.shape, x.shape[3]))
            out_c = ci * co
        else:
            if ci != x.shape[3]:
                raise ConvertError("filter %r [KH, KW, Ci, Co] = %s does not match the input's %d channels"
                                   % (w.name, w.shape, x.shape[3]))
            out_c = co
        strides = self.attr_ints(node, "strides", [1, 1, 1, 1])
        dil = self.attr_ints(node, "dilations", [1, 1, 1, 1])
        if len(strides) != 4 or strides[0] != 1 or strides[3] != 1 or len(dil) != 4 or dil[0] != 1 or dil[3] != 1:
            raise ConvertError("strides %s / dilations %s must be [1, h, w, 1]" % (strides, dil))
        if not all(1 <= s <= 64 for s in strides[1:3] + dil[1:3]):
            raise ConvertError("strides %s / dilations %s are outside 1..64" % (strides, dil))
        padding = self.attr_s(node, "padding", "VALID")
        if padding == "EXPLICIT":
            ep = self.attr_ints(node, "explicit_paddings", [])
            if len(ep) != 8 or any(ep[:2]) or any(ep[6:]):
                raise ConvertError("explicit_paddings %s must pad only H and W" % ep)
            pads = [ep[2], ep[4], ep[3], ep[5]]
        elif padding in ("SAME", "VALID"):
            pads = padding.lower()
        else:
            raise ConvertError("padding %r is not supported" % padding)
        src = x
        dilation = dil[1:3]
        if x.pending is not None and x.pending[0] == "conv":
            raise ConvertError("input %r is a convolution after SpaceToBatchND that no BatchToSpaceND closes" % x.name)
        if x.pending is not None:  # SpaceToBatchND before: a dilated convolution
            block, s2b_pads, src = x.pending
            if pads != "valid" or strides[1:3] != [1, 1] or dilation != [1, 1]:
                raise ConvertError("a convolution after SpaceToBatchND must be VALID with stride 1 and no dilation")
            dilation = block
            pads = [s2b_pads[0][0], s2b_pads[1][0], s2b_pads[0][1], s2b_pads[1][1]]
        elif x.producer is not None and x.producer.op == "pad" and self.fusable(x) and pads in ("valid",) \
                and x.producer.params.get("spatial_only"):
            p = x.producer
            src = p.inputs[0]
            pads = list(p.params["pads4"])
            self.ir.remove(p)
        elif x.producer is not None and x.producer.op == "pad" and self.fusable(x) and x.producer.params.get("spatial_only") \
                and pads == "same":
            p = x.producer
            same = self.same_pads(x.shape[1:3], [kh, kw], strides[1:3], dilation)
            src = p.inputs[0]
            pads = [a + b for a, b in zip(p.params["pads4"], same)]
            self.ir.remove(p)
        if isinstance(pads, list) and any(not 0 <= v <= 1024 for v in pads):
            raise ConvertError("padding %s is outside 0..1024" % pads)
        shape = self.conv_shape(src.shape, out_c, [kh, kw], strides[1:3], dilation, pads)
        attrs = OrderedDict([("stride", strides[1:3]), ("dilation", dilation), ("padding", pads),
                             ("activation", "none")])
        if depthwise:
            attrs["depth_multiplier"] = co
        ir = self.emit("depthwise_conv2d" if depthwise else "conv2d", node, [src], attrs, shape=shape,
                       filter=w, scale=None, bias=None, depthwise=depthwise)
        ir.outputs[0].pending = ("conv", ir) if x.pending is not None else None

    @staticmethod
    def same_pads(hw, k, s, d):
        out = []
        for i in range(2):
            eff = (k[i] - 1) * d[i] + 1
            o = -(-hw[i] // s[i])
            total = max((o - 1) * s[i] + eff - hw[i], 0)
            out.append((total // 2, total - total // 2))
        return [out[0][0], out[1][0], out[0][1], out[1][1]]

    def conv_shape(self, xs, out_c, k, s, d, pads):
        hw = []
        for i in range(2):
            eff = (k[i] - 1) * d[i] + 1
            size = xs[1 + i]
            if pads == "same":
                o = -(-size // s[i])
            elif pads == "valid":
                o = -(-(size - eff + 1) // s[i])
            else:
                before, after = (pads[0], pads[2]) if i == 0 else (pads[1], pads[3])
                o = (size + before + after - eff) // s[i] + 1
            if o < 1:
                raise ConvertError("the output would be empty (input %s, kernel %s, stride %s, dilation %s, padding %s)"
                                   % (_fmt_shape(xs), k, s, d, pads))
            hw.append(o)
        return [xs[0], hw[0], hw[1], out_c]

    def space_to_batch(self, node, vals):
        if len(vals) != 3 or not vals[1].is_const or not vals[2].is_const:
            raise ConvertError("SpaceToBatchND needs constant block_shape and paddings")
        block = [int(b) for b in vals[1].array().ravel()]
        pads = vals[2].array().reshape(-1, 2).astype(int).tolist()
        if len(block) != 2 or len(pads) != 2 or any(not 1 <= b <= 64 for b in block) or any(p < 0 for r in pads for p in r):
            raise ConvertError("block_shape %s / paddings %s: only 2 spatial dimensions are supported" % (block, pads))
        users = self.consumers_of((node["name"], 0))
        if len(users) != 1 or users[0]["op"] not in ("Conv2D", "DepthwiseConv2dNative"):
            raise ConvertError("SpaceToBatchND is only supported in front of a convolution (a dilated convolution)")
        v = Value(node["name"], vals[0].shape)
        v.pending = (block, pads, vals[0])
        self.values[(node["name"], 0)] = v

    def batch_to_space(self, node, vals):
        x = vals[0]
        if x.pending is None or x.pending[0] != "conv":
            raise ConvertError("BatchToSpaceND is only supported after SpaceToBatchND -> convolution")
        if len(vals) != 3 or not vals[1].is_const or not vals[2].is_const:
            raise ConvertError("BatchToSpaceND needs constant block_shape and crops")
        ir = x.pending[1]
        block = [int(b) for b in vals[1].array().ravel()]
        crops = vals[2].array().reshape(-1, 2).astype(int).tolist()
        if block != ir.attrs["dilation"]:
            raise ConvertError("block_shape %s differs from the SpaceToBatchND block %s" % (block, ir.attrs["dilation"]))
        t, l, b, r = ir.attrs["padding"]
        t, b, l, r = t - crops[0][0], b - crops[0][1], l - crops[1][0], r - crops[1][1]
        if min(t, l, b, r) < 0:
            raise ConvertError("crops %s exceed the paddings; not expressible as a padded convolution" % crops)
        ir.attrs["padding"] = [t, l, b, r]
        src = ir.inputs[0]
        w = ir.params["filter"]
        shape = self.conv_shape(src.shape, ir.outputs[0].shape[3], w.shape[:2], ir.attrs["stride"],
                                ir.attrs["dilation"], ir.attrs["padding"])
        v = self.rename_output(ir, node, shape)
        v.pending = None

    # per-channel affine ops ----------------------------------------------------------------------------
    def channel_vector(self, v, channels, what):
        a = v.array().astype(np.float64)
        if a.size == 1:
            return np.full(channels, a.ravel()[0])
        if a.shape[-1] == channels and a.size == channels:
            return a.reshape(channels)
        raise ConvertError("%s %r has shape %s; only a per-channel [%d] (or scalar) constant is supported"
                           % (what, v.name, list(a.shape), channels))

    def affine_op(self, node, vals):
        op = node["op"]
        x = vals[0]
        if x.shape is None or not x.shape:
            raise ConvertError("input %r has no known shape" % x.name)
        if self.attr_s(node, "data_format", "NHWC") not in ("NHWC", "N..C"):
            raise ConvertError("data_format %s is not supported (NHWC only)" % self.attr_s(node, "data_format"))
        c = x.shape[-1]
        if op.startswith("BiasAdd"):
            if len(vals) != 2 or not vals[1].is_const:
                raise ConvertError("the bias must be a constant")
            b = vals[1]
            p = self.fusable(x)
            if p is not None and p.op in ("conv2d", "depthwise_conv2d") and p.attrs["activation"] == "none" \
                    and p.params["bias"] is None and p.params["scale"] is None and p.outputs[0].pending is None \
                    and b.qconst is not None and b.shape == [c]:
                p.params["bias"] = b  # used as it is: stays typed (u8 + cast)
                self.rename_output(p, node, x.shape)
                return
            return self.affine(node, x, None, self.channel_vector(b, c, "bias"))
        # FusedBatchNorm: x, scale (gamma), offset (beta), mean, variance
        if self.attr_b(node, "is_training", True):
            raise ConvertError("is_training is true (TensorFlow's default): batch statistics cannot be frozen; "
                               "export the graph for inference")
        if len(vals) < 5 or not all(v.is_const for v in vals[1:5]):
            raise ConvertError("FusedBatchNorm needs constant scale, offset, mean and variance")
        eps = float(np.float32(self.attr_f(node, "epsilon", 1e-4)))
        gamma, beta, mean, var = (self.channel_vector(vals[i], c, ("scale", "offset", "mean", "variance")[i - 1])
                                  for i in range(1, 5))
        if np.any(var + eps < 0):
            raise ConvertError("a variance + epsilon is negative")
        s = gamma / np.sqrt(var + eps)
        return self.affine(node, x, s, beta - mean * s)

    def add_op(self, node, vals):
        if len(vals) != 2:
            raise ConvertError("expected 2 inputs, found %d" % len(vals))
        a, b = vals
        sub = node["op"] == "Sub"
        if a.is_const or b.is_const:
            x, k = (b, a) if a.is_const else (a, b)
            if x.shape is None or not x.shape:
                raise ConvertError("input %r has no known shape" % x.name)
            vec = self.channel_vector(k, x.shape[-1], "constant operand")
            if sub and a.is_const:   # const - x
                return self.affine(node, x, np.full(x.shape[-1], -1.0), vec)
            return self.affine(node, x, None, -vec if sub else vec)
        if sub:
            raise ConvertError("Sub of two computed tensors is not supported")
        shape = self.broadcast_shape(a.shape, b.shape)
        self.emit("add", node, [a, b], OrderedDict([("activation", "none")]), shape=shape)

    @staticmethod
    def broadcast_shape(s1, s2):
        if s1 is None or s2 is None:
            raise ConvertError("input shapes are unknown")
        n = max(len(s1), len(s2))
        a = [1] * (n - len(s1)) + list(s1)
        b = [1] * (n - len(s2)) + list(s2)
        out = []
        for x, y in zip(a, b):
            if x != y and x != 1 and y != 1:
                raise ConvertError("shapes %s and %s do not broadcast" % (_fmt_shape(s1), _fmt_shape(s2)))
            out.append(max(x, y))
        return out

    def mul_op(self, node, vals):
        if len(vals) != 2:
            raise ConvertError("expected 2 inputs, found %d" % len(vals))
        a, b = vals
        if not (a.is_const or b.is_const):
            raise ConvertError("Mul of two computed tensors is not supported (only per-channel scaling by a "
                               "constant, and the l2_normalize pattern)")
        x, k = (b, a) if a.is_const else (a, b)
        if x.shape is None or not x.shape:
            raise ConvertError("input %r has no known shape" % x.name)
        return self.affine(node, x, self.channel_vector(k, x.shape[-1], "constant operand"), None)

    def affine(self, node, x, scale, shift):
        """Folds x * scale + shift (per channel, float64) into x's producer when possible."""
        c = x.shape[-1]
        p = self.fusable(x)
        if p is not None and p.op in ("conv2d", "depthwise_conv2d") and p.attrs["activation"] == "none" \
                and p.outputs[0].pending is None:
            if scale is not None:
                p.params["scale"] = scale if p.params["scale"] is None else p.params["scale"] * scale
                if p.params["bias"] is not None:
                    p.params["bias"] = self.real_vector(p.params["bias"]) * scale
            if shift is not None:
                p.params["bias"] = shift if p.params["bias"] is None else self.real_vector(p.params["bias"]) + shift
            self.rename_output(p, node, x.shape)
            return
        if p is not None and p.op == "affine" and p.attrs["activation"] == "none":
            s0, t0 = p.params["scale"], p.params["bias"]
            if scale is not None:
                s0 = scale if s0 is None else s0 * scale
                t0 = None if t0 is None else t0 * scale
            if shift is not None:
                t0 = shift if t0 is None else t0 + shift
            p.params["scale"], p.params["bias"] = s0, t0
            self.rename_output(p, node, x.shape)
            return
        self.emit("affine", node, [x], OrderedDict([("activation", "none")]), shape=list(x.shape),
                  scale=scale, bias=shift, channels=c)

    @staticmethod
    def real_vector(b):
        if isinstance(b, Value):
            return b.array().astype(np.float64).ravel()
        return b

    def relu(self, node, vals):
        x = vals[0]
        act = "relu" if node["op"] == "Relu" else "relu6"
        p = self.fusable(x)
        if p is not None and p.op in ("conv2d", "depthwise_conv2d", "affine", "add", "max_pool2d") \
                and p.attrs.get("activation") == "none" and p.outputs[0].pending is None:
            p.attrs["activation"] = act
            self.rename_output(p, node, x.shape)
            return
        if act == "relu":
            self.emit("relu", node, [x], shape=x.shape)
        else:
            self.emit("affine", node, [x], OrderedDict([("activation", "relu6")]), shape=list(x.shape),
                      scale=None, bias=None, channels=x.shape[-1])

    def max_pool(self, node, vals):
        x = vals[0]
        if self.attr_s(node, "data_format", "NHWC") != "NHWC":
            raise ConvertError("data_format must be NHWC")
        if x.shape is None or len(x.shape) != 4:
            raise ConvertError("input %r has shape %s, expected NHWC" % (x.name, _fmt_shape(x.shape)))
        k = self.attr_ints(node, "ksize", [])
        s = self.attr_ints(node, "strides", [])
        if len(k) != 4 or len(s) != 4 or k[0] != 1 or k[3] != 1 or s[0] != 1 or s[3] != 1:
            raise ConvertError("ksize %s / strides %s must be [1, h, w, 1]" % (k, s))
        padding = self.attr_s(node, "padding", "VALID")
        if padding not in ("SAME", "VALID"):
            raise ConvertError("padding %r is not supported" % padding)
        shape = self.conv_shape(x.shape, x.shape[3], k[1:3], s[1:3], [1, 1], padding.lower())
        self.emit("max_pool2d", node, [x], OrderedDict([("kernel", k[1:3]), ("stride", s[1:3]),
                                                         ("padding", padding.lower()), ("activation", "none")]),
                  shape=shape)

    def pad(self, node, vals):
        x = vals[0]
        if len(vals) < 2 or not vals[1].is_const:
            raise ConvertError("the paddings must be a constant")
        if node["op"] == "PadV2" and (len(vals) < 3 or not vals[2].is_const or float(vals[2].array().ravel()[0]) != 0):
            raise ConvertError("PadV2 with a non-zero constant value is not supported")
        p = vals[1].array().astype(np.int64)
        if x.shape is None or p.shape != (len(x.shape), 2):
            raise ConvertError("paddings of shape %s for an input of shape %s" % (list(p.shape), _fmt_shape(x.shape)))
        if (p < 0).any() or (p > 1024).any():
            raise ConvertError("paddings %s are outside 0..1024" % p.tolist())
        shape = [d + int(a) + int(b) for d, (a, b) in zip(x.shape, p.tolist())]
        spatial = len(x.shape) == 4 and not p[0].any() and not p[3].any()
        self.emit("pad", node, [x], OrderedDict([("pads", p.tolist())]), shape=shape, spatial_only=spatial,
                  pads4=[int(p[1][0]), int(p[2][0]), int(p[1][1]), int(p[2][1])] if spatial else None)

    def reshape(self, node, vals):
        x = vals[0]
        op = node["op"]
        if x.shape is None:
            raise ConvertError("input %r has no known shape" % x.name)
        count = int(np.prod(x.shape)) if x.shape else 1
        if op == "Reshape":
            if len(vals) != 2 or not vals[1].is_const:
                raise ConvertError("the target shape must be a constant")
            target = [int(s) for s in vals[1].array().ravel()]
            if target.count(-1) > 1 or any(s < -1 for s in target):
                raise ConvertError("target shape %s is invalid" % target)
            if 0 in target:
                raise ConvertError("target shape %s has a 0 dimension" % target)
            known = int(np.prod([s for s in target if s != -1])) if target else 1
            if -1 in target:
                if known == 0 or count % known:
                    raise ConvertError("cannot reshape %s into %s" % (_fmt_shape(x.shape), target))
                target[target.index(-1)] = count // known
            elif known != count:
                raise ConvertError("cannot reshape %s into %s" % (_fmt_shape(x.shape), target))
        elif op == "Flatten":
            target = [x.shape[0], count // x.shape[0]]
        elif op == "Squeeze":
            dims = self.attr_ints(node, "squeeze_dims", [])
            r = len(x.shape)
            dims = [d % r for d in dims] if dims else [i for i, d in enumerate(x.shape) if d == 1]
            if any(x.shape[d] != 1 for d in dims):
                raise ConvertError("cannot squeeze dimensions %s of %s" % (dims, _fmt_shape(x.shape)))
            target = [d for i, d in enumerate(x.shape) if i not in dims]
        else:  # ExpandDims
            if len(vals) != 2 or not vals[1].is_const:
                raise ConvertError("the axis must be a constant")
            ax = int(vals[1].array().ravel()[0])
            r = len(x.shape)
            if not -r - 1 <= ax <= r:
                raise ConvertError("axis %d is out of range" % ax)
            ax = ax % (r + 1)
            target = list(x.shape[:ax]) + [1] + list(x.shape[ax:])
        if len(target) > 6:
            raise ConvertError("target shape %s has more than 6 dimensions" % target)
        self.emit("reshape", node, [x], OrderedDict([("shape", target)]), shape=target)

    def concat(self, node, vals):
        op = node["op"]
        axis_i = len(vals) - 1 if op == "ConcatV2" else 0
        if not vals[axis_i].is_const:
            raise ConvertError("the axis must be a constant")
        axis = int(vals[axis_i].array().ravel()[0])
        parts = vals[:axis_i] + vals[axis_i + 1:]
        if not parts or any(p.shape is None for p in parts):
            raise ConvertError("input shapes are unknown")
        r = len(parts[0].shape)
        if not -r <= axis < r:
            raise ConvertError("axis %d is out of range for rank %d" % (axis, r))
        axis %= r
        shape = list(parts[0].shape)
        for p in parts[1:]:
            if len(p.shape) != r or any(a != b for i, (a, b) in enumerate(zip(p.shape, shape)) if i != axis):
                raise ConvertError("inputs %s and %s cannot be concatenated on axis %d"
                                   % (_fmt_shape(parts[0].shape), _fmt_shape(p.shape), axis))
            shape[axis] += p.shape[axis]
        self.emit("concat", node, parts, OrderedDict([("axis", axis)]), shape=shape)

    def softmax(self, node, vals):
        x = vals[0]
        self.emit("softmax", node, [x], OrderedDict([("axis", -1), ("beta", 1.0)]), shape=x.shape)

    def sigmoid(self, node, vals):
        self.emit("logistic", node, [vals[0]], shape=vals[0].shape)

    def l2_normalize(self, node):
        xref, eps_ref, sum_node = self.l2norm[node["name"]]
        x = self.values.get(xref)
        if x is None:
            raise ConvertError("input %r has no value" % xref[0])
        eps_v = self.values.get(eps_ref)
        if eps_v is None or not eps_v.is_const or eps_v.array().size != 1:
            raise ConvertError("the l2_normalize epsilon (Maximum's other input) must be a scalar constant")
        axes_ref = self.inputs_of(sum_node)[1:]
        axes_v = self.values.get(axes_ref[0]) if axes_ref else None
        if axes_v is None or not axes_v.is_const:
            raise ConvertError("the l2_normalize reduction axes must be constant")
        axes = [int(a) for a in axes_v.array().ravel()]
        r = len(x.shape)
        if [a % r for a in axes] != [r - 1] or not self.attr_b(sum_node, "keep_dims", False):
            raise ConvertError("l2_normalize over axes %s (keep_dims %s): only the last axis is supported"
                               % (axes, self.attr_b(sum_node, "keep_dims", False)))
        eps = _f32(eps_v.array().ravel()[0])
        self.emit("l2_normalize", node, [x], OrderedDict([("axis", -1), ("epsilon", eps)]), shape=x.shape)

    # OpenCV's SSD layers -------------------------------------------------------------------------------
    def prior_box(self, node, vals):
        """OpenCV PriorBoxLayer as a constant [1, 2, H*W*num_priors*4] (see the module text)."""
        if len(vals) != 2 or vals[0].shape is None or vals[1].shape is None:
            raise ConvertError("PriorBox needs 2 inputs with known shapes (feature map, image)")
        fs, ims = vals[0].shape, vals[1].shape
        if len(fs) != 4 or len(ims) != 4:
            raise ConvertError("PriorBox inputs must be NHWC 4-D (found %s and %s)" % (_fmt_shape(fs), _fmt_shape(ims)))
        layer_h, layer_w = fs[1], fs[2]
        img_h, img_w = ims[1], ims[2]
        for k in ("scales", "offset_h", "offset_w", "step_h", "step_w", "normalized_bbox"):
            if k in node["attrs"]:
                raise ConvertError("PriorBox attribute %r is not supported" % k)
        f32 = np.float32
        min_size = self.attr_f(node, "min_size")
        max_size = self.attr_f(node, "max_size")
        flip = self.attr_b(node, "flip", True)
        clip = self.attr_b(node, "clip", True)
        offset = f32(self.attr_f(node, "offset", 0.5))
        step = self.attr_f(node, "step")
        ars = self.attr_floats(node, "aspect_ratio") or []
        variance = self.attr_floats(node, "variance") or []
        widths = self.attr_floats(node, "width") or []
        heights = self.attr_floats(node, "height") or []
        if len(widths) != len(heights):
            raise ConvertError("width and height lists differ in length")
        if widths:
            if ars or min_size is not None or max_size is not None:
                raise ConvertError("explicit width/height cannot be combined with aspect_ratio/min_size/max_size")
            box_w = [f32(v) for v in widths]
            box_h = [f32(v) for v in heights]
        else:
            if min_size is None or not min_size > 0:
                raise ConvertError("min_size must be given and positive")
            mn = f32(min_size)
            # aspect ratios as OpenCV collects them: skip 1 and duplicates, add 1/ar after ar when flip
            ratios = []
            for ar in ars:
                ar = f32(ar)
                if abs(float(ar) - 1.0) < 1e-6 or any(abs(float(ar) - float(r)) < 1e-6 for r in ratios):
                    continue
                if not ar > 0:
                    raise ConvertError("aspect_ratio %r is not positive" % float(ar))
                ratios.append(ar)
                if flip:
                    ratios.append(f32(1.0 / float(ar)))
            box_w, box_h = [mn], [mn]
            if max_size is not None:
                mx = f32(max_size)
                if not mx > mn:
                    raise ConvertError("max_size %g must exceed min_size %g" % (mx, mn))
                s = f32(np.sqrt(f32(mn * mx)))
                box_w.append(s)
                box_h.append(s)
            for ar in ratios:
                r = f32(np.sqrt(ar))
                box_w.append(f32(mn * r))
                box_h.append(f32(mn / r))
        if len(variance) not in (0, 1, 4) or any(not v > 0 for v in variance):
            raise ConvertError("variance must be 1 or 4 positive values, found %s" % variance)
        variance = [f32(v) for v in variance] or [f32(0.1)]
        if step is None or step == 0:
            step_x, step_y = f32(f32(img_w) / f32(layer_w)), f32(f32(img_h) / f32(layer_h))
        else:
            if not step > 0:
                raise ConvertError("step must be positive")
            step_x = step_y = f32(step)
        n = len(box_w)
        hh, ww = np.meshgrid(np.arange(layer_h, dtype=np.float32), np.arange(layer_w, dtype=np.float32), indexing="ij")
        cx = ((ww + offset) * step_x).astype(np.float32)[:, :, None]   # [H, W, 1]
        cy = ((hh + offset) * step_y).astype(np.float32)[:, :, None]
        bw = np.array(box_w, dtype=np.float32)[None, None, :] * f32(0.5)
        bh = np.array(box_h, dtype=np.float32)[None, None, :] * f32(0.5)
        fw, fh = f32(img_w), f32(img_h)
        boxes = np.stack([(cx - bw) / fw, (cy - bh) / fh, (cx + bw) / fw, (cy + bh) / fh], axis=-1).astype(np.float32)
        boxes = boxes.reshape(-1)
        if clip:
            boxes = np.minimum(np.maximum(boxes, f32(0)), f32(1))
        var = np.tile(np.array(variance if len(variance) == 4 else variance * 4, dtype=np.float32),
                      layer_h * layer_w * n)
        out = np.stack([boxes, var]).reshape(1, 2, -1).astype(np.float32)
        v = Value(node["name"], list(out.shape), const=out)
        self.values[(node["name"], 0)] = v

    def detection_output(self, node, vals):
        if len(vals) != 3:
            raise ConvertError("DetectionOutput needs 3 inputs (locations, confidences, priors), found %d" % len(vals))
        loc, conf, pri = vals
        for k in ("eta", "normalized_bbox", "nms_eta"):
            if k in node["attrs"]:
                raise ConvertError("DetectionOutput attribute %r is not supported" % k)
        num_classes = self.attr_i(node, "num_classes")
        if num_classes is None or num_classes < 1:
            raise ConvertError("num_classes is missing or not positive")
        code = (self.attr_s(node, "code_type") or "").upper()
        code = {"CENTER_SIZE": "center_size", "CORNER": "corner",
                "PRIORBOXPARAMETER_CODETYPE_CENTER_SIZE": "center_size"}.get(code.split(".")[-1])
        if code is None:
            raise ConvertError("code_type %r is not supported (CENTER_SIZE, CORNER)" % self.attr_s(node, "code_type"))
        attrs = OrderedDict([
            ("num_classes", num_classes),
            ("share_location", bool(self.attr_b(node, "share_location", True))),
            ("background_label_id", self.attr_i(node, "background_label_id", 0)),
            ("code_type", code),
            ("variance_encoded_in_target", bool(self.attr_b(node, "variance_encoded_in_target", False))),
            ("keep_top_k", self.attr_i(node, "keep_top_k", -1)),
            ("confidence_threshold", _f32(self.attr_f(node, "confidence_threshold", 0.0))),
            ("nms_threshold", _f32(self.attr_f(node, "nms_threshold", 0.0))),
            ("top_k", self.attr_i(node, "top_k", -1)),
            ("loc_pred_transposed", bool(self.attr_b(node, "loc_pred_transposed", False))),
            ("clip", bool(self.attr_b(node, "clip", False))),
            ("group_by_classes", bool(self.attr_b(node, "group_by_classes", False))),
        ])
        if attrs["keep_top_k"] < 1:
            raise ConvertError("keep_top_k %d: detc needs a positive keep_top_k (it sizes the outputs)"
                               % attrs["keep_top_k"])
        if not attrs["nms_threshold"] > 0:
            raise ConvertError("nms_threshold must be positive")
        if pri.shape is None or len(pri.shape) != 3 or pri.shape[0] != 1 or \
                pri.shape[1] != (1 if attrs["variance_encoded_in_target"] else 2) or pri.shape[2] % 4:
            raise ConvertError("priors %r have shape %s, expected [1, %d, 4*P]"
                               % (pri.name, _fmt_shape(pri.shape), 1 if attrs["variance_encoded_in_target"] else 2))
        p = pri.shape[2] // 4
        n_loc = 1 if attrs["share_location"] else num_classes
        for v, want, what in ((loc, p * 4 * n_loc, "locations"), (conf, p * num_classes, "confidences")):
            if v.shape is None or int(np.prod(v.shape)) != want or v.shape[0] != 1:
                raise ConvertError("%s %r have shape %s, expected batch 1 and %d values (%d priors)"
                                   % (what, v.name, _fmt_shape(v.shape), want, p))
        k = attrs["keep_top_k"]
        self.emit("ssd_detection_output", node, [loc, conf, pri], attrs, n_out=4,
                  shape=[[1, k, 4], [1, k], [1, k], [1]])

    # -- emission -------------------------------------------------------------------------------------
    def write(self, name):
        w = DetcWriter(name=name, producer=PRODUCER)
        written = set()
        deq = self.opts.get("dequantize_weights", False)

        def const(tname, arr, dtype="f32", quant=None):
            if tname in written:
                raise ConvertError("two tensors would both be named %r" % tname)
            written.add(tname)
            arr = np.ascontiguousarray(arr)
            w.add_constant(tname, dtype, list(arr.shape), arr, quant=quant)
            return tname

        def act(v, dtype="f32"):
            if v.name in written:
                return v.name
            written.add(v.name)
            w.add_activation(v.name, dtype, v.shape)
            return v.name

        def use(v):
            if v.is_const:
                if v.name not in written:
                    arr = v.array()
                    dt = {np.dtype("float32"): "f32", np.dtype("int32"): "i32", np.dtype("int64"): "i64",
                          np.dtype("uint8"): "u8", np.dtype("float16"): "f16"}.get(arr.dtype)
                    if dt is None:
                        raise ConvertError("constant %r of dtype %s cannot be written" % (v.name, arr.dtype))
                    const(v.name, arr, dt)
                return v.name
            return act(v)

        for inp in self.inputs:
            act(self.values[(inp, 0)])
        for ir in self.ir:
            try:
                self.write_node(w, ir, const, use, act, deq)
            except ConvertError as e:
                self.errors.append("node %r (%s): %s" % (ir.name, ir.op, e))
        w.inputs = list(self.inputs)
        outs = []
        for o in self.outputs:
            v = self.values[o]
            ir = v.producer
            if ir is not None and ir.op == "ssd_detection_output":
                for ov in ir.outputs:
                    outs.append(ov.name)
            else:
                outs.append(use(v))
        w.outputs = list(OrderedDict.fromkeys(outs))
        if self.errors:
            raise ConvertError("\n".join(self.errors))
        return w

    def write_filter(self, ir, const, deq):
        """Writes the filter (OHWI or [1,KH,KW,C*M]) with the folded per-channel scale; returns
        (filter tensor name, cast node or None)."""
        wv = ir.params["filter"]
        depthwise = ir.params["depthwise"]
        scale = ir.params["scale"]
        base = ir.name
        kh, kw, ci, co = wv.shape

        def layout(a):
            if depthwise:
                return a.reshape(1, kh, kw, ci * co)
            return np.transpose(a, (3, 0, 1, 2))

        axis = 3 if depthwise else 0
        if wv.qconst is not None and not deq:
            qc = wv.qconst
            q = layout(qc.q).copy()
            n = q.shape[axis]
            if scale is None:
                quant = {"scale": [qc.scale], "zero_point": [qc.zero_point], "axis": -1}
            else:
                scales, zps = [], []
                qmax = 255 if qc.dtype == "u8" else 127
                qmin = 0 if qc.dtype == "u8" else -128
                for c in range(n):
                    f = float(scale[c])
                    sl = [slice(None)] * 4
                    sl[axis] = c
                    sl = tuple(sl)
                    if f > 0:
                        scales.append(_f32(qc.scale * f))
                        zps.append(qc.zero_point)
                    elif f < 0:
                        # -(q - zp) = (qmax + qmin - q) - (qmax + qmin - zp): mirrored bytes keep it exact
                        q[sl] = (qmax + qmin - q[sl].astype(np.int32)).astype(q.dtype)
                        scales.append(_f32(qc.scale * -f))
                        zps.append(qmax + qmin - qc.zero_point)
                    else:
                        q[sl] = qc.zero_point
                        scales.append(qc.scale)
                        zps.append(qc.zero_point)
                    if not scales[-1] > 0 or not math.isfinite(scales[-1]):
                        raise ConvertError("the folded scale of output channel %d is %r" % (c, scales[-1]))
                quant = {"scale": scales, "zero_point": zps, "axis": axis}
            qname = const(base + "/filter/quantized", q, qc.dtype, quant)
            return qname, (base + "/filter/dequantize", qname, base + "/filter", list(q.shape))
        real = wv.array().astype(np.float64)
        real = layout(real)
        if scale is not None:
            bshape = [1, 1, 1, 1]
            bshape[axis] = -1
            real = real * np.asarray(scale).reshape(bshape)
        return const(base + "/filter", real.astype(np.float32)), None

    def write_node(self, w, ir, const, use, act, deq):
        op = ir.op
        if op in ("conv2d", "depthwise_conv2d"):
            fname, cast = self.write_filter(ir, const, deq)
            if cast is not None:
                cname, src, out, shape = cast
                w.add_node(cname, "cast", [src], [out], OrderedDict([("to", "f32")]))
                w.add_activation(out, "f32", shape)
                fname = out
            b = ir.params["bias"]
            bname = ""
            if isinstance(b, Value):
                if b.qconst is not None and not deq:
                    qc = b.qconst
                    qn = const(ir.name + "/bias/quantized", qc.q.reshape(-1), qc.dtype,
                               {"scale": [qc.scale], "zero_point": [qc.zero_point], "axis": -1})
                    bname = ir.name + "/bias"
                    w.add_node(ir.name + "/bias/dequantize", "cast", [qn], [bname], OrderedDict([("to", "f32")]))
                    w.add_activation(bname, "f32", [int(qc.q.size)])
                else:
                    bname = const(ir.name + "/bias", b.array().astype(np.float32).reshape(-1))
            elif b is not None:
                bname = const(ir.name + "/bias", np.asarray(b, dtype=np.float64).astype(np.float32))
            ins = [use(ir.inputs[0]), fname, bname]
            w.add_node(ir.name, op, ins, [act(ir.outputs[0])], ir.attrs)
            return
        if op == "affine":
            # x * scale + shift per channel (last axis): mul, then add; the activation goes on the last
            s, t = ir.params["scale"], ir.params["bias"]
            act_name = ir.attrs["activation"]
            src = use(ir.inputs[0])
            if s is None and t is None:  # a lone Relu6 (or Relu) that had nothing to fuse with
                w.add_node(ir.name, act_name, [src], [act(ir.outputs[0])], OrderedDict())
                return
            if s is not None:
                sn = const(ir.name + "/scale", np.asarray(s).astype(np.float32))
                out = act(ir.outputs[0] if t is None else Value(ir.name + "/scaled", ir.outputs[0].shape))
                w.add_node(ir.name + ("/mul" if t is not None else ""), "mul", [src, sn], [out],
                           OrderedDict([("activation", act_name if t is None else "none")]))
                src = out
            if t is not None:
                tn = const(ir.name + "/shift", np.asarray(t).astype(np.float32))
                w.add_node(ir.name, "add", [src, tn], [act(ir.outputs[0])], OrderedDict([("activation", act_name)]))
            return
        if op == "pad":
            w.add_node(ir.name, "pad", [use(ir.inputs[0])], [act(ir.outputs[0])], ir.attrs)
            return
        ins = [use(v) for v in ir.inputs]
        outs = [act(v) for v in ir.outputs]
        w.add_node(ir.name, op, ins, outs, ir.attrs)


# -- graph loading ---------------------------------------------------------------------------------------
def _nodes_of(graph, what):
    nodes = OrderedDict()
    for i, n in enumerate(graph.get("node", [])):
        name = n.get("name", "")
        if not name:
            raise ConvertError("%s: node %d has no name" % (what, i))
        if name in nodes:
            raise ConvertError("%s: two nodes are named %r" % (what, name))
        if not n.get("op"):
            raise ConvertError("%s: node %r has no op" % (what, name))
        attrs = OrderedDict()
        for e in n.get("attr", []):
            attrs[e.get("key", "")] = e.get("value", {})
        nodes[name] = {"name": name, "op": n["op"], "input": list(n.get("input", [])), "attrs": attrs}
    if not nodes:
        raise ConvertError("%s: the graph has no nodes" % what)
    return nodes


def read_graph(data, path):
    try:
        g = protobuf.decode("GraphDef", data)
    except ProtobufError as e:
        raise ConvertError("%s: not a readable TensorFlow GraphDef: %s" % (path, e))
    return _nodes_of(g, path)


def read_text_graph(text, path):
    try:
        g = protobuf.parse_text("GraphDef", text)
    except ProtobufError as e:
        raise ConvertError("%s: not a readable text GraphDef: %s" % (path, e))
    return _nodes_of(g, path)


def convert(nodes, name, text_nodes=None, input_shapes=None, outputs=None, dequantize_weights=False):
    """Returns (DetcWriter, notes). Raises ConvertError listing every problem found."""
    notes = []
    merged = OrderedDict(nodes)
    if text_nodes:
        # the text graph's outputs the .pb lacks, and whatever they need that the .pb lacks too
        used = {_split_input(i)[0] for n in text_nodes.values() for i in n["input"]}
        stack = [n for n, node in text_nodes.items()
                 if n not in nodes and n not in used and node["op"] not in ("Const", "NoOp")]
        added = []
        while stack:
            n = stack.pop()
            if n in merged:
                continue
            merged[n] = text_nodes[n]
            added.append(n)
            for i in text_nodes[n]["input"]:
                src = _split_input(i)[0]
                if src not in merged and src in text_nodes:
                    stack.append(src)
        ops = Counter(text_nodes[n]["op"] for n in added)
        if added:
            notes.append("from the text graph: %d nodes the .pb lacks (%s)"
                         % (len(added), ", ".join("%s x%d" % kv for kv in sorted(ops.items()))))
    c = _Converter(merged, {"input_shapes": input_shapes or {}, "dequantize_weights": dequantize_weights})
    c.select(outputs)
    c.run()
    w = c.write(name)
    notes.extend(c.notes)
    return w, notes


def ssd_pipeline(writer, color="rgb", mean=None, std=None):
    """The "ssd" pipeline for a graph whose outputs are one ssd_detection_output's four outputs, or
    (None, reason)."""
    node = next((n for n in writer.nodes if n["op"] == "ssd_detection_output"), None)
    if node is None:
        return None, "the graph has no DetectionOutput"
    if list(writer.outputs) != list(node["outputs"]):
        return None, "the graph's outputs are not exactly the DetectionOutput's"
    if len(writer.inputs) != 1:
        return None, "it has %d inputs (expected 1 image)" % len(writer.inputs)
    t = writer.tensor(writer.inputs[0])
    shape = t.get("shape") or []
    if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
        return None, "its input %r has shape %s, expected [1, H, W, 3]" % (t["name"], shape)
    outs = node["outputs"]
    pipeline = OrderedDict([
        ("kind", "ssd"),
        ("input", OrderedDict([("width", shape[2]), ("height", shape[1]), ("color", color), ("resize", "bilinear"),
                               ("mean", list(mean or [0.0, 0.0, 0.0])), ("std", list(std or [1.0, 1.0, 1.0]))])),
        ("outputs", OrderedDict([("boxes", outs[0]), ("classes", outs[1]), ("scores", outs[2]), ("count", outs[3]),
                                 ("box_order", "xyxy"), ("class_offset", 0)])),
    ])
    return pipeline, None


def parse_shape(text):
    """'NAME=1,300,300,3' or '1,300,300,3' -> (name or None, [dims])."""
    name, sep, dims = text.rpartition("=")
    try:
        shape = [int(d) for d in dims.replace("x", ",").split(",") if d.strip()]
    except ValueError:
        raise ConvertError("--input-shape %r: expected [NAME=]D0,D1,..." % text)
    if not shape or any(d < 1 for d in shape):
        raise ConvertError("--input-shape %r: dimensions must be positive integers" % text)
    return (name if sep else None), shape


def parse_floats(text, what, n=3):
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        raise ConvertError("%s %r: expected %d comma-separated numbers" % (what, text, n))
    if len(vals) == 1:
        vals = vals * n
    if len(vals) != n or not all(math.isfinite(v) for v in vals):
        raise ConvertError("%s %r: expected %d finite numbers" % (what, text, n))
    return vals

