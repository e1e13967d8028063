"""The subset of the TensorFlow Lite schema (tensorflow/lite/schema/schema.fbs, file identifier
"TFL3") that detc's converter reads: Model, OperatorCode, SubGraph, Tensor, Buffer,
QuantizationParameters, Operator and the builtin options of the ops the converter maps.

Field ids below are the schema's declaration order (a union takes two ids: `<name>_type`, then
the value). Everything is read through the bounds-checked reader in flatbuffers.py.
"""

from .flatbuffers import FlatbufferError, root_table

# enum TensorType : byte
TENSOR_TYPES = {
    0: "FLOAT32", 1: "FLOAT16", 2: "INT32", 3: "UINT8", 4: "INT64", 5: "STRING", 6: "BOOL",
    7: "INT16", 8: "COMPLEX64", 9: "INT8", 10: "FLOAT64", 11: "COMPLEX128", 12: "UINT64",
    13: "RESOURCE", 14: "VARIANT", 15: "UINT32", 16: "UINT16", 17: "INT4",
}

# enum BuiltinOperator : int32 (the ones with a name here; others are reported by number)
BUILTIN_OPS = {
    0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D",
    5: "DEPTH_TO_SPACE", 6: "DEQUANTIZE", 7: "EMBEDDING_LOOKUP", 8: "FLOOR", 9: "FULLY_CONNECTED",
    10: "HASHTABLE_LOOKUP", 11: "L2_NORMALIZATION", 12: "L2_POOL_2D",
    13: "LOCAL_RESPONSE_NORMALIZATION", 14: "LOGISTIC", 15: "LSH_PROJECTION", 16: "LSTM",
    17: "MAX_POOL_2D", 18: "MUL", 19: "RELU", 20: "RELU_N1_TO_1", 21: "RELU6", 22: "RESHAPE",
    23: "RESIZE_BILINEAR", 24: "RNN", 25: "SOFTMAX", 26: "SPACE_TO_DEPTH", 27: "SVDF", 28: "TANH",
    29: "CONCAT_EMBEDDINGS", 30: "SKIP_GRAM", 31: "CALL", 32: "CUSTOM", 33: "EMBEDDING_LOOKUP_SPARSE",
    34: "PAD", 35: "UNIDIRECTIONAL_SEQUENCE_RNN", 36: "GATHER", 37: "BATCH_TO_SPACE_ND",
    38: "SPACE_TO_BATCH_ND", 39: "TRANSPOSE", 40: "MEAN", 41: "SUB", 42: "DIV", 43: "SQUEEZE",
    44: "UNIDIRECTIONAL_SEQUENCE_LSTM", 45: "STRIDED_SLICE", 46: "BIDIRECTIONAL_SEQUENCE_RNN",
    47: "EXP", 48: "TOPK_V2", 49: "SPLIT", 50: "LOG_SOFTMAX", 51: "DELEGATE",
    52: "BIDIRECTIONAL_SEQUENCE_LSTM", 53: "CAST", 54: "PRELU", 55: "MAXIMUM", 56: "ARG_MAX",
    57: "MINIMUM", 58: "LESS", 59: "NEG", 60: "PADV2", 61: "GREATER", 62: "GREATER_EQUAL",
    63: "LESS_EQUAL", 64: "SELECT", 65: "SLICE", 66: "SIN", 67: "TRANSPOSE_CONV",
    68: "SPARSE_TO_DENSE", 69: "TILE", 70: "EXPAND_DIMS", 71: "EQUAL", 72: "NOT_EQUAL", 73: "LOG",
    74: "SUM", 75: "SQRT", 76: "RSQRT", 77: "SHAPE", 78: "POW", 79: "ARG_MIN", 80: "FAKE_QUANT",
    81: "REDUCE_PROD", 82: "REDUCE_MAX", 83: "PACK", 84: "LOGICAL_OR", 85: "ONE_HOT",
    86: "LOGICAL_AND", 87: "LOGICAL_NOT", 88: "UNPACK", 89: "REDUCE_MIN", 90: "FLOOR_DIV",
    91: "REDUCE_ANY", 92: "SQUARE", 93: "ZEROS_LIKE", 94: "FILL", 95: "FLOOR_MOD", 96: "RANGE",
    97: "RESIZE_NEAREST_NEIGHBOR", 98: "LEAKY_RELU", 99: "SQUARED_DIFFERENCE", 100: "MIRROR_PAD",
    101: "ABS", 102: "SPLIT_V", 103: "UNIQUE", 104: "CEIL", 105: "REVERSE_V2", 106: "ADD_N",
    107: "GATHER_ND", 108: "COS", 109: "WHERE", 110: "RANK", 111: "ELU", 112: "REVERSE_SEQUENCE",
    113: "MATRIX_DIAG", 114: "QUANTIZE", 115: "MATRIX_SET_DIAG", 116: "ROUND", 117: "HARD_SWISH",
    118: "IF", 119: "WHILE", 120: "NON_MAX_SUPPRESSION_V4", 121: "NON_MAX_SUPPRESSION_V5",
    122: "SCATTER_ND", 123: "SELECT_V2", 124: "DENSIFY", 125: "SEGMENT_SUM", 126: "BATCH_MATMUL",
    127: "PLACEHOLDER_FOR_GREATER_OP_CODES", 128: "CUMSUM", 129: "CALL_ONCE", 130: "BROADCAST_TO",
    131: "RFFT2D", 132: "CONV_3D", 150: "GELU",
}
PLACEHOLDER_FOR_GREATER_OP_CODES = 127

