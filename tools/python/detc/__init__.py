"""detc from Python: a ctypes binding over the shared library libdetc.so.1 (no compiler needed).

    import detc
    m = detc.Model("ssd.detc")
    for d in m.detect(rgb):              # numpy uint8 array, height x width x 3 (RGB), or an image file path
        print(d.label, d.score, d.box)   # box: (x0, y0, x1, y1) in image pixels
    tensors = m.run({0: x})              # every tensor by name (dump=False: the graph outputs only)

A Model is read-only once loaded and may be shared by threads; each thread uses its own Context
(m.context()), which has the same detect() and run(). The C calls release the GIL, so contexts in
different threads compute in parallel. Failures raise detc.Error with detc's messages.

The library is looked for in this order: the file named by $DETC_LIBRARY; beside the package as installed
(PREFIX/lib, the package being PREFIX/lib/python3/dist-packages/detc); ctypes.util.find_library("detc");
the source tree's build/ folder. libdetc-image.so.1 (image files) is taken from the same folder; without it
everything but read_image() and detect(path) works.

`python3 -m detc.batch MODEL INPUTS OUT_DIR [--local N | --scheduler ADDRESS]` runs a model over many images
on a Dask cluster (detc/batch.py).
"""
import ctypes
import ctypes.util
import os
import threading
import weakref

import numpy as np

__all__ = ["Model", "Context", "Detection", "Error", "version", "abi_version", "read_image", "library_path"]

_ABI = 1
_CORE = "libdetc.so.%d" % _ABI
_IMAGE = "libdetc-image.so.%d" % _ABI

c_int, c_float, c_size_t, c_char_p, c_void_p = ctypes.c_int, ctypes.c_float, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p
P = ctypes.POINTER


class _Error(ctypes.Structure):
    _fields_ = [("code", c_int), ("node", c_int), ("message", c_char_p)]


class _Errors(ctypes.Structure):
    _fields_ = [("count", c_int), ("capacity", c_int), ("items", P(_Error)), ("dropped", c_int)]


class _Options(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("threads", c_int), ("profile", c_int), ("no_reuse", c_int),
                ("max_memory", c_size_t), ("no_fold", c_int), ("verify", c_int),
                ("no_winograd", c_int)]


class _TensorInfo(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("dtype", c_char_p), ("rank", c_int), ("dims", P(ctypes.c_int32)),
                ("is_constant", c_int), ("is_input", c_int), ("is_output", c_int), ("is_folded", c_int),
                ("quant_count", c_int), ("quant_axis", c_int), ("scale", P(c_float)),
                ("zero_point", P(ctypes.c_int32)), ("nbytes", c_size_t), ("producer", c_int), ("type", c_int)]


class _NodeInfo(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("op", c_char_p), ("n_inputs", c_int), ("n_outputs", c_int),
                ("inputs", P(c_int)), ("outputs", P(c_int)), ("scratch_bytes", c_size_t),
                ("total_us", ctypes.c_double), ("calls", c_int), ("folded", c_int)]


class _ModelInfo(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("path", c_char_p), ("n_tensors", c_int), ("n_nodes", c_int),
                ("n_inputs", c_int), ("n_outputs", c_int), ("constant_bytes", c_size_t), ("n_folded", c_int),
                ("folded_bytes", c_size_t), ("folded_source_bytes", c_size_t), ("arena_bytes", c_size_t),
                ("unplanned_bytes", c_size_t), ("threads", c_int), ("kernels", c_char_p),
                ("pipeline", c_char_p), ("n_labels", c_int), ("checksum", c_int)]


class _Image(ctypes.Structure):
    _fields_ = [("width", c_int), ("height", c_int), ("channels", c_int), ("pixels", c_void_p)]


class _ContextOptions(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("threads", c_int), ("pool", c_void_p), ("profile", c_int)]


class _Detection(ctypes.Structure):
    _fields_ = [("x0", c_float), ("y0", c_float), ("x1", c_float), ("y1", c_float), ("score", c_float),
                ("class_id", c_int), ("label", c_char_p), ("mask", P(ctypes.c_uint8)), ("mask_x", c_int),
                ("mask_y", c_int), ("mask_width", c_int), ("mask_height", c_int)]


class _Detections(ctypes.Structure):
    _fields_ = [("image_width", c_int), ("image_height", c_int), ("count", c_int), ("items", P(_Detection))]


class _DetectOptions(ctypes.Structure):
    _fields_ = [("size", c_size_t), ("threshold", c_float), ("resize", c_char_p)]


