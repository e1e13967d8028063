"""DetcWriter: assembles a .detc model file (weights/FORMAT.md, version 1).

Normal use (a converter):

    w = DetcWriter(name="ssd", producer="detc-convert tflite 1")
    w.add_constant("conv0/weights", "u8", [32, 3, 3, 3], numpy_array_or_bytes,
                   quant={"scale": [0.01], "zero_point": [119], "axis": -1})
    w.add_activation("input", "u8", [1, 300, 300, 3], quant=...)
    w.add_node("conv0", "conv2d", ["input", "conv0/weights", ""], ["conv0/out"], {"stride": [2, 2]})
    w.inputs = ["input"]; w.outputs = ["conv0/out"]
    w.write("model.detc")

Layout written: the 32-byte header, the JSON header at offset 32, zero padding to data_offset
(the first multiple of 64 at or after 32 + json_length), then the data section in which every
constant starts on a 64-byte boundary, gaps zero-filled, data_length = end of the last constant.

Test use (deliberately broken files): every piece can be overridden.
  - add_tensor(dict) / add_node(dict) take raw JSON objects; add_constant/add_activation/
    add_node accept extra keyword fields that are copied into (and override) the JSON object,
    e.g. add_constant(..., offset=0, length=3) or dtype="q4".
  - A constant's `offset`/`length` given explicitly are written as given (the bytes are still
    placed at `offset` when it is a valid position; use data=b"" to place nothing).
  - `extra` (dict) is merged into the top-level JSON object last (None values delete a key).
  - build(raw_json=...) replaces the JSON text entirely (str or bytes, written as is).
  - build(magic=, version=, json_length=, data_offset=, data_length=, trailing=, truncate=)
    override the fixed header fields, append bytes after the data section, or cut the file.
  - build(check=False) skips the writer's own consistency checks.
  - build(checksum=False) leaves out "data_crc32" (a file as older converters wrote it); extra
    {"data_crc32": N} writes N instead of the real CRC-32.
"""

import errno
import json
import os
import stat
import struct
import tempfile
import zlib

DETC_MAGIC = b"DETCMODL"
DETC_VERSION = 1
HEADER_SIZE = 32
ALIGN = 64

# dtype name -> (element size, numpy dtype string). Mirrors runtime/dtype.c's table.
DTYPES = {
    "f32": (4, "<f4"),
    "f16": (2, "<f2"),
    "i8": (1, "i1"),
    "u8": (1, "u1"),
    "i16": (2, "<i2"),
    "i32": (4, "<i4"),
    "i64": (8, "<i8"),
    "f64": (8, "<f8"),
    "bool": (1, "u1"),
}


def align_up(n, a=ALIGN):
    return (n + a - 1) // a * a


