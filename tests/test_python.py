#!/usr/bin/python3
"""The Python binding (tools/python/detc) over BUILD/libdetc.so.1: detect equals `detc detect --json`, run
equals `detc run --dump` bit for bit, failures raise detc.Error with detc's messages, contexts in threads
give the one-thread results, Mask R-CNN masks equal the CLI's COCO RLE. Needs ../shared for the models
(skips otherwise); skipped for sanitizer builds (their libraries cannot be loaded into python3)."""
import ctypes
import json
import os
import shutil
import sys
import tempfile
import threading

import numpy as np

from library_common import ABI, BUILD, DETC, IMAGES, MASKRCNN_DIR, ROOT, SSD_DIR, VERSION, Results, \
    convert_maskrcnn, convert_ssd, run, sanitized

R = Results()
LIB = os.path.join(BUILD, "libdetc.so.%d" % ABI)


def cli_detections(model, image, *extra):
    r = run([DETC, "detect", model, image, "--json", "-", *extra])
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return json.loads(r.stdout)["images"][0]["detections"]


def same_as_cli(dets, cli):
    """Binding detections against the CLI's JSON: labels, classes, and scores and boxes exactly (float32
    values printed by cJSON as doubles read back to the same float32)."""
    if len(dets) != len(cli):
        return False
    for d, c in zip(dets, cli):
        if (d.label, d.class_id) != (c["label"], c["class_id"]) or np.float32(c["score"]) != np.float32(d.score):
            return False
        if not np.array_equal(np.float32(c["box"]), np.float32(d.box)):
            return False
        if ("mask" in c) != (d.mask is not None) or ("mask" in c and c["mask"]["counts"] != d.rle):
            return False
    return True


def test_layouts(detc, tmp):
    """Every ctypes struct of the binding against detc.h as a C compiler lays it out: size and field offsets."""
    cc = shutil.which(os.environ.get("CC", "cc"))
    if not cc:
        R.skip("no C compiler: struct layouts not compared")
        return
    src = ["#include <stddef.h>", "#include <stdio.h>", '#include "detc.h"', "int main(void) {"]
    expected = []
    for cname, struct in detc._STRUCTS.items():
        src.append(f'    printf("{cname} %zu\\n", sizeof({cname}));')
        expected.append(f"{cname} {ctypes.sizeof(struct)}")
        for field, _ in struct._fields_:
            src.append(f'    printf("{cname}.{field} %zu\\n", offsetof({cname}, {field}));')
            expected.append(f"{cname}.{field} {getattr(struct, field).offset}")
    src.append("    return 0;\n}")
    c, exe = os.path.join(tmp, "layout.c"), os.path.join(tmp, "layout")
    with open(c, "w") as f:
        f.write("\n".join(src) + "\n")
    r = run([cc, "-std=c11", "-I", os.path.join(ROOT, "runtime"), c, "-o", exe])
    if not R.check(r.returncode == 0, f"layout program: {r.stderr}"):
        return
    got = run([exe]).stdout.split("\n")[:-1]
    diff = [f"C {g} / ctypes {e}" for g, e in zip(got, expected) if g != e]
    R.check(len(got) == len(expected) and not diff, f"ctypes structs = detc.h layouts: {diff}")


def test_lookup():
    """Where the binding finds the library without DETC_LIBRARY (the source tree's build/), and the ImportError
    naming what it tried when DETC_LIBRARY points nowhere."""
    env = {k: v for k, v in os.environ.items() if k != "DETC_LIBRARY"}
    env["PYTHONPATH"] = os.path.join(ROOT, "tools", "python")
    code = "import detc; print(detc.library_path)"
    r = run([sys.executable, "-c", code], env=env, cwd="/")
    import ctypes.util
    if ctypes.util.find_library("detc") is None and os.path.samefile(BUILD, os.path.join(ROOT, "build")):
        R.check(r.returncode == 0 and os.path.samefile(r.stdout.strip(), LIB), f"build tree fallback: {r.stdout}{r.stderr}")
    else:
        R.check(r.returncode == 0, f"import without DETC_LIBRARY: {r.stderr}")
    env["DETC_LIBRARY"] = "/nonexistent/libdetc.so.1"
    r = run([sys.executable, "-c", code], env=env, cwd="/")
    R.check(r.returncode != 0 and "ImportError" in r.stderr and "/nonexistent/libdetc.so.1" in r.stderr,
            f"DETC_LIBRARY pointing nowhere: {r.stderr[-500:]}")