_OBSERVER = ctypes.CFUNCTYPE(c_int, c_void_p, c_int, c_void_p)

# The C name of every struct above (tests compare their layout with the header's).
_STRUCTS = {"detc_error": _Error, "detc_errors": _Errors, "detc_options": _Options, "detc_tensor_info": _TensorInfo,
            "detc_node_info": _NodeInfo, "detc_model_info": _ModelInfo, "detc_image": _Image,
            "detc_context_options": _ContextOptions, "detc_detection": _Detection, "detc_detections": _Detections,
            "detc_detect_options": _DetectOptions}


def _sized(struct):
    """A growing option struct with this binding's layout: `size` says how far it goes, so a newer library
    with longer structs reads only these fields (its *_init functions would write its own, longer layout).
    Every default of detc.h's first layout is zero."""
    return struct(size=ctypes.sizeof(struct))

# detc_dtype values (detc.h) and their numpy types
_NUMPY_OF_DTYPE = [np.float32, np.float16, np.int8, np.uint8, np.int16, np.int32, np.int64, np.float64, np.bool_]
_DTYPE_OF_NUMPY = {np.dtype(t): i for i, t in enumerate(_NUMPY_OF_DTYPE)}

_SIGNATURES = {
    "detc_version": (c_char_p, []),
    "detc_abi_version": (c_int, []),
    "detc_code_name": (c_char_p, [c_int]),
    "detc_errors_free": (None, [P(_Errors)]),
    "detc_model_load": (c_void_p, [c_char_p, P(_Options), P(_Errors)]),
    "detc_model_load_memory": (c_void_p, [c_void_p, c_size_t, c_char_p, P(_Options), P(_Errors)]),
    "detc_model_free": (None, [c_void_p]),
    "detc_model_get_info": (None, [c_void_p, P(_ModelInfo)]),
    "detc_tensor_get_info": (c_int, [c_void_p, c_int, P(_TensorInfo)]),
    "detc_node_get_info": (c_int, [c_void_p, c_int, P(_NodeInfo)]),
    "detc_find_tensor": (c_int, [c_void_p, c_char_p]),
    "detc_input_tensor": (c_int, [c_void_p, c_int]),
    "detc_output_tensor": (c_int, [c_void_p, c_int]),
    "detc_label": (c_char_p, [c_void_p, c_int]),
    "detc_context_new": (c_void_p, [c_void_p, P(_ContextOptions), P(_Errors)]),
    "detc_context_free": (None, [c_void_p]),
    "detc_context_set_input_shape": (c_int, [c_void_p, c_int, c_int, P(ctypes.c_int64), P(_Errors)]),
    "detc_context_set_input": (c_int, [c_void_p, c_int, c_int, c_int, P(ctypes.c_int64), c_void_p, c_size_t,
                                       P(_Errors)]),
    "detc_context_run": (c_int, [c_void_p, _OBSERVER, c_void_p, P(_Errors)]),
    "detc_context_tensor_data": (c_void_p, [c_void_p, c_int]),
    "detc_context_tensor_info": (c_int, [c_void_p, c_int, P(_TensorInfo)]),
    "detc_context_node_info": (c_int, [c_void_p, c_int, P(_NodeInfo)]),
    "detc_context_arena_bytes": (c_size_t, [c_void_p]),
    "detc_context_detect": (c_int, [c_void_p, P(_Image), P(_DetectOptions), P(_Detections), P(_Errors)]),
    "detc_context_preprocess": (c_int, [c_void_p, P(_Image), P(_DetectOptions), P(_Errors)]),
    "detc_detections_free": (None, [P(_Detections)]),
    "detc_mask_rle": (c_void_p, [P(_Detection), c_int, c_int]),
}
_IMAGE_SIGNATURES = {
    "detc_image_read": (c_int, [c_char_p, P(_Image), P(_Errors)]),
    "detc_image_read_upright": (c_int, [c_char_p, P(_Image), P(c_int), P(_Errors)]),
    "detc_image_release": (None, [P(_Image)]),
}


