"""Helpers shared by the library tests (test_examples.py, test_python.py, test_install.py): result counting,
paths of the build being tested, the shared SSD and Mask R-CNN models converted into a temporary folder."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("DETC_SHARED", os.path.join(ROOT, "..", "shared"))
IMAGES = os.path.join(SHARED, "images")
SSD_DIR = os.path.join(SHARED, "models", "ssd_mobilenet_v1_coco_quant")
MASKRCNN_DIR = os.path.join(SHARED, "models", "maskrcnn_r18fpn_shapes")
DETC = os.environ.get("DETC_BIN", os.path.join(ROOT, "build", "detc"))
BUILD = os.path.dirname(os.path.abspath(DETC))  # the build folder under test (build, build-asan, ...)
CONVERT = os.path.join(ROOT, "tools", "detc-convert")


def header_define(name):
    with open(os.path.join(ROOT, "runtime", "detc.h")) as f:
        m = re.search(r"#define %s (\S+)" % name, f.read())
    return m.group(1).strip('"')


VERSION = header_define("DETC_VERSION_STRING")
ABI = int(header_define("DETC_ABI_VERSION"))


class Results:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def check(self, cond, msg):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL", msg)
        return cond

    def skip(self, msg):
        self.skipped += 1
        print("SKIP", msg)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped")
        return 1 if self.failed else 0


def run(cmd, **kw):
    kw.setdefault("timeout", 600)
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def sanitized(lib):
    """Whether a binary or library was built with a sanitizer (it then cannot be loaded into python3)."""
    r = run(["readelf", "-d", lib])
    return r.returncode != 0 or re.search(r"lib[amt]san|libubsan", r.stdout) is not None


def needed(binary):
    """The DT_NEEDED entries of an ELF file."""
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", run(["readelf", "-d", binary]).stdout)


def convert_ssd(out):
    """The shared SSD MobileNet v1 (uint8) as OUT; None (and a message) when ../shared is absent."""
    if not os.path.exists(os.path.join(SSD_DIR, "detect.tflite")):
        return None
    r = run([sys.executable, CONVERT, "tflite", os.path.join(SSD_DIR, "detect.tflite"), "--labels",
             os.path.join(SSD_DIR, "labelmap.txt"), "-o", out])
    if r.returncode != 0:
        raise RuntimeError("detc-convert tflite failed: " + r.stderr)
    return out


def convert_maskrcnn(out):
    """The shared Mask R-CNN (ResNet-18 FPN, shapes) as OUT; None when ../shared does not have it."""
    pth = os.path.join(MASKRCNN_DIR, "maskrcnn_r18fpn_shapes.pth")
    if not os.path.exists(pth):
        return None
    r = run([sys.executable, CONVERT, "torchvision", pth, "--config", os.path.join(MASKRCNN_DIR, "config.json"),
             "-o", out])
    if r.returncode != 0:
        raise RuntimeError("detc-convert torchvision failed: " + r.stderr)
    return out


def write_ppm(path, rgb):
    """A binary PPM (P6) of an RGB uint8 array, the frame dump examples/camera reads."""
    with open(path, "wb") as f:
        f.write(b"P6 %d %d 255\n" % (rgb.shape[1], rgb.shape[0]))
        f.write(rgb.tobytes())