def _product(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _to_bytes(data, dtype):
    """bytes, bytearray, memoryview or anything with .astype/.tobytes (a numpy array)."""
    if data is None:
        return b""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if hasattr(data, "tobytes"):
        if dtype in DTYPES and hasattr(data, "astype"):
            data = data.astype(DTYPES[dtype][1], copy=False)
        return data.tobytes()
    raise TypeError("constant data must be bytes or a numpy array, not %s" % type(data).__name__)


class DetcWriter:
    def __init__(self, name=None, producer="detc-convert"):
        self.name = name
        self.producer = producer
        self.inputs = []
        self.outputs = []
        self.tensors = []      # JSON objects, in order
        self.nodes = []        # JSON objects, in order
        self.labels = None     # list of str, or None
        self.pipeline = None   # dict, or None
        self.extra = {}        # merged into the top-level object last
        self._data = {}        # id(tensor dict) -> bytes for constants

    # -- building ---------------------------------------------------------------------------
    def add_tensor(self, obj, data=None):
        """Append a raw tensor JSON object; with data (bytes/array) it is a constant whose
        offset/length are filled in at build time unless obj already has them."""
        self.tensors.append(obj)
        if data is not None:
            self._data[id(obj)] = _to_bytes(data, obj.get("dtype"))
        return obj

    def add_constant(self, name, dtype, shape, data, quant=None, **fields):
        obj = {"name": name, "dtype": dtype, "shape": list(shape)}
        if quant is not None:
            obj["quant"] = quant
        obj.update(fields)
        return self.add_tensor(obj, data if data is not None else b"")

    def add_activation(self, name, dtype, shape=None, quant=None, **fields):
        obj = {"name": name, "dtype": dtype}
        if shape is not None:
            obj["shape"] = list(shape)
        if quant is not None:
            obj["quant"] = quant
        obj.update(fields)
        return self.add_tensor(obj)

    def add_node(self, name, op=None, inputs=(), outputs=(), attrs=None, **fields):
        """add_node(dict) appends a raw node object; otherwise builds one."""
        if isinstance(name, dict):
            self.nodes.append(name)
            return name
        obj = {"name": name, "op": op, "inputs": list(inputs), "outputs": list(outputs)}
        if attrs is not None:
            obj["attrs"] = attrs
        obj.update(fields)
        self.nodes.append(obj)
        return obj

    def tensor(self, name):
        for t in self.tensors:
            if t.get("name") == name:
                return t
        raise KeyError(name)

    def constant_data(self, name):
        return self._data[id(self.tensor(name))]

    # -- layout -------------------------------------------------------------------------------
    def _layout(self, check):
        """Assign offsets/lengths; returns (list of (tensor, offset, bytes), data_length)."""
        placed = []
        end = 0
        for t in self.tensors:
            key = id(t)
            if key not in self._data:
                continue
            raw = self._data[key]
            if "offset" in t:
                off = t["offset"]
            else:
                off = align_up(end)
                t["offset"] = off
            if "length" not in t:
                t["length"] = len(raw)
            if isinstance(off, int) and off >= 0:
                placed.append((t, off, raw))
                end = max(end, off + len(raw))
        if check:
            self._check(placed)
        return placed, end

    def _check(self, placed):
        seen = set()
        for t in self.tensors:
            n = t.get("name")
            if not isinstance(n, str) or not 1 <= len(n.encode("utf-8")) <= 255:
                raise ValueError("tensor name %r must be 1..255 bytes" % (n,))
            if n in seen:
                raise ValueError("duplicate tensor name %r" % n)
            seen.add(n)
            if t.get("dtype") not in DTYPES:
                raise ValueError("tensor %r: unknown dtype %r" % (n, t.get("dtype")))
        spans = []
        for t, off, raw in placed:
            size = DTYPES[t["dtype"]][0]
            want = _product(t["shape"]) * size
            if len(raw) != want or t["length"] != want:
                raise ValueError("constant %r: %d bytes of data for shape %s %s (%d expected)"
                                 % (t["name"], len(raw), t["shape"], t["dtype"], want))
            if off % ALIGN:
                raise ValueError("constant %r: offset %d is not a multiple of %d" % (t["name"], off, ALIGN))
            spans.append((off, off + len(raw), t["name"]))
        spans.sort()
        for a, b in zip(spans, spans[1:]):
            if b[0] < a[1]:
                raise ValueError("constants %r and %r overlap" % (a[2], b[2]))

    def json_object(self, check=True):
        """The top-level JSON object (assigns constant offsets as a side effect)."""
        self._layout(check)
        obj = {"format": "detc", "version": DETC_VERSION}
        if self.name is not None:
            obj["name"] = self.name
        if self.producer is not None:
            obj["producer"] = self.producer
        obj["inputs"] = list(self.inputs)
        obj["outputs"] = list(self.outputs)
        obj["tensors"] = self.tensors
        obj["nodes"] = self.nodes
        if self.labels is not None:
            obj["labels"] = list(self.labels)
        if self.pipeline is not None:
            obj["pipeline"] = self.pipeline
        for k, v in self.extra.items():
            if v is None:
                obj.pop(k, None)
            else:
                obj[k] = v
        return obj

    def build(self, check=True, raw_json=None, magic=DETC_MAGIC, version=DETC_VERSION,
              json_length=None, data_offset=None, data_length=None, trailing=b"", truncate=None,
              checksum=True):
        """The whole file as bytes."""
        placed, data_end = self._layout(check)
        data = bytearray(data_end)
        for _t, off, raw in placed:
            data[off:off + len(raw)] = raw
        if raw_json is None:
            obj = self.json_object(check)
            if checksum and "data_crc32" not in self.extra:
                # weights/FORMAT.md: CRC-32 (zlib's) of the data section, checked by `detc validate`
                obj["data_crc32"] = zlib.crc32(data) & 0xFFFFFFFF
            text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=not check)
            jbytes = text.encode("utf-8")
        else:
            jbytes = raw_json.encode("utf-8") if isinstance(raw_json, str) else bytes(raw_json)
        real_data_offset = align_up(HEADER_SIZE + len(jbytes))
        header = struct.pack(
            "<8sIIQQ", magic,
            version,
            len(jbytes) if json_length is None else json_length,
            real_data_offset if data_offset is None else data_offset,
            len(data) if data_length is None else data_length)
        assert len(header) == HEADER_SIZE
        out = bytearray(header)
        out += jbytes
        out += bytes(real_data_offset - len(out))
        out += data
        out += trailing
        if truncate is not None:
            del out[truncate:]
        return bytes(out)

    def write(self, path, **build_args):
        """Build and write atomically (see write_atomic)."""
        blob = self.build(**build_args)
        write_atomic(path, blob)
        return len(blob)


def _target(path):
    """The file a write to path replaces: a symlink's target, else path. Raises OSError for a target
    that is not a regular file (renaming over a device or FIFO would replace the node itself)."""
    real = os.path.realpath(path) if os.path.islink(path) else path
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return real
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file (detc-convert writes only regular files)", path)
    return real


def check_output(path):
    """Raises OSError (with the system's reason) unless path can be written: checked before converting."""
    real = _target(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(real) or ".", prefix="." + os.path.basename(real) + ".tmp-")
    os.close(fd)
    os.unlink(tmp)


def write_atomic(path, blob):
    """Writes blob to a temporary file beside path, flushed to disk, then renames it over path: a failed
    write (full disk) leaves an existing file untouched and removes the temporary file."""
    real = _target(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(real) or ".", prefix="." + os.path.basename(real) + ".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
            try:
                mode = stat.S_IMODE(os.stat(real).st_mode)
            except FileNotFoundError:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
            os.fchmod(f.fileno(), mode)  # mkstemp made it 0600
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
