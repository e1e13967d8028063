#!/usr/bin/python3
"""examples/*.c as built by `make tests-bin` (BUILD/examples/, linked against the shared libraries):
detect_file prints what `detc detect` prints; camera (core only: no libjpeg or libpng among its libraries)
finds on a raw frame what `detc detect` finds on the same pixels as PNG; threads runs 4 threads on one
model with a context each and on one model each, every result equal to a one-thread run (SSD and, when
../shared has it, Mask R-CNN with its masks). Needs ../shared (skips otherwise)."""
import os
import shutil
import sys
import tempfile

from library_common import BUILD, DETC, IMAGES, MASKRCNN_DIR, Results, convert_maskrcnn, convert_ssd, needed, run, \
    write_ppm

R = Results()
EX = os.path.join(BUILD, "examples")


def detection_lines(text):
    """The per-detection lines ("  label  score  [box]"), without a trailing "+mask"."""
    return [line.replace("  +mask", "") for line in text.splitlines() if line.startswith("  ")]


def test_detect_file(model):
    for name in ("dog.jpg", "horses.jpg", "table.jpg"):
        img = os.path.join(IMAGES, name)
        mine, cli = run([os.path.join(EX, "detect_file"), model, img]), run([DETC, "detect", model, img])
        R.check(mine.returncode == 0 and cli.returncode == 0 and mine.stdout == cli.stdout,
                f"detect_file {name}: differs from detc detect:\n{mine.stdout}{mine.stderr}---\n{cli.stdout}")
    img = os.path.join(IMAGES, "dog.jpg")
    mine = run([os.path.join(EX, "detect_file"), model, img, "0.3"])
    cli = run([DETC, "detect", model, img, "--threshold", "0.3"])
    R.check(mine.stdout == cli.stdout and mine.stdout.count("\n") > 5, "detect_file with threshold 0.3")
    r = run([os.path.join(EX, "detect_file"), model, os.path.join(IMAGES, "missing.jpg")])
    R.check(r.returncode == 1 and "missing.jpg" in r.stderr, f"detect_file on a missing file: {r.stderr}")
    r = run([os.path.join(EX, "detect_file"), os.path.join(IMAGES, "dog.jpg"), img])
    R.check(r.returncode == 1 and "detect_file:" in r.stderr, "detect_file with a JPEG as the model fails")


def test_camera(model, tmp):
    cam = os.path.join(EX, "camera")
    libs = needed(cam)
    R.check(any(n.startswith("libdetc.so.") for n in libs) and not any("detc-image" in n for n in libs),
            f"camera links libdetc only: {libs}")
    tree = run(["ldd", cam]).stdout
    R.check("libdetc.so" in tree and "libjpeg" not in tree and "libpng" not in tree,
            f"camera's libraries, all the way down, have no libjpeg or libpng:\n{tree}")
    try:
        import cv2
    except ImportError:
        R.skip("python3-opencv absent: camera not compared with detc detect")
        cv2 = None
    if cv2 is not None:
        # the same pixels as a raw frame for camera and as a (lossless) PNG for detc detect
        rgb = cv2.cvtColor(cv2.imread(os.path.join(IMAGES, "dog.jpg")), cv2.COLOR_BGR2RGB)
        png, ppm = os.path.join(tmp, "dog.png"), os.path.join(tmp, "dog.ppm")
        cv2.imwrite(png, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        write_ppm(ppm, rgb)
        mine, cli = run([cam, model, ppm, "--frames", "2"]), run([DETC, "detect", model, png])
        lines = detection_lines(cli.stdout)
        R.check(mine.returncode == 0 and lines and detection_lines(mine.stdout) == lines * 2,
                f"camera on a raw frame, twice, finds what detc detect finds:\n{mine.stdout}{mine.stderr}---\n{cli.stdout}")
    r = run([cam, model, "--frames", "3"])
    R.check(r.returncode == 0 and r.stdout.count("frame ") == 3, f"camera on 3 synthetic frames: {r.stdout}{r.stderr}")
    bad = os.path.join(tmp, "bad.ppm")
    with open(bad, "wb") as f:
        f.write(b"P6 10 10 255\n" + bytes(20))
    r = run([cam, model, bad])
    R.check(r.returncode == 1 and "PPM" in r.stderr, f"camera refuses a truncated frame: {r.stderr}")


def test_threads(model, images, label, iterations, extra=()):
    exe = os.path.join(EX, "threads")
    for mode in ([], ["--separate"]):
        r = run([exe, model, *images, "--threads", "4", "--iterations", str(iterations), *extra, *mode])
        n = 4 * iterations * len(images)
        R.check(r.returncode == 0 and f"{n} results compared, 0 different" in r.stdout,
                f"threads {label} {' '.join(mode)}: {r.stdout}{r.stderr}")
    r = run([exe, model, *images, "--threads", "2", "--context-threads", "2", *extra])
    R.check(r.returncode == 0 and f"{2 * len(images)} results compared, 0 different" in r.stdout,
            f"threads {label} --context-threads 2: {r.stdout}{r.stderr}")
    r = run([exe, model + ".missing", *images])
    R.check(r.returncode != 0 and "missing" in r.stderr, "threads on a missing model fails")


def main():
    if not os.path.isdir(EX):
        R.check(False, f"{EX} not built (make tests-bin builds the examples)")
        return R.finish()
    tmp = tempfile.mkdtemp(prefix="detc_examples_")
    try:
        model = convert_ssd(os.path.join(tmp, "ssd.detc"))
        if model is None:
            R.skip("../shared/models/ssd_mobilenet_v1_coco_quant absent: examples not run")
            return R.finish()
        test_detect_file(model)
        test_camera(model, tmp)
        test_threads(model, [os.path.join(IMAGES, n) for n in ("dog.jpg", "horses.jpg", "person.jpg")], "SSD", 2)
        shapes = convert_maskrcnn(os.path.join(tmp, "shapes.detc"))
        if shapes is None:
            R.skip("Mask R-CNN shapes model absent: threads not run on it")
        else:
            val = os.path.join(MASKRCNN_DIR, "val")
            test_threads(shapes, [os.path.join(val, "shapes_000.png"), os.path.join(val, "shapes_003.png")],
                         "Mask R-CNN", 1, ["--threshold", "0.3"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