# union BuiltinOptions: 1-based position of the option tables the converter reads
OPT_CONV2D = 1
OPT_DEPTHWISE_CONV2D = 2
OPT_POOL2D = 5
OPT_SOFTMAX = 9
OPT_CONCATENATION = 10
OPT_ADD = 11
OPT_RESIZE_BILINEAR = 15
OPT_RESHAPE = 17
OPT_MUL = 21
OPT_PAD = 22
OPT_TRANSPOSE = 26
OPT_REDUCER = 27
OPT_SUB = 28
OPT_SQUEEZE = 30
OPT_STRIDED_SLICE = 32
OPT_SPLIT = 35
OPT_DEQUANTIZE = 38
OPT_PACK = 59
OPT_RESIZE_NEAREST = 74
OPT_SPLIT_V = 79
OPT_QUANTIZE = 89
OPT_HARD_SWISH = 91

PADDING = {0: "SAME", 1: "VALID"}
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


class Quant:
    __slots__ = ("scale", "zero_point", "quantized_dimension", "min", "max", "has_details")

    def __init__(self, scale, zero_point, quantized_dimension, mn, mx, has_details):
        self.scale = scale
        self.zero_point = zero_point
        self.quantized_dimension = quantized_dimension
        self.min = mn
        self.max = mx
        self.has_details = has_details


class Tensor:
    __slots__ = ("index", "name", "type", "type_name", "shape", "buffer", "quant", "is_variable",
                 "has_sparsity", "has_rank", "path")


class Operator:
    __slots__ = ("index", "opcode_index", "op_name", "inputs", "outputs", "options_type", "options",
                 "custom_options", "custom_options_offset", "custom_options_format", "path")


class OperatorCode:
    __slots__ = ("code", "name", "custom_code", "version")


class Model:
    __slots__ = ("version", "description", "operator_codes", "tensors", "inputs", "outputs",
                 "operators", "buffers", "subgraph_count", "subgraph_name", "file_size", "metadata")


def _tensor_type_name(code):
    return TENSOR_TYPES.get(code, "TensorType %d" % code)


def _read_quant(q):
    # QuantizationParameters: min 0, max 1, scale 2, zero_point 3, details_type 4, details 5,
    # quantized_dimension 6
    if q is None:
        return None
    scale = q.vector(2, "f32", "scale") or []
    zp = q.vector(3, "i64", "zero_point") or []
    qd = q.scalar(6, "i32", 0, "quantized_dimension")
    details_type = q.scalar(4, "u8", 0, "details_type")
    return Quant(scale, zp, qd, q.vector(0, "f32", "min"), q.vector(1, "f32", "max"), details_type != 0)