def test_basics(detc, m):
    R.check(detc.version() == VERSION and detc.abi_version() == ABI, f"version {detc.version()} / {VERSION}")
    R.check(os.path.samefile(detc.library_path, LIB), f"library from DETC_LIBRARY: {detc.library_path}")
    info = m.info
    R.check(info["n_nodes"] == 64 and info["n_inputs"] == 1 and info["pipeline"] == "ssd", f"info: {info}")
    with open(os.path.join(SSD_DIR, "labelmap.txt")) as f:
        names = [line.strip() for line in f if line.strip()]
    R.check(m.labels == names, f"labels: {m.labels[:5]}... vs labelmap.txt {names[:5]}...")
    R.check(m.inputs == ["normalized_input_image_tensor"] and len(m.outputs) == 4, f"{m.inputs} {m.outputs}")
    ti = m.tensor_info(0)
    R.check(ti["shape"] == (1, 300, 300, 3) and ti["numpy_dtype"] == np.uint8, f"tensor_info: {ti}")


def test_detect(detc, m, model):
    for name in ("dog.jpg", "table.jpg"):
        path = os.path.join(IMAGES, name)
        cli = cli_detections(model, path)
        R.check(same_as_cli(m.detect(detc.read_image(path)), cli), f"detect(read_image({name})) = detc detect")
        R.check(same_as_cli(m.detect(path), cli), f"detect({name!r} as a path) = detc detect")
    path = os.path.join(IMAGES, "dog.jpg")
    everything = m.detect(path, threshold=0)
    R.check(same_as_cli(everything, cli_detections(model, path, "--threshold", "0")) and len(everything) > 4,
            f"threshold=0 keeps every detection ({len(everything)})")
    R.check(same_as_cli(m.detect(path, threshold=0.3), cli_detections(model, path, "--threshold", "0.3")),
            "threshold=0.3")
    try:
        import cv2
    except ImportError:
        R.skip("python3-opencv absent: detect on cv2 pixels not checked")
        return
    tmp = tempfile.mkdtemp(prefix="detc_py_")
    try:  # cv2's pixels, and the CLI on the same pixels as a lossless PNG
        bgr = cv2.imread(path)
        png = os.path.join(tmp, "dog.png")
        cv2.imwrite(png, bgr)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        R.check(same_as_cli(m.detect(rgb), cli_detections(model, png)), "detect(cv2 RGB array) = detc detect")
        R.check(same_as_cli(m.detect(rgb[:, ::-1][:, ::-1]), cli_detections(model, png)), "non-contiguous array")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_run(detc, m, model, tmp):
    path = os.path.join(IMAGES, "dog.jpg")
    dump = os.path.join(tmp, "dump")
    r = run([DETC, "run", model, "--image", path, "--dump", dump])
    if not R.check(r.returncode == 0, f"detc run --dump: {r.stderr}"):
        return
    with open(os.path.join(dump, "manifest.json")) as f:
        manifest = json.load(f)["tensors"]
    got = m.run(image=detc.read_image(path))
    R.check(sorted(got) == sorted(e["name"] for e in manifest), f"run() names {len(got)} vs manifest {len(manifest)}")
    bad = []
    for e in manifest:
        ref, mine = np.load(os.path.join(dump, e["file"])), got.get(e["name"])
        if mine is None or mine.dtype != ref.dtype or mine.shape != ref.shape or mine.tobytes() != ref.tobytes():
            bad.append(e["name"])
    R.check(not bad and len(manifest) == 68, f"run(image=...) = detc run --dump bit for bit; differ: {bad[:5]}")
    x = np.load(os.path.join(dump, "normalized_input_image_tensor.npy"))
    outs = m.run({0: x}, dump=False)
    R.check(list(outs) == m.outputs and all(np.array_equal(outs[k], got[k]) for k in outs),
            "run({0: input}, dump=False): the four outputs, equal to the dump's")
    outs = m.run({"normalized_input_image_tensor": x}, dump=True)
    R.check(len(outs) == 68 and all(outs[k].tobytes() == got[k].tobytes() for k in outs), "run by input name")
    R.check(outs["TFLite_Detection_PostProcess"].dtype == np.float32, "output dtype from detc_tensor_info.type")


def expect_error(what, fn, *needles, code=None):
    import detc
    try:
        fn()
    except detc.Error as e:
        ok = all(n in str(e) for n in needles) and (code is None or e.code == code)
        return R.check(ok, f"{what}: message {str(e)!r} (code {e.code}) lacks {needles} / {code}")
    except Exception as e:  # noqa: BLE001 - any other exception is the failure being tested for
        return R.check(False, f"{what}: raised {type(e).__name__}: {e}, not detc.Error")
    return R.check(False, f"{what}: no exception")


