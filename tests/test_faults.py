#!/usr/bin/python3
"""Fault injection: what detc does when the disk fills, the process is killed, a path is a FIFO or a
device, a file is unreadable, several runs share one output, and the user's inputs are off (issue 14).

    /usr/bin/python3 tests/test_faults.py        (DETC_BIN: the detc binary, default build/detc)

Models are the bad-model zoo's miniature SSD (tests/zoo/gen_zoo.py), so nothing here needs ../shared,
except the Mask R-CNN pipeline case (skipped without ../shared/models/maskrcnn_r18fpn_shapes). The
full-filesystem cases mount a small tmpfs and need root (skipped with a message otherwise). Prints one
line per failure and a closing "N passed, M failed, K skipped".
"""

import json
import os
import pty
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tests", "zoo"))
import gen_zoo  # noqa: E402

DETC = os.environ.get("DETC_BIN") or os.path.join(ROOT, "build", "detc")
CONVERT = os.path.join(ROOT, "tools", "detc-convert")
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
TMP = tempfile.mkdtemp(prefix="detc_faults_")
passed = failed = skipped = 0


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL %s%s" % (what, (": " + str(detail)[:1500]) if detail else ""))


def skip(what):
    global skipped
    skipped += 1
    print("SKIP %s" % what)


def run(args, timeout=20, **kw):
    """(exit code, stdout, stderr, seconds); exit code None on a timeout."""
    t0 = time.monotonic()
    try:
        p = subprocess.run([DETC] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        return None, "", "timed out", time.monotonic() - t0
    return (p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"),
            time.monotonic() - t0)


def path(*parts):
    return os.path.join(TMP, *parts)


def leftovers(d):
    """Temporary files an atomic write left behind in directory d."""
    return [n for n in os.listdir(d) if ".tmp-" in n]


# ---------------------------------------------------------------------------------------------
# fixtures: images and models written here

def png_bytes(rgb, chunks_before_idat=(), exif_orientation=None, truncate_idat=False):
    """A PNG of an HxWx3 uint8 array; extra (type, data) chunks; an eXIf chunk when asked."""
    def chunk(t, data):
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)
    h, w, _ = rgb.shape
    raw = b"".join(b"\0" + rgb[y].tobytes() for y in range(h))
    idat = zlib.compress(raw, 9)
    if truncate_idat:
        idat = idat[:len(idat) // 2]
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    for t, data in chunks_before_idat:
        out += chunk(t, data)
    if exif_orientation is not None:
        out += chunk(b"eXIf", tiff_orientation(exif_orientation))
    out += chunk(b"IDAT", idat)
    if not truncate_idat:
        out += chunk(b"IEND", b"")
    return out


def tiff_orientation(o, big_endian=True):
    """A minimal EXIF TIFF block: IFD0 with one entry, Orientation (0x0112) SHORT = o."""
    e = ">" if big_endian else "<"
    return ((b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8) + struct.pack(e + "H", 1) +
            struct.pack(e + "HHIHH", 0x0112, 3, 1, o, 0) + struct.pack(e + "I", 0))


def jpeg_with_exif(jpeg, o):
    body = b"Exif\0\0" + tiff_orientation(o, big_endian=False)
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def write(p, data):
    with open(p, "wb") as f:
        f.write(data)
    return p


def setup():
    global MODEL, IMG, JPG, UPRIGHT
    MODEL = write(path("mini_ssd.detc"), gen_zoo.ssd().build())
    UPRIGHT = np.load(os.path.join(ROOT, "tests", "data", "image", "dog_crop.npy"))  # 48x64 RGB
    IMG = write(path("dog.png"), png_bytes(UPRIGHT))
    with open(os.path.join(ROOT, "tests", "data", "image", "subsampled.jpg"), "rb") as f:
        JPG = write(path("photo.jpg"), f.read())


def detect_json(args):
    rc, out, err, _ = run(["detect", MODEL] + args + ["--threshold", "0", "--json", "-"])
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, None, err + out


# ---------------------------------------------------------------------------------------------
# 1, 2: a failed write destroys nothing; outputs are checked before any work

def test_outputs_checked_first():
    rc, out, err, _ = run(["detect", MODEL, IMG, IMG, "--json", path("no_such_dir", "x.json")])
    check(rc == 1 and "no_such_dir/x.json: cannot write" in err and "No such file or directory" in err,
          "bad --json path: exit 1, message names the file and the reason", (rc, err))
    check(out == "", "bad --json path refused before the first image ran", out)
    rc, out, err, _ = run(["detect", MODEL, IMG, "--draw", path("out.bmp")])
    check(rc == 2 and "--draw" in err and ".jpg, .jpeg or .png" in err and out == "" and
          not os.path.exists(path("out.bmp")), "--draw out.bmp refused before any work (issue case 6)", (rc, err))
    rc, out, err, _ = run(["detect", MODEL, IMG, "--draw", IMG])
    check(rc == 2 and "overwrite the input image" in err, "--draw onto the input image refused", (rc, err))


def test_special_output_targets():
    """A FIFO or device node named as an output is refused and left in place (as root --draw /dev/full
    used to delete the node). Only nodes made here are used: never the system's /dev/full, which a
    binary with the bug would delete."""
    fifo = path("out_fifo.jpg")
    os.mkfifo(fifo)
    rc, out, err, dt = run(["detect", MODEL, IMG, "--draw", fifo], timeout=10)
    check(rc == 1 and "a FIFO, not a regular file" in err and stat.S_ISFIFO(os.lstat(fifo).st_mode),
          "--draw FIFO: refused without blocking, the FIFO is still there", (rc, err))
    for opt in ("--json", "--jsonl"):
        rc, out, err, dt = run(["detect", MODEL, IMG, opt, fifo], timeout=10)
        check(rc == 1 and rc is not None and stat.S_ISFIFO(os.lstat(fifo).st_mode) and out == "",
              "%s FIFO: refused before any image, FIFO kept" % opt, (rc, err))
    if os.geteuid() == 0:
        dev = path("dev_full.jpg")
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # same device as /dev/full
        rc, out, err, _ = run(["detect", MODEL, IMG, "--draw", dev])
        check(rc == 1 and "a device, not a regular file" in err and stat.S_ISCHR(os.lstat(dev).st_mode),
              "--draw onto a device node: refused, node kept", (rc, err))
        p = subprocess.run([CONVERT, "tflite", "x.tflite", "-o", dev], stderr=subprocess.PIPE)
        check(p.returncode != 0 and stat.S_ISCHR(os.lstat(dev).st_mode) and b"not a regular file" in p.stderr,
              "detc-convert -o DEVICE refused before converting, node kept", p.stderr)
    else:
        skip("device-node outputs: need root (mknod)")


def test_symlink_output_kept():
    real = write(path("real_target.json"), b"old")
    link = path("link.json")
    os.symlink(real, link)
    rc, _, err, _ = run(["detect", MODEL, IMG, "--json", link])
    check(rc == 0 and os.path.islink(link) and json.load(open(real))["images"],
          "--json through a symlink replaces the target, keeps the link", (rc, err))


class FullFs:
    """A tiny tmpfs, filled up, with existing files in it (root only)."""

    def __init__(self):
        self.dir = path("full")
        os.makedirs(self.dir)
        self.mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", self.dir],
                                      stderr=subprocess.PIPE).returncode == 0

    def fill(self):
        with open(os.path.join(self.dir, "filler"), "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
            except OSError:
                pass

    def close(self):
        if self.mounted:
            subprocess.run(["umount", self.dir])


def test_full_filesystem():
    if os.geteuid() != 0:
        skip("full filesystem: needs root to mount a small tmpfs")
        return
    fs = FullFs()
    if not fs.mounted:
        skip("full filesystem: mount -t tmpfs failed (no privilege in this container?)")
        return
    try:
        d = fs.dir
        old = {n: write(os.path.join(d, n), b"OLD " + n.encode()) for n in
               ("out.jpg", "out.png", "out.json", "old.detc", "a.npy")}
        # a whole page of records, so the next one needs a new page the full tmpfs does not have
        earlier = b'{"file":"earlier.png","detections":[],"pad":"%s"}\n'
        earlier = earlier % (b"x" * (4096 - len(earlier % b"")))
        jl = write(os.path.join(d, "out.jsonl"), earlier)
        os.makedirs(os.path.join(d, "dump"))
        write(os.path.join(d, "dump", "manifest.json"), b"OLD")
        fs.fill()
        for n in ("out.jpg", "out.png"):
            rc, out, err, _ = run(["detect", MODEL, IMG, "--draw", old[n]])
            check(rc == 1 and "%s: cannot write: No space left on device" % old[n] in err,
                  "--draw %s on a full disk: exit 1, file and reason named" % n, (rc, err))
            check(open(old[n], "rb").read() == b"OLD " + n.encode(), "--draw %s on a full disk: old file intact" % n)
        rc, out, err, _ = run(["detect", MODEL, IMG, "--json", old["out.json"]])
        check(rc == 1 and "out.json: cannot write: No space left on device" in err,
              "--json on a full disk: exit 1 with a message (was: silent, 0-byte file)", (rc, err))
        check(open(old["out.json"], "rb").read() == b"OLD out.json", "--json on a full disk: old file intact")
        rc, out, err, _ = run(["detect", MODEL, IMG, IMG, "--jsonl", jl])
        check(rc == 1 and "out.jsonl: cannot append a record: No space left on device" in err and
              "stopped after 0 images" in err, "--jsonl on a full disk: stops with the reason", (rc, err))
        check(open(jl, "rb").read() == earlier,
              "--jsonl on a full disk: earlier records intact, no partial record")
        rc, out, err, _ = run(["run", MODEL, "--image", IMG, "--dump", os.path.join(d, "dump")])
        check(rc == 1 and "No space left on device" in err and
              open(os.path.join(d, "dump", "manifest.json"), "rb").read() == b"OLD",
              "run --dump on a full disk: exit 1, reason named, old manifest intact", (rc, err))
        p = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r)\n"
                            "from detc_convert.writer import write_atomic\nwrite_atomic(%r, b'x' * 200000)"
                            % (os.path.join(ROOT, "tools"), old["old.detc"])], stderr=subprocess.PIPE)
        check(p.returncode != 0 and b"No space left on device" in p.stderr and
              open(old["old.detc"], "rb").read() == b"OLD old.detc",
              "converter output on a full disk: error, old model file intact", p.stderr[-300:])
        check(leftovers(d) == [] and leftovers(os.path.join(d, "dump")) == [], "no temporary files left behind",
              os.listdir(d))
    finally:
        fs.close()


