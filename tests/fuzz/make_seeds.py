#!/usr/bin/python3
"""Seed corpora for the libFuzzer harnesses, generated at run time (nothing binary is committed).

    /usr/bin/python3 tests/fuzz/make_seeds.py OUT_DIR [DETC_BIN]

Writes OUT_DIR/model (the bad-model zoo of tests/zoo/gen_zoo.py, good and bad, and the small BlazeFace model
converted from ../shared when it is there), OUT_DIR/image (the decoder test images of tests/data/image and the
shared photos shrunk to at most 64 pixels, as baseline and progressive JPEG and as PNG) and OUT_DIR/npy
(tests/data's .npy files and a few more written by numpy: every dtype, rank 0, empty, version 2.0 and 3.0
headers, Fortran order).
"""

import io
import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")


def models(out):
    zoo = os.path.join(out, ".zoo")
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "zoo", "gen_zoo.py"), zoo], check=True,
                   stdout=subprocess.DEVNULL)
    for f in sorted(os.listdir(zoo)):
        if f.endswith(".detc"):
            shutil.copy(os.path.join(zoo, f), os.path.join(out, f))
    shutil.rmtree(zoo)
    tflite = os.path.join(SHARED, "models", "blazeface_short_range", "face_detection_short_range.tflite")
    if os.path.exists(tflite):
        r = subprocess.run([os.path.join(ROOT, "tools", "detc-convert"), "tflite", tflite, "--pipeline-json",
                            os.path.join(ROOT, "models", "blazeface_pipeline.json"), "-o",
                            os.path.join(out, "blazeface.detc")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            print("make_seeds: blazeface conversion failed (skipped): %s" % r.stderr.decode()[-300:])


def _tiff_orientation(o, big):
    e = ">" if big else "<"
    return ((b"MM" if big else b"II") + struct.pack(e + "HI", 42, 8) + struct.pack(e + "H", 2) +
            struct.pack(e + "HHII", 0x010F, 2, 4, 0x6F6E6500) + struct.pack(e + "HHIHH", 0x0112, 3, 1, o, 0) +
            struct.pack(e + "I", 0))


def exif_seeds(src, out):
    """EXIF orientation carriers (runtime/exif.c): a JPEG APP1 segment, a PNG eXIf chunk, both byte orders."""
    with open(os.path.join(src, "subsampled.jpg"), "rb") as f:
        jpg = f.read()
    with open(os.path.join(src, "rgba.png"), "rb") as f:
        png = f.read()
    for o in (3, 6, 8):
        body = b"Exif\0\0" + _tiff_orientation(o, o == 6)
        with open(os.path.join(out, "exif%d.jpg" % o), "wb") as f:
            f.write(jpg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpg[2:])
        t = _tiff_orientation(o, o != 6)
        chunk = struct.pack(">I", len(t)) + b"eXIf" + t + struct.pack(">I", zlib.crc32(b"eXIf" + t) & 0xFFFFFFFF)
        with open(os.path.join(out, "exif%d.png" % o), "wb") as f:
            f.write(png[:33] + chunk + png[33:])  # after the signature and IHDR


def images(out):
    src = os.path.join(ROOT, "tests", "data", "image")
    for f in sorted(os.listdir(src)):
        if f.endswith((".jpg", ".png")):
            shutil.copy(os.path.join(src, f), os.path.join(out, f))
    exif_seeds(src, out)
    try:
        from PIL import Image
    except ImportError:
        return
    photos = os.path.join(SHARED, "images")
    if not os.path.isdir(photos):
        return
    for f in sorted(os.listdir(photos)):
        if not f.endswith(".jpg"):
            continue
        im = Image.open(os.path.join(photos, f)).convert("RGB")
        im.thumbnail((64, 64))
        stem = os.path.splitext(f)[0]
        im.save(os.path.join(out, stem + "_64.jpg"), quality=80)
        im.save(os.path.join(out, stem + "_64_prog.jpg"), quality=80, progressive=True)
        im.convert("L").save(os.path.join(out, stem + "_64_gray.jpg"), quality=60)
        im.save(os.path.join(out, stem + "_64.png"))
        im.convert("P").save(os.path.join(out, stem + "_64_palette.png"))


def npys(out):
    for d in ("npy", "image"):
        src = os.path.join(ROOT, "tests", "data", d)
        for f in sorted(os.listdir(src)) if os.path.isdir(src) else []:
            if f.endswith(".npy") and os.path.getsize(os.path.join(src, f)) <= 4096:
                shutil.copy(os.path.join(src, f), os.path.join(out, d + "_" + f))
    rng = np.random.RandomState(0)
    arrays = {
        "u1": rng.randint(0, 255, (2, 3)).astype(np.uint8), "i1": np.arange(-3, 3, dtype=np.int8),
        "i2": np.arange(6, dtype=np.int16).reshape(3, 2), "i4": np.arange(4, dtype=np.int32),
        "i8": np.arange(3, dtype=np.int64), "f2": np.ones(5, np.float16), "f4": rng.rand(2, 2, 2).astype(np.float32),
        "f8": rng.rand(3), "b1": np.array([True, False, True]), "scalar": np.float32(1.5),
        "empty": np.zeros((0, 3), np.float32), "rank8": np.zeros((1,) * 8, np.uint8),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
        "bigendian": np.arange(3, dtype=">i4"),
    }
    for name, a in arrays.items():
        np.save(os.path.join(out, "np_%s.npy" % name), a, allow_pickle=False)
    from numpy.lib import format as npf
    for version in ((2, 0), (3, 0)):
        buf = io.BytesIO()
        npf.write_array(buf, np.arange(4, dtype=np.float32), version=version)
        with open(os.path.join(out, "np_v%d.npy" % version[0]), "wb") as fh:
            fh.write(buf.getvalue())


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = argv[1]
    for kind, fn in (("model", models), ("image", images), ("npy", npys)):
        d = os.path.join(out, kind)
        os.makedirs(d, exist_ok=True)
        fn(d)
        print("make_seeds: %d %s seeds in %s" % (len(os.listdir(d)), kind, d))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