def parse(data):
    """Parse a .tflite file (bytes) into a Model. Raises FlatbufferError on structural problems."""
    root = root_table(data, identifier=b"TFL3", root_name="Model")
    m = Model()
    m.file_size = len(data)
    # Model: version 0, operator_codes 1, subgraphs 2, description 3, buffers 4
    m.version = root.scalar(0, "u32", 0, "version")
    if m.version != 3:
        raise FlatbufferError("schema version is %d; this reader knows version 3" % m.version,
                              None, "Model.version")
    m.description = root.string(3, "description", "")

    m.operator_codes = []
    for oc in root.tables(1, "operator_codes") or []:
        # OperatorCode: deprecated_builtin_code 0 (byte), custom_code 1, version 2, builtin_code 3 (int32)
        c = OperatorCode()
        dep = oc.scalar(0, "i8", 0, "deprecated_builtin_code")
        new = oc.scalar(3, "i32", 0, "builtin_code")
        # Schema 3a rule: the larger of the two is the real code (old files only have the byte,
        # new files write both; codes >= 127 only fit builtin_code).
        c.code = max(dep, new)
        c.name = BUILTIN_OPS.get(c.code, "BUILTIN_%d" % c.code)
        c.custom_code = oc.string(1, "custom_code")
        c.version = oc.scalar(2, "i32", 1, "version")
        m.operator_codes.append(c)

    # Metadata: name 0, buffer 1 (Model field 6): e.g. "TFLITE_METADATA", "min_runtime_version"
    m.metadata = []
    for md in root.tables(6, "metadata") or []:
        m.metadata.append((md.string(0, "name", ""), md.scalar(1, "u32", 0, "buffer")))

    subgraphs = root.tables(2, "subgraphs") or []
    if not subgraphs:
        raise FlatbufferError("the model has no subgraph", None, "Model.subgraphs")
    m.subgraph_count = len(subgraphs)
    sg = subgraphs[0]

    # Buffer: data 0, offset 1, size 2
    m.buffers = []
    for b in root.tables(4, "buffers") or []:
        data_bytes, _ = b.vector_bytes(0, "data")
        off = b.scalar(1, "u64", 0, "offset")
        size = b.scalar(2, "u64", 0, "size")
        if off > 1:  # large-model layout: data stored after the flatbuffer
            if off + size > len(data):
                raise FlatbufferError("external buffer data [%d, %d) runs past the end of the file (%d bytes)"
                                      % (off, off + size, len(data)), None, b.path)
            data_bytes = bytes(data[off:off + size])
        m.buffers.append(data_bytes)

    # SubGraph: tensors 0, inputs 1, outputs 2, operators 3, name 4
    m.subgraph_name = sg.string(4, "name", "")
    m.tensors = []
    for i, t in enumerate(sg.tables(0, "tensors") or []):
        # Tensor: shape 0, type 1, buffer 2, name 3, quantization 4, is_variable 5, sparsity 6,
        # shape_signature 7, has_rank 8
        x = Tensor()
        x.index = i
        x.path = t.path
        x.shape = t.vector(0, "i32", "shape")
        x.type = t.scalar(1, "i8", 0, "type")
        x.type_name = _tensor_type_name(x.type)
        x.buffer = t.scalar(2, "u32", 0, "buffer")
        if x.buffer >= max(len(m.buffers), 1) and x.buffer != 0:
            raise FlatbufferError("buffer index %d, but the model has %d buffers" % (x.buffer, len(m.buffers)),
                                  None, t.path + ".buffer")
        x.name = t.string(3, "name", "")
        x.quant = _read_quant(t.table(4, "quantization"))
        x.is_variable = bool(t.scalar(5, "u8", 0, "is_variable"))
        x.has_sparsity = t.has(6)
        x.has_rank = bool(t.scalar(8, "u8", 0, "has_rank"))
        m.tensors.append(x)

    nt = len(m.tensors)

    def check_indices(lst, path, allow_optional):
        for k, v in enumerate(lst):
            if v == -1 and allow_optional:
                continue
            if not 0 <= v < nt:
                raise FlatbufferError("tensor index %d out of range (the subgraph has %d tensors)" % (v, nt),
                                      None, "%s[%d]" % (path, k))
        return lst

    m.inputs = check_indices(sg.vector(1, "i32", "inputs") or [], sg.path + ".inputs", False)
    m.outputs = check_indices(sg.vector(2, "i32", "outputs") or [], sg.path + ".outputs", False)

    m.operators = []
    for i, o in enumerate(sg.tables(3, "operators") or []):
        # Operator: opcode_index 0, inputs 1, outputs 2, builtin_options_type 3, builtin_options 4,
        # custom_options 5, custom_options_format 6, ..., large_custom_options_offset 9, _size 10
        op = Operator()
        op.index = i
        op.path = o.path
        op.opcode_index = o.scalar(0, "u32", 0, "opcode_index")
        if op.opcode_index >= len(m.operator_codes):
            raise FlatbufferError("opcode_index %d, but the model has %d operator codes"
                                  % (op.opcode_index, len(m.operator_codes)), None, o.path + ".opcode_index")
        oc = m.operator_codes[op.opcode_index]
        op.op_name = oc.name if oc.name != "CUSTOM" else "CUSTOM(%s)" % (oc.custom_code or "")
        op.inputs = check_indices(o.vector(1, "i32", "inputs") or [], o.path + ".inputs", True)
        op.outputs = check_indices(o.vector(2, "i32", "outputs") or [], o.path + ".outputs", False)
        op.options_type, op.options = o.union(3, "builtin_options")
        op.custom_options, op.custom_options_offset = o.vector_bytes(5, "custom_options")
        op.custom_options_format = o.scalar(6, "i8", 0, "custom_options_format")
        large_off = o.scalar(9, "u64", 0, "large_custom_options_offset")
        large_size = o.scalar(10, "u64", 0, "large_custom_options_size")
        if large_off > 1:
            if large_off + large_size > len(data):
                raise FlatbufferError("external custom options run past the end of the file", None, o.path)
            op.custom_options = bytes(data[large_off:large_off + large_size])
            op.custom_options_offset = large_off
        m.operators.append(op)
    return m