def test_errors(detc, m, model, tmp):
    missing = os.path.join(tmp, "missing.detc")
    expect_error("missing model", lambda: detc.Model(missing), missing, code="io")
    expect_error("bytes that are not a model", lambda: detc.Model(data=b"not a model at all" * 10, name="junk"), "junk")
    x = np.zeros((1, 300, 300, 3), np.float32)
    expect_error("f32 input to a u8 model", lambda: m.run({0: x}), "u8", "f32")
    expect_error("wrong rank", lambda: m.run({0: np.zeros((300, 300, 3), np.uint8)}), "normalized_input_image_tensor")
    expect_error("unknown tensor", lambda: m.run({"nope": x}), "nope")
    expect_error("input index out of range", lambda: m.run({3: x}), "out of range")
    expect_error("grey image", lambda: m.detect(np.zeros((10, 10), np.uint8)), "RGB")
    expect_error("missing image file", lambda: m.detect(os.path.join(tmp, "none.jpg")), "none.jpg")
    not_jpeg = os.path.join(tmp, "text.jpg")
    with open(not_jpeg, "w") as f:
        f.write("hello")
    expect_error("not an image", lambda: detc.read_image(not_jpeg), "text.jpg", code="image")
    c = m.context()
    c.close()
    expect_error("closed context", lambda: c.detect(np.zeros((8, 8, 3), np.uint8)), "closed")
    # the model from memory: same detections; and a model without a pipeline cannot detect
    with open(model, "rb") as f:
        mem = detc.Model(data=f.read(), name="ssd-in-memory")
    path = os.path.join(IMAGES, "dog.jpg")
    R.check(same_as_cli(mem.detect(path), cli_detections(model, path)), "Model(data=...) detects the same")
    mem.close()
    expect_error("closed model", lambda: mem.detect(path), "closed")
    raw = np.fromfile(model, np.uint8)
    block = np.zeros(raw.size + 64, np.uint8)
    start = -block.ctypes.data % 64
    aligned = block[start:start + raw.size]  # 64-byte aligned: detc reads it in place
    aligned[:] = raw
    for what, data in (("aligned numpy array", aligned), ("bytearray", bytearray(raw.tobytes()))):
        with detc.Model(data=data) as mm:
            R.check(same_as_cli(mm.detect(path), cli_detections(model, path)), f"Model(data={what})")


def test_threads(detc, m):
    images = [detc.read_image(os.path.join(IMAGES, n)) for n in ("dog.jpg", "horses.jpg", "person.jpg")]
    expected = [m.detect(img, threshold=0) for img in images]
    expected_out = m.run({0: m.run(image=images[0])["normalized_input_image_tensor"]}, dump=False)
    differences, errors = [], []

    def work(k):
        try:
            with m.context() as c:
                for it in range(3):
                    for i, img in enumerate(images):
                        got = c.detect(img, threshold=0)
                        if [(d.box, d.score, d.class_id) for d in got] != [(d.box, d.score, d.class_id) for d in expected[i]]:
                            differences.append((k, it, i))
                    outs = c.run(image=images[0], dump=False)
                    if any(outs[n].tobytes() != expected_out[n].tobytes() for n in outs):
                        differences.append((k, it, "run"))
        except Exception as e:  # noqa: BLE001 - reported as a failure below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    R.check(not differences and not errors, f"4 threads, a context each: differences {differences[:5]}, errors {errors}")


def test_maskrcnn(detc, tmp):
    model = convert_maskrcnn(os.path.join(tmp, "shapes.detc"))
    if model is None:
        R.skip("Mask R-CNN shapes model absent")
        return
    path = os.path.join(MASKRCNN_DIR, "val", "shapes_000.png")
    with detc.Model(model) as m:
        dets = m.detect(path)
        R.check(same_as_cli(dets, cli_detections(model, path)) and len(dets) >= 3,
                "Mask R-CNN detect with masks (COCO RLE) = detc detect --json")
        ok = True
        for d in dets:
            full = d.full_mask()
            x, y = d.mask_offset
            ok &= full.shape == (256, 256) and full.sum() == d.mask.sum() > 0
            ok &= d.mask.dtype == np.bool_ and x >= 0 and y >= 0
        R.check(ok, "box-local masks and full_mask()")


def main():
    if not os.path.exists(LIB):
        R.check(False, f"{LIB} not built")
        return R.finish()
    if sanitized(LIB):
        R.skip(f"{LIB} is a sanitizer build: not loadable into python3")
        return R.finish()
    os.environ["DETC_LIBRARY"] = LIB
    sys.path.insert(0, os.path.join(ROOT, "tools", "python"))
    import detc
    tmp = tempfile.mkdtemp(prefix="detc_python_")
    try:
        test_layouts(detc, tmp)
        test_lookup()
        model = convert_ssd(os.path.join(tmp, "ssd.detc"))
        if model is None:
            R.skip("../shared/models/ssd_mobilenet_v1_coco_quant absent: binding not tested on a model")
            expect_error("missing model", lambda: detc.Model(os.path.join(tmp, "x.detc")), "x.detc")
            return R.finish()
        m = detc.Model(model)
        test_basics(detc, m)
        test_detect(detc, m, model)
        test_run(detc, m, model, tmp)
        test_errors(detc, m, model, tmp)
        test_threads(detc, m)
        m.close()
        test_maskrcnn(detc, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
