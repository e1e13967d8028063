"""Command line of detc-convert: FORMAT SOURCE [options] -o OUT.detc

Exit status: 0 converted; 1 the source cannot be converted (the message says why and where);
2 bad usage or a format that is not implemented; 3 an internal error (a bug in the converter).
"""

import argparse
import json
import os
import sys

from .errors import ConvertError
from .flatbuffers import FlatbufferError
from .flexbuffers import FlexbufferError
from .protobuf import ProtobufError
from .writer import check_output

PROG = "detc-convert"
PRESETS = ("opencv_face_ssd_res10",)  # tools/detc_convert/from_tf.py PRESETS
FORMATS = ("tflite", "tf", "torchvision")

EPILOG = """\
formats:
  tflite        a TensorFlow Lite flatbuffer (.tflite)
  tf            a TensorFlow frozen GraphDef (.pb), optionally with OpenCV's text graph (--config)
  torchvision   a torchvision detection checkpoint (.pth state_dict: Faster/Mask R-CNN, SSD,
                SSDlite) + --config CONFIG.json

tflite details:
  Ops: CONV_2D, DEPTHWISE_CONV_2D, CONCATENATION, RESHAPE, SQUEEZE, LOGISTIC, ADD, SUB, MUL,
  MAX_POOL_2D, AVERAGE_POOL_2D, MEAN, PAD, RELU, RELU6, HARD_SWISH, TANH, SOFTMAX, QUANTIZE,
  DEQUANTIZE, RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR, TRANSPOSE, SPLIT, SPLIT_V, STRIDED_SLICE
  (unit strides), PACK and the
  custom TFLite_Detection_PostProcess (tools/README.md has the dtypes of each). Any other op is
  refused with a list of what is unsupported. Tensor names, shapes, dtypes and quantization
  are kept exactly. A model whose last op is TFLite_Detection_PostProcess gets an "ssd"
  pipeline (see models/README.md) unless --pipeline-json is given. Its preprocessing: a float
  input uses the model's metadata (NormalizationOptions) when present, else mean = std = 127.5;
  a quantized input gets the pixel bytes (u8) or bytes - 128 (i8) as its quantization implies;
  --mean/--std override. Labels: --labels, else the label file embedded in the model (Model
  Maker's metadata zip); a label file that does not fit the model's classes is an error.
  Edge TPU builds (edgetpu-custom-op) are refused: convert the CPU build of the same model.
  --dequantize writes an all-float model: quantized constants are dequantized to f32,
  quantized activations become f32, and where a quantized output range implied a clamp
  (TOCO folds ReLU6 into a [0, 6] range) the op gets an explicit relu/relu6 activation.

torchvision details:
  The checkpoint is read without torch (zip or legacy torch.save format; only the pickle globals a
  state_dict needs are accepted). Architecture, recognised from the tensors (config `arch`, if
  given, is checked against it): torchvision's Mask R-CNN / Faster R-CNN v1 and v2 over
  ResNet-18/34/50/101/152, ResNeXt or MobileNetV3-Large (fasterrcnn_mobilenet_v3_large(_320)_fpn)
  + FPN, ssd300_vgg16 and ssdlite320_mobilenet_v3_large, as models/maskrcnn.md describes; anything
  else is refused naming the module that cannot be placed. Sizes come from the weights and are
  checked against the config. SSD configs: `classes`, optional `size`, score_thresh, nms_thresh,
  detections_per_img, topk_candidates, image_mean, image_std (tools/detc_convert/from_torchvision_ssd.py). CONFIG.json: `classes` (background first), `min_size`, `max_size`, and
  optionally image_mean, image_std, rpn_pre_nms_top_n_test, rpn_post_nms_top_n_test,
  rpn_nms_thresh, box_score_thresh, box_nms_thresh, box_detections_per_img, backbone,
  fpn_channels, box_head, mask_head, bn_eps (see tools/detc_convert/from_torchvision.py).
  BatchNorm is folded into the convolutions. Writes a "maskrcnn" pipeline.
  --input-size HxW declares the image input as [1, H, W, 3] instead of the padded max_size square.

tf details (code and the exact semantics: tools/detc_convert/from_tf.py):
  Ops: Conv2D, DepthwiseConv2dNative, BiasAdd, FusedBatchNorm(V2/V3), Add/AddV2/Sub/Mul by a
  per-channel constant (folded into the preceding convolution, else a 1x1 depthwise_conv2d),
  Add of two tensors, Relu, Relu6, MaxPool, Pad, Reshape, Squeeze, ExpandDims, ConcatV2, Softmax,
  Sigmoid, SpaceToBatchND/Conv2D/BatchToSpaceND (dilated convolution), the tf.nn.l2_normalize
  pattern, Identity, and constant subgraphs (folded with numpy). Weights that are a Dequantize
  (MIN_FIRST) of uint8 constants stay u8 with scale/zero point and a `cast` node to f32 unless
  --dequantize-weights. Any other op is refused with a list of what is unsupported.
  --config TEXT.pbtxt adds the nodes of OpenCV's text graph that the .pb lacks: PriorBox becomes a
  constant, DetectionOutput the op ssd_detection_output, and the model gets an "ssd" pipeline.
  The input shape comes from the Placeholder, --input-shape or --preset; the pipeline's color,
  mean and std from --color/--mean/--std or --preset (opencv_face_ssd_res10: 1x300x300x3, BGR,
  mean 104,177,123, std 1, labels background, face).

examples:
  detc-convert tflite detect.tflite --labels labelmap.txt -o ssd.detc
  detc-convert tflite detect.tflite --dequantize -o ssd_f32.detc
  detc-convert tf opencv_face_detector_uint8.pb --config opencv_face_detector.pbtxt \\
      --preset opencv_face_ssd_res10 -o res10.detc
  detc-convert torchvision maskrcnn.pth --config config.json -o maskrcnn.detc
"""