# -- builtin option tables -----------------------------------------------------------------
# Each returns a dict of every field (defaults filled in), so callers can refuse non-defaults.

def conv2d_options(t):
    return {
        "padding": t.scalar(0, "i8", 0, "padding"),
        "stride_w": t.scalar(1, "i32", 0, "stride_w"),
        "stride_h": t.scalar(2, "i32", 0, "stride_h"),
        "fused_activation_function": t.scalar(3, "i8", 0, "fused_activation_function"),
        "dilation_w_factor": t.scalar(4, "i32", 1, "dilation_w_factor"),
        "dilation_h_factor": t.scalar(5, "i32", 1, "dilation_h_factor"),
        "quantized_bias_type": t.scalar(6, "i8", 0, "quantized_bias_type"),
    }


def depthwise_conv2d_options(t):
    return {
        "padding": t.scalar(0, "i8", 0, "padding"),
        "stride_w": t.scalar(1, "i32", 0, "stride_w"),
        "stride_h": t.scalar(2, "i32", 0, "stride_h"),
        "depth_multiplier": t.scalar(3, "i32", 0, "depth_multiplier"),
        "fused_activation_function": t.scalar(4, "i8", 0, "fused_activation_function"),
        "dilation_w_factor": t.scalar(5, "i32", 1, "dilation_w_factor"),
        "dilation_h_factor": t.scalar(6, "i32", 1, "dilation_h_factor"),
    }


def pool2d_options(t):
    return {
        "padding": t.scalar(0, "i8", 0, "padding"),
        "stride_w": t.scalar(1, "i32", 0, "stride_w"),
        "stride_h": t.scalar(2, "i32", 0, "stride_h"),
        "filter_width": t.scalar(3, "i32", 0, "filter_width"),
        "filter_height": t.scalar(4, "i32", 0, "filter_height"),
        "fused_activation_function": t.scalar(5, "i8", 0, "fused_activation_function"),
    }


def concatenation_options(t):
    return {
        "axis": t.scalar(0, "i32", 0, "axis"),
        "fused_activation_function": t.scalar(1, "i8", 0, "fused_activation_function"),
    }


def add_options(t):
    return {
        "fused_activation_function": t.scalar(0, "i8", 0, "fused_activation_function"),
        "pot_scale_int16": bool(t.scalar(1, "u8", 1, "pot_scale_int16")),
    }


def reshape_options(t):
    return {"new_shape": t.vector(0, "i32", "new_shape")}