# ---------------------------------------------------------------------------------------------
# 2: streaming results: kill -9 keeps finished images, --resume finishes the batch, concurrent writers

def batch_dir(name, n, src):
    d = path(name)
    os.makedirs(d)
    for i in range(n):
        os.symlink(src, os.path.join(d, "img%04d%s" % (i, os.path.splitext(src)[1])))
    return d


def read_jsonl(p):
    recs, bad = [], 0
    with open(p, "rb") as f:
        for line in f.read().split(b"\n"):
            if not line:
                continue
            try:
                recs.append(json.loads(line))
            except ValueError:
                bad += 1
    return recs, bad


def test_kill_and_resume():
    big = np.random.RandomState(14).randint(0, 256, (900, 900, 3), dtype=np.uint8)
    src = write(path("big.png"), png_bytes(big))
    n = 150
    d = batch_dir("batch", n, src)
    jl = path("batch.jsonl")
    stale = write(path("batch.json"), b"stale result of an older run")
    p = subprocess.Popen([DETC, "detect", MODEL, d, "--threshold", "0", "--jsonl", jl, "--json", stale],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    got = 0
    while time.monotonic() < deadline and p.poll() is None:
        if os.path.exists(jl):
            got = open(jl, "rb").read().count(b"\n")
            if got >= 5:
                break
        time.sleep(0.005)
    p.send_signal(signal.SIGKILL)
    p.wait()
    recs, bad = read_jsonl(jl)
    files = [r["file"] for r in recs]
    check(5 <= len(recs) < n and bad == 0 and len(set(files)) == len(files),
          "kill -9 mid-batch: every finished image kept as a whole record (%d of %d)" % (len(recs), n), (got, bad))
    check(open(stale, "rb").read() == b"stale result of an older run" and leftovers(TMP) == [],
          "kill -9: the --json target is the old one, whole (written only at the end, atomically)")
    rc, out, err, _ = run(["detect", MODEL, d, "--threshold", "0", "--jsonl", jl, "--resume"], timeout=120)
    recs2, bad2 = read_jsonl(jl)
    files2 = [r["file"] for r in recs2]
    check(rc == 0 and len(recs2) == n and len(set(files2)) == n and bad2 == 0 and
          "--resume: %d of %d images already in" % (len(recs), n) in err,
          "--resume runs only the missing images; the file ends with every image once", (rc, len(recs2), err[-300:]))
    check(out.count(": 48x64") == 0 and out.count("900x900") == n - len(recs),
          "--resume printed results for the missing images only", out.count("900x900"))


def test_cut_record_then_resume():
    jl = write(path("cut.jsonl"), b'{"file":"%s","detections":[]}\n{"file":"x.png","det' % IMG.encode())
    rc, out, err, _ = run(["detect", MODEL, IMG, JPG, "--jsonl", jl, "--resume"])
    recs, bad = read_jsonl(jl)
    check(rc == 0 and "1 line that is not a record (cut off?) ignored" in err and bad == 1 and
          [r["file"] for r in recs] == [IMG, JPG],
          "a cut-off last line is skipped and the next record starts on its own line", (rc, err, recs))


def test_concurrent_writers():
    src = write(path("small.png"), png_bytes(UPRIGHT))
    jl = path("shared.jsonl")
    procs = []
    for k in range(4):
        d = batch_dir("conc%d" % k, 40, src)
        procs.append(subprocess.Popen([DETC, "detect", MODEL, d, "--threshold", "0", "--jsonl", jl],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    rcs = [p.wait(timeout=120) for p in procs]
    recs, bad = read_jsonl(jl)
    files = [r["file"] for r in recs]
    check(rcs == [0] * 4 and bad == 0 and len(recs) == 160 and len(set(files)) == 160,
          "4 processes appending to one JSONL: 160 whole records, none interleaved", (rcs, len(recs), bad))


def test_progress_line():
    d = batch_dir("prog", 4, IMG)
    rc, out, err, _ = run(["detect", MODEL, d])
    check(rc == 0 and "\r" not in err and "images/s" not in err, "no progress line when stderr is not a terminal",
          repr(err[:200]))
    master, slave = pty.openpty()
    p = subprocess.Popen([DETC, "detect", MODEL, d], stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    buf = b""
    while True:
        r, _, _ = select.select([master], [], [], 10)
        if not r:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    p.wait()
    os.close(master)
    text = buf.decode("utf-8", "replace")
    check(p.returncode == 0 and "[4/4]" in text and "images/s" in text and "ETA" in text,
          "progress line on a terminal: done/total, images/s, ETA", repr(text[-300:]))


# ---------------------------------------------------------------------------------------------
# 3: a pipeline reading tensors the planner reuses is refused (SSD in the zoo; Mask R-CNN here)

def test_maskrcnn_pipeline_tensors():
    src = os.path.join(SHARED, "models", "maskrcnn_r18fpn_shapes")
    if not os.path.exists(os.path.join(src, "maskrcnn_r18fpn_shapes.pth")):
        skip("Mask R-CNN pipeline tensors: ../shared/models/maskrcnn_r18fpn_shapes missing")
        return
    good = path("shapes.detc")
    p = subprocess.run([CONVERT, "torchvision", os.path.join(src, "maskrcnn_r18fpn_shapes.pth"), "--config",
                        os.path.join(src, "config.json"), "-o", good], stderr=subprocess.PIPE)
    if p.returncode != 0:
        check(False, "convert the shapes Mask R-CNN", p.stderr)
        return
    blob = open(good, "rb").read()
    magic, ver, jl, doff, dlen = struct.unpack("<8sIIQQ", blob[:32])
    j = json.loads(blob[32:32 + jl])
    j["outputs"] = [o for o in j["outputs"] if o not in ("detections/boxes", "mask/probs")]
    jb = json.dumps(j, separators=(",", ":")).encode()
    nd = (32 + len(jb) + 63) // 64 * 64
    bad = write(path("shapes_outputs_edited.detc"), struct.pack("<8sIIQQ", magic, ver, len(jb), nd, dlen) + jb +
                bytes(nd - 32 - len(jb)) + blob[doff:])
    img = os.path.join(src, "val", "shapes_000.png")
    for cmd in (["validate", bad], ["detect", bad, img]):
        rc, out, err, _ = run(cmd, timeout=60)
        check(rc == 1 and "output \"boxes\" names tensor 'detections/boxes', which is not a graph output" in err and
              "output \"masks\" names tensor 'mask/probs', which is not a graph output" in err and
              "+mask" not in out, "Mask R-CNN with pipeline tensors dropped from \"outputs\": detc %s refuses it" % cmd[0],
              (rc, err[-600:]))


# ---------------------------------------------------------------------------------------------
# 4: EXIF orientation

def stored_for(display, o):
    """The stored pixels that EXIF orientation o turns into `display` (numpy's own rotations)."""
    return {1: display, 2: display[:, ::-1], 3: display[::-1, ::-1], 4: display[::-1],
            5: display.transpose(1, 0, 2), 6: np.rot90(display, 1), 7: display.transpose(1, 0, 2)[::-1, ::-1],
            8: np.rot90(display, -1)}[o]


def test_exif_orientation():
    rc, ref, err = detect_json([IMG])
    check(rc == 0 and ref and ref["images"][0]["orientation"] == 1, "upright PNG: orientation 1", err)
    if not ref:
        return
    want = ref["images"][0]
    for o in range(1, 9):
        p = write(path("exif%d.png" % o), png_bytes(np.ascontiguousarray(stored_for(UPRIGHT, o)), exif_orientation=o))
        rc, got, err = detect_json([p])
        g = got["images"][0] if got else {}
        check(rc == 0 and g.get("orientation") == o and (g.get("width"), g.get("height")) == (64, 48) and
              g.get("detections") == want["detections"],
              "PNG eXIf orientation %d: detected upright, same boxes as the upright image" % o, (rc, err, g))
        if o == 6:
            rc, got, err = detect_json([p, "--no-exif"])
            g = got["images"][0] if got else {}
            check(rc == 0 and g.get("orientation") == 1 and (g.get("width"), g.get("height")) == (48, 64),
                  "--no-exif: detected as stored", (rc, g))
    sideways = write(path("phone.jpg"), jpeg_with_exif(open(JPG, "rb").read(), 6))
    rc, got, err = detect_json([JPG])
    rc6, got6, err6 = detect_json([sideways])
    if got and got6:
        a, b = got["images"][0], got6["images"][0]
        check(rc6 == 0 and b["orientation"] == 6 and (b["width"], b["height"]) == (a["height"], a["width"]),
              "JPEG APP1 orientation 6: width and height swapped, orientation recorded", (a, b))
    else:
        check(False, "JPEG with EXIF orientation 6 detected", err + err6)


# ---------------------------------------------------------------------------------------------
# 5: FIFOs, devices, unreadable files

def test_fifo_and_devices():
    fifo = path("fifo.png")
    os.mkfifo(fifo)
    mfifo = path("fifo.detc")
    os.mkfifo(mfifo)
    nfifo = path("fifo.npy")
    os.mkfifo(nfifo)
    cases = [(["detect", MODEL, fifo], "fifo.png: is a FIFO (named pipe); detc reads only regular files"),
             (["validate", mfifo], "fifo.detc: not a regular file"),
             (["detect", mfifo, IMG], "fifo.detc: not a regular file"),
             (["run", MODEL, "--input", "image=" + nfifo], "fifo.npy: is a FIFO (named pipe)"),
             (["detect", MODEL, "/dev/zero"], "/dev/zero: is a device; detc reads only regular files"),
             (["detect", MODEL, "/dev/urandom"], "/dev/urandom: is a device")]
    for args, msg in cases:
        rc, out, err, dt = run(args, timeout=10)
        check(rc == 1 and msg in err and dt < 5, "%s: refused at once" % " ".join(args[:1] + args[2:]).replace(TMP, ""),
              (rc, err, dt))


def test_unreadable():
    p = write(path("secret.png"), png_bytes(UPRIGHT))
    os.chmod(p, 0)
    kw = {}
    if os.geteuid() == 0:  # root reads everything: run as nobody
        kw = {"preexec_fn": lambda: (os.setgid(65534), os.setuid(65534))}
        os.chmod(TMP, 0o755)
        os.chmod(MODEL, 0o644)
    rc, out, err, _ = run(["detect", MODEL, p], **kw)
    check(rc == 1 and "secret.png: cannot open for reading: Permission denied" in err,
          "unreadable image: exit 1, reason named", (rc, err))
    d = path("ro_dir")
    os.makedirs(d)
    os.chmod(d, 0o555)
    rc, out, err, _ = run(["detect", MODEL, IMG, "--json", os.path.join(d, "x.json")], **kw)
    check(rc == 1 and "x.json: cannot write: cannot create a file in" in err and "Permission denied" in err and
          out == "", "unwritable --json directory: refused before any image", (rc, err))


# ---------------------------------------------------------------------------------------------
# 6: --draw names never collide

def test_draw_names():
    src = path("collide")
    os.makedirs(src)
    write(os.path.join(src, "a.png"), png_bytes(UPRIGHT))
    shutil.copy(JPG, os.path.join(src, "a.jpg"))
    out = path("drawn")
    rc, _, err, _ = run(["detect", MODEL, src, "--draw", out])
    a_jpg, a_png = os.path.join(out, "a.jpg"), os.path.join(out, "a.png")
    ok = rc == 0 and os.path.exists(a_jpg) and os.path.exists(a_png)
    check(ok and open(a_png, "rb").read(8) == b"\x89PNG\r\n\x1a\n" and open(a_jpg, "rb").read(3) == b"\xff\xd8\xff",
          "--draw DIR with a.jpg and a.png: two files, each in its own format", (rc, err, os.listdir(out)))
    other = path("other")
    os.makedirs(other)
    shutil.copy(JPG, os.path.join(other, "a.jpg"))
    out2 = path("drawn2")
    rc, stdout, err, _ = run(["detect", MODEL, os.path.join(src, "a.jpg"), os.path.join(other, "a.jpg"), "--draw", out2])
    check(rc == 2 and "would both be drawn to" in err and stdout == "" and os.listdir(out2) == [],
          "--draw DIR with two a.jpg from different folders: refused before any work", (rc, err))


# ---------------------------------------------------------------------------------------------
# 7: messages

def test_png_message_without_unrelated_warning():
    # an invalid gAMA chunk (a warning, ignored) before image data that is cut short (the error)
    p = write(path("warn_then_error.png"),
              png_bytes(UPRIGHT, chunks_before_idat=[(b"gAMA", struct.pack(">I", 0))], truncate_idat=True))
    rc, out, err, _ = run(["detect", MODEL, p])
    line = [ln for ln in err.splitlines() if "warn_then_error.png" in ln]
    check(rc == 1 and len(line) == 1 and "gAMA" not in line[0] and "(" not in line[0].split("PNG:", 1)[-1],
          "PNG error message carries no unrelated libpng warning", err)


def test_run_input_fixes():
    # the mini SSD's input: 'image' f32 [1, 4, 4, 3], pipeline mean/std 127.5
    arrays = {"f64": (np.zeros((1, 4, 4, 3)), "is float64 (numpy's default); 'image' takes float32: "
                      "np.save('%s', a.astype(np.float32))"),
              "i32": (np.zeros((1, 4, 4, 3), np.int32), "is i32; 'image' takes float32"),
              "u8": (np.zeros((1, 4, 4, 3), np.uint8), "holds uint8 pixels but 'image' takes normalized float32: "
                     "normalize as the model's pipeline does, x = (pixel - [127.5,127.5,127.5]) / [127.5,127.5,127.5]"),
              "nobatch": (np.zeros((4, 4, 3), np.float32), "lacks the batch axis: np.save('%s', a[np.newaxis])"),
              "nchw": (np.zeros((1, 3, 4, 4), np.float32), "is NCHW (channels first) but 'image' is NHWC "
                       "(channels last): np.save('%s', a.transpose(0, 2, 3, 1))")}
    for name, (a, fix) in arrays.items():
        f = path("in_%s.npy" % name)
        np.save(f, a)
        rc, out, err, _ = run(["run", MODEL, "--input", "image=" + f])
        want = "detc run: fix: %s " % f + (fix % f if "%s" in fix else fix)
        check(rc == 1 and want in err, "run --input %s: a fix is suggested" % name, err)


# ---------------------------------------------------------------------------------------------
# 8: integrity: every single-bit flip in the weights is caught by the checksum

def test_checksum_bit_flips():
    blob = open(MODEL, "rb").read()
    _m, _v, jl, doff, dlen = struct.unpack("<8sIIQQ", blob[:32])
    rng = np.random.RandomState(8)
    caught = 0
    flips = 40
    for k in range(flips):
        b = bytearray(blob)
        pos = doff + rng.randint(dlen)
        b[pos] ^= 1 << rng.randint(8)
        f = write(path("flip.detc"), bytes(b))
        rc, out, err, _ = run(["validate", f])
        caught += rc == 1 and "the weights are corrupt" in err
    check(caught == flips, "validate catches %d of %d single-bit weight flips" % (caught, flips))
    rc, out, err, _ = run(["detect", f, IMG, "--verify"])
    check(rc == 1 and "the weights are corrupt" in err and out == "", "detect --verify refuses a flipped file", err)
    rc, out, err, _ = run(["detect", f, IMG])
    check(rc == 0, "detect without --verify loads it (verification is on request)", err)
    old = write(path("no_checksum.detc"), gen_zoo.ssd().build(checksum=False))
    rc, out, err, _ = run(["validate", old])
    check(rc == 0 and "no checksum in the file" in out, "a file without a checksum stays valid", out + err)
    rc, out, err, _ = run(["validate", MODEL])
    check(rc == 0 and "CRC-32 verified" in out, "validate reports the verified checksum", out)


def main():
    if not os.path.exists(DETC):
        print("FAIL %s not built" % DETC)
        print("0 passed, 1 failed")
        return 1
    setup()
    tests = [test_outputs_checked_first, test_special_output_targets, test_symlink_output_kept, test_full_filesystem,
             test_kill_and_resume, test_cut_record_then_resume, test_concurrent_writers, test_progress_line,
             test_maskrcnn_pipeline_tensors, test_exif_orientation, test_fifo_and_devices, test_unreadable,
             test_draw_names, test_png_message_without_unrelated_warning, test_run_input_fixes,
             test_checksum_bit_flips]
    try:
        for t in tests:
            try:
                t()
            except Exception as e:  # one broken test must not hide the others
                check(False, "%s raised %s: %s" % (t.__name__, type(e).__name__, e))
    finally:
        subprocess.run(["umount", path("full")], stderr=subprocess.DEVNULL)
        for dirpath, dirnames, _ in os.walk(TMP):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