def _parser():
    p = argparse.ArgumentParser(
        prog=PROG, description="Convert a detection model to detc's .detc format (weights/FORMAT.md).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("format", metavar="FORMAT", choices=FORMATS, help="one of: %s" % ", ".join(FORMATS))
    p.add_argument("source", metavar="SOURCE", help="the model file to convert")
    p.add_argument("-o", "--output", metavar="OUT.detc", required=True, help="the .detc file to write")
    p.add_argument("--labels", metavar="FILE",
                   help="class labels, format detected: one name per line (optionally a '???' background line "
                        "first), 'ID NAME' / 'ID: NAME' pairs (Coral), or a TF OD API label_map.pbtxt; checked "
                        "against the model's classes (tflite: default, the label file embedded in the model)")
    p.add_argument("--name", help="model name stored in the file (default: SOURCE's file name stem)")
    p.add_argument("--pipeline-json", metavar="FILE",
                   help="a JSON object to store as `pipeline`, replacing the derived one")
    p.add_argument("--dequantize", action="store_true",
                   help="write an all-f32 model (compare the float and integer paths of one network)")
    p.add_argument("--config", metavar="CONFIG",
                   help="torchvision: the model's configuration CONFIG.json (classes, sizes, thresholds); "
                        "tf: OpenCV's text graph TEXT.pbtxt (PriorBox, DetectionOutput)")
    p.add_argument("--input-size", metavar="HxW",
                   help="torchvision: declared size of the image input (multiples of 32)")
    q = p.add_argument_group("quantization (tools/detc_convert/quantize.py)")
    q.add_argument("--quantize", choices=("int8",),
                   help="post-training static quantization of a float model: int8 convolutions (per-channel "
                        "weights, per-tensor activations), float where precision or the op needs it")
    q.add_argument("--calibrate", metavar="DIR", help="images (.jpg/.png) to calibrate activation ranges on; "
                   "use images that are not your validation set")
    q.add_argument("--calibrate-count", metavar="N", type=int, default=0, help="use the first N images (default all)")
    q.add_argument("--calibration", choices=("percentile", "minmax"), default="percentile",
                   help="activation range per tensor (default percentile: 0.001..99.999)")
    q.add_argument("--keep-float", metavar="NODE,...", default="", help="nodes to keep in float")
    q.add_argument("--no-winograd", action="store_true",
                   help="no int16 Winograd on the int8 3x3 convs (attribute winograd): every conv an exact direct "
                        "int8 sum")
    q.add_argument("--quant-report", action="store_true",
                   help="after writing, run the float and int8 models on the calibration images and print each "
                        "int8 tensor's signal-to-quantization-noise ratio, worst first")
    tf = p.add_argument_group("tf options")
    tf.add_argument("--input-shape", metavar="[NAME=]1,H,W,C", action="append", default=[],
                    help="shape of a graph input whose shape the graph does not give (repeatable)")
    tf.add_argument("--outputs", metavar="NAME,...", help="graph outputs (default: the nodes nobody consumes)")
    tf.add_argument("--dequantize-weights", action="store_true",
                    help="write dequantized weights as f32 constants instead of u8 + cast")
    tf.add_argument("--preset", choices=PRESETS, help="input shape, color, mean, std and labels of a known model")
    tf.add_argument("--color", choices=("rgb", "bgr"), help="channel order of the pipeline input")
    tf.add_argument("--mean", metavar="M[,M,M]",
                    help="pipeline mean per channel (model channel order; tflite too: overrides the metadata)")
    tf.add_argument("--std", metavar="S[,S,S]", help="pipeline std per channel (tflite too)")
    return p


def _read_labels(path):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConvertError("%s: not UTF-8 text (byte %d)" % (path, e.start))
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    labels = [ln.strip() for ln in lines]
    if not labels:
        raise ConvertError("%s: no labels in the file" % path)
    return labels


def _read_pipeline(path):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConvertError("%s: not UTF-8 text (byte %d)" % (path, e.start))
    except ValueError as e:
        raise ConvertError("%s: invalid JSON: %s" % (path, e))
    if not isinstance(obj, dict):
        raise ConvertError("%s: the pipeline must be a JSON object, not %s" % (path, type(obj).__name__))
    return obj


def _take_pipeline_labels(writer, args):
    """A pipeline file may name the classes ("labels": ["face"]), so that one file describes a model family;
    --labels, when given, wins."""
    labels = writer.pipeline.pop("labels", None)
    if labels is None or args.labels:
        return
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ConvertError("%s: \"labels\" must be a list of strings" % args.pipeline_json)
    writer.labels = labels


def _convert_tflite(args, notes):
    from . import from_tf, from_tflite, labels, tflite, tflite_metadata
    with open(args.source, "rb") as f:
        data = f.read()
    try:
        model = tflite.parse(data)
    except FlatbufferError as e:
        raise ConvertError("%s: not a readable TFLite model: %s" % (args.source, e))
    name = args.name or os.path.splitext(os.path.basename(args.source))[0]
    writer, more = from_tflite.convert(model, name, dequantize=args.dequantize)
    notes.extend(more)
    md = tflite_metadata.read(model, data, args.source)
    if md is not None:
        notes.extend(md.notes)
    found = None
    if args.labels:
        found = labels.read(args.labels)
    elif md is not None:
        lf = tflite_metadata.label_file(md, args.source)
        if lf is not None:
            found = labels.from_bytes(lf[1], "%s (the label file inside %s)" % (lf[0], args.source))
            notes.append("labels: %s, embedded in the model (%s)" % (lf[0], found.describe()))
    class_offset = 0
    if found is not None:
        writer.labels, class_offset = labels.fit(found, from_tflite.num_classes(writer))
    if args.pipeline_json:
        writer.pipeline = _read_pipeline(args.pipeline_json)
        _take_pipeline_labels(writer, args)
    else:
        mean = from_tf.parse_floats(args.mean, "--mean") if args.mean else None
        std = from_tf.parse_floats(args.std, "--std") if args.std else None
        pipeline, why = from_tflite.ssd_pipeline(model, writer, class_offset, md, mean, std)
        if pipeline is not None:
            writer.pipeline = pipeline
            notes.append("preprocessing: mean %s, std %s, from %s"
                         % (pipeline["input"]["mean"], pipeline["input"]["std"], why))
        else:
            notes.append("no pipeline written (%s); `detc run` works, `detc detect` needs "
                         "--pipeline-json" % why)
    return writer


def _convert_torchvision(args, notes):
    from . import from_torchvision, torch_pickle
    if not args.config:
        raise ConvertError("torchvision checkpoints need --config CONFIG.json (classes, min_size, max_size, "
                           "thresholds; see detc-convert --help)")
    with open(args.config, "rb") as f:
        raw = f.read()
    try:
        cfg = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConvertError("%s: not UTF-8 text (byte %d)" % (args.config, e.start))
    except ValueError as e:
        raise ConvertError("%s: invalid JSON: %s" % (args.config, e))
    input_size = None
    if args.input_size:
        parts = args.input_size.lower().replace(",", "x").split("x")
        try:
            input_size = tuple(int(v) for v in parts)
        except ValueError:
            input_size = None
        if input_size is None or len(input_size) != 2:
            raise ConvertError("--input-size %r: expected HxW, e.g. 800x1088" % args.input_size)
    try:
        state = torch_pickle.state_dict(torch_pickle.load(args.source), args.source)
    except torch_pickle.TorchPickleError as e:
        raise ConvertError(str(e))
    try:
        ssd = from_torchvision.recognise(state)["family"] == "ssd"
    except ConvertError:
        ssd = False   # reported by convert() below, after the config's own problems
    config = cfg if ssd else from_torchvision.Config(cfg, where=args.config)
    name = args.name or os.path.splitext(os.path.basename(args.source))[0]
    if name.startswith(("maskrcnn_resnet50_fpn_coco", "fasterrcnn_resnet50_fpn_coco")) and "bn_eps" not in cfg:
        notes.append("torchvision runs its COCO_V1 Mask/Faster R-CNN weights with FrozenBatchNorm eps 0.0 "
                     "(overwrite_eps); add \"bn_eps\": 0.0 to the config to match it (converted with 1e-5)")
    writer, more = from_torchvision.convert(state, config, name, input_size)
    notes.extend(more)
    if args.labels:
        labels = _read_labels(args.labels)
        if len(labels) != len(writer.labels):
            raise ConvertError("%s: %d labels, but the model has %d classes (background included)"
                               % (args.labels, len(labels), len(writer.labels)))
        writer.labels = labels
    if args.pipeline_json:
        writer.pipeline = _read_pipeline(args.pipeline_json)
        _take_pipeline_labels(writer, args)
    return writer


def _convert_tf(args, notes):
    from . import from_tf
    preset = from_tf.PRESETS.get(args.preset, {}) if args.preset else {}
    with open(args.source, "rb") as f:
        data = f.read()
    nodes = from_tf.read_graph(data, args.source)
    text_nodes = None
    if args.config:
        with open(args.config, "rb") as f:
            text_nodes = from_tf.read_text_graph(f.read(), args.config)
    shapes = {}
    if "input_shape" in preset:
        shapes[None] = preset["input_shape"]
    for s in args.input_shape:
        name, shape = from_tf.parse_shape(s)
        shapes[name] = shape
    outputs = [o.strip() for o in args.outputs.split(",") if o.strip()] if args.outputs else None
    name = args.name or os.path.splitext(os.path.basename(args.source))[0]
    writer, more = from_tf.convert(nodes, name, text_nodes, shapes, outputs, args.dequantize_weights)
    notes.extend(more)
    if args.labels:
        writer.labels = _read_labels(args.labels)
    elif "labels" in preset:
        writer.labels = list(preset["labels"])
    if args.pipeline_json:
        writer.pipeline = _read_pipeline(args.pipeline_json)
        _take_pipeline_labels(writer, args)
    else:
        mean = from_tf.parse_floats(args.mean, "--mean") if args.mean else preset.get("mean")
        std = from_tf.parse_floats(args.std, "--std") if args.std else preset.get("std")
        color = args.color or preset.get("color", "rgb")
        pipeline, why_not = from_tf.ssd_pipeline(writer, color, mean, std)
        if pipeline is not None:
            writer.pipeline = pipeline
            if mean is None and std is None:
                notes.append("the pipeline feeds raw pixel values (mean 0, std 1); give --mean/--std if the model "
                             "expects normalized input")
        else:
            notes.append("no pipeline written (%s); `detc run` works, `detc detect` needs --pipeline-json" % why_not)
    return writer


FRONTENDS = {"tflite": _convert_tflite, "tf": _convert_tf, "torchvision": _convert_torchvision}


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.format not in FRONTENDS:
        print("%s: format '%s' is not implemented yet" % (PROG, args.format), file=sys.stderr)
        return 2
    notes = []
    try:
        try:  # before the conversion: a bad output path is reported at once
            check_output(args.output)
        except OSError as e:
            raise ConvertError("cannot write %s: %s" % (args.output, e.strerror or e))
        if args.quantize and args.format == "tf":
            args.dequantize_weights = True  # the quantizer reads float filters (it requantizes them per channel)
        writer = FRONTENDS[args.format](args, notes)
        if args.quantize:
            if not args.calibrate:
                raise ConvertError("--quantize int8 needs --calibrate DIR (images to measure activation ranges on)")
            from .quantize import quantize_int8
            keep = [k for k in args.keep_float.split(",") if k]
            float_blob = writer.build() if args.quant_report else None
            notes += quantize_int8(writer, args.calibrate, args.calibrate_count, args.calibration, keep,
                                   winograd=not args.no_winograd)
        elif args.calibrate or args.keep_float or args.no_winograd:
            raise ConvertError("--calibrate, --keep-float and --no-winograd apply with --quantize int8")
        try:
            size = writer.write(args.output)
        except OSError as e:
            raise ConvertError("cannot write %s: %s" % (args.output, e.strerror or e))
    except ConvertError as e:
        lines = str(e).splitlines() or ["conversion failed"]
        print("%s: error: %s" % (PROG, lines[0]), file=sys.stderr)
        for ln in lines[1:]:
            print("  %s" % ln, file=sys.stderr)
        return 1
    except (FlatbufferError, FlexbufferError, ProtobufError) as e:
        print("%s: error: %s: %s" % (PROG, args.source, e), file=sys.stderr)
        return 1
    except OSError as e:
        print("%s: error: %s: %s" % (PROG, e.filename or args.source, e.strerror or e), file=sys.stderr)
        return 1
    except Exception as e:  # a converter bug: say so, without a traceback unless asked
        if os.environ.get("DETC_CONVERT_DEBUG"):
            raise
        print("%s: internal error while converting %s: %s: %s (set DETC_CONVERT_DEBUG=1 for a traceback)"
              % (PROG, args.source, type(e).__name__, e), file=sys.stderr)
        return 3
    if args.quantize and args.quant_report:
        import tempfile
        from .quantize import calibration_images, report
        with tempfile.NamedTemporaryFile(suffix=".detc") as f:
            f.write(float_blob)
            f.flush()
            try:
                images = calibration_images(args.calibrate, args.calibrate_count)[:4]
                notes += report(f.name, args.output, images)
            except ConvertError as e:
                notes.append(str(e))
    for n in notes:
        print("%s: note: %s" % (PROG, n), file=sys.stderr)
    t = writer.json_object()
    print("%s: wrote %s (%d bytes): %d tensors, %d nodes%s%s"
          % (PROG, args.output, size, len(t["tensors"]), len(t["nodes"]),
             ", %d labels" % len(t["labels"]) if "labels" in t else "",
             ", pipeline %r" % t["pipeline"].get("kind") if "pipeline" in t else ""), file=sys.stderr)
    return 0