def _candidates():
    env = os.environ.get("DETC_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "..", "..", "..", _CORE)  # PREFIX/lib/python3/dist-packages/detc -> PREFIX/lib
    yield os.path.join(here, _CORE)
    found = ctypes.util.find_library("detc")  # (runs ldconfig: only when the above are absent)
    if found:
        yield found
    yield os.path.join(here, "..", "..", "..", "build", _CORE)  # tools/python/detc -> the source tree


def _bind(lib, signatures):
    for name, (restype, argtypes) in signatures.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = restype, argtypes


def _load():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            core = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
            continue
        core.detc_abi_version.restype, core.detc_abi_version.argtypes = c_int, []
        if core.detc_abi_version() != _ABI:
            raise ImportError("detc: %s has ABI version %d, this binding needs %d"
                              % (path, core.detc_abi_version(), _ABI))
        _bind(core, _SIGNATURES)
        image = None
        image_path = os.path.join(os.path.dirname(path), _IMAGE) if os.sep in path else _IMAGE
        try:  # libdetc.so.1 is loaded already, so the image library's dependency on it is met by its soname
            image = ctypes.CDLL(image_path)
            _bind(image, _IMAGE_SIGNATURES)
        except OSError:
            image = None
        return core, image, os.path.abspath(path) if os.sep in path else path
    raise ImportError("detc: cannot find %s; set DETC_LIBRARY to its path (tried: %s)" % (_CORE, "; ".join(tried)))


_lib, _image_lib, library_path = _load()
_libc = ctypes.CDLL(None)
_libc.free.argtypes, _libc.free.restype = [c_void_p], None


class Error(Exception):
    """A detc failure. str(e) is every message detc reported, one per line; e.messages lists them,
    e.codes has each one's code name ("io", "format", "dtype", "input", ...), e.code the first."""

    def __init__(self, messages, codes=()):
        self.messages = list(messages) or ["detc: the call failed without a message"]
        self.codes = list(codes)
        self.code = self.codes[0] if self.codes else None
        super().__init__("\n".join(self.messages))

    def __reduce__(self):  # pickled whole (Dask sends a worker's exceptions to the client)
        return (Error, (self.messages, self.codes))


class _ErrorList:
    """A detc_errors list for one call; raise_if() turns a failed return into Error."""

    def __init__(self):
        self.errs = _Errors()
        self.ref = ctypes.byref(self.errs)

    def raise_if(self, failed, fallback="detc: the call failed"):
        e = self.errs
        messages = [e.items[i].message.decode("utf-8", "replace") for i in range(e.count)]
        codes = [_lib.detc_code_name(e.items[i].code).decode() for i in range(e.count)]
        if e.dropped:
            messages.append("(%d more problems not recorded)" % e.dropped)
        _lib.detc_errors_free(self.ref)
        if failed:
            raise Error(messages or [fallback], codes)


def version():
    """The running library's version string, e.g. "0.2.0"."""
    return _lib.detc_version().decode()


def abi_version():
    return _lib.detc_abi_version()


def read_image(path, exif=False, with_orientation=False):
    """Decodes a JPEG or PNG file with detc's own decoder (libdetc-image): uint8 array, height x width x 3.
    exif=True turns it upright as its EXIF orientation says (as `detc detect` does unless --no-exif);
    with_orientation=True returns (array, orientation applied 1..8)."""
    if _image_lib is None:
        raise Error(["detc: %s not found beside %s: image files cannot be read" % (_IMAGE, library_path)],
                    ["io"])
    img = _Image()
    errs = _ErrorList()
    orientation = c_int(1)
    if exif:
        rc = _image_lib.detc_image_read_upright(os.fsencode(path), ctypes.byref(img), ctypes.byref(orientation),
                                                errs.ref)
    else:
        rc = _image_lib.detc_image_read(os.fsencode(path), ctypes.byref(img), errs.ref)
    try:
        errs.raise_if(rc != 0)
        out = np.empty((img.height, img.width, img.channels), np.uint8)
        ctypes.memmove(out.ctypes.data, img.pixels, out.nbytes)
        return (out, orientation.value) if with_orientation else out
    finally:
        _image_lib.detc_image_release(ctypes.byref(img))


def _c_image(pixels):
    """A detc_image over an array's memory (no copy); the array must outlive the call."""
    if isinstance(pixels, (str, bytes, os.PathLike)):
        pixels = read_image(pixels)
    a = np.asarray(pixels)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise Error(["detc: the image must be a uint8 array of height x width x 3 (RGB), got %s %s"
                     % (a.dtype, "x".join(map(str, a.shape)))], ["argument"])
    a = np.ascontiguousarray(a)
    return a, _Image(a.shape[1], a.shape[0], 3, a.ctypes.data)


def _detect_options(threshold, resize):
    o = _sized(_DetectOptions)
    if threshold is not None:
        o.threshold = float(threshold) if threshold > 0 else -1.0  # 0 keeps every detection, as in the CLI
    o.resize = resize.encode() if resize else None
    return o


def _info_dict(s):
    out = {}
    for name, _ in s._fields_:
        v = getattr(s, name)
        out[name] = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
    return out


class Detection:
    """One detection. box: (x0, y0, x1, y1) in image pixels; mask: None or a box-local bool array
    (mask_height x mask_width) whose top-left pixel is image pixel mask_offset = (x, y); full_mask() pastes
    it into an image-sized array; rle: the mask as COCO run-length "counts" over the whole image."""

    __slots__ = ("box", "score", "class_id", "label", "mask", "mask_offset", "image_size", "rle")

    def __init__(self, d, width, height):
        self.box = (d.x0, d.y0, d.x1, d.y1)
        self.score = d.score
        self.class_id = d.class_id
        self.label = d.label.decode("utf-8", "replace") if d.label else None
        self.image_size = (width, height)
        self.mask, self.mask_offset, self.rle = None, None, None
        if d.mask:
            m = np.ctypeslib.as_array(d.mask, shape=(d.mask_height, d.mask_width))
            self.mask = m.astype(bool)
            self.mask_offset = (d.mask_x, d.mask_y)
            p = _lib.detc_mask_rle(ctypes.byref(d), width, height)
            if p:
                self.rle = ctypes.string_at(p).decode()
                _libc.free(p)

    def full_mask(self):
        """The mask as a height x width bool array of the whole image (None without a mask)."""
        if self.mask is None:
            return None
        w, h = self.image_size
        full = np.zeros((h, w), bool)
        x, y = self.mask_offset
        full[y:y + self.mask.shape[0], x:x + self.mask.shape[1]] = self.mask
        return full

    def __repr__(self):
        return "Detection(%r, %.3f, [%.1f, %.1f, %.1f, %.1f]%s)" % (
            self.label if self.label is not None else self.class_id, self.score, *self.box,
            ", mask" if self.mask is not None else "")


class Context:
    """Per-caller state of a model (activations, scratch, threads): one per thread. Calls on one context are
    serialised; different contexts run in parallel."""

    def __init__(self, model, threads=1, profile=False):
        if not isinstance(model, Model):
            raise TypeError("Context needs a detc.Model")
        self._model = model
        self._lock = threading.Lock()
        o = _sized(_ContextOptions)
        o.threads, o.profile = int(threads), int(bool(profile))
        errs = _ErrorList()
        self._ctx = _lib.detc_context_new(model._handle(), ctypes.byref(o), errs.ref)
        errs.raise_if(not self._ctx)
        model._contexts.add(self)

    @property
    def model(self):
        return self._model

    @property
    def arena_bytes(self):
        return _lib.detc_context_arena_bytes(self._handle())

    def _handle(self):
        if not self._ctx:
            raise Error(["detc: the context is closed"], ["argument"])
        return self._ctx

    def close(self):
        """Frees the context (also done when it is garbage-collected or its model is closed)."""
        with self._lock:
            if self._ctx:
                _lib.detc_context_free(self._ctx)
                self._ctx = None
                self._model._contexts.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def tensor_info(self, tensor):
        """The tensor's description with this context's current shape (dict)."""
        t = self._model.tensor_index(tensor)
        info = _TensorInfo()
        if _lib.detc_context_tensor_info(self._handle(), t, ctypes.byref(info)) != 0:
            raise Error(["detc: no tensor %r" % (tensor,)], ["argument"])
        d = _info_dict(info)
        d["shape"] = tuple(info.dims[i] for i in range(info.rank))
        d["numpy_dtype"] = np.dtype(_NUMPY_OF_DTYPE[info.type])
        for k in ("dims", "scale", "zero_point"):
            d.pop(k)
        d["scale"] = [info.scale[i] for i in range(info.quant_count)]
        d["zero_point"] = [info.zero_point[i] for i in range(info.quant_count)]
        return d

    def detect(self, image, threshold=None, resize=None):
        """Detections on an RGB image (uint8 array height x width x 3, or a JPEG/PNG path), best first.
        threshold: None for the model's default, 0 for every detection the model returns."""
        pixels, img = _c_image(image)
        opts = _detect_options(threshold, resize)
        dets = _Detections()
        errs = _ErrorList()
        with self._lock:
            rc = _lib.detc_context_detect(self._handle(), ctypes.byref(img), ctypes.byref(opts), ctypes.byref(dets),
                                          errs.ref)
        try:
            errs.raise_if(rc != 0)
            return [Detection(dets.items[i], dets.image_width, dets.image_height) for i in range(dets.count)]
        finally:
            _lib.detc_detections_free(ctypes.byref(dets))
            del pixels

    def _copy_tensor(self, t):
        info = _TensorInfo()
        _lib.detc_context_tensor_info(self._ctx, t, ctypes.byref(info))
        out = np.empty(tuple(info.dims[i] for i in range(info.rank)), _NUMPY_OF_DTYPE[info.type])
        data = _lib.detc_context_tensor_data(self._ctx, t)
        if data and out.nbytes:
            ctypes.memmove(out.ctypes.data, data, min(out.nbytes, info.nbytes))
        return info.name.decode("utf-8", "replace"), out

    def _set_input(self, key, value, errs):
        t = self._model.tensor_index(key)
        a = np.ascontiguousarray(value)
        dtype = _DTYPE_OF_NUMPY.get(a.dtype)
        if dtype is None:
            raise Error(["detc: input %r: numpy dtype %s has no detc equivalent" % (key, a.dtype)], ["dtype"])
        dims = (ctypes.c_int64 * max(a.ndim, 1))(*a.shape)
        info = _TensorInfo()
        if (_lib.detc_context_tensor_info(self._ctx, t, ctypes.byref(info)) == 0 and info.is_input
                and info.rank == a.ndim and tuple(info.dims[i] for i in range(info.rank)) != a.shape):
            # another shape of the same rank: the graph is prepared for it (refused if the model cannot)
            if _lib.detc_context_set_input_shape(self._ctx, t, a.ndim, dims, errs.ref) != 0:
                return -1
        return _lib.detc_context_set_input(self._ctx, t, dtype, a.ndim, dims, a.ctypes.data, a.nbytes, errs.ref)

    def run(self, inputs=None, dump=True, image=None, resize=None):
        """Runs the graph. inputs: {tensor name or input index: array} (dtype and shape as the model declares;
        the message says how to convert otherwise); image: an RGB image put through the model's preprocessing
        instead. Returns {tensor name: array}: with dump=True every tensor (the inputs, the constants folded
        at load, then each node's outputs in execution order, as `detc run --dump` writes them), with
        dump=False the graph outputs only."""
        result = {}
        errs = _ErrorList()
        failure = []

        def observe(_ctx, node, _user):
            try:
                n = _NodeInfo()
                _lib.detc_context_node_info(self._ctx, node, ctypes.byref(n))
                for k in range(n.n_outputs):
                    if n.outputs[k] >= 0:
                        name, arr = self._copy_tensor(n.outputs[k])
                        result[name] = arr
                return 0
            except BaseException as e:  # an exception cannot cross the C frames: stop the run, re-raise
                failure.append(e)
                return 1

        observer = _OBSERVER(observe) if dump else _OBSERVER()
        keep = []
        with self._lock:
            ctx = self._handle()
            rc = 0
            if image is not None:
                pixels, img = _c_image(image)
                keep.append(pixels)
                opts = _detect_options(None, resize)
                rc = _lib.detc_context_preprocess(ctx, ctypes.byref(img), ctypes.byref(opts), errs.ref)
            for key, value in (inputs or {}).items():
                if rc == 0:
                    rc = self._set_input(key, value, errs)
            info = self._model._info()
            if rc == 0 and dump:
                for i in range(info.n_inputs):
                    name, arr = self._copy_tensor(_lib.detc_input_tensor(self._model._handle(), i))
                    result[name] = arr
                for t in range(info.n_tensors):
                    ti = _TensorInfo()
                    if _lib.detc_context_tensor_info(ctx, t, ctypes.byref(ti)) == 0 and ti.is_folded:
                        name, arr = self._copy_tensor(t)
                        result[name] = arr
            if rc == 0:
                rc = _lib.detc_context_run(ctx, observer, None, errs.ref)
            if failure:
                errs.raise_if(False)
                raise failure[0]
            errs.raise_if(rc != 0)
            if not dump:
                for i in range(info.n_outputs):
                    name, arr = self._copy_tensor(_lib.detc_output_tensor(self._model._handle(), i))
                    result[name] = arr
        return result


class Model:
    """A loaded .detc model: read-only, shareable by threads. Model(path) maps the file;
    Model(data=...) loads from memory (bytes, bytearray, a numpy array, an mmap: used in place when 64-byte
    aligned). detect() and run() use a context the model keeps for itself
    (serialised); threads each take their own with context()."""

    def __init__(self, path=None, threads=1, *, data=None, name=None, profile=False, no_fold=False, max_memory=0,
                 verify=False):
        if (path is None) == (data is None):
            raise TypeError("Model needs a path or data=, not both")
        o = _sized(_Options)
        o.threads, o.profile, o.no_fold, o.max_memory = int(threads), int(bool(profile)), int(bool(no_fold)), max_memory
        o.verify = int(bool(verify))  # check the weights' CRC-32 (detc_options.verify)
        self._threads, self._profile = int(threads), bool(profile)
        self._contexts = weakref.WeakSet()
        self._default = None
        self._lock = threading.Lock()
        self._data = None
        errs = _ErrorList()
        if data is not None:
            ptr, size = self._memory(data)
            nm = (name or "<memory>").encode()
            self._m = _lib.detc_model_load_memory(ptr, size, nm, ctypes.byref(o), errs.ref)
        else:
            self._m = _lib.detc_model_load(os.fsencode(path), ctypes.byref(o), errs.ref)
        errs.raise_if(not self._m, "detc: cannot load %s" % (path or name or "the model"))

    def _handle(self):
        if not self._m:
            raise Error(["detc: the model is closed"], ["argument"])
        return self._m

    def _memory(self, data):
        """Pointer and size of a model's bytes. The library uses them in place when 64-byte aligned (copies
        them otherwise) until the model is freed, so the buffer is kept here; a writable one (bytearray,
        numpy array, mmap) must not change meanwhile."""
        if isinstance(data, bytes):
            self._data = data
            return data, len(data)
        view = memoryview(data)
        if not view.c_contiguous:
            raise TypeError("Model(data=...) needs contiguous bytes")
        view = view.cast("B")
        if view.readonly:
            self._data = bytes(view)
            return self._data, len(self._data)
        arr = (ctypes.c_char * view.nbytes).from_buffer(view)
        self._data = (view, arr)
        return ctypes.addressof(arr), view.nbytes

    def close(self):
        """Frees the model and every context still open on it."""
        with self._lock:
            for c in list(self._contexts):
                c.close()
            self._default = None
            if self._m:
                _lib.detc_model_free(self._m)
                self._m = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _info(self):
        info = _ModelInfo()
        _lib.detc_model_get_info(self._handle(), ctypes.byref(info))
        return info

    @property
    def info(self):
        """detc_model_info as a dict (name, path, n_tensors, n_nodes, arena_bytes, kernels, pipeline, ...)."""
        return _info_dict(self._info())

    @property
    def labels(self):
        """Class names by class id (None for an id without a name)."""
        m = self._handle()
        out = []
        for i in range(self._info().n_labels):
            s = _lib.detc_label(m, i)
            out.append(s.decode("utf-8", "replace") if s else None)
        return out

    @property
    def inputs(self):
        return [self._tensor_name(_lib.detc_input_tensor(self._handle(), i)) for i in range(self._info().n_inputs)]

    @property
    def outputs(self):
        return [self._tensor_name(_lib.detc_output_tensor(self._handle(), i)) for i in range(self._info().n_outputs)]

    def _tensor_name(self, t):
        info = _TensorInfo()
        _lib.detc_tensor_get_info(self._handle(), t, ctypes.byref(info))
        return info.name.decode("utf-8", "replace")

    def tensor_index(self, key):
        """Tensor index of a tensor name, or of the i-th graph input for an int."""
        m = self._handle()
        if isinstance(key, (int, np.integer)):
            n = self._info().n_inputs
            if not 0 <= key < n:
                raise Error(["detc: input index %d is out of range: the model has %d input%s"
                             % (key, n, "" if n == 1 else "s")], ["argument"])
            return _lib.detc_input_tensor(m, int(key))
        t = _lib.detc_find_tensor(m, str(key).encode())
        if t < 0:
            raise Error(["detc: the model has no tensor named '%s'" % key], ["argument"])
        return t

    def context(self, threads=1, profile=False):
        """A new Context for one thread (or one request)."""
        return Context(self, threads, profile)

    def _default_context(self):
        with self._lock:
            if self._default is None:
                self._default = Context(self, self._threads, self._profile)
            return self._default

    def tensor_info(self, tensor):
        return self._default_context().tensor_info(tensor)

    def detect(self, image, threshold=None, resize=None):
        return self._default_context().detect(image, threshold, resize)

    detect.__doc__ = Context.detect.__doc__

    def run(self, inputs=None, dump=True, image=None, resize=None):
        return self._default_context().run(inputs, dump, image, resize)

    run.__doc__ = Context.run.__doc__
