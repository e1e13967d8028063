"""TFLite Model Metadata (tensorflow/lite/experimental/support/metadata/metadata_schema.fbs, file
identifier "M001"), as TFLite Model Maker and the TF Hub detectors write it: a ModelMetadata flatbuffer
in the model buffer that Model.metadata names "TFLITE_METADATA", and the associated files (label maps)
in a zip archive appended to the .tflite file.

Read here: per input tensor the NormalizationOptions (mean, std), per output tensor the names of its
associated label files (TENSOR_AXIS_LABELS, TENSOR_VALUE_LABELS), and the files themselves.

Field ids (declaration order; a union takes two: type, then value):
  ModelMetadata: name 0, description 1, version 2, subgraph_metadata 3, author 4, license 5,
                 associated_files 6, min_parser_version 7
  SubGraphMetadata: name 0, description 1, input_tensor_metadata 2, output_tensor_metadata 3,
                 associated_files 4, input_process_units 5, output_process_units 6, ...
  TensorMetadata: name 0, description 1, dimension_names 2, content 3, process_units 4, stats 5,
                 associated_files 6
  ProcessUnit: options_type 0, options 1 (NormalizationOptions = 1)
  NormalizationOptions: mean 0, std 1 (vectors of float)
  AssociatedFile: name 0, description 1, type 2 (TENSOR_AXIS_LABELS 2, TENSOR_VALUE_LABELS 3), locale 3
"""

import io
import zipfile

from .errors import ConvertError
from .flatbuffers import FlatbufferError, root_table

LABEL_FILE_TYPES = (2, 3)
NORMALIZATION_OPTIONS = 1


class Metadata:
    def __init__(self):
        self.input_normalization = []   # per input tensor: (mean list, std list) or None
        self.label_files = []           # (output tensor index, file name), in the metadata's order
        self.files = {}                 # name -> bytes, from the appended zip
        self.notes = []


def _files_of(t, fid):
    out = []
    for f in t.tables(fid, "associated_files") or []:
        out.append((f.string(0, "name", ""), f.scalar(2, "i8", 0, "type")))
    return out


def read(model, data, where):
    """Metadata of a parsed model (tflite.Model) whose file bytes are `data`; None when it has none."""
    md = Metadata()
    found = False
    for name, buf in model.metadata:
        if name != "TFLITE_METADATA":
            continue
        raw = model.buffers[buf] if 0 < buf < len(model.buffers) else None
        if not raw:
            md.notes.append("the TFLITE_METADATA entry points to an empty buffer; metadata ignored")
            break
        try:
            root = root_table(raw, identifier=b"M001", root_name="ModelMetadata")
            subgraphs = root.tables(3, "subgraph_metadata") or []
            if subgraphs:
                sg = subgraphs[0]
                for t in sg.tables(2, "input_tensor_metadata") or []:
                    norm = None
                    for pu in t.tables(4, "process_units") or []:
                        code, opts = pu.union(0, "options")
                        if code == NORMALIZATION_OPTIONS and opts is not None:
                            norm = (opts.vector(0, "f32", "mean") or [], opts.vector(1, "f32", "std") or [])
                    md.input_normalization.append(norm)
                for k, t in enumerate(sg.tables(3, "output_tensor_metadata") or []):
                    for fname, ftype in _files_of(t, 6):
                        if ftype in LABEL_FILE_TYPES and fname:
                            md.label_files.append((k, fname))
            found = True
        except FlatbufferError as e:
            md.notes.append("the model's metadata (TFLITE_METADATA) is not readable (%s); ignored" % e)
        break
    if zipfile.is_zipfile(io.BytesIO(data)):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for info in z.infolist():
                    if info.file_size <= 16 << 20 and not info.is_dir():
                        md.files[info.filename] = z.read(info)
            found = True
        except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as e:
            md.notes.append("the zip appended to %s is not readable (%s); associated files ignored" % (where, e))
    return md if found or md.notes else None


def label_file(md, where):
    """(name, bytes) of the label file the metadata associates with the outputs, or None."""
    for _k, name in md.label_files:
        if name in md.files:
            return name, md.files[name]
    if md.label_files:
        raise ConvertError("%s: its metadata names the label file %r, but the zip appended to the model does not "
                           "hold it (holds: %s); give --labels" % (where, md.label_files[0][1],
                                                                   ", ".join(sorted(md.files)) or "nothing"))
    txt = [n for n in md.files if n.lower().endswith((".txt", ".pbtxt"))]
    if len(txt) == 1:
        return txt[0], md.files[txt[0]]
    return None