def squeeze_options(t):
    return {"squeeze_dims": t.vector(0, "i32", "squeeze_dims")}


def softmax_options(t):
    return {"beta": t.scalar(0, "f32", 0.0, "beta")}


def resize_bilinear_options(t):
    # new_height 0, new_width 1 (deprecated), align_corners 2, half_pixel_centers 3
    return {"align_corners": bool(t.scalar(2, "u8", 0, "align_corners")),
            "half_pixel_centers": bool(t.scalar(3, "u8", 0, "half_pixel_centers"))}


def resize_nearest_options(t):
    return {"align_corners": bool(t.scalar(0, "u8", 0, "align_corners")),
            "half_pixel_centers": bool(t.scalar(1, "u8", 0, "half_pixel_centers"))}


def activation_options(t):
    return {"fused_activation_function": t.scalar(0, "i8", 0, "fused_activation_function")}


def sub_options(t):
    return {"fused_activation_function": t.scalar(0, "i8", 0, "fused_activation_function"),
            "pot_scale_int16": bool(t.scalar(1, "u8", 1, "pot_scale_int16"))}


def reducer_options(t):
    return {"keep_dims": bool(t.scalar(0, "u8", 0, "keep_dims"))}


def split_options(t):
    return {"num_splits": t.scalar(0, "i32", 0, "num_splits")}


def pack_options(t):
    return {"values_count": t.scalar(0, "i32", 0, "values_count"), "axis": t.scalar(1, "i32", 0, "axis")}


def strided_slice_options(t):
    return {"begin_mask": t.scalar(0, "i32", 0, "begin_mask"), "end_mask": t.scalar(1, "i32", 0, "end_mask"),
            "ellipsis_mask": t.scalar(2, "i32", 0, "ellipsis_mask"),
            "new_axis_mask": t.scalar(3, "i32", 0, "new_axis_mask"),
            "shrink_axis_mask": t.scalar(4, "i32", 0, "shrink_axis_mask"), "offset": bool(t.scalar(5, "u8", 0, "offset"))}


OPTION_READERS = {
    OPT_CONV2D: ("Conv2DOptions", conv2d_options),
    OPT_DEPTHWISE_CONV2D: ("DepthwiseConv2DOptions", depthwise_conv2d_options),
    OPT_POOL2D: ("Pool2DOptions", pool2d_options),
    OPT_CONCATENATION: ("ConcatenationOptions", concatenation_options),
    OPT_ADD: ("AddOptions", add_options),
    OPT_RESHAPE: ("ReshapeOptions", reshape_options),
    OPT_PAD: ("PadOptions", lambda t: {}),
    OPT_SQUEEZE: ("SqueezeOptions", squeeze_options),
    OPT_DEQUANTIZE: ("DequantizeOptions", lambda t: {}),
    OPT_SOFTMAX: ("SoftmaxOptions", softmax_options),
    OPT_RESIZE_BILINEAR: ("ResizeBilinearOptions", resize_bilinear_options),
    OPT_MUL: ("MulOptions", activation_options),
    OPT_TRANSPOSE: ("TransposeOptions", lambda t: {}),
    OPT_REDUCER: ("ReducerOptions", reducer_options),
    OPT_SUB: ("SubOptions", sub_options),
    OPT_STRIDED_SLICE: ("StridedSliceOptions", strided_slice_options),
    OPT_SPLIT: ("SplitOptions", split_options),
    OPT_PACK: ("PackOptions", pack_options),
    OPT_RESIZE_NEAREST: ("ResizeNearestNeighborOptions", resize_nearest_options),
    OPT_SPLIT_V: ("SplitVOptions", split_options),
    OPT_QUANTIZE: ("QuantizeOptions", lambda t: {}),
    OPT_HARD_SWISH: ("HardSwishOptions", lambda t: {}),
}


def read_options(op, expected):
    """The builtin options of `op` as a dict, checking the union type is `expected` (or absent)."""
    if op.options_type == 0 or op.options is None:
        return None
    if op.options_type != expected:
        raise FlatbufferError("builtin_options has union type %d, expected %d (%s) for %s"
                              % (op.options_type, expected, OPTION_READERS[expected][0], op.op_name),
                              None, op.path + ".builtin_options_type")
    return OPTION_READERS[expected][1](op.options)
